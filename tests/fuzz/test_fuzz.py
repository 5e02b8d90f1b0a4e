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


def test_dse_corpus_covers_sweep_search_report_and_fit():
    """Issue 12, the DSE commands: >= 120 cases over sweep, search, report and run --fit,
    in every class (spec files, fields, options, outputs, results, fit)."""
    dse = [c for c in ALL if c.argv[0] in ("sweep", "search", "report") or "--fit" in c.argv]
    assert len(dse) >= 120
    per = {k: sum(1 for c in dse if c.argv[0] == k) for k in ("sweep", "search", "report")}
    per["fit"] = sum(1 for c in dse if "--fit" in c.argv)
    assert min(per.values()) >= 16, per
    assert {"spec", "field", "options", "outputs", "results", "fit"} <= {c.cls for c in dse}


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


def test_counts_table_per_subcommand_hand_made():
    """The counts `python -m tests.fuzz.harness` prints: per subcommand and in total."""
    from tests.fuzz.corpus import Case
    from tests.fuzz.harness import Outcome, command_of, counts_table

    def o(argv, kind):
        return Outcome(Case("x", "c", argv), kind, 2, "", 0.0)

    outs = [
        o(["sweep", "s.yaml"], "clean"),
        o(["sweep", "s.yaml"], "traceback"),
        o(["run", "a", "m", "--fit"], "clean"),
        o(["run", "a", "m"], "hang"),
        o(["trace", "export", "m"], "clean"),
    ]
    assert [command_of(x.case) for x in outs] == [
        "sweep",
        "sweep",
        "run --fit",
        "run",
        "trace export",
    ]
    lines = counts_table(outs).splitlines()
    rows = {ln.split()[0] if not ln.startswith("run --fit") else "run --fit": ln for ln in lines}
    assert rows["sweep"].split()[1:5] == ["2", "1", "1", "0"]  # tried, clean, traceback, hang
    assert rows["run"].split()[1:5] == ["1", "0", "0", "1"]
    assert rows["run --fit"].split()[2:6] == ["1", "1", "0", "0"]
    assert rows["TOTAL"].split()[1:5] == ["5", "3", "1", "1"]
