"""`lut` family: hand-worked tile cycles, bit-plane scaling, activation independence,
precompute modes and the T-MAC CPU variant (arch/lut.py docstring has the model)."""

from __future__ import annotations

import pytest
import yaml

from arch.accelerator import load_accelerator
from arch.pe import Tile
from common.errors import InputError
from quant.info import format_info
from sim import simulate
from sim.engine import Coster
from workloads.ops import Op

FP16, INT8 = format_info("fp16"), format_info("int8")


def _pe(tmp_path, **params):
    cfg = yaml.safe_load(open("arch/presets/lut-tensor-core.yaml"))
    cfg["pe_array"]["params"].update(params)
    p = tmp_path / "lut.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return load_accelerator(str(p)).pe


def _cycles(pe, m, k, n, a, b, stats=None):
    return pe.tile_cost(Tile(m, k, n, a, format_info(b), "linear", stats or {})).cycles


def test_hand_worked_tile_cycles():
    pe = load_accelerator("lut-tensor-core").pe  # 2 x 4 units -> fold = 4 rows x 256 cols
    # m=4, k=8, n=256, W4: folds = ceil(4/4)*ceil(256/256) = 1; K groups = ceil(8/4) = 2;
    # bit-planes = 4 -> 1*2*4 = 8 lookup cycles + 2 pipeline stages = 10.
    assert _cycles(pe, 4, 8, 256, FP16, "int4") == 10
    # m=5, k=10, n=300, W2: folds = ceil(5/4)*ceil(300/256) = 2*2 = 4; groups = ceil(10/4)
    # = 3; planes = 2 -> 4*3*2 = 24 + 2 = 26.
    assert _cycles(pe, 5, 10, 300, FP16, "int2") == 26
    # one full fold, K = 4096, W1 (binary): 1024 groups * 1 plane + 2 = 1026
    assert _cycles(pe, 4, 4096, 256, INT8, "binary") == 1026


def test_separate_precompute_adds_cycles(tmp_path):
    pe = _pe(tmp_path, precompute="separate")
    # tables = m * ceil(k/4) = 5*3 = 15; 14 adds each = 210 adds on 16 adders ->
    # ceil(210/16) = 14 cycles, on top of the 26 lookup cycles above = 40.
    assert _cycles(pe, 5, 10, 300, FP16, "int2") == 40
    fused = load_accelerator("lut-tensor-core").pe
    t = Tile(5, 10, 300, FP16, format_info("int2"))
    # fused: no cycles, but the same table-building energy and table traffic are counted
    assert fused.tile_cost(t).compute_pj == pytest.approx(pe.tile_cost(t).compute_pj)
    assert fused.tile_cost(t).buffer_write_bits["input"] == 15 * 8 * 16


@pytest.mark.parametrize("shape", [(4, 64, 256), (7, 100, 513), (64, 4096, 1024)])
def test_cycles_proportional_to_bit_planes(shape):
    pe = load_accelerator("lut-tensor-core").pe
    P = pe.p.pipeline_stages
    base = _cycles(pe, *shape, FP16, "binary") - P
    for fmt, planes in (("int2", 2), ("int3", 3), ("int4", 4), ("ternary", 2)):
        assert _cycles(pe, *shape, FP16, fmt) - P == planes * base


def test_cycles_independent_of_activation_precision_and_values():
    pe = load_accelerator("lut-tensor-core").pe
    a16 = _cycles(pe, 9, 300, 700, FP16, "int3")
    assert _cycles(pe, 9, 300, 700, INT8, "int3") == a16  # A8 == A16
    assert _cycles(pe, 9, 300, 700, INT8, "int3", {"a_zero_frac": 0.9}) == a16  # values
    assert pe.peak_macs_per_cycle(FP16, format_info("binary")) == 8 * 512
    assert pe.peak_macs_per_cycle(INT8, format_info("int4")) == 1024


def test_unsupported_formats():
    pe = load_accelerator("lut-tensor-core").pe
    assert "int2..int4" in pe.unsupported(FP16, INT8, "linear")
    assert pe.unsupported(format_info("fp32"), format_info("int4"), "linear")
    assert pe.unsupported(INT8, format_info("int4-g128"), "linear") is None


def test_engine_runs_and_rejects_int8_kv():
    acc = load_accelerator("lut-tensor-core")
    rec = Coster(acc).op(
        Op("q_proj", "linear", "prefill", M=64, K=4096, N=4096, bq="int2", aq="fp16")
    )
    # compute bound at most 4096 MAC/cycle at W1 -> W2 is 2048 MAC/cycle
    assert rec.compute_cycles >= 64 * 4096 * 4096 / 2048
    with pytest.raises(InputError, match="pe_array"):
        simulate(acc, "llama-2-7b", prefill=8, decode=1, kvq="int8")


def test_tmac_cpu_hand_worked():
    pe = load_accelerator("tmac-cpu").pe  # 2 cores, 16 int8 lanes, 1 tbl+add per cycle
    # m=1, k=128, n=32, W2: lookups = 1 * 32 groups * 2 planes * ceil(32/16) = 128 on 2
    # cores -> 64; tables 32 * 8 entries / (2*16 lanes) = 8; group-128 scales
    # 1*32*1 / (2*16//4 = 8 fp32 lanes) = 4 -> 76.
    assert _cycles(pe, 1, 128, 32, INT8, "int2") == 76
    assert _cycles(pe, 1, 128, 32, INT8, "int4") == 64 * 2 + 8 + 4


def test_tmac_cpu_preset_near_reported():
    # T-MAC docs/profiling_data.md: Llama-2-7B W2 on Raspberry Pi 5, 2 threads, 5.92 tok/s
    tps = simulate("tmac-cpu", "llama-2-7b", prefill=16, decode=16, wq="int2").tokens_per_s
    assert 0.7 * 5.92 < tps < 1.3 * 5.92
