"""Public API: every format name resolves and round-trips; bad names raise InputError."""

import numpy as np
import pytest

import quant
from common.errors import InputError
from quant.info import all_formats, format_info

NAMES = [f.name for f in all_formats()]
REQUIRED = [
    "int8",
    "int4-g128",
    "int4-g128-asym",
    "int3-g128",
    "int2-g128",
    "fp4-e2m1",
    "fp6-e2m3",
    "fp6-e3m2",
    "fp8-e4m3",
    "fp8-e5m2",
    "mxfp4",
    "mxfp6-e2m3",
    "mxfp6-e3m2",
    "mxfp8-e4m3",
    "mxint8",
    "nvfp4",
    "bitmod-fp3-g128",
    "bitmod-fp4-g128",
    "bitmod-int6-g128",
    "ant-int4",
    "ant-flint4",
    "ant-pot4",
    "ant4",
    "olive-int4",
    "olive-flint4",
    "ternary",
    "binary",
    "bipolar-int4",
    "fp32",
    "fp16",
    "bf16",
]


def test_required_names_listed():
    assert set(REQUIRED) <= set(NAMES)
    assert format_info("bitmod-fp3").name == "bitmod-fp3-g128"
    assert format_info("bitmod-fp4").bits_per_element == 4.0625
    assert format_info("bitmod-fp3-g128").bits_per_element == 3.0625
    assert format_info("bitmod-int6-g128").bits_per_element == 6.0625
    assert format_info("mxfp4").bits_per_element == 4.25
    assert format_info("nvfp4").bits_per_element == 4.5
    assert format_info("int4-g128-asym").bits_per_element == 4 + 20 / 128


@pytest.mark.parametrize("name", NAMES)
def test_quantize_round_trip(name):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 200)).astype(np.float32)
    x[0, 5] = 9.0  # an outlier
    q = quant.quantize(x, name)
    info = format_info(name)
    assert q.codes.shape == x.shape
    assert q.format_name == info.name
    pat = q.codes.astype(np.int64) & ((1 << info.element_bits) - 1)
    if info.element_bits < 32:
        assert pat.max() < (1 << info.element_bits)
        if q.codes.dtype.kind == "i":  # signed codes fit the two's-complement range
            assert q.codes.min() >= -(1 << (info.element_bits - 1))
            assert q.codes.max() < (1 << (info.element_bits - 1))
    d = q.dequantize()
    assert d.dtype == np.float32 and d.shape == x.shape and np.isfinite(d).all()
    np.testing.assert_array_equal(d, quant.quantize_dequantize(x, name))
    err = np.mean((d - x) ** 2) / np.mean(x**2)
    assert err < {1: 1.0, 2: 1.0, 3: 0.2, 4: 0.1}.get(info.element_bits, 0.01)
    if info.block_size:
        assert q.scales.shape == (6, -(-200 // info.block_size))


def test_axis_zero_equals_transpose():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 5)).astype(np.float32)
    for name in ("int4-g16", "mxfp4", "bitmod-fp3-g16", "nvfp4"):
        a = quant.quantize_dequantize(x, name, axis=0)
        b = quant.quantize_dequantize(x.T.copy(), name, axis=-1).T
        np.testing.assert_array_equal(a, b)


def test_wide_float_formats_just_cast():
    x = np.float32([1.0 + 2.0**-12, 3.14159, -1e-8])
    np.testing.assert_array_equal(
        quant.quantize_dequantize(x, "fp16"), x.astype(np.float16).astype(np.float32)
    )
    np.testing.assert_array_equal(quant.quantize_dequantize(x, "fp32"), x)
    assert quant.quantize_dequantize(x, "bf16")[1] == np.float32(3.140625)


def test_bad_name_raises_input_error_listing_names():
    with pytest.raises(InputError) as e:
        quant.quantize(np.zeros((2, 2), np.float32), "int9-g128")
    msg = str(e.value)
    assert "int9-g128" in msg and "mxfp4" in msg and "bitmod-fp3-g128" in msg
    with pytest.raises(InputError):
        format_info("nvfp5")


def test_nan_input_rejected():
    with pytest.raises(ValueError):
        quant.quantize(np.float32([[1.0, np.nan]]), "int8")
