"""Sweep / search spec (YAML, pydantic-validated). Documented in README.md, "Sweeps and
search".

    base: bitmod                       # preset name or arch YAML (relative to the spec)
    workload: {model: llama-2-7b, prefill: 256, decode: 32, batch: 1}
    phases: [prefill, decode, total]   # rows recorded per configuration
    axes:                              # dotted arch paths, or wq/aq/kvq/model/prefill/...
      pe_array.lanes: [2, 4, 8]
      memory.dram.bandwidth_gb_s: {low: 16, high: 128, log: true}   # a range
    linked:                            # axes that move together (zipped)
      - {pe_array.rows: [16, 32, 64], pe_array.cols: [32, 64, 128]}
    sampling: {method: grid}           # grid | random | lhs, with n and seed
    constraints: ["area_mm2 <= 10"]
    objectives: {tokens_per_s: max, energy_per_token_j: min}

`load_spec` raises `InputError(spec file, dotted field, expectation)` for anything wrong.
"""

from __future__ import annotations

import operator
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, model_validator

from common.errors import InputError

# Axis names that are not arch fields: the workload and the formats.
WORKLOAD_AXES = ("model", "prefill", "decode", "batch")
FORMAT_AXES = ("wq", "aq", "kvq")
RUN_AXES = WORKLOAD_AXES + FORMAT_AXES
PHASES = ("prefill", "decode", "total")

# Output metrics a constraint or an objective may name (columns of the store, see
# sim/dse/store.py METRIC_COLUMNS); the input columns (axes) may be constrained too.
# simulated per phase (sim/dse/evaluate.py fills them from the SimResult rows)
PHASE_METRICS = (
    "time_s",
    "cycles",
    "ttft_s",
    "tpot_s",
    "tokens_per_s",
    "energy_j",
    "energy_compute_j",
    "energy_sram_j",
    "energy_dram_j",
    "energy_per_token_j",
    "utilization",
    "macs",
    "dram_bytes",
)
METRICS = (
    *PHASE_METRICS,
    "area_mm2",
    "weight_bytes",
    "kv_cache_bytes",
    "footprint_bytes",
    "dram_capacity_bytes",
    "fits_dram",
    "perplexity",
)

_OPS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(<=|>=|<|>)\s*([-+0-9.eE]+)\s*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Range(_Strict):
    """A continuous (or integer) axis for random / Latin-hypercube sampling and search."""

    low: float
    high: float
    log: bool = False
    int: bool = Field(False, description="round samples to integers")
    num: PositiveInt | None = Field(None, description="grid points (grid sampling only)")

    @model_validator(mode="after")
    def _order(self) -> Range:
        if not self.high > self.low:
            raise ValueError(f"high ({self.high}) must exceed low ({self.low})")
        if self.log and self.low <= 0:
            raise ValueError("a log range needs low > 0")
        return self

    def grid(self) -> list:
        import numpy as np

        if self.num is None:
            raise ValueError("a range on a grid needs `num` (or use sampling random/lhs)")
        xs = (
            np.geomspace(self.low, self.high, self.num)
            if self.log
            else np.linspace(self.low, self.high, self.num)
        )
        return [self.cast(float(x)) for x in xs]

    def at(self, u: float) -> Any:
        """Value at the unit-interval position u."""
        import math

        if self.log:
            x = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            x = self.low + u * (self.high - self.low)
        return self.cast(x)

    def cast(self, x: float) -> Any:
        return int(round(x)) if self.int else float(x)


AxisValues = list[Any] | Range


class Sampling(_Strict):
    method: Literal["grid", "random", "lhs"] = "grid"
    n: PositiveInt | None = Field(None, description="points for random / lhs")
    seed: int = 0

    @model_validator(mode="after")
    def _n(self) -> Sampling:
        if self.method != "grid" and self.n is None:
            raise ValueError(f"sampling {self.method} needs n")
        return self


class Workload(_Strict):
    model: str = "llama-2-7b"
    prefill: PositiveInt = 256
    decode: int = Field(32, ge=0)
    batch: PositiveInt = 1
    wq: str | None = None
    aq: str | None = None
    kvq: str | None = None


class Accuracy(_Strict):
    """Perplexity column: read from the `sim accuracy` cache (never computed unless
    `compute: true`), for the real model named here, with the default text and window."""

    model: str = "smollm2-135m"
    compute: bool = False


class Search(_Strict):
    sampler: Literal["nsga2", "tpe"] = "nsga2"
    seed: int = 0
    population: PositiveInt = Field(50, description="NSGA-II population size")


class Spec(_Strict):
    name: str = "sweep"
    base: str = Field(description="preset name or arch YAML path (relative to the spec file)")
    workload: Workload = Field(default_factory=Workload)
    phases: list[Literal["prefill", "decode", "total"]] = Field(
        default_factory=lambda: ["prefill", "decode", "total"]
    )
    axes: dict[str, AxisValues] = Field(default_factory=dict)
    linked: list[dict[str, list[Any]]] = Field(default_factory=list)
    sampling: Sampling = Field(default_factory=Sampling)
    constraints: list[str] = Field(default_factory=list)
    objectives: dict[str, Literal["min", "max"]] = Field(default_factory=dict)
    objective_phase: Literal["prefill", "decode", "total"] = "total"
    accuracy: Accuracy = Field(default_factory=Accuracy)
    search: Search = Field(default_factory=Search)
    batch_points: PositiveInt = Field(8, description="points per Dask task / part file")

    @property
    def formats_vary(self) -> bool:
        names = set(self.axes) | {k for g in self.linked for k in g}
        return bool(names & set(FORMAT_AXES))

    def axis_names(self) -> list[str]:
        return list(self.axes) + [k for g in self.linked for k in g]


def parse_constraint(text: str) -> tuple[str, str, float]:
    m = _CONSTRAINT.match(text)
    if not m:
        raise ValueError(f"'COLUMN OP NUMBER' with OP in <=, <, >=, > (got {text!r})")
    return m.group(1), m.group(2), float(m.group(3))


def constraint_ok(value: float, op: str, bound: float) -> bool:
    return bool(_OPS[op](value, bound))


def constraint_violation(value: float, op: str, bound: float) -> float:
    """Optuna convention: <= 0 when satisfied, else how far off."""
    if value != value:  # NaN: an errored point violates everything
        return float("inf")
    return value - bound if op in ("<=", "<") else bound - value


def _loc(err: dict) -> str:
    return ".".join(str(x) for x in err["loc"] if not str(x).startswith("function-")) or "spec"


def _pydantic_error(src: str, e: ValidationError) -> InputError:
    err = e.errors()[0]
    loc = [str(x) for x in err["loc"]]
    # a union (list | range) reports per branch; name the path, not the branch
    loc = [x for x in loc if x not in ("list[any]", "Range")]
    where = ".".join(loc) or "spec"
    if err["type"] == "extra_forbidden":
        return InputError(src, where, "a known field (see README.md, Sweeps and search)")
    if err["type"] == "missing":
        return InputError(src, where, "a value (required field is missing)")
    return InputError(src, where, f"{err['msg']} (got {err.get('input')!r})")


def parse_spec(raw: Any, source: str, base_dir: Path | None = None) -> Spec:
    """Validate a spec dict; the arch-level checks of each point happen in points.py."""
    if not isinstance(raw, dict):
        raise InputError(source, "(top level)", "a mapping of spec fields")
    try:
        spec = Spec.model_validate(raw)
    except ValidationError as e:
        raise _pydantic_error(source, e) from None
    base = spec.base
    if base_dir is not None and base.endswith((".yaml", ".yml")):
        p = Path(base)
        if not p.is_absolute() and (base_dir / p).is_file():
            spec = spec.model_copy(update={"base": str(base_dir / p)})
    for i, group in enumerate(spec.linked):
        lens = {len(v) for v in group.values()}
        if len(lens) != 1 or 0 in lens:
            raise InputError(source, f"linked.{i}", "axes of equal, non-zero length")
        for k in group:
            if k in spec.axes:
                raise InputError(source, f"linked.{i}.{k}", "an axis named only once")
    for name, vals in spec.axes.items():
        if isinstance(vals, list) and not vals:
            raise InputError(source, f"axes.{name}", "a non-empty list of values or a range")
    axis_names = set(spec.axis_names())
    for i, c in enumerate(spec.constraints):
        try:
            col, _, _ = parse_constraint(c)
        except ValueError as e:
            raise InputError(source, f"constraints.{i}", str(e)) from None
        if col not in METRICS and col not in axis_names:
            raise InputError(
                source, f"constraints.{i}", f"a metric ({', '.join(METRICS)}) or an axis"
            )
    for name in spec.objectives:
        if name not in METRICS:
            raise InputError(source, f"objectives.{name}", f"one of {', '.join(METRICS)}")
    if spec.objective_phase not in spec.phases:
        raise InputError(source, "objective_phase", f"one of phases {spec.phases}")
    return spec


def load_spec(path: str | Path, overrides: dict | None = None) -> Spec:
    """Read and validate a spec file; `overrides` (top-level keys) replace its fields."""
    p = Path(path)
    src = str(path)
    if not p.is_file():
        raise InputError(src, "file", "an existing sweep/search spec YAML file")
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "document"
        raise InputError(src, where, f"well-formed YAML ({getattr(e, 'problem', e)})") from None
    if isinstance(raw, dict) and overrides:
        raw = apply_overrides(raw, overrides, src)
    return parse_spec(raw, src, p.parent)


def apply_overrides(raw: dict, overrides: dict, source: str) -> dict:
    """A copy of `raw` with dotted fields set (`workload.prefill`, `sampling.n`); under
    `axes.` the rest of the path is one axis name (`axes.pe_array.rows`)."""
    import copy

    from arch.arch import set_path

    raw = copy.deepcopy(raw)
    for k, v in overrides.items():
        if k.startswith("axes.") and len(k) > 5:
            axes = raw.setdefault("axes", {})
            if not isinstance(axes, dict):
                raise InputError(source, "axes", "a mapping of axis names to values")
            axes[k[5:]] = v
        else:
            set_path(raw, k, v, source)
    return raw
