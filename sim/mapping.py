"""Mapping search: tile sizes and loop order for one GEMM op, scored together with numpy.

A mapping splits an (M x K) @ (K x N) op into tiles (tm, tk, tn) — multiples of the PE
family's tile quantum — and orders the three tile loops (outer -> inner, e.g. "nkm").
Double-buffered tiles must fit their buffers: 2*tm*tk*a_bytes <= input buffer,
2*tk*tn*b_bytes <= weight buffer, 2*tm*tn*acc_bytes <= output buffer.

DRAM traffic of an operand = its size x the trip count of the loop it does not depend
on when that loop runs outside a relevant loop of more than one trip (a tile is reused
only while consecutive iterations keep its indices). The output is written once in its stored
format; when the K loop is not innermost among its loops, partial sums are spilled and
re-read at accumulator width: (r - 1) extra writes and reads, r = that refetch factor.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache
from math import ceil

import numpy as np

ORDERS = tuple("".join(p) for p in itertools.permutations("mkn"))
_RELEVANT = {"A": "mk", "B": "kn", "O": "mn"}


@dataclass(frozen=True)
class Mapping:
    """Tile sizes (elements), loop order (outer->inner) and its DRAM traffic (bytes)."""

    tm: int
    tk: int
    tn: int
    order: str
    a_bytes: float
    b_bytes: float
    o_bytes: float

    @property
    def dram_bytes(self) -> float:
        return self.a_bytes + self.b_bytes + self.o_bytes

    def trips(self, M: int, K: int, N: int) -> dict[str, int]:
        return {"m": ceil(M / self.tm), "k": ceil(K / self.tk), "n": ceil(N / self.tn)}

    def describe(self) -> str:
        return f"{self.tm}x{self.tk}x{self.tn}/{self.order}"


@lru_cache(maxsize=4096)
def tile_choices(dim: int, quantum: int, max_choices: int = 10) -> np.ndarray:
    """Candidate tile sizes along one dim: multiples of `quantum`, log-spaced, incl. full.
    Memoized (a pure function; callers must not modify the array)."""
    full = ceil(dim / quantum) * quantum
    units = full // quantum
    steps = {1, units}
    u = 1
    while u < units:
        steps.add(u)
        u *= 2
    for parts in range(2, 9):  # even splits keep edge tiles from being tiny
        steps.add(ceil(units / parts))
    vals = np.array(sorted(steps), dtype=np.int64) * quantum
    if len(vals) > max_choices:
        idx = np.unique(np.round(np.geomspace(1, len(vals), max_choices)).astype(int) - 1)
        vals = vals[idx]
    return vals


@lru_cache(maxsize=4096)
def exact_choices(dim: int, quanta: tuple[int, ...]) -> np.ndarray:
    """Tile sizes along one dim for the exact mapper (Coster(exact=True)): the union over
    `quanta` (exact_quanta: every quantum a part of the array runs) of tile_choices, each
    clamped to the dim (a tile never holds more than the dim: its buffer space and slots
    count what it holds). A function of the dim and of the set of quanta only, so an
    array whose quanta hold a smaller one's (twice the rows, columns or lanes) has all
    of its tile choices. Memoized (callers must not modify the array)."""
    got = np.concatenate([tile_choices(dim, q) for q in quanta])
    return np.unique(np.minimum(got, dim))


def exact_quanta(quantum: tuple[int, int, int], finest: tuple[int, int, int]) -> tuple:
    """Per dim, the quanta the exact mapper's tile choices are multiples of: the array's
    quantum halved while even (one fold of each power-of-two part: an array of twice the
    rows, columns or lanes has all of these and its own) and the finest one a part runs
    (TileModel.finest_quantum). On an array whose size is not a power of two (80
    columns), tiles of whole folds (80, 160, ...) stay choices."""
    out = []
    for q, f in zip(quantum, finest):
        qs = {q, f}
        while q % 2 == 0:
            q //= 2
            qs.add(q)
        out.append(tuple(sorted(qs)))
    return tuple(out)


def _refetch_plan(operand: str) -> tuple[int, np.ndarray]:
    """(the one loop the operand does not depend on, (ORDERS x 3) int mask of the
    relevant loops that run inside it under each order), loops indexed m, k, n."""
    rel = _RELEVANT[operand]
    (other,) = (c for c in "mkn" if c not in rel)
    inside = np.zeros((len(ORDERS), 3), dtype=np.int64)
    for o, order in enumerate(ORDERS):
        for r in rel:
            if order.index(r) > order.index(other):
                inside[o, "mkn".index(r)] = 1
    return "mkn".index(other), inside


_PLANS = {x: _refetch_plan(x) for x in _RELEVANT}


def refetch_all(trips: np.ndarray, operand: str) -> np.ndarray:
    """How many times an operand is read from DRAM in full under each loop order: an
    (ORDERS x C) array from the trip counts `trips` (3 x C: m, k, n). The loop the operand
    does not depend on multiplies its reads when it runs outside a relevant loop of more
    than one trip (a tile is reused only while consecutive iterations keep its indices:
    a relevant loop of one trip never changes them, as the event model sees)."""
    other, inside = _PLANS[operand]
    moves = inside @ (trips > 1).astype(np.int64) > 0  # ORDERS x C
    return np.where(moves, trips[other][None, :], 1)


@dataclass(frozen=True)
class Candidates:
    """Feasible tiles (arrays of length C) and DRAM bytes per order (arrays ORDERS x C)."""

    tm: np.ndarray
    tk: np.ndarray
    tn: np.ndarray
    a_bytes: np.ndarray
    b_bytes: np.ndarray
    o_bytes: np.ndarray

    def mapping(self, order_idx: int, i: int) -> Mapping:
        return Mapping(
            int(self.tm[i]),
            int(self.tk[i]),
            int(self.tn[i]),
            ORDERS[order_idx],
            float(self.a_bytes[order_idx, i]),
            float(self.b_bytes[order_idx, i]),
            float(self.o_bytes[order_idx, i]),
        )


@lru_cache(maxsize=8192)
def candidates(
    M: int,
    K: int,
    N: int,
    quantum: tuple[int, int, int],
    a_bytes: float,
    b_bytes: float,
    o_bytes: float,
    acc_bytes: float,
    caps_bytes: tuple[float, float, float],
    a_dram: float | None = None,
    o_dram: float | None = None,
    fine: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]] | None = None,
) -> Candidates | None:
    """Every feasible tile with its DRAM traffic under each order; caps = (input, weight,
    output) buffer bytes. None if no tile fits. a_dram / o_dram: bytes per element that
    the A operand / final output move to or from DRAM (default a_bytes / o_bytes; 0 when
    a fused producer/consumer keeps them on chip, e.g. attention scores). A pure function
    of its arguments, memoized: the same op on another DRAM or clock of a sweep maps over
    the same tiles (callers must not modify the arrays). fine: the exact mapper's tile
    choices instead of tile_choices: per dim, exact_choices over these quanta
    (exact_quanta)."""
    a_dram = a_bytes if a_dram is None else a_dram
    o_dram = o_bytes if o_dram is None else o_dram
    qm, qk, qn = quantum
    if fine is None:
        dims = tile_choices(M, qm), tile_choices(K, qk), tile_choices(N, qn)
    else:
        dims = tuple(exact_choices(D, fs) for D, fs in zip((M, K, N), fine))
    tm, tk, tn = np.meshgrid(*dims, indexing="ij")
    tm, tk, tn = tm.ravel(), tk.ravel(), tn.ravel()
    cap_in, cap_w, cap_out = caps_bytes
    ok = (
        (2 * tm * tk * a_bytes <= cap_in)
        & (2 * tk * tn * b_bytes <= cap_w)
        & (2 * tm * tn * acc_bytes <= cap_out)
    )
    tm, tk, tn = tm[ok], tk[ok], tn[ok]
    if tm.size == 0:
        return None
    trips = np.stack([-(-M // tm), -(-K // tk), -(-N // tn)])
    ra, rb, ro = (refetch_all(trips, x) for x in "ABO")
    return Candidates(
        tm,
        tk,
        tn,
        a_bytes=M * K * a_dram * ra,
        b_bytes=K * N * b_bytes * rb,
        o_bytes=M * N * o_dram + (ro - 1) * M * N * acc_bytes * 2,
    )


def tile_shapes(
    M: int, K: int, N: int, tm: int, tk: int, tn: int
) -> list[tuple[int, int, int, int]]:
    """Distinct tile shapes of a mapping with how many tiles have each: (m, k, n, count)."""

    def parts(dim: int, t: int) -> list[tuple[int, int]]:
        full, rem = divmod(dim, t)
        return [(t, full)] + ([(rem, 1)] if rem else [])

    return [
        (m, k, n, cm * ck * cn)
        for (m, cm), (k, ck), (n, cn) in itertools.product(parts(M, tm), parts(K, tk), parts(N, tn))
        if cm and ck and cn
    ]
