"""Rendering results (table / json / csv) and writing them (atomically, as a set)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from common.errors import InputError
from common.files import write_dir_atomic
from sim.result import SimResult

if TYPE_CHECKING:
    import pandas as pd

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
OUT_FILES = ("result.json", "ops.csv", "summary.txt")


def ops_frame(res: SimResult) -> pd.DataFrame:
    """The per-op rows (the same columns as `SimResult.to_dataframe()`)."""
    return res.to_dataframe()


def totals_frame(res: SimResult) -> pd.DataFrame:
    """The per-op rows followed by one `name = total` row per phase (in the order the
    phases first appear) and a last row with `phase = total, name = total` for the whole
    run (`sim run --format csv --totals`). Sums of count, cycles, time_s, compute_cycles,
    dram_bytes, macs and the energies; utilization = MACs / (peak MACs per cycle x cycles
    of the GEMM rows), as the summary's; M, K, N, kind, bound and mapping are empty."""
    df = ops_frame(res)
    sums = ["count", "cycles", "time_s", "compute_cycles", "dram_bytes", "macs"]
    sums += ["energy_compute_j", "energy_sram_j", "energy_dram_j", "energy_j"]
    extra = []
    for phase, part in [*df.groupby("phase", sort=False), ("total", df)]:
        row = {c: "" for c in df.columns}
        row.update({c: part[c].sum() for c in sums}, phase=phase, name="total")
        gemm_cycles = part.cycles[part.macs > 0].sum()
        peak = res.peak_macs_per_cycle
        row["utilization"] = part.macs.sum() / (peak * gemm_cycles) if gemm_cycles else 0.0
        extra.append(row)
    import pandas as pd

    return pd.concat([df.astype(object), pd.DataFrame(extra, columns=df.columns)])


def _check_finite(res: SimResult) -> None:
    """A non-finite figure means the arch's numbers are out of range; say so instead of
    printing NaN/Infinity (JSON has no such values)."""
    s = res.summary()
    for key in ("total_time_s", "energy_j", "area_mm2", "tokens_per_s", "ttft_s"):
        v = s[key]
        if not math.isfinite(v):
            raise InputError(res.arch, key, f"a finite result (got {v}); check the arch's numbers")


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
    return "\n".join(head) + text_table(res)


TABLE_FORMATS = {"time_s": "{:.4g}", "utilization": "{:.1%}", "energy_j": "{:.3g}"}


def text_table(res: SimResult) -> str:
    """The per-op rows' TABLE_COLUMNS as fixed-width text: every cell right-justified to
    its column's widest cell (header included), columns one space apart, time_s /
    utilization / energy_j formatted as TABLE_FORMATS. Plain Python, so `sim run` starts
    without importing pandas (~0.3 s)."""
    rows = []
    for r in res.rows:
        d = asdict(r)
        d["energy_j"] = d["energy_compute_j"] + d["energy_sram_j"] + d["energy_dram_j"]
        rows.append(
            [
                TABLE_FORMATS[c].format(d[c]) if c in TABLE_FORMATS else str(d[c])
                for c in TABLE_COLUMNS
            ]
        )
    widths = [max([len(c)] + [len(row[j]) for row in rows]) for j, c in enumerate(TABLE_COLUMNS)]
    lines = [" ".join(c.rjust(w) for c, w in zip(TABLE_COLUMNS, widths))]
    lines += [" ".join(v.rjust(w) for v, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def render(res: SimResult, fmt: str, totals: bool = False) -> str:
    """`totals` (csv only): per-phase and whole-run rows after the per-op rows."""
    _check_finite(res)
    if fmt == "json":
        return json.dumps(res.to_dict(), indent=2, allow_nan=False)
    if fmt == "csv":
        return (totals_frame(res) if totals else ops_frame(res)).to_csv(index=False)
    return render_table(res)


def write_outputs(res: SimResult, out_dir: str) -> list[Path]:
    """Write result.json, ops.csv and summary.txt into out_dir as one set: the directory
    is built under a temporary name and swapped into place (common.files.write_dir_atomic),
    so a reader, or a killed run, sees either the previous set or the new one."""
    texts = {
        "result.json": render(res, "json"),
        "ops.csv": render(res, "csv"),
        "summary.txt": render_table(res),
    }

    def fill(tmp: Path) -> None:
        for name, text in texts.items():
            (tmp / name).write_text(text)

    out = write_dir_atomic(Path(out_dir), fill)
    return [out / name for name in OUT_FILES]
