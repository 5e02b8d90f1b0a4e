"""The simpy-free event loop (sim/pipeline_fast.py) against the simpy reference
(sim/pipeline.py engine="simpy"): same processes, so the same cycles on random tile loops
(loop orders, trip counts, edge tiles, latencies, bandwidths, buffer depths)."""

from __future__ import annotations

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
    )
    fast = simulate_tiles(*args, **kw, engine="fast")
    ref = simulate_tiles(*args, **kw, engine="simpy")
    assert fast.cycles == ref.cycles
