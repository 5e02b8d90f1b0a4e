"""`sim trace export CONFIG.json`: the real transformers class with random weights; MoE
routing recorded per expert and used by `sim run` (expert-union decode cost)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from common.errors import InputError
from workloads.export import export_config, random_model, scaled_config
from workloads.moe import expected_union

# A gpt-oss-shaped model small enough for CI (same modelling code as gpt-oss-20b:
# router with bias, top-k experts, alternating sliding/full attention).
TINY_OSS = {
    "model_type": "gpt_oss",
    "hidden_size": 64,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "num_local_experts": 16,
    "num_experts_per_tok": 2,
    "vocab_size": 256,
    "max_position_embeddings": 4096,
    "sliding_window": 8,
    "layer_types": ["sliding_attention", "full_attention"],
    "attention_bias": True,
    "tie_word_embeddings": False,
}
E, K, LAYERS, BATCH, DECODE = 16, 2, 2, 8, 3


def _write(tmp_path: Path) -> Path:
    p = tmp_path / "tiny-oss" / "config.json"
    p.parent.mkdir()
    p.write_text(json.dumps(TINY_OSS))
    return p


def _routed(tr, phase: str) -> list[dict[int, list[int]]]:
    """Per pass of `phase`: {layer: tokens per expert} from the router records' stats."""
    out = []
    for o in tr.meta.ops:
        if o.name == "router" and o.phase == phase:
            per: dict[int, list[int]] = {}
            for key, v in o.stats.items():
                lay, e = (int(x[1:]) for x in key.removeprefix("expert_tokens_").split("_"))
                per.setdefault(lay, [0] * E)[e] = int(v)
            out.append(per)
    return out


def _decode_expert(trace_dir: Path, field: str) -> float:
    from sim.api import simulate_trace

    res = simulate_trace("int8-systolic", str(trace_dir))
    return sum(
        getattr(r, field)
        for r in res.rows
        if r.phase == "decode" and r.name.startswith("expert_") and r.kind == "linear"
    )


def test_config_trace_records_routing_and_skew_changes_decode_as_union_predicts(
    tmp_path: Path,
) -> None:
    cfg = _write(tmp_path)
    balanced = export_config(
        cfg, tmp_path / "bal", tokens=16, decode=DECODE, batch=BATCH, progress=False
    )
    steps = _routed(balanced, "decode")
    assert len(steps) == DECODE and len(_routed(balanced, "prefill")) == 1
    for per in steps:
        assert sorted(per) == [0, 1]
        assert all(sum(h) == BATCH * K for h in per.values())
    # the expert GEMMs are exactly the experts that got tokens, M = their token counts:
    # decode records of step g are the expert_up_proj records after the g-th router
    runs: list[list] = []
    for o in balanced.meta.ops:
        if o.phase == "decode" and o.name == "router":
            runs.append([])
        elif o.phase == "decode" and o.name == "expert_up_proj":
            runs[-1].append(o)
    assert len(runs) == DECODE
    for per, recs in zip(steps, runs):
        want = sorted(m for h in per.values() for m in h if m)
        assert sorted(m for o in recs for m in [o.M] * o.count) == want
    used = sum(sum(1 for m in h if m) for per in steps for h in per.values())
    # random routing: close to the balanced expectation E(1 - (1 - k/E)^B) per layer
    assert used / (DECODE * LAYERS) == pytest.approx(expected_union(BATCH, E, K), rel=0.35)

    # skew: zero router weights, a bias that always ranks experts 0 and 1 first
    model = random_model(scaled_config(TINY_OSS, None))
    with torch.no_grad():
        for layer in model.model.layers:
            layer.mlp.router.weight.zero_()
            layer.mlp.router.bias.zero_()
            layer.mlp.router.bias[:2] = torch.tensor([10.0, 9.0])
    skewed = export_config(
        cfg, tmp_path / "skew", tokens=16, decode=DECODE, batch=BATCH, model=model, progress=False
    )
    for per in _routed(skewed, "decode"):
        assert all(h[:2] == [BATCH, BATCH] and sum(h[2:]) == 0 for h in per.values())
    # decode streams the union of experts: 2 per layer and step vs `used` in total. Time
    # follows, plus the per-token work that grows with the tokens each expert gets (the
    # skewed experts get the whole batch; this tiny model's activations are not small
    # beside its expert weights): between the union ratio and 1.3x it (seen: 1.18x)
    union = 2 * DECODE * LAYERS / used
    t_bal, t_skew = (_decode_expert(tmp_path / d, "time_s") for d in ("bal", "skew"))
    assert union <= t_skew / t_bal <= 1.3 * union


def test_cli_export_and_run(tmp_path: Path) -> None:
    from sim.cli import main

    cfg = _write(tmp_path)
    out = tmp_path / "t"
    runner = CliRunner()
    res = runner.invoke(
        main,
        ["trace", "export", str(cfg), "--tokens", "8", "--decode", "2", "--out", str(out)]
        + ["--layers", "1", "--quiet"],
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["run", "int8-systolic", str(out), "--format", "json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert (d["prefill"], d["decode"], d["batch"]) == (8, 2, 1)
    ups = [r for r in d["ops"] if r["name"] == "expert_up_proj" and r["phase"] == "decode"]
    assert sum(r["count"] for r in ups) == 2 * K  # batch 1: top-k experts, 1 layer, 2 steps


def test_scaled_config_checks() -> None:
    assert scaled_config(TINY_OSS, 1)["layer_types"] == ["sliding_attention"]
    v3 = {"model_type": "deepseek_v3", "num_hidden_layers": 61, "first_k_dense_replace": 3}
    assert scaled_config({**v3, "n_routed_experts": 256}, 2)["first_k_dense_replace"] == 1
    with pytest.raises(InputError) as e:
        scaled_config(TINY_OSS, 3)
    assert e.value.field == "--layers"
