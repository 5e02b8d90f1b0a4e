"""Trace format: export of a custom nn.Module and a tiny random Llama, round trip, payload
decoding error bounds, statistics, atomic writes and every corruption -> InputError / exit 2.
(The real SmolLM2-135M export is in test_trace_smollm2.py, marked slow.)"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from safetensors.numpy import load_file, save_file

from common.errors import InputError
from sim.cli import main
from workloads.export import export_llm, export_module, export_trace
from workloads.ops import GEMM_KINDS
from workloads.trace import (
    TENSORS_FILE,
    TRACE_JSON,
    FormatsInfo,
    ModelInfo,
    RunInfo,
    TraceFile,
    load_trace,
    save_trace,
)
from workloads.trace_quant import expand_blocks
from workloads.trace_stats import aggregate, code_stats, value_stats

MLP_SPEC = "tests.workloads.custom_model:mlp"


@pytest.fixture(scope="module")
def mlp_trace(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mlp") / "trace"
    export_module(MLP_SPEC, out, wq="int4-g32", aq="int8", progress=False)
    return out


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(src, dst)
    return dst


# ---- custom module ------------------------------------------------------------------------
def test_custom_module_ops_and_payload(mlp_trace: Path) -> None:
    from tests.workloads.custom_model import mlp

    tr = load_trace(mlp_trace)
    assert tr.meta.format_version == 1
    assert tr.meta.model.kind == "module"
    got = [(o.name, o.kind, o.phase, o.M, o.K, o.N, o.count) for o in tr.ops()]
    assert got == [
        ("fc1", "linear", "prefill", 16, 64, 128, 1),
        ("fc2", "linear", "prefill", 16, 128, 96, 1),
        ("head", "linear", "prefill", 16, 96, 10, 1),
    ]
    rec = tr.meta.ops[0]
    assert rec.group_size == 32 and rec.wq == "int4-g32" and rec.aq == "int8"
    model, x = mlp()
    for name in ("fc1", "fc2", "head"):
        w = getattr(model, name).weight.detach().numpy()
        w_hat = tr.dequantized(name, None)
        scales = tr.tensor(f"{name}/weight.scales")
        assert scales.shape == (w.shape[0], w.shape[1] // 32)
        bound = expand_blocks(scales, w.shape[1], 32) / 2 + 1e-6
        assert np.all(np.abs(w - w_hat) <= bound)
    # activation sample: int8 codes of the first input rows, per-row scales
    a = tr.dequantized("fc1", None, role="act")
    x2 = x.reshape(-1, 64).numpy()
    assert a.shape == x2.shape
    assert np.all(np.abs(a - x2) <= tr.tensor("fc1/act.scales") / 2 + 1e-6)
    st = tr.ops()[0].stats
    keys = dict(st)
    for k in (
        "w_absmax",
        "w_outlier_3sigma",
        "w_outlier_6sigma",
        "w_zero_frac",
        "w_bitplane_zero_b3",
        "w_booth_terms_mean",
        "w_olive_pair_outlier",
        "a_absmax",
        "a_bitplane_zero_b7",
        "a_olive_pair_outlier",
        "w_qerr_rmse",
    ):
        assert k in keys, k
    assert keys["w_absmax"] == pytest.approx(float(model.fc1.weight.detach().abs().max()))
    assert list(st) == sorted(st)


def test_module_called_twice_gives_two_ops(tmp_path: Path) -> None:
    tr = export_module("tests.workloads.custom_model:shared", tmp_path / "t", progress=False)
    assert [(o.name, o.M, o.count) for o in tr.ops()] == [("lin", 6, 1), ("lin", 2, 1)]
    assert load_trace(tmp_path / "t").tensor("lin/act.codes").shape == (6, 32)


def test_no_tensors(tmp_path: Path) -> None:
    tr = export_trace(MLP_SPEC, tmp_path / "t", tensors=False, progress=False)
    assert not (tmp_path / "t" / TENSORS_FILE).exists()
    assert not tr.has_tensors and load_trace(tmp_path / "t").meta.tensors == {}


@pytest.mark.parametrize(
    "spec, field",
    [
        ("nocolon", "MODEL"),
        ("tests.workloads.no_such_module:f", "MODEL"),
        ("tests.workloads.custom_model:missing", "factory"),
        ("tests.workloads.custom_model:not_a_pair", "factory()"),
        ("tests.workloads.custom_model:no_linear", "module"),
    ],
)
def test_bad_model_spec(tmp_path: Path, spec: str, field: str) -> None:
    with pytest.raises(InputError) as e:
        export_trace(spec, tmp_path / "t", progress=False)
    assert e.value.field == field
    assert not (tmp_path / "t").exists()


def test_bad_format(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--wq"):
        export_trace(MLP_SPEC, tmp_path / "t", wq="int99", progress=False)


def test_cli_export_and_show(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    r = CliRunner().invoke(
        main,
        [
            "trace",
            "export",
            MLP_SPEC,
            "--out",
            str(out),
            "--quiet",
            "--wq",
            "int4-g128-asym",
            "--aq",
            "fp16",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "3 ops" in r.output
    tr = load_trace(out)
    assert "fc1/weight.zeros" in tr.meta.tensors
    assert tr.tensor("fc1/act.codes").dtype == np.uint16  # fp16 bit patterns
    from tests.workloads.custom_model import mlp

    w = mlp()[0].fc1.weight.detach().numpy()
    # asym: error <= scale / 2 per group (64 < 128: one partial group per row)
    bound = tr.tensor("fc1/weight.scales") / 2 + 1e-6
    assert np.all(np.abs(tr.dequantized("fc1", None) - w) <= bound)
    r = CliRunner().invoke(main, ["trace", "show", str(out)])
    assert r.exit_code == 0 and "fc1" in r.output


def test_cli_bad_model_exit_2(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["trace", "export", "gpt-99", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2
    assert "MODEL" in r.output and "smollm2-135m" in r.output


# ---- tiny random Llama: the LLM path, checked against the shape-only builder ---------------
class _CharTokenizer:
    def __init__(self, vocab: int) -> None:
        self.vocab = vocab

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict:
        return {"input_ids": [ord(c) % self.vocab for c in text]}


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=100,
        max_position_embeddings=64,
    )
    model = LlamaForCausalLM(cfg).eval()
    out = tmp_path_factory.mktemp("tiny") / "trace"
    tr = export_llm(
        model,
        _CharTokenizer(100),
        out,
        name="tiny",
        source="random",
        tokens=12,
        decode=3,
        wq="int4-g16",
        aq="int8",
        kvq="int8",
        act_rows=4,
        progress=False,
    )
    return model, cfg, tr, out


def test_tiny_llama_matches_build_ops(tiny_llama) -> None:
    from workloads.llm import build_ops
    from workloads.zoo import shape_from_config

    _, cfg, _, out = tiny_llama
    tr = load_trace(out)
    shape = shape_from_config(cfg.to_dict(), name="tiny")
    ref = build_ops(shape, 12, 3, 1, "int4-g16", "int8", "int8")

    def key(o):
        return (o.name, o.kind, o.phase, o.M, o.K, o.N, o.elements, o.count, o.bq, o.aq)

    # every op (vector ops included) in the builder's order
    assert [key(o) for o in tr.ops()] == [key(o) for o in ref]
    assert len(tr.meta.run.generated_token_ids) == 3


def test_tiny_llama_records(tiny_llama) -> None:
    model, _, _, out = tiny_llama
    tr = load_trace(out)
    q = next(r for r in tr.meta.ops if r.name == "q_proj" and r.phase == "prefill")
    assert q.layers == [0, 1] and q.count == 2 and q.per_layer is not None
    assert len(q.per_layer) == 2 and q.group_size == 16
    assert q.tensors["weight"][0] == "q_proj/0/weight.codes"
    w = model.model.layers[1].self_attn.q_proj.weight.detach().numpy()
    bound = expand_blocks(tr.tensor("q_proj/1/weight.scales"), 32, 16) / 2 + 1e-6
    assert np.all(np.abs(tr.dequantized("q_proj", 1) - w) <= bound)
    assert tr.tensor("q_proj/0/act.codes").shape == (4, 32)
    qk = [r for r in tr.meta.ops if r.name == "attn_qk"]
    assert [(r.phase, r.M, r.N, r.count) for r in qk] == [
        ("prefill", 12, 12, 8),
        ("decode", 2, 13, 4),
        ("decode", 2, 14, 4),
        ("decode", 2, 15, 4),
    ]
    assert "w_bitplane_zero_b7" in qk[0].stats and "a_absmax" in qk[0].stats
    lm = [r for r in tr.meta.ops if r.name == "lm_head"]
    assert [r.M for r in lm] == [1, 1, 1, 1] and lm[0].layers == []
    assert tr.meta.model.dims["kv_heads"] == 2


def test_llm_bad_counts(tiny_llama, tmp_path: Path) -> None:
    model = tiny_llama[0]
    with pytest.raises(InputError, match="--tokens"):
        export_llm(
            model,
            _CharTokenizer(100),
            tmp_path / "t",
            name="tiny",
            source="r",
            tokens=0,
            progress=False,
        )
    with pytest.raises(InputError, match="max_position_embeddings"):
        export_llm(
            model,
            _CharTokenizer(100),
            tmp_path / "t",
            name="tiny",
            source="r",
            tokens=60,
            decode=10,
            progress=False,
        )


# ---- statistics -----------------------------------------------------------------------------
def test_code_stats_match_quant_metrics() -> None:
    from quant.metrics import bitplane_zero_fraction, booth_terms_mean

    rng = np.random.default_rng(0)
    for bits, signed in ((4, True), (8, True), (4, False)):
        lo, hi = (-(1 << (bits - 1)) + 1, (1 << (bits - 1)) - 1) if signed else (0, 15)
        c = rng.integers(lo, hi + 1, size=(37, 64))
        st = code_stats(c, bits, signed)
        ref = bitplane_zero_fraction(c, bits)
        assert [st[f"bitplane_zero_b{i}"] for i in range(bits)] == pytest.approx(list(ref))
        assert st["booth_terms_mean"] == pytest.approx(booth_terms_mean(c, bits, signed))
        assert st["code_zero_frac"] == pytest.approx(float((c == 0).mean()))


def test_value_stats_by_hand() -> None:
    x = np.zeros((4, 100), np.float32)
    x[0, 0] = 100.0  # one huge outlier, 399 exact zeros
    st = value_stats(x)
    assert st["absmax"] == 100.0
    assert st["zero_frac"] == pytest.approx(399 / 400)
    assert st["outlier_3sigma"] == pytest.approx(1 / 400)
    assert st["outlier_6sigma"] == pytest.approx(1 / 400)
    assert st["olive_pair_outlier"] == pytest.approx(1 / 200)
    agg = aggregate([{"a_absmax": 1.0, "z": 0.2}, {"a_absmax": 3.0, "z": 0.4}])
    assert agg == {"a_absmax": 3.0, "z": pytest.approx(0.3)}


# ---- atomic writes --------------------------------------------------------------------------
def _meta() -> TraceFile:
    return TraceFile(
        format_version=1,
        model=ModelInfo(name="m", source="s", kind="module"),
        run=RunInfo(prompt_tokens=1, decode_steps=0, batch=1),
        formats=FormatsInfo(wq="int8", aq="int8", kvq="int8"),
        ops=[],
    )


def test_save_is_atomic(tmp_path: Path) -> None:
    out = tmp_path / "t"
    save_trace(_meta(), out, {"a": np.ones((2, 2), np.float32)})
    with pytest.raises(ValueError):
        save_trace(_meta(), out, {"a": np.ones((2, 2), np.complex64)})
    # the old trace is intact and no temporary directory is left behind
    assert load_trace(out).tensor("a").shape == (2, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t"]
    save_trace(_meta(), out)  # replace: the payload file goes away with the old trace
    assert sorted(p.name for p in out.iterdir()) == [TRACE_JSON]


# ---- corruption -----------------------------------------------------------------------------
def _rewrite_payload(d: Path, arrays: dict) -> None:
    """Replace tensors.safetensors and patch the integrity record so that only the
    change under test is detected."""
    from workloads.trace import _sha256

    save_file(arrays, str(d / TENSORS_FILE))
    j = json.loads((d / TRACE_JSON).read_text())
    j["tensors_file"]["bytes"] = (d / TENSORS_FILE).stat().st_size
    j["tensors_file"]["sha256"] = _sha256(d / TENSORS_FILE)
    (d / TRACE_JSON).write_text(json.dumps(j))


def _edit_json(d: Path, fn) -> None:
    j = json.loads((d / TRACE_JSON).read_text())
    fn(j)
    (d / TRACE_JSON).write_text(json.dumps(j))


def _truncate(d: Path) -> None:
    f = d / TENSORS_FILE
    f.write_bytes(f.read_bytes()[:-100])


def _truncate_header(d: Path) -> None:
    f = d / TENSORS_FILE
    f.write_bytes(f.read_bytes()[:50])


def _flip_byte(d: Path) -> None:
    f = d / TENSORS_FILE
    b = bytearray(f.read_bytes())
    b[-1] ^= 0xFF
    f.write_bytes(bytes(b))


def _missing_key(d: Path) -> None:
    arrays = load_file(str(d / TENSORS_FILE))
    del arrays["fc2/weight.scales"]
    _rewrite_payload(d, arrays)


def _wrong_dtype(d: Path) -> None:
    arrays = load_file(str(d / TENSORS_FILE))
    arrays["fc1/weight.codes"] = arrays["fc1/weight.codes"].astype(np.int16)
    _rewrite_payload(d, arrays)


def _wrong_shape(d: Path) -> None:
    arrays = load_file(str(d / TENSORS_FILE))
    arrays["fc1/weight.codes"] = arrays["fc1/weight.codes"][:-1]
    _rewrite_payload(d, arrays)


CORRUPTIONS = {
    "truncated safetensors": (_truncate, TENSORS_FILE, "size"),
    "truncated header": (_truncate_header, TENSORS_FILE, "size"),
    "modified payload": (_flip_byte, TENSORS_FILE, "sha256"),
    "missing key": (_missing_key, TENSORS_FILE, "fc2/weight.scales"),
    "wrong dtype": (_wrong_dtype, TENSORS_FILE, "fc1/weight.codes.dtype"),
    "wrong shape": (_wrong_shape, TENSORS_FILE, "fc1/weight.codes.shape"),
    "missing payload": (lambda d: (d / TENSORS_FILE).unlink(), TENSORS_FILE, "file"),
    "bad JSON": (
        lambda d: (d / TRACE_JSON).write_text('{"format_version": 1,'),
        TRACE_JSON,
        "JSON",
    ),
    "wrong version": (
        lambda d: _edit_json(d, lambda j: j.update(format_version=2)),
        TRACE_JSON,
        "format_version",
    ),
    "no version": (
        lambda d: _edit_json(d, lambda j: j.pop("format_version")),
        TRACE_JSON,
        "format_version",
    ),
    "bad op kind": (
        lambda d: _edit_json(d, lambda j: j["ops"][1].update(kind="conv")),
        TRACE_JSON,
        "ops.1.kind",
    ),
    "negative M": (
        lambda d: _edit_json(d, lambda j: j["ops"][0].update(M=-1)),
        TRACE_JSON,
        "ops.0.M",
    ),
    "unknown field": (lambda d: _edit_json(d, lambda j: j.update(extra=1)), TRACE_JSON, "extra"),
    "dangling tensor key": (
        lambda d: _edit_json(d, lambda j: j["ops"][0]["tensors"]["weight"].append("nope")),
        TRACE_JSON,
        "ops.0.tensors.weight",
    ),
    "missing trace.json": (lambda d: (d / TRACE_JSON).unlink(), TRACE_JSON, "file"),
}


@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_corruption_is_input_error(mlp_trace: Path, tmp_path: Path, case: str) -> None:
    corrupt, fname, field = CORRUPTIONS[case]
    d = _copy(mlp_trace, tmp_path)
    corrupt(d)
    with pytest.raises(InputError) as e:
        load_trace(d)
    assert e.value.source.endswith(fname), str(e.value)
    assert e.value.field == field, str(e.value)
    r = CliRunner().invoke(main, ["trace", "show", str(d)])
    assert r.exit_code == 2
    assert len(r.output.strip().splitlines()) == 1 and fname in r.output


def test_unverified_load_still_checks_header(mlp_trace: Path, tmp_path: Path) -> None:
    d = _copy(mlp_trace, tmp_path)
    _flip_byte(d)  # data bytes changed, header intact: only the hash notices
    assert load_trace(d, verify_hash=False).tensor("fc1/weight.codes").dtype == np.int8
    _truncate(d)
    with pytest.raises(InputError, match="truncated"):
        load_trace(d, verify_hash=False)
    # issue 12: a payload without its size/sha256 record is refused, not loaded unchecked
    _edit_json(d, lambda j: j.update(tensors_file=None))
    with pytest.raises(InputError, match="tensors_file record"):
        load_trace(d, verify_hash=False)


def test_gemm_ops_helper(mlp_trace: Path) -> None:
    tr = load_trace(mlp_trace)
    assert all(o.kind in GEMM_KINDS for o in tr.gemm_ops()) and len(tr.gemm_ops()) == 3


def test_prompt_file(tmp_path: Path) -> None:
    from workloads.export import DEFAULT_PROMPT, read_prompt

    assert read_prompt(None) == (DEFAULT_PROMPT, "default")
    f = tmp_path / "p.txt"
    f.write_text("Hello there.")
    assert read_prompt(f) == ("Hello there.", str(f))
    with pytest.raises(InputError, match="--prompt-file"):
        read_prompt(tmp_path / "missing.txt")
    f.write_text("  \n")
    with pytest.raises(InputError, match="non-empty"):
        read_prompt(f)
