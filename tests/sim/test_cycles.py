"""Hand-worked cycle counts (arithmetic in the comments) for the systolic closed forms,
and for whole ops through the engine."""

from __future__ import annotations

import pytest
import yaml

from arch.accelerator import load_accelerator
from sim.api import gemm
from sim.engine import Coster
from workloads.ops import Op


def _arch(tmp_path, **pe) -> object:
    cfg = yaml.safe_load(open("arch/presets/int8-systolic.yaml"))
    params = pe.pop("params", {})
    cfg["pe_array"]["params"].pop("weight_fill_bits")  # the shift chain, unless given
    cfg["pe_array"].update(pe)
    cfg["pe_array"]["params"].update(params)
    p = tmp_path / "a.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return load_accelerator(str(p))


def test_ws_double_buffered_4x4(tmp_path):
    pe = _arch(tmp_path, rows=4, cols=4).pe
    # m=10, k=8, n=6 on 4x4: kf = 8/4 = 2, nf = ceil(6/4) = 2, F = 4 folds, c_last = 6-4 = 2
    # R + (F-1)*max(m,R) + m + R + c_last - 2 = 4 + 3*10 + 10 + 4 + 2 - 2 = 48
    assert pe.fold_cycles(10, 8, 6) == 48


def test_ws_single_buffered_4x4(tmp_path):
    pe = _arch(tmp_path, rows=4, cols=4, params={"weight_double_buffer": False}).pe
    # first n-block, 2 full folds: 2 * (2R + C + m - 2) = 2 * (8 + 4 + 10 - 2) = 40
    # last n-block (2 columns), 2 folds: 2 * (2R + 2 + m - 2) = 2 * (8 + 2 + 10 - 2) = 36
    assert pe.fold_cycles(10, 8, 6) == 76


def test_ws_lanes_fold_k(tmp_path):
    pe = _arch(tmp_path, rows=4, cols=4, lanes=4).pe
    # lanes 4: a fold covers R*L = 16 of K. k=32 -> kf=2, n=4 -> nf=1, F=2, c_last=4, m=3
    # 4 + 1*max(3,4) + 3 + 4 + 4 - 2 = 17
    assert pe.fold_cycles(3, 32, 4) == 17


def test_os_4x4(tmp_path):
    pe = _arch(tmp_path, rows=4, cols=4, params={"dataflow": "output_stationary"}).pe
    # m=8, n=4 -> 2 x 1 output folds; each ceil(k/L) + 2R + C - 2 = 5 + 8 + 4 - 2 = 15
    assert pe.fold_cycles(8, 5, 4) == 30


def test_shift_chain_gemv_weight_fill_bound(tmp_path):
    accel = _arch(tmp_path, params={"weight_fill_bits": 256})  # one 32x8-bit row per cycle
    # 1 x 4096 x 4096 int8 on 32x32 WS, double-buffered: F = 128*128 = 16384 folds,
    # m=1 < R=32 so each fold waits for its 32-cycle weight fill:
    # 32 + 16383*32 + 1 + 32 + 32 - 2 = 524,351 compute cycles.
    # DRAM: 4096*4096 bytes / 64 bytes per cycle = 262,144 cycles -> compute-bound.
    assert accel.pe.fold_cycles(1, 4096, 4096) == 524_351
    g = gemm(accel, 1, 4096, 4096, "int8", "int8")
    assert g["bound"] == "compute"
    # The engine runs the op as tiles, and each tile pays its own fill and drain: with
    # the 1 x 4096 x 32 tiles it picks, a tile is 128 folds: 32 + 127*32 + 1 + 32 + 32 - 2
    # = 4159 cycles on the full array. A tile may run on a power-of-two part of the array
    # (arch/dataflow.py "Sub-arrays"); the fastest is 8x4 (or 4x8): W = 8*4*8/256 = 1,
    # 512 x 8 = 4096 folds: 1 + 4095*1 + 1 + 8 + 4 - 2 = 4107 (less skew and drain),
    # x 128 tiles; plus the first load (4096*32 B / 64 B/cycle = 2048).
    assert g["compute_cycles"] == 128 * 4107
    assert g["cycles"] == pytest.approx(128 * 4107 + 2048, rel=0.001)


def test_preset_prefill_compute_bound():
    accel = load_accelerator("int8-systolic")
    # 512 x 4096 x 4096: ideal 512*4096*4096 / 1024 MACs per cycle = 8,388,608 cycles.
    # Tiles add fill/drain, and the engine may trade up to 1% of time for less traffic.
    g = gemm(accel, 512, 4096, 4096, "int8", "int8")
    assert g["bound"] == "compute"
    assert 8_388_608 < g["cycles"] < 8_388_608 * 1.02


def test_memory_bound_when_bandwidth_is_low(tmp_path):
    cfg = yaml.safe_load(open("arch/presets/int8-systolic.yaml"))
    cfg["memory"]["dram"].update(bandwidth_gb_s=8, latency_ns=0)  # 8 bytes per cycle
    p = tmp_path / "slow.yaml"
    p.write_text(yaml.safe_dump(cfg))
    accel = load_accelerator(str(p))
    rec = Coster(accel).op(Op("x", "linear", "decode", M=1, K=4096, N=4096, bq="int4", aq="int8"))
    # int4 weights: 4096*4096/2 = 8,388,608 bytes / 8 = 1,048,576 DRAM cycles > 524,351
    assert rec.bound == "memory"
    assert rec.cycles == pytest.approx(1_048_576, rel=0.01)


def test_operand_bits_change_traffic_and_energy():
    accel = load_accelerator("int8-systolic")
    c = Coster(accel)
    w8 = c.op(Op("x", "linear", "decode", M=1, K=4096, N=4096, bq="int8", aq="int8"))
    w4 = c.op(Op("x", "linear", "decode", M=1, K=4096, N=4096, bq="int4-g128", aq="int8"))
    # int4-g128: 4 bits + 16-bit scale per 128 = 4.125 bits per weight
    assert w4.dram_bytes == pytest.approx(w8.dram_bytes * 4.125 / 8, rel=0.01)
    assert w4.compute_pj < w8.compute_pj


def test_wide_weight_fill(tmp_path):
    pe = _arch(tmp_path, rows=32, cols=32, params={"weight_fill_bits": 1024}).pe
    # 1024-bit bus: a fold's 32x32 int8 weights (8192 bits) load in W = 8 cycles;
    # 1 x 4096 x 4096: F = 128*128 = 16384 folds
    # W + (F-1)*max(1, W) + 1 + R + C - 2 = 8 + 16383*8 + 1 + 32 + 32 - 2 = 131,135
    assert pe.fold_cycles(1, 4096, 4096, 8) == 131_135
    # 4-bit weights move at their stored width: W = 32*32*4 / 1024 = 4 cycles
    # 4 + 16383*4 + 1 + 32 + 32 - 2 = 65,599
    assert pe.fold_cycles(1, 4096, 4096, 4) == 65_599


def test_fill_bus_capped_by_weight_buffer(tmp_path):
    # a 1e6-bit bus cannot beat the weight buffer's 8 banks x 256 bits = 2048 bits/cycle:
    # W = 32*32*8 / 2048 = 4 -> 4 + 16383*4 + 1 + 32 + 32 - 2 = 65,599
    pe = _arch(tmp_path, rows=32, cols=32, params={"weight_fill_bits": 10**6}).pe
    assert pe.fold_cycles(1, 4096, 4096, 8) == 65_599


def test_fill_bus_costs_area_and_energy(tmp_path):
    narrow = _arch(tmp_path, params={"weight_fill_bits": 256}).pe
    wide = _arch(tmp_path, params={"weight_fill_bits": 2048}).pe
    # 1792 more bit-tracks across the array: span = sqrt(1024 MACs x mac_um2) / 1000 mm
    extra = (2048 - 256) * narrow.span_mm * narrow.wire_um2
    assert wide.area_um2()["fill_bus"] - narrow.area_um2()["fill_bus"] == pytest.approx(extra)
    assert wide.area_um2()["mac"] == narrow.area_um2()["mac"]


def test_int4_weights_fill_twice_as_fast():
    # the shipped int8-systolic preset (2048-bit fill bus = its weight buffer port):
    # int8: W = 32*32*8/2048 = 4; int4: W = 2 -> decode GEMV compute halves
    pe = load_accelerator("int8-systolic").pe
    assert pe.fold_cycles(1, 4096, 4096, 8) == 4 + 16383 * 4 + 1 + 32 + 32 - 2
    assert pe.fold_cycles(1, 4096, 4096, 4) == 2 + 16383 * 2 + 1 + 32 + 32 - 2
