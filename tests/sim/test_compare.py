"""`sim compare`: ratios to the baseline, CSV and the Markdown/PNG report."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from sim.api import simulate
from sim.cli import main


def test_compare_normalizes_to_baseline_and_writes_files(tmp_path):
    csv, rep = tmp_path / "c.csv", tmp_path / "rep"
    args = [
        "compare",
        "fp16-bitmod-baseline",
        "bitmod",
        "--model",
        "opt-1.3b",
        "--prefill",
        "64",
        "--decode",
        "4",
        "--csv",
        str(csv),
        "--report",
        str(rep),
    ]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    df = pd.read_csv(csv).set_index("arch")
    assert df.loc["fp16-bitmod-baseline", ["speedup", "energy_eff", "area_ratio"]].tolist() == [
        1.0,
        1.0,
        1.0,
    ]
    base = simulate("fp16-bitmod-baseline", "opt-1.3b", prefill=64, decode=4)
    bm = simulate("bitmod", "opt-1.3b", prefill=64, decode=4)
    assert df.loc["bitmod", "speedup"] == pytest.approx(base.total_time_s / bm.total_time_s)
    assert df.loc["bitmod", "wq"] == "bitmod-fp3-g128"
    assert (rep / "compare.md").read_text().count("| bitmod ") == 1
    assert (rep / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_unknown_preset_is_input_error(tmp_path):
    res = CliRunner().invoke(
        main, ["compare", "nope", "--model", "opt-1.3b", "--csv", str(tmp_path / "c.csv")]
    )
    assert res.exit_code == 2 and "nope" in res.stderr
    assert not (tmp_path / "c.csv").exists()
