"""FPGA DSP48E2 packed multiplies (FlightLLM-style INT GEMM; SEED_SYSTEMS §6).

The DSP48E2 multiplies a 27-bit signed operand (A:D pre-adder output) by an 18-bit signed
operand (B) into a 45-bit product, accumulated in the 48-bit P register (two's
complement, wraps). Packing (after AMD/Xilinx WP486 "INT8 on DSP48E2"):

- INT8×INT8, 2 products per DSP: A = w1·2^18 + w0 (two weights of output channels n, n+1),
  B = a (shared activation), P += a·w1·2^18 + a·w0. Up to 7 products are accumulated in P
  (|Σ a·w0| ≤ 7·2^14 < 2^17 keeps the low field in 18-bit signed range); then the fields
  are split with sign correction: lo = sext18(P mod 2^18), hi = (P − lo) / 2^18, and added
  to fabric accumulators.
- INT4×INT4, 4 products per DSP: A = w1·2^22 + w0, B = a1·2^11 + a0 (two channels × two
  tokens); P = a0w0 + a1w0·2^11 + a0w1·2^22 + a1w1·2^33. Fields are 11-bit signed, so up
  to 15 products (|Σ| ≤ 15·64 < 2^10) accumulate before the chained sign-corrected split
  f_i = sext11(R_i mod 2^11), R_{i+1} = (R_i − f_i) / 2^11.
Operand widths are checked (27/18 bits) and P wraps at 48 bits as in hardware; results are
exact integers, returned as int64 group partials [M, N, G].
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from kernels._common import dequantize_partials, n_groups

P_BITS = 48
A_BITS = 27
B_BITS = 18


@njit(inline="always")
def _sext(x, bits):
    m = np.int64(1) << bits
    x = x & (m - 1)
    return x - m if x >= (m >> 1) else x


@njit(parallel=True, cache=True)
def _dsp_int8_core(a, w, gs, chain):
    """a int64 [M, K] int8 values; w int64 [N2, K] (N2 even). Returns int64 [M, N2, G]."""
    m_, k_ = a.shape
    n2 = w.shape[0]
    g_ = -(-k_ // gs)
    out = np.zeros((m_, n2, g_), np.int64)
    for pn in prange(n2 // 2):
        n0 = 2 * pn
        for m in range(m_):
            for g in range(g_):
                k0 = g * gs
                k1 = min(k0 + gs, k_)
                lo_sum = np.int64(0)
                hi_sum = np.int64(0)
                p = np.int64(0)
                cnt = 0
                for k in range(k0, k1):
                    pa = _sext((w[n0 + 1, k] << 18) + w[n0, k], A_BITS)
                    pb = _sext(a[m, k], B_BITS)
                    p = _sext(p + pa * pb, P_BITS)
                    cnt += 1
                    if cnt == chain or k == k1 - 1:
                        lo = _sext(p, 18)
                        hi = (p - lo) >> 18
                        lo_sum += lo
                        hi_sum += hi
                        p = np.int64(0)
                        cnt = 0
                out[m, n0, g] = lo_sum
                out[m, n0 + 1, g] = hi_sum
    return out


@njit(parallel=True, cache=True)
def _dsp_int4_core(a, w, gs, chain):
    """a int64 [M2, K] int4 values (M2 even); w int64 [N2, K] int4 (N2 even)."""
    m2, k_ = a.shape
    n2 = w.shape[0]
    g_ = -(-k_ // gs)
    out = np.zeros((m2, n2, g_), np.int64)
    for pn in prange(n2 // 2):
        n0 = 2 * pn
        f = np.zeros(4, np.int64)
        for pm in range(m2 // 2):
            m0 = 2 * pm
            for g in range(g_):
                k0 = g * gs
                k1 = min(k0 + gs, k_)
                f[:] = 0
                p = np.int64(0)
                cnt = 0
                for k in range(k0, k1):
                    pa = _sext((w[n0 + 1, k] << 22) + w[n0, k], A_BITS)
                    pb = _sext((a[m0 + 1, k] << 11) + a[m0, k], B_BITS)
                    p = _sext(p + pa * pb, P_BITS)
                    cnt += 1
                    if cnt == chain or k == k1 - 1:
                        r = p
                        for i in range(3):
                            fi = _sext(r, 11)
                            f[i] += fi
                            r = (r - fi) >> 11
                        f[3] += r
                        p = np.int64(0)
                        cnt = 0
                out[m0, n0, g] = f[0]
                out[m0 + 1, n0, g] = f[1]
                out[m0, n0 + 1, g] = f[2]
                out[m0 + 1, n0 + 1, g] = f[3]
    return out


def _pad_rows(x: np.ndarray) -> np.ndarray:
    if x.shape[0] % 2:
        x = np.concatenate([x, np.zeros((1, x.shape[1]), x.dtype)])
    return np.ascontiguousarray(x)


def dsp_int8_partials(a_codes, w_codes, group_size: int = 0, chain: int = 7):
    """Exact int64 [M, N, G] of INT8 a [M, K] × INT8 w [N, K], 2 products per DSP."""
    a = np.asarray(a_codes).astype(np.int64)
    w = np.asarray(w_codes).astype(np.int64)
    if np.abs(a).max(initial=0) > 128 or np.abs(w).max(initial=0) > 128:
        raise ValueError("INT8 operands expected")
    if not 1 <= chain <= 7:
        raise ValueError("at most 7 INT8 products fit the 18-bit low field")
    gs, _ = n_groups(a.shape[1], group_size)
    n = w.shape[0]
    return _dsp_int8_core(np.ascontiguousarray(a), _pad_rows(w), gs, chain)[:, :n]


def dsp_int4_partials(a_codes, w_codes, group_size: int = 0, chain: int = 15):
    """Exact int64 [M, N, G] of INT4 a [M, K] × INT4 w [N, K], 4 products per DSP."""
    a = np.asarray(a_codes).astype(np.int64)
    w = np.asarray(w_codes).astype(np.int64)
    if (
        a.min(initial=0) < -8
        or a.max(initial=0) > 7
        or w.min(initial=0) < -8
        or w.max(initial=0) > 7
    ):
        raise ValueError("INT4 operands expected")
    if not 1 <= chain <= 15:
        raise ValueError("at most 15 INT4 products fit an 11-bit field")
    gs, _ = n_groups(a.shape[1], group_size)
    m, n = a.shape[0], w.shape[0]
    return _dsp_int4_core(_pad_rows(a), _pad_rows(w), gs, chain)[:m, :n]


def dsp_gemm(
    a_codes, w_codes, w_scales, *, bits: int = 8, group_size: int = 0, a_scale=None
) -> np.ndarray:
    """FP32 [M, N] of the DSP partials (bits 8 or 4), dequantized per group."""
    f = dsp_int8_partials if bits == 8 else dsp_int4_partials
    part = f(a_codes, w_codes, group_size)
    gs, _ = n_groups(np.shape(a_codes)[1], group_size)
    return dequantize_partials(part, 0, w_scales, gs=gs, a_scale=a_scale)
