"""Bit-exact element formats: ml_dtypes agreement, nearest-value property, exact value sets."""

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quant.formats import element_format

ML = {
    "fp4-e2m1": ml_dtypes.float4_e2m1fn,
    "fp6-e2m3": ml_dtypes.float6_e2m3fn,
    "fp6-e3m2": ml_dtypes.float6_e3m2fn,
    "fp8-e4m3": ml_dtypes.float8_e4m3fn,
    "fp8-e5m2": ml_dtypes.float8_e5m2,
}
ALL = [
    *ML,
    "int2",
    "int3",
    "int4",
    "int6",
    "int8",
    "uint4",
    "flint4",
    "pot4",
    "abfloat4",
    "binary",
    "ternary",
    "bipolar-int4",
    *[f"bitmod-fp{b}-{v}" for b in (3, 4) for v in ("er_pos", "er_neg", "ea_pos", "ea_neg")],
]


@pytest.mark.parametrize("name", list(ML))
def test_fp_decode_matches_ml_dtypes_on_every_pattern(name):
    fmt = element_format(name)
    pats = np.arange(1 << fmt.bits, dtype=np.uint8)
    ref = pats.view(ML[name]).astype(np.float32)
    ours = fmt.decode(pats)
    finite = np.isfinite(ref)  # Inf patterns of E5M2 are never produced: NaN in our table
    np.testing.assert_array_equal(ours[finite], ref[finite])
    assert np.isnan(ours[~finite]).all()
    # encoding every finite value returns its own pattern (−0 keeps its sign bit)
    np.testing.assert_array_equal(fmt.encode(ref[finite]), pats[finite])


@pytest.mark.parametrize("name", list(ML))
def test_fp_encode_matches_ml_dtypes_on_random_and_saturating_inputs(name):
    fmt = element_format(name)
    rng = np.random.default_rng(1)
    mx = fmt.max_abs
    x = np.concatenate(
        [
            rng.standard_normal(20000) * mx / 4,
            rng.uniform(-4 * mx, 4 * mx, 5000),  # many beyond ±max: saturate
            (rng.integers(-30, 30, 5000) / 2.0) * 2.0 ** rng.integers(-12, 4, 5000),  # ties
            [np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e-30],
        ]
    ).astype(np.float32)
    ours = fmt.encode(x)
    # ml_dtypes makes E4M3fn overflow NaN and E5M2 overflow inf: we saturate, so compare with
    # the cast of the clipped input (identical to the cast wherever |x| <= max).
    ref = np.clip(x, -mx, mx).astype(ML[name]).view(np.uint8)
    np.testing.assert_array_equal(ours, ref)
    assert fmt.decode(fmt.encode(np.float32([1e9])))[0] == mx


def test_fp8_nan_codes_match_ml_dtypes_and_nan_raises_elsewhere():
    x = np.float32([np.nan, -np.nan])
    for name in ("fp8-e4m3", "fp8-e5m2"):
        np.testing.assert_array_equal(
            element_format(name).encode(x), x.astype(ML[name]).view(np.uint8)
        )
    with pytest.raises(ValueError):
        element_format("fp4-e2m1").encode(x)


def test_e8m0_matches_ml_dtypes():
    fmt = element_format("e8m0")
    pats = np.arange(256, dtype=np.uint8)
    ref = pats.view(ml_dtypes.float8_e8m0fnu).astype(np.float32)
    ok = np.isfinite(ref) & (ref >= np.float32(2.0**-126))  # float32-normal range
    np.testing.assert_array_equal(fmt.decode(pats)[ok], ref[ok])
    rng = np.random.default_rng(2)
    x = (2.0 ** rng.uniform(-120, 120, 20000)).astype(np.float32)
    x = np.concatenate([x, np.float32([1.5, 3.0, 6.0, 0.75])])  # exact ties between powers
    np.testing.assert_array_equal(fmt.encode(x), x.astype(ml_dtypes.float8_e8m0fnu).view(np.uint8))
    np.testing.assert_array_equal(fmt.encode(np.float32([0.0, -1.0, np.nan])), [255, 255, 255])


@pytest.mark.parametrize("name", ALL)
@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3, width=32), min_size=1, max_size=40))
def test_encode_is_nearest_with_ties_to_even_index(name, xs):
    fmt = element_format(name)
    x = np.array(xs, dtype=np.float32) * np.float32(fmt.max_abs / 100)
    codes = fmt.encode(x)
    pat = fmt.index(codes)
    assert pat.min() >= 0 and pat.max() < (1 << fmt.bits)  # codes fit in `bits`
    q = fmt.decode(codes).astype(np.float64)
    vals = fmt.values
    d = np.abs(x.astype(np.float64)[:, None] - vals[None, :])
    best = d.min(axis=1)
    np.testing.assert_array_equal(np.abs(x - q), best)
    for xi, qi, row in zip(x.astype(np.float64), q, d):
        cands = vals[row == row.min()]
        if len(cands) == 2 and 0.0 not in vals:  # binary/bipolar: tie only at ~0, sign of x
            assert (qi < 0) == np.signbit(xi)
        elif len(cands) == 2:  # tie: even index among magnitudes of x's sign
            side = [abs(v) for v in vals if (v >= 0) != (np.signbit(xi))] + [0.0]
            mags = sorted(set(side))
            assert mags.index(abs(qi)) % 2 == 0, (xi, cands, qi)


def test_exact_ties_fp4_and_int():
    fp4 = element_format("fp4-e2m1")
    # 0.25 -> 0 (even), 0.75 -> 1.0 (E2M1 1.0 = 010, mantissa even), 1.75 -> 2, 2.5 -> 2, 5 -> 4
    np.testing.assert_array_equal(
        fp4.quantize_values(np.float32([0.25, 0.75, 1.75, 2.5, 5.0])), [0.0, 1.0, 2.0, 2.0, 4.0]
    )
    i4 = element_format("int4")
    np.testing.assert_array_equal(
        i4.encode(np.float32([0.5, 1.5, 2.5, -2.5, 9.0, -9.0])), [0, 2, 2, -2, 7, -7]
    )  # −8 not kept


def _vals(name):
    return sorted(element_format(name).values.tolist())


def test_int_value_sets():
    assert _vals("int4") == list(range(-7, 8))
    assert _vals("int8") == list(range(-127, 128))
    assert _vals("uint4") == list(range(16))
    assert _vals("ternary") == [-1, 0, 1]
    assert _vals("binary") == [-1, 1]
    assert _vals("bipolar-int4") == list(range(-15, 16, 2))


def test_bitmod_value_sets_match_seed_table():
    fp3 = [-4, -2, -1, 0, 1, 2, 4]
    fp4 = [-12, -8, -6, -4, -3, -2, -1, 0, 1, 2, 3, 4, 6, 8, 12]
    assert _vals("bitmod-fp3-er_pos") == sorted(fp3 + [3])
    assert _vals("bitmod-fp3-er_neg") == sorted(fp3 + [-3])
    assert _vals("bitmod-fp3-ea_pos") == sorted(fp3 + [6])
    assert _vals("bitmod-fp3-ea_neg") == sorted(fp3 + [-6])
    assert _vals("bitmod-fp4-er_pos") == sorted(fp4 + [10])
    assert _vals("bitmod-fp4-er_neg") == sorted(fp4 + [-10])
    assert _vals("bitmod-fp4-ea_pos") == sorted(fp4 + [16])
    assert _vals("bitmod-fp4-ea_neg") == sorted(fp4 + [-16])
    # the special value sits in the −0 pattern
    assert element_format("bitmod-fp3-ea_neg").decode(np.uint8([0b100]))[0] == -6


def test_ant_and_olive_value_sets():
    assert _vals("flint4") == sorted(
        {s * m for s in (1, -1) for m in (0, 0.25, 0.5, 0.75, 1, 1.5, 2, 4)}
    )
    assert _vals("pot4") == sorted({0.0} | {s * 2.0**i for s in (1, -1) for i in range(7)})
    assert _vals("abfloat4") == sorted(
        {0.0} | {s * m for s in (1, -1) for m in (48, 64, 96, 128, 192, 256, 384)}
    )
