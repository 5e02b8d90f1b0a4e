"""The engine: cost every op on an accelerator, memoized by signature.

Stages (each a plain function): map (sim.mapping: every candidate tiling, screened at
once by the family's vectorized tile cycles where it has them) -> cost tiles (the PE
family) -> pipeline (sim.pipeline's event model, on its Python or numba engine) ->
collect (sim.result). The engine knows no family's arithmetic; it asks `accel.pe` for
tile costs and adds buffers, DRAM, overlap and energy.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from math import ceil

import numpy as np

from arch.accelerator import Accelerator
from arch.pe import OpCost, OpModel, Tile, TileCost, TileModel
from arch.vector import VectorModel, cost_vector
from common.errors import InputError
from quant.info import FormatInfo, format_info
from sim.mapping import ORDERS, Mapping, candidates, exact_quanta, tile_shapes
from sim.pipeline import TileTable, simulate_tiles
from workloads.ops import Op


@dataclass(frozen=True)
class OpCostRecord:
    """Cost of ONE execution of an op. cycles in arch clock cycles; energy in pJ."""

    cycles: float
    compute_cycles: float
    dram_bytes: float
    compute_pj: float
    sram_pj: float
    dram_pj: float
    macs: int
    bound: str  # "compute" | "memory" | "overhead"
    mapping: str = ""


def _fmt(name: str, op: Op, role: str) -> FormatInfo:
    return format_info(name, source=f"op {op.name} ({op.phase}) {role}")


_NO_KEYS, _NO_CYCLES = np.empty(0, dtype=np.int64), np.empty(0)
# up to this many views (an output-stationary array's row parts: log2(rows) + 1) a
# family's vectorized tile cycles are cheaper to compute for every shape than to look up
FEW_VIEWS = 8


class TileMemo:
    """Tile costs and per-candidate compute cycles shared by the accelerators of a sweep
    that differ only where these cannot change: the DRAM (bandwidth, latency, capacity,
    requests in flight), the clock, the name. A tile's cost and a tiling's compute cycles
    depend on the PE array, the buffers (what they deliver per cycle), the technology and
    the op's formats and statistics, all in the key (the config without those fields).
    Holds the memos of the last `max_archs` such keys."""

    def __init__(self, max_archs: int = 16) -> None:
        self.max_archs = max_archs
        self._by_key: dict[str, tuple[dict, dict]] = {}

    def for_accel(self, accel: Accelerator, exact: bool = False) -> tuple[dict, dict]:
        """(tile costs, candidate compute) memos for this accelerator's key and mapper
        (the mappers may run a tile on other parts of the array: sub_arrays(exact))."""
        cfg = accel.config.model_dump(
            mode="json", exclude={"name", "description", "source", "frequency_mhz"}
        )
        cfg["memory"].pop("dram", None)
        key = repr(sorted(cfg.items())) + accel.pe.__class__.__name__ + f" exact={exact}"
        memo = self._by_key.pop(key, None) or ({}, {})
        self._by_key[key] = memo  # most recent last
        while len(self._by_key) > self.max_archs:
            self._by_key.pop(next(iter(self._by_key)))
        return memo


class Coster:
    """Costs ops on one accelerator, memoizing ops by signature and tiles by shape.
    Keep one per accelerator for a whole run or sweep; it holds no other state. With a
    TileMemo, tile costs and tilings' compute cycles are shared with the other
    accelerators of a sweep that differ only in DRAM or clock. exact=True: every GEMM's
    mapping is the exact least-cycles one over nested tile choices (_cost_gemm), at a
    cost in speed."""

    def __init__(
        self, accel: Accelerator, shared: TileMemo | None = None, exact: bool = False
    ) -> None:
        self.accel = accel
        self.exact = exact  # the exact mapper (_cost_gemm); default: the screened one
        self._ops: dict[tuple, OpCostRecord] = {}
        self._tiles: dict[tuple, TileCost]
        self._tilings: dict[tuple, np.ndarray]
        self._tiles, self._tilings = shared.for_accel(accel, exact) if shared else ({}, {})
        self._vector: VectorModel | None = None
        self._views: tuple | None = None  # the PE array's usable parts (TileModel)
        self._quanta: dict[tuple, tuple] = {}

    def op(self, op: Op) -> OpCostRecord:
        """Cost of one execution of `op`."""
        sig = op.signature()
        rec = self._ops.get(sig)
        if rec is None:
            rec = self._ops[sig] = self._compute(op)
        return rec

    def tile(self, m: int, k: int, n: int, a: FormatInfo, b: FormatInfo, op: Op) -> TileCost:
        key = (m, k, n, a.name, b.name, op.kind, op.stats)
        tc = self._tiles.get(key)
        if tc is None:
            # the fastest part of the array (TileModel.sub_arrays, full array first: a
            # tie keeps the earliest), each view's cycles limited by the buffers
            tile = Tile(m, k, n, a, b, op.kind, dict(op.stats))
            views = self.views()
            if len(views) > 1 and self._vectorized():  # all views' cycles in one call
                one = np.array([[m]]), np.array([[k]]), np.array([[n]])
                got = self.accel.pe.tile_cycles_array(*one, a, b, tile.stats, views)
                best = views[int(np.argmin(self._limited(got)[:, 0]))]  # first fastest
                self._tiles[key] = tc = buffer_limited(self.accel, best.tile_cost(tile))
                return tc
            tc = buffer_limited(self.accel, views[0].tile_cost(tile))
            macs = m * k * n
            for v in views[1:]:
                # a part cannot beat its own roofline: skip it unless it could be faster
                if macs / v.peak_macs_per_cycle(a, b) >= tc.cycles:
                    continue
                c = buffer_limited(self.accel, v.tile_cost(tile))
                if c.cycles < tc.cycles:
                    tc = c
            self._tiles[key] = tc
        return tc

    def _vectorized(self) -> bool:
        """Does the family provide TileModel.tile_cycles_array?"""
        return type(self.accel.pe).tile_cycles_array is not TileModel.tile_cycles_array

    def exact_quanta(self, a: FormatInfo, b: FormatInfo) -> tuple:
        """The exact mapper's quanta per dim (sim.mapping.exact_quanta), once per formats."""
        key = ("quanta", a.name, b.name)
        got = self._quanta.get(key)
        if got is None:
            pe = self.accel.pe
            got = self._quanta[key] = exact_quanta(pe.tile_quantum(a, b), pe.finest_quantum(a, b))
        return got

    def views(self) -> tuple:
        """The PE array's usable parts (TileModel.sub_arrays), built once."""
        if self._views is None:
            self._views = self.accel.pe.sub_arrays(exact=self.exact)
        return self._views

    def candidate_compute(self, M: int, K: int, N: int, cands, a, b, op: Op) -> np.ndarray:
        """Compute cycles of every candidate tiling (arrays tm, tk, tn): for each, the sum
        over its tile shapes of cycles x count, as `sum(self.tile(...).cycles * count for
        tile_shapes(...))` gives it, with the same shapes, order and buffer limits, and the
        fastest view per tile; vectorized when the family has `tile_cycles_array`.
        Memoized per op shape and formats (the candidates are a function of those and of
        the PE array and buffers)."""
        got = self._tilings.get(self._key(M, K, N, a, b, op))
        if got is None:
            got = self._candidate_compute(M, K, N, cands, a, b, op)
            self._tilings[self._key(M, K, N, a, b, op)] = got
        return got

    def _key(self, M: int, K: int, N: int, a, b, op: Op, what: str = "sum") -> tuple:
        """Memo key of a tiling quantity (the exact mapper's candidates differ)."""
        return (what, self.exact, M, K, N, a.name, b.name, op.kind, op.stats)

    def last_tile_cycles(self, M: int, K: int, N: int, cands, a, b, op: Op) -> np.ndarray:
        """Cycles of each candidate's last tile (its edge sizes along m, k and n), as
        Coster.tile gives them; computed with candidate_compute."""
        self.candidate_compute(M, K, N, cands, a, b, op)
        return self._tilings[self._key(M, K, N, a, b, op, "last")]

    def _candidate_compute(self, M: int, K: int, N: int, cands, a, b, op: Op) -> np.ndarray:
        tm, tk, tn = cands.tm, cands.tk, cands.tn
        C = tm.size
        # per dimension (m, k, n): size and count of the full tiles [0] and the edge tile [1]
        size = np.empty((3, 2, C), dtype=np.int64)
        count = np.empty((3, 2, C), dtype=np.int64)
        for d, (dim, t) in enumerate(((M, tm), (K, tk), (N, tn))):
            rem = dim % t
            size[d, 0], count[d, 0] = t, dim // t
            size[d, 1], count[d, 1] = np.where(rem > 0, rem, t), rem > 0
        # the 8 (m, k, n) part combinations in tile_shapes' order, each over every candidate
        grid = (2, 2, 2, C)
        ms = np.broadcast_to(size[0][:, None, None, :], grid).reshape(-1)
        ks = np.broadcast_to(size[1][None, :, None, :], grid).reshape(-1)
        ns = np.broadcast_to(size[2][None, None, :, :], grid).reshape(-1)
        n = count[0][:, None, None, :] * count[1][None, :, None, :] * count[2][None, None, :, :]
        cyc = self._cycles_array(ms, ks, ns, a, b, op).reshape(8, C)
        # the last tile of the loop (every dimension's edge part; a dimension without a
        # remainder has its full size there): the exact mapper's floors need its cycles
        self._tilings[self._key(M, K, N, a, b, op, "last")] = cyc[7]
        # integer-valued cycles x counts: exact sums in any order
        return np.where(n.reshape(8, C) > 0, cyc * n.reshape(8, C), 0).sum(axis=0)

    def _cycles_array(self, ms, ks, ns, a, b, op: Op) -> np.ndarray:
        """Buffer-limited cycles of the fastest view for each tile shape (Coster.tile).
        Vectorized families with more than FEW_VIEWS views (each shape costs V
        evaluations; e.g. a 64x64 WS array has 49): each distinct shape costed once per
        formats, op kind and statistics over every op of the run (ops that differ only
        in one dim, e.g. a decode attention series, share most of their tiles): the
        shapes costed so far are kept sorted, packed in one int64 key each, with their
        cycles."""
        if self._vectorized() and len(self.views()) <= FEW_VIEWS:
            got = self.accel.pe.tile_cycles_array(
                ms[None, :], ks[None, :], ns[None, :], a, b, dict(op.stats), self.views()
            )
            need = self._limited(got)
            if need is not None:
                return need.min(axis=0).astype(float)
        elif self._vectorized() and max(ms.max(), ks.max(), ns.max()) < 1 << 21:
            uniq, back = np.unique((ms << 42) | (ks << 21) | ns, return_inverse=True)
            memo = ("shapes", a.name, b.name, op.kind, op.stats)
            keys, cycles = self._tilings.get(memo, (_NO_KEYS, _NO_CYCLES))
            pos = np.searchsorted(keys, uniq)
            hit = pos < keys.size
            hit[hit] = keys[pos[hit]] == uniq[hit]
            new = uniq[~hit]
            if new.size:
                low = (1 << 21) - 1
                shapes = new >> 42, (new >> 21) & low, new & low
                got = self.accel.pe.tile_cycles_array(
                    *(x[None, :] for x in shapes), a, b, dict(op.stats), self.views()
                )
                need = self._limited(got)
                if need is not None:
                    at = np.searchsorted(keys, new)  # both sorted: merge in place
                    keys = np.insert(keys, at, new)
                    cycles = np.insert(cycles, at, need.min(axis=0).astype(float))
                    self._tilings[memo] = keys, cycles
                    pos = np.searchsorted(keys, uniq)
            if not new.size or need is not None:
                return cycles[pos][back.reshape(-1)]
        # per distinct shape
        keys = list(zip(ms.tolist(), ks.tolist(), ns.tolist()))
        cyc = {t: self.tile(*t, a, b, op).cycles for t in set(keys)}
        return np.array([cyc[t] for t in keys], dtype=float)

    def _limited(self, got) -> np.ndarray | None:
        """tile_cycles_array's (cycles, buffer bits) -> cycles limited by what each buffer
        delivers per cycle (buffer_limited, broadcast); None passes through."""
        if got is None:
            return None
        cycles, bits = got
        need = np.asarray(cycles, dtype=np.int64)
        bufs = self.accel.config.memory.buffers
        for which in ("weight", "input", "output"):
            per = getattr(bufs, which).bits_per_cycle
            need = np.maximum(need, np.ceil(bits.get(which, 0.0) / per).astype(np.int64))
        return need

    def _compute(self, op: Op) -> OpCostRecord:
        pe = self.accel.pe
        if not op.is_gemm:
            if self._vector is None:
                self._vector = pe.vector_model(self.accel)
            a = _fmt(op.aq, op, "aq")
            return _record(cost_vector(op.kind, op.elements, a.bits_per_element, self._vector))
        a, b = _fmt(op.aq, op, "aq"), _fmt(op.bq, op, "wq/kvq")
        reason = pe.unsupported(a, b, op.kind)
        if reason:
            raise InputError(self.accel.source, "pe_array", f"{reason} (op {op.name}, {op.phase})")
        if isinstance(pe, OpModel):
            return _record(pe.cost_op(op, a, b, self.accel), op.macs, "family model")
        return _cost_gemm(self, op, a, b)


def attention_fused(accel: Accelerator, op: Op, quantum, acc_bytes: float) -> bool:
    """FlashAttention-style fusion applies to attention GEMMs when the arch enables it and
    the output buffer holds a double-buffered score block (one array quantum of rows x
    columns at accumulator width) plus the running max and sum (2 x 4 bytes per row)."""
    if not (accel.config.fusion.attention and op.kind in ("attn_qk", "attn_pv")):
        return False
    qm, _, qn = quantum
    need = 2 * qm * qn * acc_bytes + 2 * 4 * op.M
    return need <= accel.config.memory.buffers.output.size_bytes


def buffer_limited(accel: Accelerator, tc: TileCost) -> TileCost:
    """A tile takes at least as long as its buffers need to serve the array: each buffer
    delivers banks x width_bits per cycle, reads and writes sharing the banks (DRAM fills
    use the other half of the double buffer and are not counted here)."""
    bufs = accel.config.memory.buffers
    need = 0
    for which in ("weight", "input", "output"):
        bits = tc.buffer_read_bits.get(which, 0.0) + tc.buffer_write_bits.get(which, 0.0)
        need = max(need, ceil(bits / getattr(bufs, which).bits_per_cycle))
    return tc if need <= tc.cycles else replace(tc, cycles=need)


def _record(c: OpCost, macs: int = 0, mapping: str = "") -> OpCostRecord:
    return OpCostRecord(
        cycles=c.cycles,
        compute_cycles=c.compute_cycles,
        dram_bytes=c.dram_bytes,
        compute_pj=c.compute_pj,
        sram_pj=c.sram_pj,
        dram_pj=c.dram_pj,
        macs=macs,
        bound=c.bound,
        mapping=mapping,
    )


def _cost_gemm(coster: Coster, op: Op, a: FormatInfo, b: FormatInfo) -> OpCostRecord:
    accel = coster.accel
    bufs = accel.config.memory.buffers
    acc_bytes = accel.pe.accumulator_bits(a, b) / 8
    a_bytes, b_bytes = a.bits_per_element / 8, b.bits_per_element / 8
    o_bytes = a.bits_per_element / 8  # outputs leave in the activation format
    M, K, N = op.M, op.K, op.N
    quantum = accel.pe.tile_quantum(a, b)
    fused = attention_fused(accel, op, quantum, acc_bytes)
    a_dram = 0.0 if fused and op.kind == "attn_pv" else a_bytes  # probabilities on chip
    o_dram = 0.0 if fused and op.kind == "attn_qk" else o_bytes  # scores stay on chip
    cands = candidates(
        M,
        K,
        N,
        quantum,
        a_bytes,
        b_bytes,
        o_bytes,
        acc_bytes,
        (bufs.input.size_bytes, bufs.weight.size_bytes, bufs.output.size_bytes),
        a_dram,
        o_dram,
        coster.exact_quanta(a, b) if coster.exact else None,
    )
    if cands is None:
        raise InputError(
            accel.source,
            "memory.buffers",
            f"room for at least one double-buffered tile of op {op.name} "
            f"({M}x{K}x{N}, {a.name} x {b.name}); a buffer is too small for any tile",
        )
    compute = coster.candidate_compute(M, K, N, cands, a, b, op)
    if coster.exact:
        sizes = (a_bytes, a_dram), b_bytes, o_dram, acc_bytes
        # a schedule of two halves along M, one after the other (even M; the half op is
        # costed the same way, memoized), so that twice the rows never take more than
        # twice the time (issue 9, batching)
        half = coster.op(replace(op, M=M // 2)) if M % 2 == 0 else None
        return _exact_gemm(coster, op, a, b, cands, compute, sizes, half)
    bw = accel.dram_sustained_bytes_per_cycle
    dram = cands.a_bytes + cands.b_bytes + cands.o_bytes
    first_load = (cands.tm * cands.tk * a_dram + cands.tk * cands.tn * b_bytes) / bw
    first_load += accel.dram_latency_cycles  # the first tile waits for its data
    est = np.maximum(compute[None, :], dram / bw) + first_load[None, :]
    # the fastest by estimate, and the least DRAM traffic among those within 2% of it
    fastest = int(np.argmin(est))
    near = np.flatnonzero(est.ravel() <= est.ravel()[fastest] * 1.02)
    frugal = int(near[np.argmin(dram.ravel()[near])])
    results = []
    for flat in sorted({fastest, frugal}, key=lambda f: (f != fastest, f)):
        oi, i = np.unravel_index(flat, est.shape)
        mp = cands.mapping(int(oi), int(i))
        if results and _floor(accel, op, mp, a_dram, b_bytes, compute[i]) > 1.01 * min(
            r[0] for r in results
        ):
            continue  # its event model cannot come within 1% of the one already run
        results.append(
            (
                _pipeline(
                    coster, op, mp, a, b, (a_bytes, a_dram), b_bytes, o_dram, acc_bytes, compute[i]
                ),
                mp,
                compute[i],
                flat,
            )
        )
    results.sort(key=lambda r: r[3])  # ties in traffic go to the first in candidate order
    quickest = min(r[0] for r in results)  # then the least traffic within 1% of it
    cycles, mp, comp, _ = min(
        (r for r in results if r[0] <= quickest * 1.01), key=lambda r: r[1].dram_bytes
    )
    return _gemm_record(coster, op, mp, a, b, cycles, comp)


def _exact_gemm(coster: Coster, op: Op, a, b, cands, compute, sizes, half) -> OpCostRecord:
    """The exact mapper: the least event-model cycles over every candidate, ties to the
    least DRAM traffic, then to the first in candidate order (a lexicographic minimum, so
    a superset of candidates, or hardware that makes no mapping slower, can never give a
    slower result). Branch and bound: candidates run through _pipeline in the order of
    their floor (_floors, a lower bound of _pipeline's cycles); the search stops at the
    first whose (floor, traffic, index) cannot beat the best found. Orders that differ
    only in loops of one trip are the same loop nest and run once. `half`: the cost of
    the op with half the rows (or None), a candidate too: the two halves run one after
    the other (twice its cycles, traffic and energy; mapping "2*..."), after every tiling
    on ties.
    sizes = ((A bytes per element on chip, from DRAM), B bytes, output bytes to DRAM,
    accumulator bytes)."""
    (a_bytes, a_dram), b_bytes, o_dram, acc_bytes = sizes
    M, K, N = op.M, op.K, op.N
    last = coster.last_tile_cycles(M, K, N, cands, a, b, op)
    floors = _floors(coster.accel, op, cands, (compute, last), (a_dram, b_bytes, o_dram, acc_bytes))
    floors = floors.ravel()
    dram = (cands.a_bytes + cands.b_bytes + cands.o_bytes).ravel()
    C = cands.tm.size

    def run(flat: int) -> tuple:  # (cycles, dram bytes, flat index, mapping, compute cycles)
        oi, i = divmod(flat, C)
        mp = cands.mapping(oi, i)
        cycles = _pipeline(coster, op, mp, a, b, *sizes, compute[i])  # sizes as _pipeline's
        return cycles, dram[flat], flat, mp, compute[i]

    if half is not None:
        best = (2 * half.cycles, 2 * half.dram_bytes, floors.size, None, None)
    else:  # start from the least (floor, traffic, index): the first the search would run
        low = np.flatnonzero(floors == floors.min())
        best = run(int(low[np.lexsort((low, dram[low]))[0]]))
    # only candidates whose floor does not exceed the best so far can beat it: visit
    # those in order of (floor, traffic, index) and stop at the first that cannot
    near = np.flatnonzero(floors <= best[0])
    visit = near[np.lexsort((near, dram[near], floors[near]))]
    # one run per loop nest: orders that differ only in loops of one trip run the same
    # nest (same cycles, traffic and floor, so the first in candidate order comes first)
    nests = _nest_ids(cands, M, K, N).ravel()
    seen = {best[2] % C * 16 + nests[best[2]]} if best[3] is not None else set()
    for flat in visit.tolist():
        if (floors[flat], dram[flat], flat) >= best[:3]:
            break
        nest = flat % C * 16 + nests[flat]
        if nest in seen:
            continue
        seen.add(nest)
        got = run(flat)
        if got[:3] < best[:3]:
            best = got
    cycles, _, _, mp, comp = best
    if mp is None:  # the two halves
        return replace(
            half,
            cycles=2 * half.cycles,
            compute_cycles=2 * half.compute_cycles,
            dram_bytes=2 * half.dram_bytes,
            compute_pj=2 * half.compute_pj,
            sram_pj=2 * half.sram_pj,
            dram_pj=2 * half.dram_pj,
            macs=op.macs,
            mapping=f"2*{half.mapping}",
        )
    return _gemm_record(coster, op, mp, a, b, cycles, comp)


def _nest_ids(cands, M: int, K: int, N: int) -> np.ndarray:
    """(ORDERS x C) id of each candidate's loop nest order: its order with the loops of
    one trip left out (they never change an index, so the event model runs the same
    nest), the same id for the same remaining order."""
    many = np.stack([-(-M // cands.tm) > 1, -(-K // cands.tk) > 1, -(-N // cands.tn) > 1])
    code = many[0].astype(np.int64) + 2 * many[1] + 4 * many[2]  # which loops run (C,)
    return _NEST_TABLE[:, code]


def _nest_table() -> np.ndarray:
    """(ORDERS x 8) nest id of each order under each set of running loops (bit d of the
    column: loop d of m, k, n has more than one trip)."""
    names: dict[str, int] = {}
    out = np.empty((len(ORDERS), 8), dtype=np.int64)
    for o, order in enumerate(ORDERS):
        for code in range(8):
            kept = "".join(c for c in order if code >> "mkn".index(c) & 1)
            out[o, code] = names.setdefault(kept, len(names))
    return out


_NEST_TABLE = _nest_table()


def _floors(accel: Accelerator, op: Op, cands, cycles, sizes) -> np.ndarray:
    """Lower bounds (ORDERS x C) of what _pipeline returns for every candidate, from the
    event model's rules (one FIFO channel; a transfer pays the latency after leaving it;
    in-order compute): the first tile's operands cross the channel and arrive before the
    array computes every tile in turn; every load (the last tile's among them, issued
    last) crosses the channel and arrives before the last tile computes; the last output
    tile is stored after that (through the channel, plus the latency); and every DRAM
    byte crosses the channel. cycles = (total compute, last tile's compute) per
    candidate; sizes = bytes per element of A and B loaded, of the final output stored
    and of a partial sum."""
    compute, last_compute = cycles
    a_dram, b_bytes, o_dram, acc_bytes = sizes
    bw = accel.dram_sustained_bytes_per_cycle
    lat = accel.dram_latency_cycles
    M, K, N = op.M, op.K, op.N
    tm, tk, tn = cands.tm, cands.tk, cands.tn
    m0, k0, n0 = np.minimum(tm, M), np.minimum(tk, K), np.minimum(tn, N)
    first = (m0 * k0 * a_dram + k0 * n0 * b_bytes) / bw + lat
    m_last, n_last = M - (-(-M // tm) - 1) * tm, N - (-(-N // tn) - 1) * tn
    store = m_last * n_last * o_dram / bw + (lat if o_dram > 0 else 0.0)
    # partial sums spilled: o_bytes holds their writes and reads alike (sim.mapping)
    loads = cands.a_bytes + cands.b_bytes + (cands.o_bytes - M * N * o_dram) / 2
    dram = cands.a_bytes + cands.b_bytes + cands.o_bytes
    fixed = accel.config.kernel_overhead_cycles + accel.pe.op_cycles_offset
    drained = loads / bw + lat + (last_compute + store)[None, :]
    return np.maximum(np.maximum((first + compute + store)[None, :], drained), dram / bw) + fixed


def _floor(accel: Accelerator, op: Op, mp: Mapping, a_dram: float, b_bytes: float, compute):
    """A lower bound of what _pipeline returns for a mapping: the first tile's operands
    arrive (through the channel, plus the latency) before the array computes every tile
    in turn, and every DRAM byte crosses the channel."""
    bw = accel.dram_sustained_bytes_per_cycle
    m, k, n = min(mp.tm, op.M), min(mp.tk, op.K), min(mp.tn, op.N)
    first = (m * k * a_dram + k * n * b_bytes) / bw + accel.dram_latency_cycles
    fixed = accel.config.kernel_overhead_cycles + accel.pe.op_cycles_offset
    return max(first + compute, mp.dram_bytes / bw) + fixed


def _pipeline(coster, op, mp, a, b, a_sizes, b_bytes, o_bytes, acc_bytes, compute) -> float:
    """Event model of the mapping; a_sizes = (bytes per A element on chip, from DRAM)."""
    accel = coster.accel
    a_bytes, a_dram = a_sizes
    M, K, N = op.M, op.K, op.N
    trips = mp.trips(M, K, N)

    # tile sizes per index (only the last tile of a dimension is short): computed once
    sizes = [
        np.minimum(t, D - np.arange(trips[c], dtype=np.int64) * t)
        for c, t, D in (("m", mp.tm, M), ("k", mp.tk, K), ("n", mp.tn, N))
    ]
    table = TileTable(
        *sizes,
        lambda m, k, n: coster.tile(m, k, n, a, b, op).cycles,
        a_dram,
        b_bytes,
        acc_bytes,
        o_bytes,
        acc_bytes,
    )
    res = simulate_tiles(
        mp.order,
        trips,
        table.tile_cycles,
        table.load_bytes,
        table.store_bytes,
        accel.dram_sustained_bytes_per_cycle,
        accel.dram_latency_cycles,
        total_compute_cycles=compute,
        total_dram_cycles=mp.dram_bytes / accel.dram_sustained_bytes_per_cycle,
        slots=_slots(accel, mp, a_bytes, b_bytes, acc_bytes),
        table=table,
    )
    return res.cycles + accel.config.kernel_overhead_cycles + accel.pe.op_cycles_offset


def _slots(accel: Accelerator, mp: Mapping, a_bytes, b_bytes, acc_bytes) -> dict[str, int]:
    """Tiles each buffer holds at once (>= 2: the mapping checked double buffering)."""
    bufs = accel.config.memory.buffers
    return {
        "A": int(bufs.input.size_bytes // (mp.tm * mp.tk * a_bytes)),
        "B": int(bufs.weight.size_bytes // (mp.tk * mp.tn * b_bytes)),
        "O": int(bufs.output.size_bytes // (mp.tm * mp.tn * acc_bytes)),
    }


def _gemm_record(coster, op, mp: Mapping, a, b, cycles: float, compute_cycles: float):
    accel = coster.accel
    M, K, N = op.M, op.K, op.N
    compute_pj = 0.0
    reads: dict[str, float] = {"weight": 0.0, "input": 0.0, "output": 0.0}
    writes: dict[str, float] = {"weight": 0.0, "input": 0.0, "output": 0.0}
    for m, k, n, cnt in tile_shapes(M, K, N, mp.tm, mp.tk, mp.tn):
        tc = coster.tile(m, k, n, a, b, op)
        compute_pj += tc.compute_pj * cnt
        for which, bits in tc.buffer_read_bits.items():
            reads[which] += bits * cnt
        for which, bits in tc.buffer_write_bits.items():
            writes[which] += bits * cnt
    # DRAM fills are buffer writes; output stores are buffer reads
    writes["input"] += mp.a_bytes * 8
    writes["weight"] += mp.b_bytes * 8
    reads["output"] += mp.o_bytes * 8
    bufs = accel.config.memory.buffers
    sram_pj = 0.0
    for which in ("weight", "input", "output"):
        width = getattr(bufs, which).width_bits
        sram_pj += (reads[which] + writes[which]) / width * accel.buffer_access_pj(which)
    dram_cycles = mp.dram_bytes / accel.dram_sustained_bytes_per_cycle
    return OpCostRecord(
        cycles=cycles,
        compute_cycles=compute_cycles,
        dram_bytes=mp.dram_bytes,
        compute_pj=compute_pj,
        sram_pj=sram_pj,
        dram_pj=mp.dram_bytes * 8 * accel.config.memory.dram.energy_pj_per_bit,
        macs=M * K * N,
        bound="compute" if compute_cycles >= dram_cycles else "memory",
        mapping=mp.describe(),
    )
