"""Model zoo: real published shapes and parameter counts, and every config error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.errors import InputError
from workloads.llm import count_params, kv_cache_bytes
from workloads.zoo import ModelShape, list_models, load_model_shape

ZOO = {
    "opt-1.3b",
    "opt-6.7b",
    "phi-2",
    "yi-6b",
    "llama-2-7b",
    "llama-2-13b",
    "llama-3-8b",
    "bitnet-b1.58-3b",
    "smollm2-135m",
    "mistral-7b",
    "qwen2-7b",
}

# Published parameter counts (HF model cards / safetensors metadata / papers).
PUBLISHED_PARAMS = {
    "llama-2-7b": 6.74e9,  # Llama 2 paper / HF: 6,738,415,616
    "llama-2-13b": 13.0e9,  # HF: 13,015,864,320
    "llama-3-8b": 8.03e9,  # HF: 8,030,261,248
    "opt-6.7b": 6.66e9,  # HF: 6,658,473,984 (OPT paper: "6.7B")
    "opt-1.3b": 1.316e9,  # HF: 1,315,758,080
    "smollm2-135m": 134.5e6,  # HF: 134,515,008 (tied embeddings)
    "mistral-7b": 7.24e9,  # HF: 7,241,732,096
    "qwen2-7b": 7.62e9,  # Qwen2 report / HF: 7.62B
    "phi-2": 2.78e9,  # HF: 2.78B
    "yi-6b": 6.06e9,  # HF: 6.06B
}


def test_zoo_lists_every_required_model() -> None:
    assert ZOO <= set(list_models())
    for name in list_models():
        shape = load_model_shape(name)
        assert isinstance(shape, ModelShape)
        assert shape.name == name
        assert shape.heads % shape.kv_heads == 0


@pytest.mark.parametrize("name", sorted(PUBLISHED_PARAMS))
def test_param_count_within_1pct_of_published(name: str) -> None:
    got = count_params(load_model_shape(name))
    assert abs(got - PUBLISHED_PARAMS[name]) / PUBLISHED_PARAMS[name] < 0.01, got


def test_exact_param_counts() -> None:
    # Exact counts from the HF checkpoints' safetensors metadata.
    assert count_params(load_model_shape("llama-2-7b")) == 6_738_415_616
    assert count_params(load_model_shape("llama-3-8b")) == 8_030_261_248
    assert count_params(load_model_shape("opt-6.7b")) == 6_658_473_984
    assert count_params(load_model_shape("smollm2-135m")) == 134_515_008


def test_smollm2_shape() -> None:
    s = load_model_shape("smollm2-135m")
    assert (s.hidden, s.intermediate, s.layers, s.heads, s.kv_heads, s.head_dim, s.vocab) == (
        576,
        1536,
        30,
        9,
        3,
        64,
        49152,
    )
    assert s.tied_embeddings and s.mlp == "gated" and s.norm == "rms" and s.group == 3


def test_families_and_kinds() -> None:
    opt = load_model_shape("opt-6.7b")
    assert (opt.family, opt.mlp, opt.norm, opt.act) == ("opt", "plain", "layer", "relu")
    assert opt.learned_positions and opt.rotary_dim == 0 and opt.qkv_bias and opt.mlp_bias
    phi = load_model_shape("phi-2")
    assert (phi.family, phi.mlp, phi.norm, phi.head_dim) == ("phi", "plain", "layer", 80)
    assert phi.rotary_dim == 32 and phi.parallel_block and phi.lm_head_bias  # 0.4 * 80
    qwen = load_model_shape("qwen2-7b")
    assert qwen.qkv_bias and not qwen.o_bias and qwen.sliding_window is None
    assert load_model_shape("mistral-7b").sliding_window == 4096
    assert load_model_shape("bitnet-b1.58-3b").family == "bitnet"
    assert load_model_shape("yi-6b").kv_heads == 4


def test_kv_cache_bytes_llama2_7b() -> None:
    # 2 (K,V) * 32 layers * 4096 (32 heads * 128) * 4096 tokens * 2 bytes = 2 GiB
    assert kv_cache_bytes(load_model_shape("llama-2-7b"), 4096, 1, 16) == 2 * 1024**3
    # GQA: llama-3-8b keeps 8 of 32 heads -> a quarter; 4-bit halves fp8
    s = load_model_shape("llama-3-8b")
    assert kv_cache_bytes(s, 4096, 1, 16) == 512 * 1024**2
    assert kv_cache_bytes(s, 1000, 3, 4) == 2 * 32 * 1024 * 1000 * 3 // 2


def test_load_from_file_and_directory(tmp_path: Path) -> None:
    src = Path(__file__).resolve().parents[2] / "workloads" / "configs" / "llama-3-8b.json"
    d = tmp_path / "my-model"
    d.mkdir()
    (d / "config.json").write_text(src.read_text())
    by_dir = load_model_shape(str(d))
    by_file = load_model_shape(d / "config.json")
    assert by_dir.name == by_file.name == "my-model"
    assert by_dir.kv_heads == 8 and by_dir.hidden == 4096
    other = tmp_path / "x.json"
    other.write_text(src.read_text())
    assert load_model_shape(str(other)).name == "x"


def test_explicit_head_dim_allows_non_dividing_heads(tmp_path: Path) -> None:
    cfg = dict(_TINY, hidden_size=10, num_attention_heads=4, num_key_value_heads=2, head_dim=3)
    p = tmp_path / "c.json"
    p.write_text(json.dumps(cfg))
    s = load_model_shape(p)
    assert (s.head_dim, s.q_dim, s.kv_dim) == (3, 12, 6)


# --- errors --------------------------------------------------------------------------

_TINY = {
    "model_type": "llama",
    "hidden_size": 8,
    "intermediate_size": 16,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 10,
    "max_position_embeddings": 64,
}


def _write(tmp_path: Path, cfg: object, raw: str | None = None) -> Path:
    p = tmp_path / "config.json"
    p.write_text(raw if raw is not None else json.dumps(cfg))
    return p


def test_unknown_name() -> None:
    with pytest.raises(InputError) as e:
        load_model_shape("llama-9-1t")
    assert e.value.source == "model"
    assert e.value.field == "'llama-9-1t'"
    assert "zoo name" in e.value.expected and "llama-2-7b" in e.value.expected


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as e:
        load_model_shape(str(tmp_path / "nope" / "config.json"))
    assert "nope" in e.value.source and e.value.field == "config.json"
    with pytest.raises(InputError):
        load_model_shape(str(tmp_path))  # a directory without config.json


def test_malformed_json(tmp_path: Path) -> None:
    p = _write(tmp_path, None, raw='{"model_type": "llama",\n  "hidden_size": }')
    with pytest.raises(InputError) as e:
        load_model_shape(p)
    assert e.value.source == str(p)
    assert "line 2" in e.value.field and "valid JSON" in e.value.expected


def test_top_level_not_object(tmp_path: Path) -> None:
    with pytest.raises(InputError) as e:
        load_model_shape(_write(tmp_path, [1, 2]))
    assert e.value.field == "top level"


@pytest.mark.parametrize(
    "field",
    [
        "model_type",
        "hidden_size",
        "intermediate_size",
        "num_hidden_layers",
        "num_attention_heads",
        "vocab_size",
    ],
)
def test_missing_required_field(tmp_path: Path, field: str) -> None:
    cfg = {k: v for k, v in _TINY.items() if k != field}
    p = _write(tmp_path, cfg)
    with pytest.raises(InputError) as e:
        load_model_shape(p)
    assert (e.value.source, e.value.field) == (str(p), field)
    assert "required" in e.value.expected


def test_opt_needs_ffn_dim(tmp_path: Path) -> None:
    cfg = dict(_TINY, model_type="opt")  # has intermediate_size, lacks ffn_dim
    with pytest.raises(InputError) as e:
        load_model_shape(_write(tmp_path, cfg))
    assert e.value.field == "ffn_dim"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("hidden_size", 0),
        ("intermediate_size", -16),
        ("num_hidden_layers", 0),
        ("num_attention_heads", -4),
        ("num_key_value_heads", 0),
        ("vocab_size", 0),
        ("head_dim", 0),
        ("max_position_embeddings", -1),
        ("hidden_size", 8.0),
        ("num_hidden_layers", True),
        ("vocab_size", "10"),
    ],
)
def test_non_positive_sizes(tmp_path: Path, field: str, value: object) -> None:
    p = _write(tmp_path, dict(_TINY, **{field: value}))
    with pytest.raises(InputError) as e:
        load_model_shape(p)
    assert (e.value.source, e.value.field) == (str(p), field)
    assert "positive integer" in e.value.expected


def test_unsupported_model_type(tmp_path: Path) -> None:
    cfg = {k: v for k, v in _TINY.items() if k != "intermediate_size"}
    with pytest.raises(InputError) as e:
        load_model_shape(_write(tmp_path, dict(cfg, model_type="t5")))
    assert e.value.field == "model_type" and "'t5'" in e.value.expected
    assert "llama" in e.value.expected and "intermediate_size" in e.value.expected


def test_unknown_model_type_with_decoder_fields_warns_once(tmp_path: Path, capsys) -> None:
    shape = load_model_shape(_write(tmp_path, dict(_TINY, model_type="my_decoder")))
    ref = load_model_shape(_write(tmp_path, dict(_TINY, model_type="llama")))
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "'my_decoder'" in err[0] and "llama-style" in err[0]
    assert (shape.hidden, shape.layers, shape.kv_heads, shape.mlp) == (
        ref.hidden,
        ref.layers,
        ref.kv_heads,
        "gated",
    )


def test_heads_not_dividing_hidden(tmp_path: Path) -> None:
    p = _write(tmp_path, dict(_TINY, hidden_size=10, num_key_value_heads=4))
    with pytest.raises(InputError) as e:
        load_model_shape(p)
    assert e.value.field == "num_attention_heads" and "hidden_size=10" in e.value.expected


def test_kv_heads_not_dividing_heads(tmp_path: Path) -> None:
    with pytest.raises(InputError) as e:
        load_model_shape(_write(tmp_path, dict(_TINY, num_key_value_heads=3)))
    assert e.value.field == "num_key_value_heads"


def test_bad_types_and_opt_projection(tmp_path: Path) -> None:
    with pytest.raises(InputError) as e:
        load_model_shape(_write(tmp_path, dict(_TINY, tie_word_embeddings="yes")))
    assert e.value.field == "tie_word_embeddings"
    with pytest.raises(InputError) as e:
        load_model_shape(_write(tmp_path, dict(_TINY, partial_rotary_factor=1.5)))
    assert e.value.field == "partial_rotary_factor"
    opt = dict(_TINY, model_type="opt", ffn_dim=16, word_embed_proj_dim=4)
    with pytest.raises(InputError) as e:
        load_model_shape(_write(tmp_path, opt))
    assert e.value.field == "word_embed_proj_dim"
