"""bitserial family: BitMoD calibration through the engine, hand-worked tile cycles
(arithmetic in the comments) and the scaling laws of Stripes and BitMoD."""

from __future__ import annotations

import pytest
import yaml

from arch.accelerator import load_accelerator
from arch.bitserial import os_tile_cycles, serial_step_cycles
from arch.pe import Tile
from quant.info import format_info
from sim.engine import Coster
from workloads.ops import Op

F = format_info


def _arch(tmp_path, preset: str, **params):
    cfg = yaml.safe_load(open(f"arch/presets/{preset}.yaml"))
    cfg["pe_array"]["params"].update(params)
    p = tmp_path / "a.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return load_accelerator(str(p))


# -- calibration against BitMoD's analytical simulator (SEED_SYSTEMS.md §1) ---------------


def test_bitmod_w3_decode_matches_their_model():
    # Their model, decode (1 token) of a 4096x4096 projection, DRAM-bound:
    #   weights ceil(4096*3.0625/8)*4096 = 6,422,528 B; input 4096*2 = 8192 B; output 8192 B
    #   (6,422,528 + 16,384) * 8 / 256 = 200,704 + 512 = 201,216 cycles.
    # Ours: same bytes except the engine's chosen tiling (1 x 128 x 1024, order mnk) reads
    # the 8 KB activation row once per N tile (4x: +24,576 B = +768 cycles), and the first
    # tile load / last store are not overlapped -> ~+0.9%.
    c = Coster(load_accelerator("bitmod-gen-w3"))
    r = c.op(Op("p", "linear", "decode", M=1, K=4096, N=4096, bq="bitmod-fp3-g128", aq="fp16"))
    assert r.bound == "memory"
    assert r.dram_bytes >= 6_422_528 + 16_384
    assert r.cycles == pytest.approx(201_216, rel=0.02)
    # compute (their form): ceil(4096/4) * ceil(4096/64) * ceil(1/16) * 2 = 131,072,
    # ours adds a 1-row drain per tile
    assert 131_072 <= r.compute_cycles <= 131_072 * 1.01


def test_bitmod_w3_prefill_matches_their_model():
    # Their model, prefill of 256 tokens, compute-bound:
    #   ceil(4096/4) * ceil(4096/64) * ceil(256/16) * 2 = 1024 * 64 * 16 * 2 = 2,097,152.
    # Ours: the same fold arithmetic per tile + a 16-row drain per tile (256 tiles of
    # 64x512x512 -> 4096 cycles) + the first load before the array starts -> ~+0.5%.
    c = Coster(load_accelerator("bitmod-gen-w3"))
    r = c.op(Op("p", "linear", "prefill", M=256, K=4096, N=4096, bq="bitmod-fp3-g128", aq="fp16"))
    assert r.bound == "compute"
    assert r.cycles == pytest.approx(2_097_152, rel=0.02)
    assert r.compute_cycles >= 2_097_152


# -- closed forms ----------------------------------------------------------------------------


def test_bitmod_pe_latency_is_ceil_floor_bits_over_2():
    pe = load_accelerator("bitmod-gen-w3").pe
    a = F("fp16")
    # ceil(floor(b)/2): W3 -> 2, W4 -> 2, W6 -> 3, INT8 KV -> 4 (BitMoD pe_array.py)
    assert pe.step_cycles(a, F("bitmod-fp3-g128")) == 2
    assert pe.step_cycles(a, F("bitmod-fp4-g128")) == 2
    assert pe.step_cycles(a, F("bitmod-int6-g128")) == 3
    assert pe.step_cycles(a, F("int8")) == 4
    assert [serial_step_cycles(b, "booth") for b in range(1, 9)] == [1, 1, 2, 2, 3, 3, 4, 4]
    assert [serial_step_cycles(b, "bit") for b in range(1, 9)] == list(range(1, 9))


def test_bitmod_tile_hand_worked():
    pe = load_accelerator("bitmod-gen-w3").pe  # R=16 rows (M), C=64 cols (N), L=4 lanes
    t = Tile(20, 256, 100, F("fp16"), F("bitmod-fp3-g128"))
    # folds = ceil(20/16) * ceil(100/64) = 2 * 2 = 4; steps = 256/4 = 64; s = 2 -> 128/fold
    # dequant: ceil(256/128) * 4 = 8 <= 128 (hidden); drain m_last = 20 - 16 = 4
    # 4 * 128 + 4 = 516
    assert pe.tile_cycles(t) == 516
    # same tile, INT6 weights: s = 3 -> 4 * 192 + 4 = 772
    assert pe.tile_cycles(Tile(20, 256, 100, F("fp16"), F("bitmod-int6-g128"))) == 772


def test_dequantizer_limits_short_groups():
    # groups of 4 along K: a group is 1 step x 2 cycles, shorter than a 4-cycle dequant.
    # k = 256: steps*s = 64*2 = 128, groups*dq = 64*4 = 256 -> per fold 256; m=16,n=64: 1
    # fold, drain 16 -> 272
    pe = load_accelerator("bitmod-gen-w3").pe
    assert pe.tile_cycles(Tile(16, 256, 64, F("fp16"), F("bitmod-fp3-g4"))) == 256 + 16
    assert os_tile_cycles(16, 256, 64, 16, 64, 4, 2, group=4, dequant_cycles=4) == 272


def test_bitmod_op_counts_and_energy():
    pe = load_accelerator("bitmod-gen-w3").pe
    t = Tile(16, 512, 64, F("fp16"), F("bitmod-fp3-g128"))
    c = pe.op_counts(t)
    # one dequantization per output per group: 16 * 64 * (512/128) = 4096
    assert c["dequantizations"] == 16 * 64 * 4
    # active PE-cycles: 16*64 outputs x 128 steps x 2 cycles; energy 0.586 pJ each (28 nm)
    assert c["pe_cycles"] == 16 * 64 * 128 * 2
    assert pe.tile_cost(t).compute_pj == pytest.approx(16 * 64 * 256 * 0.586)
    assert pe.area_um2()["pe"] == pytest.approx(16 * 64 * 1793.7)


def test_stripes_cycles_scale_with_activation_bits():
    pe = load_accelerator("stripes").pe  # 16 x 16 PEs x 16 lanes, activation-serial, 1 b/cycle
    # m=16, k=256, n=16: 1 fold, 16 steps; s = activation bits; drain 16 rows
    for bits in (2, 4, 8):
        t = Tile(16, 256, 16, F(f"int{bits}"), F("int8"))
        assert pe.tile_cycles(t) == 16 * bits + 16
    # weight precision does not change the time of an activation-serial PE
    assert pe.tile_cycles(Tile(16, 256, 16, F("int8"), F("int2"))) == 16 * 8 + 16
    # peak MACs/cycle = 16*16*16 / bits
    assert pe.peak_macs_per_cycle(F("int4"), F("int8")) == 4096 / 4


def test_zero_skip_uses_trace_stats(tmp_path):
    t_plain = Tile(16, 256, 64, F("fp16"), F("int8"))  # booth: 4 terms max, s = 4
    skip = _arch(tmp_path, "bitmod-gen-w3", zero_skip=True).pe
    # no stats (shape-only) -> random int8 codes: 3.0 Booth terms of 4 (arch/activity.py),
    # s = 3: 64 steps * 3 + 16 = 208
    assert skip.tile_cycles(t_plain) == 208
    # mean 2 nonzero terms of 4 -> s = 2: 64 * 2 + 16 = 144
    t = Tile(16, 256, 64, F("fp16"), F("int8"), stats={"w_booth_terms_mean": 2.0})
    assert skip.tile_cycles(t) == 144
    # at least one cycle per step: mean 0.3 -> s = 1
    t0 = Tile(16, 256, 64, F("fp16"), F("int8"), stats={"w_booth_terms_mean": 0.3})
    assert skip.tile_cycles(t0) == 64 + 16
    # disabled: stats ignored
    assert load_accelerator("bitmod-gen-w3").pe.tile_cycles(t) == 272


def test_unsupported_formats():
    bm = load_accelerator("bitmod-gen-w3").pe
    assert bm.unsupported(F("fp16"), F("bitmod-fp3-g128"), "linear") is None
    assert bm.unsupported(F("fp16"), F("fp16"), "attn_qk") is not None  # 16-bit serial
    assert bm.unsupported(F("fp16"), F("fp8-e4m3"), "linear") is not None
    assert bm.unsupported(F("bf16"), F("int4"), "linear") is not None
    st = load_accelerator("stripes").pe
    assert st.unsupported(F("int8"), F("int8"), "linear") is None
    assert st.unsupported(F("fp16"), F("int8"), "linear") is not None  # bit-planes need int


@pytest.mark.parametrize("preset", ["bitmod-gen-w3", "bitmod-disc-w4", "bitmod-int6", "stripes"])
def test_presets_take_their_default_formats(preset):
    accel = load_accelerator(preset)
    d = accel.config.defaults
    assert accel.pe.unsupported(F(d.aq), F(d.wq), "linear") is None
    assert accel.pe.unsupported(F(d.aq), F(d.kvq), "attn_qk") is None
    assert accel.config.description and accel.config.source


def test_stripes_zero_skip_from_bitplane_stats(tmp_path):
    # activation-serial "bit" encoding: nonzero terms = (1 - bitplane_zero_mean) * bits
    skip = _arch(tmp_path, "stripes", zero_skip=True).pe
    t = Tile(16, 256, 16, F("int8"), F("int8"), stats={"a_bitplane_zero_mean": 0.75})
    # 8-bit activations with 3/4 of their bits zero: 2 nonzero terms -> s = 2
    # 16 steps * 2 + 16 drain = 48 (vs 16 * 8 + 16 = 144 without skipping)
    assert skip.tile_cycles(t) == 48
