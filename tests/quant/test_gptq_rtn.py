"""GPTQ-style asymmetric (zero-point) RTN, `intB[-gG]-asym`, against hand-worked numbers and
against a transcription of GPTQ's own `Quantizer.find_params` + `quantize`
(IST-DASLab/gptq, quant.py; perchannel=True, sym=False, mse=False), bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import quant
from quant.scheme import QuantScheme, asym_codes, asym_params, rtn


def _gptq_reference(
    w: torch.Tensor, bits: int, groupsize: int, fp16_scale: bool = False
) -> torch.Tensor:
    """GPTQ's RTN of a [rows, cols] float32 weight, groups of `groupsize` columns
    (-1: per channel), as its code computes it; `fp16_scale` rounds the scale to FP16 right
    after it is computed (the one change for the `-asym` names)."""
    maxq = torch.tensor(2**bits - 1)

    def find_params(x):
        tmp = torch.zeros(x.shape[0])
        xmin = torch.minimum(x.min(1)[0], tmp)
        xmax = torch.maximum(x.max(1)[0], tmp)
        tmp = (xmin == 0) & (xmax == 0)
        xmin[tmp] = -1
        xmax[tmp] = +1
        scale = (xmax - xmin) / maxq
        if fp16_scale:
            scale = scale.half().float()
        zero = torch.round(-xmin / scale)
        return scale.unsqueeze(1), zero.unsqueeze(1)

    def quantize(x, scale, zero, maxq):
        q = torch.clamp(torch.round(x / scale) + zero, 0, maxq)
        return scale * (q - zero)

    cols = w.shape[1]
    g = cols if groupsize == -1 else groupsize
    out = torch.empty_like(w)
    for c in range(0, cols, g):
        scale, zero = find_params(w[:, c : c + g])
        out[:, c : c + g] = quantize(w[:, c : c + g], scale, zero, maxq)
    return out


def test_hand_worked_int4_group():
    # range [-0.75, 3.0]: s = 3.75/15 = 0.25, z = round(0.75/0.25) = 3 (all exact).
    x = np.array([[-0.75, 0.1, 0.375, 3.0, 1.125, 0.625]], np.float32)
    q = quant.quantize(x, "int4-g8-asym")
    np.testing.assert_array_equal(q.scales, [[0.25]])
    np.testing.assert_array_equal(q.zeros, [[3]])
    # x/s = -3, 0.4, 1.5, 12, 4.5, 2.5 -> round half-even -3, 0, 2, 12, 4, 2 -> + z
    np.testing.assert_array_equal(q.codes, [[0, 3, 5, 15, 7, 5]])
    np.testing.assert_array_equal(q.dequantize(), [[-0.75, 0.0, 0.5, 3.0, 1.0, 0.5]])


def test_hand_worked_clamp_and_zero_rounding():
    # 2 bits, range [-1.5, 1.5]: s = 3/3 = 1, z = round(1.5) = 2 (half-even);
    # 1.5 -> round(1.5) + 2 = 4 -> clamped to maxq = 3 -> s·(3 − 2) = 1.
    x = np.array([[-1.5, -0.5, 0.5, 1.5]], np.float32)
    q = quant.quantize(x, "int2-asym")
    np.testing.assert_array_equal(q.zeros, [[2]])
    np.testing.assert_array_equal(q.codes, [[0, 2, 2, 3]])
    np.testing.assert_array_equal(q.dequantize(), [[-2.0, 0.0, 0.0, 1.0]])
    # 3 bits, range [-1, 2]: s = float32(3/7), z = round(1/s) = round(2.333) = 2, so -1
    # is not exact: it dequantizes to s·(0 − 2).
    x = np.array([[-1.0, 2.0, 0.0]], np.float32)
    s = np.float32(3.0) / np.float32(7.0)
    for scale_format in ("fp32", "fp16"):
        scheme = QuantScheme("int3", "channel", symmetric=False, scale_format=scale_format)
        q = rtn(x, scheme)
        s_stored = s if scale_format == "fp32" else np.float32(np.float16(s))
        np.testing.assert_array_equal(q.scales, [[s_stored]])
        np.testing.assert_array_equal(q.zeros, [[2]])
        # 2/s = 4.667 -> 5 + 2 = 7 = maxq; 0 -> z
        np.testing.assert_array_equal(q.codes, [[0, 7, 2]])
        np.testing.assert_array_equal(q.dequantize(), [[s_stored * -2, s_stored * 5, 0.0]])


def test_all_zero_group_takes_gptq_unit_range():
    # GPTQ: range [0, 0] -> [-1, 1]; s = 2/15, z = round(1/s); codes = z; values 0.
    s, z = asym_params(np.float32([0.0]), np.float32([0.0]), 4)
    s_expect = np.float32(2.0) / np.float32(15.0)
    assert s[0] == s_expect
    assert z[0] == np.rint(np.float32(1.0) / s_expect) == 7  # 1/s = 7.4999995 in float32
    # The named format rounds s to FP16 first: 1092·2^-13 = 0.13330078, 1/s = 7.5018 -> 8.
    q = quant.quantize(np.zeros((2, 8), np.float32), "int4-g4-asym")
    np.testing.assert_array_equal(q.scales, np.full((2, 2), 1092 * 2.0**-13))
    np.testing.assert_array_equal(q.codes, np.full((2, 8), 8))
    np.testing.assert_array_equal(q.dequantize(), np.zeros((2, 8)))
    assert asym_codes(np.zeros((1, 1, 3), np.float32), s[None], z[None], 4).tolist() == [
        [[7.0, 7.0, 7.0]]
    ]


@pytest.mark.parametrize("bits,group", [(4, 64), (3, 128), (8, 64), (2, -1), (4, -1)])
def test_matches_gptq_code_bit_exactly(bits, group):
    rng = np.random.default_rng(bits * 1000 + group)
    w = (rng.standard_normal((24, 256)) * rng.uniform(0.01, 2.0, (24, 1))).astype(np.float32)
    w[3] = np.abs(w[3])  # a row with min > 0 (range starts at 0)
    w[5] = -np.abs(w[5])  # and one with max < 0
    w[7, :128] = 0.0  # an all-zero group (or half row)
    ref = _gptq_reference(torch.from_numpy(w), bits, group).numpy()
    g = 0 if group == -1 else group
    scheme = QuantScheme(
        f"int{bits}", "group" if g else "channel", g, symmetric=False, scale_format="fp32"
    )
    ours = rtn(w, scheme).dequantize()
    np.testing.assert_array_equal(ours, ref)
    # The named format stores s in FP16 (the scale GPTQ checkpoints store) and computes z
    # and q from it: GPTQ's code with that one rounding added.
    name = f"int{bits}" + (f"-g{group}" if g else "") + "-asym"
    ref16 = _gptq_reference(torch.from_numpy(w), bits, group, fp16_scale=True).numpy()
    np.testing.assert_array_equal(quant.quantize_dequantize(w, name), ref16)
    assert not np.array_equal(ref16, ref)  # the FP16 rounding of s is visible
