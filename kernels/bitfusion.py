"""Bit Fusion fused multiply (ISCA'18; SEED_SYSTEMS §2): each operand is split into 2-bit
slices, one BitBrick multiplies one activation slice by one weight slice (2-bit operands
with a sign-extension bit: signed for the most significant slice of a signed operand,
unsigned otherwise), and the fusion unit adds the brick products shifted by 2·(i + j):

  a·w = Σ_i Σ_j brick(a_i, w_j) << 2(i + j),   a = Σ_i a_i·4^i (a_top signed, two's complement)

At precisions (Pa, Pw) a fusion unit has ceil(Pa/2)·ceil(Pw/2) bricks busy per product;
the group partials are exact int64 (the accumulator is wide enough), dequantization is
FP32 round-to-nearest (kernels._common.dequant_core).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from kernels._common import dequantize_partials, n_groups

#: Width of one BitBrick operand (bits).
BRICK_BITS = 2


def bricks(codes, bits: int) -> np.ndarray:
    """Slices [ceil(bits/2), *shape] int64 with Σ_i s_i·4^i = codes: lower slices unsigned
    in 0..3, the top slice signed (-2..1) for signed codes, unsigned for unsigned codes."""
    x = np.asarray(codes)
    signed = x.dtype.kind == "i"
    x = x.astype(np.int64)
    n = -(-bits // BRICK_BITS)
    out = np.empty((n, *x.shape), np.int64)
    for i in range(n):
        s = x >> (BRICK_BITS * i)  # arithmetic shift: the top slice keeps the sign
        out[i] = s if (i == n - 1 and signed) else s & (2**BRICK_BITS - 1)
    return out


@njit(parallel=True, cache=True)
def _fusion_core(ab, wb, gs):
    sa, k_, m_ = ab.shape
    sw, n_, _ = wb.shape
    g_ = -(-k_ // gs)
    out = np.zeros((m_, n_, g_), np.int64)
    for n in prange(n_):
        for g in range(g_):
            for i in range(sa):
                for j in range(sw):
                    sh = 2 * (i + j)
                    for k in range(g * gs, min((g + 1) * gs, k_)):
                        w = wb[j, n, k]
                        if w == 0:
                            continue
                        for m in range(m_):
                            out[m, n, g] += (ab[i, k, m] * w) << sh
    return out


def bitfusion_partials(a_codes, w_codes, *, a_bits: int, w_bits: int, group_size: int = 0):
    """Exact int64 partials [M, N, G] of INT a [M, K] × INT w [N, K] through 2-bit
    BitBricks (signed codes: int dtypes; unsigned codes: uint dtypes)."""
    ab = np.ascontiguousarray(bricks(a_codes, a_bits).transpose(0, 2, 1))
    wb = np.ascontiguousarray(bricks(w_codes, w_bits))
    gs, _ = n_groups(ab.shape[1], group_size)
    return _fusion_core(ab, wb, gs)


def bitfusion_gemm(
    a_codes, w_codes, w_scales, w_zeros=None, *, a_bits, w_bits, group_size=0, a_scale=None
):
    """FP32 [M, N]: per-group dequantization of bitfusion_partials."""
    part = bitfusion_partials(a_codes, w_codes, a_bits=a_bits, w_bits=w_bits, group_size=group_size)
    gs, _ = n_groups(np.shape(a_codes)[1], group_size)
    a_int = np.asarray(a_codes).astype(np.int64)
    return dequantize_partials(part, 0, w_scales, w_zeros, a_int, gs, a_scale)
