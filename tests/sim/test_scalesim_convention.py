"""`timing_convention: scalesim` (arch/systolic_mac.py): SCALE-Sim v3.0.0's cycle count,
worked by hand on small arrays from its demand matrices
(scalesim/compute/systolic_compute_{ws,os,is}.py: one demand row per cycle, a fold's rows
concatenated after the previous fold's, the reported total = the 0-based index of the last
OFMAP demand row), next to the native closed forms of the same shapes."""

from __future__ import annotations

import pytest
import yaml

from arch.accelerator import load_accelerator
from sim.engine import Coster
from workloads.ops import Op


def _pe(tmp_path, R: int, C: int, dataflow: str, convention: str):
    cfg = yaml.safe_load(open("arch/presets/int8-systolic.yaml"))
    cfg["pe_array"].update(rows=R, cols=C)
    cfg["pe_array"]["params"] = {
        "dataflow": dataflow,
        "mac": "int8",
        "weight_double_buffer": False,
        "weight_fill_bits": C * 8,  # the one-row shift chain: a fold loads in R cycles
        "timing_convention": convention,
    }
    cfg["memory"]["dram"].update(bandwidth_gb_s=1e9, latency_ns=0)  # memory made free
    for b in ("weight", "input", "output"):
        cfg["memory"]["buffers"][b] = {"size_kib": 4096, "banks": 64, "width_bits": 4096}
    p = tmp_path / f"{dataflow}{R}x{C}{convention}.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return load_accelerator(str(p))


def test_ws_full_width_partial_fold(tmp_path):
    # 4x4 WS, M=5 (T, rows streamed), K=6, N=6: kf = ceil(6/4) = 2, nf = ceil(6/4) = 2.
    # SCALE-Sim per fold: R (weight-load prefix rows) + T + (R + C - 2) ... i.e. its filter
    # demand: R rows + suffix (R + C + T - 2) = 2R + C + T - 2 = 8 + 4 + 5 - 2 = 15 rows,
    # every fold, the last column fold (2 of 4 columns used) padded to C = 4.
    # 4 folds x 15 = 60 rows; last write at row index 59 (the op's -1).
    pe = _pe(tmp_path, 4, 4, "weight_stationary", "scalesim").pe
    assert pe.fold_cycles(5, 6, 6) == 60
    assert pe.op_cycles_offset == -1
    # native (single-buffered): the last column fold takes c_last = 2: 2R + 2 + 5 - 2 = 13
    # per k-fold: 2 x 15 + 2 x 13 = 56 cycles (counted, not indexed)
    assert _pe(tmp_path, 4, 4, "weight_stationary", "native").pe.fold_cycles(5, 6, 6) == 56


def test_os_drain_overlapped(tmp_path):
    # 4x8 OS (R=4, C=8), M=6, K=10 (T), N=9: folds = ceil(6/4) x ceil(9/8) = 2 x 2 = 4.
    # SCALE-Sim OS fold: ifmap demand T + C - 1 rows skewed over R columns:
    # T + C - 1 + R - 1 = 10 + 8 + 4 - 2 = 20 rows; 4 x 20 = 80 rows; last index 79.
    assert _pe(tmp_path, 4, 8, "output_stationary", "scalesim").pe.fold_cycles(6, 10, 9) == 80
    # native adds the R-cycle drain per fold: 4 x (10 + 2*4 + 8 - 2) = 4 x 24 = 96
    assert _pe(tmp_path, 4, 8, "output_stationary", "native").pe.fold_cycles(6, 10, 9) == 96


def test_is_folds(tmp_path):
    # 8x4 IS (R=8, C=4), M=6, K=9, N=3 (T = N: filter columns streamed):
    # folds = ceil(K/R) x ceil(M/C) = 2 x 2 = 4; SCALE-Sim per fold: 2R + C + T - 2 =
    # 16 + 4 + 3 - 2 = 21 rows (second m-fold: 2 of 4 columns, padded); 84 rows; index 83.
    assert _pe(tmp_path, 8, 4, "input_stationary", "scalesim").pe.fold_cycles(6, 9, 3) == 84
    # native single-buffered: m-fold 1: 2 x 21; m-fold 2 (c = 2): 2 x (16 + 2 + 3 - 2) = 38
    pe = _pe(tmp_path, 8, 4, "input_stationary", "native").pe
    assert pe.fold_cycles(6, 9, 3) == 80
    assert pe.op_cycles_offset == 0


def test_ws_gemv_single_fold(tmp_path):
    # 8x8 WS GEMV M=1, K=8, N=8: one fold, 2*8 + 8 + 1 - 2 = 23 rows, last index 22;
    # the same as SCALE-Sim's WS example (systolic_compute_ws.py: filter prefix R rows,
    # suffix R + C + T - 2)
    assert _pe(tmp_path, 8, 8, "weight_stationary", "scalesim").pe.fold_cycles(1, 8, 8) == 23


@pytest.mark.parametrize(
    "dataflow,m,k,n,expected",
    [
        # 4x4: kf = 2, nf = 2, fold 2*4 + 4 + 5 - 2 = 15: 4 x 15 - 1
        ("weight_stationary", 5, 6, 6, 59),
        # 4x4: folds ceil(6/4) x ceil(9/4) = 2 x 3 = 6, fold 10 + 4 + 4 - 2 = 16: 96 - 1
        ("output_stationary", 6, 10, 9, 95),
        # 4x4: kf = ceil(9/4) = 3, mf = ceil(6/4) = 2, fold 2*4 + 4 + 3 - 2 = 13: 78 - 1
        ("input_stationary", 6, 9, 3, 77),
    ],
)
def test_engine_whole_op_with_free_memory(tmp_path, dataflow, m, k, n, expected):
    """With memory made free, the engine's whole-op time is the convention's figure,
    the -1 counted once per op however the op is tiled."""
    accel = _pe(tmp_path, 4, 4, dataflow, "scalesim")
    assert accel.pe.fold_cycles(m, k, n) - 1 == expected
    rec = Coster(accel).op(Op("x", "linear", "prefill", M=m, K=k, N=n, bq="int8", aq="int8"))
    assert rec.cycles == pytest.approx(expected, abs=0.5)
