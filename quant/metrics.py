"""Error metrics and bit-level statistics of quantized tensors.

Errors compare a reference `x` with its reconstruction `xq` (any shape, computed in float64).
Bit statistics work on codes: for INT formats the two's-complement integers of `bits` bits
(the stored pattern is code & (2^bits − 1)); for other formats the unsigned patterns.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from quant.qtensor import make_blocks


def mse(x: np.ndarray, xq: np.ndarray) -> float:
    """Mean squared error."""
    d = np.asarray(x, np.float64) - np.asarray(xq, np.float64)
    return float(np.mean(d * d)) if d.size else 0.0


def sqnr_db(x: np.ndarray, xq: np.ndarray) -> float:
    """Signal-to-quantization-noise ratio 10·log10(Σx² / Σ(x − xq)²) in dB (inf if exact)."""
    x = np.asarray(x, np.float64)
    err = float(np.sum((x - np.asarray(xq, np.float64)) ** 2))
    sig = float(np.sum(x * x))
    if err == 0:
        return float("inf")
    if sig == 0:
        return float("-inf")
    return 10.0 * np.log10(sig / err)


def max_abs_error(x: np.ndarray, xq: np.ndarray) -> float:
    """Largest |x − xq|."""
    d = np.abs(np.asarray(x, np.float64) - np.asarray(xq, np.float64))
    return float(d.max()) if d.size else 0.0


@dataclass(frozen=True)
class GroupStats:
    """Per-group error statistics (arrays of shape [R, nb], groups of g along axis)."""

    mse: np.ndarray
    sqnr_db: np.ndarray
    max_abs_error: np.ndarray
    absmax: np.ndarray


def group_stats(x: np.ndarray, xq: np.ndarray, group: int, axis: int = -1) -> GroupStats:
    """Per-group MSE, SQNR (dB), max error and absmax; a partial last group averages over its
    real elements only."""
    x = np.asarray(x, np.float64)
    b = make_blocks(x, axis, group)
    xb, qb = b.split(x), b.split(np.asarray(xq, np.float64))
    n = np.full(b.nb, b.g, dtype=np.float64)
    if b.k % b.g:
        n[-1] = b.k % b.g
    d2 = ((xb - qb) ** 2).sum(axis=-1)
    sig = (xb * xb).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sq = np.where(d2 == 0, np.inf, 10 * np.log10(sig / d2))
    return GroupStats(d2 / n, sq, np.abs(xb - qb).max(axis=-1), np.abs(xb).max(axis=-1))


def _patterns(codes: np.ndarray, bits: int) -> np.ndarray:
    return np.asarray(codes).astype(np.int64) & ((1 << bits) - 1)


def bitplane_zero_fraction(codes: np.ndarray, bits: int) -> np.ndarray:
    """Fraction of zero bits in each bit-plane of the stored patterns; index 0 = LSB."""
    p = _patterns(codes, bits).ravel()
    if p.size == 0:
        return np.ones(bits)
    counts = np.bincount(p, minlength=1 << bits)
    ones = np.array([counts[(np.arange(1 << bits) >> i) & 1 == 1].sum() for i in range(bits)])
    return 1.0 - ones / p.size


@functools.cache
def _booth_table(bits: int, signed: bool) -> np.ndarray:
    """Nonzero radix-4 Booth digits of every `bits`-bit pattern (two's complement when
    signed; unsigned patterns are zero-extended by one bit)."""
    width = bits if signed else bits + 1
    width += width % 2
    out = np.zeros(1 << bits, dtype=np.int64)
    for p in range(1 << bits):
        v = p - (1 << bits) if signed and p >> (bits - 1) else p
        u = v & ((1 << width) - 1)  # sign-extended pattern of `width` bits
        prev, n = 0, 0
        for i in range(0, width, 2):
            b0, b1 = (u >> i) & 1, (u >> (i + 1)) & 1
            n += (-2 * b1 + b0 + prev) != 0
            prev = b1
        out[p] = n
    return out


def booth_terms(codes: np.ndarray, bits: int, signed: bool = True) -> np.ndarray:
    """Nonzero radix-4 Booth terms of each code (digit d_i = −2x_{2i+1} + x_{2i} + x_{2i−1})."""
    return _booth_table(bits, signed)[_patterns(codes, bits)]


def booth_terms_mean(codes: np.ndarray, bits: int, signed: bool = True) -> float:
    """Mean number of nonzero radix-4 Booth terms per code (a bit-serial PE's cycles per
    weight for Booth-encoded INT weights)."""
    t = booth_terms(codes, bits, signed)
    return float(t.mean()) if t.size else 0.0


def nonzero_terms(values: np.ndarray) -> np.ndarray:
    """Signed power-of-two terms needed per value with leading-one detection on its
    significand (BitMoD §IV): popcount of the odd part of |v| written as odd·2^k; 0 → 0.
    Values must be dyadic (FP/BitMoD/flint/PoT element values, not scaled values)."""
    v = np.abs(np.asarray(values, np.float64))
    m, _ = np.frexp(v)  # v = m·2^e, m in [0.5, 1)
    sig = np.ldexp(m, 53).astype(np.uint64)  # exact 53-bit significand integer
    out = np.zeros(v.shape, dtype=np.int64)
    for _ in range(53):
        out += (sig & np.uint64(1)).astype(np.int64)
        sig >>= np.uint64(1)
    return out


def nonzero_terms_mean(values: np.ndarray) -> float:
    """Mean of `nonzero_terms` over the values."""
    t = nonzero_terms(values)
    return float(t.mean()) if t.size else 0.0
