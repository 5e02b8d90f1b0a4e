"""BitMoD / ANT type selection, OliVe pairs, ternary/binary, SmoothQuant."""

import numpy as np

import quant
from quant.lowbit import smooth, smoothquant_scales


def test_bitmod_picks_variant_with_matching_special_value():
    g = np.zeros((4, 128), np.float32)
    g[:, :3] = [[4, 3, 1], [4, -3, 1], [6, 4, 2], [-6, 4, 2]]
    # row 0: max|v| 4 for ER± -> s = 1; 3 exact only in ER+ (index 0)
    # row 1: -3 exact only in ER− (1); row 2: EA+ s = 6/6 = 1, all exact (2); row 3: EA− (3)
    q = quant.quantize(g, "bitmod-fp3-g128")
    np.testing.assert_array_equal(q.types[:, 0], [0, 1, 2, 3])
    np.testing.assert_array_equal(q.dequantize(), g)
    np.testing.assert_array_equal(q.scales[:, 0], [1, 1, 1, 1])
    # −3 in ER− lives in the −0 pattern 0b100
    assert q.codes[1, 1] == 0b100


def test_bitmod_fp4_special_values_and_partial_group():
    x = np.zeros((1, 130), np.float32)
    # group 0: EA+ (s = 16/16 = 1) holds 16 and 6 exactly; ER+ (s = fp16(16/12)) maps
    # 6/1.333 = 4.5 (tie 4|6 -> 4): error 0.44, so EA+ (index 2) wins
    x[0, :2] = [16.0, 6.0]
    x[0, 128:] = [-10.0, 12.0]  # partial group of 2: ER− (s=12/12=1) exact
    q = quant.quantize(x, "bitmod-fp4-g128")
    np.testing.assert_array_equal(q.types, [[2, 1]])
    np.testing.assert_array_equal(q.dequantize()[0, 128:], [-10.0, 12.0])


def test_ant_selects_pot_for_powers_of_two_and_int_for_uniform():
    x = np.array([[64.0, -32.0, 16.0, 8.0, -4.0, 2.0, 1.0, 0.0]], np.float32)
    q = quant.quantize(x, "ant4")
    assert q.types.ravel()[0] == 2  # ANT_TYPES index of pot4
    np.testing.assert_array_equal(q.dequantize(), x)
    u = np.array([[7.0, 6.0, 5.0, -4.0, 3.0, 2.0, 1.0, 0.0]], np.float32)
    assert quant.quantize(u, "ant4").types.ravel()[0] == 0  # int4


def test_olive_outlier_victim_pair():
    x = np.zeros((1, 64), np.float32)
    x[0, :] = np.tile([1.0, -1.0], 32)
    x[0, 10] = 100.0  # outlier at an even position: its odd partner (11) becomes the victim
    x[0, 21] = -100.0  # outlier at an odd position: partner 20 is the victim
    # alpha = 3σ ≈ 53 < absmax, s = alpha/28 ≈ 1.9: ±100/s ≈ 52.6 -> abfloat 48 (> 32)
    q = quant.quantize(x, "olive-int4")
    assert q.codes[0, 11] == 0b1000 and q.codes[0, 20] == 0b1000
    d = q.dequantize()
    assert d[0, 11] == 0 and d[0, 20] == 0
    assert d[0, 10] > 50 and d[0, 21] < -30  # outliers survive (abfloat)
    # decode uses the abfloat value of the kept outlier: |q| on normalized grid in the table
    s = q.scales[0, 0]
    assert round(float(d[0, 10] / s)) in (48, 64, 96, 128, 192, 256, 384)


def test_ternary_absmean_and_binary():
    w = np.array([[0.9, -0.1, 0.3, -2.0]], np.float32)
    q = quant.quantize(w, "ternary")
    gamma = np.float32(np.abs(w).mean())  # 0.825
    # w/γ = 1.09, -0.12, 0.36, -2.42 -> 1, 0, 0, -1
    np.testing.assert_array_equal(q.codes, [[1, 0, 0, -1]])
    np.testing.assert_allclose(q.dequantize(), [[gamma, 0, 0, -gamma]])
    b = quant.quantize(w, "binary")
    np.testing.assert_array_equal(b.codes, [[1, 0, 1, 0]])
    np.testing.assert_allclose(b.dequantize(), [[gamma, -gamma, gamma, -gamma]])


def test_bipolar_int_odd_grid():
    x = np.array([[15.0, 0.1, -0.1, 4.0]], np.float32)
    q = quant.quantize(x, "bipolar-int4")
    # s = 15/15 = 1: values are odd integers: 15, 1, -1, 4 -> tie 3|5 -> even index: 5 (u=10)
    np.testing.assert_array_equal(q.dequantize(), [[15.0, 1.0, -1.0, 5.0]])
    np.testing.assert_array_equal(q.codes, [[15, 8, 7, 10]])


def test_smoothquant_migration():
    s = smoothquant_scales(np.float32([4.0, 1.0, 0.0]), np.float32([1.0, 16.0, 3.0]), 0.5)
    np.testing.assert_allclose(s, [0.5, 4.0, 1.0])
    rng = np.random.default_rng(0)
    w = rng.standard_normal((8, 16)).astype(np.float32)
    x = rng.standard_normal((4, 16)).astype(np.float32) * np.linspace(0.1, 30, 16, dtype=np.float32)
    w2, x2 = smooth(w, x, 0.5)
    np.testing.assert_allclose(x2 @ w2.T, x @ w.T, rtol=1e-4, atol=1e-4)
    assert np.abs(x2).max() < np.abs(x).max()
