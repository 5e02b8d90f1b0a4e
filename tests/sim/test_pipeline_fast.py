"""The simpy-free event loop (sim/pipeline_fast.py) against the simpy reference
(sim/pipeline.py engine="simpy"): same processes, so the same cycles on random tile loops
(loop orders, trip counts, edge tiles, latencies, bandwidths, buffer depths)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.pipeline import simulate_tiles

ORDERS = ["mkn", "mnk", "kmn", "knm", "nmk", "nkm"]


@st.composite
def loops(draw):
    trips = {c: draw(st.integers(1, 7)) for c in "mkn"}
    sizes = {c: draw(st.integers(1, 64)) for c in "mkn"}
    cyc = draw(st.sampled_from([1.0, 3.0, 17.0]))
    return (
        draw(st.sampled_from(ORDERS)),
        trips,
        sizes,
        cyc,
        draw(st.sampled_from([0.5, 4.0, 64.0])),  # bytes per cycle
        draw(st.sampled_from([0.0, 10.0, 300.0])),  # latency
        {x: draw(st.integers(2, 5)) for x in "ABO"},
        draw(st.sampled_from([8, 30, 192])),  # max_iters (extrapolation on or off)
    )


@settings(max_examples=60, deadline=None, derandomize=True)
@given(loops())
def test_fast_event_loop_matches_simpy(case):
    order, trips, sizes, cyc, bw, lat, depth, max_iters = case

    def tile_cycles(im, ik, in_):
        return cyc * (1 + (im + 2 * ik + in_) % 3)  # uneven tiles

    def load_bytes(x, im, ik, in_):
        return {"A": sizes["m"] * sizes["k"], "B": sizes["k"] * sizes["n"]}.get(
            x, 4 * sizes["m"] * sizes["n"]
        )

    def store_bytes(im, ik, in_, final):
        return sizes["m"] * sizes["n"] * (1 if final else 4)

    total = trips["m"] * trips["k"] * trips["n"]
    args = (order, trips, tile_cycles, load_bytes, store_bytes, bw, lat)
    kw = dict(
        total_compute_cycles=sum(tile_cycles(0, 0, 0) for _ in range(total)),
        total_dram_cycles=0.0,
        max_iters=max_iters,
        slots=depth,
        full_iters=0,  # extrapolated at small budgets (the engine simulates these in full)
    )
    fast = simulate_tiles(*args, **kw, engine="fast")
    ref = simulate_tiles(*args, **kw, engine="simpy")
    assert fast.cycles == ref.cycles


@st.composite
def big_loops(draw):
    trips = {c: draw(st.integers(3, 12)) for c in "mkn"}
    edge = {c: draw(st.integers(1, 64)) for c in "mkn"}  # size of each dim's last tile
    return (
        draw(st.sampled_from(ORDERS)),
        trips,
        edge,
        draw(st.sampled_from([1.0, 3.0, 17.0])),
        draw(st.sampled_from([0.5, 4.0, 64.0])),
        draw(st.sampled_from([0.0, 10.0, 300.0])),
        {x: draw(st.integers(2, 5)) for x in "ABO"},
    )


@settings(max_examples=150, deadline=None, derandomize=True)
@given(big_loops())
def test_regime_extrapolation_within_half_percent_of_every_tile(case):
    _check_regimes(case)


@pytest.mark.xfail(
    strict=True,
    reason="open at a 48-iteration budget only (the engine's is 512 and it simulates "
    "every tile of loops up to 4096 iterations): a memory-bound loop with 1-element edge "
    "tiles on two outer loops (23x29x3 trips, 0.5 B/cycle) is estimated 0.9% high: its "
    "periods alternate with the buffer-slot parity and a regime window started mid-row "
    "does not start in phase",
)
def test_regime_extrapolation_adversarial_open():
    case = (
        "mkn",
        {"m": 23, "k": 29, "n": 3},
        {"m": 1, "k": 1, "n": 1},
        1.0,
        0.5,
        0.0,
        {"A": 2, "B": 2, "O": 2},
    )
    _check_regimes(case)


def _check_regimes(case):
    """The steady-state-per-regime estimate (sim/pipeline.py) against the simpy reference
    simulating every tile: within 0.5% (issue 14's bound), on loops with edge tiles."""
    order, trips, edge, cyc, bw, lat, depth = case
    full = 64

    def size(i, c):
        return edge[c] if i == trips[c] - 1 else full

    def tile_cycles(im, ik, in_):
        return cyc * size(im, "m") * size(in_, "n") / 64 + 20

    def load_bytes(x, im, ik, in_):
        if x == "A":
            return size(im, "m") * size(ik, "k")
        if x == "B":
            return size(ik, "k") * size(in_, "n")
        return 4 * size(im, "m") * size(in_, "n")

    def store_bytes(im, ik, in_, final):
        return size(im, "m") * size(in_, "n") * (1 if final else 4)

    moved = [0.0]  # the exact DRAM total, as the engine passes it (its floor)

    def counted_load(*a):
        moved[0] += load_bytes(*a)
        return load_bytes(*a)

    def counted_store(*a):
        moved[0] += store_bytes(*a)
        return store_bytes(*a)

    kw = dict(total_compute_cycles=0.0, slots=depth)
    ref = simulate_tiles(
        order,
        trips,
        tile_cycles,
        counted_load,
        counted_store,
        bw,
        lat,
        **kw,
        total_dram_cycles=0.0,
        max_iters=10**9,
        engine="simpy",
    )
    est = simulate_tiles(
        order,
        trips,
        tile_cycles,
        load_bytes,
        store_bytes,
        bw,
        lat,
        **kw,
        total_dram_cycles=moved[0] / bw,
        max_iters=48,
        full_iters=0,  # the estimate itself, on loops the engine would simulate in full
    )
    assert est.cycles == pytest.approx(ref.cycles, rel=5e-3)


@st.composite
def table_loops(draw):
    """A tile loop in closed form (sim.pipeline.TileTable): sizes per index with a short
    last tile, shape-dependent tile cycles, and the same loop as callables."""
    trips = {c: draw(st.integers(1, 9)) for c in "mkn"}
    full = {c: draw(st.integers(1, 64)) for c in "mkn"}
    edge = {c: draw(st.integers(1, full[c])) for c in "mkn"}
    return (
        draw(st.sampled_from(ORDERS)),
        trips,
        {c: [full[c]] * (trips[c] - 1) + [edge[c]] for c in "mkn"},
        draw(st.sampled_from([0.0, 1.0, 7.0])),  # cycles per tile besides the MACs
        draw(st.sampled_from([0.5, 4.0, 64.0])),
        draw(st.sampled_from([0.0, 10.0, 300.0])),
        {x: draw(st.integers(2, 5)) for x in "ABO"},
        draw(st.sampled_from([0.0, 1.0])),  # A bytes per element (0: kept on chip)
        draw(st.sampled_from([8, 48, 10**9])),  # max_iters: extrapolated or every tile
    )


@settings(max_examples=80, deadline=None, derandomize=True)
@given(table_loops())
def test_numba_engine_matches_python_and_simpy(case):
    """The numba engine (sim/pipeline_nb.py, used for long loops) gives exactly the cycles
    of the Python engine and of the simpy reference, extrapolated or not."""
    import numpy as np

    import sim.pipeline_nb  # noqa: F401  (loaded: every loop of 8+ iterations uses it)
    from sim.pipeline import NUMBA_MIN_ITERS, TileTable

    order, trips, sizes, extra, bw, lat, depth, a_bytes, max_iters = case
    sm, sk, sn = (np.array(sizes[c], dtype=np.int64) for c in "mkn")
    table = TileTable(
        sm, sk, sn, lambda m, k, n: m * k * n / 16 + extra, a_bytes, 1.0, 4.0, 2.0, 4.0
    )

    # the same loop as callables (TileTable's own), for the Python and simpy engines
    args = (order, trips, table.tile_cycles, table.load_bytes, table.store_bytes, bw, lat)
    kw = dict(total_compute_cycles=0.0, total_dram_cycles=0.0, max_iters=max_iters, slots=depth)
    kw["full_iters"] = 0  # extrapolated at the small budgets
    fast = simulate_tiles(*args, **kw, table=table)
    python = simulate_tiles(*args, **kw)
    ref = simulate_tiles(*args, **kw, engine="simpy")
    assert fast.cycles == python.cycles == ref.cycles
    assert fast.simulated_iters == python.simulated_iters
    assert NUMBA_MIN_ITERS <= 8  # so these loops exercise it


def _engine_vs_every_tile(case):
    """(estimate at the engine's defaults, every tile simulated) of a synthetic loop (full
    tiles of 64, a last tile of `edge` per dim; the loop of _check_regimes as a TileTable),
    as benchmarks/pipeline_estimate.py runs it: both on the numba engine (cycle-equal to
    the Python and simpy ones, test_numba_engine_matches_python_and_simpy), the estimate
    with no DRAM floor (the engine passes the exact DRAM busy time, which can only raise
    a low estimate): stricter than the engine's use."""
    import importlib.util
    from pathlib import Path

    from sim.pipeline import FULL_SIM_ITERS, MAX_ITERS

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "pipeline_estimate.py"
    spec = importlib.util.spec_from_file_location("pipeline_estimate", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench.estimate_vs_every_tile(case, MAX_ITERS, FULL_SIM_ITERS)


@st.composite
def long_loops(draw):
    """Loops up to 60 x 60 x 60 tiles (216,000 iterations), edges from 1 element."""
    return (
        draw(st.sampled_from(ORDERS)),
        {c: draw(st.integers(1, 60)) for c in "mkn"},
        {c: draw(st.sampled_from([1, 7, 32, 64])) for c in "mkn"},
        draw(st.sampled_from([0.0, 1.0, 7.0])),
        draw(st.sampled_from([0.5, 4.0, 64.0])),
        draw(st.sampled_from([0.0, 10.0, 300.0])),
        {x: draw(st.integers(2, 5)) for x in "ABO"},
    )


@settings(max_examples=60, deadline=None, derandomize=True)
@given(long_loops())
def test_engine_estimate_within_half_percent_on_long_loops(case):
    """Issue 14: the steady-state estimate at the engine's budget (sim/pipeline.py:
    every tile of loops up to FULL_SIM_ITERS, else regimes with periods of up to
    MAX_ITERS iterations, averaged over whole cycles) within 0.5% of simulating every
    tile. Off-line, 1 of 1,500 such random loops (trips up to 80) was beyond it (0.78%;
    sim/pipeline.py MAX_ITERS)."""
    est, ref = _engine_vs_every_tile(case)
    assert est.cycles == pytest.approx(ref.cycles, rel=5e-3)


@pytest.mark.parametrize(
    "case",
    [
        # period times cycle with the slots (2912/2144/2912 over 3 periods): a 4-period
        # average is off; and a window started mid-row is out of phase: -4.7% before
        ("kmn", {"m": 38, "k": 25, "n": 5}, {"m": 7, "k": 1, "n": 32}, 1.0, 64.0, 300.0,
         {"A": 2, "B": 3, "O": 3}),
        # a cycle of 5 periods, and transients after each row start: +0.81% before
        ("kmn", {"m": 20, "k": 38, "n": 14}, {"m": 32, "k": 7, "n": 1}, 0.0, 4.0, 10.0,
         {"A": 4, "B": 4, "O": 4}),
    ],
)  # fmt: skip
def test_regime_counterexamples_now_exact(case):
    """Loops the 192-iteration budget estimated 4.7% low and 0.81% high; at the engine's
    budget they are simulated in full (4,750 and 10,640 iterations: the regime windows
    would cost more than half of that), so exactly."""
    est, ref = _engine_vs_every_tile(case)
    assert est.cycles == ref.cycles
    assert est.simulated_iters == ref.total_iters


def test_cycle_mean_averages_whole_cycles():
    from sim.pipeline import _cycle_mean

    # a cycle of 3 measured 12 times' worth: 4 whole cycles; a 4-period mean would be off
    times = [2912.0, 2144.0, 2912.0] * 4
    assert _cycle_mean(times) == (2912 + 2144 + 2912) / 3
    assert sum(times[:4]) / 4 != _cycle_mean(times)
    # a cycle of 5 seen twice and 2 more: the first 10
    five = [67664.0, 71756.0, 71760.0, 67668.0, 59472.0]
    assert _cycle_mean(five * 2 + five[:2]) == sum(five) / 5
    assert _cycle_mean([7.0] * 4) == 7.0
    assert _cycle_mean([1.0, 2.0, 4.0, 8.0]) == 15.0 / 4  # no cycle: the plain mean
