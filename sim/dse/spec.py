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
The file is read by the hardened loader of `common/inputs.py` (16 MiB, UTF-8, no
anchors/aliases, no duplicate keys, finite numbers); the bounds below keep every valid
spec's work finite before anything runs (issue 12):

- `MAX_POINTS` = 100 000 points per sweep (a grid's product of axis lengths, or
  `sampling.n`), checked before any point is built. The example sweep has 576; at the
  ~0.1 s a point of a 7B model takes on one core, 100 000 points are ~3 CPU-hours and a
  store of ~300 000 rows (~100 MB of Parquet), the most one machine's sweep should be.
- `MAX_SEED` = 2**32 - 1: Optuna's samplers seed `numpy.random.RandomState`, which takes
  seeds in [0, 2**32 - 1]; sampling seeds share the range.
- `MAX_TEXT` = 200 characters of a constraint or an axis path (the longest arch path is
  under 40; a constraint is `COLUMN OP NUMBER`).
- workload sizes: `sim.limits` (`MAX_TOKENS`, `MAX_BATCH`), as for `sim run`.
"""

from __future__ import annotations

import math
import operator
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from common.errors import InputError, close_names, model_fields_at
from common.inputs import is_file, load_yaml_file, quote, short
from sim.limits import MAX_BATCH, MAX_TOKENS
from sim.mappers import MAPPERS

MAX_POINTS = 100_000
MAX_SEED = 2**32 - 1
MAX_TEXT = 200

# strict integers (no bool, no float such as 1e9, no numeric string) with bounds
Count = Annotated[int, Field(strict=True, ge=1, le=MAX_POINTS)]
Seed = Annotated[int, Field(strict=True, ge=0, le=MAX_SEED)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
FormatName = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]

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

    low: FiniteFloat
    high: FiniteFloat
    log: bool = False
    int: bool = Field(False, description="round samples to integers")
    num: Count | None = Field(None, description="grid points (grid sampling only)")

    @model_validator(mode="after")
    def _order(self) -> Range:
        if not self.high > self.low:
            raise ValueError(f"high ({self.high}) must exceed low ({self.low})")
        if self.log and self.low <= 0:
            raise ValueError("a log range needs low > 0")
        if self.int and not (float(self.low).is_integer() and float(self.high).is_integer()):
            # rounded ends would leave the range (a log search from round(0.3) = 0 fails)
            raise ValueError("an int range needs integer low and high")
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
    n: Count | None = Field(None, description="points for random / lhs")
    seed: Seed = 0

    @model_validator(mode="after")
    def _n(self) -> Sampling:
        if self.method != "grid" and self.n is None:
            raise ValueError(f"sampling {self.method} needs n")
        return self


class Workload(_Strict):
    model: Annotated[str, Field(min_length=1)] = "llama-2-7b"
    prefill: Annotated[int, Field(strict=True, ge=1, le=MAX_TOKENS)] = 256
    decode: Annotated[int, Field(strict=True, ge=0, le=MAX_TOKENS)] = 32
    batch: Annotated[int, Field(strict=True, ge=1, le=MAX_BATCH)] = 1
    wq: FormatName | None = None
    aq: FormatName | None = None
    kvq: FormatName | None = None


class Accuracy(_Strict):
    """Perplexity column: read from the `sim accuracy` cache (never computed unless
    `compute: true`), for the real model named here, with the default text and window."""

    model: str = "smollm2-135m"
    compute: bool = False


class Search(_Strict):
    sampler: Literal["nsga2", "tpe"] = "nsga2"
    seed: Seed = 0
    population: Count = Field(50, description="NSGA-II population size")


class Spec(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)] = "sweep"
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
    batch_points: Count = Field(8, description="points per Dask task / part file")
    mapper: Literal[MAPPERS] = Field(  # type: ignore[valid-type]
        "exact",
        description="tile mapper: exact (the default: the physics invariants hold by "
        "construction, so points compare as the hardware would) or fast (screened, "
        "6-18x faster, not monotone; README 'Two mappers')",
    )

    @property
    def formats_vary(self) -> bool:
        names = set(self.axes) | {k for g in self.linked for k in g}
        return bool(names & set(FORMAT_AXES))

    def axis_names(self) -> list[str]:
        return list(self.axes) + [k for g in self.linked for k in g]


def parse_constraint(text: str) -> tuple[str, str, float]:
    """(column, operator, bound) of `COLUMN OP NUMBER`: parsed by a regular expression,
    never evaluated; the bound is a finite number."""
    m = _CONSTRAINT.match(text) if len(text) <= MAX_TEXT else None
    if not m:
        raise ValueError(f"'COLUMN OP NUMBER' with OP in <=, <, >=, > (got {quote(text)})")
    try:
        bound = float(m.group(3))
    except ValueError:
        bound = math.nan
    if not math.isfinite(bound):
        raise ValueError(f"a finite NUMBER in 'COLUMN OP NUMBER' (got {quote(m.group(3))})")
    return m.group(1), m.group(2), bound


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
    def branch(x) -> bool:  # a union branch's name in a location
        return str(x) == "list[any]" or "Range" in str(x)

    errs = e.errors()
    # an axis given as a mapping is a range: report the range's error, not "a valid list"
    errs = [x for x in errs if x["type"] != "list_type" or not isinstance(x["input"], dict)] or errs
    extra = [x for x in errs if x["type"] == "extra_forbidden"]
    err = extra[0] if extra else errs[0]  # a misspelled key before the field it misses
    # a union (list | range) reports per branch; name the path, not the branch
    loc = [str(x) for x in err["loc"] if not branch(x)]
    where = short(".".join(loc) or "spec", MAX_TEXT)
    if err["type"] == "extra_forbidden":
        known = model_fields_at(Spec, [x for x in loc[:-1] if not x.isdigit()])
        if loc[:1] == ["axes"] and len(loc) == 3:  # axes.<name>.<key>: a range's keys
            known = list(Range.model_fields)
        near = close_names(loc[-1], known)
        if near:
            return InputError(src, where, f"a known field (did you mean {' or '.join(near)}?)")
        return InputError(src, where, "a known field (see README.md, Sweeps and search)")
    if err["type"] == "missing":
        return InputError(src, where, "a value (required field is missing)")
    msg = err["msg"].removeprefix("Value error, ")
    return InputError(src, where, f"{msg} (got {quote(err.get('input'))})")


def grid_size(spec: Spec) -> int:
    """Points of the spec's grid (product of the axis lengths), computed without building
    it; a range without `num` counts as one (build_points names it)."""
    lens = [len(v) if isinstance(v, list) else (v.num or 1) for v in spec.axes.values()]
    lens += [len(next(iter(g.values()), [])) for g in spec.linked]
    n = 1
    for k in lens:
        n *= k
        if n > MAX_POINTS:  # enough to refuse it (and the product stays a small integer)
            return n
    return n


def _check_axis_name(source: str, where: str, name: str) -> None:
    parts = name.split(".")
    if len(name) > MAX_TEXT or not name or any(not p for p in parts):
        raise InputError(
            source, short(where, MAX_TEXT), "a dotted field path like pe_array.rows (or wq, ...)"
        )


def parse_spec(raw: Any, source: str, base_dir: Path | None = None) -> Spec:
    """Validate a spec dict; the arch-level checks of each point happen in points.py."""
    if not isinstance(raw, dict):
        raise InputError(source, "(top level)", "a mapping of spec fields")
    try:
        spec = Spec.model_validate(raw)
    except ValidationError as e:
        raise _pydantic_error(source, e) from None
    except RecursionError:
        raise InputError(source, "spec", "values nested at most a few levels deep") from None
    base = spec.base
    if base_dir is not None and base.endswith((".yaml", ".yml")):
        p = Path(base)
        if not p.is_absolute() and is_file(base_dir / p):
            spec = spec.model_copy(update={"base": str(base_dir / p)})
    for i, group in enumerate(spec.linked):
        lens = {len(v) for v in group.values()}
        if len(lens) != 1 or 0 in lens:
            raise InputError(source, f"linked.{i}", "axes of equal, non-zero length")
        for k in group:
            if k in spec.axes:
                raise InputError(source, f"linked.{i}.{k}", "an axis named only once")
    for name, vals in spec.axes.items():
        _check_axis_name(source, f"axes.{name}", name)
        if isinstance(vals, list) and not vals:
            raise InputError(source, f"axes.{name}", "a non-empty list of values or a range")
    for i, group in enumerate(spec.linked):
        for k in group:
            _check_axis_name(source, f"linked.{i}.{k}", k)
    axis_names = set(spec.axis_names())
    if not axis_names:
        raise InputError(source, "axes", "at least one axis (one configuration alone is `sim run`)")
    if spec.sampling.method == "grid" and grid_size(spec) > MAX_POINTS:
        raise InputError(
            source,
            "axes",
            f"a grid of at most {MAX_POINTS} points (the product of the axis lengths is "
            "larger; give fewer values, or sampling random/lhs with n)",
        )
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
    from workloads.accuracy import MODELS as ACCURACY_MODELS

    if spec.accuracy.model not in ACCURACY_MODELS:  # a typo would leave perplexity NaN
        raise InputError(
            source,
            "accuracy.model",
            f"one of {', '.join(ACCURACY_MODELS)} (got {quote(spec.accuracy.model)})",
        )
    # perplexity is filled only when the formats vary (else every row holds NaN)
    uses = [f"objectives.{n}" for n in spec.objectives if n == "perplexity"]
    uses += [
        f"constraints.{i}"
        for i, c in enumerate(spec.constraints)
        if parse_constraint(c)[0] == "perplexity"
    ]
    if uses and not spec.formats_vary:
        raise InputError(
            source, uses[0], "perplexity only with a wq, aq or kvq axis (the formats must vary)"
        )
    if spec.objective_phase not in spec.phases:
        raise InputError(source, "objective_phase", f"one of phases {spec.phases}")
    return spec


def load_spec(path: str | Path, overrides: dict | None = None) -> Spec:
    """Read and validate a spec file; `overrides` (top-level keys) replace its fields."""
    p = Path(path)
    src = short(str(path))
    raw = load_yaml_file(p, src)  # missing, FIFO, directory, too big: InputError
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
