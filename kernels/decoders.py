"""Decoders of non-uniform weight types feeding an INT/FP MAC: ANT flint/PoT/int/float
(MICRO'22) and OliVe outlier-victim pairs (ISCA'23); SEED_SYSTEMS §3.

A decoder turns each stored pattern into (mantissa m, exponent e) with the value
m·2^e·2^L on an integer grid of unit 2^L (flint4 raw {0, .25, …, 4}: L = −2; PoT: m = 1;
OliVe normal int4 ×4 / flint4 ×8 and abfloat outliers ±{48 … 384}: m ∈ {1, 3}). The MAC
then adds m·(a << e): an INT MAC for INT8 activation codes, or an FP MAC for FP16
activations whose aligned accumulator is modelled as lossless (FP16 = integer × 2^-24).

OliVe pair decode: elements (2i, 2i+1) along K; a code equal to the victim marker 0b1000
is a victim (value 0) and turns its partner into an outlier, decoded with the abfloat
table instead of the normal table. Per-group partials are exact int64; dequantization is
FP32 RN (kernels._common.dequant_core).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from kernels._common import (
    activations_fixed,
    dequantize_partials,
    lanes,
    mant_exp_term,
    n_groups,
    table_ints,
    term_tables,
    terms_core,
)
from kernels._common import (
    patterns as _patterns,
)

#: OliVe victim marker pattern (the unused −0 / −8 pattern of the 4-bit normal type).
VICTIM = 0b1000


def mant_exp(ints) -> tuple[np.ndarray, np.ndarray]:
    """(odd mantissa m, exponent e) int64 [P] with m·2^e = ints (0 -> (0, 0))."""
    nt, mu, sh = term_tables(np.asarray(ints, np.int64)[None, :], mant_exp_term)
    return mu[0, :, 0] * (nt[0] > 0), sh[0, :, 0]


def decode_table(table) -> tuple[np.ndarray, np.ndarray, int]:
    """(mantissa [P], exponent [P], grid unit exponent L) of a value table (float64 [P])."""
    ints, lsb = table_ints(table)
    return (*mant_exp(ints), lsb)


def ant_partials(a, w_codes, table, *, group_size: int = 0):
    """Exact int64 [M, N, G] partials and unit exponent of a (int8 codes or fp16 [M, K]) ×
    ANT-decoded weights (patterns w_codes & (P−1) into `table`, float64 [P])."""
    a_int, aexp = activations_fixed(a)
    table = np.asarray(table, np.float64)
    bits = int(np.log2(table.size))
    ints, lsb = table_ints(table)
    nt, mu, sh = term_tables(ints[None, :], mant_exp_term)
    pat = _patterns(w_codes, bits)
    n, k = pat.shape
    gs, g = n_groups(k, group_size)
    ty = np.zeros((n, g), np.int64)
    return terms_core(lanes(a_int, aexp), pat, ty, nt, mu, sh, gs).astype(np.int64), aexp + lsb


def ant_gemm(a, w_codes, w_scales, table, *, group_size: int = 0, a_scale=None):
    """FP32 [M, N] of ant_partials, dequantized per group (per channel when 0)."""
    part, pexp = ant_partials(a, w_codes, table, group_size=group_size)
    gs, _ = n_groups(np.shape(a)[1], group_size)
    return dequantize_partials(part, pexp, w_scales, gs=gs, a_scale=a_scale)


@njit(parallel=True, cache=True)
def _olive_core(aT, c, nm, ne, om, oe, victim, gs):
    """Pair-aware decode + MAC. c: int64 [N, K] 4-bit patterns; (nm, ne) / (om, oe):
    mantissa/exponent of the normal / outlier tables. Returns int64 [M, N, G]."""
    k_, m_ = aT.shape
    n_ = c.shape[0]
    g_ = -(-k_ // gs)
    out = np.zeros((m_, n_, g_), np.int64)
    for n in prange(n_):
        acc = np.zeros(m_, np.int64)
        for g in range(g_):
            acc[:] = 0
            for k in range(g * gs, min((g + 1) * gs, k_)):
                ck = c[n, k]
                if ck == victim:
                    continue
                if k % 2 == 0:
                    partner = c[n, k + 1] if k + 1 < k_ else -1
                else:
                    partner = c[n, k - 1]
                if partner == victim:
                    mm = om[ck]
                    ee = oe[ck]
                else:
                    mm = nm[ck]
                    ee = ne[ck]
                if mm == 0:
                    continue
                for m in range(m_):
                    acc[m] += mm * (aT[k, m] << ee)
            for m in range(m_):
                out[m, n, g] = acc[m]
    return out


def olive_partials(a, w_codes, normal_table, outlier_table, *, group_size: int = 0):
    """Exact int64 [M, N, G] partials and unit exponent for OliVe pair-coded weights."""
    a_int, aexp = activations_fixed(a)
    both = np.concatenate(
        [np.asarray(normal_table, np.float64), np.asarray(outlier_table, np.float64)]
    )
    _, lsb = table_ints(both)

    def grid(t):
        t = np.asarray(t, np.float64) * 2.0**-lsb
        return np.rint(np.where(np.isnan(t), 0.0, t)).astype(np.int64)

    nm, ne = mant_exp(grid(normal_table))
    om, oe = mant_exp(grid(outlier_table))
    c = _patterns(w_codes, 4)
    gs, _ = n_groups(c.shape[1], group_size)
    part = _olive_core(np.ascontiguousarray(a_int.T), c, nm, ne, om, oe, VICTIM, gs)
    return part, aexp + lsb


def olive_gemm(
    a, w_codes, w_scales, normal_table, outlier_table, *, group_size: int = 0, a_scale=None
):
    """FP32 [M, N] of olive_partials, dequantized per group (per channel when 0)."""
    part, pexp = olive_partials(a, w_codes, normal_table, outlier_table, group_size=group_size)
    gs, _ = n_groups(np.shape(a)[1], group_size)
    return dequantize_partials(part, pexp, w_scales, gs=gs, a_scale=a_scale)
