"""Rendering results (table / json / csv) and writing files atomically (temp + rename)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from common.errors import InputError
from common.files import write_atomic
from sim.result import SimResult

TABLE_COLUMNS = [
    "phase",
    "name",
    "M",
    "K",
    "N",
    "count",
    "time_s",
    "bound",
    "utilization",
    "energy_j",
    "mapping",
]


def ops_frame(res: SimResult) -> pd.DataFrame:
    df = res.to_dataframe()
    df["energy_j"] = df.energy_compute_j + df.energy_sram_j + df.energy_dram_j
    return df


def render_table(res: SimResult) -> str:
    s = res.summary()
    head = [
        f"arch {s['arch']}  model {s['model']}  prefill {s['prefill']}  decode {s['decode']}"
        f"  batch {s['batch']}  formats " + " ".join(f"{k}={v}" for k, v in s["formats"].items()),
        f"TTFT {s['ttft_s'] * 1e3:.3f} ms   TPOT {s['tpot_s'] * 1e3:.3f} ms   "
        f"{s['tokens_per_s']:.2f} tokens/s   total {s['total_time_s']:.4f} s "
        f"({s['total_cycles']:.4g} cycles)",
        f"energy/token {s['energy_per_token_j'] * 1e3:.3f} mJ (compute "
        f"{s['energy_per_token_split_j']['compute'] * 1e3:.3f}, sram "
        f"{s['energy_per_token_split_j']['sram'] * 1e3:.3f}, dram "
        f"{s['energy_per_token_split_j']['dram'] * 1e3:.3f})   area {s['area_mm2']:.3f} mm2   "
        f"GEMM utilization {s['utilization']:.1%}",
        "",
    ]
    df = ops_frame(res)[TABLE_COLUMNS]
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        body = df.to_string(
            index=False,
            formatters={
                "time_s": "{:.4g}".format,
                "utilization": "{:.1%}".format,
                "energy_j": "{:.3g}".format,
            },
        )
    return "\n".join(head) + body


def render(res: SimResult, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(res.to_dict(), indent=2)
    if fmt == "csv":
        return ops_frame(res).to_csv(index=False)
    return render_table(res)


def write_outputs(res: SimResult, out_dir: str) -> list[Path]:
    """Write result.json, ops.csv and summary.txt into out_dir (each atomically)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(out_dir, "--out", "a directory (a file has that name)")
    files = [
        (out / "result.json", render(res, "json")),
        (out / "ops.csv", render(res, "csv")),
        (out / "summary.txt", render_table(res)),
    ]
    for path, text in files:
        write_atomic(path, text)
    return [p for p, _ in files]
