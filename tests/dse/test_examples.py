"""Every file of examples/ runs (reduced: fewer points, a small model)."""

from __future__ import annotations

import importlib.util

import pandas as pd
import pytest

from sim.dse.analysis import dominates

from .conftest import ROOT, run_sim

SMALL = [
    "--set",
    "workload.model=smollm2-135m",
    "--set",
    "workload.prefill=16",
    "--set",
    "workload.decode=2",
]


def test_sweep_example_spec(tmp_path):
    from sim.dse.points import build_points
    from sim.dse.spec import load_spec

    spec = load_spec(ROOT / "examples/sweep-bitserial.yaml")
    assert len(build_points(spec, "sweep")) == 576  # the acceptance sweep's size
    r = run_sim(
        "sweep", "examples/sweep-bitserial.yaml", "--out", tmp_path / "o", "--sample", "6", *SMALL
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("6 points: 6 computed")
    df = pd.read_parquet(tmp_path / "o")
    assert len(df) == 18 and set(df.phase) == {"prefill", "decode", "total"}
    assert df.error.isna().all()


def test_search_example_spec(tmp_path):
    r = run_sim("search", "examples/search.yaml", "--out", tmp_path / "s", "--trials", "6", *SMALL)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("6 trials:")


def test_dse_script(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("dse_example", ROOT / "examples/dse.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    df = mod.main(
        [
            "--out",
            str(tmp_path / "d"),
            "--model",
            "smollm2-135m",
            "--prefill",
            "16",
            "--decode",
            "2",
        ]
    )
    assert len(df) == 18
    out = capsys.readouterr().out
    n_front = int(out.split(" designs, ")[1].split()[0])
    # brute-force front: rows no other row dominates
    objs = list(zip(df.tokens_per_s, df.energy_per_token_j))
    brute = [p for p in objs if not any(dominates(q, p, ["max", "min"]) for q in objs)]
    assert n_front == len(brute)
    assert "'computed': 18" in out
    # the script's designs and the stored sweep agree: both map exactly
    stored = pd.read_parquet(tmp_path / "d")
    stored = stored[stored.phase == "total"].set_index(
        ["axis.pe_array.rows", "axis.pe_array.lanes", "axis.memory.dram.bandwidth_gb_s"]
    )
    for r in df.itertuples():
        got = stored.loc[(r.rows, r.lanes, r.bw_gb_s)]
        assert got.tokens_per_s == pytest.approx(r.tokens_per_s, rel=1e-12)
        assert got.mapper == "exact"
