"""Pareto front, sensitivity and best-per-constraint on hand-made tables (every expected
value worked out by hand in the comments)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from common.errors import InputError
from sim import pareto
from sim.dse.analysis import best_per_constraint, dominates, sensitivity


def _table():
    # x: maximize, y: minimize
    #   A (10, 5)  front
    #   B ( 8, 3)  front (lowest y)
    #   C ( 6, 3)  dominated by B (same y, lower x)
    #   D (12, 9)  front (highest x)
    #   E ( 9, 6)  dominated by A (10 > 9, 5 < 6)
    #   F (10, 5)  equal to A: neither dominates the other, both kept
    #   G (NaN, 1) left out (NaN objective)
    #   H ( 7, 4)  dominated by A? 10 > 7 but 5 > 4: no; by B? 8 > 7 and 3 < 4: yes
    return pd.DataFrame(
        {
            "name": list("ABCDEFGH"),
            "x": [10, 8, 6, 12, 9, 10, math.nan, 7],
            "y": [5, 3, 3, 9, 6, 5, 1, 4],
            "z": [1, 1, 1, 1, 1, 1, 1, 0],
        }
    )


def test_pareto_two_objectives_hand_made():
    front = pareto(_table(), ["x", "y"], ["max", "min"])
    assert list(front["name"]) == ["D", "A", "F", "B"]  # sorted by x, best (max) first


def test_pareto_three_objectives_hand_made():
    # with z minimized, H (z=0) is better than everyone on z: it joins the front
    front = pareto(_table(), ["x", "y", "z"], ["max", "min", "min"])
    assert sorted(front["name"]) == ["A", "B", "D", "F", "H"]


def test_pareto_all_min_default_and_errors():
    df = pd.DataFrame({"a": [1, 2, 3, 1], "b": [3, 2, 1, 4]})
    # (1,4) is dominated by (1,3); the others trade off
    assert sorted(pareto(df, ["a", "b"]).index) == [0, 1, 2]
    with pytest.raises(InputError, match="2 or 3"):
        pareto(df, ["a"])
    with pytest.raises(InputError, match="nope"):
        pareto(df, ["a", "nope"])
    with pytest.raises(InputError, match="senses"):
        pareto(df, ["a", "b"], ["min", "up"])


def test_dominates():
    assert dominates((10, 5), (9, 6), ["max", "min"])
    assert not dominates((10, 5), (10, 5), ["max", "min"])
    assert not dominates((10, 5), (8, 3), ["max", "min"])


def test_sensitivity_hand_worked():
    # axis a: medians of t at a=1: median(10, 12) = 11; at a=2: median(20, 22) = 21
    # overall median of t over (10, 12, 20, 22) = 16 -> (21 - 11) / 16 = 0.625
    # axis b: b=1 rows t (10, 20) median 15; b=2 rows (12, 22) median 17 -> 2/16 = 0.125
    df = pd.DataFrame(
        {"axis.a": [1, 1, 2, 2], "axis.b": [1, 2, 1, 2], "t": [10, 12, 20, 22], "error": None}
    )
    s = sensitivity(df, ["a", "b"], ["t"])
    assert list(s.index) == ["a", "b"]
    assert s.loc["a", "t"] == pytest.approx(0.625)
    assert s.loc["b", "t"] == pytest.approx(0.125)
    assert list(s["values"]) == [2, 2]


def test_best_per_constraint_hand_worked():
    df = pd.DataFrame(
        {"tps": [100.0, 80.0, 60.0, 120.0], "area_mm2": [9.0, 5.0, 3.0, 12.0], "e": [3, 2, 1, 4]}
    )
    best = best_per_constraint(df, "tps", "max", ["area_mm2 <= 10", "e <= 2"])
    # area <= 10: rows 0,1,2 -> best tps 100; e <= 2: rows 1,2 -> 80; both: rows 1,2 -> 80
    assert list(best.index) == ["area_mm2 <= 10", "e <= 2", "all"]
    assert list(best["tps"]) == [100.0, 80.0, 80.0]
