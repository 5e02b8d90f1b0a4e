"""Runs `tests/fuzz/corpus.py` cases and classifies the outcome.

Two runners:
- `run_inprocess`: click's CliRunner in this process (fast; a SIGALRM timer turns a hang
  into an outcome);
- `run_subprocess`: `python -m sim` in a child with `timeout` and an address-space cap
  (RLIMIT_AS), for resource-exhaustion cases and the one-stderr-line contract of the real
  process.

`python -m tests.fuzz.harness [--subprocess-all] [-k SUBSTR]` prints every case that did
not end cleanly, then the counts per subcommand (`run --fit` apart from `run`) and for the
whole corpus: cases tried, clean errors, tracebacks, hangs (and the other outcomes).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import resource
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.fuzz.corpus import ROOT, Case, cases

MEM_CAP_BYTES = 6 << 30  # address space of a child: torch + numba map ~2-3 GiB up front
TIMEOUT_S = 60.0  # a case that has not ended by then counts as a hang
INPROC_TIMEOUT_S = 20


@dataclass
class Outcome:
    case: Case
    kind: str  # clean | traceback | hang | multiline | accepted | changed | other
    rc: int | None
    stderr: str
    seconds: float


def snapshot(d: Path) -> dict[str, tuple]:
    """Every entry under d (symlinks not followed): type, mode, size and content digest
    (size + mtime for big files, which are sparse test inputs)."""
    out: dict[str, tuple] = {}
    for root, dirs, files in os.walk(d):
        for name in dirs + files:
            p = Path(root) / name
            st = os.lstat(p)
            key = str(p.relative_to(d))
            if stat.S_ISREG(st.st_mode):
                if st.st_size <= 1 << 20:
                    dig = hashlib.sha256(p.read_bytes()).hexdigest()
                else:
                    dig = f"{st.st_mtime_ns}"
                out[key] = ("f", st.st_mode, st.st_size, dig)
            else:
                out[key] = (stat.S_IFMT(st.st_mode), st.st_mode)
    return out


def classify(rc: int | None, stderr: str, hung: bool, changed: bool, exc: bool) -> str:
    if hung:
        return "hang"
    if exc or "Traceback" in stderr:
        return "traceback"
    if changed:
        return "changed"
    if rc == 0:
        return "accepted"
    lines = stderr.strip().splitlines()
    if rc == 2 and len(lines) == 1:
        return "clean"
    if rc == 2:
        return "multiline"
    return "other"


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEM_CAP_BYTES, MEM_CAP_BYTES))


def run_subprocess(case: Case, d: Path, timeout: float = TIMEOUT_S) -> Outcome:
    argv = case.materialize(d)
    before = snapshot(d)
    env = dict(os.environ, PYTHONPATH=str(ROOT), SIM_FUZZ="1")
    t0 = time.perf_counter()
    try:
        p = subprocess.run(
            [sys.executable, "-P", "-m", "sim", *argv],
            cwd=d,
            env=env,
            capture_output=True,
            timeout=timeout,
            preexec_fn=_limit_memory,
            stdin=subprocess.DEVNULL,
        )
        rc, err, hung = p.returncode, p.stderr.decode(errors="replace"), False
    except subprocess.TimeoutExpired as e:
        rc, err, hung = None, (e.stderr or b"").decode(errors="replace"), True
    except ValueError as e:  # an argv the OS cannot take (embedded NUL)
        rc, err, hung = 2, f"error: argv: {e}", False
    secs = time.perf_counter() - t0
    mem = "MemoryError" in err or rc in (-9, 137)
    changed = snapshot(d) != before
    kind = classify(rc, err, hung or mem, changed, False)
    return Outcome(case, kind, rc, err, secs)


class _Timeout(BaseException):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def run_inprocess(case: Case, d: Path, timeout: int = INPROC_TIMEOUT_S) -> Outcome:
    from click.testing import CliRunner

    from sim.cli import main

    argv = case.materialize(d)
    before = snapshot(d)
    old = os.getcwd()
    prev = signal.signal(signal.SIGALRM, _alarm)
    t0 = time.perf_counter()
    hung = exc = False
    rc, err = None, ""
    try:
        os.chdir(d)
        signal.alarm(timeout)
        res = CliRunner().invoke(main, argv, catch_exceptions=True)
        rc, err = res.exit_code, res.stderr
        if res.exception is not None and not isinstance(res.exception, SystemExit):
            exc = True
            hung = isinstance(res.exception, (_Timeout, MemoryError))
            err += f"\nTraceback: {type(res.exception).__name__}: {res.exception}"[:2000]
    except _Timeout:
        hung = True
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, prev)
        os.chdir(old)
    secs = time.perf_counter() - t0
    changed = snapshot(d) != before
    return Outcome(case, classify(rc, err, hung, changed, exc), rc, err, secs)


def run_case(case: Case, subprocess_all: bool = False) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="simfuzz-") as tmp:
        d = Path(tmp)
        if case.subprocess or subprocess_all:
            return run_subprocess(case, d)
        return run_inprocess(case, d)


KINDS = ("clean", "traceback", "hang", "multiline", "accepted", "changed", "other")


def command_of(case: Case) -> str:
    """The subcommand a case runs (`run --fit` and `trace export` named as such)."""
    argv = case.argv
    if not argv or argv[0].startswith("-"):
        return "(none)"
    if argv[0] == "run" and "--fit" in argv:
        return "run --fit"
    if argv[0] == "trace" and len(argv) > 1 and not argv[1].startswith("-"):
        return f"trace {argv[1]}"
    return argv[0]


def counts_table(outcomes: list[Outcome]) -> str:
    """Counts per subcommand and in total: cases tried and each outcome kind."""
    import collections

    per: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for o in outcomes:
        per[command_of(o.case)][o.kind] += 1
    total: collections.Counter = collections.Counter()
    for c in per.values():
        total.update(c)
    head = f"{'subcommand':16}{'tried':>7}" + "".join(f"{k:>11}" for k in KINDS)
    lines = [head]
    for name, c in [*sorted(per.items()), ("TOTAL", total)]:
        lines.append(
            f"{name:16}{sum(c.values()):>7}" + "".join(f"{c.get(k, 0):>11}" for k in KINDS)
        )
    return "\n".join(lines)


def main() -> None:
    import argparse
    import collections

    ap = argparse.ArgumentParser()
    ap.add_argument("--subprocess-all", action="store_true")
    ap.add_argument("-k", default="")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    todo = [c for c in cases() if a.k in c.id]
    counts: collections.Counter = collections.Counter()
    outcomes = []
    t0 = time.perf_counter()
    for c in todo:
        o = run_case(c, a.subprocess_all)
        outcomes.append(o)
        counts[o.kind] += 1
        if o.kind != "clean" or a.v:
            last = (o.stderr.strip().splitlines() or [""])[-1][:160]
            print(f"{o.kind:10} {o.seconds:6.1f}s {c.id}: {last}", flush=True)
    print(f"{len(todo)} cases in {time.perf_counter() - t0:.0f} s: {dict(counts)}")
    print(counts_table(outcomes))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
