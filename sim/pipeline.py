"""Discrete-event model (simpy) of one GEMM op's tile loop: loads, compute and stores
overlapping through double buffering and sharing one DRAM channel.

Resources:
- DRAM: one channel (simpy.Resource, capacity 1); a transfer of b bytes holds it for
  b / bytes_per_cycle cycles, then its data arrives `latency` cycles later. Transfers
  pipeline: the next one starts as soon as the channel is free, so a stream pays the
  latency once, not per tile. `bytes_per_cycle` is the sustained rate, which the caller
  caps by Little's law (bytes in flight / latency, arch.accelerator).
- Loads are issued as soon as a buffer slot is free, without waiting for the previous
  iteration's data (the memory keeps several requests in flight).
- Buffers: `slots` tiles per operand (at least 2, double buffering; as many tiles as the
  buffer holds, so a deep buffer prefetches further ahead and hides more latency). A
  tile keeps its slot from the start
  of its load until the last iteration that uses it has computed (outputs: until stored).
- PE array: one tile at a time, `tile_cycles` from the PE family's closed form.

A loop of up to FULL_SIM_ITERS iterations is simulated tile by tile. A longer one is
periodic, so we do not simulate every tile. Its outer loops (those outside the inner
"period" of at most max_iters iterations) pass through regimes: an index is the first,
the second, a middle or the last one of its loop (the first fills, the second follows the
fill, the last drains and may be an edge tile; a K index also decides partial-sum
traffic). Every period of one regime takes the same time in steady state, so the
estimate is
  total = (first periods, simulated exactly)
        + sum over regimes of (periods left in the regime) x (its period time)
        + drain of the last period,
where a regime's period time is measured by simulating a few periods of warm-up before a
real occurrence of it, averaged over whole cycles of consecutive periods (buffer slots
make period times cycle: _cycle_mean) and two neighbouring middle indices. The DRAM busy
time of all transfers (exact, from the caller) is a floor. When simulating every tile
costs no more than twice the windows, every tile is simulated. Checked against
simulating every tile in tests/sim/test_pipeline_fast.py (within 0.5% at the engine's
budget on loops of up to 60^3 tiles; at a 48-iteration budget one open memory-bound case
at 0.9%) and tests/sim/test_extrapolation.py.

Engines, cycle-equal (tests/sim/test_pipeline_fast.py): the simpy reference (`engine=
"simpy"`), the Python event loop (sim/pipeline_fast.py) and, for loops given in closed form
(`table`), the numba event loop (sim/pipeline_nb.py) once numba is loaded (NUMBA_*_ITERS).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from sim.pipeline_fast import run_tiles

# Loops of at least this many simulated iterations run on the numba engine
# (sim/pipeline_nb.py, cycle-equal) once numba is loaded; a loop of NUMBA_LOAD_ITERS or
# more loads it (its import and cache load, ~0.3 s, repay themselves there).
NUMBA_MIN_ITERS = 1
NUMBA_LOAD_ITERS = 16384
# The engine's budget (issue 14's 0.5% bound, tests/sim/test_pipeline_fast.py): every
# tile of a loop of up to FULL_SIM_ITERS iterations is simulated (~0.7 ms on the numba
# engine); longer loops are estimated by regimes whose period holds the inner loops whose
# whole trips fit MAX_ITERS iterations. Each regime representative measures SPAN_STEADY
# periods when their times are equal, else up to SPAN_CYCLE to average over whole cycles
# (buffer slots of 2..5 tiles per operand make period times cycle; 12 holds two cycles of
# up to 6). Chosen with benchmarks/pipeline_estimate.py (1,500 random loops of up to 80
# tiles per dim against simulating every tile, no DRAM floor): periods of up to 64
# iterations, no full simulation (the former budget; today's cycle averaging) are off on
# 193 loops by more than 0.5% (worst 5.7%); these settings on 1 (0.51%), simulating 8.9%
# of the iterations (6.3% before), at the same whole-model speed (benchmarks/speed.py);
# whole-model results moved by at most 3.8e-4. A window started from empty buffers can
# settle into another periodic orbit than the run (the residual cases).
MAX_ITERS = 512
FULL_SIM_ITERS = 4096
SPAN_STEADY = 4
SPAN_CYCLE = 12


@dataclass(frozen=True)
class PipelineResult:
    cycles: float
    simulated_iters: int
    total_iters: int


@dataclass(frozen=True)
class TileTable:
    """What the engine knows of a tile loop in closed form: tile sizes per index along m,
    k, n (only a dimension's last tile is short), the compute cycles of a tile shape, and
    bytes per element of A, B and partial sums loaded and of the output stored (final,
    partial). Gives the loop in closed form to the numba engine (`closed_form`: it builds
    the per-iteration arrays itself) and as the callables simulate_tiles takes
    (`tile_cycles`, `load_bytes`, `store_bytes`)."""

    sm: np.ndarray
    sk: np.ndarray
    sn: np.ndarray
    cycles: Callable[[int, int, int], float]
    a_bytes: float
    b_bytes: float
    p_bytes: float
    o_final_bytes: float
    o_partial_bytes: float

    # caches on the frozen record (cached_property writes the instance's __dict__)
    @cached_property
    def _lists(self) -> tuple[list[int], list[int], list[int]]:
        """The sizes as Python ints (the callables' fast path)."""
        return self.sm.tolist(), self.sk.tolist(), self.sn.tolist()

    # the loop as the callables simulate_tiles takes (the Python and simpy engines)
    def tile_cycles(self, im: int, ik: int, in_: int) -> float:
        sm, sk, sn = self._lists
        return self.cycles(sm[im], sk[ik], sn[in_])

    def load_bytes(self, x: str, im: int, ik: int, in_: int) -> float:
        sm, sk, sn = self._lists
        if x == "A":
            return sm[im] * sk[ik] * self.a_bytes
        if x == "B":
            return sk[ik] * sn[in_] * self.b_bytes
        return sm[im] * sn[in_] * self.p_bytes

    def store_bytes(self, im: int, ik: int, in_: int, final: bool) -> float:
        sm, _, sn = self._lists
        return sm[im] * sn[in_] * (self.o_final_bytes if final else self.o_partial_bytes)

    @cached_property
    def closed_form(self) -> tuple:
        """What run_window_nb builds the per-iteration arrays from: (sm, sk, sn, cycles of
        the 8 tile shapes indexed by (last m, last k, last n) bits, bytes per element of
        A, B, partial-sum loads and of final and partial stores). A dimension of one tile
        has one shape either way; each distinct shape is costed once."""
        sm, sk, sn = self._lists
        shapes = [
            (sm[-1 if c & 4 else 0], sk[-1 if c & 2 else 0], sn[-1 if c & 1 else 0])
            for c in range(8)
        ]
        cyc = {s: self.cycles(*s) for s in dict.fromkeys(shapes)}
        per_elem = np.array(
            [self.a_bytes, self.b_bytes, self.p_bytes, self.o_final_bytes, self.o_partial_bytes]
        )
        by_code = np.array([cyc[s] for s in shapes], dtype=float)
        return self.sm, self.sk, self.sn, by_code, per_elem


def _index_arrays(order: str, trips: dict[str, int], start: int, stop: int):
    """(im, ik, in) of iterations start..stop-1 of the loop nest (outer -> inner)."""
    g = np.arange(start, stop, dtype=np.int64)
    t1, t2 = trips[order[1]], trips[order[2]]
    named = {order[2]: g % t2, order[1]: (g // t2) % t1, order[0]: g // (t1 * t2)}
    return named["m"], named["k"], named["n"]


def _iterations(order: str, trips: dict[str, int], n: int):
    """First n (im, ik, in) index triples of the loop nest, outer -> inner."""
    dims = [trips[c] for c in order]
    idx = [0, 0, 0]
    for _ in range(n):
        named = dict(zip(order, idx))
        yield named["m"], named["k"], named["n"]
        for pos in (2, 1, 0):
            idx[pos] += 1
            if idx[pos] < dims[pos]:
                break
            idx[pos] = 0


def simulate_tiles(
    order: str,
    trips: dict[str, int],
    tile_cycles: Callable[[int, int, int], float],
    load_bytes: Callable[[str, int, int, int], float],
    store_bytes: Callable[[int, int, int, bool], float],
    dram_bytes_per_cycle: float,
    dram_latency: float,
    total_compute_cycles: float,
    total_dram_cycles: float,
    max_iters: int = MAX_ITERS,
    slots: dict[str, int] | None = None,
    engine: str = "fast",
    table: TileTable | None = None,
    full_iters: int = FULL_SIM_ITERS,
) -> PipelineResult:
    """Run the event model. With `table` (the same loop in closed form), long runs go to
    the numba engine (NUMBA_MIN_ITERS); results are the same. Every tile is simulated
    when the loop has at most max(max_iters, full_iters) iterations, else the regimes
    estimate it (module docstring); tests pass a small budget and full_iters=0 to
    exercise the estimate on small loops.

    tile_cycles(im, ik, in): compute cycles of that tile.
    load_bytes(operand, im, ik, in): bytes to bring operand "A" | "B" | "P" (partial sums
      read back) for that tile.
    store_bytes(im, ik, in, final): bytes written when output tile (im, in) leaves after
      iteration (.., ik, ..); final=True when ik is the last K tile.
    """
    total = trips["m"] * trips["k"] * trips["n"]
    nk = trips["k"]
    depth = {"A": 2, "B": 2, "O": 2} | (slots or {})
    run = run_tiles if engine == "fast" else _run_simpy
    loops = ["mkn".index(c) for c in order]
    nest = (*loops, trips[order[1]], trips[order[2]])  # run_window_nb's loop nest
    slots_axb = np.array([depth["A"], depth["B"], depth["O"]], dtype=np.int64)
    nb_args = (nk, float(dram_bytes_per_cycle), float(dram_latency), slots_axb)

    def sim(start: int, stop: int):
        """Iterations start..stop-1 of the loop."""
        if engine == "fast" and table is not None and _numba_ready(stop - start):
            from sim.pipeline_nb import run_window_nb

            return run_window_nb(*nest, start, stop, *table.closed_form, *nb_args)
        idx = _index_arrays(order, trips, start, stop)
        its = list(zip(*(a.tolist() for a in idx)))
        return run(
            its,
            nk,
            tile_cycles,
            load_bytes,
            store_bytes,
            dram_bytes_per_cycle,
            dram_latency,
            depth,
        )

    if total <= max(max_iters, full_iters):
        finish, _, _ = sim(0, total)
        return PipelineResult(finish, total, total)
    est, n_sim = _regimes(order, trips, max_iters, sim)
    return PipelineResult(max(est, total_dram_cycles), n_sim, total)


def _numba_ready(n_iters: int) -> bool:
    """Use the numba engine for n_iters simulated iterations? Once numba is loaded, for
    any loop of NUMBA_MIN_ITERS or more; a loop of NUMBA_LOAD_ITERS or more loads it."""
    if n_iters < NUMBA_MIN_ITERS:
        return False
    return n_iters >= NUMBA_LOAD_ITERS or "sim.pipeline_nb" in sys.modules


def _category(i: int, t: int) -> str:
    """Regime of an outer-loop index: the first, second and last iterations differ from
    the middle ones (first fills, second follows the fill, last drains / is an edge)."""
    if t == 1:
        return "one"
    if i == 0:
        return "first"
    if i == t - 1:
        return "last"
    return "second" if i == 1 and t > 3 else "mid"


def _categories(t: int) -> tuple[str, ...]:
    if t == 1:
        return ("one",)
    if t == 2:
        return ("first", "last")
    if t == 3:
        return ("first", "mid", "last")
    return ("first", "second", "mid", "last")


def _regimes(order: str, trips: dict[str, int], max_iters: int, sim) -> tuple[float, int]:
    """Steady state per regime of the outer loops (module docstring). Returns (estimated
    cycles, iterations simulated)."""
    # the period: the inner loops whose whole trips fit the budget (a short loop outside
    # the period would leave its regimes a period or two each to measure)
    n_in, P = 0, 1
    for c in reversed(order):
        if P * trips[c] > max_iters:
            break
        P *= trips[c]
        n_in += 1
    outer = order[: 3 - n_in]
    t_out = [trips[c] for c in outer]
    n_periods = 1
    for t in t_out:
        n_periods *= t
    warm = max(2, -(-24 // P))  # periods of warm-up before a measured period

    def outer_idx(p: int) -> list[int]:
        idx = []
        for t in reversed(t_out):
            idx.append(p % t)
            p //= t
        return idx[::-1]

    def flat(idx: list[int]) -> int:
        p = 0
        for i, t in zip(idx, t_out):
            p = p * t + i
        return p

    def klass(p: int) -> tuple[str, ...]:
        return tuple(_category(i, t) for i, t in zip(outer_idx(p), t_out))

    def window(p0: int, p1: int):
        # periods p0..p1 are iterations p0 P .. (p1 + 1) P - 1 of the whole loop
        return sim(p0 * P, (p1 + 1) * P), (p1 + 1 - p0) * P

    # the first periods exactly, then one measured period per regime
    head = min(warm, n_periods - 1)
    windows = 1  # measured periods: regimes x representatives, each with its warm-up
    for t in t_out:
        windows *= {1: 1, 2: 2, 3: 3, 4: 4}.get(t, 5 if t == 5 else 6)
    if (head + 1 + windows * (warm + 1)) * P >= n_periods * P / 2:
        finish, _, _ = sim(0, n_periods * P)
        return finish, n_periods * P  # simulating every tile costs no more than twice
    (finish, comp_end, _), n_sim = window(0, head)
    est = comp_end[-1]
    counts: dict[tuple, int] = {}
    cats = [_categories(t) for t in t_out]
    for combo in _product(cats):
        n = 1
        for cat, t in zip(combo, t_out):
            n *= {"one": 1, "first": 1, "second": 1, "last": 1}.get(cat, t - 2 - (t > 3))
        counts[combo] = n
    for p in range(head + 1):
        counts[klass(p)] -= 1
    tail = finish - comp_end[-1]
    for combo, n in counts.items():
        if n <= 0:
            continue
        # a middle regime may alternate between period times (buffer-slot parity along
        # any loop): average two neighbouring representatives per middle dimension
        reps = _representatives(combo, t_out, head, flat)
        t_sum = 0.0
        for p in reps:
            # the mean period time of the regime's periods ending at p: buffer slots may
            # make them cycle (e.g. heavy/light with 2 slots, a cycle of 3 with 3 slots):
            # up to SPAN_STEADY periods when those are equal, else up to SPAN_CYCLE,
            # averaged over whole cycles (_cycle_mean)
            for most in (SPAN_STEADY, SPAN_CYCLE):
                span = 1
                while span < most and p - span > head and klass(p - span) == combo:
                    span += 1
                lo = max(0, p - span + 1 - warm)
                (f, ce, _), k = window(lo, p)
                n_sim += k
                times = _period_times(ce, P, span)
                if max(times) - min(times) <= 1e-9 * max(times) or span < most:
                    break
            t_sum += _cycle_mean(times)
            if p == n_periods - 1:
                tail = f - ce[-1]
        est += n * t_sum / len(reps)
    return est + tail, n_sim


def _period_times(ce, P: int, span: int) -> list[float]:
    """Times of the last `span` periods of P iterations from a window's compute ends `ce`
    (most recent first; a window starting at iteration 0 starts at time 0)."""
    ends = [ce[-1 - j * P] for j in range(span)]
    ends.append(ce[-1 - span * P] if len(ce) > span * P else 0.0)
    return [ends[j] - ends[j + 1] for j in range(span)]


def _cycle_mean(times: list[float]) -> float:
    """Mean period time over whole cycles: the shortest cycle c (times[j] = times[j + c]
    wherever both were measured, to float rounding) that repeats at least twice, averaged
    over the most whole cycles measured; the plain mean when none repeats."""
    n = len(times)
    for c in range(1, n // 2 + 1):
        if all(abs(times[j] - times[j + c]) <= 1e-9 * abs(times[j]) for j in range(n - c)):
            whole = (n // c) * c
            return sum(times[:whole]) / whole
    return sum(times) / n


def _product(lists):
    if not lists:
        yield ()
        return
    for x in lists[0]:
        for rest in _product(lists[1:]):
            yield (x, *rest)


def _representatives(combo, t_out, head: int, flat) -> list[int]:
    """Periods of a regime after `head` to measure: one per combination of two
    neighbouring middle indices (t-2, t-3) per middle dimension; the last period when the
    regime is the final one (its window also gives the drain)."""
    choices = []
    for cat, t in zip(combo, t_out):
        mids = [i for i in (t - 2, t - 3) if i >= 2] if t > 3 else [1]
        choices.append({"one": [0], "first": [0], "second": [1], "last": [t - 1], "mid": mids}[cat])
    reps = sorted({p for p in (flat(list(idx)) for idx in _product(choices)) if p > head})
    return reps[::-1]


def _run_simpy(
    its, nk, tile_cycles, load_bytes, store_bytes, dram_bytes_per_cycle, dram_latency, depth
) -> tuple[float, list[float], list[float]]:
    """The reference: the same processes in simpy (see the module docstring); imported
    here, as only tests and `engine="simpy"` run it."""
    import simpy

    n_sim = len(its)
    env = simpy.Environment()
    dram = simpy.Resource(env, capacity=1)
    slots = {x: simpy.Resource(env, capacity=max(2, depth[x])) for x in ("A", "B", "O")}
    ready = [env.event() for _ in its]
    comp_end = [0.0] * n_sim
    busy = [0.0] * n_sim  # cumulative compute cycles up to and including iteration i
    done_store: list[simpy.Event] = []

    def transfer(nbytes: float):
        if nbytes <= 0:
            return
        with dram.request() as req:
            yield req
            yield env.timeout(nbytes / dram_bytes_per_cycle)
        yield env.timeout(dram_latency)

    def key(x: str, it: tuple[int, int, int]) -> tuple:
        im, ik, in_ = it
        return {"A": (im, ik), "B": (ik, in_), "O": (im, in_)}[x]

    # slot requests per operand tile, released by the compute process
    held: dict[tuple, simpy.resources.resource.Request] = {}

    def loader():
        prev = None
        for i, it in enumerate(its):
            waits = []
            for x in ("A", "B", "O"):
                if prev is not None and key(x, it) == key(x, prev):
                    continue
                req = slots[x].request()
                yield req
                held[(x, i)] = req
                if x == "O":
                    if it[1] > 0:  # revisit of a spilled output tile: read partial sums
                        waits.append(env.process(transfer(load_bytes("P", *it))))
                else:
                    waits.append(env.process(transfer(load_bytes(x, *it))))
            env.process(arrive(waits, ready[i]))  # the next loads issue at once
            prev = it

    def arrive(waits, ev):
        if waits:
            yield env.all_of(waits)
        ev.succeed()

    def store(req, nbytes: float):
        yield from transfer(nbytes)
        slots["O"].release(req)

    def compute():
        owner = {"A": 0, "B": 0, "O": 0}
        for i, it in enumerate(its):
            yield ready[i]
            for x in owner:
                if (x, i) in held:
                    owner[x] = i
            c = tile_cycles(*it)
            yield env.timeout(c)
            comp_end[i] = env.now
            busy[i] = c + (busy[i - 1] if i else 0.0)
            nxt = its[i + 1] if i + 1 < n_sim else None
            for x in ("A", "B"):
                if nxt is None or key(x, nxt) != key(x, it):
                    slots[x].release(held.pop((x, owner[x])))
            if nxt is None or key("O", nxt) != key("O", it):
                final = it[1] == nk - 1
                req = held.pop(("O", owner["O"]))
                done_store.append(env.process(store(req, store_bytes(*it, final))))

    env.process(loader())
    proc = env.process(compute())
    env.run(until=proc)
    if done_store:
        env.run(until=env.all_of(done_store))
    return env.now, comp_end, busy
