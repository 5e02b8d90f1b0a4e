"""Sweeps: a real Dask LocalCluster on the loopback interface, resume after SIGKILL with
nothing lost or duplicated, the store's keys, spec validation errors (exit 2, one line,
the dotted path), and search sharing the store."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pandas as pd
import pytest
import yaml

from sim import search, sweep
from sim.dse.points import build_points
from sim.dse.run import executor, resolve_spec
from sim.dse.store import read_results

from .conftest import SIM, TINY, run_sim

METRICS = ["time_s", "tokens_per_s", "energy_j", "energy_per_token_j", "area_mm2"]


def _by_key(df: pd.DataFrame) -> pd.DataFrame:
    return df.set_index("key").sort_index()


def test_dask_localcluster_two_workers_loopback(tmp_path):
    """18 points (> TINY_POINTS) on 2 worker processes; every row equals the row computed
    in-process (the same simulation, so bit-identical floats)."""
    spec, src = resolve_spec(TINY)
    pts = build_points(spec, src)
    assert len(pts) == 3 * 2 * 3  # lanes x bandwidth x linked (rows, cols)
    with executor(workers=2, n_points=len(pts)) as run:
        info = run.client.scheduler_info()
        assert info["address"].startswith("tcp://127.0.0.1:")
        assert len(info["workers"]) == 2
        assert all(a.startswith("tcp://127.0.0.1:") for a in info["workers"])
        rows = [r for batch in run([pts[i : i + 4] for i in range(0, 18, 4)]) for r in batch]
    dask_df = _by_key(pd.DataFrame(rows))
    local = _by_key(sweep(TINY, tmp_path / "local", workers=0))
    assert len(dask_df) == len(local) == 18 * 3  # prefill, decode, total rows
    assert (dask_df.error.isna()).all()
    pd.testing.assert_frame_equal(dask_df[METRICS], local[METRICS])


def test_sweep_with_workers_through_the_cli(tmp_path, tiny_spec):
    r = run_sim("sweep", tiny_spec, "--out", tmp_path / "o", "--workers", "2")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("18 points: 18 computed, 0 already stored, 0 errored")
    df = pd.read_parquet(tmp_path / "o")  # plain pandas reads the store
    assert len(df) == 54 and df.key.is_unique
    r2 = run_sim("sweep", tiny_spec, "--out", tmp_path / "o", "--workers", "2")
    assert r2.stdout.startswith("18 points: 0 computed, 18 already stored, 0 errored")


def test_sigkill_mid_sweep_resumes_without_loss_or_duplicates(tmp_path, tiny_spec):
    out = tmp_path / "killed"
    cmd = [*SIM, "sweep", str(tiny_spec), "--out", str(out), "--set", "batch_points=1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while time.time() < deadline:
        if len(list(out.glob("part-*.parquet"))) >= 3 or proc.poll() is not None:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = read_results(out)
    n_before = before.point_key.nunique()
    assert 3 <= n_before < 18, "the kill must land mid-sweep"
    assert len(before) == 3 * n_before  # whole points only: every part is complete

    r = run_sim("sweep", tiny_spec, "--out", out)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"18 points: {18 - n_before} computed, {n_before} already stored")
    after = pd.read_parquet(out)
    assert len(after) == 54 and after.key.is_unique  # nothing lost, nothing duplicated
    fresh = _by_key(sweep(TINY, tmp_path / "fresh"))
    pd.testing.assert_frame_equal(_by_key(after)[METRICS], fresh[METRICS])


def test_store_dedupes_racing_writers(tmp_path):
    from sim.dse.store import Store

    df = sweep(TINY, tmp_path / "a")
    rows = df.to_dict("records")
    Store(tmp_path / "b").write(rows[:30])
    Store(tmp_path / "b").write(rows)  # a second writer that did not see the first part
    assert len(list((tmp_path / "b").glob("part-*.parquet"))) == 2
    got = read_results(tmp_path / "b")
    assert len(got) == len(rows) and got.key.is_unique


def test_keys_are_content_hashes(tmp_path):
    """Same inputs, same key whatever the axis order; a changed input, a new key."""
    spec, src = resolve_spec(TINY)
    a = {p.key for p in build_points(spec, src)}
    flipped = dict(TINY, axes=dict(reversed(list(TINY["axes"].items()))))
    spec2, _ = resolve_spec(flipped)
    assert {p.key for p in build_points(spec2, src)} == a
    spec3, _ = resolve_spec(dict(TINY, workload={**TINY["workload"], "decode": 3}))
    assert not ({p.key for p in build_points(spec3, src)} & a)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"axes": {"pe_array.lanes": [2, -4]}}, "axes.pe_array.lanes"),
        ({"axes": {"pe_array.params.bogus": [1]}}, "axes.pe_array.params.bogus"),
        ({"axes": {"memory.dram.efficiency": [0.5, 1.5]}}, "axes.memory.dram.efficiency"),
        ({"axes": {"wq": ["int4-g128", "int77"]}}, "axes.wq"),
        ({"axes": {"model": ["no-such-model"]}}, "axes.model"),
        ({"constraints": ["area_mm2 ~ 3"]}, "constraints.0"),
        ({"objectives": {"speed": "max"}}, "objectives.speed"),
        ({"sampling": {"method": "lhs"}}, "sampling"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_spec_errors_exit_2_one_line_with_the_path(tmp_path, change, field):
    spec = {**TINY, **change}
    if "axes" in change:
        spec["axes"] = {**TINY["axes"], **change["axes"]}
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(spec))
    r = run_sim("sweep", p, "--out", tmp_path / "o")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"error: {p}: {field}: "), lines[0]
    assert not (tmp_path / "o").exists()  # validated before anything ran


def test_search_shares_the_store_with_a_sweep(tmp_path):
    """A search into a sweep's directory computes nothing: every point it proposes is in
    the exhaustive sweep's store, and its rows are those rows."""
    out = tmp_path / "shared"
    swept = _by_key(sweep(TINY, out))
    found = search(dict(TINY, phases=["prefill", "decode", "total"]), out, trials=24)
    st = found.attrs["search"]
    assert st == {**st, "trials": 24, "computed": 0, "reused": 24, "failed": 0}
    got = found.set_index("key")
    pd.testing.assert_frame_equal(got[METRICS], swept.loc[got.index, METRICS])
    # feasibility is the constraint area_mm2 <= 8 on each row
    assert (found.feasible == (found.area_mm2 <= 8)).all()


def test_search_never_recomputes_a_point(tmp_path):
    found = search(TINY, tmp_path / "s", trials=30)
    st = found.attrs["search"]
    keys = found.point_key.nunique()
    assert st["computed"] == keys  # each distinct point simulated once
    assert st["computed"] + st["reused"] == 30
    assert len(read_results(tmp_path / "s")) == 3 * keys
