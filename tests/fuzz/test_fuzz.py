"""Issue 12 acceptance: every generated bad input (tests/fuzz/corpus.py, >= 300 cases over
every subcommand) ends with exit code 2, exactly one stderr line, no traceback, within the
time and memory caps, and leaves every file in its working directory as it was.

Most cases run in-process through click's CliRunner (fast); the cases marked `subprocess`
(resource exhaustion, real-process contract) and a fixed sample of the others run as
`python -P -m sim` under `timeout` and RLIMIT_AS (tests/fuzz/harness.py)."""

from __future__ import annotations

import random

import pytest

from tests.fuzz.corpus import cases
from tests.fuzz.harness import run_case

ALL = cases()
SUBPROCESS = [c for c in ALL if c.subprocess]
# the real-process contract (one stderr line from `python -m sim`) on a fixed sample too
SAMPLE = random.Random(12).sample([c for c in ALL if not c.subprocess], 10)


def test_corpus_is_large_and_covers_every_subcommand():
    assert len(ALL) >= 300
    firsts = {c.argv[0] for c in ALL}
    assert {"run", "gemm", "list", "compare", "accuracy", "trace", "verify"} <= firsts
    classes = {c.cls for c in ALL}
    assert {"yaml", "json", "csv", "trace", "outputs", "options"} <= classes


def _check(outcome):
    assert outcome.kind == "clean", (
        outcome.case.id,
        outcome.kind,
        outcome.rc,
        outcome.stderr[-2000:],
    )
    line = outcome.stderr.strip()
    assert line.startswith("error: ") and "\n" not in line and len(line) <= 300, line


@pytest.mark.parametrize("case", [c for c in ALL if not c.subprocess], ids=lambda c: c.id)
def test_bad_input_in_process(case):
    _check(run_case(case))


@pytest.mark.parametrize("case", SUBPROCESS + SAMPLE, ids=lambda c: c.id)
def test_bad_input_subprocess(case):
    _check(run_case(case, subprocess_all=True))
