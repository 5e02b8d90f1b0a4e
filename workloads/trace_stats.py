"""Per-tensor statistics a trace records for every operand (numpy, dimensionless).

Values (raw float tensor x, before quantization):
- `absmax`: max |x| (same unit as x).
- `outlier_3sigma`, `outlier_6sigma`: fraction of elements with |x - mean| > k*std
  (mean, std over the whole tensor).
- `zero_frac`: fraction of elements exactly 0.0.
- `olive_pair_outlier`: fraction of adjacent element pairs (2i, 2i+1) along the last axis
  (the reduction axis K) holding at least one 3-sigma outlier (OliVe's outlier-victim pairs).

Codes (integer codes of the quantized tensor, `bits` wide, int formats only):
- `code_zero_frac`: fraction of codes equal to 0.
- `bitplane_zero_b{i}` (i = 0 LSB .. bits-1): fraction of codes whose bit i is 0 in the
  `bits`-bit two's-complement (signed) or plain binary (unsigned) representation.
- `bitplane_zero_mean`: mean of the above over the planes (bit-level sparsity).
- `booth_terms_mean`: mean number of nonzero radix-4 Booth digits per code (partial
  products a Booth multiplier needs).

Bit-plane and Booth definitions are those of `quant.metrics` (tests check equality).
"""

from __future__ import annotations

import numpy as np


def value_stats(x: np.ndarray) -> dict[str, float]:
    """absmax, 3/6-sigma outlier ratios, zero fraction, OliVe pair ratio of a float tensor."""
    x = np.asarray(x, dtype=np.float32)
    if x.size == 0:
        return {}
    a = np.abs(x)
    mean = float(x.mean(dtype=np.float64))
    std = float(x.std(dtype=np.float64))
    dev = np.abs(x - mean)
    o3 = dev > 3 * std if std > 0 else np.zeros(x.shape, bool)
    o6 = dev > 6 * std if std > 0 else np.zeros(x.shape, bool)
    out = {
        "absmax": float(a.max()),
        "outlier_3sigma": float(o3.mean()),
        "outlier_6sigma": float(o6.mean()),
        "zero_frac": float((x == 0).mean()),
    }
    k = x.shape[-1] if x.ndim else 1
    if k >= 2:
        pairs = o3.reshape(-1, k)[:, : k - k % 2].reshape(-1, k // 2, 2)
        out["olive_pair_outlier"] = float(pairs.any(axis=-1).mean())
    return out


def code_stats(codes: np.ndarray, bits: int, signed: bool = True) -> dict[str, float]:
    """Zero fraction, per-bit-plane zero fractions and mean Booth terms of integer codes.

    Computed on the histogram of the codes (one pass over the tensor); the definitions are
    those of `quant.metrics.bitplane_zero_fraction` (zero bits of `code & (2**bits - 1)`)
    and `quant.metrics.booth_terms` (applied to the distinct values).
    """
    from quant.metrics import booth_terms

    c = np.asarray(codes).reshape(-1).astype(np.int64)
    if c.size == 0:
        return {}
    lo, hi = int(c.min()), int(c.max())
    hist = np.bincount(c - lo, minlength=hi - lo + 1).astype(np.float64)
    vals = np.arange(lo, hi + 1, dtype=np.int64)
    p = hist / hist.sum()
    out: dict[str, float] = {"code_zero_frac": float(p[vals == 0].sum())}
    mask = (1 << bits) - 1
    pat = vals & mask
    planes = [float(p[((pat >> i) & 1) == 0].sum()) for i in range(bits)]
    for i, z in enumerate(planes):
        out[f"bitplane_zero_b{i}"] = z
    out["bitplane_zero_mean"] = float(np.mean(planes))
    out["booth_terms_mean"] = float((p * booth_terms(vals, bits, signed)).sum())
    return out


def prefixed(prefix: str, d: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}_{k}": v for k, v in d.items()}


def aggregate(items: list[dict[str, float]]) -> dict[str, float]:
    """Combine statistics of several instances (layers, steps): `*absmax` -> max, all
    others -> mean over the instances that have the key."""
    keys: dict[str, list[float]] = {}
    for d in items:
        for k, v in d.items():
            keys.setdefault(k, []).append(v)
    return {k: (max(v) if k.endswith("absmax") else float(np.mean(v))) for k, v in keys.items()}
