"""The families' vectorized tile costs (TileModel.tile_cycles_array, used by the mapper to
screen every candidate tiling at once) against their per-tile closed form (tile_cost):
exactly equal cycles and buffer bits on every view of the array, and the engine's
per-candidate compute equal to summing Coster.tile over each candidate's tile shapes."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from arch.accelerator import PRESETS_DIR, build_accelerator, load_accelerator, preset_names
from arch.pe import Tile, TileModel
from quant.info import format_info
from sim.engine import Coster
from sim.mapping import candidates, tile_shapes
from workloads.ops import Op

VECTORIZED = {  # preset, dataflow / convention variations of the families that vectorize
    "int8-systolic": [{}, {"dataflow": "output_stationary"}, {"dataflow": "input_stationary"}],
    "fp16-systolic": [{}, {"timing_convention": "scalesim"}, {"weight_double_buffer": False}],
    "mixpe-w4a8": [{}, {"weight_fill_bits": 256}],
    "mixpe-w4a16": [{}],
    "bitmod": [{}, {"zero_skip": True}],
    "stripes": [{}],
    "lut-tensor-core": [{}, {"precompute": "separate"}],
}


def _accel(preset: str, params: dict, rows: int, cols: int):
    cfg = yaml.safe_load((PRESETS_DIR / f"{preset}.yaml").read_text())
    cfg = copy.deepcopy(cfg)
    cfg["pe_array"]["rows"], cfg["pe_array"]["cols"] = rows, cols
    cfg["pe_array"].setdefault("params", {}).update(params)
    return build_accelerator(cfg, f"<{preset} {params}>")


CASES = [(p, v) for p, vs in VECTORIZED.items() for v in vs]
dims = st.integers(1, 700)


@pytest.mark.parametrize("case", CASES, ids=[f"{p}-{v}" for p, v in CASES])
@settings(max_examples=12, deadline=None, derandomize=True)
@given(
    shape=st.tuples(st.sampled_from([4, 8, 16, 32]), st.sampled_from([8, 16, 64])),
    tiles=st.lists(st.tuples(dims, dims, dims), min_size=1, max_size=12),
)
def test_tile_cycles_array_equals_tile_cost_on_every_view(case, shape, tiles):
    preset, params = case
    accel = _accel(preset, params, *shape)
    d = accel.config.defaults
    a, b = format_info(d.aq), format_info(d.wq)
    m, k, n = (np.array(c, dtype=np.int64) for c in zip(*tiles))
    views = accel.pe.sub_arrays()
    assert isinstance(accel.pe, TileModel)
    cycles, bits = accel.pe.tile_cycles_array(m[None, :], k[None, :], n[None, :], a, b, {}, views)
    assert cycles.shape == (len(views), len(tiles))
    for row, v in enumerate(views):
        for i, (mi, ki, ni) in enumerate(tiles):
            tc = v.tile_cost(Tile(mi, ki, ni, a, b, "linear", {}))
            assert int(cycles[row, i]) == tc.cycles, (v.R, v.C, tiles[i])
            for which in ("weight", "input", "output"):
                want = tc.buffer_read_bits.get(which, 0.0) + tc.buffer_write_bits.get(which, 0.0)
                got = np.broadcast_to(bits[which], cycles.shape)[row, i]  # (1, S) or (V, S)
                assert float(got) == want, (which, v.R, v.C, tiles[i])


@pytest.mark.parametrize("preset", preset_names())
def test_candidate_compute_equals_the_sum_over_tile_shapes(preset):
    """Every tile-family preset (vectorized or not): the mapper's per-candidate compute
    cycles equal the per-tile sum the engine computed before (bit for bit)."""
    accel = load_accelerator(preset)
    if not isinstance(accel.pe, TileModel):
        pytest.skip("an OpModel family: no tiles")
    d = accel.config.defaults
    a, b = format_info(d.aq), format_info(d.wq)
    bufs = accel.config.memory.buffers
    acc = accel.pe.accumulator_bits(a, b) / 8
    for M, K, N in ((1, 4096, 4096), (37, 300, 1000), (2048, 128, 2048), (200, 11008, 96)):
        op = Op("x", "linear", "prefill", M=M, K=K, N=N, bq=d.wq, aq=d.aq)
        c = candidates(
            M,
            K,
            N,
            accel.pe.tile_quantum(a, b),
            a.bits_per_element / 8,
            b.bits_per_element / 8,
            a.bits_per_element / 8,
            acc,
            (bufs.input.size_bytes, bufs.weight.size_bytes, bufs.output.size_bytes),
        )
        if c is None:
            continue
        coster = Coster(accel)
        got = coster.candidate_compute(M, K, N, c, a, b, op)
        for i in range(c.tm.size):
            shapes = tile_shapes(M, K, N, int(c.tm[i]), int(c.tk[i]), int(c.tn[i]))
            want = sum(coster.tile(m, k, n, a, b, op).cycles * cnt for m, k, n, cnt in shapes)
            assert got[i] == want, (M, K, N, c.tm[i], c.tk[i], c.tn[i])
