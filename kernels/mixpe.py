"""MixPE shift-and-add mixed-precision PE (arXiv 2411.16158; SEED_SYSTEMS §4).

Each low-bit integer weight multiplies the activation by shifts and adds — one add of
(a << b) per set bit b of the weight's B-bit code (two's complement: the MSB term is
subtracted; asymmetric codes are unsigned) — accumulated per weight group; the group's
scale and zero point are applied once per group partial sum:
  out[m, n] = a_scale[m] · Σ_g s[n, g] · (Σ_{k∈g} a[m, k]·q[n, k] − z[n, g]·Σ_{k∈g} a[m, k]).
Activations: INT8 codes (W4A8) or FP16 (W4A16, shift = exponent add). The group partials
are exact int64 (FP16 in units of 2^-24: the aligner is modelled as lossless); the
dequantization is FP32 round-to-nearest (kernels._common.dequant_core).
"""

from __future__ import annotations

import numpy as np

from kernels._common import (
    activations_fixed,
    binary_terms,
    dequantize_partials,
    lanes,
    n_groups,
    term_tables,
    terms_core,
)
from kernels._common import (
    patterns as _patterns,
)


def mixpe_partials(a, w_codes, *, bits: int, group_size: int = 128):
    """Exact int64 partials [M, N, G] of Σ a·q (no zero point) and their unit exponent.
    a: int8 codes or float16 [M, K]; w_codes: signed INT codes (int dtype) or unsigned
    codes (uint dtype) of `bits` bits, [N, K]."""
    a_int, aexp = activations_fixed(a)
    w = np.asarray(w_codes)
    signed = w.dtype.kind == "i"
    n, k = w.shape
    pats = np.arange(1 << bits)
    vals = np.where(signed & (pats >= 1 << (bits - 1)), pats - (1 << bits), pats)[None, :]
    nt, mu, sh = term_tables(vals, lambda v: binary_terms(v, bits, signed))
    pat = _patterns(w, bits)
    gs, g = n_groups(k, group_size)
    ty = np.zeros((n, g), np.int64)
    return terms_core(lanes(a_int, aexp), pat, ty, nt, mu, sh, gs).astype(np.int64), aexp


def mixpe_gemm(
    a, w_codes, w_scales, w_zeros=None, *, bits: int, group_size: int = 128, a_scale=None
) -> np.ndarray:
    """FP32 [M, N]: per-group dequantization of mixpe_partials (zero point applied as
    z·Σa, exact, before the scale)."""
    part, pexp = mixpe_partials(a, w_codes, bits=bits, group_size=group_size)
    gs, _ = n_groups(np.shape(a)[1], group_size)
    a_int, _ = activations_fixed(a)
    return dequantize_partials(part, pexp, w_scales, w_zeros, a_int, gs, a_scale)
