"""`sim compare PRESET... --model MODEL [--baseline PRESET]`: the same model on several
accelerators, each in its native formats (the preset's defaults) unless --wq/--aq/--kvq
are given; speedup, energy and area side by side, normalized to the baseline (default:
the first), printed as a table and written as CSV."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from arch.accelerator import load_accelerator
from common.errors import InputError
from common.files import write_atomic
from sim.api import simulate


def compare(
    presets: list[str],
    model: str,
    baseline: str | None,
    prefill: int,
    decode: int,
    batch: int,
    wq=None,
    aq=None,
    kvq=None,
) -> pd.DataFrame:
    """One row per preset: absolute figures and ratios to the baseline."""
    base = baseline or presets[0]
    names = list(dict.fromkeys([base, *presets]))
    rows = []
    for name in names:
        accel = load_accelerator(name)
        r = simulate(
            accel, model, prefill=prefill, decode=decode, batch=batch, wq=wq, aq=aq, kvq=kvq
        )
        s = r.summary()
        rows.append(
            {
                "arch": name,
                "wq": s["formats"]["wq"],
                "aq": s["formats"]["aq"],
                "kvq": s["formats"]["kvq"],
                "total_time_s": s["total_time_s"],
                "ttft_s": s["ttft_s"],
                "tpot_s": s["tpot_s"],
                "tokens_per_s": s["tokens_per_s"],
                "energy_j": s["energy_j"],
                "energy_per_token_j": s["energy_per_token_j"],
                "area_mm2": s["area_mm2"],
            }
        )
    df = pd.DataFrame(rows).set_index("arch")
    b = df.loc[base]
    df["speedup"] = b.total_time_s / df.total_time_s
    df["prefill_speedup"] = b.ttft_s / df.ttft_s
    df["decode_speedup"] = (b.tpot_s / df.tpot_s) if decode else float("nan")
    df["energy_eff"] = b.energy_j / df.energy_j
    df["area_ratio"] = df.area_mm2 / b.area_mm2
    df.attrs["baseline"] = base
    return df.loc[[n for n in names if n in presets or n == base]].reset_index()


@click.command("compare")
@click.argument("presets", nargs=-1, required=True)
@click.option("--model", required=True, help="zoo name or config.json path")
@click.option("--baseline", default=None, help="preset to normalize to (default: the first)")
@click.option("--prefill", type=click.IntRange(min=1), default=256, show_default=True)
@click.option("--decode", type=click.IntRange(min=0), default=32, show_default=True)
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--wq", default=None)
@click.option("--aq", default=None)
@click.option("--kvq", default=None)
@click.option("--csv", "csv_path", default="compare.csv", show_default=True)
@click.option("--report", "report_dir", default=None, help="also write compare.md + compare.png")
def command(
    presets, model, baseline, prefill, decode, batch, wq, aq, kvq, csv_path, report_dir
) -> None:
    """Compare accelerators on one model (speedup, energy efficiency, area vs baseline)."""
    if Path(csv_path).is_dir():
        raise InputError(csv_path, "--csv", "a file path (a directory has that name)")
    df = compare(list(presets), model, baseline, prefill, decode, batch, wq, aq, kvq)
    shown = df[
        [
            "arch",
            "wq",
            "aq",
            "kvq",
            "tokens_per_s",
            "energy_per_token_j",
            "area_mm2",
            "speedup",
            "prefill_speedup",
            "decode_speedup",
            "energy_eff",
            "area_ratio",
        ]
    ]
    click.echo(
        f"model {model}  prefill {prefill}  decode {decode}  batch {batch}  "
        f"baseline {df.attrs.get('baseline', df.arch[0])}"
    )
    with pd.option_context("display.width", 200):
        click.echo(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    write_atomic(Path(csv_path), df.to_csv(index=False))
    click.echo(f"wrote {csv_path}", err=True)
    if report_dir:
        from reports.compare import write_compare_report

        title = f"{model}: prefill {prefill}, decode {decode}, batch {batch}; baseline {df.arch[0]}"
        for p in write_compare_report(df, title, report_dir):
            click.echo(f"wrote {p}", err=True)
