"""`simulate()`: the Python API behind `sim run` (for scripts and sweeps).

from sim import simulate
res = simulate("int8-systolic", "llama-2-7b", prefill=512, decode=128)
res.summary(); res.to_dataframe()
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from arch.accelerator import Accelerator, load_accelerator
from common.errors import InputError
from quant.info import format_info
from sim.engine import Coster, OpCostRecord
from sim.mappers import MAPPERS
from sim.result import OpRow, SimResult
from workloads.ops import Op

# A series of ops that differ in one dimension only (decode attention vs KV length) is
# costed at a few points and interpolated where the cost is affine (see _cost_series).
SERIES_MIN = 8
AFFINE_RTOL = 1e-3
PERIODIC_RTOL = 1e-9  # the periodic shortcut's checks: float rounding only
PERIOD_MAX = 64  # the longest tile period costed point by point (_periodic)


def simulate(
    arch: str | Accelerator,
    model: str | Sequence[Op],
    prefill: int = 256,
    decode: int = 32,
    batch: int = 1,
    wq: str | None = None,
    aq: str | None = None,
    kvq: str | None = None,
    coster: Coster | None = None,
    mapper: str = "fast",
) -> SimResult:
    """Simulate a model (zoo name, HF config path, trace dir, or a list of Ops) on `arch`:
    a preset name, a YAML path, an `Arch` (arch.arch) or an `Accelerator`. `mapper`:
    "fast" (screened by a closed-form estimate) or "exact" (the least event-model time
    over tile choices nested across designs: the physics invariants hold by
    construction, as sweeps need them; 6-18x slower; README "Two mappers"); a given
    `coster` brings its own."""
    from arch.arch import as_accelerator

    accel = as_accelerator(arch)
    coster = coster or Coster(accel, exact=_exact(mapper))
    d = accel.config.defaults
    fmts = {"wq": wq or d.wq, "aq": aq or d.aq, "kvq": kvq or d.kvq}
    if isinstance(model, str):
        from workloads.footprint import model_footprint

        plan, name, prefill, decode, batch = _model_plan(model, prefill, decode, batch, fmts)
        cap = accel.config.memory.dram.capacity_gib  # exits 2 when the run does not fit
        fp = model_footprint(model, prefill, decode, batch, fmts, cap, accel.source)
        ops = plan.ops
    else:
        ops, name, plan = list(model), "ops", None
    res = simulate_ops(accel, ops, name, prefill, decode, batch, fmts, coster, plan)
    if isinstance(model, str):  # total / active parameters of the model's shape
        from workloads.llm import param_counts
        from workloads.zoo import load_model_shape

        pc = param_counts(load_model_shape(model))
        res = replace(res, params_total=pc.total, params_active=pc.active)
        res = replace(res, footprint_bytes=fp.as_dict())
    return res


def _exact(mapper: str) -> bool:
    if mapper not in MAPPERS:
        raise ValueError(f"mapper must be one of {MAPPERS}, got {mapper!r}")
    return mapper == "exact"


def _model_plan(model: str, prefill: int, decode: int, batch: int, fmts: dict):
    from workloads.zoo import load_model_shape

    shape = load_model_shape(model)
    plan = _built_plan(shape, prefill, decode, batch, fmts["wq"], fmts["aq"], fmts["kvq"])
    return plan, shape.name, prefill, decode, batch


@lru_cache(maxsize=32)
def _built_plan(shape, prefill: int, decode: int, batch: int, wq: str, aq: str, kvq: str):
    """workloads.llm.build_ops and its OpPlan, memoized: a pure function of the (frozen,
    hashable) model shape, lengths and formats, and a sweep asks for the same ops on many
    archs."""
    from workloads.llm import build_ops

    return op_plan(build_ops(shape, prefill, decode, batch, wq, aq, kvq))


@dataclass(frozen=True)
class OpPlan:
    """A list of ops reduced to what costing and reporting need, once per list (a model
    repeats the same op per layer and decode step: Llama-2-7B 2048+256 is 4,883 ops, 803
    distinct). Entries are the distinct ops (alike in every field a cost or a series looks
    at; `reps[e]` is the index of entry e's first op); `series` lists the entries costed
    as one series (_cost_series: the dimension d and the entries in ascending order along
    it); `groups` are the report rows, one per (phase, name) in order of first
    appearance: the index of its first op, its entries, each entry's executions (the sum
    of its ops' counts) and the entry of its last op."""

    ops: tuple[Op, ...]
    entry_of: tuple[int, ...]
    reps: tuple[int, ...]
    series: tuple[tuple[int, tuple[int, ...]], ...]
    groups: tuple[tuple[tuple[str, str], int, tuple[int, ...], tuple[int, ...], int], ...]


def op_plan(ops: Sequence[Op]) -> OpPlan:
    """The OpPlan of `ops` (see OpPlan)."""
    ops = tuple(ops)
    entry_of: list[int] = []
    reps: list[int] = []
    alike: dict[tuple, int] = {}
    heads: list[tuple] = []  # per entry: every field but the dimensions
    for i, op in enumerate(ops):
        head = (op.phase, op.name, op.kind, op.bq, op.aq, op.weight_density, op.stats)
        key = (*head, *_dims(op))
        e = alike.get(key)
        if e is None:
            e = alike[key] = len(reps)
            reps.append(i)
            heads.append(head)
        entry_of.append(e)
    by_series: dict[tuple, list[int]] = {}  # entry numbers per candidate series
    for e, i in enumerate(reps):
        dims = _dims(ops[i])
        for d in range(4):
            by_series.setdefault((*heads[e], d, dims[:d] + dims[d + 1 :]), []).append(e)
    series = []
    done: set[int] = set()
    for key, es in by_series.items():
        if len(es) < SERIES_MIN or any(e in done for e in es):
            continue  # (entries differ in dimension d only: one value each)
        d = key[7]
        es = sorted(es, key=lambda e: _dims(ops[reps[e]])[d])
        series.append((d, tuple(es)))
        done.update(es)
    members: dict[tuple[str, str], dict[int, int]] = {}  # executions per entry, per row
    first: dict[tuple[str, str], int] = {}
    last: dict[tuple[str, str], int] = {}
    for i, op in enumerate(ops):
        g = (op.phase, op.name)
        runs = members.setdefault(g, {})
        first.setdefault(g, i)
        e = entry_of[i]
        runs[e] = runs.get(e, 0) + op.count
        last[g] = e
    groups = tuple(
        (g, first[g], tuple(runs), tuple(runs.values()), last[g]) for g, runs in members.items()
    )
    return OpPlan(ops, tuple(entry_of), tuple(reps), tuple(series), groups)


def simulate_ops(
    accel: Accelerator,
    ops: Sequence[Op],
    model_name: str,
    prefill: int,
    decode: int,
    batch: int,
    fmts: dict[str, str],
    coster: Coster | None = None,
    plan: OpPlan | None = None,
) -> SimResult:
    """Cost every distinct op (memoized) and collect per-(phase, name) rows. `plan`: the
    OpPlan of `ops` when the caller has it (a sweep's memoized model)."""
    coster = coster or Coster(accel)
    plan = plan or op_plan(ops)
    reps = with_weight_density(accel, [plan.ops[i] for i in plan.reps])
    costs = _cost_entries(coster, plan, reps)
    f = accel.frequency_hz
    peak = _peak(accel, plan.ops)
    rows = []
    for (phase, name), i0, entries, runs, last in plan.groups:
        op0 = plan.ops[i0]
        count = cycles = comp = macs = dram = cpj = spj = dpj = 0
        for e, n in zip(entries, runs):
            c = costs[e]
            count += n
            cycles += c.cycles * n
            comp += c.compute_cycles * n
            macs += c.macs * n
            dram += c.dram_bytes * n
            cpj += c.compute_pj * n
            spj += c.sram_pj * n
            dpj += c.dram_pj * n
        mem_cycles = dram / accel.dram_bytes_per_cycle
        rows.append(
            OpRow(
                phase=phase,
                name=name,
                kind=op0.kind,
                M=op0.M,
                K=op0.K,
                N=op0.N,
                count=count,
                cycles=cycles,
                time_s=cycles / f,
                compute_cycles=comp,
                dram_bytes=dram,
                macs=macs,
                utilization=macs / (peak * cycles) if macs and cycles else 0.0,
                bound=_bound([costs[e] for e in entries], comp, mem_cycles),
                energy_compute_j=cpj * 1e-12,
                energy_sram_j=spj * 1e-12,
                energy_dram_j=dpj * 1e-12,
                mapping=costs[last].mapping,
            )
        )
    area = sum(accel.area_um2().values()) * 1e-6
    return SimResult(
        accel.name, model_name, prefill, decode, batch, dict(fmts), f, area, peak, rows
    )


def with_weight_density(accel: Accelerator, ops: Sequence[Op]) -> list[Op]:
    """Ops with the arch's `defaults.weight_density` (the compressed model the design
    runs, by linear op name) applied where the op carries no measured density (a trace's
    `w_nm16_density` stat, workloads/trace_stats.py, wins even when it is 1.0)."""
    from workloads.trace_stats import WEIGHT_DENSITY_STAT

    dens = accel.config.defaults.weight_density
    if not dens:
        return list(ops)
    return [
        replace(o, weight_density=dens[o.name])
        if o.kind == "linear"
        and o.name in dens
        and o.weight_density == 1.0
        and all(k != WEIGHT_DENSITY_STAT for k, _ in o.stats)
        else o
        for o in ops
    ]


def _bound(costs: Sequence[OpCostRecord], comp: float, mem: float) -> str:
    kinds = {c.bound for c in costs}
    if len(kinds) == 1:
        return kinds.pop()
    return "compute" if comp >= mem else "memory"


def _peak(accel: Accelerator, ops: Sequence[Op]) -> float:
    gemm = next((o for o in ops if o.is_gemm and o.kind == "linear"), None)
    if gemm is None:
        gemm = next((o for o in ops if o.is_gemm), None)
    if gemm is None:
        return 1.0
    return accel.pe.peak_macs_per_cycle(format_info(gemm.aq), format_info(gemm.bq))


def cost_ops(coster: Coster, ops: Sequence[Op]) -> list[OpCostRecord]:
    """Cost of one execution of each op, with series interpolation (see _cost_series).
    Ops alike in every field a series looks at are grouped first (a model repeats them per
    layer and step), so the series search runs over distinct ops (OpPlan)."""
    plan = op_plan(ops)
    costs = _cost_entries(coster, plan, [plan.ops[i] for i in plan.reps])
    return [costs[e] for e in plan.entry_of]


def _cost_entries(coster: Coster, plan: OpPlan, reps: Sequence[Op]) -> list[OpCostRecord]:
    """Cost of each entry of `plan`, given its representative ops `reps` (one per entry):
    series by _cost_series, the rest one by one (memoized by the Coster). The exact
    mapper costs every entry, series too: a result is then a sum of exact op costs, so
    the invariants that hold per op hold for whole phases (no interpolation between)."""
    out: list[OpCostRecord | None] = [None] * len(reps)
    for d, es in [] if coster.exact else plan.series:
        xs = [_dims(reps[e])[d] for e in es]
        recs = _cost_series(coster, reps[es[0]], d, xs)
        for x, e in zip(xs, es):
            out[e] = recs[x]
    for e, rec in enumerate(out):
        if rec is None:
            out[e] = coster.op(reps[e])
    return out  # type: ignore[return-value]


def _dims(op: Op) -> tuple[int, int, int, int]:
    return (op.M, op.K, op.N, op.elements)


def _with_dim(op: Op, d: int, v: int) -> Op:
    return replace(op, **{("M", "K", "N", "elements")[d]: v})


_NUMERIC = ("cycles", "compute_cycles", "dram_bytes", "compute_pj", "sram_pj", "dram_pj")


def _cost_series(coster: Coster, op: Op, d: int, xs: list[int]) -> dict[int, OpCostRecord]:
    """Cost ops that differ only in dimension d at values xs: by periodicity where the
    tile loop makes the cost periodic-affine (_periodic), else by bisection (_bisect)."""
    exact: dict[int, OpCostRecord] = {}

    def at(x: int) -> OpCostRecord:
        if x not in exact:
            exact[x] = coster.op(_with_dim(op, d, x))
        return exact[x]

    res = _periodic(op, d, xs, at)
    if res is None:
        res = {}
        _bisect(xs, at, res)
    return res | {x: exact[x] for x in xs if x in exact}


def _bisect(xs: list[int], at, res: dict[int, OpCostRecord]) -> None:
    """Evaluate the ends, the middle and the first third; where both probes match the
    straight line between the ends (relative error <= AFFINE_RTOL on every field) and the
    mapping and bound are the same, interpolate the interior (an interior op takes its
    bound label from the nearer end); otherwise split in two and recurse. Exact wherever
    evaluated; fills res for every x in xs."""

    def get(x: int) -> OpCostRecord:
        res[x] = at(x)
        return res[x]

    def fill(lo: int, hi: int) -> None:  # indices into xs
        if hi - lo <= 1:
            get(xs[lo]), get(xs[hi])
            return
        a, b = get(xs[lo]), get(xs[hi])
        mid = (lo + hi) // 2
        c = get(xs[mid])
        same = a.mapping == b.mapping == c.mapping and a.bound == b.bound == c.bound
        third = lo + (hi - lo) // 3  # a second probe: a staircase whose steps start at
        if same and third not in (lo, mid):  # lo, mid and hi passes the midpoint alone
            e = get(xs[third])
            same = e.mapping == a.mapping and e.bound == a.bound
            same = same and _affine_ok(a, b, e, xs[lo], xs[hi], xs[third])
        if same and _affine_ok(a, b, c, xs[lo], xs[hi], xs[mid]):
            for j in range(lo + 1, hi):
                if xs[j] not in res:
                    res[xs[j]] = _interp(a, b, xs[lo], xs[hi], xs[j])
            return
        fill(lo, mid)
        fill(mid, hi)

    fill(0, len(xs) - 1)


def _tile_along(mapping: str, d: int) -> int:
    """Tile size along dimension d (0 M, 1 K, 2 N) of a mapping "tmxtkxtn/order"; 0 if the
    record has no tiled mapping (vector ops, family models)."""
    head = mapping.split("/")[0].split("x")
    if d > 2 or len(head) != 3 or not all(h.isdigit() for h in head):
        return 0
    return int(head[d])


def _periodic(op: Op, d: int, xs: list[int], at) -> dict[int, OpCostRecord] | None:
    """The tile loop makes a GEMM's cost periodic-affine in a dimension: with the same
    mapping, one more full tile of size T along d adds the same cost wherever it lands,
    cost(x + T) = cost(x) + delta, while the position of x within its tile (the edge
    tile's size) shapes the cost inside a period. So cost one period [x0, x0 + T]
    exactly, then every x = x0 + r + qT is cost(x0 + r) + q delta.
    Checked, before anything is kept, against exact costs at the far end and three
    interior points of other periods (same mapping and bound, every field within
    PERIODIC_RTOL). None where the period is longer than PERIOD_MAX or a third of the
    series, the mapping changes, or a check fails."""
    x0, x1 = xs[0], xs[-1]
    a, b = at(x0), at(x1)
    T = _tile_along(a.mapping, d)
    if not T or T > PERIOD_MAX or a.mapping != b.mapping or a.bound != b.bound:
        return None
    if x1 - x0 < 3 * T:
        return None
    sub = {x: at(x) for x in range(x0, x0 + T + 1)}  # one period, every point exact
    start, end = sub[x0], sub[x0 + T]
    if start.mapping != end.mapping:
        return None
    delta = {f: getattr(end, f) - getattr(start, f) for f in _NUMERIC}

    def model(x: int) -> OpCostRecord:
        q, r = divmod(x - x0, T)
        base = sub[x0 + r]
        vals = {f: getattr(base, f) + q * delta[f] for f in _NUMERIC}
        dims = list(_dims(op))
        dims[d] = x
        macs = base.macs and dims[0] * dims[1] * dims[2]  # a GEMM's M x K x N
        return OpCostRecord(**vals, macs=macs, bound=base.bound, mapping=base.mapping)

    n = len(xs)
    for x in {x1, xs[n // 2], xs[(2 * n) // 3], xs[n - 1 - n // 7]}:
        if x - x0 <= T:
            continue
        got, want = model(x), at(x)
        if (got.mapping, got.bound) != (want.mapping, want.bound):
            return None
        for f in _NUMERIC:
            g, w = getattr(got, f), getattr(want, f)
            if abs(g - w) > PERIODIC_RTOL * max(abs(w), 1e-12):
                return None
    return {x: sub[x] if x in sub else model(x) for x in xs}


def _lerp(a: float, b: float, t: float) -> float:
    return a + (b - a) * t


def _affine_ok(a, b, c, xa: int, xb: int, xc: int) -> bool:
    t = (xc - xa) / (xb - xa)
    for f in _NUMERIC:
        pred = _lerp(getattr(a, f), getattr(b, f), t)
        if abs(pred - getattr(c, f)) > AFFINE_RTOL * max(abs(getattr(c, f)), 1e-12):
            return False
    return True


def _interp(a: OpCostRecord, b: OpCostRecord, xa: int, xb: int, x: int) -> OpCostRecord:
    t = (x - xa) / (xb - xa)
    vals = {f: _lerp(getattr(a, f), getattr(b, f), t) for f in _NUMERIC}
    near = a if t < 0.5 else b
    macs = round(_lerp(a.macs, b.macs, t))
    return OpCostRecord(**vals, macs=macs, bound=near.bound, mapping=near.mapping)


def gemm(
    accel: Accelerator,
    M: int,
    K: int,
    N: int,
    wq: str,
    aq: str,
    coster: Coster | None = None,
    kind: str = "linear",
) -> dict:
    """Cost one (M x K) @ (K x N) GEMM alone: cycles, time, bound, energy. `wq` is the B
    operand's format: the weights of a `linear`, the KV cache of an `attn_qk` / `attn_pv`
    (reported as `kvq`, with `wq` empty)."""
    coster = coster or Coster(accel)
    rec = coster.op(Op("gemm", kind, "prefill", M=M, K=K, N=N, bq=wq, aq=aq))
    peak = accel.pe.peak_macs_per_cycle(format_info(aq), format_info(wq))
    attn = kind != "linear"
    return {
        "M": M,
        "K": K,
        "N": N,
        "kind": kind,
        "wq": "" if attn else wq,
        "kvq": wq if attn else "",
        "aq": aq,
        "cycles": rec.cycles,
        "time_us": rec.cycles / accel.frequency_hz * 1e6,
        "bound": rec.bound,
        "compute_cycles": rec.compute_cycles,
        "dram_bytes": rec.dram_bytes,
        "energy_pj": rec.compute_pj + rec.sram_pj + rec.dram_pj,
        "utilization": rec.macs / (peak * rec.cycles) if rec.cycles else 0.0,
        "mapping": rec.mapping,
    }


def simulate_trace(
    arch: str | Accelerator,
    trace_dir: str,
    wq: str | None = None,
    aq: str | None = None,
    kvq: str | None = None,
    mapper: str = "fast",
) -> SimResult:
    """Simulate the ops of an exported trace directory (see workloads/README.md). Formats
    given here replace the trace's (wq on linears, kvq on attention, aq everywhere);
    `mapper` as in simulate()."""
    from workloads.trace import load_trace

    accel = arch if isinstance(arch, Accelerator) else load_accelerator(arch)
    tr = load_trace(trace_dir)
    ops = []
    for op in tr.ops():
        if op.kind == "linear" and wq:
            op = replace(op, bq=wq)
        if op.kind in ("attn_qk", "attn_pv") and kvq:
            op = replace(op, bq=kvq)
        if aq:
            op = replace(op, aq=aq, **({"bq": aq} if not op.is_gemm else {}))
        ops.append(op)
    _check_trace_formats(accel, ops, tr.path / "trace.json", {"wq": wq, "aq": aq, "kvq": kvq})
    fmts = {
        "wq": wq or _first(ops, "linear", "bq"),
        "aq": aq or _first(ops, "linear", "aq"),
        "kvq": kvq or _first(ops, "attn_qk", "bq"),
    }
    m = tr.meta
    coster = Coster(accel, exact=_exact(mapper))
    run = (m.run.prompt_tokens, m.run.decode_steps, m.run.batch)
    return simulate_ops(accel, ops, m.model.name, *run, fmts, coster)


def _check_trace_formats(accel: Accelerator, ops: Sequence[Op], jf, given: dict) -> None:
    """A GEMM whose formats the PE array cannot run is the trace's fault (or the option's
    that replaced its format), not the arch file's: name trace.json, the op's index in its
    `ops` list, its kind and formats (issue 12)."""
    from common.inputs import short

    checked: set[tuple] = set()
    for i, op in enumerate(ops):
        if not op.is_gemm or (op.aq, op.bq, op.kind) in checked:
            continue
        checked.add((op.aq, op.bq, op.kind))
        b_role = "wq" if op.kind == "linear" else "kvq"
        src = f"{short(str(jf))}: ops.{i}"
        a = format_info(op.aq, source=f"{src} aq")
        b = format_info(op.bq, source=f"{src} {b_role}")
        reason = accel.pe.unsupported(a, b, op.kind)
        if reason:
            b_via = f" from --{b_role}" if given.get(b_role) else ""
            a_via = " from --aq" if given.get("aq") else ""
            raise InputError(
                short(str(jf)),
                f"ops.{i} ({op.kind} {op.name}, {b_role} {op.bq}{b_via}, aq {op.aq}{a_via})",
                f"formats {accel.name} can run ({reason})",
            )


def _first(ops: Sequence[Op], kind: str, attr: str) -> str:
    return next((getattr(o, attr) for o in ops if o.kind == kind), "-")
