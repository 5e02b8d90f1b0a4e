"""Block scaling on hand-made blocks: MX (E8M0), MXINT8, NVFP4, INT groups, partial groups."""

import numpy as np

import quant


def test_mxfp4_hand_made_blocks():
    x = np.zeros((1, 64), np.float32)
    x[0, :4] = [5.0, 1.25, -0.3, 2.6]
    # block 0: absmax 5 -> floor(log2 5) = 2, emax_elem(E2M1) = 2 -> X = 2^0, E8M0 code 127.
    # 5 is a tie between 4 (0b100) and 6 (0b101) -> even mantissa -> 4; 1.25 tie 1|1.5 -> 1;
    # 0.3 > midpoint 0.25 -> 0.5; 2.6 > 2.5 -> 3.
    x[0, 32:34] = [100.0, 20.0]
    # block 1: floor(log2 100) = 6 -> X = 2^(6-2) = 16 (code 131); 100/16 = 6.25 saturates to 6
    # -> 96; 20/16 = 1.25 ties to 1.0 -> 16.
    q = quant.quantize(x, "mxfp4")
    np.testing.assert_array_equal(q.scale_codes, [[127, 131]])
    np.testing.assert_array_equal(q.scales, [[1.0, 16.0]])
    d = q.dequantize()
    np.testing.assert_array_equal(d[0, :4], [4.0, 1.0, -0.5, 3.0])
    np.testing.assert_array_equal(d[0, 32:34], [96.0, 16.0])
    np.testing.assert_array_equal(q.codes[0, :4], [0b0110, 0b0010, 0b1001, 0b0101])


def test_mxfp8_e4m3_and_mxint8_blocks():
    x = np.zeros((1, 32), np.float32)
    x[0, :3] = [3.0, 0.01, -1.0]
    # MXINT8: floor(log2 3) = 1, emax_elem 0 -> X = 2; k = round(x/2*64): 96, 0 (0.32), -32
    q = quant.quantize(x, "mxint8")
    np.testing.assert_array_equal(q.codes[0, :3], [96, 0, -32])
    np.testing.assert_array_equal(q.scale_codes, [[128]])
    np.testing.assert_array_equal(q.dequantize()[0, :3], [3.0, 0.0, -1.0])
    # MXFP8 E4M3: emax_elem 8 -> X = 2^(1-8) = 2^-7; 3.0/X = 384 exact, 0.01/X = 1.28 -> 1.25
    q = quant.quantize(x, "mxfp8-e4m3")
    np.testing.assert_array_equal(q.scale_codes, [[120]])
    np.testing.assert_allclose(q.dequantize()[0, :3], [3.0, 1.25 / 128, -1.0])


def test_nvfp4_two_level_scales():
    x = np.zeros((1, 32), np.float32)
    x[0, 0] = 12.0
    x[0, 16] = 1.0
    x[0, 17] = -0.5
    q = quant.quantize(x, "nvfp4")
    s_t = np.float32(12.0) / np.float32(6 * 448)  # tensor absmax / (6 * 448)
    assert q.tensor_scale == float(s_t)
    # block 0: 12/6/s_t = 448 -> UE4M3 448 (pattern 0x7E); element 12/(448 s_t) = 6
    # block 1: 1/6/s_t = 37.33 -> UE4M3 36 (step 4 in [32, 64)); 1/(36 s_t) = 6.22 -> sat. 6
    #          -0.5/(36 s_t) = -3.11 -> -3
    # 36 = 1.125 * 2^5: exponent field 5 + 7 (bias) = 12, mantissa 001
    np.testing.assert_array_equal(q.scale_codes, [[0x7E, 12 << 3 | 0b001]])
    np.testing.assert_array_equal(q.scales, [[448.0, 36.0]])
    np.testing.assert_array_equal(q.codes[0, [0, 16, 17]], [0b0111, 0b0111, 0b1101])
    d = q.dequantize()
    np.testing.assert_allclose(d[0, [0, 16, 17]], [12.0, 6 * 36 * s_t, -3 * 36 * s_t], rtol=1e-6)


def test_int_group_partial_last_group_is_its_own_group():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 200)).astype(np.float32)
    q = quant.quantize(x, "int4-g128")
    assert q.scales.shape == (3, 2)
    expect = (np.abs(x[:, 128:]).max(axis=1) / 7).astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(q.scales[:, 1], expect)
    tail = quant.quantize(x[:, 128:], "int4-g128")  # one partial group alone
    np.testing.assert_array_equal(q.codes[:, 128:], tail.codes)
    np.testing.assert_array_equal(q.dequantize()[:, 128:], tail.dequantize())


def test_int_asym_zero_point():
    x = np.array([[0.0, 1.0, 2.0, 3.0, 15.0]], np.float32)
    q = quant.quantize(x, "int4-g8-asym")
    # range [min(x,0), max(x,0)] = [0, 15] -> s = 15/15 = 1, z = 0; q = x
    np.testing.assert_array_equal(q.codes, [[0, 1, 2, 3, 15]])
    np.testing.assert_array_equal(q.zeros, [[0]])
    x = np.array([[-4.0, -1.0, 11.0]], np.float32)
    q = quant.quantize(x, "int4-asym")
    # s = 15/15 = 1, z = round(4/1) = 4, q = round(x) + 4
    np.testing.assert_array_equal(q.codes, [[0, 3, 15]])
    np.testing.assert_array_equal(q.dequantize(), x)


def test_int_symmetric_per_channel_and_axis():
    x = np.array([[7.0, 3.5, -1.0], [0.0, 0.0, 0.0]], np.float32)
    q = quant.quantize(x, "int4")
    # row 0: s = 7/7 = 1, 3.5 ties to even 4; row 1: all zero -> s = 0, codes 0
    np.testing.assert_array_equal(q.codes, [[7, 4, -1], [0, 0, 0]])
    np.testing.assert_array_equal(q.scales, [[1.0], [0.0]])
    qt = quant.quantize(x.T.copy(), "int4", axis=0)
    np.testing.assert_array_equal(qt.codes, q.codes.T)


def test_mse_clipping_not_worse_than_absmax():
    rng = np.random.default_rng(3)
    x = rng.standard_t(3, size=(16, 256)).astype(np.float32)
    e_abs = np.mean((quant.quantize_dequantize(x, "int3-g128") - x) ** 2)
    e_mse = np.mean((quant.quantize_dequantize(x, "int3-g128-mse") - x) ** 2)
    assert e_mse < e_abs
