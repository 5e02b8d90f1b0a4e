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
