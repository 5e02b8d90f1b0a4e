"""Quantize a captured tensor for a trace payload, and decode payload codes back.

`quantize_for_trace(x, fmt)` is `quant.quantize(x, fmt, axis=-1)`: blocks (groups) run
along the last axis, the GEMM reduction axis K of a (N, K) weight or (tokens, K)
activation. The payload keeps `codes` (same shape as x), `scales` (x's leading dims +
(ceil(K / G),), or broadcastable ones for per-tensor formats), `zeros` (asymmetric INT
only) and `types` (per-block element-format selectors of BitMoD/ANT, when present).

`decode_payload(codes, scales, zeros, fmt)` inverts that for the formats whose element
decode needs nothing but the format name: fp32/fp16/bf16 (codes are bit patterns) and
every round-to-nearest scheme (`intB[-gG][-asym][-mse]`, `fpX-eEmM[-gG]`,
`bitmod-int6-gG`, `bipolar-intB`). Value = (element(codes) - zeros) * scale (real units of
the traced tensor). The last block of a row may be partial (K % G elements).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quant import quantize
from quant.info import format_info


@dataclass(frozen=True)
class Quantized:
    """A quantized operand as the trace stores it.

    codes: integer codes (int8/uint8 for <= 8-bit formats, uint16/uint32 bit patterns for
    fp16/bf16/fp32); scales float32; zeros (asym INT) and types, else None.
    bits: code width; signed: codes are two's-complement integers; int_codes: a uniform
    integer grid (bit-plane / Booth statistics are meaningful); qt: quant's QTensor.
    """

    codes: np.ndarray
    scales: np.ndarray
    zeros: np.ndarray | None
    types: np.ndarray | None
    bits: int
    signed: bool
    int_codes: bool
    qt: object

    def dequantize(self) -> np.ndarray:
        return self.qt.dequantize()  # type: ignore[attr-defined]


def quantize_for_trace(x: np.ndarray, fmt: str) -> Quantized:
    """Codes + scales of `x` (float) in format `fmt`, groups along the last axis."""
    info = format_info(fmt)
    qt = quantize(np.asarray(x, dtype=np.float32), fmt, axis=-1)
    codes = np.asarray(qt.codes)
    signed = bool(np.issubdtype(codes.dtype, np.signedinteger))
    if info.element_bits <= 8:
        codes = codes.astype(np.int8 if signed else np.uint8)
    zeros = None if qt.zeros is None else np.asarray(qt.zeros)
    if zeros is not None and info.element_bits <= 8:
        zeros = zeros.astype(np.uint8)
    types = None if qt.types is None else np.asarray(qt.types).astype(np.uint8)
    return Quantized(
        codes,
        np.asarray(qt.scales, np.float32),
        zeros,
        types,
        info.element_bits,
        signed,
        info.kind == "int",
        qt,
    )


def expand_blocks(s: np.ndarray, k: int, group: int) -> np.ndarray:
    """Per-block values (..., nb) -> per-element (..., k): block j covers elements
    [j*group, (j+1)*group) (the last block may be partial); nb == 1 broadcasts."""
    s = np.asarray(s)
    if s.shape[-1] == 1 or group <= 0:
        return s
    return np.repeat(s, group, axis=-1)[..., :k]


def decode_payload(
    codes: np.ndarray, scales: np.ndarray, zeros: np.ndarray | None, fmt: str
) -> np.ndarray:
    """Real values (float32) of stored codes + scales (+ zeros) in format `fmt`."""
    from quant.api import _CAST, CastFormat, scheme_for

    info = format_info(fmt)
    if info.name in _CAST:
        return CastFormat(info.name, info.element_bits).decode(codes)
    scheme = scheme_for(info.name)
    if scheme is None:
        raise NotImplementedError(
            f"decoding {fmt} codes needs quant's per-block format state; "
            "use quant.quantize on the original tensor"
        )
    vals = scheme.fmt.decode(codes).astype(np.float32)
    k = codes.shape[-1]
    if zeros is not None:
        vals = vals - expand_blocks(zeros, k, info.block_size).astype(np.float32)
    return (vals * expand_blocks(scales, k, info.block_size).astype(np.float32)).astype(np.float32)
