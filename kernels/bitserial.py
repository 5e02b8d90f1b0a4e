"""Bit-serial PEs: Stripes-style weight bit-plane GEMM and BitMoD's signed-term datapath.

Stripes (Judd et al., MICRO'16; SEED_SYSTEMS §2): one bit-plane per step. Here the serial
operand is the weight: step b adds, for every weight whose bit b is set, the activation,
and the plane sum is shifted by b (the two's-complement MSB plane is subtracted). INT8
activation codes; exact int64 group partials.

BitMoD (HPCA'25; SEED_SYSTEMS §1): FP16 activations; each weight is decoded into a short
stream of signed power-of-two terms — radix-4 Booth digits for INT6/INT8, leading-one
detection (LOD) for the FP3/FP4 grids with a per-group special value (`types`) — each
term shifts the activation (exponent add) and is accumulated per group of 128; the group
scale is applied once per group partial sum (dequantization unit).

Rounding model: the exponent-matched group accumulator is modelled as wide enough to lose
no bits (FP16 values are exact integers in units of 2^-24, so the group partial is an exact
int64). Dequantization: see kernels._common.dequant_core (FP32 RN, G + 3 roundings).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from kernels._common import (
    activations_fixed,
    booth_terms,
    dequantize_partials,
    lanes,
    lod_terms,
    n_groups,
    table_ints,
    term_tables,
    terms_core,
)
from kernels._common import (
    patterns as _patterns,
)


@njit(parallel=True, cache=True, error_model="numpy")
def _bitplane_core(aT, w, bits, gs):
    """P[m, n, g] = Σ_b ±2^b · Σ_{k∈g, bit b of w[n,k] set} a[m, k] (MSB plane negative).
    All bit-plane sums of a group are gathered in one pass over k (planes[b, m]: the bit
    selects the activation through an AND mask −bit), then shifted and added in int64.
    The plane accumulators have aT's type (int16/int32, chosen by stripes_partials so that
    gs·max|a| fits it); the token lanes m are innermost and contiguous."""
    k_, m_ = aT.shape
    n_ = w.shape[0]
    g_ = -(-k_ // gs)
    out = np.zeros((m_, n_, g_), np.int64)
    one = aT.dtype.type(1)
    for n in prange(n_):
        planes = np.zeros((bits, m_), aT.dtype)
        wn = w[n]
        for g in range(g_):
            planes[:, :] = 0
            for k in range(g * gs, min(g * gs + gs, k_)):
                wk = wn[k]
                ak = aT[k]
                for b in range(bits):
                    msk = aT.dtype.type(-(one & (wk >> b)))
                    pb = planes[b]
                    for m in range(m_):
                        pb[m] = pb[m] + (ak[m] & msk)
            for b in range(bits):
                for m in range(m_):
                    v = np.int64(planes[b, m]) << b
                    if b == bits - 1:
                        out[m, n, g] -= v
                    else:
                        out[m, n, g] += v
    return out


def stripes_partials(a_codes, w_codes, bits: int, group_size: int = 0) -> np.ndarray:
    """Exact int64 group partials [M, N, G] of a (int8 codes [M, K]) × w (signed `bits`-bit
    two's-complement codes [N, K]), one weight bit-plane per step."""
    a_int, _ = activations_fixed(a_codes)
    wdt = np.uint8 if bits <= 8 else np.int64
    w = np.ascontiguousarray(np.asarray(w_codes).astype(wdt) & wdt((1 << bits) - 1))
    gs, _ = n_groups(a_int.shape[1], group_size)
    # plane sum bound: |Σ_{k∈g} a·bit| ≤ gs·max|a| must fit the accumulator type
    bound = gs * int(np.abs(a_int).max(initial=0))
    adt = np.int16 if bound <= 2**15 - 1 else np.int32 if bound <= 2**31 - 1 else np.int64
    aT = np.ascontiguousarray(a_int.T.astype(adt))
    return _bitplane_core(aT, w, bits, gs)


def stripes_gemm(
    a_codes, w_codes, w_scales, *, bits: int, group_size: int = 0, a_scale=None
) -> np.ndarray:
    """FP32 [M, N] = a_scale[m] · Σ_g s[n, g] · P[m, n, g] (see stripes_partials)."""
    part = stripes_partials(a_codes, w_codes, bits, group_size)
    gs, _ = n_groups(np.shape(a_codes)[1], group_size)
    return dequantize_partials(part, 0, w_scales, gs=gs, a_scale=a_scale)


def bitmod_tables(tables, int_bits: int = 0):
    """Term tables for BitMoD weights. tables: [T, 2^bits] float64 values of each pattern
    (one row per per-group type) for FP3/FP4 grids (LOD terms), or None with int_bits = 6/8
    for two's-complement INT weights (radix-4 Booth terms). Returns (nterms, mult, shift,
    lsb exponent of the integer grid)."""
    if tables is None:
        n = 1 << int_bits
        vals = np.array([[p - n if p >= n // 2 else p for p in range(n)]], np.int64)
        return (*term_tables(vals, lambda v: booth_terms(v, int_bits)), 0)
    ints, lsb = table_ints(np.atleast_2d(tables))
    return (*term_tables(ints, lod_terms), lsb)


def bitmod_partials(
    a, w_codes, tables=None, types=None, *, group_size: int = 128, int_bits: int = 0
):
    """Exact group partials of FP16 a [M, K] × BitMoD weights. Returns (int64 [M, N, G],
    exponent pexp of their unit). w_codes: unsigned patterns (FP3/FP4 tables) or signed
    INT codes (tables None). types: [N, G] row of `tables` per group (None: row 0)."""
    a_int, aexp = activations_fixed(a)
    nt, mu, sh, lsb = bitmod_tables(tables, int_bits)
    bits = int(np.log2(mu.shape[1]))
    pat = _patterns(w_codes, bits)
    n, k = pat.shape
    gs, g = n_groups(k, group_size)
    ty = np.zeros((n, g), np.int64) if types is None else np.asarray(types, np.int64)
    ty = np.ascontiguousarray(np.broadcast_to(ty.reshape(n, -1), (n, g)))
    part = terms_core(lanes(a_int, aexp), pat, ty, nt, mu, sh, gs).astype(np.int64)
    return part, aexp + lsb


def bitmod_gemm(
    a, w_codes, w_scales, tables=None, types=None, *, group_size: int = 128, int_bits: int = 0
) -> np.ndarray:
    """FP32 [M, N]: per-group FP32 dequantization of bitmod_partials."""
    part, pexp = bitmod_partials(
        a, w_codes, tables, types, group_size=group_size, int_bits=int_bits
    )
    gs, _ = n_groups(np.shape(a)[1], group_size)
    return dequantize_partials(part, pexp, w_scales, gs=gs)
