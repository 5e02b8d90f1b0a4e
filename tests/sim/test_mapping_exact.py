"""The exact mapper (Coster(exact=True), issue 9): tile choices nested across arrays,
floors that bound the event model from below, and a branch and bound that returns the
brute-force minimum."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from arch.arch import as_accelerator
from quant.info import format_info
from sim import Arch
from sim.engine import Coster, _floors, _pipeline, attention_fused
from sim.mapping import ORDERS, candidates, exact_choices, exact_quanta, refetch_all, tile_choices
from workloads.ops import Op


def test_exact_choices_hand_worked():
    # u = 14 units of 1: tile_choices' steps 1, 14, powers 2, 4, 8, even splits
    # ceil(14 / 2..8) = 7, 5, 4, 3, 3, 2, 2: eight, under its cap of ten
    assert exact_choices(14, (1,)).tolist() == [1, 2, 3, 4, 5, 7, 8, 14]
    assert exact_choices(7, (8,)).tolist() == [7]  # one 8-wide quantum, clamped to the dim
    # 4096 in units of 32 (128 units): steps 1, 2, 4, ..., 128 and splits 64, 43, 32, 26,
    # 22, 19, 16, twelve, capped at ten log-spaced picks: units 1, 2, 4, 8, 16, 22, 32,
    # 128 (x 32 below); in units of 64 (64 units; splits 32, 22, 16, 13, 11, 10, 8)
    # the ten picks are 1, 2, 4, 8, 10, 11, 16, 64: the union adds 640 (10 x 64)
    assert tile_choices(4096, 32).tolist() == [32, 64, 128, 256, 512, 704, 1024, 4096]
    assert exact_choices(4096, (32, 64)).tolist() == [
        32, 64, 128, 256, 512, 640, 704, 1024, 4096
    ]  # fmt: skip


@pytest.mark.parametrize("q,finest", [(8, 1), (16, 8), (80, 5), (64, 64)])
def test_exact_choices_of_an_array_are_among_those_of_twice_the_array(q, finest):
    """Twice the rows, columns or lanes: the doubled quantum's exact_quanta hold the
    array's (halvings down to odd, and the finest part), so for every dim up to 3000 its
    tile choices hold the smaller array's: the bigger array can run every tiling the
    smaller one can (issue 9, more hardware)."""
    small = exact_quanta((q, q, q), (finest, finest, finest))[0]
    big = exact_quanta((2 * q, 2 * q, 2 * q), (finest, finest, finest))[0]
    assert set(small) <= set(big)
    for dim in range(1, 3001):
        assert set(exact_choices(dim, small).tolist()) <= set(exact_choices(dim, big).tolist())


def _op(kind, M, K, N, wq="int8"):
    return Op("x", kind, "decode" if M == 1 else "prefill", M=M, K=K, N=N, bq=wq, aq="int8")


def _all_candidates(coster: Coster, op: Op):
    """Every exact-mapper candidate of `op`: (cycles, floor, DRAM bytes) each."""
    accel = coster.accel
    a, b = format_info(op.aq), format_info(op.bq)
    bufs = accel.config.memory.buffers
    acc = accel.pe.accumulator_bits(a, b) / 8
    ab, bb = a.bits_per_element / 8, b.bits_per_element / 8
    q = accel.pe.tile_quantum(a, b)
    fused = attention_fused(accel, op, q, acc)
    a_dram = 0.0 if fused and op.kind == "attn_pv" else ab
    o_dram = 0.0 if fused and op.kind == "attn_qk" else ab
    caps = (bufs.input.size_bytes, bufs.weight.size_bytes, bufs.output.size_bytes)
    fine = exact_quanta(q, accel.pe.finest_quantum(a, b))
    cands = candidates(op.M, op.K, op.N, q, ab, bb, ab, acc, caps, a_dram, o_dram, fine)
    comp = coster.candidate_compute(op.M, op.K, op.N, cands, a, b, op)
    last = coster.last_tile_cycles(op.M, op.K, op.N, cands, a, b, op)
    floors = _floors(accel, op, cands, (comp, last), (a_dram, bb, o_dram, acc))
    out = []
    for oi in range(floors.shape[0]):
        for i in range(cands.tm.size):
            mp = cands.mapping(oi, i)
            cyc = _pipeline(coster, op, mp, a, b, (ab, a_dram), bb, o_dram, acc, comp[i])
            out.append((cyc, float(floors[oi, i]), mp.dram_bytes, mp.describe()))
    return out


CASES = [  # small enough to run the event model on every candidate (a few seconds in all)
    ("int8-systolic", _op("linear", 1, 40, 48)),
    ("int8-systolic", _op("attn_pv", 1, 50, 32)),
    ("int8-systolic", _op("linear", 6, 24, 16)),
    ("bitmod", _op("linear", 40, 512, 128)),
    ("lut-tensor-core", _op("linear", 1, 64, 96, "int2")),
]


@pytest.mark.parametrize("preset,op", CASES)
def test_floors_bound_the_event_model_and_the_search_is_exact(preset, op):
    """The oracle: the event model on every candidate. Each floor is below its
    candidate's cycles, and the branch and bound returns the least cycles (ties: least
    traffic) of them all and, for an even M, of the two halves run one after the other."""
    base = Arch.load(preset)
    if preset == "bitmod":
        op = _op("linear", op.M, op.K, op.N, base.get("defaults.wq"))
    accel = as_accelerator(base)
    coster = Coster(accel, exact=True)
    every = _all_candidates(coster, op)
    assert len(every) > 30
    for cyc, floor, _, name in every:
        assert floor <= cyc * (1 + 1e-12), name
    want = min((c, d) for c, _, d, _ in every)
    if op.M % 2 == 0:  # the other candidate: two halves along M, one after the other
        half = coster.op(replace(op, M=op.M // 2))
        want = min(want, (2 * half.cycles, 2 * half.dram_bytes))
    got = coster.op(op)
    assert (got.cycles, got.dram_bytes) == want


def test_refetch_counts_what_the_event_model_moves():
    """Hand-worked refetch factors (sim.mapping.refetch_all) under order mkn (m outer).
    Trips (2, 3, 4): A (m, k) is not refetched (n, the loop it ignores, is innermost); B
    (k, n) once per m trip: 2; the output (m, n) once per k trip, as n (4 trips) inside k
    moves it: 3. Trips (1, 171, 1), a GEMV with 3-element K tiles: n has one trip, so the
    output tile never moves and is read once: 1, where charging k's 171 trips would
    spill 170 partial-sum round trips the event model never makes."""
    mkn = ORDERS.index("mkn")
    trips = np.array([[2, 1], [3, 171], [4, 1]])
    got = {x: refetch_all(trips, x)[mkn].tolist() for x in "ABO"}
    assert got == {"A": [1, 1], "B": [2, 1], "O": [3, 1]}
