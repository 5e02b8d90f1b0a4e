"""`quantize(x, name, axis)` / `quantize_dequantize(x, name, axis)` for every format name.

Names are validated by `quant.info.format_info` (bad names raise common.errors.InputError that
lists the valid ones); the canonical name goes into `QTensor.format_name`.
"""

from __future__ import annotations

from dataclasses import dataclass

import ml_dtypes
import numpy as np

from quant.info import format_info
from quant.lowbit import quantize_binary, quantize_ternary
from quant.mx import MX_ELEMENTS, quantize_mx, quantize_nvfp4
from quant.names import parse_format
from quant.qtensor import QTensor, quantize_olive
from quant.scheme import QuantScheme, rtn
from quant.select import quantize_ant, quantize_bitmod

_CAST = {
    "fp32": (np.float32, np.uint32),
    "fp16": (np.float16, np.uint16),
    "bf16": (ml_dtypes.bfloat16, np.uint16),
}


@dataclass(frozen=True)
class CastFormat:
    """16/32-bit IEEE-style storage: codes are the raw bit patterns (cast is RNE)."""

    name: str
    bits: int

    def encode(self, x: np.ndarray) -> np.ndarray:
        dt, ut = _CAST[self.name]
        return np.asarray(x, dtype=np.float32).astype(dt).view(ut)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        dt, ut = _CAST[self.name]
        return np.asarray(codes, dtype=ut).view(dt).astype(np.float32)


def scheme_for(name: str) -> QuantScheme | None:
    """The RTN scheme behind an INT / plain-FP / BitMoD-INT6 / bipolar name (None otherwise)."""
    p = parse_format(name)
    if p is None:
        return None
    if p.family == "int":
        g = p.group or 0
        return QuantScheme(
            f"int{p.bits}",
            "group" if g else "channel",
            g,
            symmetric=not p.asym,
            scale_format="fp16",
            scale_method="mse" if p.mse else "absmax",
        )
    if p.family == "fp":
        if p.group:
            return QuantScheme(p.element, "group", p.group, scale_format="fp16")
        return QuantScheme(p.element, "tensor", scale_format="fp32")
    if p.family == "bitmod" and p.element == "int6" and p.group:
        return QuantScheme("int6", "group", p.group, scale_format="fp16")
    if p.family == "bipolar":
        return QuantScheme(name, "channel", scale_format="fp16")
    return None


def quantize(x: np.ndarray, name: str, axis: int = -1) -> QTensor:
    """Quantize x with the named format; blocks/groups run along `axis` (K of a [N, K]
    weight, or of [tokens, K] activations)."""
    canon = format_info(name, "quantize").name
    x = np.asarray(x, dtype=np.float32)
    if canon in _CAST:
        f = CastFormat(canon, np.dtype(_CAST[canon][1]).itemsize * 8)
        return QTensor(
            f.encode(x), np.ones((1,) * x.ndim, np.float32), None, canon, 0, axis % x.ndim, (f,)
        )
    if np.isnan(x).any():
        raise ValueError(f"{canon}: cannot quantize an array containing NaN")
    if canon in MX_ELEMENTS:
        return quantize_mx(x, canon, axis)
    if canon == "nvfp4":
        return quantize_nvfp4(x, axis)
    p = parse_format(canon)
    if p is not None and p.family == "bitmod" and p.element != "int6":
        return quantize_bitmod(x, p.bits, p.group, axis)
    if canon.startswith("ant"):
        return quantize_ant(x, canon, axis)
    if canon.startswith("olive"):
        return quantize_olive(x, canon, axis)
    if canon == "ternary":
        return quantize_ternary(x, axis)
    if canon == "binary":
        return quantize_binary(x, axis)
    scheme = scheme_for(canon)
    assert scheme is not None, canon
    return rtn(x, scheme, axis, canon)


def quantize_dequantize(x: np.ndarray, name: str, axis: int = -1) -> np.ndarray:
    """Fake quantization: float32 array of x's shape holding the dequantized values."""
    canon = format_info(name, "quantize").name
    if canon in _CAST:
        return np.asarray(x, dtype=np.float32).astype(_CAST[canon][0]).astype(np.float32)
    return quantize(x, canon, axis).dequantize()
