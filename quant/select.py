"""Quantizers that choose the element data type by MSE.

BitMoD (HPCA'25, SEED_SYSTEMS §1): per group of g (default 128) along K, each of the 4
variants (FP3 or FP4 base grid + special value in the −0 pattern: ER+, ER−, EA+, EA−) is
tried with its own absmax scale s = FP16(absmax / max|v|); the variant with the lowest
squared error wins (ties: the lower variant index). `types` holds the index per group.

ANT (MICRO'22, SEED_SYSTEMS §3): one type per *tensor* among int4, flint4, PoT4 and float4
(E2M1), each with a per-channel FP32 absmax scale s = absmax / max|v|; lowest total squared
error wins (ties: the earlier type in ANT_TYPES).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from quant.formats import NumberFormat, bitmod_format, element_format
from quant.qtensor import QTensor, make_blocks
from quant.scheme import QuantScheme, cast_scale, rtn

#: ANT candidate element types, in tie-break order.
ANT_TYPES = ("int4", "flint4", "pot4", "fp4-e2m1")


@numba.njit(parallel=True, cache=True)
def _select_kernel(xb, s, mids, nmid, cds, tables, codes, best_t, err):  # pragma: no cover
    """xb [B, g] float32, s [T, B] scales; mids/cds [T, 2, L] padded search arrays per type
    and sign side (0: +, 1: −), nmid [T, 2] their lengths. For each block and type t:
    y = x / s (float32), nearest code (same rule as NumberFormat.encode), err[t, b] =
    Σ (value·s − x)² in float64. The codes of the first type with the strictly lowest error
    go to codes[b], its index to best_t[b]."""
    n_types, n_blocks = s.shape
    g = xb.shape[1]
    mask = tables.shape[1] - 1
    for b in numba.prange(n_blocks):
        tmp = np.empty(g, dtype=np.int64)
        best = np.inf
        for t in range(n_types):
            st = s[t, b]
            e = 0.0
            for j in range(g):
                x = xb[b, j]
                y = x / st if st > 0 else np.float32(0.0)
                side = 1 if math.copysign(1.0, y) < 0 else 0
                m = abs(y)
                lo, hi = 0, nmid[t, side]
                while lo < hi:
                    mid = (lo + hi) >> 1
                    if mids[t, side, mid] < m:
                        lo = mid + 1
                    else:
                        hi = mid
                if lo < nmid[t, side] and mids[t, side, lo] == m and lo % 2 == 1:
                    lo += 1
                c = cds[t, side, lo]
                tmp[j] = c
                d = np.float64(tables[t, c & mask] * st - x)
                e += d * d
            err[t, b] = e
            if e < best:
                best = e
                best_t[b] = t
                for j in range(g):
                    codes[b, j] = tmp[j]


def select_types(xb: np.ndarray, s: np.ndarray, fmts: tuple[NumberFormat, ...]):
    """Run `_select_kernel` on blocks xb [B, g] with scales s [T, B]; returns
    (codes of the best type [B, g], best type [B] int8, squared error [T, B])."""
    n = max(len(a) for f in fmts for a in f.search_arrays)
    mids = np.full((len(fmts), 2, n), np.inf)
    cds = np.zeros((len(fmts), 2, n), np.int64)
    nmid = np.zeros((len(fmts), 2), np.int64)
    for t, f in enumerate(fmts):
        pm, pc, nm, nc = f.search_arrays
        for side, (m, c) in enumerate(((pm, pc), (nm, nc))):
            mids[t, side, : len(m)] = m
            cds[t, side, : len(c)] = c
            nmid[t, side] = len(m)
    tables = np.stack([f.table for f in fmts]).astype(np.float32)
    codes = np.zeros(xb.shape, np.int64)
    best_t = np.zeros(xb.shape[0], np.int8)
    err = np.zeros(s.shape, np.float64)
    _select_kernel(
        np.ascontiguousarray(xb, np.float32),
        np.ascontiguousarray(s, np.float32),
        mids,
        nmid,
        cds,
        tables,
        codes,
        best_t,
        err,
    )
    return codes, best_t, err


def quantize_bitmod(x: np.ndarray, bits: int, group: int, axis: int = -1) -> QTensor:
    """BitMoD per-group datatype selection (bits = 3 or 4)."""
    x = np.asarray(x, dtype=np.float32)
    if np.isnan(x).any():
        raise ValueError("cannot quantize an array containing NaN")
    fmts = tuple(bitmod_format(bits, v) for v in range(4))
    b = make_blocks(x, axis, group)
    xb = b.split(x)
    absmax = np.abs(xb).max(axis=-1).reshape(-1)
    s_all = np.stack([cast_scale(absmax / np.float32(f.max_abs), "fp16") for f in fmts])
    codes, types, _ = select_types(xb.reshape(-1, group), s_all, fmts)
    s = s_all[types, np.arange(types.size)].reshape(b.rows, b.nb)
    codes = codes.astype(np.uint8).reshape(xb.shape)
    types = types.reshape(b.rows, b.nb)
    name = f"bitmod-fp{bits}-g{group}"
    return QTensor(
        b.merge(codes), b.per_block(s), None, name, group, b.axis, fmts, types=b.per_block(types)
    )


def _ant_one(x: np.ndarray, elem: str, axis: int, name: str) -> QTensor:
    return rtn(x, QuantScheme(elem, "channel", scale_format="fp32"), axis, name)


def quantize_ant(x: np.ndarray, name: str, axis: int = -1) -> QTensor:
    """ANT: `ant-int4`, `ant-flint4`, `ant-pot4`, `ant-fp4` fixed type; `ant4` selects."""
    fixed = {"ant-int4": "int4", "ant-flint4": "flint4", "ant-pot4": "pot4", "ant-fp4": "fp4-e2m1"}
    if name in fixed:
        return _ant_one(x, fixed[name], axis, name)
    x = np.asarray(x, dtype=np.float32)
    cands = [_ant_one(x, t, axis, name) for t in ANT_TYPES]
    errs = [float(((q.dequantize().astype(np.float64) - x) ** 2).sum()) for q in cands]
    t = int(np.argmin(errs))
    q = cands[t]
    return QTensor(
        q.codes,
        q.scales,
        None,
        name,
        0,
        q.axis,
        tuple(element_format(e) for e in ANT_TYPES),
        types=np.full((1,) * x.ndim, t, dtype=np.int8),
    )
