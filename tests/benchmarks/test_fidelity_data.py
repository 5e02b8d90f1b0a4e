"""The stored H100 layer / int4 measurements (benchmarks/fidelity/data/) are complete and
well-formed, and the comparison code of benchmarks/fidelity/h100_layers.py computes its
errors, merges and fitted model as worked out by hand."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "benchmarks" / "fidelity" / "data"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(
        name, ROOT / "benchmarks" / "fidelity" / f"{name}.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


hl = _load("h100_layers")

LLAMA_STEPS = {
    "attn_norm",
    "qkv_proj",
    "rotary",
    "kv_write",
    "attention",
    "o_proj",
    "attn_residual",
    "mlp_norm",
    "gate_up_proj",
    "act",
    "gate_mul",
    "down_proj",
    "mlp_residual",
}
OPT_STEPS = {
    "attn_norm",
    "qkv_proj",
    "kv_write",
    "attention",
    "o_proj",
    "attn_residual",
    "mlp_norm",
    "fc1",
    "act",
    "fc2",
    "mlp_residual",
}


@pytest.mark.parametrize("name", ["h100_layers.csv", "h100_layers_run2.csv"])
def test_layer_files_complete(name):
    rows = list(csv.DictReader((DATA / name).open()))
    grid = {
        (m, "decode", b, kv)
        for m in hl.FITTED + hl.UNFITTED
        for b in hl.DECODE_BATCH
        for kv in hl.DECODE_KV
    }
    grid |= {(m, "prefill", 1, s) for m in hl.FITTED + hl.UNFITTED for s in hl.PREFILL}
    seen: dict = {}
    for r in rows:
        key = (r["model"], r["phase"], int(r["batch"]), int(r["length"]))
        seen.setdefault(key, set()).add(r["step"])
        lo, med, hi = float(r["min_us"]), float(r["time_us"]), float(r["max_us"])
        assert 0.5 < lo <= med <= hi < 1e5, r
        assert int(r["calls"]) == 12
    assert set(seen) == grid
    for key, steps in seen.items():
        want = OPT_STEPS if key[0].startswith("opt") else LLAMA_STEPS
        assert steps == want | {"layer", "attention_flash"}, key


def test_meta_records_an_h100_and_correct_kernels():
    for name in ("h100_meta.json", "h100_meta_run2.json"):
        meta = json.loads((DATA / name).read_text())
        assert meta["gpu"] == "NVIDIA H100 80GB HBM3" and meta["sms"] == 132
        assert "errors" not in meta
        for checks in meta["math_checks"].values():
            assert all(v < 1e-3 for v in checks.values()), checks
        assert meta["int4_check"]["int4pack_rel_err"] < 1e-2
        # same machine state as the h100 preset's fit: M=1 4096x4096 fp16 within 5 %
        g = meta["gemm_sanity"]
        assert abs(g["fp16_M1_4096x4096_us"] / g["fitting_machine_us"] - 1) < 0.05


def test_int4_file_complete():
    rows = hl.read_int4(DATA / "h100_int4.csv")
    got = {(r["kernel"], r["K"], r["N"], r["M"]) for r in rows}
    for k, n in [
        (4096, 4096),
        (4096, 12288),
        (4096, 22016),
        (11008, 4096),
        (4096, 28672),
        (14336, 4096),
    ]:
        for m in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512):
            for kern in ("int4pack_mm", "fp16_linear", "bf16_linear"):
                assert (kern, k, n, m) in got
        wb = {r["kernel"]: r["weight_bytes"] for r in rows if (r["K"], r["N"]) == (k, n)}
        assert wb["int4pack_mm"] == k * n // 2 + k // 128 * n * 4
        assert wb["fp16_linear"] == 2 * k * n


def test_compare_rows_two_configs_by_hand():
    k1 = ("llama-2-7b", "decode", 1, 512)
    k2 = ("qwen2-7b", "prefill", 1, 128)
    measured = {
        k1: {"layer": 100.0, "qkv_proj": 40.0, "o_proj": 50.0, "attention_flash": 20.0},
        k2: {"layer": 200.0, "qkv_proj": 100.0, "o_proj": 90.0},
    }
    simulated = {
        k1: {
            "sim": {"q_proj": 10.0, "k_proj": 10.0, "v_proj": 10.0, "o_proj": 80.0},
            "sim_fused": {"qkv_proj": 30.0, "o_proj": 80.0, "attn_qk": 5.0, "attn_pv": 5.0},
        },
        k2: {
            "sim": {"q_proj": 60.0, "k_proj": 30.0, "v_proj": 30.0, "o_proj": 60.0},
            "sim_fused": {"qkv_proj": 100.0, "o_proj": 60.0},
        },
    }
    rows = hl.compare_rows(measured, simulated)
    assert [r["model"] for r in rows] == ["llama-2-7b", "qwen2-7b"]
    r1, r2 = rows
    assert r1["sim_err"] == pytest.approx(0.10) and r2["sim_err"] == pytest.approx(-0.10)
    assert r1["sim_fused_err"] == pytest.approx(0.20) and r2["sim_fused_err"] == pytest.approx(
        -0.20
    )
    assert r1["fitted"] and not r2["fitted"]
    assert r1["steps"]["qkv_proj"]["err"] == pytest.approx(30 / 40 - 1)
    assert r1["steps"]["attention_flash"]["sim_us"] == pytest.approx(10.0)  # qk + pv
    assert r1["step_sum_us"] == pytest.approx(90.0)  # the alternative attention not summed
    s = hl.summarize(rows, "sim")
    assert s["all"]["median_abs"] == pytest.approx(0.10)
    assert s["all"]["median_signed"] == pytest.approx(0.0)
    assert s["all"]["meets_goal"] is False  # 10 % median > 5 %
    assert s["fitted"]["n"] == 1 and s["fitted"]["worst_signed"] == pytest.approx(0.10)


def test_merge_runs_and_int4_model_by_hand():
    k = ("m", "decode", 1, 8)
    merged, rep = hl.merge_runs([{k: {"layer": 100.0}}, {k: {"layer": 121.0}}])
    assert merged[k]["layer"] == pytest.approx(110.0)
    assert rep["layer_median_abs_log"] == pytest.approx(math.log(1.21))
    # K = N = 4096: 8 388 608 weight bytes + 524 288 scale/zero bytes at 1000 GB/s = 8.912896
    # us; 16 777 216 MAC at 1 TMAC/s = 16.777216 us; p = 1 sums them; + 2 us fixed
    t = hl.int4_model(1, 4096, 4096, 2.0, 1000.0, 1.0, 1.0)
    assert float(t) == pytest.approx(2 + 8.912896 + 16.777216)


def test_fused_layer_ops_merge_projections():
    ops = hl.layer_ops("llama-3-8b", "decode", 8, 512, fused=True)
    by = {o.name: o for o in ops}
    assert by["qkv_proj"].N == 4096 + 2 * 1024 and by["qkv_proj"].M == 8
    assert by["gate_up_proj"].N == 2 * 14336
    assert not {"q_proj", "k_proj", "v_proj", "gate_proj", "up_proj", "lm_head"} & set(by)
    assert all(o.count == 1 or o.kind in ("attn_qk", "attn_pv") for o in ops)
