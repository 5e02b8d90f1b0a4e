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

import numpy as np

from quant.formats import bitmod_format, element_format
from quant.qtensor import QTensor, make_blocks
from quant.scheme import QuantScheme, cast_scale, rtn

#: ANT candidate element types, in tie-break order.
ANT_TYPES = ("int4", "flint4", "pot4", "fp4-e2m1")


def quantize_bitmod(x: np.ndarray, bits: int, group: int, axis: int = -1) -> QTensor:
    """BitMoD per-group datatype selection (bits = 3 or 4)."""
    x = np.asarray(x, dtype=np.float32)
    if np.isnan(x).any():
        raise ValueError("cannot quantize an array containing NaN")
    fmts = tuple(bitmod_format(bits, v) for v in range(4))
    b = make_blocks(x, axis, group)
    xb = b.split(x)
    absmax = np.abs(xb).max(axis=-1)
    best = None
    for t, fmt in enumerate(fmts):
        s = cast_scale(absmax / np.float32(fmt.max_abs), "fp16")
        safe = np.where(s > 0, s, np.float32(1))[..., None]
        codes = fmt.encode(np.where(s[..., None] > 0, xb / safe, 0))
        err = ((fmt.decode(codes) * s[..., None] - xb) ** 2).sum(axis=-1)
        if best is None:
            best = (codes, s, np.zeros(err.shape, np.int8), err)
            continue
        better = err < best[3]
        best = (
            np.where(better[..., None], codes, best[0]),
            np.where(better, s, best[1]),
            np.where(better, np.int8(t), best[2]),
            np.where(better, err, best[3]),
        )
    codes, s, types, _ = best
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
        q.codes, q.scales, None, name, 0, q.axis,
        tuple(element_format(e) for e in ANT_TYPES),
        types=np.full((1,) * x.ndim, t, dtype=np.int8),
    )
