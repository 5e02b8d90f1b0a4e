"""The tile-loop event model of sim/pipeline.py without simpy: the same processes
(sequential loader that blocks on buffer slots, FIFO DRAM channel whose transfers pay
`latency` after leaving the channel, in-order compute, stores that free their output slot
when written), run as plain callbacks on one heap. It exists for speed (sweeps evaluate
thousands of configurations); sim/pipeline.py's simpy model stays the reference and
tests/sim/test_pipeline_fast.py checks the two agree on random loops.

Returns (finish time, compute end per iteration, cumulative compute per iteration).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable


def run_tiles(
    its: list[tuple[int, int, int]],
    nk: int,
    tile_cycles: Callable[[int, int, int], float],
    load_bytes: Callable[[str, int, int, int], float],
    store_bytes: Callable[[int, int, int, bool], float],
    bytes_per_cycle: float,
    latency: float,
    depth: dict[str, int],
) -> tuple[float, list[float], list[float]]:
    n = len(its)
    heap: list = []
    seq = [0]
    now = [0.0]

    def at(t: float, fn, *args) -> None:
        seq[0] += 1
        heapq.heappush(heap, (t, seq[0], fn, args))

    # --- DRAM channel (FIFO, one transfer at a time) -------------------------------
    chan_q: deque = deque()
    chan_busy = [False]

    def transfer(nbytes: float, done) -> None:
        if nbytes <= 0:
            done()
            return
        chan_q.append((nbytes, done))
        if not chan_busy[0]:
            _start()

    def _start() -> None:
        nbytes, done = chan_q.popleft()
        chan_busy[0] = True
        at(now[0] + nbytes / bytes_per_cycle, _leave, done)

    def _leave(done) -> None:
        chan_busy[0] = False
        at(now[0] + latency, done)
        if chan_q:
            _start()

    # --- buffer slots (only the loader acquires them: at most one waiter) -----------
    free = {x: max(2, depth.get(x, 2)) for x in ("A", "B", "O")}
    waiter: dict[str, object] = {"A": None, "B": None, "O": None}

    def release(x: str) -> None:
        cont = waiter[x]
        if cont is not None:
            waiter[x] = None
            at(now[0], cont)
        else:
            free[x] += 1

    # --- loader: issues each iteration's new operand tiles in order -----------------
    ready_at = [None] * n
    pending = [0] * n
    comp_wait = [None]  # compute's continuation when it waits for ready[i]
    pos = [0, 0]  # (iteration, operand index) the loader is at

    def arrived(i: int) -> None:
        pending[i] -= 1
        if pending[i] == 0:
            ready_at[i] = now[0]
            if comp_wait[0] == i:
                comp_wait[0] = None
                compute()

    def loader() -> None:
        i, j = pos
        while i < n:
            it = its[i]
            im, ik, in_ = it
            if j == 0:
                pending[i] = 1  # the issue itself; dropped after the last operand
            prev = its[i - 1] if i else None
            while j < 3:
                x = "ABO"[j]
                j += 1
                if prev is not None:
                    pm, pk, pn = prev
                    if (
                        (x == "A" and pm == im and pk == ik)
                        or (x == "B" and pk == ik and pn == in_)
                        or (x == "O" and pm == im and pn == in_)
                    ):
                        continue
                if free[x] == 0:  # wait for the slot; resume with this operand
                    pos[0], pos[1] = i, j - 1
                    waiter[x] = _resume
                    return
                free[x] -= 1
                _issue(x, i, it)
            i, j = i + 1, 0
            arrived(i - 1)
        pos[0], pos[1] = i, j

    def _resume() -> None:
        i, j = pos
        x = "ABO"[j]
        _issue(x, i, its[i])  # the slot was handed over by release()
        pos[1] = j + 1
        loader()

    def _issue(x: str, i: int, it) -> None:
        if x == "O":
            if it[1] > 0:
                pending[i] += 1
                transfer(load_bytes("P", *it), lambda: arrived(i))
        else:
            pending[i] += 1
            transfer(load_bytes(x, *it), lambda: arrived(i))

    def key(x: str, it) -> tuple:
        im, ik, in_ = it
        return (im, ik) if x == "A" else (ik, in_) if x == "B" else (im, in_)

    # --- compute --------------------------------------------------------------------
    comp_end = [0.0] * n
    busy = [0.0] * n
    stores = [0]
    finish = [0.0]
    cstate = {"i": 0}

    def compute() -> None:
        i = cstate["i"]
        if i >= n:
            return
        if ready_at[i] is None:
            comp_wait[0] = i
            return
        c = tile_cycles(*its[i])
        at(now[0] + c, _computed, i, c)

    def _computed(i: int, c: float) -> None:
        comp_end[i] = now[0]
        busy[i] = c + (busy[i - 1] if i else 0.0)
        finish[0] = max(finish[0], now[0])
        it = its[i]
        nxt = its[i + 1] if i + 1 < n else None
        for x in ("A", "B"):
            if nxt is None or key(x, nxt) != key(x, it):
                release(x)
        if nxt is None or key("O", nxt) != key("O", it):
            stores[0] += 1
            transfer(store_bytes(*it, it[1] == nk - 1), _stored)
        cstate["i"] = i + 1
        compute()

    def _stored() -> None:
        finish[0] = max(finish[0], now[0])
        release("O")

    loader()
    compute()
    while heap:
        t, _, fn, args = heapq.heappop(heap)
        now[0] = t
        fn(*args)
    return finish[0], comp_end, busy
