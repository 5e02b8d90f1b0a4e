"""`sim gemm ARCH M K N` (one GEMM) and `sim gemm ARCH --shapes in.csv --out out.csv`
(many GEMMs in one process; columns M,K,N,wq,aq in; the same plus time_us,cycles,bound
and more out).

The shapes CSV is read with the limits of `common.inputs` (16 MiB, UTF-8) by the csv
module: exactly the five columns once each, every row with as many fields as the header,
M, K, N written in ASCII digits (1..2**24, `sim.limits.MAX_GEMM_DIM`)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from pathlib import Path

import click

from common.errors import InputError
from common.files import check_output, write_atomic
from common.inputs import decode_utf8, quote, read_bytes, short
from common.progress import progress
from sim.limits import GEMM_DIM, MAX_GEMM_DIM, format_name

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
_DIGITS = re.compile(r"[0-9]{1,9}")  # ASCII only: str.isdigit() accepts '²' and '١'
MAX_FIELD_CHARS = 4096
MAX_COLUMNS = 64  # the five used + room for the user's own annotation columns


def _read_shapes(path: str) -> list[dict]:
    src = short(path)
    text = decode_utf8(read_bytes(path, src), src)
    csv.field_size_limit(MAX_FIELD_CHARS)
    try:
        table = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as e:
        raise InputError(src, "CSV", f"a well-formed CSV ({short(str(e))})") from None
    table = [r for r in table if r and any(c.strip() for c in r)]
    if not table:
        raise InputError(src, "header", "columns M,K,N,wq,aq (the file is empty)")
    header = [c.strip() for c in table[0]]
    if len(header) > MAX_COLUMNS:
        raise InputError(src, "header", f"at most {MAX_COLUMNS} columns (got {len(header)})")
    dup = sorted(c for c, n in Counter(header).items() if n > 1)
    if dup:
        raise InputError(src, "header", f"each column once ({quote(','.join(dup))} repeated)")
    missing = [c for c in IN_COLUMNS if c not in header]
    if missing:
        raise InputError(src, "header", f"columns M,K,N,wq,aq (missing {','.join(missing)})")
    idx = {c: header.index(c) for c in IN_COLUMNS}
    rows = []
    for line, r in enumerate(table[1:], start=2):
        if len(r) != len(header):
            raise InputError(
                src, f"row {line}", f"{len(header)} fields like the header (got {len(r)})"
            )
        row = {}
        for c in ("M", "K", "N"):
            v = r[idx[c]].strip()
            if not _DIGITS.fullmatch(v) or not 1 <= int(v) <= MAX_GEMM_DIM:
                raise InputError(
                    src,
                    f"row {line} column {c}",
                    f"a positive integer up to 2**24 (got {quote(v)})",
                )
            row[c] = int(v)
        for c in ("wq", "aq"):
            v = r[idx[c]].strip()
            if not v:
                raise InputError(src, f"row {line} column {c}", "a format name (empty)")
            row[c] = v
        row["line"] = line
        rows.append(row)
    if not rows:
        raise InputError(src, "rows", "at least one GEMM row after the header")
    return rows


@click.command("gemm")
@click.argument("arch")
@click.argument("dims", nargs=-1, type=GEMM_DIM)
@click.option("--wq", callback=format_name, help="Weight (B operand) format (default: the arch's).")
@click.option(
    "--aq", callback=format_name, help="Activation (A operand) format (default: the arch's)."
)
@click.option(
    "--shapes",
    default=None,
    help="CSV with columns M,K,N,wq,aq (one GEMM per row; needs --out).",
)
@click.option(
    "--out",
    "out_csv",
    default=None,
    help="Output CSV for --shapes: the input columns plus " + ",".join(OUT_COLUMNS[5:]) + ".",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="stdout for one GEMM: aligned fields, or JSON with the --out CSV's columns.",
)
def command(arch, dims, wq, aq, shapes, out_csv, fmt) -> None:
    """Cost one GEMM (M K N) or every row of --shapes on ARCH.

    ARCH is a preset name or an arch YAML file. M (rows: tokens x batch), K (reduction)
    and N (outputs) are integers in 1..2**24. The GEMM is a linear layer: an M x K
    activation in --aq times a K x N weight in --wq.
    """
    import pandas as pd

    from arch.accelerator import load_accelerator
    from sim.api import gemm
    from sim.engine import Coster

    if shapes and dims:
        raise InputError("arguments", "M K N", "either M K N or --shapes, not both")
    if shapes and not out_csv:
        raise InputError("arguments", "--out", "an output CSV path with --shapes")
    if not shapes and len(dims) != 3:
        raise InputError("arguments", "M K N", "three positive integers (or --shapes CSV)")
    if out_csv is not None:
        check_output(out_csv, "file")
    accel = load_accelerator(arch)
    coster = Coster(accel)
    d = accel.config.defaults
    if shapes:
        rows = _read_shapes(shapes)
        results = []
        for r in progress(rows, "gemm rows"):
            try:
                results.append(gemm(accel, r["M"], r["K"], r["N"], r["wq"], r["aq"], coster))
            except InputError as e:
                raise InputError(
                    short(shapes), f"row {r['line']}", f"{e.field}: {e.expected}"
                ) from None
        write_atomic(Path(out_csv), pd.DataFrame(results)[OUT_COLUMNS].to_csv(index=False))
        click.echo(f"wrote {len(results)} rows to {out_csv}")
        return
    res = gemm(accel, *dims, wq or d.wq, aq or d.aq, coster)
    if fmt == "json":
        click.echo(json.dumps({k: res[k] for k in OUT_COLUMNS}, indent=2, allow_nan=False))
        return
    for k in OUT_COLUMNS:
        v = res[k]
        click.echo(f"{k:>15}: {v:.6g}" if isinstance(v, float) else f"{k:>15}: {v}")
