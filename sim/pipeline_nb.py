"""The tile-loop event model of sim/pipeline_fast.py compiled with numba, for long loops.

The same processes, events and tie order (a binary heap on arrays of (time, sequence,
kind, iteration, cycles) entries, each pushed where the Python engine pushes its
callback), on arrays
prepared by sim/pipeline.py: per iteration its tile indices, compute cycles, the bytes of
each operand load, and the bytes of its output store (final or partial). Cycle-equal to
the Python engine and so to the simpy reference (tests/sim/test_pipeline_fast.py);
imported only when a loop is long enough to repay numba's import and cache load.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# event kinds
_LEAVE, _ARRIVED, _STORED, _RESUME, _COMPUTED = 0, 1, 2, 3, 4
# integer state slots
_SEQ, _QHEAD, _QTAIL, _BUSY, _WAIT, _POSI, _POSJ, _CI = 0, 1, 2, 3, 4, 5, 6, 7
_FREE, _WAITER = 8, 11  # three slots each: A, B, O
_HSIZE, _HSEQ = 14, 15  # entries in the event heap; slots in all
# float state slots
_NOW, _FINISH = 0, 1


@njit(cache=True)
def run_tiles_nb(im, ik, inn, cyc, la, lb, lp, store_final, store_partial, nk, bpc, lat, depth):
    """(finish, compute end per iteration, cumulative compute per iteration); depth =
    buffer slots of A, B, O (each at least 2). The processes are closures over the state
    arrays (numba inlines them: calls between separately compiled functions, each passing
    a dozen arrays, cost more than the events themselves)."""
    n = im.size
    # events in all: per iteration at most 3 loads and a store (2 events each), its
    # compute, and 3 slot hand-overs
    cap = 12 * n + 16
    heap = np.zeros((cap + 1, 4))  # the data of event e in row e: time, kind, i, cycles
    order = np.zeros(cap, dtype=np.int64)  # the binary heap of event numbers
    ist = np.zeros(_HSEQ, dtype=np.int64)
    ist[_WAIT] = -1
    for x in range(3):
        ist[_FREE + x] = max(2, depth[x])
    fst = np.zeros(2)
    qcap = 4 * n + 4  # transfers: at most A, B, partial sums and a store per iteration
    qb = np.zeros(qcap)
    qd = np.zeros(qcap, dtype=np.int64)
    pending = np.zeros(n, dtype=np.int64)
    ready = np.zeros(n, dtype=np.bool_)
    comp_end = np.zeros(n)
    busy = np.zeros(n)

    def push(t, kind, i, c):
        """Binary min-heap ordered by (time, event number = push sequence)."""
        ist[_SEQ] += 1
        e = ist[_SEQ]
        heap[e, 0] = t
        heap[e, 1] = kind
        heap[e, 2] = i
        heap[e, 3] = c
        pos = ist[_HSIZE]
        ist[_HSIZE] = pos + 1
        while pos > 0:
            parent = (pos - 1) // 2
            q = order[parent]
            if heap[q, 0] < t or (heap[q, 0] == t and q < e):
                break
            order[pos] = q
            pos = parent
        order[pos] = e

    def pop():
        e = order[0]
        last = ist[_HSIZE] - 1
        ist[_HSIZE] = last
        if last > 0:
            x = order[last]
            tx = heap[x, 0]
            pos = 0
            while True:
                child = 2 * pos + 1
                if child >= last:
                    break
                q = order[child]
                if child + 1 < last:
                    r = order[child + 1]
                    if heap[r, 0] < heap[q, 0] or (heap[r, 0] == heap[q, 0] and r < q):
                        child = child + 1
                        q = r
                if tx < heap[q, 0] or (tx == heap[q, 0] and x < q):
                    break
                order[pos] = q
                pos = child
            order[pos] = x
        return e

    def start():
        h = ist[_QHEAD]
        ist[_QHEAD] = h + 1
        ist[_BUSY] = 1
        push(fst[_NOW] + qb[h] / bpc, _LEAVE, qd[h], 0.0)

    def compute():
        i = ist[_CI]
        if i >= n:
            return
        if not ready[i]:
            ist[_WAIT] = i
            return
        push(fst[_NOW] + cyc[i], _COMPUTED, i, cyc[i])

    def arrived(i):
        pending[i] -= 1
        if pending[i] == 0:
            ready[i] = True
            if ist[_WAIT] == i:
                ist[_WAIT] = -1
                compute()

    def release(x):
        if ist[_WAITER + x]:
            ist[_WAITER + x] = 0
            push(fst[_NOW], _RESUME, 0, 0.0)
        else:
            ist[_FREE + x] += 1

    def transfer(nbytes, done):
        """done >= 0: iteration `done` waits for this load; -1: an output store."""
        if nbytes <= 0:
            if done >= 0:
                arrived(done)
            else:
                fst[_FINISH] = max(fst[_FINISH], fst[_NOW])
                release(2)
            return
        t = ist[_QTAIL]
        qb[t] = nbytes
        qd[t] = done
        ist[_QTAIL] = t + 1
        if ist[_BUSY] == 0:
            start()

    def issue(x, i):
        if x == 2:
            if ik[i] > 0:
                pending[i] += 1
                transfer(lp[i], i)
        else:
            pending[i] += 1
            transfer(la[i] if x == 0 else lb[i], i)

    def same(x, i):
        """Does iteration i keep operand x's tile of iteration i - 1?"""
        if x == 0:
            return im[i] == im[i - 1] and ik[i] == ik[i - 1]
        if x == 1:
            return ik[i] == ik[i - 1] and inn[i] == inn[i - 1]
        return im[i] == im[i - 1] and inn[i] == inn[i - 1]

    def loader():
        i = ist[_POSI]
        j = ist[_POSJ]
        while i < n:
            if j == 0:
                pending[i] = 1  # the issue itself; dropped after the last operand
            blocked = False
            while j < 3:
                x = j
                j += 1
                if i > 0 and same(x, i):
                    continue
                if ist[_FREE + x] == 0:  # wait for the slot; resume with this operand
                    ist[_POSI] = i
                    ist[_POSJ] = j - 1
                    ist[_WAITER + x] = 1
                    blocked = True
                    break
                ist[_FREE + x] -= 1
                issue(x, i)
            if blocked:
                return
            i += 1
            j = 0
            arrived(i - 1)
        ist[_POSI] = i
        ist[_POSJ] = j

    loader()
    compute()
    while ist[_HSIZE] > 0:
        e = pop()
        t = heap[e, 0]
        kind = int(heap[e, 1])
        i = int(heap[e, 2])
        fst[_NOW] = t
        if kind == _LEAVE:
            ist[_BUSY] = 0
            if i >= 0:
                push(t + lat, _ARRIVED, i, 0.0)
            else:
                push(t + lat, _STORED, -1, 0.0)
            if ist[_QHEAD] < ist[_QTAIL]:
                start()
        elif kind == _ARRIVED:
            arrived(i)
        elif kind == _STORED:
            fst[_FINISH] = max(fst[_FINISH], t)
            release(2)
        elif kind == _RESUME:
            pi = ist[_POSI]
            pj = ist[_POSJ]
            issue(pj, pi)  # the slot was handed over by release
            ist[_POSJ] = pj + 1
            loader()
        else:  # _COMPUTED
            c = heap[e, 3]
            comp_end[i] = t
            busy[i] = c + (busy[i - 1] if i > 0 else 0.0)
            fst[_FINISH] = max(fst[_FINISH], t)
            last = i + 1 >= n
            for x in range(2):
                if last or not same(x, i + 1):
                    release(x)
            if last or not same(2, i + 1):
                transfer(store_final[i] if ik[i] == nk - 1 else store_partial[i], -1)
            ist[_CI] = i + 1
            compute()
    return fst[_FINISH], comp_end, busy


@njit(cache=True)
def run_window_nb(
    outer, mid, inner, t1, t2, start, stop, sm, sk, sn, shape_cyc, per_elem, nk, bpc, lat, depth
):
    """run_tiles_nb on iterations start..stop-1 of a loop nest given in closed form, its
    arrays built here with the integer and float operations of sim/pipeline.py
    (`_index_arrays` and TileTable's callables): loops outer, mid, inner (0 m, 1 k,
    2 n) with trips t1 (mid) and t2 (inner); tile sizes per index sm, sk, sn; cycles of
    the 8 tile shapes (bits: last m 4, last k 2, last n 1); bytes per element of A, B,
    partial sums loaded, and of final and partial stores (per_elem)."""
    n = stop - start
    idx = np.empty((3, n), dtype=np.int64)
    for j in range(n):
        g = start + j
        idx[inner, j] = g % t2
        idx[mid, j] = (g // t2) % t1
        idx[outer, j] = g // (t1 * t2)
    im, ik, inn = idx[0], idx[1], idx[2]
    cyc = np.empty(n)
    la = np.empty(n)
    lb = np.empty(n)
    lp = np.empty(n)
    sf = np.empty(n)
    sp = np.empty(n)
    lm, lk, ln = sm.size - 1, sk.size - 1, sn.size - 1
    for j in range(n):
        m, k, nn = sm[im[j]], sk[ik[j]], sn[inn[j]]
        code = (im[j] == lm) * 4 + (ik[j] == lk) * 2 + (inn[j] == ln)
        cyc[j] = shape_cyc[code]
        la[j] = m * k * per_elem[0]
        lb[j] = k * nn * per_elem[1]
        mn = m * nn
        lp[j] = mn * per_elem[2]
        sf[j] = mn * per_elem[3]
        sp[j] = mn * per_elem[4]
    return run_tiles_nb(im, ik, inn, cyc, la, lb, lp, sf, sp, nk, bpc, lat, depth)
