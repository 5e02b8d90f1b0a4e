"""`sim gemm ARCH M K N` (one GEMM) and `sim gemm ARCH --shapes in.csv --out out.csv`
(many GEMMs in one process; columns M,K,N,wq,aq in; the same plus time_us,cycles,bound
and more out)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pandas as pd

from arch.accelerator import load_accelerator
from common.errors import InputError
from common.files import write_atomic
from sim.api import gemm
from sim.engine import Coster

IN_COLUMNS = ["M", "K", "N", "wq", "aq"]
OUT_COLUMNS = IN_COLUMNS + [
    "time_us",
    "cycles",
    "bound",
    "compute_cycles",
    "dram_bytes",
    "energy_pj",
    "utilization",
    "mapping",
]


def _read_shapes(path: str) -> list[dict]:
    p = Path(path)
    if not p.is_file():
        raise InputError(path, "--shapes", "an existing CSV file with columns M,K,N,wq,aq")
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise InputError(path, "CSV", f"a well-formed CSV ({e})") from None
    missing = [c for c in IN_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(path, "header", f"columns M,K,N,wq,aq (missing {','.join(missing)})")
    rows = []
    for i, r in df.iterrows():
        line = i + 2  # header is line 1
        row = {}
        for c in ("M", "K", "N"):
            v = r[c].strip()
            if not v.isdigit() or int(v) <= 0:
                raise InputError(path, f"row {line} column {c}", f"a positive integer (got {v!r})")
            row[c] = int(v)
        for c in ("wq", "aq"):
            if not r[c].strip():
                raise InputError(path, f"row {line} column {c}", "a format name (empty)")
            row[c] = r[c].strip()
        row["line"] = line
        rows.append(row)
    if not rows:
        raise InputError(path, "rows", "at least one GEMM row after the header")
    return rows


@click.command("gemm")
@click.argument("arch")
@click.argument("dims", nargs=-1, type=click.IntRange(min=1))
@click.option("--wq", default=None, help="weight format (default: the arch's)")
@click.option("--aq", default=None, help="activation format (default: the arch's)")
@click.option("--shapes", default=None, help="CSV with columns M,K,N,wq,aq")
@click.option("--out", "out_csv", default=None, help="output CSV (with --shapes)")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def command(arch, dims, wq, aq, shapes, out_csv, fmt) -> None:
    """Cost one GEMM (M K N) or every row of --shapes on ARCH."""
    accel = load_accelerator(arch)
    coster = Coster(accel)
    d = accel.config.defaults
    if shapes:
        if dims:
            raise InputError("arguments", "M K N", "either M K N or --shapes, not both")
        if not out_csv:
            raise InputError("arguments", "--out", "an output CSV path with --shapes")
        rows = _read_shapes(shapes)
        results = []
        for r in rows:
            try:
                results.append(gemm(accel, r["M"], r["K"], r["N"], r["wq"], r["aq"], coster))
            except InputError as e:
                raise InputError(shapes, f"row {r['line']}", f"{e.field}: {e.expected}") from None
        write_atomic(Path(out_csv), pd.DataFrame(results)[OUT_COLUMNS].to_csv(index=False))
        click.echo(f"wrote {len(results)} rows to {out_csv}")
        return
    if len(dims) != 3:
        raise InputError("arguments", "M K N", "three positive integers (or --shapes CSV)")
    res = gemm(accel, *dims, wq or d.wq, aq or d.aq, coster)
    if fmt == "json":
        click.echo(json.dumps(res, indent=2))
        return
    for k in OUT_COLUMNS:
        v = res[k]
        click.echo(f"{k:>15}: {v:.6g}" if isinstance(v, float) else f"{k:>15}: {v}")
