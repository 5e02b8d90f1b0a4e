"""BitNet-style ternary/binary weights, BitNet INT8 activations, SmoothQuant migration.

- ternary (BitNet b1.58, arXiv 2402.17764 §2): γ = mean|W| over the tensor (clamped to
  ≥ 1e-5 as in the reference), q = RoundClip(W/γ, −1, 1) (round half to even), W ≈ q·γ.
- binary: per channel (row along axis) β = mean|W|, q = sign(W) with sign(+0) = +1 and
  sign(−0) = −1 (code 1 = +1, 0 = −1), W ≈ q·β (XNOR-Net scaling).
- BitNet activations (§2): INT8 absmax per token, s = absmax/127 in FP32,
  q = clip(round(x/s), −127, 127).
- SmoothQuant (Xiao et al., ICML'23 §4): s_j = max|X_j|^α / max|W_j|^(1−α) per input
  channel j; X' = X / s, W' = W · s (W is [N, K], X is [tokens, K]).
"""

from __future__ import annotations

import numpy as np

from quant.formats import element_format
from quant.qtensor import QTensor
from quant.scheme import QuantScheme, rtn

#: BitNet b1.58 reference clamp on the absmean scale.
BITNET_EPS = 1e-5


def quantize_ternary(x: np.ndarray, axis: int = -1) -> QTensor:
    """BitNet b1.58 absmean ternary, one FP32 scale per tensor."""
    x = np.asarray(x, dtype=np.float32)
    gamma = np.float32(max(float(np.abs(x).mean(dtype=np.float64)) if x.size else 0.0, BITNET_EPS))
    fmt = element_format("ternary")
    codes = fmt.encode(x / gamma)
    return QTensor(
        codes, np.full((1,) * x.ndim, gamma, np.float32), None, "ternary", 0, axis % x.ndim, (fmt,)
    )


def quantize_binary(x: np.ndarray, axis: int = -1) -> QTensor:
    """Binary ±1 with a per-channel mean|x| FP32 scale."""
    x = np.asarray(x, dtype=np.float32)
    fmt = element_format("binary")
    beta = np.abs(x).mean(axis=axis, keepdims=True, dtype=np.float64).astype(np.float32)
    codes = fmt.encode(x)
    scales = np.moveaxis(beta, axis, -1)
    return QTensor(codes, scales, None, "binary", 0, axis % x.ndim, (fmt,))


def quantize_bitnet_activations(x: np.ndarray, axis: int = -1) -> QTensor:
    """BitNet INT8 absmax per-token activations (FP32 scale absmax/127)."""
    return rtn(x, QuantScheme("int8", "channel", scale_format="fp32"), axis, "int8")


def smoothquant_scales(
    w_absmax: np.ndarray, a_absmax: np.ndarray, alpha: float = 0.5
) -> np.ndarray:
    """Per-input-channel migration factors s_j = a_j^α / w_j^(1−α) (float32, length K).
    Channels where either absmax is 0 get s = 1."""
    w = np.asarray(w_absmax, dtype=np.float64)
    a = np.asarray(a_absmax, dtype=np.float64)
    ok = (w > 0) & (a > 0)
    s = np.where(
        ok, np.power(np.where(ok, a, 1), alpha) / np.power(np.where(ok, w, 1), 1 - alpha), 1.0
    )
    return s.astype(np.float32)


def smooth(w: np.ndarray, x: np.ndarray, alpha: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Apply SmoothQuant to a Linear weight w [N, K] and activations x [..., K]:
    returns (w·s, x/s) with x' @ w'.T == x @ w.T up to rounding."""
    s = smoothquant_scales(
        np.abs(w).max(axis=0), np.abs(x).reshape(-1, x.shape[-1]).max(axis=0), alpha
    )
    return (w * s).astype(np.float32), (x / s).astype(np.float32)
