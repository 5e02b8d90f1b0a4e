"""`sim compare PRESET... --model MODEL [--baseline PRESET]`: the same model on several
accelerators, each in its native formats (the preset's defaults) unless --wq/--aq/--kvq
are given; speedup, energy and area side by side, normalized to the baseline (default:
the first), printed as a table and written as CSV."""

from __future__ import annotations

import math
from pathlib import Path

import click
import pandas as pd

from arch.accelerator import load_accelerator
from common.errors import InputError
from common.files import check_output, write_atomic
from common.inputs import is_dir, short
from sim.api import simulate
from sim.limits import BATCH, DECODE, PREFILL, format_name, mapper_option


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
    mapper: str = "fast",
) -> pd.DataFrame:
    """One row per preset: absolute figures and ratios to the baseline. `mapper`: the
    fast one by default (as `sim run` and the calibrated seed comparisons,
    benchmarks/fidelity), or "exact" (README "Two mappers")."""
    base = baseline or presets[0]
    names = list(dict.fromkeys([base, *presets]))
    rows = []
    labels = _labels(names)
    for name in names:
        accel = load_accelerator(name)
        run = dict(prefill=prefill, decode=decode, batch=batch, wq=wq, aq=aq, kvq=kvq)
        r = simulate(accel, model, **run, mapper=mapper)
        s = r.summary()
        rows.append(
            {
                "arch": labels[name],
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
    b = df.loc[labels[base]]
    df["speedup"] = b.total_time_s / df.total_time_s
    df["prefill_speedup"] = b.ttft_s / df.ttft_s
    df["decode_speedup"] = (b.tpot_s / df.tpot_s) if decode else float("nan")
    df["energy_eff"] = b.energy_j / df.energy_j
    df["area_ratio"] = df.area_mm2 / b.area_mm2
    df.attrs["baseline"] = labels[base]
    keep = [labels[n] for n in names if n in presets or n == base]
    out = df.loc[keep].reset_index()
    out.attrs["baseline"] = labels[base]
    out.attrs["sources"] = {labels[n]: n for n in names}  # label -> preset name or YAML
    out.attrs["mapper"] = mapper  # the report simulates each arch again with it
    return out


def _labels(names: list[str]) -> dict[str, str]:
    """A preset by its name, a YAML file by the `name` inside it (its path when two
    files share a name)."""
    from arch.accelerator import preset_names

    presets = set(preset_names())
    raw = {n: n if n in presets else load_accelerator(n).name for n in names}
    counts = pd.Series(list(raw.values())).value_counts()
    return {n: (label if counts[label] == 1 else n) for n, label in raw.items()}


@click.command("compare")
@click.argument("presets", nargs=-1, required=True)
@click.option(
    "--model", required=True, help="Zoo name, HF config.json (or its directory) to run on each."
)
@click.option(
    "--baseline", default=None, help="Preset or YAML to normalize to (default: the first)."
)
@click.option("--prefill", type=PREFILL, default=256, show_default=True, help="Prompt tokens.")
@click.option("--decode", type=DECODE, default=32, show_default=True, help="Generated tokens.")
@click.option("--batch", type=BATCH, default=1, show_default=True, help="Sequences together.")
@click.option(
    "--wq", callback=format_name, help="Weight format for every arch (default: each arch's own)."
)
@click.option(
    "--aq", callback=format_name, help="Activation format for every arch (default: each's own)."
)
@click.option(
    "--kvq", callback=format_name, help="KV-cache format for every arch (default: each's own)."
)
@click.option(
    "--csv",
    "csv_path",
    default=None,
    help="Write the table as CSV here [default: compare.csv, or DIR/compare.csv with --report].",
)
@click.option(
    "--report",
    "report_dir",
    default=None,
    help="Write compare.csv, compare.md and compare.png into this directory (as a set).",
)
@mapper_option("fast")
def command(
    presets, model, baseline, prefill, decode, batch, wq, aq, kvq, csv_path, report_dir, mapper
) -> None:
    """Compare accelerators on one model (speedup, energy efficiency, area vs baseline).

    PRESETS are preset names or arch YAML files; a YAML file is labelled by its `name`.
    """
    if csv_path is None and report_dir is None:
        csv_path = "compare.csv"
    for p, what in ((csv_path, "--csv"), (report_dir, "--report")):
        if p is not None and not str(p).strip():
            raise InputError(what, "(empty)", "a path")
    if csv_path is not None and is_dir(csv_path):
        raise InputError(short(csv_path), "--csv", "a file path (a directory has that name)")
    if csv_path is not None:
        check_output(csv_path, "file", "--csv")
    if report_dir is not None:
        check_output(report_dir, "directory", "--report")
    df = compare(list(presets), model, baseline, prefill, decode, batch, wq, aq, kvq, mapper)
    for col in ("total_time_s", "energy_j", "area_mm2"):
        if not all(math.isfinite(v) for v in df[col]):
            raise InputError(col, "result", "finite figures; check the archs' numbers")
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
    baseline_label = df.attrs.get("baseline", df.arch[0])
    written = []
    if report_dir is not None:  # the one report builder, shared with `sim report`
        from reports.compare import fill_compare_report
        from sim.dse.reporting import compare_report

        title = (
            f"{model}: prefill {prefill}, decode {decode}, batch {batch}; baseline {baseline_label}"
        )
        compare_report(
            df,
            model,
            prefill,
            decode,
            batch,
            report_dir,
            title,
            extra_fill=lambda t: fill_compare_report(df, title, t),
        )
        written.append(Path(report_dir))
    if csv_path is not None:
        written.append(write_atomic(Path(csv_path), df.to_csv(index=False), source="--csv"))
    click.echo(
        f"model {model}  prefill {prefill}  decode {decode}  batch {batch}  "
        f"baseline {baseline_label}"
    )
    with pd.option_context("display.width", 200):
        click.echo(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    for p in written:
        click.echo(f"wrote {p}", err=True)
