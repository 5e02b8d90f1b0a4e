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

MAX_TOKENS = 131_072
MAX_BATCH = 65_536
MAX_GEMM_DIM = 2**24

PREFILL = click.IntRange(1, MAX_TOKENS)
DECODE = click.IntRange(0, MAX_TOKENS)
BATCH = click.IntRange(1, MAX_BATCH)
GEMM_DIM = click.IntRange(1, MAX_GEMM_DIM)


def format_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Click callback: a format option is either absent or a non-empty name (the name
    itself is checked against `sim list formats` where it is used)."""
    if value is None:
        return None
    if not value.strip():
        raise InputError(f"--{param.name}", "(empty)", "a format name (see `sim list formats`)")
    return value.strip()
