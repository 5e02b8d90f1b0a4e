"""Plain MAC GEMMs: the systolic_mac and gpu_tensorcore families.

int8_partials: INT8 × INT8 with an exact integer accumulator (int64 here; an INT32
accumulator is exact while K·2^14 < 2^31, i.e. K ≤ 131071).
fp_mac_gemm: FP32-accumulating MAC for operands already representable in their input
format (FP16, BF16, FP8 E4M3/E5M2, FP32): p = fp32(a·w) (exact for FP16/BF16/FP8 inputs:
≤ 22 significant bits), acc = fp32(acc + p) in K order. Bound γ32(K + 1)·Σ|a||w|.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from kernels._common import U32, dequantize_partials, gamma, n_groups


@njit(parallel=True, cache=True)
def _int_mac_core(aT, w, gs):
    k_, m_ = aT.shape
    n_ = w.shape[0]
    g_ = -(-k_ // gs)
    out = np.zeros((m_, n_, g_), np.int64)
    for n in prange(n_):
        acc = np.zeros(m_, np.int64)
        for g in range(g_):
            acc[:] = 0
            for k in range(g * gs, min((g + 1) * gs, k_)):
                wk = w[n, k]
                for m in range(m_):
                    acc[m] += aT[k, m] * wk
            for m in range(m_):
                out[m, n, g] = acc[m]
    return out


def int8_partials(a_codes, w_codes, group_size: int = 0) -> np.ndarray:
    """Exact int64 [M, N, G] of INT a [M, K] × INT w [N, K]."""
    a = np.asarray(a_codes).astype(np.int64)
    w = np.ascontiguousarray(np.asarray(w_codes).astype(np.int64))
    gs, _ = n_groups(a.shape[1], group_size)
    return _int_mac_core(np.ascontiguousarray(a.T), w, gs)


def int8_gemm(a_codes, w_codes, w_scales, *, group_size: int = 0, a_scale=None):
    """FP32 [M, N]: per-token × per-channel (or per-group) dequantized int8_partials."""
    part = int8_partials(a_codes, w_codes, group_size)
    gs, _ = n_groups(np.shape(a_codes)[1], group_size)
    return dequantize_partials(part, 0, w_scales, gs=gs, a_scale=a_scale)


@njit(parallel=True, cache=True)
def _fp_mac_core(aT, w):
    k_, m_ = aT.shape
    n_ = w.shape[0]
    out = np.empty((m_, n_), np.float32)
    for n in prange(n_):
        acc = np.zeros(m_, np.float32)
        for k in range(k_):
            wk = w[n, k]
            for m in range(m_):
                acc[m] = np.float32(acc[m] + np.float32(aT[k, m] * wk))
        for m in range(m_):
            out[m, n] = acc[m]
    return out


def fp_mac_gemm(a, w) -> np.ndarray:
    """FP32 [M, N] = Σ_k a[m, k]·w[n, k] with FP32 products and FP32 accumulation."""
    a = np.asarray(a).astype(np.float32)
    w = np.ascontiguousarray(np.asarray(w).astype(np.float32))
    return _fp_mac_core(np.ascontiguousarray(a.T), w)


def fp_mac_bound(a, w) -> np.ndarray:
    """Elementwise bound on |fp_mac_gemm − exact|: γ32(K + 1)·Σ|a||w|."""
    a = np.abs(np.asarray(a, np.float64))
    w = np.abs(np.asarray(w, np.float64))
    return (a @ w.T) * gamma(a.shape[1] + 1, U32) * (1 + 1e-9)


__all__ = ["int8_partials", "int8_gemm", "fp_mac_gemm", "fp_mac_bound", "n_groups"]
