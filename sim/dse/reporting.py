"""Glue between results and the report builder (reports/build.py): SimResult -> RunData,
the sweep/search report (`sim report`) and the compare report (`sim compare --report`).
The per-op figures need per-op rows, which the store does not keep: the few designs
shown (the baseline and the best points of the front) are simulated again here."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from common.errors import InputError
from common.files import check_output
from common.inputs import load_yaml_file, path_exists, quote, short
from reports.build import RunData, write_report
from sim.dse.analysis import best_per_constraint, pareto, pareto_mask, sensitivity
from sim.dse.spec import Spec
from sim.mappers import MAPPERS

MAX_LABEL = 60  # characters of a design's label in figures and tables (_slug cuts at 60)

SUMMARY_COLUMNS = [
    "label",
    "total_time_s",
    "ttft_s",
    "tpot_s",
    "tokens_per_s",
    "energy_j",
    "energy_per_token_j",
    "area_mm2",
]


def run_data(res, label: str, accel) -> RunData:
    """RunData of one SimResult on its Accelerator."""
    try:
        from workloads.zoo import load_model_shape

        layers = load_model_shape(res.model).layers
    except InputError:  # a trace or an op list: no zoo shape
        layers = 1
    return RunData(
        label=label,
        ops=res.to_dataframe(),
        model=res.model,
        prefill=res.prefill,
        decode=res.decode,
        batch=res.batch,
        formats=dict(res.formats),
        layers=layers,
        peak_ops_per_s=2.0 * res.peak_macs_per_cycle * res.frequency_hz,
        dram_bytes_per_s=accel.dram_bytes_per_cycle * accel.frequency_hz,
    )


def _summary_row(res, label: str) -> dict:
    s = res.summary()
    return {"label": label, **{k: s[k] for k in SUMMARY_COLUMNS[1:]}}


def point_label(row: pd.Series, axes: list[str]) -> str:
    """Short label of a design point from its axis values (e.g. 16x64x4 bw=32 wq=int4)."""
    parts = []
    short = {"memory.dram.bandwidth_gb_s": "bw", "frequency_mhz": "f"}
    for a in axes:
        v = row.get(f"axis.{a}")
        if v is None or (isinstance(v, float) and v != v):
            continue
        name = short.get(a, a.split(".")[-1])
        parts.append(f"{name}={v:.4g}" if isinstance(v, float) else f"{name}={v}")
    label = " ".join(parts) or str(row.get("arch", "?"))
    # a figure label, not a record: long axis values (names) are cut
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def _mapper(results: Path, row) -> str:
    """The mapper a stored row ran ("default" in stores of STORE_VERSION 3 = "fast")."""
    got = row.get("mapper", "fast")
    got = "fast" if got == "default" else got
    if got not in MAPPERS:
        raise InputError(short(str(results)), "mapper", f"one of {', '.join(MAPPERS)}")
    return got


def _simulate_row(results: Path, simulate, *args, **kwargs):
    """`simulate` of a stored row's workload: a model or format the store names but this
    `sim` does not know is an error of the results, named as such."""
    try:
        return simulate(*args, **kwargs)
    except InputError as e:
        if e.source not in ("model", "format"):
            raise
        raise InputError(short(str(results)), e.source, f"{e.field}: {e.expected}") from None


def check_report_out(results: Path, out: str | Path) -> None:
    """--out is a new name or a directory to replace (never a file, device or FIFO), and
    neither the results directory, nor one holding it, nor one inside it: the report
    replaces --out as a whole, so any of these would delete (or be read as) results."""
    check_output(out, "directory")
    try:
        r, o = Path(os.path.realpath(results)), Path(os.path.realpath(out))
    except (OSError, ValueError) as e:
        raise InputError("--out", short(str(out)), f"a usable path ({e})") from None
    if o == r or o in r.parents or r in o.parents:
        raise InputError(
            "--out",
            short(str(out)),
            f"a directory apart from RESULTS {short(str(results))} (it would replace them)",
        )


def _stored_spec(path: Path) -> Spec:
    """The spec a sweep stored beside its results (`_spec.yaml`), validated like any spec."""
    from sim.dse.spec import parse_spec

    src = short(str(path))
    return parse_spec(load_yaml_file(path, src), src)


def sweep_report(
    results: str | Path,
    out: str | Path,
    objectives: dict[str, str] | None = None,
    phase: str | None = None,
    top: int = 4,
) -> Path:
    """Report of a sweep/search output directory: Pareto scatter, tables (front,
    sensitivity, best per constraint), and per-op figures of the base arch and the first
    `top` front points (simulated again)."""
    from arch.arch import Arch
    from sim.api import simulate
    from sim.dse.store import read_results

    results = Path(results)
    check_report_out(results, out)
    df = read_results(results)
    stale = 0
    if "engine_version" in df.columns and df["engine_version"].nunique() > 1:
        newest = df["engine_version"].iloc[-1]  # parts are read oldest first
        stale = int((df["engine_version"] != newest).sum())
        df = df[df["engine_version"] == newest]
    spec_path = results / "_spec.yaml"
    spec = _stored_spec(spec_path) if path_exists(spec_path) else None
    objectives = objectives or (dict(spec.objectives) if spec else {})
    if len(objectives) < 2:
        raise InputError(short(str(results)), "objectives", "two or three objectives (--objective)")
    for c in objectives:
        if c not in df.columns:
            raise InputError("--objective", quote(c), "a column of the results")
        if not pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c]):
            raise InputError("--objective", quote(c), "a numeric column of the results")
    phase = phase or (spec.objective_phase if spec else "total")
    axes = spec.axis_names() if spec else []
    t = df[(df.phase == phase) & df["error"].isna()].copy()
    if t.empty:
        raise InputError(str(results), "phase", f"rows without error in phase {phase}")
    t["label"] = [point_label(r, axes) for _, r in t.iterrows()]
    cons = list(spec.constraints) if spec else []
    if cons:
        from sim.dse.spec import constraint_ok, parse_constraint

        feas = pd.Series(True, index=t.index)
        for c in cons:
            col, op, b = parse_constraint(c)
            feas &= t[col].map(lambda v, op=op, b=b: constraint_ok(v, op, b))
        t["feasible"] = feas
    else:
        t["feasible"] = True
    objs = list(objectives)[:3]
    senses = [objectives[o] for o in objs]
    import numpy as np

    vals = np.column_stack(
        [t[c].to_numpy(float) * (-1.0 if s == "max" else 1.0) for c, s in zip(objs, senses)]
    )
    mask = np.zeros(len(t), dtype=bool)
    fe = t["feasible"].to_numpy(bool)
    mask[fe] = pareto_mask(vals[fe])
    front = pareto(t[t.feasible], objs, senses)
    show_cols = ["label", *objs, "area_mm2", "energy_j", "wq", "aq", "kvq"]
    show_cols = list(dict.fromkeys(c for c in show_cols if c in t.columns))
    tables = {"Pareto front": front[show_cols].head(30)}
    if axes:
        sens = sensitivity(t, axes, objs).reset_index()
        tables["Sensitivity (range of per-value medians / overall median)"] = sens
    if cons:
        best = best_per_constraint(t, objs[0], senses[0], cons).reset_index()
        tables[f"Best {objs[0]} per constraint"] = best[["constraint", *show_cols]]
    # per-op figures: the base arch and the first `top` front points
    first = t.iloc[0]
    w = {k: first[k] for k in ("model", "prefill", "decode", "batch")}
    runs, summary = [], []
    if spec is not None:
        try:
            base = Arch.load(spec.base)
        except InputError as e:
            if e.field not in ("arch", "file"):  # inside the arch YAML: it names its field
                raise
            raise InputError(short(str(spec_path)), "base", e.expected) from None
        res = _simulate_row(
            results,
            simulate,
            base,
            w["model"],
            prefill=int(w["prefill"]),
            decode=int(w["decode"]),
            batch=int(w["batch"]),
            wq=first["wq"],
            aq=first["aq"],
            kvq=first["kvq"],
            mapper=_mapper(results, first),
        )
        runs.append(run_data(res, f"base {base.name}", base.accelerator))
        summary.append(_summary_row(res, runs[-1].label))
    for _, r in front.head(top).iterrows():
        try:
            arch_raw = json.loads(r["arch_json"])
        except (json.JSONDecodeError, RecursionError):
            raise InputError(short(str(results)), "arch_json", "the JSON of an arch") from None
        arch = Arch.from_dict(arch_raw, f"{short(str(results))}: arch_json")
        res = _simulate_row(
            results,
            simulate,
            arch,
            r["model"],
            prefill=int(r["prefill"]),
            decode=int(r["decode"]),
            batch=int(r["batch"]),
            wq=r["wq"],
            aq=r["aq"],
            kvq=r["kvq"],
            mapper=_mapper(results, r),
        )
        runs.append(run_data(res, r["label"], arch.accelerator))
        summary.append(_summary_row(res, r["label"]))
    summ = pd.DataFrame(summary)
    tables["Designs shown below"] = summ
    n_err = int(df[df.phase == phase]["error"].notna().sum())
    name = spec.name if spec else results.name
    notes = [
        f"{len(t)} design points in phase {phase} ({n_err} errored, not shown); "
        f"{int(t.feasible.sum())} satisfy the constraints {cons or '(none)'}; "
        f"{len(front)} on the Pareto front.",
    ]
    if stale:
        notes.append(f"{stale} rows of older engine versions in {results} are not shown.")
    return write_report(
        out,
        f"{name}: {', '.join(f'{o} ({s})' for o, s in objectives.items())}",
        table=t,
        objectives={o: objectives[o] for o in objs},
        front_mask=mask,
        summary=summ if len(summ) > 1 else None,
        baseline=summ["label"].iloc[0] if len(summ) else None,
        runs=runs,
        tables=tables,
        notes=notes,
    )


def compare_report(
    df: pd.DataFrame,
    model: str,
    prefill: int,
    decode: int,
    batch: int,
    out: str | Path,
    title: str,
    extra_fill=None,
) -> Path:
    """Report of a `sim compare` table (one row per arch; first row = baseline unless
    df.attrs['baseline']): each arch simulated again in the formats of its row, with the
    table's mapper (df.attrs['mapper'])."""
    from arch.accelerator import load_accelerator
    from sim.api import simulate

    runs, summary = [], []
    for _, r in df.iterrows():
        accel = load_accelerator(df.attrs.get("sources", {}).get(r["arch"], r["arch"]))
        res = simulate(
            accel,
            model,
            prefill=prefill,
            decode=decode,
            batch=batch,
            wq=r["wq"],
            aq=r["aq"],
            kvq=r["kvq"],
            mapper=df.attrs.get("mapper", "fast"),
        )
        runs.append(run_data(res, r["arch"], accel))
        summary.append(_summary_row(res, r["arch"]))
    summ = pd.DataFrame(summary)
    base = df.attrs.get("baseline", df["arch"].iloc[0])
    if base not in set(summ["label"]):
        base = summ["label"].iloc[0]
    return write_report(
        out,
        title,
        summary=summ,
        baseline=base,
        runs=runs,
        tables={"Compared designs": df},
        source="--report",
        extra_fill=extra_fill,
    )
