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

The tile loop is periodic, so we do not simulate every tile: when there are more than
`max_iters` iterations we simulate a whole number of periods (P = trips of the inner loops
that fit, >= 3 periods) and measure how long the array stalls for data per iteration in
steady state (after the first period). The total is then
  total = max(exact compute cycles of all tiles + stalls of the simulated part
                + steady stall rate x remaining iterations + final drain,
              exact DRAM busy cycles of all transfers)
(exact when T <= max_iters). The exact totals come from the caller, so edge tiles of
outer loops are never mis-weighted, and cost is independent of the number of tiles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import simpy

from sim.pipeline_fast import run_tiles


@dataclass(frozen=True)
class PipelineResult:
    cycles: float
    simulated_iters: int
    total_iters: int


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
    max_iters: int = 192,
    slots: dict[str, int] | None = None,
    engine: str = "fast",
) -> PipelineResult:
    """Run the event model.

    tile_cycles(im, ik, in): compute cycles of that tile.
    load_bytes(operand, im, ik, in): bytes to bring operand "A" | "B" | "P" (partial sums
      read back) for that tile.
    store_bytes(im, ik, in, final): bytes written when output tile (im, in) leaves after
      iteration (.., ik, ..); final=True when ik is the last K tile.
    """
    total = trips["m"] * trips["k"] * trips["n"]
    period = 1
    for c in reversed(order):  # inner loops whose whole periods fit 3x in the budget
        if period * trips[c] * 3 > max_iters:
            break
        period *= trips[c]
    n_sim = total if total <= max_iters else period * max(3, max_iters // period)
    its = list(_iterations(order, trips, n_sim))
    nk = trips["k"]
    depth = {"A": 2, "B": 2, "O": 2} | (slots or {})
    if engine == "fast":
        finish, comp_end, busy = run_tiles(
            its,
            nk,
            tile_cycles,
            load_bytes,
            store_bytes,
            dram_bytes_per_cycle,
            dram_latency,
            depth,
        )
    else:
        finish, comp_end, busy = _run_simpy(
            its,
            nk,
            tile_cycles,
            load_bytes,
            store_bytes,
            dram_bytes_per_cycle,
            dram_latency,
            depth,
        )
    if n_sim == total:
        return PipelineResult(finish, n_sim, total)
    last = comp_end[n_sim - 1]
    stalls_all = last - busy[n_sim - 1]
    stalls_warm = comp_end[period - 1] - busy[period - 1]
    rate = (stalls_all - stalls_warm) / (n_sim - period)
    est = total_compute_cycles + stalls_all + rate * (total - n_sim) + (finish - last)
    return PipelineResult(max(est, total_dram_cycles), n_sim, total)


def _run_simpy(
    its, nk, tile_cycles, load_bytes, store_bytes, dram_bytes_per_cycle, dram_latency, depth
) -> tuple[float, list[float], list[float]]:
    """The reference: the same processes in simpy (see the module docstring)."""
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
