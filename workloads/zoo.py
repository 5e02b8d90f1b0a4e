"""The model zoo: transformer shapes read from Hugging Face-style `config.json` files.

Only the architecture fields that decide op shapes are read; weights are never needed.
`workloads/configs/<name>.json` holds one file per zoo model, with the values published
in the model's own `config.json` on the Hugging Face Hub (the repository is recorded in
each file's `_name_or_path`). `load_model_shape` takes a zoo name, a path to a
`config.json`, or a directory holding one.

Supported `model_type`s and how they map onto a `ModelShape`:

| model_type | family | MLP | norm | positions | biases |
|---|---|---|---|---|---|
| llama | llama, or bitnet (1) | gated | RMSNorm | RoPE | `attention_bias`, `mlp_bias` |
| mistral | mistral | gated | RMSNorm | RoPE, `sliding_window` | none |
| qwen2 | qwen2 | gated | RMSNorm | RoPE, window (2) | q/k/v |
| phi | phi | plain, parallel block | LayerNorm | partial RoPE | all + lm_head |
| opt | opt | plain (fc1, fc2) | LayerNorm | learned | `enable_bias` |
| bitnet | bitnet | gated, sub-norms | RMSNorm | RoPE | none |

(1) when `architectures` names Bitnet (1bitLLM's LLaMA-shaped BitNet b1.58 models).
(2) `sliding_window` only when `use_sliding_window` is true.

Every problem with a config raises `common.errors.InputError(file, field, expected)`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.errors import InputError

CONFIG_DIR = Path(__file__).resolve().parent / "configs"

SUPPORTED_MODEL_TYPES = ("llama", "mistral", "qwen2", "phi", "opt", "bitnet")
LLAMA_LIKE = ("llama", "mistral", "qwen2", "bitnet")


@dataclass(frozen=True)
class ModelShape:
    """Shape of a decoder-only transformer: everything the phase builder needs.

    All sizes are element counts (not bytes). `head_dim` may differ from
    `hidden // heads` when the config sets it explicitly.
    """

    name: str  # zoo name, or the config's directory / file stem
    family: str  # "llama", "mistral", "qwen2", "phi", "opt" or "bitnet"
    hidden: int  # d_model
    intermediate: int  # MLP width (HF `intermediate_size`, OPT `ffn_dim`)
    layers: int  # decoder blocks
    heads: int  # query heads
    kv_heads: int  # key/value heads (== heads without GQA/MQA)
    head_dim: int  # per-head width
    vocab: int  # vocabulary size (rows of the embedding, outputs of lm_head)
    mlp: str = "gated"  # "gated": gate, up, down; "plain": fc1, fc2
    norm: str = "rms"  # "rms" (RMSNorm: weight only) or "layer" (LayerNorm: weight + bias)
    act: str = "silu"  # HF activation name: silu, relu, gelu_new, relu2 ...
    tied_embeddings: bool = False  # lm_head shares the token-embedding matrix
    qkv_bias: bool = False  # q/k/v projections carry a bias
    o_bias: bool = False  # output projection carries a bias
    mlp_bias: bool = False  # MLP linears carry biases
    lm_head_bias: bool = False  # lm_head carries a bias (phi)
    rotary_dim: int = 0  # rotated dims per head (0: no RoPE, learned positions)
    learned_positions: bool = False  # OPT: a (max_positions + 2) x hidden table added once
    parallel_block: bool = False  # phi: attention and MLP read the same normed input
    sub_norms: bool = False  # BitNet b1.58 2B4T: RMSNorm before o_proj and down_proj
    sliding_window: int | None = None  # attention span cap in tokens (Mistral v0.1)
    max_positions: int | None = None  # `max_position_embeddings`
    source: str = ""  # the config file the shape was read from

    @property
    def group(self) -> int:
        """Query heads per KV head (1 for MHA, heads for MQA)."""
        return self.heads // self.kv_heads

    @property
    def q_dim(self) -> int:
        """Output width of q_proj (= input width of o_proj)."""
        return self.heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        """Output width of k_proj and of v_proj."""
        return self.kv_heads * self.head_dim


def list_models() -> list[str]:
    """Zoo model names (sorted), i.e. the stems of `workloads/configs/*.json`."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.json"))


def load_model_shape(name_or_path: str | Path) -> ModelShape:
    """Shape of a zoo model, or of the model described by an HF `config.json`.

    `name_or_path` is a zoo name (see `list_models()`), a path to a JSON config file, or a
    directory containing `config.json`. Raises `InputError` for an unknown name, a missing
    or malformed file, and any missing or invalid field.
    """
    text = str(name_or_path)
    if text in list_models():
        return _shape_from_file(CONFIG_DIR / f"{text}.json", text)
    path = Path(text).expanduser()
    looks_like_path = (
        isinstance(name_or_path, Path) or path.exists() or "/" in text or "\\" in text
    ) or text.endswith(".json")
    if not looks_like_path:
        raise InputError(
            "model",
            repr(text),
            f"a zoo name ({', '.join(list_models())}) or a path to an HF config.json",
        )
    if path.is_dir():
        path = path / "config.json"
    if not path.is_file():
        raise InputError(str(path), "config.json", "an existing HF-style config.json file")
    name = path.parent.name if path.name == "config.json" else path.stem
    return _shape_from_file(path, name or path.stem)


# --- parsing -------------------------------------------------------------------------


def _shape_from_file(path: Path, name: str) -> ModelShape:
    src = str(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(src, "config.json", f"a readable file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise InputError(src, "config.json", "UTF-8 encoded JSON text") from None
    try:
        cfg = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InputError(
            src, f"JSON (line {exc.lineno}, column {exc.colno})", f"valid JSON: {exc.msg}"
        ) from None
    if not isinstance(cfg, dict):
        raise InputError(src, "top level", "a JSON object of config fields")
    return shape_from_config(cfg, name=name, source=src)


def shape_from_config(cfg: dict[str, Any], name: str, source: str = "config") -> ModelShape:
    """Build a `ModelShape` from an already-parsed HF config dict (see module docstring)."""
    r = _Reader(cfg, source)
    model_type = r.get("model_type", str, required=True)
    archs = cfg.get("architectures") or []
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise InputError(
            source, "model_type", f"one of {', '.join(SUPPORTED_MODEL_TYPES)} (got {model_type!r})"
        )

    hidden = r.pos_int("hidden_size")
    layers = r.pos_int("num_hidden_layers")
    heads = r.pos_int("num_attention_heads")
    vocab = r.pos_int("vocab_size")
    if model_type == "opt":
        intermediate = r.pos_int("ffn_dim")
    else:
        intermediate = r.pos_int("intermediate_size")
    kv_heads = r.pos_int("num_key_value_heads", default=heads)
    if heads % kv_heads:
        raise InputError(
            source,
            "num_key_value_heads",
            f"a divisor of num_attention_heads={heads} (got {kv_heads})",
        )
    if "head_dim" in cfg and cfg["head_dim"] is not None:
        head_dim = r.pos_int("head_dim")
    else:
        if hidden % heads:
            raise InputError(
                source,
                "num_attention_heads",
                f"a divisor of hidden_size={hidden} (got {heads}), or an explicit head_dim",
            )
        head_dim = hidden // heads
    max_positions = r.pos_int("max_position_embeddings", default=None)
    tied = r.get("tie_word_embeddings", bool, default=model_type == "opt")

    family = model_type
    if model_type == "llama" and any("bitnet" in str(a).lower() for a in archs):
        family = "bitnet"

    common: dict[str, Any] = dict(
        name=name,
        family=family,
        hidden=hidden,
        intermediate=intermediate,
        layers=layers,
        heads=heads,
        kv_heads=kv_heads,
        head_dim=head_dim,
        vocab=vocab,
        tied_embeddings=tied,
        max_positions=max_positions,
        source=source,
    )
    act_default = {"opt": "relu", "phi": "gelu_new", "bitnet": "relu2"}.get(model_type, "silu")
    act = r.get("hidden_act", str, default=None) or r.get(
        "activation_function", str, default=act_default
    )

    if model_type == "opt":
        proj = cfg.get("word_embed_proj_dim", hidden)
        if proj != hidden:
            raise InputError(
                source,
                "word_embed_proj_dim",
                f"equal to hidden_size={hidden} (OPT project_in/project_out is not modelled)",
            )
        bias = r.get("enable_bias", bool, default=True)
        return ModelShape(
            **common,
            mlp="plain",
            norm="layer",
            act=act,
            qkv_bias=bias,
            o_bias=bias,
            mlp_bias=bias,
            learned_positions=True,
        )

    rotary_dim = _rotary_dim(r, head_dim)
    if model_type == "phi":
        return ModelShape(
            **common,
            mlp="plain",
            norm="layer",
            act=act,
            qkv_bias=True,
            o_bias=True,
            mlp_bias=True,
            lm_head_bias=True,
            rotary_dim=rotary_dim,
            parallel_block=True,
        )

    # llama-like: llama, mistral, qwen2, bitnet
    attn_bias = r.get("attention_bias", bool, default=False)
    window = None
    if model_type == "mistral" or (
        model_type == "qwen2" and r.get("use_sliding_window", bool, default=False)
    ):
        window = r.pos_int("sliding_window", default=None)
    return ModelShape(
        **common,
        mlp="gated",
        norm="rms",
        act=act,
        qkv_bias=True if model_type == "qwen2" else attn_bias,
        o_bias=False if model_type == "qwen2" else attn_bias,
        mlp_bias=r.get("mlp_bias", bool, default=False),
        rotary_dim=rotary_dim,
        sub_norms=model_type == "bitnet",
        sliding_window=window,
    )


def _rotary_dim(r: _Reader, head_dim: int) -> int:
    """Rotated dims per head: head_dim x `partial_rotary_factor` (default 1.0), kept even."""
    factor = r.get("partial_rotary_factor", (int, float), default=1.0)
    if not 0 < factor <= 1:
        raise InputError(r.source, "partial_rotary_factor", f"a number in (0, 1] (got {factor})")
    return int(head_dim * factor) // 2 * 2


class _Reader:
    """Typed access to config fields, raising `InputError` naming the file and the field."""

    _MISSING = object()

    def __init__(self, cfg: dict[str, Any], source: str) -> None:
        self.cfg = cfg
        self.source = source

    def get(
        self,
        key: str,
        typ: type | tuple[type, ...],
        default: Any = _MISSING,
        *,
        required: bool = False,
    ) -> Any:
        if key not in self.cfg or self.cfg[key] is None:
            if required or default is self._MISSING:
                raise InputError(self.source, key, "a required field (missing)")
            return default
        value = self.cfg[key]
        types = typ if isinstance(typ, tuple) else (typ,)
        is_bool = isinstance(value, bool)
        if not isinstance(value, types) or (is_bool and bool not in types):
            names = " or ".join(t.__name__ for t in types)
            raise InputError(self.source, key, f"a {names} (got {value!r})")
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(self.source, key, f"a finite number (got {value!r})")
        return value

    def pos_int(self, key: str, default: Any = _MISSING) -> Any:
        if key not in self.cfg or self.cfg[key] is None:
            if default is self._MISSING:
                raise InputError(self.source, key, "a required field (missing)")
            return default
        value = self.cfg[key]
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise InputError(self.source, key, f"a positive integer (got {value!r})")
        return value
