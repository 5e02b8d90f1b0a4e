"""Quantize a captured tensor to codes + scales (+ zeros) for a trace payload.

`quantize_for_trace(x, fmt)` calls `quant.quantize(x, fmt, axis=-1)` (groups along the
last axis, the GEMM reduction axis K) when `quant/` provides it; until then, and for the
integer formats only, a round-to-nearest fallback with the same conventions is used:
symmetric `intB[-gG]`: scale = absmax / (2**(B-1) - 1) per group (per row without -gG),
codes = round(x / scale) in [-(2**(B-1) - 1), 2**(B-1) - 1]; asymmetric `-asym`:
scale = (max - min) / (2**B - 1), zero = round(-min / scale), codes in [0, 2**B - 1],
value = (codes - zero) * scale. Unquantized float formats (fp32/fp16/bf16) return no codes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quant.info import format_info

PASSTHROUGH = ("fp32", "fp16", "bf16")


@dataclass(frozen=True)
class Quantized:
    """codes (..., K) integer codes; scales/zeros (..., K/G) float32 (zeros None if sym).

    bits: code width; signed: codes are two's-complement integers; int_codes: the codes
    are integers on a uniform grid (bit-plane / Booth statistics make sense)."""

    codes: np.ndarray
    scales: np.ndarray
    zeros: np.ndarray | None
    bits: int
    signed: bool
    int_codes: bool

    def dequantize(self) -> np.ndarray:
        from workloads.trace import dequantize_grouped

        return dequantize_grouped(self.codes, self.scales, self.zeros)


def _code_dtype(bits: int, signed: bool) -> np.dtype:
    if bits <= 8:
        return np.dtype(np.int8 if signed else np.uint8)
    return np.dtype(np.int16 if signed else np.int32)


def _fallback_int(x: np.ndarray, bits: int, group: int, asym: bool) -> Quantized:
    k = x.shape[-1]
    g = group if group and k % group == 0 else k
    xg = x.astype(np.float32).reshape(*x.shape[:-1], k // g, g)
    if asym:
        lo = np.minimum(xg.min(-1, keepdims=True), 0.0)
        hi = np.maximum(xg.max(-1, keepdims=True), 0.0)
        qmax = (1 << bits) - 1
        scale = (hi - lo) / qmax
        scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
        zero = np.clip(np.rint(-lo / scale), 0, qmax)
        codes = np.clip(np.rint(xg / scale) + zero, 0, qmax)
        z = zero[..., 0].astype(np.float32)
    else:
        qmax = (1 << (bits - 1)) - 1
        scale = np.abs(xg).max(-1, keepdims=True) / qmax
        scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
        codes = np.clip(np.rint(xg / scale), -qmax, qmax)
        z = None
    codes = codes.reshape(x.shape).astype(_code_dtype(bits, not asym))
    return Quantized(codes, scale[..., 0], z, bits, not asym, True)


def quantize_for_trace(x: np.ndarray, fmt: str) -> Quantized | None:
    """Codes + scales of `x` in format `fmt` along the last axis; None for fp32/fp16/bf16."""
    if fmt in PASSTHROUGH:
        return None
    info = format_info(fmt)
    x = np.asarray(x, dtype=np.float32)
    try:
        from quant import quantize  # type: ignore[attr-defined]
    except ImportError:
        quantize = None
    if quantize is not None:
        qt = quantize(x, fmt, axis=-1)
        codes = np.asarray(qt.codes)
        bits = info.element_bits
        signed = bool(codes.min() < 0) or (info.kind == "int" and info.signed)
        codes = codes.astype(_code_dtype(bits, signed) if info.kind == "int" else
                             np.dtype(np.uint8 if bits <= 8 else np.int32))
        scales = np.asarray(qt.scales, dtype=np.float32)
        zeros = getattr(qt, "zeros", None)
        zeros = None if zeros is None else np.asarray(zeros, dtype=np.float32)
        scales = _grouped(scales, codes.shape)
        zeros = None if zeros is None else _grouped(zeros, codes.shape)
        return Quantized(codes, scales, zeros, bits, signed, info.kind == "int")
    if info.kind != "int":
        raise NotImplementedError(f"format {fmt}: needs quant.quantize (not available yet)")
    return _fallback_int(x, info.element_bits, info.block_size, not info.signed)


def _grouped(s: np.ndarray, code_shape: tuple[int, ...]) -> np.ndarray:
    """Bring scales/zeros to (..., n_groups) next to codes (..., K), whatever layout
    (..., n_groups, 1), (..., 1) or a scalar per tensor quant used."""
    lead = code_shape[:-1]
    if s.size == 1:
        return np.full((*lead, 1), float(s.reshape(-1)[0]), np.float32)
    n = int(np.prod(lead, dtype=np.int64)) if lead else 1
    if s.size % max(n, 1) == 0 and code_shape[-1] % (s.size // max(n, 1)) == 0:
        return s.reshape(*lead, s.size // max(n, 1)).astype(np.float32)
    raise ValueError(f"scales of shape {s.shape} do not fit codes of shape {code_shape}")
