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
from dataclasses import dataclass

from common.errors import InputError
from workloads.moe import BALANCED, Routing, layer_histograms, moe_ops
from workloads.ops import Op
from workloads.zoo import ModelShape

MLA_MODES = ("auto", "absorbed", "unabsorbed")


def build_ops(
    shape: ModelShape,
    prefill: int,
    decode: int,
    batch: int,
    wq: str,
    aq: str,
    kvq: str,
    *,
    routing: Routing | None = None,
    mla_mode: str = "auto",
) -> list[Op]:
    """All ops of one request: prefill of `prefill` tokens, then `decode` decode steps.

    `batch` sequences run together. Decode step g has KV length `prefill + g + 1`.
    `routing` spreads tokens over MoE experts (workloads/moe.py; balanced by default).
    `mla_mode` maps MLA attention: "absorbed", "unabsorbed", or "auto" (unabsorbed in
    prefill, absorbed in decode, as DeepSeek's and vLLM's kernels do).
    Raises `InputError("argument", ...)` for prefill < 1, decode < 0, batch < 1, empty
    format names, or a total length beyond the model's `max_position_embeddings`.
    """
    _check_int("prefill", prefill, 1)
    _check_int("decode", decode, 0)
    _check_int("batch", batch, 1)
    for key, value in (("wq", wq), ("aq", aq), ("kvq", kvq)):
        if not isinstance(value, str) or not value:
            raise InputError("argument", key, f"a number format name (got {value!r})")
    if mla_mode not in MLA_MODES:
        raise InputError("argument", "mla_mode", f"one of {', '.join(MLA_MODES)}")
    total = prefill + decode
    if shape.max_positions is not None and total > shape.max_positions:
        raise InputError(
            "argument",
            "prefill + decode",
            f"at most max_position_embeddings={shape.max_positions} of {shape.name} "
            f"(got {prefill} + {decode} = {total})",
        )
    kw = dict(routing=routing, mla_mode=mla_mode)
    ops = prefill_ops(shape, prefill, batch, wq, aq, kvq, **kw)
    for g in range(decode):
        ops += decode_step_ops(shape, prefill + g + 1, batch, wq, aq, kvq, step=g, **kw)
    return ops


def prefill_ops(
    shape: ModelShape,
    seq: int,
    batch: int,
    wq: str,
    aq: str,
    kvq: str,
    *,
    routing: Routing | None = None,
    mla_mode: str = "auto",
) -> list[Op]:
    """Ops of the prefill of `seq` tokens for `batch` sequences (see module docstring)."""
    absorbed = mla_mode == "absorbed"
    attn = _attention(shape, "prefill", seq, seq, batch, aq, kvq, absorbed)
    ops = _pre_layers(shape, "prefill", batch * seq, aq)
    ops += _layer_ops(
        shape, "prefill", batch * seq, batch * seq, attn, wq, aq, routing, 0, absorbed
    )
    ops += _head_ops(shape, "prefill", batch * seq, batch, wq, aq)
    return ops


def decode_step_ops(
    shape: ModelShape,
    kv_len: int,
    batch: int,
    wq: str,
    aq: str,
    kvq: str,
    *,
    step: int = 0,
    routing: Routing | None = None,
    mla_mode: str = "auto",
) -> list[Op]:
    """Ops of one decode step whose new token attends over `kv_len` keys (itself included).

    Linears run with M = batch; attention uses GQA batching (module docstring). `step`
    selects the measured MoE routing of that decode step, when `routing` has one.
    """
    _check_int("kv_len", kv_len, 1)
    absorbed = mla_mode != "unabsorbed"
    attn = _attention(shape, "decode", 1, kv_len, batch, aq, kvq, absorbed)
    ops = _pre_layers(shape, "decode", batch, aq)
    ops += _layer_ops(shape, "decode", batch, batch * kv_len, attn, wq, aq, routing, step, absorbed)
    ops += _head_ops(shape, "decode", batch, batch, wq, aq)
    return ops


# --- pieces -------------------------------------------------------------------------


def _attention(
    shape: ModelShape,
    phase: str,
    q_len: int,
    kv_len: int,
    batch: int,
    aq: str,
    kvq: str,
    absorbed: bool,
) -> list[Op]:
    """QK^T, softmax and PV of every layer, per group of layers with the same key span:
    global layers attend over kv_len keys, sliding-window layers over min(kv_len, W)."""
    n_win = shape.window_layers
    groups = [(shape.layers - n_win, kv_len)]
    if n_win:
        groups.append((n_win, min(kv_len, shape.sliding_window or kv_len)))
    ops: list[Op] = []
    for layers, span in groups:
        if layers:
            ops += _attn_group(shape, phase, q_len, span, batch, layers, aq, kvq, absorbed)
    return ops


def _attn_group(
    shape: ModelShape,
    phase: str,
    q_len: int,
    span: int,
    batch: int,
    layers: int,
    aq: str,
    kvq: str,
    absorbed: bool,
) -> list[Op]:
    """Attention GEMMs of `layers` layers: `q_len` query rows per sequence (S in prefill,
    1 in decode) against `span` keys.

    Standard (MHA/GQA/MQA): per KV head the `group` query heads of one decode token are
    rows of one GEMM (decode), or per query head the S rows (prefill); the B operand is
    the KV cache (`kvq`). MLA absorbed: every head attends to the one shared latent cache
    (K = kv_lora_rank + rope for QK, N = kv_lora_rank for PV), so all heads' rows form one
    GEMM per sequence, B operand the latent cache (`kvq`). MLA unabsorbed: K and V are
    decompressed per head by kv_b_proj (fresh activations, `aq`), then MHA per head with
    K = qk_nope + qk_rope and N = v_head_dim."""
    mla = shape.mla
    heads = shape.heads
    if mla is not None and absorbed:
        rows, kd, vd, gemms, bq = q_len * heads, mla.cache_dim, mla.kv_lora_rank, 1, kvq
    elif mla is not None:
        rows, kd, vd, gemms, bq = q_len, mla.qk_head_dim, mla.v_head_dim, heads, aq
    elif phase == "decode":
        rows, kd, vd, gemms, bq = shape.group, shape.head_dim, shape.head_dim, shape.kv_heads, kvq
    else:
        rows, kd, vd, gemms, bq = q_len, shape.head_dim, shape.head_dim, heads, kvq
    count = layers * batch * gemms
    return [
        Op("attn_qk", "attn_qk", phase, M=rows, K=kd, N=span, count=count, bq=bq, aq=aq),
        Op(
            "softmax",
            "softmax",
            phase,
            elements=batch * heads * q_len * span,
            count=layers,
            aq=aq,
            bq=aq,
        ),
        Op("attn_pv", "attn_pv", phase, M=rows, K=span, N=vd, count=count, bq=bq, aq=aq),
    ]


def _pre_layers(shape: ModelShape, phase: str, tokens: int, aq: str) -> list[Op]:
    """OPT / GPT-2 add their learned position embeddings once, before the first block."""
    if not shape.learned_positions:
        return []
    return [Op("pos_embed_add", "eltwise", phase, elements=tokens * shape.hidden, aq=aq, bq=aq)]


def _layer_ops(
    shape: ModelShape,
    phase: str,
    tokens: int,
    kv_rows: int,
    attn: list[Op],
    wq: str,
    aq: str,
    routing: Routing | None,
    step: int,
    absorbed: bool,
) -> list[Op]:
    """Every decoder block's ops, `tokens` rows through every linear. Attention-side ops
    run in all layers (count = layers); the MLP is dense in `dense_layers` layers and a
    mixture of experts in the others (workloads/moe.py). `kv_rows` is the number of cached
    tokens MLA's unabsorbed kv_b_proj decompresses (B*S in prefill, B*L in decode)."""
    L, H, I = shape.layers, shape.hidden, shape.intermediate

    def lin(name: str, k: int, n: int, count: int = L, m: int = tokens) -> Op:
        return Op(name, "linear", phase, M=m, K=k, N=n, count=count, bq=wq, aq=aq)

    def vec(name: str, kind: str, elements: int, count: int = L) -> Op:
        return Op(name, kind, phase, elements=elements, count=count, bq=aq, aq=aq)

    ops = [vec("attn_norm", "norm", tokens * H)]
    mla = shape.mla
    if mla is None:
        ops += [
            lin("q_proj", H, shape.q_dim),
            lin("k_proj", H, shape.kv_dim),
            lin("v_proj", H, shape.kv_dim),
        ]
        if shape.qk_norm:
            ops.append(
                vec("qk_norm", "norm", tokens * (shape.heads + shape.kv_heads) * shape.head_dim)
            )
        if shape.rotary_dim:
            ops.append(
                vec("rotary", "eltwise", tokens * (shape.heads + shape.kv_heads) * shape.rotary_dim)
            )
        ops += attn
    else:
        qn = shape.heads * mla.qk_head_dim
        if mla.q_lora_rank:
            ops += [
                lin("q_a_proj", H, mla.q_lora_rank),
                vec("q_a_norm", "norm", tokens * mla.q_lora_rank),
                lin("q_b_proj", mla.q_lora_rank, qn),
            ]
        else:
            ops.append(lin("q_proj", H, qn))
        ops += [
            lin("kv_a_proj", H, mla.cache_dim),
            vec("kv_a_norm", "norm", tokens * mla.kv_lora_rank),
            vec("rotary", "eltwise", tokens * (shape.heads + 1) * mla.qk_rope_head_dim),
        ]
        heads_l = L * shape.heads
        if absorbed:  # W_UK folded into the query, W_UV applied after attention
            ops.append(lin("q_absorb", mla.qk_nope_head_dim, mla.kv_lora_rank, heads_l))
            ops += attn
            ops.append(lin("v_absorb", mla.kv_lora_rank, mla.v_head_dim, heads_l))
        else:  # decompress K and V of every cached token
            nb = shape.heads * (mla.qk_nope_head_dim + mla.v_head_dim)
            ops.append(lin("kv_b_proj", mla.kv_lora_rank, nb, m=kv_rows))
            ops += attn
    if shape.sub_norms:
        ops.append(vec("attn_sub_norm", "norm", tokens * shape.q_dim))
    ops.append(lin("o_proj", shape.o_in, H))
    if shape.post_norms:
        ops.append(vec("post_attn_norm", "norm", tokens * H))
    if not shape.parallel_block:
        ops += [vec("attn_residual", "eltwise", tokens * H), vec("mlp_norm", "norm", tokens * H)]
    dl = shape.dense_layers
    if dl and shape.mlp == "gated":
        ops += [
            lin("gate_proj", H, I, dl),
            lin("up_proj", H, I, dl),
            vec("act", "act", tokens * I, dl),
            vec("gate_mul", "eltwise", tokens * I, dl),
        ]
        if shape.sub_norms:
            ops.append(vec("ffn_sub_norm", "norm", tokens * I, dl))
        ops.append(lin("down_proj", I, H, dl))
    elif dl:
        ops += [lin("fc1", H, I, dl), vec("act", "act", tokens * I, dl), lin("fc2", I, H, dl)]
    if shape.moe is not None and shape.moe_layers:
        hists = layer_histograms(shape, tokens, routing or BALANCED, phase, step)
        ops += moe_ops(shape, phase, tokens, wq, aq, hists)
    if shape.post_norms:
        ops.append(vec("post_mlp_norm", "norm", tokens * H))
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


@dataclass(frozen=True)
class ParamCounts:
    """Parameter counts (elements) of a model.

    total: every weight, bias and norm scale (embeddings, all experts, lm_head once when
    tied). active: those one token uses: `total` less the routed experts it does not pick
    (per MoE layer, experts - top_k of them). embedding: the token-embedding table (OpenAI
    quotes gpt-oss's active count without it).
    per_layer: {"attention", "dense_mlp", "moe_mlp", "moe_mlp_active", "norms"} of ONE
    layer of each kind (dense_mlp is 0 for a model without dense layers, likewise moe).
    active_published: `active` counted the way the model's publisher counts its
    "active parameters" (`ACTIVE_CONVENTION`): equal to `active` except where the
    publisher leaves a tensor out.
    """

    total: int
    active: int
    embedding: int
    per_layer: dict[str, int]
    active_published: int = 0


# How each publisher counts "active parameters" where it differs from `active` (every
# tensor one token uses, both embedding tables included), keyed by model_type, with the
# source. Publishers not listed count every tensor:
# - Mistral: Mixtral paper (arXiv 2401.04088) 12.9B active = our 12.880B with both tables
#   (12.749B without the input table would print as 12.7B);
# - Qwen: the model cards give total and non-embedding counts separately (Qwen3-8B: 8.2B
#   and 6.95B; Qwen3-30B-A3B: 30.5B and 29.9B), so their totals hold both tables;
# - DeepSeek: DeepSeek-V3 README_WEIGHTS.md, "Activation parameters: 36.7B (including
#   0.9B for Embedding and 0.9B for the output Head)"; the 14B multi-token-prediction
#   module is listed apart from the 671B main model (and is not counted here).
ACTIVE_CONVENTION: dict[str, tuple[str, str]] = {
    # gpt-oss model card (arXiv 2508.10925) Table 1, per component for gpt-oss-20b: MLP
    # 19.12B, attention 0.64B, embed + unembed 1.16B, total 20.91B, active 3.61B. 3.61B is
    # 19.12B x 4/32 + 0.64B + 0.58B, one of the two 0.58B vocabulary tables (the lm_head):
    # our count without the input table is 3.608B, with it 4.187B.
    "gpt_oss": ("no_input_embedding", "gpt-oss model card, Table 1"),
}


def _attn_params(shape: ModelShape) -> int:
    H = shape.hidden
    mla = shape.mla
    if mla is not None:
        nq = shape.heads * mla.qk_head_dim
        q = H * nq if not mla.q_lora_rank else H * mla.q_lora_rank + mla.q_lora_rank * (nq + 1)
        kv = H * mla.cache_dim + mla.kv_lora_rank  # kv_a_proj_with_mqa + kv_a_layernorm
        kv += mla.kv_lora_rank * shape.heads * (mla.qk_nope_head_dim + mla.v_head_dim)
        return q + kv + shape.o_in * H
    n = H * shape.q_dim + 2 * H * shape.kv_dim + shape.q_dim * H
    n += (shape.q_dim + 2 * shape.kv_dim) * shape.qkv_bias + H * shape.o_bias
    n += 2 * shape.head_dim * shape.qk_norm + shape.heads * shape.attn_sinks
    return n


def _mlp_params(H: int, I: int, gated: bool, bias: bool) -> int:
    if gated:
        return 3 * H * I + (2 * I + H) * bias
    return 2 * H * I + (I + H) * bias


def param_counts(shape: ModelShape) -> ParamCounts:
    """Total and active parameter counts and the per-layer split (see `ParamCounts`).

    Counted as the HF modules hold them: q/k/v/o (or MLA's q_a/q_b, kv_a, kv_b, o and their
    norms), qk-norm scales, attention sinks, biases, 2 norms per block (1 for phi's
    parallel block, 4 with Gemma 2/3's post-norms; LayerNorm has weight and bias), MoE
    router (+ bias), experts, shared expert and its gate; embeddings; the learned position
    table; the final norm; lm_head unless tied. DeepSeek-V3's multi-token-prediction
    module (num_nextn_predict_layers) is not part of the served model and not counted.
    """
    H, I = shape.hidden, shape.intermediate
    norm = 2 * H if shape.norm == "layer" else H
    embed = shape.vocab * H
    pos = shape.position_rows * H if shape.learned_positions else 0
    attn = _attn_params(shape)
    norms = norm * (1 if shape.parallel_block else 4 if shape.post_norms else 2)
    if shape.sub_norms:  # RMSNorm weights only
        norms += shape.q_dim + I
    dense = _mlp_params(H, I, shape.mlp == "gated", shape.mlp_bias)
    moe_total = moe_active = 0
    if shape.moe is not None:
        m = shape.moe
        router = H * m.experts + m.experts * m.router_bias
        expert = _mlp_params(H, m.expert_intermediate, True, m.expert_bias)
        shared = _mlp_params(H, m.shared_intermediate, True, False) if m.shared_intermediate else 0
        shared += H * m.shared_gate
        moe_total = router + m.experts * expert + shared
        moe_active = router + m.top_k * expert + shared
    head = (0 if shape.tied_embeddings else shape.vocab * H) + shape.vocab * shape.lm_head_bias
    outside = embed + pos + norm + head
    blocks = shape.layers * (attn + norms) + shape.dense_layers * dense
    total = outside + blocks + shape.moe_layers * moe_total
    active = outside + blocks + shape.moe_layers * moe_active
    per_layer = {
        "attention": attn,
        "dense_mlp": dense if shape.dense_layers else 0,
        "moe_mlp": moe_total,
        "moe_mlp_active": moe_active,
        "norms": norms,
    }
    rule = ACTIVE_CONVENTION.get(shape.family, ("all", ""))[0]
    published = active - embed if rule == "no_input_embedding" else active
    return ParamCounts(total, active, embed, per_layer, published)


def count_params(shape: ModelShape) -> int:
    """Total parameter count (elements): `param_counts(shape).total`.

    Checked against published counts in tests/workloads/test_zoo.py and
    tests/workloads/test_model_families.py.
    """
    return param_counts(shape).total


def weight_bytes(shape: ModelShape, wq: str) -> int:
    """Bytes of all weights stored in format `wq` (group scales / zero points included,
    via `quant.info.format_info(wq).bits_per_element`), rounded up. Every parameter is
    counted in `wq` (norm scales and biases too: they are < 0.1% of any zoo model)."""
    from quant.info import format_info

    return math.ceil(count_params(shape) * format_info(wq).bits_per_element / 8)


def kv_cache_values_per_token(shape: ModelShape, tokens: int) -> int:
    """Values cached per sequence after `tokens` tokens, over all layers.

    Standard attention: 2 (K, V) x kv_heads x head_dim per token per layer; sliding-window
    layers keep only the last W tokens (a ring buffer), global layers all of them.
    MLA: one latent of kv_lora_rank plus the shared rotary key (qk_rope_head_dim) per token
    per layer, whatever the number of heads (absorbed or not: the cache is the latent).
    """
    n_win = shape.window_layers
    kept = shape.layers - n_win
    win_tokens = min(tokens, shape.sliding_window) if n_win and shape.sliding_window else 0
    per_layer_token = shape.mla.cache_dim if shape.mla else 2 * shape.kv_dim
    return per_layer_token * (kept * tokens + n_win * win_tokens)


def kv_cache_bytes(shape: ModelShape, tokens: int, batch: int, kvq: str | float) -> int:
    """Bytes of the KV cache of `batch` sequences of `tokens` tokens each, in format `kvq`
    (a format name: bits per element including group scales, from quant.info; or a number
    of bits per value), rounded up. See `kv_cache_values_per_token` for what is cached.

    E.g. Llama-2-7B, 4096 tokens, fp16: 2 x 32 x 4096 x 4096 x 2 B = 2 GiB;
    DeepSeek-V3 (MLA): 61 x 576 values per token (70 272 B/token in fp16, vs 2 x 61 x 128 x
    192 values = 5.9 MB/token for the same heads without the latent compression).
    """
    if isinstance(kvq, str):
        from quant.info import format_info

        bits = format_info(kvq).bits_per_element
    else:
        bits = float(kvq)
    return math.ceil(kv_cache_values_per_token(shape, tokens) * batch * bits / 8)
