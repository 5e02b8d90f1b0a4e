"""The Trace: ordered Ops of one model run + metadata + statistics + optional tensor payloads.

On disk a trace is a directory holding two files (format documented in workloads/README.md,
section "Trace format"):

- `trace.json`: pydantic-validated `TraceFile` (format_version 1): model metadata, prompt
  and token counts, operand formats, the ordered op records (shapes, phase, formats, group
  size, count, statistics) and a table of every tensor in the payload (dtype + shape).
- `tensors.safetensors` (optional): quantized weight codes + scales (+ zeros) and a sample
  of captured activations, keyed `"{op}/{layer}/{role}.{part}"` (see `tensor_key`).

`load_trace(dir)` validates the JSON schema and the payload header (every listed tensor
present with the listed dtype and shape, file not truncated, size and SHA-256 as recorded);
any mismatch raises `InputError(file, field, expected)`. `save_trace` writes atomically:
everything goes to a temporary sibling directory that is renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from common.errors import InputError
from common.files import write_atomic, write_dir_atomic
from workloads.ops import GEMM_KINDS, PHASES, VECTOR_KINDS, Op

FORMAT_VERSION = 1
# Bounds of every size and count in trace.json (issue 12): 2**40 is ~1e12, above any
# tokens x batch x layers x heads product of a real run, and keeps every product of two
# such sizes exact in float64 (< 2**53 after the cost model's scaling).
MAX_SIZE = 2**40
MAX_TENSOR_ELEMENTS = 2**40
TRACE_JSON = "trace.json"
TENSORS_FILE = "tensors.safetensors"

# safetensors dtype tags <-> numpy dtypes (the subset a trace uses)
ST_DTYPES: dict[str, np.dtype] = {
    "I8": np.dtype(np.int8),
    "U8": np.dtype(np.uint8),
    "I16": np.dtype(np.int16),
    "U16": np.dtype(np.uint16),
    "I32": np.dtype(np.int32),
    "U32": np.dtype(np.uint32),
    "I64": np.dtype(np.int64),
    "F16": np.dtype(np.float16),
    "F32": np.dtype(np.float32),
    "F64": np.dtype(np.float64),
}
NP_TO_ST = {v: k for k, v in ST_DTYPES.items()}


def tensor_key(op: str, layer: int | None, role: str, part: str) -> str:
    """Payload key: `"{op}/{layer}/{role}.{part}"` (layer omitted for ops outside layers).

    role: "weight" (the B operand of a linear) or "act" (the A operand sample);
    part: "codes", "scales" or "zeros".
    """
    mid = f"/{layer}" if layer is not None else ""
    return f"{op}{mid}/{role}.{part}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelInfo(_Strict):
    """What was traced. dims: integer sizes (hidden, intermediate, layers, heads, kv_heads,
    head_dim, vocab for an LLM; free-form for a custom module)."""

    name: str
    source: str  # "gguf:<file>" for the zoo model, "module:<path:factory>" for custom ones
    kind: Literal["llm", "module"]
    dims: dict[str, int] = Field(default_factory=dict)


class RunInfo(_Strict):
    """The captured run: prompt tokens (prefill length), decode steps and batch."""

    prompt_tokens: int = Field(ge=1, le=MAX_SIZE)
    decode_steps: int = Field(ge=0, le=MAX_SIZE)
    batch: int = Field(ge=1, le=MAX_SIZE)
    prompt_source: str = ""  # "default", a file path, or "example input"
    prompt_sha256: str = ""
    generated_token_ids: list[int] = Field(default_factory=list)


class FormatsInfo(_Strict):
    """Operand formats (quant format names): weights, activations, KV cache."""

    wq: str
    aq: str
    kvq: str


class TensorSpec(_Strict):
    """One payload tensor: safetensors dtype tag and shape."""

    dtype: Literal["I8", "U8", "I16", "U16", "I32", "U32", "I64", "F16", "F32", "F64"]
    shape: list[int] = Field(max_length=8)

    @field_validator("shape")
    @classmethod
    def _nonneg(cls, v: list[int]) -> list[int]:
        if any(d < 0 for d in v):
            raise ValueError("dimensions must be >= 0")
        if math.prod(v) > MAX_TENSOR_ELEMENTS:
            raise ValueError(f"at most {MAX_TENSOR_ELEMENTS} elements (2**40)")
        return v


class OpRecord(_Strict):
    """One engine Op plus what the trace knows about it.

    M, K, N: GEMM sizes (elements); elements: vector-op size; count: executions of one
    run (layers x KV heads x batch x steps, collapsed over identical shapes).
    group_size: elements per quantization group of the B operand along K (0 = not stated:
    the format name says it). The B format the op runs is `b_format()`: the name with the
    group carried into it (wq "int4" + group_size 128 -> "int4-g128"); a group_size that
    contradicts the name's own group is an input error. layers: model layer indices folded
    into this record (empty when the op is outside the layer stack). stats: aggregated
    statistics (see README); per_layer: optional per-layer statistics, aligned with
    `layers`. tensors: payload keys by role.
    """

    name: str
    kind: str
    phase: str
    M: int = Field(default=0, ge=0, le=MAX_SIZE)
    K: int = Field(default=0, ge=0, le=MAX_SIZE)
    N: int = Field(default=0, ge=0, le=MAX_SIZE)
    elements: int = Field(default=0, ge=0, le=MAX_SIZE)
    count: int = Field(default=1, ge=1, le=MAX_SIZE)
    wq: str
    aq: str
    group_size: int = Field(default=0, ge=0)
    layers: list[int] = Field(default_factory=list)
    stats: dict[str, float] = Field(default_factory=dict)
    per_layer: list[dict[str, float]] | None = None
    tensors: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if v not in GEMM_KINDS + VECTOR_KINDS:
            raise ValueError(f"one of {', '.join(GEMM_KINDS + VECTOR_KINDS)}")
        return v

    @field_validator("phase")
    @classmethod
    def _phase(cls, v: str) -> str:
        if v not in PHASES:
            raise ValueError(f"one of {', '.join(PHASES)}")
        return v

    @model_validator(mode="after")
    def _sizes(self) -> OpRecord:
        if self.kind in GEMM_KINDS and min(self.M, self.K, self.N) < 1:
            raise ValueError(f"M, K and N >= 1 for a {self.kind} op")
        if self.kind in VECTOR_KINDS and self.elements < 1 and self.M * self.N < 1:
            raise ValueError(f"elements >= 1 for a {self.kind} op")
        if not self.wq.strip() or not self.aq.strip():
            raise ValueError("wq and aq format names (empty)")
        d = self.stats.get("w_nm16_density")  # workloads/trace_stats.WEIGHT_DENSITY_STAT
        if d is not None and not 0.0 <= d <= 1.0:
            raise ValueError(f"stats.w_nm16_density in [0, 1] (got {d})")
        self.b_format()  # group_size agrees with the wq name
        return self

    def b_format(self) -> str:
        """The B-operand format name with `group_size` carried into it: an ungrouped
        parametric name gets `-gG` ("int4" + 128 -> "int4-g128", "int4-asym" ->
        "int4-g128-asym"); a name that has its own group (parametric `-gG`, or a block
        format such as nvfp4) must state the same group. Raises ValueError otherwise."""
        g = self.group_size
        if g == 0:
            return self.wq
        from quant.info import format_info
        from quant.names import parse_format

        p = parse_format(self.wq)
        if p is not None and p.group is None and p.family in ("int", "fp", "bitmod"):
            if p.family == "int":
                suffix = ("-asym" if p.asym else "") + ("-mse" if p.mse else "")
                return f"int{p.bits}-g{g}{suffix}"
            prefix = "bitmod-" if p.family == "bitmod" else ""
            return f"{prefix}{p.element}-g{g}"
        try:
            block = format_info(self.wq).block_size
        except InputError:
            return self.wq  # an unknown name is reported where the op is costed
        if block != g:
            raise ValueError(
                f"group_size {g} contradicts format {self.wq} (its group: {block}); "
                + (f"expected {block} or 0" if block else "expected 0")
            )
        return self.wq

    def to_op(self) -> Op:
        """The engine-ready Op (stats flattened, sorted by key). A linear op's
        `weight_density` is its measured N:16 block density (`w_nm16_density`,
        workloads/trace_stats.py) when recorded, else 1.0; an all-zero weight (0.0) is
        taken as one nonzero weight, 1 / (K * N), since Op needs a density > 0."""
        from workloads.trace_stats import WEIGHT_DENSITY_STAT

        density = 1.0
        if self.kind == "linear" and WEIGHT_DENSITY_STAT in self.stats:
            density = max(float(self.stats[WEIGHT_DENSITY_STAT]), 1.0 / (self.K * self.N))
        return Op(
            name=self.name,
            kind=self.kind,
            phase=self.phase,
            M=self.M,
            K=self.K,
            N=self.N,
            elements=self.elements,
            count=self.count,
            bq=self.b_format(),
            aq=self.aq,
            weight_density=density,
            stats=tuple(sorted((k, float(v)) for k, v in self.stats.items())),
        )


class TensorsFileInfo(_Strict):
    """Integrity record of tensors.safetensors: size (bytes) and SHA-256 hex digest."""

    file: str = TENSORS_FILE
    bytes: int = Field(ge=0)
    sha256: str


class TraceFile(_Strict):
    """Schema of trace.json (format_version 1)."""

    format_version: int
    created_by: str = "sim"
    model: ModelInfo
    run: RunInfo
    formats: FormatsInfo
    ops: list[OpRecord]
    tensors: dict[str, TensorSpec] = Field(default_factory=dict)
    tensors_file: TensorsFileInfo | None = None

    @model_validator(mode="after")
    def _consistent(self) -> TraceFile:
        decode_ops = sum(1 for o in self.ops if o.phase == "decode")
        if self.run.decode_steps == 0 and decode_ops:
            raise ValueError(f"run.decode_steps >= 1: the trace has {decode_ops} decode ops")
        if self.run.decode_steps > 0 and not decode_ops:
            raise ValueError(
                f"decode ops for run.decode_steps={self.run.decode_steps} (the trace has none)"
            )
        if self.tensors and self.tensors_file is None:
            raise ValueError(
                "a tensors_file record (size + sha256) when tensors are listed; "
                "without it the payload could not be checked"
            )
        if "__metadata__" in self.tensors:
            raise ValueError("tensor names other than __metadata__ (safetensors reserves it)")
        return self

    @field_validator("format_version")
    @classmethod
    def _version(cls, v: int) -> int:
        if v != FORMAT_VERSION:
            raise ValueError(f"format_version {FORMAT_VERSION} (this sim reads only it), got {v}")
        return v


class Trace:
    """A loaded (or freshly built) trace: `meta` (TraceFile) + lazily read tensor payload.

    `ops()` gives engine-ready Ops; `tensor(key)` / `tensors()` read payload arrays.
    """

    def __init__(
        self, meta: TraceFile, path: Path | None = None, arrays: dict[str, np.ndarray] | None = None
    ) -> None:
        self.meta = meta
        self.path = path
        self._arrays = arrays
        self.elapsed_s = 0.0  # wall seconds the export took (set by workloads.export)

    # ---- metadata -------------------------------------------------------------------------
    @property
    def records(self) -> list[OpRecord]:
        return list(self.meta.ops)

    def ops(self, kinds: tuple[str, ...] | None = None) -> list[Op]:
        """Engine-ready Ops in trace order (optionally only the given kinds)."""
        return [r.to_op() for r in self.meta.ops if kinds is None or r.kind in kinds]

    def gemm_ops(self) -> list[Op]:
        return self.ops(GEMM_KINDS)

    @property
    def has_tensors(self) -> bool:
        return bool(self.meta.tensors)

    # ---- payload --------------------------------------------------------------------------
    def tensor_keys(self) -> list[str]:
        return sorted(self.meta.tensors)

    def tensor(self, key: str) -> np.ndarray:
        """One payload array (numpy), read from tensors.safetensors on first use."""
        if key not in self.meta.tensors:
            raise InputError(self._src(TRACE_JSON), f"tensors.{key}", "a key listed in trace.json")
        if self._arrays is not None and key in self._arrays:
            return self._arrays[key]
        if self.path is None:
            raise InputError("trace", f"tensors.{key}", "a trace with a tensors payload")
        from safetensors import safe_open

        f = self.path / TENSORS_FILE
        try:
            with safe_open(str(f), framework="np") as st:
                arr = st.get_tensor(key)
        except Exception as e:  # the header was checked on load; this is a late corruption
            raise InputError(str(f), key, f"a readable tensor ({e})") from None
        if self._arrays is None:
            self._arrays = {}
        self._arrays[key] = arr
        return arr

    def tensors(self) -> dict[str, np.ndarray]:
        return {k: self.tensor(k) for k in self.tensor_keys()}

    def dequantized(self, op: str, layer: int | None, role: str = "weight") -> np.ndarray:
        """Real values (float32) of a payload operand: role "weight" (format wq) or "act"
        (format aq), decoded from its codes + scales (+ zeros); see
        workloads.trace_quant.decode_payload for the formats this supports."""
        from workloads.trace_quant import decode_payload

        fmt = self.meta.formats.wq if role == "weight" else self.meta.formats.aq
        codes = self.tensor(tensor_key(op, layer, role, "codes"))
        scales = self.tensor(tensor_key(op, layer, role, "scales"))
        zkey = tensor_key(op, layer, role, "zeros")
        zeros = self.tensor(zkey) if zkey in self.meta.tensors else None
        return decode_payload(codes, scales, zeros, fmt)

    def _src(self, name: str) -> str:
        return str(self.path / name) if self.path else name


# ---- validation helpers -------------------------------------------------------------------
def _pydantic_error(src: str, e: ValidationError) -> InputError:
    from common.inputs import quote, short

    err = e.errors()[0]
    loc = short(".".join(str(p) for p in err["loc"]) or "(root)")
    msg = short(err["msg"].removeprefix("Value error, "), 200)
    if err["type"] not in ("missing", "value_error", "extra_forbidden") and "input" in err:
        msg += f" (got {quote(err['input'])})"
    return InputError(src, loc, msg)


def _read_st_header(path: Path) -> dict[str, tuple[str, list[int]]]:
    """{tensor name: (dtype tag, shape)} of a safetensors file, read by safetensors itself
    (`safe_open` checks the header size, its JSON, and that the data offsets cover the file
    exactly, so a truncated or padded file fails here)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="np") as st:
            return {
                k: (st.get_slice(k).get_dtype(), list(st.get_slice(k).get_shape()))
                for k in st.keys()
            }
    except (SafetensorError, OSError) as e:
        raise InputError(
            str(path), "header", f"a complete safetensors file (truncated or not safetensors: {e})"
        ) from None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def load_trace(path: str | os.PathLike, verify_hash: bool = True) -> Trace:
    """Read and validate a trace directory.

    Checks: trace.json is JSON and matches `TraceFile` (format_version 1); when it lists
    tensors, tensors.safetensors exists, is not truncated, has the recorded byte size (and
    SHA-256 when `verify_hash`), and holds every listed key with the listed dtype and shape.
    Tensors are read lazily. Raises InputError(file, field, expected) on any problem.
    """
    from common.inputs import is_dir, load_json_file, short

    root = Path(path)
    jf = root / TRACE_JSON
    if not is_dir(root):
        raise InputError(
            short(str(root)), "trace directory", "an existing directory holding trace.json"
        )
    # 16 MiB, strict JSON (common.inputs)
    raw = load_json_file(jf, short(str(jf)), position_in_field=False)
    if not isinstance(raw, dict):
        raise InputError(str(jf), "(root)", "a JSON object")
    if "format_version" not in raw:
        raise InputError(str(jf), "format_version", f"format_version {FORMAT_VERSION}")
    try:
        meta = TraceFile.model_validate(raw)
    except ValidationError as e:
        raise _pydantic_error(str(jf), e) from None
    for i, rec in enumerate(meta.ops):
        for role, keys in rec.tensors.items():
            for k in keys:
                if k not in meta.tensors:
                    raise InputError(
                        str(jf),
                        f"ops.{i}.tensors.{role}",
                        f"keys listed in 'tensors' ({k!r} is not)",
                    )
    if meta.tensors:
        _check_payload(root, meta, jf, verify_hash)
    return Trace(meta, root)


def _check_payload(root: Path, meta: TraceFile, jf: Path, verify_hash: bool) -> None:
    tf = root / TENSORS_FILE
    if not tf.is_file():
        raise InputError(
            str(tf),
            "file",
            f"{TENSORS_FILE} to exist (trace.json lists {len(meta.tensors)} tensors)",
        )
    info = meta.tensors_file
    size = tf.stat().st_size
    if info is not None and info.bytes != size:
        raise InputError(
            str(tf),
            "size",
            f"{info.bytes} bytes as recorded in trace.json, found {size} (truncated or replaced)",
        )
    header = _read_st_header(tf)
    for key, spec in meta.tensors.items():
        if key not in header:
            raise InputError(str(tf), key, "the tensor listed in trace.json (missing)")
        dtype, shape = header[key]
        if dtype != spec.dtype:
            raise InputError(str(tf), f"{key}.dtype", f"{spec.dtype}, found {dtype}")
        if shape != list(spec.shape):
            raise InputError(str(tf), f"{key}.shape", f"{spec.shape}, found {shape}")
    if info is not None and verify_hash and _sha256(tf) != info.sha256:
        raise InputError(str(tf), "sha256", "the digest recorded in trace.json (file modified)")


def save_trace(
    meta: TraceFile,
    out: str | os.PathLike,
    arrays: dict[str, np.ndarray] | None = None,
    overwrite: bool = True,
) -> Trace:
    """Write `meta` (+ arrays) as a trace directory, atomically.

    Files are written into a temporary sibling directory which then replaces `out` (an
    existing trace at `out` is removed only after the new one is complete). The tensor
    table and integrity record in trace.json are filled from `arrays`.
    """
    from safetensors.numpy import save_file

    out = Path(out)
    if out.exists() and not overwrite:
        raise InputError(str(out), "--out", "a path that does not exist yet")
    if out.exists() and not out.is_dir():
        raise InputError(str(out), "--out", "a directory path (a file is in the way)")
    arrays = {k: np.ascontiguousarray(v) for k, v in (arrays or {}).items()}
    table: dict[str, TensorSpec] = {}
    for k, v in arrays.items():
        if v.dtype not in NP_TO_ST:
            raise ValueError(f"tensor {k}: dtype {v.dtype} not supported in a trace")
        table[k] = TensorSpec(dtype=NP_TO_ST[v.dtype], shape=list(v.shape))
    record: list[TraceFile] = []

    def fill(tmp: Path) -> None:
        tf_info = None
        if arrays:
            save_file(arrays, str(tmp / TENSORS_FILE), metadata={"format_version": "1"})
            tf = tmp / TENSORS_FILE
            tf_info = TensorsFileInfo(bytes=tf.stat().st_size, sha256=_sha256(tf))
        full = meta.model_copy(update={"tensors": table, "tensors_file": tf_info})
        TraceFile.model_validate(full.model_dump())  # re-check the assembled record
        write_atomic(tmp / TRACE_JSON, json.dumps(full.model_dump(), indent=1) + "\n")
        record.append(full)

    write_dir_atomic(out, fill)
    meta = record[0]
    return Trace(meta, out)
