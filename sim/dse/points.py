"""Points of a sweep: sampling (grid | random | Latin hypercube) over the spec's axes,
each point validated as an Accelerator (and its model and formats checked) before
anything runs, and keyed by a content hash of its inputs."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from arch.arch import Arch
from common.errors import InputError
from common.inputs import quote
from sim.dse.spec import FORMAT_AXES, RUN_AXES, Range, Spec
from sim.limits import MAX_BATCH, MAX_TOKENS

# Bump when the row layout or the meaning of a column changes (part of every key).
STORE_VERSION = 3  # 3: the `mapper` column


@dataclass(frozen=True)
class Point:
    """One configuration x workload. `values` are the axis values (by axis name);
    `arch_raw` the full arch dict after the arch axes were applied."""

    key: str
    values: dict[str, Any]
    arch_raw: dict = field(repr=False)
    arch_digest: str
    model: str
    prefill: int
    decode: int
    batch: int
    wq: str
    aq: str
    kvq: str
    phases: tuple[str, ...]
    mapper: str = "exact"  # the tile mapper (spec `mapper`)

    def row_key(self, phase: str) -> str:
        return _hash({"point": self.key, "phase": phase})

    def row_keys(self) -> list[str]:
        return [self.row_key(p) for p in self.phases]


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:24]


# Sources whose change may change a result: the engine, the families, the workloads and
# the formats (not the CLI, the DSE layer or the reports).
ENGINE_PACKAGES = ("arch", "sim", "workloads", "quant", "common")
ENGINE_EXCLUDE = ("sim/dse/", "sim/cmd_", "sim/cli.py", "sim/output.py", "sim/_click.py")


@lru_cache(maxsize=1)
def engine_version() -> str:
    """Hash of the simulator's sources and data files (.py, .yaml): part of every key, so
    a store never mixes results of two engine versions (a changed engine recomputes)."""
    root = Path(__file__).resolve().parents[2]
    h = hashlib.sha256()
    for pkg in ENGINE_PACKAGES:
        for f in sorted((root / pkg).rglob("*")):
            rel = f.relative_to(root).as_posix()
            if f.suffix in (".py", ".yaml", ".json") and not rel.startswith(ENGINE_EXCLUDE):
                h.update(rel.encode())
                h.update(f.read_bytes())
    return h.hexdigest()[:16]


def point_key(arch_digest: str, run: dict) -> str:
    return _hash({"v": STORE_VERSION, "engine": engine_version(), "arch": arch_digest, **run})


def _dims(spec: Spec) -> list[tuple[list[str], list | Range]]:
    """One dimension per axis, one per linked group (whose values are zipped tuples)."""
    dims: list[tuple[list[str], list | Range]] = [([k], v) for k, v in spec.axes.items()]
    for g in spec.linked:
        names = list(g)
        dims.append((names, [tuple(v) for v in zip(*g.values())]))
    return dims


def _assign(names: list[str], value: Any) -> dict[str, Any]:
    if isinstance(value, tuple):  # a linked group's zipped values (YAML gives no tuples)
        return dict(zip(names, value))
    return {names[0]: value}


def sample(spec: Spec) -> list[dict[str, Any]]:
    """Axis-value assignments of the spec's sampling method (unique, in a stable order)."""
    dims = _dims(spec)
    s = spec.sampling
    out: list[dict[str, Any]] = []
    if s.method == "grid":
        lists = [v.grid() if isinstance(v, Range) else v for _, v in dims]
        for combo in itertools.product(*lists):
            d: dict[str, Any] = {}
            for (names, _), val in zip(dims, combo):
                d.update(_assign(names, val))
            out.append(d)
    else:
        import numpy as np

        if s.method == "lhs":
            from scipy.stats import qmc

            units = qmc.LatinHypercube(d=max(1, len(dims)), seed=s.seed).random(s.n)
        else:
            units = np.random.default_rng(s.seed).random((s.n, max(1, len(dims))))
        for u in units:
            d = {}
            for j, (names, vals) in enumerate(dims):
                if isinstance(vals, Range):
                    val = vals.at(float(u[j]))
                else:
                    val = vals[min(int(u[j] * len(vals)), len(vals) - 1)]
                d.update(_assign(names, val))
            out.append(d)
    seen, uniq = set(), []
    for d in out:
        k = json.dumps(d, sort_keys=True, default=str)
        if k not in seen:
            seen.add(k)
            uniq.append(d)
    return uniq


class PointBuilder:
    """Turns axis assignments into validated Points (caching validated arches, models and
    formats so that thousands of points validate in well under a second)."""

    def __init__(self, spec: Spec, source: str) -> None:
        self.spec = spec
        self.source = source
        try:
            self.base = Arch.load(spec.base)
        except InputError as e:
            if e.field not in ("arch", "file"):  # inside the arch YAML: it names its field
                raise
            raise InputError(source, "base", e.expected) from None
        self._arches: dict[str, Arch] = {}
        self._checked: set[tuple[str, str]] = set()

    def _arch(self, changes: dict[str, Any]) -> Arch:
        k = json.dumps(changes, sort_keys=True, default=str)
        a = self._arches.get(k)
        if a is None:
            try:
                a = self.base.replace(changes, source=self.source)
            except InputError as e:
                axis = e.field if e.field in changes else next(iter(changes), e.field)
                shown = changes.get(axis, changes)
                raise InputError(
                    self.source,
                    self._where(axis),
                    f"a valid value (got {quote(shown)}: {e.expected})",
                ) from None
            self._arches[k] = a
        return a

    def _where(self, axis: str) -> str:
        """The spec field an axis value comes from: axes.<name> or linked.<i>.<name>."""
        for i, g in enumerate(self.spec.linked):
            if axis in g:
                return f"linked.{i}.{axis}"
        return f"axes.{axis}"

    def _check_run(self, name: str, value: Any) -> None:
        if (name, str(value)) in self._checked:
            return
        where = self._where(name) if name in self.spec.axis_names() else f"workload.{name}"
        bounds = {"prefill": (1, MAX_TOKENS), "decode": (0, MAX_TOKENS), "batch": (1, MAX_BATCH)}
        try:
            if name in FORMAT_AXES or name == "model":
                if not isinstance(value, str) or not value:
                    raise InputError(self.source, where, f"a {name} name (got {quote(value)})")
            if name in FORMAT_AXES:
                from quant.info import format_info

                format_info(value, source=self.source)
            elif name == "model":
                from workloads.zoo import load_model_shape

                load_model_shape(value)
            else:
                lo, hi = bounds[name]
                if not (isinstance(value, int) and not isinstance(value, bool)):
                    raise InputError(self.source, where, f"an integer (got {quote(value)})")
                if not lo <= value <= hi:
                    raise InputError(
                        self.source, where, f"an integer in [{lo}, {hi}] (got {quote(value)})"
                    )
        except InputError as e:
            if e.source == self.source and e.field == where:
                raise
            raise InputError(
                self.source, where, f"a valid {name} (got {quote(value)}: {e.expected})"
            ) from None
        self._checked.add((name, str(value)))

    def point(self, values: dict[str, Any]) -> Point:
        arch_changes = {k: v for k, v in values.items() if k not in RUN_AXES}
        arch = self._arch(arch_changes)
        w = self.spec.workload
        d = arch.accelerator.config.defaults
        fmts = {k: values.get(k, getattr(w, k)) for k in FORMAT_AXES}
        for k, v in fmts.items():
            if k in values:  # an axis value: a format name, never empty (no silent default)
                self._check_run(k, v)
        run = {
            "model": values.get("model", w.model),
            "prefill": values.get("prefill", w.prefill),
            "decode": values.get("decode", w.decode),
            "batch": values.get("batch", w.batch),
            "wq": fmts["wq"] or d.wq,
            "aq": fmts["aq"] or d.aq,
            "kvq": fmts["kvq"] or d.kvq,
        }
        for name, v in run.items():
            self._check_run(name, v)
        phases = tuple(self.spec.phases)
        mapper = self.spec.mapper
        key = point_key(arch.digest, run | {"mapper": mapper})
        return Point(
            key=key,
            values=dict(values),
            arch_raw=arch.to_dict(),
            arch_digest=arch.digest,
            phases=phases,
            mapper=mapper,
            **run,
        )


def build_points(spec: Spec, source: str) -> list[Point]:
    """All points of the spec, validated; raises InputError naming the bad axis."""
    if spec.sampling.method == "grid":
        for name, vals in spec.axes.items():
            if isinstance(vals, Range) and vals.num is None:
                raise InputError(source, f"axes.{name}", "a list, or a range with num, on a grid")
    b = PointBuilder(spec, source)
    pts, seen = [], set()
    for values in sample(spec):
        p = b.point(values)
        if p.key not in seen:
            seen.add(p.key)
            pts.append(p)
    return pts
