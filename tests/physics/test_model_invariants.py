"""The physics invariants for whole phases under the exact mapper (issue 9): what a sweep
compares is a model's TTFT and TPOT, not one op. The exact mapper costs every op of a
run exactly (no series interpolation, sim.api._cost_entries), so a phase's time is a sum
of op costs each of which obeys the per-op invariants (test_invariants.py), and the
phase obeys them too: doubling any knob never lengthens prefill or decode, and twice the
batch never takes more than twice the time.

SmolLM2-135M (the real model's shape), prefill 16 + decode 8 (a decode attention series
of 8 KV lengths, interpolated by the fast mapper), on drawn tile-family
architectures (test_invariants.archs).
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from common.errors import InputError
from sim import simulate

from .test_invariants import KNOBS, TILE_BASES, _accel, _double, archs

MODEL, RUN = "smollm2-135m", dict(prefill=16, decode=8)


def _run(cfg: dict, batch: int = 1):
    """Whole-model result with the exact mapper; a drawn design whose buffers hold no
    tile of some op is not a valid example."""
    try:
        return simulate(_accel(cfg), MODEL, **RUN, batch=batch, mapper="exact")
    except InputError as e:
        assume("too small for any tile" not in str(e))
        raise


@given(archs(tuple(TILE_BASES)), st.sampled_from(KNOBS + ["frequency_mhz"]))
def test_more_hardware_never_slows_a_phase(drawn, knob):
    key, cfg = drawn
    assume(not (key == "lut" and knob == "pe_array.lanes"))  # fixed-shape LUT units
    base, more = _run(cfg), _run(_double(cfg, knob))
    assert more.ttft_s <= base.ttft_s * (1 + 1e-12), knob
    assert more.tpot_s <= base.tpot_s * (1 + 1e-12), knob


@given(archs(tuple(TILE_BASES)))
def test_twice_the_batch_at_most_twice_the_phase_time(drawn):
    _, cfg = drawn
    one, two = _run(cfg), _run(cfg, batch=2)
    assert two.ttft_s <= 2 * one.ttft_s * (1 + 1e-12)
    assert two.tpot_s <= 2 * one.tpot_s * (1 + 1e-12)


@pytest.mark.physics_long
@given(archs(tuple(TILE_BASES)), st.sampled_from(KNOBS + ["frequency_mhz"]))
def test_more_hardware_never_slows_a_phase_long(drawn, knob):
    test_more_hardware_never_slows_a_phase.hypothesis.inner_test(drawn, knob)
