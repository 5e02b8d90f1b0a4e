"""Issue 12 acceptance: SIGKILL at random points of `sim gemm --shapes ... --out` and
`sim run ... --out` leaves the previous output intact, and whatever a killed writer left
is a hidden, PID-tagged temporary that the next write in that directory removes
(common/files.py explains why a killed process cannot do better: it cannot clean up, so
content is written into an unnamed O_TMPFILE inode and only the final link/rename steps,
microseconds long, ever have a temporary name)."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from common.files import sweep
from tests.fuzz.corpus import ROOT

TAG = re.compile(r"^\..+\.sim-(\d+)-[^.]+\.(tmp|old)$")
KILLS = 4  # per command; each run lasts 2-4 s, killed at a uniform random time within it


def _sim(args: list[str], cwd: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-P", "-m", "sim", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _timed(args, cwd) -> float:
    t0 = time.perf_counter()
    p = _sim(args, cwd)
    assert p.wait(timeout=120) == 0
    return time.perf_counter() - t0


def _snapshot(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def _kill_loop(
    args, cwd: Path, expected: set[str], previous: dict, complete: dict, seed: int, duration: float
):
    """Kill the command KILLS times; after each kill the outputs are the previous ones or
    the complete new ones (when the run had already finished), and every extra entry is
    a PID-tagged temporary of the dead process, which `sweep` (the next write) removes."""
    rng = random.Random(seed)
    strays = 0
    for _ in range(KILLS):
        p = _sim(args, cwd)
        time.sleep(rng.uniform(0.2, duration + 0.1))
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=60)
        snap = _snapshot(cwd)
        outs = {k: v for k, v in snap.items() if k in expected}
        assert outs in (previous, complete), sorted(outs)
        extra = {e.name for e in cwd.iterdir()} - {n.split("/")[0] for n in expected}
        for name in extra:
            m = TAG.match(name)
            assert m and int(m.group(1)) == p.pid, name
        strays += len(extra)
        sweep(cwd)
        assert {e.name for e in cwd.iterdir()} <= {n.split("/")[0] for n in expected}
        for name, data in previous.items():
            (cwd / name).write_bytes(data)
    return strays


def test_sigkill_gemm_shapes_out(tmp_path):
    rows = [
        f"{m},{k},{n},int8,int8"
        for m in (1, 3, 16, 64)
        for k in range(64, 1600, 64)
        for n in (64, 256, 1024)
    ]
    (tmp_path / "in.csv").write_text("M,K,N,wq,aq\n" + "\n".join(rows) + "\n")
    args = ["gemm", "int8-systolic", "--shapes", "in.csv", "--out", "out.csv"]
    previous = {"out.csv": b"previous output\n"}
    (tmp_path / "out.csv").write_bytes(previous["out.csv"])
    inp = {"in.csv": (tmp_path / "in.csv").read_bytes()}
    d = tmp_path
    duration = _timed(args, d)
    complete = _snapshot(d)
    assert complete["out.csv"].count(b"\n") == len(rows) + 1 and duration > 0
    (d / "out.csv").write_bytes(previous["out.csv"])
    _kill_loop(args, d, {"out.csv", "in.csv"}, {**previous, **inp}, complete, 1, duration)


def test_sigkill_run_out_dir(tmp_path):
    args = [
        "run",
        "int8-systolic",
        "smollm2-135m",
        "--prefill",
        "64",
        "--decode",
        "64",
        "--out",
        "res",
    ]
    (tmp_path / "res").mkdir()
    previous = {f"res/{n}": b"previous\n" for n in ("result.json", "ops.csv", "summary.txt")}
    for k, v in previous.items():
        (tmp_path / k).write_bytes(v)
    duration = _timed(args, tmp_path)
    complete = _snapshot(tmp_path)
    assert sorted(complete) == sorted(previous) and complete != previous
    for k, v in previous.items():
        (tmp_path / k).write_bytes(v)
    _kill_loop(args, tmp_path, set(previous), previous, complete, 2, duration)


# ---- sim sweep --out (issue 12, the DSE commands) ------------------------------------------
SWEEP_SPEC = {
    "name": "killed",
    "base": "int8-systolic",
    # ~0.1 s a point (2-core VM): a kill 0-50 ms after a part lands lands mid-sweep
    "workload": {"model": "llama-2-7b", "prefill": 512, "decode": 32},
    "axes": {"pe_array.rows": [8, 16, 32, 64], "memory.dram.bandwidth_gb_s": [16, 32, 64]},
    "batch_points": 1,  # one part file per point: many commit points to kill between
}
SWEEP_KILLS = 5


def _store_state(out: Path) -> tuple[int, set[str]]:
    """(rows over every part file, distinct keys); each part must be a whole point."""
    import pyarrow.parquet as pq

    rows, keys = 0, set()
    for p in sorted(out.glob("part-*.parquet")):
        t = pq.read_table(p, columns=["key", "point_key"])
        assert t.num_rows == 3 and len(set(t.column("point_key").to_pylist())) == 1, p.name
        rows += t.num_rows
        keys.update(t.column("key").to_pylist())
    return rows, keys


def test_sigkill_sweep_out_resumes(tmp_path):
    """`sim sweep SPEC --out DIR` killed at random moments: the store only ever holds whole
    points, no row twice, and nothing but part files, `_spec.yaml` and PID-tagged
    temporaries of the dead process (removed by the next write); the resumed run computes
    only what is missing and ends with every row, equal to an uninterrupted run."""
    import pandas as pd
    import yaml

    (tmp_path / "s.yaml").write_text(yaml.safe_dump(SWEEP_SPEC))
    args = ["sweep", "s.yaml", "--out", "o"]
    ref = tmp_path / "ref"
    ref.mkdir()
    (ref / "s.yaml").write_text(yaml.safe_dump(SWEEP_SPEC))
    duration = _timed(args, ref)
    rng = random.Random(12)
    n = 12
    out = tmp_path / "o"
    stored_before, mid_sweep = 0, 0
    for i in range(SWEEP_KILLS):
        p = _sim(args, tmp_path)
        if i == 0:  # anywhere in the run, start-up included
            time.sleep(rng.uniform(0.3, duration))
        else:  # after a random number of further parts (each one point), + up to 50 ms
            if n - stored_before < 2:
                p.kill()
                p.wait(timeout=60)
                break
            want = stored_before + rng.randint(1, n - stored_before - 1)
            deadline = time.time() + 120
            while time.time() < deadline and p.poll() is None:
                if len(list(out.glob("part-*.parquet"))) >= want:
                    break
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.05))
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=60)
        if not out.exists():
            continue
        rows, keys = _store_state(out)
        assert rows == len(keys) and len(keys) >= 3 * stored_before  # no duplicates, no loss
        stored_before = len(keys) // 3  # points (3 phase rows each)
        mid_sweep += 0 < stored_before < n
        for e in out.iterdir():
            if e.name.startswith("part-") and e.name.endswith(".parquet") or e.name == "_spec.yaml":
                continue
            m = TAG.match(e.name)
            assert m and int(m.group(1)) == p.pid, e.name
    assert mid_sweep >= 2, "the kills must land mid-sweep"
    done = subprocess.run(
        [sys.executable, "-P", "-m", "sim", *args],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        f"{n} points: {n - stored_before} computed, {stored_before} already stored, 0 errored"
    ), done.stdout
    rows, keys = _store_state(tmp_path / "o")
    assert rows == len(keys) == 3 * n
    assert {e.name for e in (tmp_path / "o").iterdir() if not e.name.startswith("part-")} == {
        "_spec.yaml"
    }
    cols = ["key", "time_s", "energy_j", "tokens_per_s"]
    got = pd.read_parquet(tmp_path / "o")[cols].set_index("key").sort_index()
    want = pd.read_parquet(ref / "o")[cols].set_index("key").sort_index()
    pd.testing.assert_frame_equal(got, want)
