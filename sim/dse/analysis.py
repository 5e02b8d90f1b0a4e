"""Analysis of a result table: Pareto front, per-axis sensitivity, best point per
constraint. Pure pandas/numpy on the store's columns (README.md, "Sweeps and search").

    from sim import pareto
    front = pareto(df[df.phase == "total"], ["tokens_per_s", "energy_per_token_j"],
                   ["max", "min"])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from common.errors import InputError
from sim.dse.spec import constraint_ok, parse_constraint


def _check(df: pd.DataFrame, objectives: Sequence[str], senses: Sequence[str] | None) -> list:
    if not 2 <= len(objectives) <= 3:
        raise InputError("pareto", "objectives", "2 or 3 column names")
    for c in objectives:
        if c not in df.columns:
            raise InputError("pareto", c, "a column of the table")
    senses = list(senses) if senses is not None else ["min"] * len(objectives)
    if len(senses) != len(objectives) or any(s not in ("min", "max") for s in senses):
        raise InputError("pareto", "senses", "one of min/max per objective")
    return senses


def pareto_mask(values: np.ndarray) -> np.ndarray:
    """Non-dominated rows of `values` (n x d, every column minimized): row i is dominated
    when some row is <= in every column and < in at least one. Equal rows are kept."""
    n = len(values)
    keep = np.ones(n, dtype=bool)
    for start in range(0, n, 512):  # blocks keep memory at 512 x n x d
        blk = values[start : start + 512]
        le = (values[None, :, :] <= blk[:, None, :]).all(axis=2)
        lt = (values[None, :, :] < blk[:, None, :]).any(axis=2)
        keep[start : start + 512] = ~(le & lt).any(axis=1)
    return keep


def pareto(
    df: pd.DataFrame, objectives: Sequence[str], senses: Sequence[str] | None = None
) -> pd.DataFrame:
    """Rows of `df` on the Pareto front of 2 or 3 objective columns (`senses`: "min" or
    "max" each, default all "min"); rows with a NaN objective are left out. Sorted by the
    first objective (best first)."""
    senses = _check(df, objectives, senses)
    sub = df.dropna(subset=list(objectives))
    if sub.empty:
        return sub
    vals = np.column_stack(
        [sub[c].to_numpy(float) * (-1.0 if s == "max" else 1.0) for c, s in zip(objectives, senses)]
    )
    front = sub[pareto_mask(vals)]
    return front.sort_values(objectives[0], ascending=senses[0] == "min")


def dominates(a: Sequence[float], b: Sequence[float], senses: Sequence[str]) -> bool:
    """True when point a is at least as good as b everywhere and better somewhere."""
    sa = [x if s == "min" else -x for x, s in zip(a, senses)]
    sb = [x if s == "min" else -x for x, s in zip(b, senses)]
    return all(x <= y for x, y in zip(sa, sb)) and any(x < y for x, y in zip(sa, sb))


def sensitivity(df: pd.DataFrame, axes: Sequence[str], objectives: Sequence[str]) -> pd.DataFrame:
    """How much each objective moves along each axis: for axis a and objective o, the
    range of the medians of o over the rows sharing each value of a, divided by the median
    of o over all rows (0 = no effect; 1 = the axis moves o by its whole typical size).
    One row per axis, one column per objective; rows sorted by the first objective."""
    ok = df[df["error"].isna()] if "error" in df.columns else df
    out = {}
    for a in axes:
        col = a if a in ok.columns else f"axis.{a}"
        if col not in ok.columns:
            raise InputError("sensitivity", a, "an axis column of the table")
        row = {}
        for o in objectives:
            med = ok.groupby(col)[o].median()
            overall = ok[o].median()
            row[o] = float((med.max() - med.min()) / abs(overall)) if overall else float("nan")
        row["values"] = int(ok[col].nunique())
        out[a] = row
    res = pd.DataFrame.from_dict(out, orient="index")
    res.index.name = "axis"
    return res.sort_values(objectives[0], ascending=False) if len(objectives) else res


def best_per_constraint(
    df: pd.DataFrame, objective: str, sense: str, constraints: Sequence[str]
) -> pd.DataFrame:
    """For each constraint ('area_mm2 <= 10'), the best row by `objective` among the rows
    that satisfy it (and, last, under all constraints at once). Index: the constraint."""
    ok = df.dropna(subset=[objective])
    rows, names = [], []
    parsed = [(c, *parse_constraint(c)) for c in constraints]
    sets = [(c, [(col, op, b)]) for c, col, op, b in parsed]
    if len(parsed) > 1:
        sets.append(("all", [(col, op, b) for _, col, op, b in parsed]))
    for name, conds in sets:
        m = np.ones(len(ok), dtype=bool)
        for col, op, b in conds:
            m &= np.array([constraint_ok(v, op, b) for v in ok[col].to_numpy(float)], dtype=bool)
        sat = ok[m]
        if sat.empty:
            continue
        i = sat[objective].idxmax() if sense == "max" else sat[objective].idxmin()
        rows.append(ok.loc[i])
        names.append(name)
    res = pd.DataFrame(rows, columns=df.columns)  # the columns even when no row qualifies
    res.index = pd.Index(names, name="constraint")
    return res
