"""Perplexity of a format combination for the store's `perplexity` column, read from the
`sim accuracy` cache (workloads/accuracy.py) with that command's defaults (default text,
tokens, window, stride). A sweep never loads a model unless the spec says
`accuracy: {compute: true}`; then each missing combination is computed once, through the
same `evaluate` (which writes the cache).

The lookup is exact: (wq, aq, kvq) as the sweep runs them. `sim accuracy` with no
`--aq` measures float32 activations, which is not the same row as aq=fp16."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable


def _key_fn(model: str):
    from workloads import accuracy as acc

    body, _ = acc.read_text(None)
    text_sha = acc._sha256(body.encode("utf-8"))
    qhash = acc._quant_source_hash()
    window = acc.DEFAULT_WINDOW
    stride = max(1, window // 2)

    def key(w, a, k) -> str:  # the key workloads.accuracy.evaluate writes
        return acc.cache_key(
            model,
            w,
            a,
            k,
            text_sha256=text_sha,
            tokens=acc.DEFAULT_TOKENS,
            window=window,
            stride=stride,
            quantize_lm_head=False,
            quant_hash=qhash,
        )

    return key, acc._cache_root() / "accuracy"


def cached_perplexity(
    model: str, combos: Iterable[tuple[str, str | None, str | None]], compute: bool = False
) -> dict[tuple, float]:
    """{(wq, aq, kvq): perplexity} for each combination; NaN where not cached (unless
    `compute`, which evaluates the missing ones and reads them back)."""
    combos = list(dict.fromkeys(combos))
    key, rows_dir = _key_fn(model)

    def read(c) -> float:
        p = rows_dir / f"{key(*c)}.json"
        try:
            return float(json.loads(p.read_text())["perplexity"])
        except (OSError, ValueError, KeyError):
            return math.nan

    out = {c: read(c) for c in combos}
    missing = [c for c, v in out.items() if math.isnan(v)]
    if compute and missing:
        from workloads.accuracy import evaluate

        by_ak: dict[tuple, list[str]] = {}
        for w, a, k in missing:
            by_ak.setdefault((a, k), []).append(w)
        for (a, k), ws in by_ak.items():
            evaluate(model, ws, aq=a, kvq=k)
        out.update({c: read(c) for c in missing})
    return out
