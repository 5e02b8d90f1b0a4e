"""LLM phase builder: hand-computed shapes and MACs, GQA batching, decode KV lengths."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.errors import InputError
from workloads.llm import build_ops, count_params, decode_step_ops, prefill_ops
from workloads.ops import Op
from workloads.zoo import ModelShape, load_model_shape, shape_from_config

# Tiny llama-like config: H=8, I=16, 2 layers, 4 heads of d=2, 2 KV heads (group 2), V=10.
TINY = shape_from_config(
    {
        "model_type": "llama",
        "hidden_size": 8,
        "intermediate_size": 16,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": 10,
        "max_position_embeddings": 64,
    },
    name="tiny",
)


def _total_macs(ops: list[Op]) -> int:
    return sum(o.macs * o.count for o in ops)


def _by_name(ops: list[Op]) -> dict[str, Op]:
    return {o.name: o for o in ops}


def test_tiny_prefill_shapes_and_macs() -> None:
    # B=2, S=3 -> 6 token rows through every linear.
    ops = prefill_ops(TINY, seq=3, batch=2, wq="int4", aq="int8", kvq="int8")
    names = [o.name for o in ops]
    assert names == [
        "attn_norm",
        "q_proj",
        "k_proj",
        "v_proj",
        "rotary",
        "attn_qk",
        "softmax",
        "attn_pv",
        "o_proj",
        "attn_residual",
        "mlp_norm",
        "gate_proj",
        "up_proj",
        "act",
        "gate_mul",
        "down_proj",
        "mlp_residual",
        "final_norm",
        "lm_head",
    ]
    op = _by_name(ops)
    assert (op["q_proj"].M, op["q_proj"].K, op["q_proj"].N) == (6, 8, 8)  # 4 heads * 2
    assert (op["k_proj"].M, op["k_proj"].K, op["k_proj"].N) == (6, 8, 4)  # 2 kv heads * 2
    assert (op["o_proj"].K, op["o_proj"].N) == (8, 8)
    assert (op["gate_proj"].K, op["gate_proj"].N) == (8, 16)
    assert (op["down_proj"].K, op["down_proj"].N) == (16, 8)
    assert all(o.count == 2 for o in ops if o.kind == "linear" and o.name != "lm_head")
    # attention per (batch, head): QK = (S x d) @ (d x S), PV = (S x S) @ (S x d)
    assert (op["attn_qk"].M, op["attn_qk"].K, op["attn_qk"].N) == (3, 2, 3)
    assert (op["attn_pv"].M, op["attn_pv"].K, op["attn_pv"].N) == (3, 3, 2)
    assert op["attn_qk"].count == op["attn_pv"].count == 2 * 2 * 4  # layers * B * heads
    assert op["softmax"].elements == 2 * 4 * 3 * 3  # B * heads * S * S = 72
    assert op["attn_norm"].elements == 6 * 8  # tokens * H
    assert op["act"].elements == op["gate_mul"].elements == 6 * 16  # tokens * I
    assert op["rotary"].elements == 6 * (4 + 2) * 2  # tokens * (heads + kv) * d
    assert op["final_norm"].count == 1
    assert (op["lm_head"].M, op["lm_head"].K, op["lm_head"].N, op["lm_head"].count) == (
        2,
        8,
        10,
        1,  # last token of each sequence only: M = B
    )
    # MACs per layer: q 6*8*8=384, k 6*8*4=192, v 192, o 384, gate/up/down 6*8*16=768 each
    #   -> 384+192+192+384+3*768 = 3456; x 2 layers = 6912
    # attention: QK 3*2*3=18 and PV 3*3*2=18 per (layer, batch, head), 16 of each -> 576
    # lm_head: 2*8*10 = 160.  Total 6912 + 576 + 160 = 7648.
    assert _total_macs(ops) == 7648


def test_tiny_decode_step_shapes_and_macs() -> None:
    # S=3 prompt, step 0 -> L = 3 + 0 + 1 = 4 keys (the new token attends to itself).
    ops = build_ops(TINY, prefill=3, decode=2, batch=2, wq="int4", aq="int8", kvq="int8")
    pre = [o for o in ops if o.phase == "prefill"]
    dec = [o for o in ops if o.phase == "decode"]
    assert ops[: len(pre)] == pre  # prefill first, then decode
    per_step = len(pre)  # same op list per step (tiny has no pre-layer op)
    assert len(dec) == 2 * per_step
    step0, step1 = _by_name(dec[:per_step]), _by_name(dec[per_step:])
    # linears: M = B = 2
    assert (step0["q_proj"].M, step0["q_proj"].K, step0["q_proj"].N) == (2, 8, 8)
    # GQA batching: group = 4/2 = 2 query rows per KV head, count = layers * B * kv_heads
    assert (step0["attn_qk"].M, step0["attn_qk"].K, step0["attn_qk"].N) == (2, 2, 4)
    assert (step0["attn_pv"].M, step0["attn_pv"].K, step0["attn_pv"].N) == (2, 4, 2)
    assert step0["attn_qk"].count == 2 * 2 * 2
    assert step0["softmax"].elements == 2 * 4 * 4  # B * heads * L
    assert (step1["attn_qk"].N, step1["attn_pv"].K) == (5, 5)
    assert step0["lm_head"].M == 2
    # step 0 MACs: linears per layer q 2*8*8=128, k 64, v 64, o 128, mlp 3*2*8*16=768
    #   -> 1152 x 2 layers = 2304; QK 2*2*4=16 and PV 16, 8 of each -> 256; lm_head 160
    assert _total_macs(dec[:per_step]) == 2304 + 256 + 160  # 2720
    # step 1: L=5 -> QK 2*2*5 = 20, PV 20, x 8 each = 320
    assert _total_macs(dec[per_step:]) == 2304 + 320 + 160  # 2784
    # non-attention ops are identical across steps (the engine memoizes them)
    for a, b in zip(dec[:per_step], dec[per_step:]):
        if a.kind not in ("attn_qk", "attn_pv", "softmax"):
            assert a == b


def test_formats_per_operand() -> None:
    ops = build_ops(TINY, 3, 1, 1, wq="int4", aq="int8", kvq="fp8")
    for o in ops:
        if o.kind == "linear":
            assert (o.bq, o.aq) == ("int4", "int8")
        elif o.kind in ("attn_qk", "attn_pv"):
            assert (o.bq, o.aq) == ("fp8", "int8")
        else:
            assert o.aq == "int8" and o.elements > 0 and o.macs == 0


def test_llama3_8b_gqa_shapes() -> None:
    s = load_model_shape("llama-3-8b")
    op = _by_name(prefill_ops(s, 128, 1, "int4", "int8", "int8"))
    assert (op["q_proj"].K, op["q_proj"].N) == (4096, 4096)
    assert (op["k_proj"].K, op["k_proj"].N) == (4096, 1024)  # 8 kv heads * 128
    assert (op["v_proj"].K, op["v_proj"].N) == (4096, 1024)
    assert (op["gate_proj"].N, op["down_proj"].K) == (14336, 14336)
    assert op["attn_qk"].count == 32 * 32  # layers * heads (B=1), per head in prefill
    assert (op["lm_head"].M, op["lm_head"].N) == (1, 128256)
    dop = _by_name(decode_step_ops(s, 129, 4, "int4", "int8", "int8"))
    assert (dop["attn_qk"].M, dop["attn_qk"].K, dop["attn_qk"].N) == (4, 128, 129)  # 32/8
    assert dop["attn_qk"].count == 32 * 4 * 8  # layers * B * kv_heads
    assert dop["q_proj"].M == 4


def test_decode_kv_length_per_step() -> None:
    s = load_model_shape("smollm2-135m")
    ops = build_ops(s, prefill=16, decode=5, batch=1, wq="int4", aq="int8", kvq="int8")
    qk = [o for o in ops if o.phase == "decode" and o.kind == "attn_qk"]
    assert [o.N for o in qk] == [17, 18, 19, 20, 21]  # L = S + g + 1
    assert [o.K for o in ops if o.phase == "decode" and o.kind == "attn_pv"] == [17, 18, 19, 20, 21]
    assert all(o.M == 3 for o in qk)  # 9 heads / 3 kv heads


def test_no_per_layer_copies() -> None:
    s = load_model_shape("llama-2-7b")
    ops = prefill_ops(s, 64, 1, "fp16", "fp16", "fp16")
    assert max(Counter(o.name for o in ops).values()) == 1
    assert _by_name(ops)["q_proj"].count == 32


def test_llama2_7b_prefill_linear_macs_match_params() -> None:
    # Linear MACs per token = weights of all block linears (lm_head only for the last token).
    s = load_model_shape("llama-2-7b")
    seq = 32
    ops = prefill_ops(s, seq, 1, "fp16", "fp16", "fp16")
    block_macs = sum(o.macs * o.count for o in ops if o.kind == "linear" and o.name != "lm_head")
    block_weights = count_params(s) - 2 * s.vocab * s.hidden - (2 * s.layers + 1) * s.hidden
    assert block_macs == seq * block_weights


def test_phi2_and_opt_and_mistral_ops() -> None:
    phi = _by_name(prefill_ops(load_model_shape("phi-2"), 10, 1, "a", "b", "c"))
    assert "mlp_norm" not in phi and "gate_proj" not in phi
    assert (phi["fc1"].N, phi["fc2"].K) == (10240, 10240)
    assert phi["rotary"].elements == 10 * (32 + 32) * 32  # partial rotary: 32 of 80 dims
    opt_ops = prefill_ops(load_model_shape("opt-1.3b"), 10, 2, "a", "b", "c")
    assert opt_ops[0].name == "pos_embed_add" and opt_ops[0].elements == 20 * 2048
    assert "rotary" not in _by_name(opt_ops)
    mis = load_model_shape("mistral-7b")
    d = _by_name(decode_step_ops(mis, 5000, 1, "a", "b", "c"))
    assert d["attn_qk"].N == 4096 and d["attn_pv"].K == 4096  # sliding window cap


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"prefill": 0}, "prefill"),
        ({"decode": -1}, "decode"),
        ({"batch": 0}, "batch"),
        ({"prefill": 2.5}, "prefill"),
        ({"batch": True}, "batch"),
        ({"wq": ""}, "wq"),
        ({"prefill": 60, "decode": 5}, "prefill + decode"),  # tiny max positions = 64
    ],
)
def test_bad_arguments(kwargs: dict, field: str) -> None:
    args = dict(prefill=4, decode=1, batch=1, wq="int4", aq="int8", kvq="int8") | kwargs
    with pytest.raises(InputError) as e:
        build_ops(TINY, **args)
    assert (e.value.source, e.value.field) == ("argument", field)


@settings(max_examples=40, deadline=None)
@given(
    kv=st.integers(1, 8),
    group=st.integers(1, 4),
    d=st.sampled_from([2, 4, 8]),
    layers=st.integers(1, 3),
    seq=st.integers(1, 9),
    steps=st.integers(0, 4),
    batch=st.integers(1, 3),
)
def test_attention_macs_closed_form(kv, group, d, layers, seq, steps, batch) -> None:
    heads = kv * group
    s = ModelShape(
        "p",
        "llama",
        hidden=heads * d,
        intermediate=8,
        layers=layers,
        heads=heads,
        kv_heads=kv,
        head_dim=d,
        vocab=5,
    )
    ops = build_ops(s, seq, steps, batch, "a", "b", "c")
    attn = sum(o.macs * o.count for o in ops if o.kind in ("attn_qk", "attn_pv"))
    # prefill: 2 GEMMs x S*S*d per (layer, batch, head); decode step g: 2 x L*d per query head
    expect = 2 * layers * batch * heads * d * (seq * seq + sum(seq + g + 1 for g in range(steps)))
    assert attn == expect
