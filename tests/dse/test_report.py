"""The report: built from a tiny sweep by `sim report`, opened in headless Chromium (a
script in the page writes what it loaded into the DOM), every figure decoded (natural
width > 0), no console error, nothing fetched from the network."""

from __future__ import annotations

import json
import re
import subprocess

import pandas as pd
import pytest

from sim import sweep

from .conftest import TINY, run_sim


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rep")
    spec = dict(TINY, axes={"pe_array.lanes": [2, 8], "memory.dram.bandwidth_gb_s": [16, 64]})
    spec["linked"] = []
    sweep(spec, tmp / "res")
    r = run_sim("report", tmp / "res", "--out", tmp / "report", "--top", "2")
    assert r.returncode == 0, r.stderr
    return tmp / "report"


def _figure_names(d) -> list[str]:
    return sorted(p.stem for p in d.glob("*.png"))


def test_report_files(report_dir):
    names = _figure_names(report_dir)
    # pareto, speedup, energy, latency + (roofline, heatmap) x (base + 2 front points)
    assert {"pareto", "speedup", "energy", "latency"} <= set(names)
    assert sum(n.startswith("roofline_") for n in names) == 3
    assert sum(n.startswith("heatmap_") for n in names) == 3
    assert sorted(p.stem for p in report_dir.glob("*.svg")) == names
    html = (report_dir / "index.html").read_text()
    assert html.count("data:image/png;base64,") == len(names)
    assert not re.search(r"(src|href)=['\"]https?:", html)  # self-contained
    md = (report_dir / "report.md").read_text()
    assert all(f"({n}.png)" in md for n in names)


def test_report_in_headless_chromium(report_dir, chromium, tmp_path):
    index = report_dir / "index.html"
    cmd = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
        "--dump-dom",
        index.as_uri(),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    m = re.search(r"<pre id=\"render-check\">(.*?)</pre>", r.stdout, re.S)
    assert m, "the page's check script did not run"
    check = json.loads(m.group(1).replace("&quot;", '"'))
    n = len(_figure_names(report_dir))
    assert check["images"] == n
    assert check["loaded"] == n
    assert all(w > 0 for w in check["widths"])
    assert check["errors"] == []
    console = [ln for ln in r.stderr.splitlines() if "CONSOLE" in ln and "error" in ln.lower()]
    assert console == []


def test_compare_report_through_the_builder(tmp_path):
    from sim.dse.reporting import compare_report

    df = pd.DataFrame(
        [
            {"arch": "int8-systolic", "wq": "int8", "aq": "int8", "kvq": "int8"},
            {"arch": "bitmod", "wq": "bitmod-fp3-g128", "aq": "fp16", "kvq": "int8"},
        ]
    )
    out = compare_report(df, "smollm2-135m", 16, 2, 1, tmp_path / "cmp", "smollm2-135m compare")
    names = _figure_names(out)
    assert names == sorted(
        [
            "speedup",
            "energy",
            "latency",
            "roofline_int8-systolic",
            "heatmap_int8-systolic",
            "roofline_bitmod",
            "heatmap_bitmod",
        ]
    )


def test_layer_table_hand_worked():
    from reports.build import RunData, layer_table

    ops = pd.DataFrame(
        {
            "phase": ["prefill", "prefill", "prefill", "decode"],
            "name": ["q_proj", "act", "lm_head", "q_proj"],
            "kind": ["linear", "act", "linear", "linear"],
            "time_s": [4.0, 1.0, 0.5, 8.0],
        }
    )
    r = RunData("x", ops, "m", 16, 2, 1, {"wq": "int8"}, 2, 1e12, 1e11)
    t = layer_table(r, "prefill")
    # 2 layers: q_proj 4 s -> 2 s per layer; act 1 s -> 0.5; lm_head runs once ('head')
    assert list(t.index) == ["layer 0", "layer 1", "head"]
    assert t.to_dict("list") == {
        "q_proj": [2.0, 2.0, 0.0],
        "act": [0.5, 0.5, 0.0],
        "lm_head": [0.0, 0.0, 0.5],
    }
    assert layer_table(r, "decode").to_dict("list") == {"q_proj": [4.0, 4.0, 0.0]}
