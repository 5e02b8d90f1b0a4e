"""LLM phase builder: the ops of a prefill followed by decode steps, from a `ModelShape`.

Conventions (all sizes are element counts, B = batch, S = prefill tokens, H = hidden):

* Ops come per phase in execution order. Each distinct op of a decoder block is emitted
  once with `count = layers` (x batch x heads for attention), never once per layer.
* Linear ops: activation (M x K) @ weight (K x N); M = tokens processed (B*S in prefill,
  B in decode). Formats: `wq` for the weight, `aq` for the activation. Biases are fused
  into the GEMM epilogue and emit no op of their own.
* Attention ops multiply an activation by the KV cache: `bq=kvq`, `aq=aq`.
  - Prefill, per (batch, query head): QK is M=S, K=head_dim, N=S; PV is M=S, K=S,
    N=head_dim; `count = layers * B * heads`. Causal masking is *not* exploited: the full
    S x S rectangle is counted (what a dense GEMM tiling does; a triangle-skipping kernel
    does about half the work). The mask and the 1/sqrt(head_dim) scale are folded into
    the softmax op.
  - Decode step g (0-based) attends over L = S + g + 1 keys: the S prompt tokens, the g
    tokens generated before and the new token itself (its K/V are written first).
    With GQA the `heads/kv_heads` query heads that share a KV head are batched as rows of
    one GEMM against that head's cache, as real decode kernels do: QK is
    M=group, K=head_dim, N=L; PV is M=group, K=L, N=head_dim;
    `count = layers * B * kv_heads`.
  - With a sliding window W (Mistral v0.1) the key length is min(L, W); in prefill the
    banded attention is approximated as M=S, N=min(S, W).
* Vector ops have `elements` = values processed per execution (all B*S or B tokens of one
  layer), `count = layers`: norm (H per token), rotary (eltwise on the rotated dims of q
  and k), softmax (heads x query rows x key length), act (intermediate per token),
  gate_mul (the SwiGLU product, eltwise), residual adds (eltwise, H per token).
* The final norm runs on every token (as the model's forward does); lm_head in prefill
  produces only the last token's logits (M = B), as serving engines do.

Sources: the HF `transformers` modelling files of Llama, Mistral, Qwen2, Phi and OPT for
the op order; BitNet b1.58 2B4T (arXiv 2504.12285) for the sub-norms.
"""

from __future__ import annotations

import math

from common.errors import InputError
from workloads.ops import Op
from workloads.zoo import ModelShape


def build_ops(
    shape: ModelShape,
    prefill: int,
    decode: int,
    batch: int,
    wq: str,
    aq: str,
    kvq: str,
) -> list[Op]:
    """All ops of one request: prefill of `prefill` tokens, then `decode` decode steps.

    `batch` sequences run together. Decode step g has KV length `prefill + g + 1`.
    Raises `InputError("argument", ...)` for prefill < 1, decode < 0, batch < 1, empty
    format names, or a total length beyond the model's `max_position_embeddings`.
    """
    _check_int("prefill", prefill, 1)
    _check_int("decode", decode, 0)
    _check_int("batch", batch, 1)
    for key, value in (("wq", wq), ("aq", aq), ("kvq", kvq)):
        if not isinstance(value, str) or not value:
            raise InputError("argument", key, f"a number format name (got {value!r})")
    total = prefill + decode
    if shape.max_positions is not None and total > shape.max_positions:
        raise InputError(
            "argument",
            "prefill + decode",
            f"at most max_position_embeddings={shape.max_positions} of {shape.name} "
            f"(got {prefill} + {decode} = {total})",
        )
    ops = prefill_ops(shape, prefill, batch, wq, aq, kvq)
    for g in range(decode):
        ops += decode_step_ops(shape, prefill + g + 1, batch, wq, aq, kvq)
    return ops


def prefill_ops(shape: ModelShape, seq: int, batch: int, wq: str, aq: str, kvq: str) -> list[Op]:
    """Ops of the prefill of `seq` tokens for `batch` sequences (see module docstring)."""
    span = seq if shape.sliding_window is None else min(seq, shape.sliding_window)
    attn = _attn_ops(
        "prefill",
        rows=seq,
        span=span,
        gemms=shape.layers * batch * shape.heads,
        softmax_elements=batch * shape.heads * seq * span,
        shape=shape,
        aq=aq,
        kvq=kvq,
    )
    ops = _pre_layers(shape, "prefill", batch * seq, aq)
    ops += _layer_ops(shape, "prefill", batch * seq, attn, wq, aq)
    ops += _head_ops(shape, "prefill", batch * seq, batch, wq, aq)
    return ops


def decode_step_ops(
    shape: ModelShape, kv_len: int, batch: int, wq: str, aq: str, kvq: str
) -> list[Op]:
    """Ops of one decode step whose new token attends over `kv_len` keys (itself included).

    Linears run with M = batch; attention uses GQA batching (module docstring).
    """
    _check_int("kv_len", kv_len, 1)
    span = kv_len if shape.sliding_window is None else min(kv_len, shape.sliding_window)
    attn = _attn_ops(
        "decode",
        rows=shape.group,
        span=span,
        gemms=shape.layers * batch * shape.kv_heads,
        softmax_elements=batch * shape.heads * span,
        shape=shape,
        aq=aq,
        kvq=kvq,
    )
    ops = _pre_layers(shape, "decode", batch, aq)
    ops += _layer_ops(shape, "decode", batch, attn, wq, aq)
    ops += _head_ops(shape, "decode", batch, batch, wq, aq)
    return ops


# --- pieces -------------------------------------------------------------------------


def _attn_ops(
    phase: str,
    rows: int,
    span: int,
    gemms: int,
    softmax_elements: int,
    shape: ModelShape,
    aq: str,
    kvq: str,
) -> list[Op]:
    """QK^T, softmax and PV of one layer type: each GEMM has `rows` query rows against
    `span` cached keys (K/V in `kvq`) and runs `gemms` times; softmax runs once per layer."""
    d = shape.head_dim
    return [
        Op("attn_qk", "attn_qk", phase, M=rows, K=d, N=span, count=gemms, bq=kvq, aq=aq),
        Op(
            "softmax", "softmax", phase, elements=softmax_elements, count=shape.layers, aq=aq, bq=aq
        ),
        Op("attn_pv", "attn_pv", phase, M=rows, K=span, N=d, count=gemms, bq=kvq, aq=aq),
    ]


def _pre_layers(shape: ModelShape, phase: str, tokens: int, aq: str) -> list[Op]:
    """OPT adds its learned position embeddings once, before the first block."""
    if not shape.learned_positions:
        return []
    return [Op("pos_embed_add", "eltwise", phase, elements=tokens * shape.hidden, aq=aq, bq=aq)]


def _layer_ops(
    shape: ModelShape, phase: str, tokens: int, attn: list[Op], wq: str, aq: str
) -> list[Op]:
    """One decoder block's ops (count = layers), `tokens` rows through every linear."""
    L, H, I = shape.layers, shape.hidden, shape.intermediate

    def lin(name: str, k: int, n: int) -> Op:
        return Op(name, "linear", phase, M=tokens, K=k, N=n, count=L, bq=wq, aq=aq)

    def vec(name: str, kind: str, elements: int) -> Op:
        return Op(name, kind, phase, elements=elements, count=L, bq=aq, aq=aq)

    ops = [
        vec("attn_norm", "norm", tokens * H),
        lin("q_proj", H, shape.q_dim),
        lin("k_proj", H, shape.kv_dim),
        lin("v_proj", H, shape.kv_dim),
    ]
    if shape.rotary_dim:
        ops.append(
            vec("rotary", "eltwise", tokens * (shape.heads + shape.kv_heads) * shape.rotary_dim)
        )
    ops += attn
    if shape.sub_norms:
        ops.append(vec("attn_sub_norm", "norm", tokens * shape.q_dim))
    ops.append(lin("o_proj", shape.q_dim, H))
    if not shape.parallel_block:
        ops += [vec("attn_residual", "eltwise", tokens * H), vec("mlp_norm", "norm", tokens * H)]
    if shape.mlp == "gated":
        ops += [
            lin("gate_proj", H, I),
            lin("up_proj", H, I),
            vec("act", "act", tokens * I),
            vec("gate_mul", "eltwise", tokens * I),
        ]
        if shape.sub_norms:
            ops.append(vec("ffn_sub_norm", "norm", tokens * I))
        ops.append(lin("down_proj", I, H))
    else:
        ops += [lin("fc1", H, I), vec("act", "act", tokens * I), lin("fc2", I, H)]
    if shape.parallel_block:
        ops.append(vec("attn_residual", "eltwise", tokens * H))
    ops.append(vec("mlp_residual", "eltwise", tokens * H))
    return ops


def _head_ops(
    shape: ModelShape, phase: str, tokens: int, logits_rows: int, wq: str, aq: str
) -> list[Op]:
    """Final norm over every token, then lm_head over `logits_rows` rows."""
    return [
        Op("final_norm", "norm", phase, elements=tokens * shape.hidden, bq=aq, aq=aq),
        Op("lm_head", "linear", phase, M=logits_rows, K=shape.hidden, N=shape.vocab, bq=wq, aq=aq),
    ]


def _check_int(field: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError("argument", field, f"an integer >= {minimum} (got {value!r})")


# --- sizes --------------------------------------------------------------------------


def count_params(shape: ModelShape) -> int:
    """Parameter count (elements): embeddings, every block's weights, biases and norms,
    the final norm and lm_head (not counted again when tied to the embeddings).

    OPT's learned position table has max_positions + 2 rows (HF `OPTLearnedPositionalEmbedding`
    offset of 2). Checked against published counts in tests/workloads/test_zoo.py.
    """
    H, I = shape.hidden, shape.intermediate
    norm = 2 * H if shape.norm == "layer" else H  # LayerNorm has weight + bias
    embed = shape.vocab * H
    if shape.learned_positions:
        embed += ((shape.max_positions or 0) + 2) * H
    attn = H * shape.q_dim + 2 * H * shape.kv_dim + shape.q_dim * H
    attn += (shape.q_dim + 2 * shape.kv_dim) * shape.qkv_bias + H * shape.o_bias
    if shape.mlp == "gated":
        mlp = 3 * H * I + (2 * I + H) * shape.mlp_bias
    else:
        mlp = 2 * H * I + (I + H) * shape.mlp_bias
    norms = norm * (1 if shape.parallel_block else 2)
    if shape.sub_norms:  # RMSNorm weights only
        norms += shape.q_dim + I
    block = attn + mlp + norms
    head = 0 if shape.tied_embeddings else shape.vocab * H
    head += shape.vocab * shape.lm_head_bias
    return embed + shape.layers * block + norm + head


def kv_cache_bytes(shape: ModelShape, kv_len: int, batch: int, bits: float) -> int:
    """Bytes of the K and V caches of `batch` sequences of `kv_len` tokens at `bits` per
    value: 2 (K, V) x layers x kv_heads x head_dim x kv_len x batch x bits / 8, rounded up.

    Scales / zero points of a grouped KV format are not included (add them per format).
    """
    values = 2 * shape.layers * shape.kv_dim * kv_len * batch
    return math.ceil(values * bits / 8)
