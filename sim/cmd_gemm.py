"""`sim gemm ARCH M K N` (one GEMM) and `sim gemm ARCH --shapes in.csv --out out.csv`
(many GEMMs in one process; columns M,K,N,wq,aq [,kind,kvq] in; M,K,N,wq,aq plus
time_us,cycles,bound and more, then kind,kvq out).

A GEMM is a `linear` (B = weights in wq) or an attention GEMM of one head, `attn_qk`
(M queries x K head_dim times K x N keys, N = KV length) or `attn_pv` (M x K
probabilities, K = KV length, times K x N values, N = head_dim), whose B operand is the KV
cache in kvq (wq empty). The shapes CSV is read with the limits of `common.inputs`
(16 MiB, UTF-8) by the csv module: the five columns once each (kind and kvq optional),
every row with as many fields as the header, M, K, N written in ASCII digits (1..2**24,
`sim.limits.MAX_GEMM_DIM`)."""

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
OPTIONAL_COLUMNS = ["kind", "kvq"]
KINDS = ("linear", "attn_qk", "attn_pv")
OUT_COLUMNS = IN_COLUMNS + [
    "time_us",
    "cycles",
    "bound",
    "compute_cycles",
    "dram_bytes",
    "energy_pj",
    "utilization",
    "mapping",
    "kind",
    "kvq",
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
    idx = {c: header.index(c) for c in IN_COLUMNS + OPTIONAL_COLUMNS if c in header}
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
        kind = r[idx["kind"]].strip() if "kind" in idx else ""
        kind = kind or "linear"
        if kind not in KINDS:
            raise InputError(
                src, f"row {line} column kind", f"one of {', '.join(KINDS)} (got {quote(kind)})"
            )
        row["kind"] = kind
        b = "wq" if kind == "linear" else "kvq"
        other = "kvq" if b == "wq" else "wq"
        for c in ("aq", b):
            v = r[idx[c]].strip() if c in idx else ""
            if not v:
                raise InputError(src, f"row {line} column {c}", f"a format name for {kind}")
            row[c] = v
        if other in idx and r[idx[other]].strip():
            raise InputError(
                src,
                f"row {line} column {other}",
                f"empty on {kind} rows (their B operand's format is column {b})",
            )
        row[other] = ""
        row["line"] = line
        rows.append(row)
    if not rows:
        raise InputError(src, "rows", "at least one GEMM row after the header")
    return rows


def _check_formats(accel, kind: str, b: str, a: str, given: dict) -> None:
    """Formats the PE array cannot run are the options' fault (or the arch defaults'),
    not the arch file's: name them."""
    from quant.info import format_info

    b_role = "wq" if kind == "linear" else "kvq"
    reason = accel.pe.unsupported(
        format_info(a, source="--aq"), format_info(b, source=f"--{b_role}"), kind
    )
    if reason:
        origin = {r: f"--{r}" if given.get(r) else f"{accel.name} defaults.{r}" for r in given}
        raise InputError(
            "arguments",
            f"{kind} {b_role} {b} ({origin[b_role]}), aq {a} ({origin['aq']})",
            f"formats {accel.name} can run ({reason})",
        )


@click.command("gemm")
@click.argument("arch")
@click.argument("dims", nargs=-1, type=GEMM_DIM)
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    default="linear",
    show_default=True,
    help="linear (B = weights, --wq), or one head's attention GEMM attn_qk (K = head_dim, "
    "N = KV length) or attn_pv (K = KV length, N = head_dim), B = the KV cache (--kvq).",
)
@click.option(
    "--wq",
    callback=format_name,
    help="Weight (B operand) format of a linear (default: the arch's).",
)
@click.option(
    "--aq", callback=format_name, help="Activation (A operand) format (default: the arch's)."
)
@click.option(
    "--kvq",
    callback=format_name,
    help="KV-cache (B operand) format of --kind attn_qk/attn_pv (default: the arch's).",
)
@click.option(
    "--shapes",
    default=None,
    help="CSV with columns M,K,N,wq,aq and optional kind,kvq (one GEMM per row; an "
    "attention row has kvq and an empty wq); needs --out.",
)
@click.option(
    "--out",
    "out_csv",
    default=None,
    help="Output CSV for --shapes: M,K,N,wq,aq plus " + ",".join(OUT_COLUMNS[5:]) + ".",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="stdout for one GEMM: aligned fields, or JSON with the --out CSV's columns.",
)
@click.pass_context
def command(ctx, arch, dims, kind, wq, aq, kvq, shapes, out_csv, fmt) -> None:
    """Cost one GEMM (M K N) or every row of --shapes on ARCH.

    ARCH is a preset name or an arch YAML file. M (rows: tokens x batch), K (reduction)
    and N (outputs) are integers in 1..2**24. By default the GEMM is a linear layer: an
    M x K activation in --aq times a K x N weight in --wq. With --kind attn_qk or attn_pv
    it is one head's attention GEMM, the B operand the KV cache in --kvq.
    """
    import pandas as pd

    from arch.accelerator import load_accelerator
    from sim.api import gemm
    from sim.engine import Coster

    if shapes and dims:
        raise InputError("arguments", "M K N", "either M K N or --shapes, not both")
    if shapes:
        for name in ("kind", "wq", "aq", "kvq"):
            if ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT:
                raise InputError(
                    f"--{name}",
                    "--shapes",
                    "no --kind/--wq/--aq/--kvq with --shapes (each CSV row gives its own)",
                )
    if kind == "linear" and kvq:
        raise InputError(
            "--kvq",
            "--kind linear",
            "--kind attn_qk or attn_pv (a linear's B operand is the weights: --wq)",
        )
    if kind != "linear" and wq:
        raise InputError(
            "--wq", f"--kind {kind}", "--kvq (an attention GEMM's B operand is the KV cache)"
        )
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
                b = r["wq"] or r["kvq"]
                results.append(gemm(accel, r["M"], r["K"], r["N"], b, r["aq"], coster, r["kind"]))
            except InputError as e:
                raise InputError(
                    short(shapes), f"row {r['line']}", f"{e.field}: {e.expected}"
                ) from None
        write_atomic(Path(out_csv), pd.DataFrame(results)[OUT_COLUMNS].to_csv(index=False))
        click.echo(f"wrote {len(results)} rows to {out_csv}")
        return
    b = (wq or d.wq) if kind == "linear" else (kvq or d.kvq)
    _check_formats(accel, kind, b, aq or d.aq, {"wq": wq, "aq": aq, "kvq": kvq})
    res = gemm(accel, *dims, b, aq or d.aq, coster, kind)
    if fmt == "json":
        click.echo(json.dumps({k: res[k] for k in OUT_COLUMNS}, indent=2, allow_nan=False))
        return
    for k in OUT_COLUMNS:
        v = res[k]
        click.echo(f"{k:>15}: {v:.6g}" if isinstance(v, float) else f"{k:>15}: {v}")
