"""TileMemo (sim/engine.py): accelerators of a sweep that differ only in DRAM or clock
share tile costs and tilings' compute cycles; their results equal fresh Costers' exactly,
and accelerators whose PE array or buffers differ never share."""

from __future__ import annotations

import pytest

from arch.arch import Arch, as_accelerator
from quant.info import format_info
from sim import simulate
from sim.engine import Coster, TileMemo
from workloads.ops import Op

VARIANTS = [
    {},
    {"memory.dram.bandwidth_gb_s": 64.0},
    {"memory.dram.latency_ns": 1000.0},
    {"frequency_mhz": 500.0},
]


class CountingCoster(Coster):
    """Counts the tilings screened (candidate compute evaluated, not memoized)."""

    screened = 0

    def _candidate_compute(self, *args):
        CountingCoster.screened += 1
        return super()._candidate_compute(*args)


def _screened(accel, memo) -> tuple[dict, int]:
    CountingCoster.screened = 0
    res = simulate(accel, "llama-2-7b", 64, 8, coster=CountingCoster(accel, memo))
    return res.to_dict(), CountingCoster.screened


@pytest.mark.parametrize("preset", ["int8-systolic", "bitmod", "lut-tensor-core", "mixpe-w4a8"])
def test_shared_memo_gives_the_fresh_results(preset):
    base = Arch.load(preset)
    memo = TileMemo()
    for i, v in enumerate(VARIANTS):
        accel = as_accelerator(base.replace(v))
        shared, n_shared = _screened(accel, memo)
        fresh, n_fresh = _screened(accel, None)
        assert shared == fresh, v
        if i:  # the op shapes screened for the first variant are not screened again
            assert n_shared < n_fresh, (v, n_shared, n_fresh)
    ids = {id(memo.for_accel(as_accelerator(base.replace(v)))[0]) for v in VARIANTS}
    assert len(ids) == 1  # one memo for all four: same PE array and buffers


def test_memo_not_shared_across_pe_arrays_or_buffers():
    base = Arch.load("int8-systolic")
    memo = TileMemo()
    ids = {
        id(memo.for_accel(as_accelerator(base.replace(v)))[0])
        for v in (
            {},
            {"pe_array.rows": 2 * base.get("pe_array.rows")},
            {"memory.buffers.weight.width_bits": 2 * base.get("memory.buffers.weight.width_bits")},
            {"memory.dram.bandwidth_gb_s": 1.0},  # the only one sharing with the first
        )
    }
    assert len(ids) == 3


def test_memo_not_shared_across_mappers():
    """The exact mapper may run a tile on parts of the array the fast one does not use
    (output-stationary rows: sub_arrays(exact)), so their tile costs differ. bitmod with
    a 16 x 2,048-bit output buffer, tile 16x4x64 of int8 weights (booth: 4 cycles per
    step, 4 lanes: one step per fold): all 16 rows 1 fold x 4 + 16 drained = 20 cycles
    (the fast mapper's), its 8-row part 2 x 4 + 8 = 16 (the exact one's); one TileMemo
    keeps the two apart."""
    accel = as_accelerator(Arch.load("bitmod").replace({"memory.buffers.output.width_bits": 2048}))
    memo = TileMemo()
    assert memo.for_accel(accel, exact=True)[0] is not memo.for_accel(accel)[0]
    a, b = format_info("fp16"), format_info("int8")
    op = Op("x", "linear", "prefill", M=16, K=4, N=64, bq="int8", aq="fp16")
    exact = Coster(accel, memo, exact=True).tile(16, 4, 64, a, b, op).cycles
    fast = Coster(accel, memo).tile(16, 4, 64, a, b, op).cycles
    assert (exact, fast) == (16, 20)
