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

`quant.metrics.bitplane_zero_fraction` / `booth_terms_mean` are used when that module is
present; the histogram versions here give the same numbers and are the fallback.
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


def _booth_digits(v: np.ndarray, bits: int) -> np.ndarray:
    """Nonzero radix-4 Booth digits of each `bits`-bit two's-complement value in v."""
    u = v.astype(np.int64) & ((1 << bits) - 1)
    nd = (bits + 1) // 2
    total = np.zeros(v.shape, np.int64)
    prev = np.zeros(v.shape, np.int64)  # bit -1 = 0
    for d in range(nd):
        b0 = (u >> (2 * d)) & 1
        # sign-extend beyond the top bit
        b1 = (u >> (2 * d + 1)) & 1 if 2 * d + 1 < bits else (u >> (bits - 1)) & 1
        digit = -2 * b1 + b0 + prev
        total += digit != 0
        prev = b1
    return total


def code_stats(codes: np.ndarray, bits: int, signed: bool = True) -> dict[str, float]:
    """Zero fraction, per-bit-plane zero fractions and mean Booth terms of integer codes."""
    c = np.asarray(codes).reshape(-1).astype(np.int64)
    if c.size == 0:
        return {}
    lo, hi = int(c.min()), int(c.max())
    hist = np.bincount(c - lo, minlength=hi - lo + 1).astype(np.float64)
    vals = np.arange(lo, hi + 1, dtype=np.int64)
    p = hist / hist.sum()
    u = vals & ((1 << bits) - 1)
    out: dict[str, float] = {"code_zero_frac": float(p[vals == 0].sum())}
    planes = [float(p[((u >> i) & 1) == 0].sum()) for i in range(bits)]
    planes = _metric_planes(c, bits, planes)
    for i, z in enumerate(planes):
        out[f"bitplane_zero_b{i}"] = z
    out["bitplane_zero_mean"] = float(np.mean(planes))
    booth = _booth_digits(vals, bits if signed else bits + 1)  # unsigned: zero-extend
    out["booth_terms_mean"] = _metric_booth(c, bits, float((p * booth).sum()))
    return out


def _metric_planes(codes: np.ndarray, bits: int, fallback: list[float]) -> list[float]:
    """quant.metrics.bitplane_zero_fraction when available (kept consistent with quant/)."""
    try:
        from quant.metrics import bitplane_zero_fraction  # type: ignore[import-not-found]
    except ImportError:
        return fallback
    got = np.asarray(bitplane_zero_fraction(codes, bits), dtype=np.float64).reshape(-1)
    return [float(v) for v in got] if got.size == bits else fallback


def _metric_booth(codes: np.ndarray, bits: int, fallback: float) -> float:
    try:
        from quant.metrics import booth_terms_mean  # type: ignore[import-not-found]
    except ImportError:
        return fallback
    return float(booth_terms_mean(codes, bits))


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
