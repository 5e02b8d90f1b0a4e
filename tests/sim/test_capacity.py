"""Memory capacity (issue 9 item 5): footprints worked by hand, runs that do not fit exit 2
naming the sizes, the summary reports the footprint, `sim run --fit` the largest batch
and prefill that fit.

Llama-2-7B: H 4096, I 11008 (gated), 32 layers, 32 heads = 32 KV heads x 128, vocab 32000,
6,738,415,616 parameters (HF), max_position_embeddings 4096."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from arch.arch import Arch
from common.errors import InputError
from sim import simulate
from sim.cli import main
from workloads.footprint import (
    GIB,
    Footprint,
    activation_elements,
    check_fits,
    footprint,
    max_batch,
    max_prefill,
)
from workloads.zoo import load_model_shape

P7 = 6_738_415_616  # Llama-2-7B parameters
KV7_PER_TOKEN_FP16 = 2 * 32 * 4096 * 2  # K and V, 32 layers x 4096 values, 2 bytes = 0.5 MiB


@pytest.fixture(scope="module")
def l7():
    return load_model_shape("llama-2-7b")


def test_llama2_7b_footprint_fp16(l7):
    fp = footprint(l7, 2048, 256, 256, "fp16", "fp16", "fp16")
    assert fp.weights == P7 * 2 == 13_476_831_232
    # 2 x 32 layers x 4096 x 2304 tokens x 256 sequences x 2 B = 288 GiB exactly
    assert fp.kv_cache == KV7_PER_TOKEN_FP16 * 2304 * 256 == 288 * GIB
    # prefill T = 256 x 2048 tokens; peak = MLP: residual + normed input (2 x 4096) + gate
    # and up (2 x 11008) = 30208 values per token, 2 B each
    assert fp.activations == 256 * 2048 * 30208 * 2


def test_activation_peak_by_stage(l7):
    # batch 1, prefill 2048: attention 2048 x (4096 residual + 4096 q + 4096 context) + one
    # 2048 x 2048 score matrix = 29,360,128; MLP 2048 x 30208 = 61,865,984; head
    # 2048 x 4096 + 32000 = 8,420,608 -> the MLP
    assert activation_elements(l7, 2048, 0, 1) == 61_865_984
    # prefill 1, decode 4096 - 1: decode attention 1 x 12288 + 1 x 4096 scores = 16,384,
    # MLP 30,208; prefill of 1 token: head 4096 + 32000 = 36,096 is the peak
    assert activation_elements(l7, 1, 4095, 1) == 36_096


def test_quantized_weights_and_kv_include_group_scales(l7):
    fp = footprint(l7, 512, 0, 4, "int4-g128", "int8", "int8")
    # int4-g128: 4 + 16/128 = 4.125 bits per weight
    assert fp.weights == P7 * 4.125 / 8 == 3_474_495_552
    # int8 KV: 1 byte per value, 2 x 32 x 4096 x 512 tokens x 4 sequences
    assert fp.kv_cache == 2 * 32 * 4096 * 512 * 4
    # int8 activations: 4 x 512 tokens x 30208 values x 1 B
    assert fp.activations == 4 * 512 * 30208


def test_gqa_and_sliding_window_kv():
    m = load_model_shape("mistral-7b")  # 32 layers, 8 KV heads x 128, window 4096
    fp = footprint(m, 8000, 192, 2, "fp16", "fp16", "fp16")
    # every layer keeps the last 4096 of the 8192 tokens: 2 x 32 x 1024 x 4096 x 2 seq x 2 B
    assert fp.kv_cache == 2 * 32 * 1024 * 4096 * 2 * 2
    # prefill attention scores: one 8000 x 4096 (window) matrix
    t = 2 * 8000
    attn = t * 3 * 4096 + 8000 * 4096
    mlp = t * (2 * 4096 + 2 * 14336)
    assert fp.activations == max(attn, mlp) * 2


def test_check_fits_message_and_boundary():
    fp = Footprint(weights=10 * GIB, kv_cache=5 * GIB, activations=GIB)
    check_fits(fp, 16, "a.yaml")  # exactly full fits
    with pytest.raises(InputError) as e:
        check_fits(fp, 15.5, "a.yaml")
    assert str(e.value) == (
        "a.yaml: memory.dram.capacity_gib: room for weights 10.0 GiB + KV cache 5.0 GiB + "
        "activations 1.0 GiB = 16.0 GiB (have 15.5 GiB)"
    )


def test_h100_batch_256_does_not_fit():
    with pytest.raises(InputError) as e:
        simulate("h100", "llama-2-7b", prefill=2048, decode=256, batch=256)
    msg = str(e.value)
    assert msg.endswith(
        "h100.yaml: memory.dram.capacity_gib: room for weights 12.6 GiB + KV cache 288.0 GiB "
        "+ activations 29.5 GiB = 330.1 GiB (have 80 GiB)"
    )


def test_cli_exits_2_when_the_run_does_not_fit():
    r = CliRunner().invoke(main, ["run", "flightllm-u280", "llama-2-13b", "--wq", "int8"])
    assert r.exit_code == 2
    # Llama-2-13B 13,015,864,320 int8 weights = 12.1 GiB > the U280's 8 GiB of HBM2
    assert "memory.dram.capacity_gib: room for weights 12.1 GiB" in r.output
    assert "(have 8 GiB)" in r.output
    assert "Traceback" not in r.output
    # batch 256 x (2048 + 32 default decode) tokens x 0.5 MiB = 260 GiB of KV cache
    r = CliRunner().invoke(
        main, ["run", "h100", "llama-2-7b", "--batch", "256", "--prefill", "2048"]
    )
    assert r.exit_code == 2 and "KV cache 260.0 GiB" in r.output


def test_capacity_is_a_knob():
    # the same run fits once the memory is large enough
    big = Arch.load("flightllm-u280").replace({"memory.dram.capacity_gib": 16})
    s = simulate(big, "llama-2-13b", prefill=16, decode=1, wq="int8").summary()
    assert s["footprint_bytes"]["weights"] == 13_015_864_320


def test_summary_reports_footprint(l7):
    s = simulate(
        "int8-systolic", "llama-2-7b", prefill=64, decode=2, wq="int8", aq="int8", kvq="int8"
    ).summary()
    assert s["footprint_bytes"] == {
        "weights": P7,  # 1 byte per int8 weight
        "kv_cache": 2 * 32 * 4096 * 66,  # 64 + 2 tokens, 1 byte per value
        "activations": 64 * 30208,  # prefill MLP peak, 1 byte per int8 value
    }


def test_max_batch_hand_worked(l7):
    # per sequence: KV 2304 x 0.5 MiB = 1,207,959,552 B; prefill MLP activations
    # 2048 x 30208 x 2 B = 123,731,968 B. (80 GiB - 13,476,831,232) / 1,331,691,520 = 54.4
    assert max_batch(l7, 2048, 256, "fp16", "fp16", "fp16", 80) == 54
    assert max_batch(l7, 2048, 256, "fp16", "fp16", "fp16", 12) == 0  # weights alone 12.55 GiB


def test_max_prefill_capped_by_positions_and_by_memory(l7):
    # batch 1 fits up to the model's 4096 positions: 4096 - 32 decode tokens
    assert max_prefill(l7, 32, 1, "int4-g128", "int8", "int8", 8) == 4064
    # batch 64, fp16, 80 GiB, no decode: per prompt token 64 x (0.5 MiB KV + 30208 x 2 B
    # of MLP activations) = 37,421,056 B; (80 GiB - 13,476,831,232) / 37,421,056 = 1935.3
    s = max_prefill(l7, 0, 64, "fp16", "fp16", "fp16", 80)
    assert s == 1935
    assert footprint(l7, s, 0, 64, "fp16", "fp16", "fp16").total <= 80 * GIB
    assert footprint(l7, s + 1, 0, 64, "fp16", "fp16", "fp16").total > 80 * GIB


def test_cli_fit_reports_largest_batch_and_prefill():
    r = CliRunner().invoke(
        main,
        ["run", "h100", "llama-2-7b", "--batch", "256", "--prefill", "2048", "--decode", "256"]
        + ["--fit", "--format", "json"],
    )
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["fits"] is False and d["capacity_gib"] == 80
    assert d["max_batch"] == 54
    assert d["footprint_bytes"]["kv_cache"] == 288 * GIB
