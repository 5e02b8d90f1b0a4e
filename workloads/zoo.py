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
| mixtral | mixtral | MoE (gated experts) | RMSNorm | RoPE, `sliding_window` | none |
| qwen2_moe, qwen3_moe | same | MoE (+ shared, gate) | RMSNorm | RoPE (3) | qkv (qwen2_moe) |
| qwen3 | qwen3 | gated, q/k norms | RMSNorm | RoPE (3) | `attention_bias` |
| phi3 | phi3 | gated (fused gate_up) | RMSNorm | RoPE, `sliding_window` | none |
| gemma, gemma2, gemma3_text | same | gated GELU (5) | RMSNorm (1 + w) | RoPE, window (4) | none |
| gpt2 | gpt2 | plain | LayerNorm | learned (`n_positions`) | all |
| deepseek_v2, deepseek_v3 | same | MoE + shared, first-k dense | RMSNorm | MLA | none |
| gpt_oss | gpt_oss | MoE (biases) | RMSNorm | RoPE, window (4), sinks | q/k/v/o |

(3) windowed layers only with `use_sliding_window` (layers >= `max_window_layers`).
(4) `layer_types`, else gemma2 / gpt_oss: even layers; gemma3: all but every
`sliding_window_pattern`-th. (5) gemma2/3 add post-norms, gemma3 q/k norms.
Any other `model_type` with the standard decoder fields is read as llama with one warning
line on stderr (`STANDARD_DECODER_FIELDS`). MoE and MLA shapes: `MoEShape`, `MLAShape`.

(1) when `architectures` names Bitnet (1bitLLM's LLaMA-shaped BitNet b1.58 models).
(2) `sliding_window` only when `use_sliding_window` is true.

Every problem with a config raises `common.errors.InputError(file, field, expected)`.
Config files are read with the limits of `common.inputs` (16 MiB, strict JSON: no NaN or
Infinity, no duplicate keys, integers of at most 20 digits). Every size field is an
integer in 1..`MAX_DIM` (2**24 = 16 777 216: the largest published value of any of these
fields, Gemma 3's vocabulary of 262 144, is 64x below it, and it keeps every derived
product of sizes exact in float64 and int64).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.errors import InputError
from common.inputs import quote

CONFIG_DIR = Path(__file__).resolve().parent / "configs"

MAX_DIM = 2**24

SUPPORTED_MODEL_TYPES = (
    "llama",
    "mistral",
    "mixtral",
    "qwen2",
    "qwen2_moe",
    "qwen3",
    "qwen3_moe",
    "phi",
    "phi3",
    "gemma",
    "gemma2",
    "gemma3_text",
    "opt",
    "gpt2",
    "deepseek_v2",
    "deepseek_v3",
    "gpt_oss",
    "bitnet",
)
LLAMA_LIKE = ("llama", "mistral", "qwen2", "bitnet")
# Fields an unknown model_type must have to be read as a standard (llama-style) decoder.
STANDARD_DECODER_FIELDS = (
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "vocab_size",
)


@dataclass(frozen=True)
class MoEShape:
    """Mixture-of-experts MLP of the MoE layers (sizes in elements).

    Every MoE layer has a router (H x experts linear), `experts` routed gated-MLP experts of
    width `expert_intermediate` of which each token uses `top_k`, and optionally one
    always-active shared MLP of width `shared_intermediate` (DeepSeek: n_shared_experts x
    moe_intermediate_size, run as one MLP; Qwen2-MoE: shared_expert_intermediate_size, with
    a sigmoid `shared_expert_gate` H x 1). `dense_layers` of the model's layers keep a dense
    MLP of width `ModelShape.intermediate` instead (DeepSeek `first_k_dense_replace`,
    Qwen `mlp_only_layers` / `decoder_sparse_step`).
    """

    experts: int
    top_k: int
    expert_intermediate: int
    shared_intermediate: int = 0
    shared_gate: bool = False  # Qwen2-MoE: sigmoid(H x 1 linear) scales the shared expert
    dense_layers: int = 0
    expert_bias: bool = False  # gpt-oss: biases on the expert linears
    router_bias: bool = False  # gpt-oss router bias; DeepSeek-V3 e_score_correction_bias


@dataclass(frozen=True)
class MLAShape:
    """DeepSeek multi-head latent attention (arXiv 2405.04434, sec. 2.1).

    q: H -> q_lora_rank (RMSNorm) -> heads x (nope + rope), or H -> heads x (nope + rope)
    directly when q_lora_rank is 0. kv: H -> kv_lora_rank + rope (kv_a_proj_with_mqa; the
    latent is RMS-normed), then kv_b_proj: kv_lora_rank -> heads x (nope + v). The KV cache
    holds only the latent (kv_lora_rank) and the shared rotary key (rope) per token.
    """

    kv_lora_rank: int
    q_lora_rank: int  # 0: no q compression
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int

    @property
    def qk_head_dim(self) -> int:
        return self.qk_nope_head_dim + self.qk_rope_head_dim

    @property
    def cache_dim(self) -> int:
        """Cached values per token per layer: the latent plus the shared rotary key."""
        return self.kv_lora_rank + self.qk_rope_head_dim


@dataclass(frozen=True)
class ModelShape:
    """Shape of a decoder-only transformer: everything the phase builder needs.

    All sizes are element counts (not bytes). `head_dim` may differ from
    `hidden // heads` when the config sets it explicitly.
    """

    name: str  # zoo name, or the config's directory / file stem
    family: str  # the model_type read (bitnet for 1bitLLM llama-shaped BitNet)
    hidden: int  # d_model
    intermediate: int  # dense MLP width (HF `intermediate_size`, OPT `ffn_dim`)
    layers: int  # decoder blocks
    heads: int  # query heads
    kv_heads: int  # key/value heads (== heads without GQA/MQA)
    head_dim: int  # per-head width (MLA: qk_nope + qk_rope)
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
    learned_positions: bool = False  # OPT / GPT-2: a position table added once
    parallel_block: bool = False  # phi: attention and MLP read the same normed input
    sub_norms: bool = False  # BitNet b1.58 2B4T: RMSNorm before o_proj and down_proj
    sliding_window: int | None = None  # attention span cap in tokens of windowed layers
    max_positions: int | None = None  # `max_position_embeddings`
    source: str = ""  # the config file the shape was read from
    # --- added for today's families (defaults keep the older families unchanged) ---
    sliding_layers: int | None = None  # layers using sliding_window (None: all of them)
    position_rows: int = 0  # rows of the learned position table (OPT: max + 2)
    qk_norm: bool = False  # Qwen3 / Gemma 3: RMSNorm over head_dim on q and k
    post_norms: bool = False  # Gemma 2/3: extra norms after attention and after the MLP
    attn_sinks: bool = False  # gpt-oss: one learned sink logit per head
    rope_type: str = "default"  # rope scaling type (llama3, yarn, ...); shapes unchanged
    moe: MoEShape | None = None
    mla: MLAShape | None = None

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

    @property
    def o_in(self) -> int:
        """Input width of o_proj (MLA: heads x v_head_dim)."""
        return self.heads * self.mla.v_head_dim if self.mla else self.q_dim

    @property
    def window_layers(self) -> int:
        """Layers whose attention is bounded by `sliding_window`."""
        if self.sliding_window is None:
            return 0
        return self.layers if self.sliding_layers is None else self.sliding_layers

    @property
    def moe_layers(self) -> int:
        """Layers with a mixture-of-experts MLP (0 for dense models)."""
        return self.layers - self.moe.dense_layers if self.moe else 0

    @property
    def dense_layers(self) -> int:
        """Layers with a dense MLP of width `intermediate`."""
        return self.layers - self.moe_layers


def list_models() -> list[str]:
    """Zoo model names (sorted), i.e. the stems of `workloads/configs/*.json`."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.json"))


def load_model_shape(name_or_path: str | Path) -> ModelShape:
    """Shape of a zoo model, or of the model described by an HF `config.json`.

    `name_or_path` is a zoo name (see `list_models()`), a path to a JSON config file, or a
    directory containing `config.json`. Raises `InputError` for an unknown name, a missing
    or malformed file, and any missing or invalid field.
    """
    from common.inputs import is_dir, is_file, path_exists, short

    text = str(name_or_path)
    if text in list_models():
        return _shape_from_file(CONFIG_DIR / f"{text}.json", text)
    path = Path(text).expanduser() if text.startswith("~") else Path(text)
    looks_like_path = (
        isinstance(name_or_path, Path) or path_exists(path) or "/" in text or "\\" in text
    ) or text.endswith(".json")
    if not looks_like_path or not text.strip():
        raise InputError(
            "model",
            short(repr(text)),
            f"a zoo name ({', '.join(list_models())}) or a path to an HF config.json",
        )
    if is_dir(path):
        path = path / "config.json"
    if not is_file(path):
        what = "not a regular file" if path_exists(path) else "not found"
        raise InputError(
            short(str(path)), "config.json", f"an existing HF-style config.json file ({what})"
        )
    name = path.parent.name if path.name == "config.json" else path.stem
    return _shape_from_file(path, name or path.stem)


# --- parsing -------------------------------------------------------------------------


def _shape_from_file(path: Path, name: str) -> ModelShape:
    from common.inputs import load_json_file, short

    src = short(str(path))
    cfg = load_json_file(path, src)
    if not isinstance(cfg, dict):
        raise InputError(src, "top level", "a JSON object of config fields")
    return shape_from_config(cfg, name=name, source=src)


def shape_from_config(cfg: dict[str, Any], name: str, source: str = "config") -> ModelShape:
    """Build a `ModelShape` from an already-parsed HF config dict (see module docstring).

    An unknown `model_type` whose config has the standard decoder fields
    (`STANDARD_DECODER_FIELDS`) is read as a llama-style decoder, with one warning line on
    stderr naming what was assumed.
    """
    r = _Reader(cfg, source)
    model_type = r.get("model_type", str, required=True)
    archs = cfg.get("architectures") or []
    if not isinstance(archs, list) or not all(isinstance(a, str) for a in archs):
        raise InputError(source, "architectures", f"a list of class names (got {quote(archs)})")
    if model_type not in SUPPORTED_MODEL_TYPES:
        missing = [k for k in STANDARD_DECODER_FIELDS if cfg.get(k) is None]
        if missing:
            raise InputError(
                source,
                "model_type",
                f"one of {', '.join(SUPPORTED_MODEL_TYPES)}, or a standard decoder config "
                f"(got {quote(model_type)} without {', '.join(missing)})",
            )
        print(
            f"warning: {source}: unknown model_type {quote(model_type)}; assumed a llama-style "
            "decoder (pre-norm RMSNorm, gated MLP, RoPE, GQA from num_key_value_heads, "
            "biases from attention_bias/mlp_bias, no MoE, no sliding window)",
            file=sys.stderr,
        )
        model_type = "llama"

    if model_type == "gpt2":
        return _gpt2_shape(r, name)
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
    mla = _mla(r) if model_type in ("deepseek_v2", "deepseek_v3") else None
    if mla is not None:
        head_dim, kv_heads = mla.qk_head_dim, heads
    elif "head_dim" in cfg and cfg["head_dim"] is not None:
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
    gemma = model_type in ("gemma", "gemma2", "gemma3_text")
    tied = r.get("tie_word_embeddings", bool, default=model_type == "opt" or gemma)

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
        rope_type=_rope_type(r),
    )
    act_default = {"opt": "relu", "phi": "gelu_new", "bitnet": "relu2"}.get(model_type, "silu")
    if gemma:
        act_default = "gelu_pytorch_tanh"
    act = (
        r.get("hidden_activation", str, default=None)
        or r.get("hidden_act", str, default=None)
        or r.get("activation_function", str, default=act_default)
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
            position_rows=(max_positions or 0) + 2,
        )

    rotary_dim = _rotary_dim(r, head_dim if mla is None else mla.qk_rope_head_dim)
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

    # llama-like: every other family (pre-norm RMSNorm, gated MLP, RoPE)
    attn_bias = r.get("attention_bias", bool, default=model_type == "gpt_oss")
    qkv_bias = {"qwen2": True, "qwen2_moe": r.get("qkv_bias", bool, default=True)}.get(
        model_type, attn_bias
    )
    o_bias = False if model_type in ("qwen2", "qwen2_moe") else attn_bias
    window, sliding_layers = _window(r, model_type, layers)
    return ModelShape(
        **common,
        mlp="gated",
        norm="rms",
        act=act,
        qkv_bias=qkv_bias,
        o_bias=o_bias,
        mlp_bias=r.get("mlp_bias", bool, default=False),
        rotary_dim=rotary_dim,
        sub_norms=model_type == "bitnet",
        sliding_window=window,
        sliding_layers=sliding_layers,
        qk_norm=model_type in ("qwen3", "qwen3_moe", "gemma3_text"),
        post_norms=model_type in ("gemma2", "gemma3_text"),
        attn_sinks=model_type == "gpt_oss",
        moe=_moe(r, model_type, layers),
        mla=mla,
    )


def _gpt2_shape(r: _Reader, name: str) -> ModelShape:
    """GPT-2: Conv1D linears (same shapes as nn.Linear), LayerNorm, learned positions,
    biases everywhere, tied lm_head; `n_inner` None means 4 x n_embd."""
    hidden = r.pos_int("n_embd")
    heads = r.pos_int("n_head")
    if hidden % heads:
        raise InputError(r.source, "n_head", f"a divisor of n_embd={hidden} (got {heads})")
    positions = r.pos_int("n_positions")
    return ModelShape(
        name=name,
        family="gpt2",
        hidden=hidden,
        intermediate=r.pos_int("n_inner", default=4 * hidden),
        layers=r.pos_int("n_layer"),
        heads=heads,
        kv_heads=heads,
        head_dim=hidden // heads,
        vocab=r.pos_int("vocab_size"),
        mlp="plain",
        norm="layer",
        act=r.get("activation_function", str, default="gelu_new"),
        tied_embeddings=r.get("tie_word_embeddings", bool, default=True),
        qkv_bias=True,
        o_bias=True,
        mlp_bias=True,
        learned_positions=True,
        position_rows=positions,
        max_positions=positions,
        source=r.source,
    )


def _rope_type(r: _Reader) -> str:
    """`rope_scaling` / `rope_parameters` type (Llama 3.x `llama3`, `yarn`, ...): it changes
    rotary frequencies, never shapes; recorded for reports, checked for form only."""
    for key in ("rope_scaling", "rope_parameters"):
        value = r.get(key, dict, default=None)
        if value is None:
            continue
        kind = value.get("rope_type", value.get("type", "default"))
        if not isinstance(kind, str):
            raise InputError(r.source, f"{key}.rope_type", f"a string (got {kind!r})")
        if kind == "llama3":
            for f in ("factor", "low_freq_factor", "high_freq_factor"):
                v = value.get(f)
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
                    raise InputError(r.source, f"{key}.{f}", f"a positive number (got {v!r})")
        return kind
    return "default"


def _layer_types(r: _Reader, layers: int) -> list[str] | None:
    types = r.get("layer_types", list, default=None)
    if types is None:
        return None
    ok = ("sliding_attention", "full_attention")
    if len(types) != layers or any(t not in ok for t in types):
        raise InputError(
            r.source,
            "layer_types",
            f"{layers} entries (num_hidden_layers), each one of {', '.join(ok)}",
        )
    return types


def _window(r: _Reader, model_type: str, layers: int) -> tuple[int | None, int | None]:
    """(sliding_window, layers using it), as each family's HF modelling code decides."""
    if model_type in ("mistral", "mixtral", "phi3"):
        return r.pos_int("sliding_window", default=None), None
    if model_type in ("qwen2", "qwen2_moe", "qwen3", "qwen3_moe"):
        if not r.get("use_sliding_window", bool, default=False):
            return None, None
        window = r.pos_int("sliding_window")
        first = r.get("max_window_layers", int, default=layers)  # layers >= it are windowed
        return window, max(0, layers - min(max(first, 0), layers))
    if model_type in ("gemma2", "gemma3_text", "gpt_oss"):
        window = r.pos_int("sliding_window", default=None)
        if window is None:
            return None, None
        types = _layer_types(r, layers)
        if types is not None:
            n = sum(t == "sliding_attention" for t in types)
        elif model_type == "gemma3_text":
            pattern = r.pos_int("sliding_window_pattern", default=6)  # (i+1) % p != 0
            n = layers - layers // pattern
        else:  # gemma2 / gpt_oss: even layers slide
            n = (layers + 1) // 2
        return window, n
    return None, None


def _mla(r: _Reader) -> MLAShape:
    q_lora = r.get("q_lora_rank", int, default=0)
    if q_lora < 0:
        raise InputError(r.source, "q_lora_rank", f"null or a positive integer (got {q_lora})")
    return MLAShape(
        kv_lora_rank=r.pos_int("kv_lora_rank"),
        q_lora_rank=q_lora,
        qk_nope_head_dim=r.pos_int("qk_nope_head_dim"),
        qk_rope_head_dim=r.pos_int("qk_rope_head_dim"),
        v_head_dim=r.pos_int("v_head_dim"),
    )


def _moe(r: _Reader, model_type: str, layers: int) -> MoEShape | None:
    """The MoE MLP of each MoE family (None for dense families), with which layers stay
    dense as in the HF modelling code."""
    if model_type == "mixtral":
        return MoEShape(
            experts=r.pos_int("num_local_experts"),
            top_k=_top_k(r, "num_experts_per_tok", r.pos_int("num_local_experts")),
            expert_intermediate=r.pos_int("intermediate_size"),
        )
    if model_type == "gpt_oss":
        e = r.pos_int("num_local_experts")
        key = "num_experts_per_tok" if "num_experts_per_tok" in r.cfg else "experts_per_token"
        return MoEShape(
            experts=e,
            top_k=_top_k(r, key, e),
            expert_intermediate=r.pos_int("intermediate_size"),
            expert_bias=True,
            router_bias=True,
        )
    if model_type in ("qwen2_moe", "qwen3_moe"):
        e = r.pos_int("num_experts")
        step = r.pos_int("decoder_sparse_step", default=1)
        only = r.get("mlp_only_layers", list, default=[])
        sparse = [i for i in range(layers) if i not in only and (i + 1) % step == 0]
        shared = (
            r.pos_int("shared_expert_intermediate_size", default=0)
            if (model_type == "qwen2_moe")
            else 0
        )
        return MoEShape(
            experts=e,
            top_k=_top_k(r, "num_experts_per_tok", e),
            expert_intermediate=r.pos_int("moe_intermediate_size"),
            shared_intermediate=shared,
            shared_gate=shared > 0,
            dense_layers=layers - len(sparse),
        )
    if model_type in ("deepseek_v2", "deepseek_v3"):
        e = r.pos_int("n_routed_experts", default=None)
        if e is None:
            return None
        first = r.get("first_k_dense_replace", int, default=0)
        freq = r.pos_int("moe_layer_freq", default=1)
        sparse = [i for i in range(layers) if i >= first and i % freq == 0]
        width = r.pos_int("moe_intermediate_size")
        return MoEShape(
            experts=e,
            top_k=_top_k(r, "num_experts_per_tok", e),
            expert_intermediate=width,
            shared_intermediate=r.get("n_shared_experts", int, default=0) * width,
            dense_layers=layers - len(sparse),
            router_bias=model_type == "deepseek_v3"
            and r.get("topk_method", str, default="noaux_tc") == "noaux_tc",
        )
    return None


def _top_k(r: _Reader, key: str, experts: int) -> int:
    k = r.pos_int(key)
    if k > experts:
        raise InputError(r.source, key, f"at most the number of experts {experts} (got {k})")
    return k


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
            raise InputError(self.source, key, f"a {names} (got {quote(value)})")
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(self.source, key, f"a finite number (got {quote(value)})")
        return value

    def pos_int(self, key: str, default: Any = _MISSING) -> Any:
        if key not in self.cfg or self.cfg[key] is None:
            if default is self._MISSING:
                raise InputError(self.source, key, "a required field (missing)")
            return default
        value = self.cfg[key]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_DIM:
            raise InputError(
                self.source, key, f"a positive integer up to 2**24 (got {quote(value)})"
            )
        return value
