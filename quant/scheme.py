"""Quantization schemes (granularity, group size, symmetry, scale format, scale choice) and
round-to-nearest (RTN) quantization under a scheme.

Scale rules (units: the scale multiplies element values to give real values):
- symmetric absmax: s = absmax / max|v| of the element format (SEED_SYSTEMS §8).
- asymmetric (INT only), the zero-point RTN of GPTQ (IST-DASLab/gptq quant.py,
  `Quantizer.find_params` + `quantize`, with perchannel=True, sym=False, mse=False):
  range [min(x, 0), max(x, 0)] (so 0 is exact and zero padding of a partial group is
  harmless; a block whose range is [0, 0] takes [−1, 1] as GPTQ does);
  s = (max − min) / (2^b − 1), rounded to the scale format; z = round(−min / s) clamped to
  [0, 2^b − 1]; q = clamp(round(x / s) + z, 0, 2^b − 1); x ≈ s·(q − z). round is
  half-to-even (torch.round = np.rint). With scale format fp32 this is GPTQ's arithmetic
  bit for bit; the `intB[-gG]-asym` names round s to FP16 first (the scale GPTQ checkpoints
  store) and compute z and q from that stored scale.
- scale formats: fp32, fp16 (cast RNE), ue4m3 (cast to FP8 E4M3, RNE, saturating at 448),
  e8m0 (OCP MX v1.0 §6.3: s = 2^(floor(log2 absmax) − emax_elem), emax_elem =
  floor(log2 max|v|), clamped to [−127, 127]).
- "mse": search the clip ratio r in {1.00, 0.95, …, 0.50} (absmax·r, or min·r/max·r for
  asymmetric) per block, keep the lowest squared error (ties: the larger r).
Element values are computed as y = x / s in float32, then encoded by the element format.
Symmetric blocks with s = 0 (all-zero blocks, or scales that underflow) get code 0 and
dequantize to 0; asymmetric all-zero blocks get GPTQ's [−1, 1] range, codes = z, and
dequantize to 0 as well.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quant.formats import NumberFormat, element_format
from quant.qtensor import Blocks, QTensor, make_blocks

#: Clip ratios tried by the "mse" scale method (1.00 down to 0.50 in steps of 0.05).
MSE_CLIP_RATIOS = tuple(round(1.0 - 0.05 * i, 2) for i in range(11))


@dataclass(frozen=True)
class QuantScheme:
    """element: element format name (quant.formats.element_format).
    granularity: "tensor" | "channel" (one scale per row along axis; per token for
        activations) | "group" (group_size elements along axis).
    symmetric: False = asymmetric INT with zero point. scale_format: fp32|fp16|ue4m3|e8m0.
    scale_method: "absmax" | "mse".
    """

    element: str
    granularity: str = "channel"
    group_size: int = 0
    symmetric: bool = True
    scale_format: str = "fp16"
    scale_method: str = "absmax"

    @property
    def fmt(self) -> NumberFormat:
        return element_format(self.element if self.symmetric else "u" + self.element)


def cast_scale(s: np.ndarray, scale_format: str) -> np.ndarray:
    """Round positive scales to the scale format (float32 out)."""
    s = np.asarray(s, dtype=np.float32)
    if scale_format == "fp32":
        return s
    if scale_format == "fp16":
        return np.minimum(s, 65504.0).astype(np.float16).astype(np.float32)
    if scale_format == "ue4m3":
        return element_format("fp8-e4m3").quantize_values(s)
    raise ValueError(f"unknown scale format {scale_format!r}")


def e8m0_scale(absmax: np.ndarray, elem_max: float) -> tuple[np.ndarray, np.ndarray]:
    """OCP MX v1.0 shared scale: X = 2^(floor(log2 absmax) − emax_elem), emax_elem =
    floor(log2 elem_max). Returns (scale float32, E8M0 code uint8). absmax = 0 gives the
    smallest scale 2^−127 (code 0); all elements then encode to 0."""
    emax_elem = int(np.floor(np.log2(elem_max)))
    a = np.asarray(absmax, dtype=np.float64)
    _, e = np.frexp(np.where(a > 0, a, 1.0))  # a = m·2^e, m in [0.5, 1): floor(log2 a) = e−1
    shared = np.where(a > 0, e - 1 - emax_elem, -127)
    shared = np.clip(shared, -127, 127)
    return np.ldexp(1.0, shared).astype(np.float32), (shared + 127).astype(np.uint8)


def _blocks_for(x: np.ndarray, scheme: QuantScheme, axis: int) -> Blocks:
    g = scheme.group_size if scheme.granularity == "group" else 0
    return make_blocks(x, axis, g)


def _sym_codes(xb: np.ndarray, s: np.ndarray, fmt: NumberFormat) -> np.ndarray:
    safe = np.where(s > 0, s, np.float32(1))
    y = xb / safe[..., None]
    y = np.where(s[..., None] > 0, y, np.float32(0))
    return fmt.encode(y)


def asym_params(lo: np.ndarray, hi: np.ndarray, bits: int, scale_format: str = "fp32"):
    """GPTQ `find_params` (asymmetric, min-max): (scale, zero) float32 per block from the
    block range [lo, hi] (lo <= 0 <= hi). Range [0, 0] becomes [−1, 1]; s = (hi − lo)/maxq
    in float32, rounded to `scale_format`; z = clamp(round(−lo / s), 0, maxq)."""
    maxq = np.float32(2**bits - 1)
    lo = np.asarray(lo, dtype=np.float32)
    hi = np.asarray(hi, dtype=np.float32)
    empty = (lo == 0) & (hi == 0)
    lo = np.where(empty, np.float32(-1), lo)
    hi = np.where(empty, np.float32(1), hi)
    s = cast_scale((hi - lo) / maxq, scale_format)
    safe = np.where(s > 0, s, np.float32(1))  # only if the FP16 cast underflows to 0
    z = np.clip(np.rint(-lo / safe), 0, maxq)
    return s, np.where(s > 0, z, 0).astype(np.float32)


def asym_codes(xb: np.ndarray, s: np.ndarray, z: np.ndarray, bits: int) -> np.ndarray:
    """GPTQ `quantize` before dequantization: q = clamp(round(x / s) + z, 0, maxq), float32.
    x ≈ s·(q − z) (`QTensor.dequantize`)."""
    maxq = np.float32(2**bits - 1)
    safe = np.where(s > 0, s, np.float32(1))
    y = np.where(s[..., None] > 0, xb / safe[..., None], np.float32(0))
    return np.clip(np.rint(y) + z[..., None], 0, maxq)


def _asym(xb: np.ndarray, lo: np.ndarray, hi: np.ndarray, fmt: NumberFormat, sf: str):
    bits = fmt.bits  # unsigned INT element: codes 0 .. 2^b − 1
    s, z = asym_params(lo, hi, bits, sf)
    return asym_codes(xb, s, z, bits).astype(fmt.code_dtype), s, z


def _block_stats(xb: np.ndarray, scheme: QuantScheme):
    if scheme.granularity == "tensor":
        return np.abs(xb).max(keepdims=True)[..., 0], xb.min(initial=0.0), xb.max(initial=0.0)
    return (
        np.abs(xb).max(axis=-1),
        np.minimum(xb.min(axis=-1), 0),
        np.maximum(xb.max(axis=-1), 0),
    )


def rtn(x: np.ndarray, scheme: QuantScheme, axis: int = -1, name: str = "") -> QTensor:
    """Round-to-nearest quantization of x under `scheme` along `axis`."""
    x = np.asarray(x, dtype=np.float32)
    if np.isnan(x).any():
        raise ValueError("cannot quantize an array containing NaN")
    b = _blocks_for(x, scheme, axis)
    xb = b.split(x)
    fmt = scheme.fmt
    absmax, lo, hi = _block_stats(xb, scheme)
    ratios = MSE_CLIP_RATIOS if scheme.scale_method == "mse" else (1.0,)
    best = None
    for r in ratios:
        r = np.float32(r)
        if not scheme.symmetric:
            codes, s, z = _asym(
                xb,
                np.broadcast_to(lo * r, absmax.shape),
                np.broadcast_to(hi * r, absmax.shape),
                fmt,
                scheme.scale_format,
            )
            rec = (fmt.decode(codes) - z[..., None]) * s[..., None]
        else:
            if scheme.scale_format == "e8m0":
                s, _ = e8m0_scale(absmax * r, fmt.max_abs)
            else:
                s = cast_scale(absmax * r / np.float32(fmt.max_abs), scheme.scale_format)
            codes, z = _sym_codes(xb, s, fmt), None
            rec = fmt.decode(codes) * s[..., None]
        if len(ratios) == 1:
            best = (codes, s, z)
            break
        err = ((rec - xb) ** 2).sum(axis=-1)
        if scheme.granularity == "tensor":
            err = err.sum(keepdims=True)
        if best is None:
            best, best_err = (codes, s, z), err
            continue
        better = err < best_err
        best_err = np.where(better, err, best_err)
        codes = np.where(better[..., None], codes, best[0])
        s = np.where(better, s, best[1])
        z = None if z is None else np.where(better, z, best[2])
        best = (codes, s, z)
    codes, s, z = best
    if scheme.granularity == "tensor":
        scales = np.asarray(s, dtype=np.float32).reshape((1,) * x.ndim)
        zeros = None if z is None else np.asarray(z).reshape((1,) * x.ndim)
    else:
        scales = b.per_block(s).astype(np.float32)
        zeros = None if z is None else b.per_block(z).astype(fmt.code_dtype)
    block = scheme.group_size if scheme.granularity == "group" else 0
    return QTensor(b.merge(codes), scales, zeros, name or scheme.element, block, b.axis, (fmt,))
