"""Block-scaled GEMM: OCP MX v1.0 (E8M0 scale per 32 elements) and NVIDIA NVFP4 (E2M1
elements, UE4M3 scale per 16, FP32 per-tensor scale); SEED_SYSTEMS §8.

Both operands are block-quantized along K. Per block b (the hardware's block dot product):
  D_b = Σ_{k∈b} ea_k·ew_k   exactly (elements are integers in units of 2^La / 2^Lw),
  v_b = fp32(D_b · sa_b·sw_b · 2^(La+Lw))  — one rounding (MX: sa, sw = 2^(X−127);
        NVFP4: UE4M3 scales as integers in units of 2^-9),
  acc = fp32(acc + v_b)                     — FP32 accumulation across blocks,
  out = fp32(acc · fp32(ta·tw))            — NVFP4 tensor scales (1 for MX).
For MXFP8-E5M2 the element integers are too wide for int64 products; there D_b is summed in
float64 (error ≤ γ64(32)·Σ|ea·ew|, included in the bound).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from kernels._common import U32, U64, gamma, table_ints

MX_BLOCK = 32
NVFP4_BLOCK = 16
#: UE4M3 (FP8 E4M3 without sign) values as integers in units of 2^-9.
UE4M3_LSB = -9


@njit(parallel=True, cache=True)
def _block_core(ai, si, ei, wi, sw, ew, bs, exact, tscale):
    """ai int64 [M, K], wi [N, K] element integers; si/sw int64 [*, NB] integer block scale
    mantissas, ei/ew [*, NB] exponents (units included). Returns FP32 [M, N]."""
    m_, k_ = ai.shape
    n_ = wi.shape[0]
    nb = si.shape[1]
    out = np.empty((m_, n_), np.float32)
    for n in prange(n_):
        for m in range(m_):
            acc = np.float32(0.0)
            for b in range(nb):
                k0 = b * bs
                k1 = min(k0 + bs, k_)
                if exact:
                    d = np.int64(0)
                    for k in range(k0, k1):
                        d += ai[m, k] * wi[n, k]
                    x = np.float64(d * (si[m, b] * sw[n, b]))
                else:
                    df = 0.0
                    for k in range(k0, k1):
                        df += np.float64(ai[m, k]) * np.float64(wi[n, k])
                    x = df * np.float64(si[m, b] * sw[n, b])
                v = np.float32(math.ldexp(x, ei[m, b] + ew[n, b]))
                acc = np.float32(acc + v)
            out[m, n] = np.float32(acc * tscale)
    return out


def _elements(codes, table):
    """Element integers (int64) and unit exponent for patterns `codes` of `table`."""
    table = np.asarray(table, np.float64)
    ints, lsb = table_ints(table)
    pat = np.asarray(codes).astype(np.int64) & (table.size - 1)
    return np.ascontiguousarray(ints[pat]), lsb, int(np.abs(ints).max())


def mx_gemm(a_codes, a_scale_codes, a_table, w_codes, w_scale_codes, w_table):
    """FP32 [M, N] of MX a [M, K] × MX w [N, K] (block 32). *_codes: element patterns;
    *_scale_codes: E8M0 codes [*, K/32] (scale 2^(c−127)); *_table: float64 element value
    of each pattern (OCP element values, e.g. MXINT8 k/64)."""
    ai, la, amax = _elements(a_codes, a_table)
    wi, lw, wmax = _elements(w_codes, w_table)
    sa = np.asarray(a_scale_codes).astype(np.int64)
    sw = np.asarray(w_scale_codes).astype(np.int64)
    exact = amax * wmax * MX_BLOCK < 2**52
    return _block_core(
        ai,
        np.ones_like(sa),
        np.ascontiguousarray(sa - 127 + la),
        wi,
        np.ones_like(sw),
        np.ascontiguousarray(sw - 127 + lw),
        MX_BLOCK,
        bool(exact),
        np.float32(1.0),
    )


def mx_bound(a_vals, w_vals, a_table, w_table) -> np.ndarray:
    """|mx_gemm − exact| ≤ γ32(NB + 1)·Σ|a||w| (+ γ64(32)·Σ|a||w| on the float64 path);
    a_vals/w_vals: dequantized float64 operands."""
    k = np.shape(a_vals)[1]
    nb = -(-k // MX_BLOCK)
    s = np.abs(a_vals) @ np.abs(w_vals).T
    return s * (gamma(nb + 1, U32) + gamma(MX_BLOCK, U64)) * (1 + 1e-9)


def nvfp4_gemm(
    a_codes,
    a_scale_codes,
    a_tensor_scale,
    w_codes,
    w_scale_codes,
    w_tensor_scale,
    fp4_table,
    ue4m3_table,
):
    """FP32 [M, N] of NVFP4 × NVFP4 (block 16). *_scale_codes: UE4M3 patterns [*, K/16];
    *_tensor_scale: FP32 per-tensor scales; tables: E2M1 and E4M3 value tables."""
    ai, la, _ = _elements(a_codes, fp4_table)
    wi, lw, _ = _elements(w_codes, fp4_table)
    si, ls, _ = _elements(a_scale_codes, ue4m3_table)
    swi, _, _ = _elements(w_scale_codes, ue4m3_table)
    ea = np.full(si.shape, la + ls, np.int64)
    ew = np.full(swi.shape, lw + ls, np.int64)
    t = np.float32(np.float32(a_tensor_scale) * np.float32(w_tensor_scale))
    return _block_core(ai, si, ea, wi, swi, ew, NVFP4_BLOCK, True, t)


def nvfp4_bound(a_vals, w_vals) -> np.ndarray:
    """|nvfp4_gemm − exact| ≤ γ32(NB + 3)·Σ|a||w| (block rounding, NB adds, tensor-scale
    product and final multiply); a_vals/w_vals include the tensor scales."""
    k = np.shape(a_vals)[1]
    nb = -(-k // NVFP4_BLOCK)
    return (np.abs(a_vals) @ np.abs(w_vals).T) * gamma(nb + 3, U32) * (1 + 1e-9)
