"""Bounds of the CLI's numeric options (issue 12: no input may make `sim` run unbounded).

- `MAX_TOKENS` = 131 072 (128 Ki) prompt or generated tokens: the longest context of any
  model the zoo describes or `config.json` files commonly state (Llama 3.1: 131 072);
  a model's own `max_position_embeddings` bounds prefill + decode further.
- `MAX_BATCH` = 65 536 sequences: far beyond any serving batch, and batch x tokens stays
  below 2**33, exact in float64.
- `MAX_GEMM_DIM` = 2**24 for each of M, K, N of `sim gemm`: the bound of every model size
  field (workloads/zoo.py `MAX_DIM`), 64x the largest published LLM dimension.
"""

from __future__ import annotations

import click

from common.errors import InputError
from sim.mappers import MAPPERS

MAX_TOKENS = 131_072
MAX_BATCH = 65_536
MAX_GEMM_DIM = 2**24

PREFILL = click.IntRange(1, MAX_TOKENS)
DECODE = click.IntRange(0, MAX_TOKENS)
BATCH = click.IntRange(1, MAX_BATCH)
GEMM_DIM = click.IntRange(1, MAX_GEMM_DIM)


def mapper_option(default: str):
    """The --mapper option of a command (`sim run`, `sim compare`), with its default."""
    return click.option(
        "--mapper",
        type=click.Choice(list(MAPPERS)),
        default=default,
        show_default=True,
        help="Tile mapper: exact (least event-model time over tile choices nested across "
        "designs: the physics invariants hold by construction, so designs compare as the "
        "hardware would; sweeps' default) or fast (screened by a closed-form estimate, "
        "6-18x faster, not monotone).",
    )


def format_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Click callback: a format option is either absent or a non-empty name (the name
    itself is checked against `sim list formats` where it is used)."""
    if value is None:
        return None
    if not value.strip():
        raise InputError(f"--{param.name}", "(empty)", "a format name (see `sim list formats`)")
    return value.strip()


# ---- sim verify / sim accuracy (option validation only) -----------------------------------
MAX_VERIFY_DIM = 4096  # each of M, K, N of a verify shape
MAX_VERIFY_MACS = 2**30  # M*K*N of one shape: ~1e9 MACs, a few seconds per numba kernel
MAX_VERIFY_SHAPES = 32
SEED = click.IntRange(0, 2**32 - 1)  # numpy's SeedSequence entropy word
MAX_TEXT_BYTES = 16 << 20  # --text / --prompt-file, like every other input file


def verify_shapes(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Click callback for `sim verify --shapes`: MxKxN,... with ASCII digits, each size in
    1..4096, M*K*N <= 2**30, at most 32 shapes (the work of one run stays bounded)."""
    import re

    from common.inputs import short

    parts = value.split(",")
    if len(parts) > MAX_VERIFY_SHAPES:
        raise InputError("--shapes", f"{len(parts)} shapes", f"at most {MAX_VERIFY_SHAPES}")
    for part in parts:
        m = re.fullmatch(r"\s*([0-9]{1,5})[xX]([0-9]{1,5})[xX]([0-9]{1,5})\s*", part)
        dims = [int(g) for g in m.groups()] if m else []
        if not dims or not all(1 <= d <= MAX_VERIFY_DIM for d in dims):
            raise InputError(
                "--shapes", short(repr(part)), f"MxKxN with integers in 1..{MAX_VERIFY_DIM}"
            )
        if dims[0] * dims[1] * dims[2] > MAX_VERIFY_MACS:
            raise InputError("--shapes", short(part), "M*K*N at most 2**30 (bounded work)")
    return value


def text_file(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Click callback: an optional UTF-8 text file option must be a regular file of at
    most 16 MiB (a FIFO would block, a sparse multi-GB file would be read whole)."""
    import os
    import stat

    from common.inputs import short

    if value is None:
        return None
    opt = f"--{param.name.replace('_', '-')}"
    try:
        st = os.stat(value)
    except (OSError, ValueError):
        raise InputError(opt, short(value), "an existing text file (not found)") from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError(opt, short(value), "a regular file (not a directory, FIFO or device)")
    if st.st_size > MAX_TEXT_BYTES:
        raise InputError(opt, short(value), f"at most 16 MiB (the file has {st.st_size} bytes)")
    return value


def format_names(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]):
    """Click callback for a repeatable, comma-separated format option: no empty names."""
    for v in value:
        if not v.strip() or any(not part.strip() for part in v.split(",")):
            raise InputError(
                f"--{param.name}", repr(v)[:80], "format names (see `sim list formats`)"
            )
    return value
