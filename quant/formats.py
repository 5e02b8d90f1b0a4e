"""Bit-exact element number formats (values before any scale).

Every format is a `NumberFormat`: a table `table[i]` giving the value of bit pattern `i`
(`i` in [0, 2**bits)), NaN where the pattern is unused or encodes NaN. `encode(x)` returns the
code of the nearest representable value, `decode(codes)` the values.

Rules shared by every format (see quant/README.md):
- Round to nearest. Ties go to the candidate with the *even index* in the sorted list of
  representable magnitudes of that sign (including 0). For FP grids this index is the
  exponent|mantissa field, so the rule is IEEE 754 round-half-to-even; for INT grids it is
  round-half-to-even on the integer.
- Saturate: finite values beyond the largest magnitude, and ±inf, encode to ±max.
  (ml_dtypes instead turns FP8 E4M3fn overflow into NaN and E5M2 overflow into inf.)
- NaN: formats with a NaN pattern (FP8 E4M3fn/E5M2, E8M0) encode NaN to it, with the sign
  bit of the input as ml_dtypes does; formats without one raise ValueError.
- Signed zero: FP formats keep the sign of a value that rounds to 0 (−0 pattern), like IEEE;
  formats whose −0 pattern is reused (INT, BitMoD, flint, PoT) encode it as +0.

Code representation: INT formats return the signed integer itself (two's complement within
`bits`, so `code & (2**bits − 1)` is the stored pattern); all other formats return the
unsigned bit pattern in [0, 2**bits).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numba
import numpy as np


@numba.njit(inline="always", cache=True)
def nearest_code(v, pos_mids, pos_codes, neg_mids, neg_codes):  # pragma: no cover
    """Code of the value nearest to v: side by sign bit, binary search of the midpoints
    (first mid >= |v|), on an exact tie move to the even index. v must not be NaN."""
    neg = math.copysign(1.0, v) < 0
    mids = neg_mids if neg else pos_mids
    m = abs(v)
    lo, hi = 0, mids.size
    while lo < hi:
        mid = (lo + hi) >> 1
        if mids[mid] < m:
            lo = mid + 1
        else:
            hi = mid
    if lo < mids.size and mids[lo] == m and lo % 2 == 1:
        lo += 1
    return neg_codes[lo] if neg else pos_codes[lo]


@numba.njit(parallel=True, cache=True)
def _nearest_codes(x, pos_mids, pos_codes, neg_mids, neg_codes, out):  # pragma: no cover
    for i in numba.prange(x.size):
        out[i] = nearest_code(x[i], pos_mids, pos_codes, neg_mids, neg_codes)


@dataclass(frozen=True, eq=False)
class NumberFormat:
    """A finite set of element values addressed by `bits`-bit codes.

    name: short identifier. table: float64 value of each bit pattern (NaN = unused/NaN).
    signed_codes: codes are two's-complement integers (INT formats), not unsigned patterns.
    keep_neg_zero: a negative input that rounds to 0 encodes to the −0 pattern (FP formats).
    nan_code: pattern used for NaN input (None: NaN input raises ValueError).
    """

    name: str
    bits: int
    table: np.ndarray
    signed_codes: bool = False
    keep_neg_zero: bool = False
    nan_code: int | None = None
    integer_grid: bool = False
    _pos: tuple = field(init=False, repr=False)
    _neg: tuple = field(init=False, repr=False)

    def __post_init__(self) -> None:
        table = np.asarray(self.table, dtype=np.float64)
        if table.shape != (1 << self.bits,):
            raise ValueError(f"{self.name}: table needs {1 << self.bits} entries")
        table.setflags(write=False)
        object.__setattr__(self, "table", table)
        object.__setattr__(self, "_pos", self._side(positive=True))
        object.__setattr__(self, "_neg", self._side(positive=False))

    def _side(self, positive: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sorted magnitudes for one sign (with 0), their codes, and the midpoints."""
        best: dict[float, int] = {}
        for i, v in enumerate(self.table):
            if np.isnan(v):
                continue
            neg_pattern = bool(np.signbit(v))
            if v == 0:
                # +0 pattern serves both signs unless the −0 pattern is kept.
                if self.keep_neg_zero and neg_pattern != positive:
                    best[0.0] = i
                elif not self.keep_neg_zero and not neg_pattern:
                    best[0.0] = i
                continue
            if (v > 0) == positive and abs(v) not in best:
                best[abs(float(v))] = i
        mags = np.array(sorted(best), dtype=np.float64)
        codes = np.array([best[m] for m in mags], dtype=np.int64)
        if self.signed_codes:
            half = 1 << (self.bits - 1)
            codes = np.where(codes >= half, codes - (1 << self.bits), codes)
        mids = (mags[:-1] + mags[1:]) / 2  # exact: dyadic values, float64
        return mags, codes, mids

    @property
    def search_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(pos_mids, pos_codes, neg_mids, neg_codes) used by `nearest_code`."""
        return self._pos[2], self._pos[1], self._neg[2], self._neg[1]

    @property
    def values(self) -> np.ndarray:
        """Sorted distinct representable values (float64), before any scale."""
        v = self.table[~np.isnan(self.table)]
        return np.unique(v + 0.0)  # +0.0 folds −0 into 0

    @property
    def max_abs(self) -> float:
        """Largest representable magnitude."""
        return float(np.nanmax(np.abs(self.table)))

    @property
    def code_dtype(self) -> type:
        return np.int8 if self.signed_codes else (np.uint8 if self.bits <= 8 else np.uint16)

    def encode(self, x: np.ndarray) -> np.ndarray:
        """Codes of the nearest representable values (ties to even index, saturating)."""
        if self.integer_grid:
            return self._encode_integer(x)
        x = np.asarray(x)
        if x.dtype not in (np.float32, np.float64):
            x = x.astype(np.float64)
        nan = np.isnan(x)
        if nan.any() and self.nan_code is None:
            raise ValueError(f"{self.name}: NaN input has no encoding")
        flat = np.ascontiguousarray(np.where(nan, 0.0, x) if nan.any() else x).ravel()
        out = np.empty(flat.shape, dtype=np.int64)
        _nearest_codes(flat, self._pos[2], self._pos[1], self._neg[2], self._neg[1], out)
        out = out.reshape(x.shape)
        if nan.any():
            neg = np.signbit(x)
            nc = self.nan_code
            neg_nc = nc | (1 << (self.bits - 1)) if self.signed_nan else nc
            out[nan] = np.where(neg[nan], neg_nc, nc)
        return out.astype(self.code_dtype)

    def _encode_integer(self, x: np.ndarray) -> np.ndarray:
        """Fast path for grids of consecutive integers: np.rint is round-half-to-even."""
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float64)
        if np.isnan(x).any():
            raise ValueError(f"{self.name}: NaN input has no encoding")
        lo, hi = self.values[0], self.values[-1]
        return np.clip(np.rint(x), lo, hi).astype(self.code_dtype)

    @property
    def signed_nan(self) -> bool:
        """True when the format has a sign bit so that −NaN has its own pattern."""
        return self.keep_neg_zero

    def index(self, codes: np.ndarray) -> np.ndarray:
        """Bit pattern (table index) of each code."""
        c = np.asarray(codes).astype(np.int64)
        return c & ((1 << self.bits) - 1)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Values (float32) of codes; NaN for NaN/unused patterns."""
        if self.signed_codes:
            return np.asarray(codes).astype(np.float32)
        return self.table.astype(np.float32)[self.index(codes)]

    def quantize_values(self, x: np.ndarray) -> np.ndarray:
        """decode(encode(x)) in float32."""
        return self.decode(self.encode(x))


# ---------------------------------------------------------------- constructors


def int_format(bits: int, signed: bool = True) -> NumberFormat:
    """INT-b. Signed: symmetric [−(2^(b−1)−1), 2^(b−1)−1]; the pattern −2^(b−1) is NOT kept
    (SEED_SYSTEMS §8 recommendation), so the grid is symmetric. Unsigned: [0, 2^b − 1]."""
    n = 1 << bits
    if signed:
        half = n >> 1
        table = np.array([i if i < half else i - n for i in range(n)], dtype=np.float64)
        table[half] = np.nan  # −2^(b−1) unused
        return NumberFormat(f"int{bits}", bits, table, signed_codes=True, integer_grid=True)
    return NumberFormat(f"uint{bits}", bits, np.arange(n, dtype=np.float64), integer_grid=True)


def fp_format(ebits: int, mbits: int, bias: int | None = None, style: str = "fn") -> NumberFormat:
    """Sign/exponent/mantissa minifloat with subnormals.

    style "fn": no Inf/NaN, every pattern finite (OCP FP4 E2M1, FP6 E2M3/E3M2).
    style "fn8": OCP FP8 E4M3fn: only S.1111.111 is NaN, no Inf.
    style "ieee": IEEE-like (OCP FP8 E5M2): exponent all-ones is Inf (mant 0) / NaN.
    bias defaults to 2^(e−1) − 1 (OCP MX v1.0 §5.3 / OCP FP8 spec).
    """
    if bias is None:
        bias = (1 << (ebits - 1)) - 1
    bits = 1 + ebits + mbits
    table = np.empty(1 << bits, dtype=np.float64)
    emax_field = (1 << ebits) - 1
    for i in range(1 << bits):
        s = -1.0 if i >> (bits - 1) else 1.0
        e = (i >> mbits) & emax_field
        m = i & ((1 << mbits) - 1)
        if e == 0:
            v = m / (1 << mbits) * 2.0 ** (1 - bias)
        else:
            v = (1 + m / (1 << mbits)) * 2.0 ** (e - bias)
        if style == "ieee" and e == emax_field:
            v = np.nan  # Inf and NaN patterns: never produced (saturation)
        if style == "fn8" and e == emax_field and m == (1 << mbits) - 1:
            v = np.nan
        table[i] = s * v
    nan_code = {"fn": None, "fn8": (1 << (bits - 1)) - 1, "ieee": (emax_field << mbits) | 2}
    return NumberFormat(
        f"fp{bits}-e{ebits}m{mbits}", bits, table, keep_neg_zero=True, nan_code=nan_code[style]
    )


def e8m0_format() -> NumberFormat:
    """OCP MX v1.0 E8M0 scale: 2^(c − 127) for c in [0, 254], c = 255 is NaN; no sign, no 0.
    Non-positive and NaN inputs encode to NaN (255) as ml_dtypes float8_e8m0fnu does; ties
    round up (IEEE RNE with a 0-bit mantissa)."""
    table = 2.0 ** (np.arange(256, dtype=np.float64) - 127)
    table[255] = np.nan
    return _E8M0(name="e8m0", bits=8, table=table, nan_code=255)


class _E8M0(NumberFormat):
    """E8M0 has no mantissa bits, so IEEE round-half-to-even of the significand sends a tie
    (1.5·2^e) up to 2^(e+1) (significand 10b is even) — as ml_dtypes does. Saturates to
    [2^−127, 2^127]."""

    def encode(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        bad = ~(x > 0)
        m, e = np.frexp(np.where(bad, 1.0, x))  # x = m·2^e, m in [0.5, 1)
        code = (e - 1 + 127) + (m >= 0.75)
        code = np.clip(code, 0, 254)
        return np.where(bad, 255, code).astype(np.uint8)


def table_format(
    name: str,
    bits: int,
    magnitudes: list[float],
    neg_special: float | None = None,
    sign_magnitude: bool = True,
) -> NumberFormat:
    """Sign-magnitude table: pattern s|m has value (−1)^s · magnitudes[m].

    `magnitudes` has 2^(bits−1) entries with magnitudes[0] = 0. The −0 pattern (s=1, m=0) is
    either unused or holds `neg_special` (BitMoD's redundant-zero special value, §1).
    """
    half = 1 << (bits - 1)
    assert len(magnitudes) == half and magnitudes[0] == 0 and sign_magnitude
    table = np.array(list(magnitudes) + [-m for m in magnitudes], dtype=np.float64)
    table[half] = np.nan if neg_special is None else neg_special
    return NumberFormat(name, bits, table)


def bipolar_format(bits: int) -> NumberFormat:
    """Bipolar-INT b: bit i contributes ±2^i (1 → +, 0 → −), value = 2u − (2^b − 1): the odd
    integers in [−(2^b−1), 2^b−1], no zero (SEED_SYSTEMS §7, encoding [unverified])."""
    u = np.arange(1 << bits, dtype=np.float64)
    return NumberFormat(f"bipolar-int{bits}", bits, 2 * u - ((1 << bits) - 1))


def binary_format() -> NumberFormat:
    """Binary {−1, +1}: code 0 → −1, code 1 → +1; 0 encodes to +1 (tie to even index)."""
    return NumberFormat("binary", 1, np.array([-1.0, 1.0]))


def ternary_format() -> NumberFormat:
    """Ternary {−1, 0, +1} stored as a 2-bit two's-complement integer (pattern 10 unused)."""
    return NumberFormat(
        "ternary",
        2,
        np.array([0.0, 1.0, np.nan, -1.0]),
        signed_codes=True,
        integer_grid=True,
    )


# ------------------------------------------------------- value tables (SEED_SYSTEMS)

#: BitMoD FP3 = E2M0 magnitudes {0,1,2,4} (SEED_SYSTEMS §1; BitMoD HPCA'25 Table II).
BITMOD_FP3_MAGS = [0.0, 1.0, 2.0, 4.0]
#: BitMoD FP4 = E2M1 ×2 magnitudes {0,1,2,3,4,6,8,12} (SEED_SYSTEMS §1).
BITMOD_FP4_MAGS = [0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0]
#: Special values of the 4 variants, in type-index order: ER+, ER−, EA+, EA− (§1).
BITMOD_SPECIALS = {3: (3.0, -3.0, 6.0, -6.0), 4: (10.0, -10.0, 16.0, -16.0)}
BITMOD_VARIANTS = ("er_pos", "er_neg", "ea_pos", "ea_neg")
#: ANT flint4 raw magnitudes (SEED_SYSTEMS §3; ANT MICRO'22 §IV): {0,.25,.5,.75,1,1.5,2,4}.
FLINT4_MAGS = [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0]
#: ANT PoT4 magnitudes {0, 2^0 .. 2^6} (SEED_SYSTEMS §3).
POT4_MAGS = [0.0] + [2.0**i for i in range(7)]
#: OliVe abfloat outlier magnitudes on the normalized grid: E2M1 with exponent bias 5,
#: pattern m=0 skipped: 2^(5+e)·(1 + m/2) (SEED_SYSTEMS §3; OliVe ISCA'23 §4).
ABFLOAT_MAGS = [0.0, 48.0, 64.0, 96.0, 128.0, 192.0, 256.0, 384.0]


def bitmod_format(bits: int, variant: int) -> NumberFormat:
    """BitMoD FP3/FP4 variant `variant` (0..3 = ER+, ER−, EA+, EA−): the base FP grid with
    the special value in the −0 pattern (SEED_SYSTEMS §1)."""
    mags = BITMOD_FP3_MAGS if bits == 3 else BITMOD_FP4_MAGS
    special = BITMOD_SPECIALS[bits][variant]
    return table_format(f"bitmod-fp{bits}-{BITMOD_VARIANTS[variant]}", bits, mags, special)


@functools.cache
def element_format(name: str) -> NumberFormat:
    """Element formats by short name (cached; formats are immutable)."""
    fixed = {
        "fp4-e2m1": lambda: fp_format(2, 1),
        "fp6-e2m3": lambda: fp_format(2, 3),
        "fp6-e3m2": lambda: fp_format(3, 2),
        "fp8-e4m3": lambda: fp_format(4, 3, style="fn8"),
        "fp8-e5m2": lambda: fp_format(5, 2, style="ieee"),
        "e8m0": e8m0_format,
        "flint4": lambda: table_format("flint4", 4, FLINT4_MAGS),
        "pot4": lambda: table_format("pot4", 4, POT4_MAGS),
        "abfloat4": lambda: table_format("abfloat4", 4, ABFLOAT_MAGS),
        "binary": binary_format,
        "ternary": ternary_format,
    }
    if name in fixed:
        return fixed[name]()
    if name.startswith("uint"):
        return int_format(int(name[4:]), signed=False)
    if name.startswith("int"):
        return int_format(int(name[3:]))
    if name.startswith("bipolar-int"):
        return bipolar_format(int(name[11:]))
    if name.startswith("bitmod-fp"):
        bits = int(name[9])
        return bitmod_format(bits, BITMOD_VARIANTS.index(name[11:]))
    raise KeyError(name)
