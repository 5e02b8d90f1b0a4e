"""benchmarks/fidelity/data/seed_reference.json: structure, citations, and the facts that
can be checked by hand (model layer counts, their simulator reproducing their table)."""

from __future__ import annotations

import importlib.util
import json
import math
import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REF = ROOT / "benchmarks" / "fidelity" / "data" / "seed_reference.json"
COMMIT = re.compile(r"[\w.-]+/[\w.-]+@[0-9a-f]{40} \S+")  # owner/repo@sha path
KEY_FIELDS = ("system", "source", "task", "net", "design", "model", "quantity")
BITMOD_MODELS = {"opt-1.3b", "phi-2", "yi-6b", "llama-2-7b", "llama-2-13b", "llama-3-8b"}
BITMOD_DESIGNS = {"FP16", "ANT", "OliVe", "BitMoD-LY", "BitMoD-LL"}


@pytest.fixture(scope="module")
def ref() -> dict:
    return json.loads(REF.read_text())


def _seed_module():
    path = ROOT / "benchmarks" / "fidelity" / "seed_systems.py"
    spec = importlib.util.spec_from_file_location("seed_systems", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_entry_is_complete_and_cited(ref):
    assert set(ref) >= {"about", "entries", "mixpe_workloads", "bitmod_workload"}
    for e in ref["entries"]:
        assert e["system"] in ("bitmod", "mixpe"), e
        assert e["source"] in ("paper_figure_data", "simulator_run", "published_table"), e
        assert e["unit"] in ("cycles", "uJ", "nJ", "ratio"), e
        v = e["value"]
        assert isinstance(v, (int, float)) and math.isfinite(v) and v >= 0, e
        assert COMMIT.search(e["citation"]), e["citation"]
    for net in ref["mixpe_workloads"]["nets"].values():
        for d in net.values():
            assert COMMIT.search(d["citation"]), d
    assert COMMIT.search(ref["bitmod_workload"]["citation"])
    assert COMMIT.search(ref["mixpe_workloads"]["rows_citation"])


def test_entries_are_unique(ref):
    keys = Counter(tuple(e.get(k) for k in KEY_FIELDS) for e in ref["entries"])
    dup = [k for k, n in keys.items() if n > 1]
    assert not dup, dup[:3]


def test_bitmod_tables_cover_all_designs_models_tasks(ref):
    for source in ("paper_figure_data", "simulator_run"):
        got = {
            (e["design"], e["model"], e["task"], e["quantity"])
            for e in ref["entries"]
            if e["system"] == "bitmod" and e["source"] == source
        }
        assert {g[0] for g in got} == BITMOD_DESIGNS
        assert {g[1] for g in got} == BITMOD_MODELS
        # 5 designs x 6 models x 2 tasks x (cycles, energy)
        assert len(got) == 120


def test_bitmod_figure_data_spot_values(ref):
    """Values copied by hand from speedup_plot.ipynb / energy_plot.ipynb cell 2."""
    idx = {tuple(e.get(k) for k in KEY_FIELDS): e["value"] for e in ref["entries"]}
    key = ("bitmod", "paper_figure_data", "discriminative", None, "FP16", "llama-2-7b", "cycles")
    assert idx[key] == 3156574208
    key = (
        "bitmod",
        "paper_figure_data",
        "generative",
        None,
        "BitMoD-LY",
        "llama-3-8b",
        "cycles_per_decode_token",
    )
    assert idx[key] == 90099088
    key = (
        "bitmod",
        "paper_figure_data",
        "generative",
        None,
        "ANT",
        "opt-1.3b",
        "energy_total_per_decode_token",
    )
    assert idx[key] == 145879


def test_mixpe_simulator_run_reproduces_published_time_table(ref):
    """Their simulator, run here, gives their results/mixpe_res.csv 'Time' row to its two
    printed decimals (so the reference workload and configs are theirs)."""
    idx = {tuple(e.get(k) for k in KEY_FIELDS): e["value"] for e in ref["entries"]}
    for net in ("opt", "llama"):
        base = idx[("mixpe", "simulator_run", None, net, "FP16", None, "cycles")]
        for design in ("MixPE-W4A8", "MixPE-W4A16", "INT8"):
            cyc = idx[("mixpe", "simulator_run", None, net, design, None, "cycles")]
            pub = idx[("mixpe", "published_table", None, net, design, None, "time_norm_fp16")]
            assert round(cyc / base, 2) == pytest.approx(pub, abs=1e-9), (net, design)


def test_mixpe_workload_layer_counts(ref):
    """OPT-6.7B has 32 decoder layers, Llama-2-13B 40; every list has 8 entries per layer
    (4 GEMMs + 4 per-design side GEMMs)."""
    nets = ref["mixpe_workloads"]["nets"]
    assert ref["mixpe_workloads"]["rows_M"] == 64
    for net, layers in (("opt", 32), ("llama", 40)):
        for design, d in nets[net].items():
            assert sum(x["count"] for x in d["layers"]) == 8 * layers, (net, design)


def test_mixpe_w4a8_ops_carry_the_models_linear_macs(ref):
    """The main W4 GEMMs of OPT-6.7B's list = 64 rows x 32 layers x (QKV 4096x12288 + O
    4096x4096 + FC1 4096x16384 + FC2 16384x4096), built as our ops with their formats."""
    mod = _seed_module()
    ops = mod.mixpe_ops(ref, "opt", "MixPE-W4A8")
    w4 = sum(o.macs * o.count for o in ops if o.bq == "int4-g128")
    assert w4 == 64 * 32 * (4096 * 12288 + 4096 * 4096 + 2 * 4096 * 16384)
    assert {o.aq for o in ops} == {"int8"}


def test_gap_rows_explain_only_over_threshold():
    mod = _seed_module()
    assert "explanation" not in mod.row(1.09, 1.0, "why")
    r = mod.row(0.5, 1.0, "why")
    assert r["explanation"] == "why" and r["gap"] == -0.5
    assert mod.gmean([2.0, 8.0]) == pytest.approx(4.0)
