"""Memory footprint of one request: weights + KV cache + peak activations, in bytes, and
the largest batch / context that fits a memory of a given capacity.

Sizes (B = batch, S = prefill tokens, G = decode tokens, widths from
`quant.info.format_info(name).bits_per_element`, group scales / zero points included):

- weights: `workloads.llm.weight_bytes(shape, wq)`: every parameter (all experts of an MoE,
  embeddings, lm_head once when tied) stored in `wq`.
- KV cache: `workloads.llm.kv_cache_bytes(shape, S + G, B, kvq)`: the cache after the last
  decode step, 2 (K, V) x layers x kv_heads x head_dim x (S + G) x B values (sliding-window
  layers keep W tokens; MLA keeps its latent), in `kvq`.
- activations: the peak live set of a layer-by-layer execution, in `aq`, the larger of
  the prefill (T = B*S tokens) and of the last decode step (T = B tokens, span S + G):
    attention: residual T*H + q T*q_dim + context T*o_in + one (sequence, head) score
               matrix rows x span (heads run one after another; prefill rows = S, decode
               rows = the GQA group) [+ MLA prefill: the expanded per-head K and V,
               T*heads*(qk_head_dim + v_head_dim)]; the new K, V go to the KV cache
    MLP:       residual T*H + normed input T*H + gate and up T*2I (plain MLP: T*I);
               MoE layers: T*top_k*2*I_expert + T*2*I_shared + router logits T*experts
    head:      residual T*H + logits B*vocab (lm_head on the last token of each sequence)
  (the residual stream of every token stays live through the layer: T*H).

`check_fits` raises `InputError(source, "memory.dram.capacity_gib", ...)` naming the three
sizes and the capacity; `max_batch` / `max_prefill` search the largest B / S that fit
(the footprint grows monotonically with both). Sizes are in GiB (2^30 bytes) in messages.

To extend (new model features): add terms to `activation_elements` or pass a different
KV size function; `footprint` is the one place the three parts are summed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from common.errors import InputError
from quant.info import format_info
from workloads.llm import kv_cache_bytes, weight_bytes
from workloads.zoo import ModelShape

GIB = 1 << 30


@dataclass(frozen=True)
class Footprint:
    """Bytes a request keeps in device memory (see module docstring)."""

    weights: int
    kv_cache: int
    activations: int

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.activations

    def as_dict(self) -> dict[str, int]:
        """{weights, kv_cache, activations} in bytes (the summary's `footprint_bytes`)."""
        return {"weights": self.weights, "kv_cache": self.kv_cache, "activations": self.activations}


def _phase_elements(
    shape: ModelShape, tokens: int, rows: int, span: int, batch: int, prefill: bool
) -> int:
    """Peak live activation elements of one phase (module docstring)."""
    H = shape.hidden
    residual = tokens * H
    attn = residual + tokens * shape.q_dim + tokens * shape.o_in + rows * span
    if shape.mla is not None and prefill:  # unabsorbed MLA expands K, V per head
        attn += tokens * shape.heads * (shape.mla.qk_head_dim + shape.mla.v_head_dim)
    width = 2 * shape.intermediate if shape.mlp == "gated" else shape.intermediate
    mlp = residual + tokens * H + tokens * width if shape.dense_layers else 0
    if shape.moe is not None:
        m = shape.moe
        routed = tokens * m.top_k * 2 * m.expert_intermediate
        moe = residual + tokens * H + routed + tokens * 2 * m.shared_intermediate
        mlp = max(mlp, moe + tokens * m.experts)
    head = residual + batch * shape.vocab
    return max(attn, mlp, head)


def activation_elements(shape: ModelShape, prefill: int, decode: int, batch: int) -> int:
    """Peak live activation elements over the prefill and the last decode step."""

    def span(tokens: int) -> int:
        w = shape.sliding_window
        # a model whose every layer is windowed never attends past W
        return min(tokens, w) if w is not None and shape.window_layers == shape.layers else tokens

    pre = _phase_elements(shape, batch * prefill, prefill, span(prefill), batch, True)
    if not decode:
        return pre
    dec = _phase_elements(shape, batch, shape.group, span(prefill + decode), batch, False)
    return max(pre, dec)


def footprint(
    shape: ModelShape,
    prefill: int,
    decode: int,
    batch: int,
    wq: str,
    aq: str,
    kvq: str,
    kv_bytes: Callable[[ModelShape, int, int, str], int] = kv_cache_bytes,
) -> Footprint:
    """Weights + KV cache + peak activations of one request (module docstring)."""
    a_bits = format_info(aq).bits_per_element
    acts = activation_elements(shape, prefill, decode, batch)
    return Footprint(
        weights=weight_bytes(shape, wq),
        kv_cache=kv_bytes(shape, prefill + decode, batch, kvq),
        activations=-(-int(acts * a_bits) // 8),
    )


def _gib(nbytes: float) -> str:
    return f"{nbytes / GIB:.1f} GiB"


def check_fits(fp: Footprint, capacity_gib: float, source: str) -> None:
    """Raise InputError when the footprint exceeds `capacity_gib` GiB."""
    if fp.total > capacity_gib * GIB:
        raise InputError(
            source,
            "memory.dram.capacity_gib",
            f"room for weights {_gib(fp.weights)} + KV cache {_gib(fp.kv_cache)} + "
            f"activations {_gib(fp.activations)} = {_gib(fp.total)} (have {capacity_gib:g} GiB)",
        )


def _largest(fits: Callable[[int], bool], limit: int | None) -> int:
    """Largest x >= 1 (at most `limit`) with fits(x), for fits true up to some x and false
    after; 0 if not even fits(1)."""
    if not fits(1):
        return 0
    lo, hi = 1, 2
    while True:  # fits(lo); find hi with not fits(hi)
        if limit is not None and hi >= limit:
            if fits(limit):
                return limit
            hi = limit
            break
        if not fits(hi):
            break
        lo, hi = hi, 2 * hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def max_batch(
    shape: ModelShape, prefill: int, decode: int, wq: str, aq: str, kvq: str, capacity_gib: float
) -> int:
    """Largest batch whose footprint fits `capacity_gib` GiB (0: not even batch 1)."""
    cap = capacity_gib * GIB
    return _largest(lambda b: footprint(shape, prefill, decode, b, wq, aq, kvq).total <= cap, None)


def max_prefill(
    shape: ModelShape, decode: int, batch: int, wq: str, aq: str, kvq: str, capacity_gib: float
) -> int:
    """Largest prefill (prompt tokens) that fits with `decode` more tokens at `batch`,
    capped by the model's max_position_embeddings (0: not even one token)."""
    cap = capacity_gib * GIB
    limit = None if shape.max_positions is None else shape.max_positions - decode
    if limit is not None and limit < 1:
        return 0
    return _largest(lambda s: footprint(shape, s, decode, batch, wq, aq, kvq).total <= cap, limit)


def model_footprint(
    model: str,
    prefill: int,
    decode: int,
    batch: int,
    fmts: dict[str, str],
    capacity_gib: float,
    source: str,
) -> Footprint:
    """Footprint of `model` (zoo name or config path) with formats {wq, aq, kvq}; raises
    InputError(source, "memory.dram.capacity_gib", ...) when it exceeds the capacity."""
    from workloads.zoo import load_model_shape

    shape = load_model_shape(model)
    fp = footprint(shape, prefill, decode, batch, fmts["wq"], fmts["aq"], fmts["kvq"])
    check_fits(fp, capacity_gib, source)
    return fp
