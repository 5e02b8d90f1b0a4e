"""Arithmetic shared by the functional kernels: FP16 rounding, exact fixed-point FP16,
weight-value decomposition into hardware terms, and the per-group dequantization epilogue.

Units and conventions (see kernels/README.md):
- Activations a: [M, K] (tokens × reduction). Weights: [N, K] codes (output channels × K).
- Groups: `group_size` elements along K share one weight scale (0 = whole K, one group);
  w_scales has shape [N, G], G = ceil(K / group_size).
- "Partials" P: exact int64 per-group sums [M, N, G] of a·q in units of 2^pexp, where q is
  the weight's integer-grid value. Every integer datapath produces them bit-exactly.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

#: Unit roundoff of IEEE binary16 / binary32 / binary64 (round to nearest).
U16 = 2.0**-11
U32 = 2.0**-24
U64 = 2.0**-53
#: FP16 values are exact integers in units of 2^-24 (smallest subnormal).
FP16_FIX_EXP = -24


def gamma(n: int, u: float) -> float:
    """Higham's γ_n = n·u / (1 − n·u): bound on the relative error of n roundings."""
    nu = n * u
    return nu / (1.0 - nu) if nu < 1 else math.inf


def n_groups(k: int, group_size: int) -> tuple[int, int]:
    """(group size actually used, number of groups G) for K elements."""
    gs = k if group_size <= 0 else int(group_size)
    return gs, -(-k // gs) if k else 0


def as_scales(s, rows: int, g: int, name: str = "w_scales") -> np.ndarray:
    """Scales as float32 [rows, g] (accepts [rows], [rows, 1] or [rows, g])."""
    s = np.asarray(s, dtype=np.float32)
    if s.ndim == 1:
        s = s[:, None]
    if s.shape[1] == 1 and g > 1:
        s = np.repeat(s, g, axis=1)
    if s.shape != (rows, g):
        raise ValueError(f"{name}: expected shape ({rows}, {g}), got {s.shape}")
    return np.ascontiguousarray(s)


def fp16_to_fixed(a) -> np.ndarray:
    """FP16 activations -> exact int64 in units of 2^-24 (every finite FP16 is one)."""
    a = np.asarray(a)
    if a.dtype != np.float16:
        raise TypeError("fp16 activations expected")
    if not np.isfinite(a).all():
        raise ValueError("activations must be finite")
    return np.ascontiguousarray((a.astype(np.float64) * 2.0**24).astype(np.int64))


def activations_fixed(a) -> tuple[np.ndarray, int]:
    """(int64 [M, K] activations, exponent of their unit): int8 codes -> (a, 0), fp16 ->
    (a·2^24, -24)."""
    a = np.asarray(a)
    if a.dtype == np.float16:
        return fp16_to_fixed(a), FP16_FIX_EXP
    if a.dtype.kind not in "iu":
        raise TypeError(f"activations must be integer codes or float16, got {a.dtype}")
    return np.ascontiguousarray(a.astype(np.int64)), 0


def table_ints(table: np.ndarray) -> tuple[np.ndarray, int]:
    """Value table (float64, NaN = unused pattern) -> (int64 values in units of 2^L, L) with
    the largest L that makes every value an integer (dyadic values only)."""
    t = np.asarray(table, dtype=np.float64)
    v = np.where(np.isnan(t), 0.0, t)
    for lsb in range(16, -40, -1):
        x = v * 2.0**-lsb
        if np.all(x == np.rint(x)):
            return np.rint(x).astype(np.int64), lsb
    raise ValueError("value table is not dyadic")


# ------------------------------------------------------------------ term decompositions


def binary_terms(v: int, bits: int, signed: bool) -> list[tuple[int, int]]:
    """Shift-and-add terms (multiplier ±1, shift) of v's `bits`-bit binary code; in two's
    complement the MSB weighs −2^(bits−1)."""
    u = v & ((1 << bits) - 1)
    out = []
    for b in range(bits):
        if (u >> b) & 1:
            out.append((-1 if signed and b == bits - 1 else 1, b))
    return out


def booth_terms(v: int, bits: int) -> list[tuple[int, int]]:
    """Radix-4 (modified) Booth recoding of a `bits`-bit two's-complement v: digits
    d_i = −2·b(2i+1) + b(2i) + b(2i−1) ∈ {−2..2} weigh 4^i; ±2 is a shift by one more."""
    nb = bits + (bits & 1)
    u = v & ((1 << nb) - 1) if v >= 0 else (v + (1 << nb)) & ((1 << nb) - 1)

    def bit(i: int) -> int:
        return 0 if i < 0 else (u >> i) & 1

    out = []
    for i in range(nb // 2):
        d = -2 * bit(2 * i + 1) + bit(2 * i) + bit(2 * i - 1)
        if d:
            out.append((1 if d > 0 else -1, 2 * i + (1 if abs(d) == 2 else 0)))
    assert sum(m << s for m, s in out) == v, (v, out)
    return out


def lod_terms(v: int) -> list[tuple[int, int]]:
    """Leading-one detection: |v| as a sum of its set bits, MSB first, each ±2^e."""
    sgn, a, out = (-1 if v < 0 else 1), abs(v), []
    while a:
        e = a.bit_length() - 1
        out.append((sgn, e))
        a -= 1 << e
    return out


def mant_exp_term(v: int) -> list[tuple[int, int]]:
    """One term m·2^e with m odd (what a float/flint decoder hands to the multiplier)."""
    if v == 0:
        return []
    e = (v & -v).bit_length() - 1
    return [(v >> e, e)]


def term_tables(values: np.ndarray, decompose) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """values: int64 [T, P] integer-grid value of each (type, pattern). Returns (nterms
    [T, P], mult [T, P, J], shift [T, P, J]) int64 with Σ_j mult·2^shift = value."""
    values = np.atleast_2d(np.asarray(values, dtype=np.int64))
    terms = [[decompose(int(v)) for v in row] for row in values]
    j = max(1, max(len(t) for row in terms for t in row))
    t_, p_ = values.shape
    nt = np.zeros((t_, p_), np.int64)
    mu = np.zeros((t_, p_, j), np.int64)
    sh = np.zeros((t_, p_, j), np.int64)
    for ti, row in enumerate(terms):
        for pi, tl in enumerate(row):
            nt[ti, pi] = len(tl)
            for ji, (m, s) in enumerate(tl):
                mu[ti, pi, ji], sh[ti, pi, ji] = m, s
    return nt, mu, sh


# ------------------------------------------------------------------ numba cores


@njit(parallel=True, cache=True, error_model="numpy")
def terms_core(aT, pat, types, nterms, mult, shift, gs):
    """Exact per-group sums for weights decoded into (multiplier, shift) terms.

    aT: integer [K, M] activations (transposed so the M lanes are contiguous; int32 for
    INT8 codes, int64 for FP16 in units of 2^-24). pat: int64 [N, K] weight bit patterns.
    types: int64 [N, G] type per group. Returns [M, N, G] in aT's type:
    P[m, n, g] = Σ_{k∈g} Σ_j mult[t, p, j]·(a[m, k] << shift[t, p, j]).
    """
    k_, m_ = aT.shape
    n_ = pat.shape[0]
    g_ = types.shape[1]
    out = np.zeros((m_, n_, g_), aT.dtype)
    for n in prange(n_):
        acc = np.zeros(m_, aT.dtype)
        pn = pat[n]
        for g in range(g_):
            t = types[n, g]
            acc[:] = 0
            for k in range(g * gs, min((g + 1) * gs, k_)):
                p = pn[k]
                ak = aT[k]
                for j in range(nterms[t, p]):
                    mu = aT.dtype.type(mult[t, p, j])
                    sh = aT.dtype.type(shift[t, p, j])
                    if mu == 1:
                        for m in range(m_):
                            acc[m] = acc[m] + (ak[m] << sh)
                    elif mu == -1:
                        for m in range(m_):
                            acc[m] = acc[m] - (ak[m] << sh)
                    else:
                        for m in range(m_):
                            acc[m] = acc[m] + mu * (ak[m] << sh)
            for m in range(m_):
                out[m, n, g] = acc[m]
    return out


@njit(parallel=True, cache=True)
def dequant_core(part, pmul, w_scales, zeros, asum, a_scale):
    """Per-group dequantization (the hardware's dequant unit), FP32 round-to-nearest.

    For each group: x = P − z·Σa (exact int64); v = fp32(x·pmul) (one rounding; pmul a
    power of two); acc = fp32(acc + fp32(v·s_g)); finally out = fp32(acc·a_scale[m]).
    """
    m_, n_, g_ = part.shape
    out = np.empty((m_, n_), np.float32)
    for n in prange(n_):
        for m in range(m_):
            acc = np.float32(0.0)
            for g in range(g_):
                x = part[m, n, g] - zeros[n, g] * asum[m, g]
                v = np.float32(np.float64(x) * pmul)
                acc = np.float32(acc + np.float32(v * w_scales[n, g]))
            out[m, n] = np.float32(acc * a_scale[m])
    return out


def lanes(a_int: np.ndarray, exp: int) -> np.ndarray:
    """Activations transposed to [K, M] for the cores: int32 for INT codes (|a| ≤ 128, so
    sums of products with integer-grid weights |w| ≤ 2^11 stay < 2^31 for K ≤ 2^12), int64 for FP16
    fixed point."""
    t = np.ascontiguousarray(a_int.T)
    small = exp == 0 and a_int.shape[1] <= 4096 and np.abs(a_int).max(initial=0) <= 128
    return t.astype(np.int32) if small else t


def patterns(w_codes, bits: int) -> np.ndarray:
    """Weight bit patterns w & (2^bits − 1) [N, K], as uint8 when bits ≤ 8 (int64 otherwise):
    the cores index term tables with them; a narrow copy costs far less than an int64 one."""
    dt = np.uint8 if bits <= 8 else np.int64
    return np.ascontiguousarray(np.asarray(w_codes).astype(dt) & dt((1 << bits) - 1))


def group_sums(a_int: np.ndarray, gs: int, g: int) -> np.ndarray:
    """Σ_{k∈g} a[m, k] as int64 [M, G] (for zero-point correction)."""
    m, k = a_int.shape
    pad = g * gs - k
    x = np.concatenate([a_int, np.zeros((m, pad), np.int64)], axis=1) if pad else a_int
    return x.reshape(m, g, gs).sum(axis=2)


def dequantize_partials(part, pexp, w_scales, w_zeros=None, a_int=None, gs=0, a_scale=None):
    """FP32 output [M, N] of exact partials (see dequant_core). w_zeros: integer zero point
    per group [N, G] (x ≈ (q − z)·s) needing a_int (int64 [M, K], same units as part)."""
    m, n, g = part.shape
    s = as_scales(w_scales, n, g)
    if w_zeros is None:
        z = np.zeros((n, g), np.int64)
        asum = np.zeros((m, g), np.int64)
    else:
        z = np.ascontiguousarray(
            np.broadcast_to(np.asarray(w_zeros, np.int64).reshape(n, -1), (n, g))
        )
        asum = group_sums(a_int, gs, g)
    a_s = np.ones(m, np.float32) if a_scale is None else np.asarray(a_scale, np.float32)
    a_s = np.ascontiguousarray(a_s.reshape(m))
    return dequant_core(part, 2.0**pexp, s, z, asum, a_s)


def dequant_rounds(g: int) -> int:
    """Roundings on any summand's path through dequant_core (bound: γ32 of this)."""
    return g + 3


@njit(inline="always")
def rn16(x, fb, ib):
    """Round a float32 to the nearest binary16 value (ties to even), returned as float32.

    Normal range: drop 13 of the 23 fraction bits with round-half-even on the bit pattern
    (fb/ib: a 1-element float32 buffer and its int32 view). Subnormal FP16 range (|x| <
    2^-14): quantum 2^-24, by adding and subtracting 0.75 (ulp 2^-24 in FP32). Results above
    65504 become ±inf. Applied to the FP32 sum of two FP16 values it gives the correctly
    rounded FP16 sum (FP32 has ≥ 2·11 + 2 bits, so double rounding is innocuous).
    """
    if abs(x) < np.float32(6.103515625e-05):
        return (x + np.float32(0.75)) - np.float32(0.75)
    fb[0] = x
    b = ib[0]
    b = (b + np.int32(0xFFF) + ((b >> 13) & 1)) & np.int32(-8192)
    ib[0] = b
    r = fb[0]
    if abs(r) > np.float32(65504.0):
        return np.float32(np.inf) if r > 0 else np.float32(-np.inf)
    return r
