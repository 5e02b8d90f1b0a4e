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
- `bit_one_frac`: fraction of one bits of the `bits`-bit patterns (= 1 - bitplane_zero_mean;
  the "nonzero-bit fraction" of the operand).
- `toggle_rate`: fraction of the `bits` wires that switch between consecutive codes along
  the last axis (the reduction axis K: the order in which a dot-product lane, a serial PE
  or a buffer-to-array bus sees the operand), i.e. mean popcount(c[i] ^ c[i+1]) / bits
  over all adjacent pairs of a row. Random codes give 0.5 (arch/activity.py uses it to
  scale datapath and bus energy).

Weight codes (B operand of linear ops, `nm_density`):
- `nm16_density`: nonzero codes per block of 16 consecutive K elements / 16, averaged over
  the blocks (a sparse datapath that skips zero weights block by block with a per-block N,
  e.g. FlightLLM's N:16 DSP chains, whose chains break at any position, does this
  fraction of the dense work); partial last blocks count their own length.
- `nm16_density_max`: the densest block's nonzeros / 16 (the N a uniform N:16 pattern
  needs so that every block fits). Aggregated with max over layers.

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

    shaped = np.asarray(codes)
    c = shaped.reshape(-1).astype(np.int64)
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
    out.update(bit_activity(shaped, bits))
    return out


def _popcount_table(bits: int) -> np.ndarray:
    """Number of one bits of every `bits`-bit pattern (bits <= 16)."""
    v = np.arange(1 << bits, dtype=np.uint32)
    n = np.zeros(v.shape, dtype=np.uint8)
    for i in range(bits):
        n += ((v >> i) & 1).astype(np.uint8)
    return n


def bit_activity(codes: np.ndarray, bits: int) -> dict[str, float]:
    """`bit_one_frac` and `toggle_rate` of integer codes (module docstring): bit patterns
    are `code & (2**bits - 1)` (two's complement for signed codes); toggles are counted
    between neighbours along the last axis. Codes wider than 16 bits give {}."""
    c = np.asarray(codes)
    if c.size == 0 or not 1 <= bits <= 16:
        return {}
    pat = (c.astype(np.int32) & ((1 << bits) - 1)).astype(np.uint16)
    table = _popcount_table(bits)
    out = {"bit_one_frac": float(table[pat].mean(dtype=np.float64) / bits)}
    rows = pat.reshape(-1, pat.shape[-1]) if pat.ndim else pat.reshape(1, 1)
    if rows.shape[1] >= 2:
        flips = table[rows[:, 1:] ^ rows[:, :-1]]
        out["toggle_rate"] = float(flips.mean(dtype=np.float64) / bits)
    return out


NM_BLOCK = 16  # FlightLLM's sparse block (arch/presets/flightllm-*.yaml params.block)
# The stat a trace's linear ops take their `Op.weight_density` from (workloads/trace.py).
WEIGHT_DENSITY_STAT = f"w_nm{NM_BLOCK}_density"


def nm_density(codes: np.ndarray, block: int = NM_BLOCK) -> dict[str, float]:
    """Nonzero density of weight codes in blocks of `block` consecutive elements along the
    last axis (K): `nm{block}_density` (mean over blocks) and `nm{block}_density_max`."""
    c = np.asarray(codes)
    if c.size == 0:
        return {}
    k = c.shape[-1] if c.ndim else 1
    rows = c.reshape(-1, k) != 0
    full = k // block * block
    dens = []
    if full:
        dens.append(rows[:, :full].reshape(rows.shape[0], -1, block).mean(axis=-1).reshape(-1))
    if k > full:
        dens.append(rows[:, full:].mean(axis=-1))
    d = np.concatenate(dens)
    return {f"nm{block}_density": float(d.mean()), f"nm{block}_density_max": float(d.max())}


def prefixed(prefix: str, d: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}_{k}": v for k, v in d.items()}


def aggregate(items: list[dict[str, float]]) -> dict[str, float]:
    """Combine statistics of several instances (layers, steps): `*absmax` and `*_max` ->
    max, all others -> mean over the instances that have the key."""
    keys: dict[str, list[float]] = {}
    for d in items:
        for k, v in d.items():
            keys.setdefault(k, []).append(v)
    return {
        k: (max(v) if k.endswith(("absmax", "_max")) else float(np.mean(v)))
        for k, v in keys.items()
    }
