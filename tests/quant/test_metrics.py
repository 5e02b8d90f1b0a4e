"""Error metrics and bit-level statistics on hand-computed cases."""

import numpy as np

from quant.metrics import (
    bitplane_zero_fraction,
    booth_terms,
    booth_terms_mean,
    group_stats,
    max_abs_error,
    mse,
    nonzero_terms,
    sqnr_db,
)


def test_error_metrics():
    x = np.array([1.0, -2.0, 3.0, 0.0])
    q = np.array([1.0, -1.0, 3.0, 1.0])
    assert mse(x, q) == 0.5
    assert max_abs_error(x, q) == 1.0
    assert np.isclose(sqnr_db(x, q), 10 * np.log10(14 / 2))
    assert sqnr_db(x, x) == float("inf")
    ref = np.arange(6.0).reshape(1, 6)
    gs = group_stats(ref, ref + [0, 0, 0, 0, 2, 0], 4)
    np.testing.assert_array_equal(gs.mse, [[0.0, 2.0]])  # partial group: 4/2 elements
    np.testing.assert_array_equal(gs.absmax, [[3.0, 5.0]])


def test_bitplane_zero_fraction():
    codes = np.array([0b0000, 0b0001, 0b0011, -1], dtype=np.int8)  # -1 -> 1111 in 4 bits
    np.testing.assert_allclose(bitplane_zero_fraction(codes, 4), [0.25, 0.5, 0.75, 0.75])


def test_booth_radix4_terms():
    # 4-bit two's complement, digits d0 = -2x1 + x0 + 0, d1 = -2x3 + x2 + x1
    # 0 -> 0 terms; 1 (0001): d0 = 1, d1 = 0 -> 1; 3 (0011): d0 = -2+1 = -1, d1 = 1 -> 2;
    # 7 (0111): d0 = -1, d1 = -2·0+1+1 = 2 -> 2; -1 (1111): d0 = -1, d1 = -2+1+1 = 0 -> 1;
    # 4 (0100): d0 = 0, d1 = 1 -> 1; -8 pattern (1000): d1 = -2 -> 1
    codes = np.array([0, 1, 3, 7, -1, 4, -8])
    np.testing.assert_array_equal(booth_terms(codes, 4), [0, 1, 2, 2, 1, 1, 1])
    assert booth_terms_mean(codes, 4) == 8 / 7
    # 3-bit sign-extended to 4: -3 = 101 -> 1101: d0 = -2·0+1 = 1, d1 = -2+1+0 = -1 -> 2
    assert booth_terms(np.array([-3]), 3)[0] == 2
    # unsigned 8 bits: 255 = 0 1111 1111 -> digits: -1, 0, 0, 0, +1 -> 2 terms
    assert booth_terms(np.array([255]), 8, signed=False)[0] == 2


def test_nonzero_terms_of_fp_values():
    v = np.array([0, 1, 2, 3, 4, 6, 8, 10, 12, 16, -3, 0.75, 1.5])
    np.testing.assert_array_equal(nonzero_terms(v), [0, 1, 1, 2, 1, 2, 1, 2, 2, 1, 2, 2, 2])
