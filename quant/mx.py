"""OCP Microscaling (MX v1.0) block formats and NVIDIA NVFP4.

MX (OCP Microscaling Formats Specification v1.0, §5-6): blocks of 32 along K share an E8M0
scale X = 2^(floor(log2 absmax) − emax_elem) (emax_elem = 2 FP4 E2M1, 2 FP6 E2M3, 4 FP6
E3M2, 8 FP8 E4M3, 15 FP8 E5M2, 0 INT8); elements P_i = quantize(V_i / X) round-to-nearest-
even with saturation. MXINT8 elements are k/64, k in [−127, 127] (two's complement, −128
unused); we fold the 1/64 into `scales` (scales = X/64) so codes are the integers k.

NVFP4 (NVIDIA Blackwell, "NVFP4" blog/TE docs): blocks of 16, E2M1 elements, a UE4M3 block
scale and one FP32 per-tensor scale:
  s_t = absmax(tensor) / (6 · 448)              (fp32; 6 = max E2M1, 448 = max E4M3)
  s_b = UE4M3(absmax(block) / 6 / s_t)          (RNE, saturating at 448)
  q   = E2M1(x / (s_b · s_t))                   (RNE, saturating at 6; s_b = 0 -> q = 0)
  x  ≈ q · s_b · s_t.
"""

from __future__ import annotations

import numpy as np

from quant.formats import element_format
from quant.qtensor import QTensor, make_blocks
from quant.scheme import e8m0_scale

#: MX block size (OCP MX v1.0 §5).
MX_BLOCK = 32
#: NVFP4 block size.
NVFP4_BLOCK = 16
#: MX element format per name; MXINT8 uses int8 with elem_max 127/64.
MX_ELEMENTS = {
    "mxfp4": "fp4-e2m1",
    "mxfp6-e2m3": "fp6-e2m3",
    "mxfp6-e3m2": "fp6-e3m2",
    "mxfp8-e4m3": "fp8-e4m3",
    "mxfp8-e5m2": "fp8-e5m2",
    "mxint8": "int8",
}


def quantize_mx(x: np.ndarray, name: str, axis: int = -1) -> QTensor:
    """MX block quantization (blocks of 32 along axis; partial last block allowed)."""
    fmt = element_format(MX_ELEMENTS[name])
    x = np.asarray(x, dtype=np.float32)
    b = make_blocks(x, axis, MX_BLOCK)
    xb = b.split(x)
    absmax = np.abs(xb).max(axis=-1)
    is_int = name == "mxint8"
    elem_max = 127 / 64 if is_int else fmt.max_abs
    X, e8 = e8m0_scale(absmax, elem_max)
    y = xb / X[..., None]
    if is_int:
        y = y * np.float32(64)  # element k/64 -> integer k
        X = X / np.float32(64)
    codes = fmt.encode(y)
    return QTensor(
        b.merge(codes),
        b.per_block(X),
        None,
        name,
        MX_BLOCK,
        b.axis,
        (fmt,),
        scale_codes=b.per_block(e8),
    )


def quantize_nvfp4(x: np.ndarray, axis: int = -1) -> QTensor:
    """NVFP4 two-level scaling (see module docstring)."""
    fp4 = element_format("fp4-e2m1")
    e4m3 = element_format("fp8-e4m3")
    x = np.asarray(x, dtype=np.float32)
    b = make_blocks(x, axis, NVFP4_BLOCK)
    xb = b.split(x)
    amax = np.float32(np.abs(x).max()) if x.size else np.float32(0)
    s_t = np.float32(amax / np.float32(6 * 448)) if amax > 0 else np.float32(1)
    absmax = np.abs(xb).max(axis=-1)
    sb_codes = e4m3.encode(absmax / np.float32(6) / s_t)
    s_b = e4m3.decode(sb_codes)
    denom = s_b * s_t
    y = np.where(denom[..., None] > 0, xb / np.where(denom > 0, denom, 1)[..., None], 0)
    codes = fp4.encode(y.astype(np.float32))
    return QTensor(
        b.merge(codes),
        b.per_block(s_b),
        None,
        "nvfp4",
        NVFP4_BLOCK,
        b.axis,
        (fp4,),
        tensor_scale=float(s_t),
        scale_codes=b.per_block(sb_codes),
    )
