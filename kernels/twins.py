"""Plain vectorized-numpy versions of the functional kernels: the same arithmetic, the same
rounding points, no numba. They serve as the baseline of benchmarks/kernels.py and as a
bit-exact cross-check of the numba kernels in tests (numpy's float16 add rounds the FP32
sum once to binary16, which is the correctly rounded FP16 sum)."""

from __future__ import annotations

import numpy as np

from kernels import blockscaled, lut
from kernels._common import activations_fixed, as_scales, group_sums, n_groups, table_ints
from kernels.decoders import VICTIM, mant_exp


def _split(x, gs, g):
    r, k = x.shape
    pad = g * gs - k
    if pad:
        x = np.concatenate([x, np.zeros((r, pad), x.dtype)], axis=1)
    return x.reshape(r, g, gs)


def _gemm_groups(a, w, gs):
    g = -(-a.shape[1] // gs)
    return np.einsum("mgk,ngk->mng", _split(a, gs, g), _split(w, gs, g))


def stripes_partials(a_codes, w_codes, bits, group_size=0):
    """Bit-plane loop: P += ±2^b · (a · plane_b) for each weight bit-plane b."""
    a = np.asarray(a_codes).astype(np.int64)
    w = np.asarray(w_codes).astype(np.int64) & ((1 << bits) - 1)
    gs, _ = n_groups(a.shape[1], group_size)
    out = 0
    for b in range(bits):
        plane = (w >> b) & 1
        s = -1 if b == bits - 1 else 1
        out = out + s * (_gemm_groups(a, plane, gs) << b)
    return out


def terms_partials(a, pat, types, nterms, mult, shift, gs):
    """Σ_j mult·(a << shift) per (type, pattern) term j (BitMoD / MixPE / ANT)."""
    a_int, aexp = activations_fixed(a)
    n, k = pat.shape
    t = np.repeat(types, gs, axis=1)[:, :k]
    out = 0
    for j in range(mult.shape[2]):
        live = j < nterms[t, pat]
        tw = np.where(live, mult[t, pat, j] << shift[t, pat, j], 0)
        out = out + _gemm_groups(a_int, tw, gs)
    return out


def olive_partials(a, codes, normal_table, outlier_table, gs):
    """Pair decode (victim marker -> partner is an outlier) then MAC on the integer grid."""
    a_int, _ = activations_fixed(a)
    both = np.concatenate([normal_table, outlier_table])
    _, lsb = table_ints(both)

    def grid(t):
        t = np.asarray(t, np.float64) * 2.0**-lsb
        return np.rint(np.where(np.isnan(t), 0.0, t)).astype(np.int64)

    nm, ne = mant_exp(grid(normal_table))
    om, oe = mant_exp(grid(outlier_table))
    c = np.asarray(codes).astype(np.int64) & 15
    k = c.shape[1]
    partner = np.full_like(c, -1)
    kk = k - k % 2
    partner[:, 0:kk:2] = c[:, 1:kk:2]
    partner[:, 1:kk:2] = c[:, 0:kk:2]
    out_ = partner == VICTIM
    v = np.where(out_, om[c] << oe[c], nm[c] << ne[c])
    v = np.where(c == VICTIM, 0, v)
    return _gemm_groups(a_int, v, gs)


def dsp_int8_partials(a_codes, w_codes, chain=7, block_n=256):
    """Packed DSP: A = w1·2^18 + w0, P accumulates `chain` products, sign-corrected split."""
    a = np.asarray(a_codes).astype(np.int64)
    w = np.asarray(w_codes).astype(np.int64)
    if w.shape[0] % 2:
        w = np.concatenate([w, np.zeros((1, w.shape[1]), np.int64)])
    m, k = a.shape
    n2 = w.shape[0]
    pad = (-k) % chain
    ap = np.concatenate([a, np.zeros((m, pad), np.int64)], axis=1)
    wp = np.concatenate([w, np.zeros((n2, pad), np.int64)], axis=1)
    out = np.zeros((m, n2), np.int64)
    for n0 in range(0, n2, 2 * block_n):
        ws = wp[n0 : n0 + 2 * block_n]
        pa = (ws[1::2] << 18) + ws[0::2]  # [n, K]
        prod = ap[:, None, :] * pa[None, :, :]  # [M, n, K] 45-bit products
        p = prod.reshape(m, pa.shape[0], -1, chain).sum(axis=3)  # P register per chain
        p = ((p + (1 << 47)) & ((1 << 48) - 1)) - (1 << 47)  # 48-bit wrap
        lo = ((p + (1 << 17)) & ((1 << 18) - 1)) - (1 << 17)
        hi = (p - lo) >> 18
        out[:, n0 : n0 + 2 * block_n : 2] = lo.sum(axis=2)
        out[:, n0 + 1 : n0 + 2 * block_n : 2] = hi.sum(axis=2)
    return out[:, : np.shape(w_codes)[0], None]


def dequantize(part, pexp, w_scales, w_zeros=None, a_int=None, gs=0, a_scale=None):
    """FP32 per-group dequantization, same rounding sequence as kernels._common."""
    m, n, g = part.shape
    s = as_scales(w_scales, n, g)
    x = part
    if w_zeros is not None:
        z = np.broadcast_to(np.asarray(w_zeros, np.int64).reshape(n, -1), (n, g))
        x = x - z[None] * group_sums(a_int, gs, g)[:, None, :]
    acc = np.zeros((m, n), np.float32)
    for gi in range(g):
        v = (x[:, :, gi].astype(np.float64) * 2.0**pexp).astype(np.float32)
        acc = acc + v * s[None, :, gi]
    a_s = np.ones(m, np.float32) if a_scale is None else np.asarray(a_scale, np.float32)
    return acc * a_s.reshape(m, 1)


def lut_gemm(a, w_codes, w_scales, w_zeros=None, *, bits, group_size=0):
    """FP16 LUT datapath in numpy float16 arithmetic (see kernels.lut for the rounding)."""
    m, k = np.shape(a)
    n = np.shape(w_codes)[0]
    gs, g = n_groups(k, group_size)
    u, z = lut._unsigned(w_codes, w_zeros, bits, n, g)
    pad = (-k) % 4
    if pad:
        u = np.concatenate([u, np.zeros((n, pad), np.int64)], axis=1)
    tab = lut.lut_tables(a).astype(np.float16)  # [J, 8, M]
    coef = ((1 << bits) - 1 - 2 * z).astype(np.float16)
    s_half = as_scales(w_scales, n, g) * np.float32(0.5)
    jn = tab.shape[0]
    jg = (gs + (-gs) % 4) // 4
    out = np.zeros((m, n), np.float32)
    for gi in range(g):
        acc = np.zeros((m, n), np.float16)
        off = np.zeros((m, 1), np.float16)
        for j in range(gi * jg, min((gi + 1) * jg, jn)):
            w4 = u[:, 4 * j : 4 * j + 4]
            for b in range(bits):
                p = ((w4 >> b) & 1) @ np.array([1, 2, 4, 8])  # [N]
                pos = (p & 1) == 1
                idx = np.where(pos, p >> 1, ((~p) >> 1) & 7)
                v = tab[j][idx].T * np.float16(1 << b)  # [M, N], exact
                acc = acc + np.where(pos[None, :], v, -v)
            off = off + tab[j, 7][:, None]
        part = acc + coef[None, :, gi] * off
        out = out + part.astype(np.float32) * s_half[None, :, gi]
    return out


def mx_gemm(a_codes, a_sc, a_table, w_codes, w_sc, w_table):
    """Block dot products exact (int64), one FP32 rounding per block, FP32 accumulation."""
    ai, la, _ = blockscaled._elements(a_codes, a_table)
    wi, lw, _ = blockscaled._elements(w_codes, w_table)
    bs = blockscaled.MX_BLOCK
    d = _gemm_groups(ai, wi, bs)  # [M, N, NB]
    e = (np.asarray(a_sc, np.int64) - 127 + la)[:, None, :] + (
        np.asarray(w_sc, np.int64) - 127 + lw
    )[None, :, :]
    v = np.ldexp(d.astype(np.float64), e).astype(np.float32)
    acc = np.zeros(v.shape[:2], np.float32)
    for b in range(v.shape[2]):
        acc = acc + v[:, :, b]
    return acc


def fp_mac_gemm(a, w):
    """FP32 products and K-ordered FP32 accumulation."""
    a = np.asarray(a, np.float32)
    w = np.asarray(w, np.float32)
    acc = np.zeros((a.shape[0], w.shape[0]), np.float32)
    for k in range(a.shape[1]):
        acc = acc + a[:, k : k + 1] * w[None, :, k]
    return acc
