"""Multi-objective search over a spec's axes with Optuna (NSGA-II by default, TPE with
`search: {sampler: tpe}`), the spec's constraints passed as Optuna constraints
(`Trial.set_constraint`, read by both samplers: value <= 0 is feasible). Trials are
evaluated through the same points, executor and Parquet store as `sweep`: a point
already in the store (from this search, an earlier one or a sweep into the same --out)
is read back, never recomputed.

    from sim import search
    df = search("examples/search.yaml", "out/search", trials=200)

Every axis value (list entries, range ends, linked tuples) is validated against the base
arch before the first trial; a combination that still fails is a failed trial, recorded
in the store with its error.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import pandas as pd

from common.errors import InputError
from common.files import check_output, write_atomic
from sim.dse.points import PointBuilder
from sim.dse.run import _spec_yaml, check_workers, evaluate_into_store, executor, resolve_spec
from sim.dse.spec import MAX_POINTS, Range, Spec, constraint_violation, parse_constraint
from sim.dse.store import Store

# trials of one search: as many points as a sweep may have (sim/dse/spec.py MAX_POINTS);
# Optuna keeps every trial in memory and NSGA-II sorts each generation against them.
MAX_TRIALS = MAX_POINTS


def _validate_axes(spec: Spec, builder: PointBuilder) -> None:
    for name, vals in spec.axes.items():
        for v in [vals.cast(vals.low), vals.cast(vals.high)] if isinstance(vals, Range) else vals:
            builder.point({name: v})
    for g in spec.linked:
        for combo in zip(*g.values()):
            builder.point(dict(zip(g, combo)))


def _ordered(vals: list) -> bool:
    return len(vals) > 1 and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in vals
    )


def _suggest(trial, spec: Spec) -> dict:
    values: dict = {}
    for name, vals in spec.axes.items():
        if isinstance(vals, Range):
            if vals.int:
                values[name] = trial.suggest_int(
                    name, int(round(vals.low)), int(round(vals.high)), log=vals.log
                )
            else:
                values[name] = trial.suggest_float(name, vals.low, vals.high, log=vals.log)
        elif _ordered(vals):  # numbers: an index Optuna can treat as ordered
            vs = sorted(vals)
            values[name] = vs[trial.suggest_int(f"{name}#index", 0, len(vs) - 1)]
        else:
            values[name] = trial.suggest_categorical(name, vals)
    for i, g in enumerate(spec.linked):
        j = trial.suggest_categorical(f"linked.{i}", list(range(len(next(iter(g.values()))))))
        values.update({k: v[j] for k, v in g.items()})
    return values


def search(
    spec: Spec | str | Path | dict,
    out: str | Path,
    trials: int = 100,
    workers: int = 0,
    scheduler: str | None = None,
    progress: bool | None = None,
    overrides: dict | None = None,
) -> pd.DataFrame:
    """Run `trials` trials; returns one row per trial (objective phase) with `trial` and
    `feasible` columns; `df.attrs['search']` holds counts and seconds."""
    import optuna
    from optuna.trial import TrialState

    t0 = time.perf_counter()
    check_workers(workers)
    spec, source = resolve_spec(spec, overrides)
    if not spec.objectives:
        raise InputError(source, "objectives", "at least one objective to search")
    if isinstance(trials, bool) or not isinstance(trials, int) or not 1 <= trials <= MAX_TRIALS:
        raise InputError("--trials", str(trials)[:80], f"an integer in [1, {MAX_TRIALS}]")
    builder = PointBuilder(spec, source)
    _validate_axes(spec, builder)
    store = Store(out)
    store.keys()  # a part file that is not ours is refused before the first trial
    for name in ("_spec.yaml", "_trials.csv"):  # written later: refused targets fail now
        check_output(Path(out) / name, "file", store.source)
    names = list(spec.objectives)
    directions = ["maximize" if s == "max" else "minimize" for s in spec.objectives.values()]
    cons = [parse_constraint(c) for c in spec.constraints]

    if spec.search.sampler == "tpe":
        sampler = optuna.samplers.TPESampler(seed=spec.search.seed, multivariate=True)
    else:
        sampler = optuna.samplers.NSGAIISampler(
            population_size=spec.search.population, seed=spec.search.seed
        )
    optuna.logging.set_verbosity(logging.WARNING)
    study = optuna.create_study(directions=directions, sampler=sampler)
    # trials asked at once: enough to keep every worker busy with a few points each
    batch = 4 * max(1, workers) if scheduler is None else 16
    if spec.search.sampler == "nsga2":
        batch = min(batch, spec.search.population)  # never beyond one generation
    stats = {"trials": 0, "computed": 0, "reused": 0, "failed": 0}
    records = []
    from tqdm import tqdm

    from common.progress import enabled as progress_enabled

    bar = tqdm(
        total=trials,
        unit="trial",
        desc="search",
        file=sys.stderr,
        disable=not (progress_enabled() if progress is None else progress),
    )
    with executor(workers, scheduler, n_points=trials) as run:
        # written once the scheduler answered: a refused run leaves --out as it was
        write_atomic(Path(out) / "_spec.yaml", _spec_yaml(spec), store.source)
        done = 0
        while done < trials:
            asked = [study.ask() for _ in range(min(batch, trials - done))]
            pts = []
            for t in asked:
                try:
                    pts.append(builder.point(_suggest(t, spec)))
                except InputError:
                    pts.append(None)
            valid = [p for p in pts if p is not None]
            st = evaluate_into_store(valid, spec, store, run, progress=False, desc="trials")
            stats["computed"] += st["computed"]
            stats["reused"] += len(valid) - st["computed"]  # stored, or asked twice
            rows = _rows_by_point(store, {p.row_key(spec.objective_phase) for p in valid})
            for t, p in zip(asked, pts):
                row = rows.get(p.key) if p is not None else None
                # an objective Optuna cannot rank (NaN: e.g. no cached perplexity) fails the
                # trial here, instead of Optuna's warning on stderr
                if (
                    row is None
                    or isinstance(row.get("error"), str)
                    or any(float(row[n]) != float(row[n]) for n in names)
                ):
                    study.tell(t, state=TrialState.FAIL)
                    stats["failed"] += 1
                    continue
                viol = [constraint_violation(float(row[c]), op, b) for c, op, b in cons]
                for text, v in zip(spec.constraints, viol):  # Optuna: <= 0 is feasible
                    t.set_constraint(text, v)
                t.set_user_attr("point_key", p.key)
                study.tell(t, [float(row[n]) for n in names])
                records.append({**row, "trial": t.number, "feasible": all(v <= 0 for v in viol)})
            done += len(asked)
            bar.update(len(asked))
    bar.close()
    stats["trials"] = done
    stats["seconds"] = round(time.perf_counter() - t0, 3)
    df = pd.DataFrame(records)
    if not df.empty:  # which stored rows this search's trials were (the store is shared)
        keep = ["trial", "point_key", "key", "feasible", *names]
        write_atomic(Path(out) / "_trials.csv", df[keep].to_csv(index=False))
    df.attrs["search"] = stats
    return df


def _rows_by_point(store: Store, keys: set[str]) -> dict[str, dict]:
    return {r["point_key"]: r for r in store.rows(keys).values()}
