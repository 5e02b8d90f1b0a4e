"""OliVe outlier-victim pair quantization (ISCA'23; SEED_SYSTEMS §3).

Normalized grid (OliVe's codebook normalization, threshold 32 between normal and outlier):
- normal int4: 4·{−7..7} (pattern = int4 two's complement); normal flint4: 8·flint4 raw =
  {0, ±2, ±4, ±6, ±8, ±12, ±16, ±32} (sign-magnitude pattern).
- outlier abfloat (E2M1, exponent bias 5, mantissa-0 of the lowest exponent skipped):
  ±{48, 64, 96, 128, 192, 256, 384} (sign-magnitude pattern, magnitude code 1..7).
Scale per channel (row along axis): alpha = min(absmax, max(|μ + 3σ|, |μ − 3σ|)) (OliVe's
3σ clipping base), s = alpha / normal max (28 for int4, 32 for flint4), in FP32.
Each element y = x/s goes to the nearest value of normal ∪ abfloat (tie: normal). Pairs are
elements (2i, 2i+1) along axis. If an element is an outlier (|q| > 32) its pair partner is
the victim: set to 0 and stored as the marker pattern 0b1000 (unused −0/−8 of the normal
code). If both are outliers the even one is kept. With odd K the last element has no
partner and is limited to the normal grid.
"""

from __future__ import annotations

import functools

import numpy as np

from quant.formats import ABFLOAT_MAGS, FLINT4_MAGS, NumberFormat, int_format, table_format

#: Victim marker pattern (OliVe §4: the redundant −0 code of the 4-bit normal type).
VICTIM = 0b1000
#: Outlier threshold on the normalized grid (OliVe reference codebook normalization).
OUTLIER_THRESHOLD = 32.0


@functools.cache
def normal_format(kind: str) -> NumberFormat:
    """Normal-value 4-bit format on the normalized grid (unsigned patterns)."""
    if kind == "int4":
        t = int_format(4).table * 4.0
        return NumberFormat("olive-int4-normal", 4, t)
    return table_format("olive-flint4-normal", 4, [8.0 * m for m in FLINT4_MAGS])


@functools.cache
def abfloat_format() -> NumberFormat:
    return table_format("abfloat4", 4, ABFLOAT_MAGS)


def olive_encode(y: np.ndarray, normal: NumberFormat) -> np.ndarray:
    """Codes (uint8 patterns) of y (already divided by the scale), pairs along the last axis."""
    ab = abfloat_format()
    cn = normal.encode(y)
    co = ab.encode(y)
    vn = normal.decode(cn)
    vo = ab.decode(co)
    out = np.abs(vo - y) < np.abs(vn - y)
    k = y.shape[-1]
    if k % 2:
        out[..., -1] = False
    codes = np.where(out, co, cn).astype(np.uint8)
    kk = k - k % 2
    e, o = out[..., 0:kk:2], out[..., 1:kk:2]
    ce, co_ = codes[..., 0:kk:2], codes[..., 1:kk:2]
    odd_victim = e
    even_victim = o & ~e
    codes[..., 1:kk:2] = np.where(odd_victim, VICTIM, co_)
    codes[..., 0:kk:2] = np.where(even_victim, VICTIM, ce)
    return codes


def olive_decode(codes: np.ndarray, normal: NumberFormat, axis: int) -> np.ndarray:
    """Pair-aware decode to normalized-grid values (float32)."""
    c = np.moveaxis(np.asarray(codes), axis, -1)
    vals = normal.decode(c)
    ab = abfloat_format().decode(c)
    k = c.shape[-1]
    kk = k - k % 2
    ce, co = c[..., 0:kk:2], c[..., 1:kk:2]
    ve, vo = vals[..., 0:kk:2], vals[..., 1:kk:2]
    ve = np.where(co == VICTIM, ab[..., 0:kk:2], ve)
    vo = np.where(ce == VICTIM, ab[..., 1:kk:2], vo)
    ve = np.where(ce == VICTIM, 0, ve)
    vo = np.where(co == VICTIM, 0, vo)
    vals = vals.copy()
    vals[..., 0:kk:2] = ve
    vals[..., 1:kk:2] = vo
    return np.moveaxis(vals, -1, axis).astype(np.float32)
