"""LUT Tensor Core (ISCA'25; SEED_SYSTEMS §5): table lookup of signed activation sums with
bit-serial bipolar weights, FP16 accumulation.

Arithmetic, for weights with B-bit unsigned codes u ∈ [0, 2^B) and zero point z (value
(u − z)·s; signed INT codes q are read as u = q + 2^(B−1), z = 2^(B−1)):
- Bipolar reading: bit b of u as x_b = 2·bit − 1 ∈ {−1, +1}, so u = ½·Σ_b 2^b·x_b +
  (2^B − 1)/2 and a·(u − z) summed over K = ½·[Σ_b 2^b·L_b + c·Σa], c = 2^B − 1 − 2z
  (the offset correction), L_b = Σ_j T(pattern of bit b in group j).
- Precompute (software, per group of 4 activations a0..a3): the 16 sums ±a0±a1±a2±a3 are
  symmetric (T[~p] = −T[p]), so 8 are kept: T8[i] = a0 + Σ_{r=1..3}(2·bit_{r−1}(i) − 1)·a_r.
  Lookup for the 4-bit pattern p of one bit-plane: weight bit 0 selects the sign, bits
  3:1 the index: p0 = 1 → +T8[p >> 1], p0 = 0 → −T8[(~p >> 1) & 7]. Σa of the group is
  T8[7].
- Bit-plane weight 2^b: an exponent add on the FP16 table value (exact).

Where rounding happens (IEEE binary16, round-to-nearest-even; FP32 where stated):
 1. each T8 entry is the exact sum rounded once to FP16;
 2. every accumulator add acc = fp16(acc + 2^b·T) (one rounding per lookup);
 3. the offset: S = fp16 running sum of T8[7] over the group's 4-groups, then
    fp16(c·S), then one more fp16 add into acc;
 4. dequantization per weight group (FP32): out = fp32(out + fp32(acc · s/2)).
With group_size = 0 the whole K is one FP16 accumulation. FP16 overflow gives ±inf.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from kernels._common import U16, U32, as_scales, gamma, n_groups, rn16


def lut_tables(a) -> np.ndarray:
    """Symmetrized tables T8 as float32 [K/4, 8, M] holding FP16 values (K padded to a
    multiple of 4 with zero activations). Exact sums in float64, then one RN to FP16."""
    a = np.asarray(a)
    if a.dtype != np.float16:
        raise TypeError("LUT kernel takes float16 activations")
    m, k = a.shape
    pad = (-k) % 4
    x = np.concatenate([a, np.zeros((m, pad), np.float16)], axis=1) if pad else a
    x = x.astype(np.float64).reshape(m, -1, 4)
    idx = np.arange(8)
    sg = np.stack([2.0 * ((idx >> r) & 1) - 1.0 for r in range(3)], axis=1)  # [8, 3]
    t = x[:, :, 0:1] + np.einsum("mjr,ir->mji", x[:, :, 1:4], sg)  # exact: < 2^53 span
    t16 = t.astype(np.float16).astype(np.float32)
    return np.ascontiguousarray(t16.transpose(1, 2, 0))


@njit(parallel=True, cache=True)
def _lut_core(tab, u, bits, gs, coef, s_half):
    """tab [J, 8, M] FP16 values; u [N, K4] uint codes (K4 = 4·J); coef [N, G] offset
    constants c; s_half [N, G] = s/2 (FP32). Returns FP32 [M, N]."""
    j_, _, m_ = tab.shape
    n_ = u.shape[0]
    g_ = coef.shape[1]
    jg = gs // 4
    out = np.zeros((m_, n_), np.float32)
    for n in prange(n_):
        fb = np.zeros(1, np.float32)
        ib = fb.view(np.int32)
        acc = np.zeros(m_, np.float32)
        off = np.zeros(m_, np.float32)
        for g in range(g_):
            acc[:] = 0
            off[:] = 0
            for j in range(g * jg, min((g + 1) * jg, j_)):
                k = 4 * j
                for b in range(bits):
                    p = (
                        ((u[n, k] >> b) & 1)
                        | (((u[n, k + 1] >> b) & 1) << 1)
                        | (((u[n, k + 2] >> b) & 1) << 2)
                        | (((u[n, k + 3] >> b) & 1) << 3)
                    )
                    if p & 1:
                        idx = p >> 1
                        sgn = np.float32(1 << b)
                    else:
                        idx = ((~p) >> 1) & 7
                        sgn = -np.float32(1 << b)
                    for m in range(m_):
                        acc[m] = rn16(acc[m] + sgn * tab[j, idx, m], fb, ib)
                for m in range(m_):
                    off[m] = rn16(off[m] + tab[j, 7, m], fb, ib)
            c = np.float32(coef[n, g])
            sh = s_half[n, g]
            for m in range(m_):
                part = rn16(acc[m] + rn16(c * off[m], fb, ib), fb, ib)
                out[m, n] = np.float32(out[m, n] + np.float32(part * sh))
    return out


def _unsigned(w_codes, w_zeros, bits: int, n: int, g: int):
    w = np.asarray(w_codes)
    if w.dtype.kind == "i":  # signed INT codes -> u = q + 2^(B-1), z = 2^(B-1)
        u = w.astype(np.int64) + (1 << (bits - 1))
        z = np.full((n, g), 1 << (bits - 1), np.int64)
    else:
        u = w.astype(np.int64)
        z = (
            np.zeros((n, g), np.int64)
            if w_zeros is None
            else np.broadcast_to(np.asarray(w_zeros, np.int64).reshape(n, -1), (n, g))
        )
    if u.min(initial=0) < 0 or u.max(initial=0) >= (1 << bits):
        raise ValueError(f"weight codes out of range for {bits} bits")
    return u, np.ascontiguousarray(z)


def lut_gemm(a, w_codes, w_scales, w_zeros=None, *, bits: int, group_size: int = 0):
    """FP32 [M, N] of FP16 a [M, K] × B-bit weights [N, K] (signed INT codes, or unsigned
    codes with integer zero points w_zeros [N, G]); group_size must be a multiple of 4."""
    m, k = np.shape(a)
    n = np.shape(w_codes)[0]
    gs, g = n_groups(k, group_size)
    if gs % 4 and g > 1:
        raise ValueError("group_size must be a multiple of 4")
    u, z = _unsigned(w_codes, w_zeros, bits, n, g)
    pad = (-k) % 4
    if pad:
        u = np.concatenate([u, np.zeros((n, pad), np.int64)], axis=1)
    gs4 = gs + ((-gs) % 4)
    coef = ((1 << bits) - 1 - 2 * z).astype(np.int64)
    s_half = (as_scales(w_scales, n, g) * np.float32(0.5)).astype(np.float32)
    return _lut_core(lut_tables(a), np.ascontiguousarray(u), bits, gs4, coef, s_half)


def lut_bound(a, w_codes, w_scales, w_zeros=None, *, bits: int, group_size: int = 0):
    """Elementwise bound [M, N] on |lut_gemm − exact| (Higham-style, no overflow):
    Σ_g |s_g|/2 · (2^B − 1 + |c_g|) · Σ_{k∈g}|a_k| · (γ16(n_g) + γ32(2)·(1 + γ16(n_g)))
    + γ32(G)·(same sum), with n_g = J·B + J + 3 roundings (J = 4-groups per weight group)."""
    m, k = np.shape(a)
    n = np.shape(w_codes)[0]
    gs, g = n_groups(k, group_size)
    _, z = _unsigned(w_codes, w_zeros, bits, n, g)
    c = np.abs((1 << bits) - 1 - 2 * z).astype(np.float64)
    s = np.abs(as_scales(w_scales, n, g).astype(np.float64))
    coef = s / 2 * ((1 << bits) - 1 + c)  # [N, G]
    absa = np.abs(np.asarray(a, np.float64))
    pad = g * gs - k
    if pad:
        absa = np.concatenate([absa, np.zeros((m, pad))], axis=1)
    ag = absa.reshape(m, g, gs).sum(axis=2)  # [M, G]
    jn = -(-gs // 4)
    n16 = jn * bits + jn + 3
    e16 = gamma(n16, U16)
    rel = e16 + gamma(2, U32) * (1 + e16) + gamma(g, U32) * (1 + e16)
    return (ag @ coef.T) * rel * (1 + 1e-12)
