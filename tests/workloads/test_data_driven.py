"""Traces whose data matters (issue 13 item 5): the real SmolLM2 trace against the
shape-only run of the same shapes and formats.

Fast tests: the statistics the exporter records (bit activity, N:16 density) and the
activity factor, on hand-made codes. Slow tests (one real SmolLM2 export of 32 prompt
tokens + 2 decode steps, int8 weights/activations/KV, no payload):
- data-independent hardware agrees: int8-systolic cycles are identical op by op;
- data-dependent energy differs exactly as arch/activity.py says: int8-systolic compute
  energy of every GEMM row = accumulators + multiplier part x mean toggle factor + fill bus
  x weight toggle factor, the shape-only run giving the unscaled parts;
- Pragmatic's cycles follow the measured activation Booth terms (shape-only: 3.0 of 4);
- FlightLLM's sparse chains use the measured N:16 weight density, not the preset's 0.7.
"""

from __future__ import annotations

import numpy as np
import pytest

from arch.activity import (
    REFERENCE_TOGGLE_RATE,
    activity_factor,
    multiplier_activity_factor,
    random_code_terms,
)
from workloads.trace_stats import aggregate, bit_activity, code_stats, nm_density

TOKENS, DECODE = 32, 2
FMT = {"wq": "int8", "aq": "int8", "kvq": "int8"}


# ---- fast: statistics and factors by hand ------------------------------------------------
def test_bit_activity_by_hand() -> None:
    # 4-bit codes along K: 0b0000 -> 0b1111 -> 0b0101 -> 0b0101: flips 4, 2, 0 of 4 wires
    c = np.array([[0, -1, 5, 5]], dtype=np.int8)  # -1 = 0b1111 in two's complement
    st = bit_activity(c, 4)
    assert st["toggle_rate"] == pytest.approx((4 + 2 + 0) / (3 * 4))
    assert st["bit_one_frac"] == pytest.approx((0 + 4 + 2 + 2) / 16)
    # rows are independent: no toggle counted across the row boundary
    two = bit_activity(np.array([[0, 0], [-1, -1]], dtype=np.int8), 4)
    assert two["toggle_rate"] == 0.0 and two["bit_one_frac"] == 0.5
    # code_stats carries them, and bit_one_frac = 1 - bitplane_zero_mean
    full = code_stats(c, 4)
    assert full["toggle_rate"] == st["toggle_rate"]
    assert full["bit_one_frac"] == pytest.approx(1 - full["bitplane_zero_mean"])


def test_random_codes_toggle_half() -> None:
    rng = np.random.default_rng(0)
    c = rng.integers(-128, 128, size=(64, 4096)).astype(np.int8)
    st = bit_activity(c, 8)
    # 64 * 4095 * 8 Bernoulli(1/2) flips: std 0.5 / sqrt(2.1e6) = 3.5e-4
    assert abs(st["toggle_rate"] - 0.5) < 5 * 3.5e-4
    assert abs(st["bit_one_frac"] - 0.5) < 5 * 3.5e-4


def test_nm_density_by_hand() -> None:
    w = np.ones((2, 40))  # K = 40: blocks of 16, 16 and a partial 8
    w[0, :8] = 0  # row 0: block 0 half zero
    w[1, 32:36] = 0  # row 1: partial block 4 of 8 zero
    st = nm_density(w)
    # blocks: row 0 -> 0.5, 1, 1; row 1 -> 1, 1, 0.5
    assert st["nm16_density"] == pytest.approx(5 / 6)
    assert st["nm16_density_max"] == 1.0
    # aggregate: *_max keys take the max over layers, the density the mean
    layers = [
        {"w_nm16_density_max": 0.5, "w_nm16_density": 0.5},
        {"w_nm16_density_max": 0.75, "w_nm16_density": 0.25},
    ]
    agg = aggregate(layers)
    assert agg == {"w_nm16_density_max": 0.75, "w_nm16_density": 0.375}


def test_activity_factor_and_defaults() -> None:
    assert REFERENCE_TOGGLE_RATE == 0.5
    assert activity_factor({}, "a") == 1.0 and activity_factor(None, "w") == 1.0
    st = {"a_toggle_rate": 0.1, "w_toggle_rate": 0.4}
    assert activity_factor(st, "a") == pytest.approx(0.2)
    assert multiplier_activity_factor(st) == pytest.approx((0.2 + 0.8) / 2)
    with pytest.raises(ValueError):
        activity_factor(st, "b")
    # random int8 codes: each of the 4 radix-4 Booth digits is zero for 2 of its 8 patterns
    assert random_code_terms(8, "booth") == 3.0
    assert random_code_terms(4, "booth") == 1.5
    assert random_code_terms(8, "bit") == 4.0


def test_trace_density_sets_weight_density() -> None:
    from workloads.trace import OpRecord

    base = {"name": "q_proj", "kind": "linear", "phase": "prefill", "M": 4, "K": 32, "N": 8}
    rec = OpRecord(**base, wq="int4", aq="int8", stats={"w_nm16_density": 0.75})
    assert rec.to_op().weight_density == 0.75
    assert OpRecord(**base, wq="int4", aq="int8").to_op().weight_density == 1.0
    zero = OpRecord(**base, wq="int4", aq="int8", stats={"w_nm16_density": 0.0})
    assert zero.to_op().weight_density == 1 / (32 * 8)  # one nonzero weight
    with pytest.raises(ValueError):
        OpRecord(**base, wq="int4", aq="int8", stats={"w_nm16_density": 1.5})


# ---- slow: the real SmolLM2 trace ---------------------------------------------------------
@pytest.fixture(scope="module")
def smol_trace(tmp_path_factory):
    from workloads.export import DEFAULT_PROMPT, export_llm
    from workloads.smollm2 import GGUF_NAME, load_model

    model, tok = load_model()
    out = tmp_path_factory.mktemp("smol_data") / "trace"
    export_llm(
        model,
        tok,
        out,
        name="smollm2-135m",
        source=f"gguf:{GGUF_NAME}",
        prompt=DEFAULT_PROMPT,
        tokens=TOKENS,
        decode=DECODE,
        tensors=False,
        act_rows=0,
        per_layer=False,
        progress=False,
        **FMT,
    )
    return out


def _runs(arch, trace_dir):
    from sim import simulate
    from sim.api import simulate_trace

    real = simulate_trace(arch, str(trace_dir))
    shape = simulate(arch, "smollm2-135m", prefill=TOKENS, decode=DECODE, **FMT)
    return real, shape


def _rows(res):
    return {(r.phase, r.name): r for r in res.rows}


def _gemm_stats(trace_dir):
    """(phase, name) -> list of (count, stats) of the trace's GEMM ops."""
    from workloads.trace import load_trace

    out: dict = {}
    for op in load_trace(trace_dir).gemm_ops():
        out.setdefault((op.phase, op.name), []).append((op, dict(op.stats)))
    return out


@pytest.mark.slow
def test_int8_systolic_time_is_data_independent(smol_trace) -> None:
    real, shape = _runs("int8-systolic", smol_trace)
    r, s = _rows(real), _rows(shape)
    assert set(r) == set(s)
    for key in r:
        assert r[key].cycles == s[key].cycles, key
        assert r[key].compute_cycles == s[key].compute_cycles, key
        assert r[key].dram_bytes == s[key].dram_bytes, key
    assert real.summary()["ttft_s"] == shape.summary()["ttft_s"]
    assert real.summary()["tpot_s"] == shape.summary()["tpot_s"]


@pytest.mark.slow
def test_int8_systolic_energy_follows_bit_activity(smol_trace) -> None:
    """Per GEMM row: E = macs * add_pj + X * f_mul + Y * f_w, with X = macs * (mac_pj -
    add_pj) (int8 x int8: width factor 1), Y = the fill-bus energy, which the shape-only run
    gives as E_shape - macs * mac_pj (factors 1 there)."""
    from arch.accelerator import load_accelerator

    pe = load_accelerator("int8-systolic").pe
    real, shape = _runs("int8-systolic", smol_trace)
    r, s = _rows(real), _rows(shape)
    stats = _gemm_stats(smol_trace)
    for key, items in stats.items():
        macs = sum(op.macs * op.count for op, _ in items)
        assert r[key].macs == s[key].macs == macs
        fill_shape = s[key].energy_compute_j * 1e12 - macs * pe.mac_pj
        want = 0.0
        for op, st in items:
            n = op.macs * op.count
            share = n / macs
            want += n * pe.add_pj + n * (pe.mac_pj - pe.add_pj) * multiplier_activity_factor(st)
            want += fill_shape * share * activity_factor(st, "w")
        assert r[key].energy_compute_j * 1e12 == pytest.approx(want, rel=1e-9), key
    # softmax probabilities (mostly near-zero codes) toggle far less than random data
    pv = stats[("prefill", "attn_pv")][0][1]
    assert pv["a_toggle_rate"] < 0.25
    assert r[("prefill", "attn_pv")].energy_compute_j < s[("prefill", "attn_pv")].energy_compute_j
    assert real.summary()["energy_per_token_j"] != shape.summary()["energy_per_token_j"]


@pytest.mark.slow
def test_pragmatic_cycles_follow_activation_terms(smol_trace) -> None:
    from arch.accelerator import load_accelerator
    from arch.pe import Tile
    from quant.info import format_info

    pe = load_accelerator("pragmatic").pe  # 16 x 256 PEs x 16 lanes, act-serial Booth
    i8 = format_info("int8")
    stats = _gemm_stats(smol_trace)
    op, st = stats[("prefill", "q_proj")][0]
    terms = st["a_booth_terms_mean"]
    assert 1.0 < terms < 3.0  # real activations: fewer terms than random codes
    # one tile of the op's shape: ceil(16/16) * ceil(576/256) folds * ceil(576/16) steps
    # * s cycles + 16 drain rows; s = measured terms (trace) or 3.0 (random codes)
    t_real = Tile(16, 576, 576, i8, i8, "linear", st)
    t_shape = Tile(16, 576, 576, i8, i8, "linear", {})
    assert pe.step_cycles(i8, i8, st) == terms
    assert pe.step_cycles(i8, i8, {}) == 3.0
    assert pe.tile_cycles(t_real) == int(np.ceil(3 * 36 * terms)) + 16
    assert pe.tile_cycles(t_shape) == 3 * 36 * 3 + 16

    # the preset (32 GB/s DDR4) is DRAM-bound at 16 tokens: compute shrinks, time barely
    real, shape = _runs("pragmatic", smol_trace)
    r, s = _rows(real), _rows(shape)
    for key in stats:
        assert r[key].compute_cycles <= s[key].compute_cycles, key
    assert sum(r[k].compute_cycles for k in stats) < sum(s[k].compute_cycles for k in stats)
    assert real.summary()["ttft_s"] < shape.summary()["ttft_s"]
    assert real.summary()["tpot_s"] < shape.summary()["tpot_s"]
    # with on-chip-class bandwidth (DaDianNao keeps layers in eDRAM) the array is
    # compute-bound and time follows the terms: prefill q_proj (32x576x576) maps, with
    # random codes (s = 3), to 32x144x576 tiles (K in 4 parts; the output tile stays on
    # chip across them), 4 per execution, each 2 x 3 folds x 9 steps x s + 16 drain rows;
    # with the measured terms to 32x576x256 tiles, 3 per execution, each 2 folds x 36
    # steps x s + 16 drain rows
    from sim import Arch

    fast = Arch.load("pragmatic").replace({"memory.dram.bandwidth_gb_s": 4096}).accelerator
    real, shape = _runs(fast, smol_trace)
    r, s = _rows(real), _rows(shape)
    q_r, q_s = r[("prefill", "q_proj")], s[("prefill", "q_proj")]
    assert (q_s.mapping, q_r.mapping) == ("32x144x768/mkn", "32x576x256/mkn")
    assert q_s.compute_cycles / q_s.count == 4 * (6 * 9 * 3 + 16)
    assert q_r.compute_cycles / q_r.count == 3 * (int(np.ceil(2 * 36 * terms)) + 16)
    assert real.summary()["ttft_s"] / shape.summary()["ttft_s"] < 0.95
    assert real.summary()["tpot_s"] / shape.summary()["tpot_s"] < 0.75


@pytest.mark.slow
def test_flightllm_uses_measured_weight_density(smol_trace) -> None:
    real, shape = _runs("flightllm-vhk158", smol_trace)
    r, s = _rows(real), _rows(shape)
    stats = _gemm_stats(smol_trace)
    for name, preset_density in (("q_proj", 0.7), ("gate_proj", 1.0)):
        op, st = stats[("decode", name)][0]
        d = st["w_nm16_density"]
        assert op.weight_density == d and 0.9 < d < 1.0  # dense model: zero int8 codes only
        # sparse DSP chains: compute cycles scale by the density (arch/fpga_dsp.py)
        ratio = r[("decode", name)].compute_cycles / s[("decode", name)].compute_cycles
        assert ratio == pytest.approx(d / preset_density, rel=1e-9), name
