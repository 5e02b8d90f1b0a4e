"""quant.names.parse_format: the one parser of parametric format names."""

from __future__ import annotations

import pytest

from quant.info import format_info
from quant.names import FormatName, parse_format


@pytest.mark.parametrize(
    "name, parsed",
    [
        ("int8", FormatName("int", 8)),
        ("int4-g128", FormatName("int", 4, 128)),
        ("int3-g64-asym-mse", FormatName("int", 3, 64, asym=True, mse=True)),
        ("fp8-e4m3", FormatName("fp", 8, element="fp8-e4m3")),
        ("fp6-e2m3-g32", FormatName("fp", 6, 32, element="fp6-e2m3")),
        ("bitmod-fp3", FormatName("bitmod", 3, element="fp3")),
        ("bitmod-int6-g64", FormatName("bitmod", 6, 64, element="int6")),
        ("bipolar-int5", FormatName("bipolar", 5)),
    ],
)
def test_parametric_names(name, parsed):
    assert parse_format(name) == parsed


@pytest.mark.parametrize(
    "name",
    [
        "int9",
        "int1",
        "int4-g0",
        "int4-mse-asym",
        "fp5-e2m2",
        "fp8-e4m3-g0",
        "bitmod-fp5",
        "bipolar-int4-g128",
        "Int4",
        "int4-g",
        "mxfp4",
        "fp16",
        "ant4",
        "",
    ],
)
def test_other_names_are_not_parametric(name):
    assert parse_format(name) is None


def test_format_info_and_quantizer_use_the_same_parse():
    # int4-g128-asym: 4-bit codes + FP16 scale + 4-bit zero per 128 -> 4 + 20/128 bits.
    assert format_info("int4-g128-asym").bits_per_element == 4 + 20 / 128
    # bitmod-fp3 without -gG means G = 128: 3 + 8/128 = 3.0625 b/w (SEED_SYSTEMS §1).
    assert format_info("bitmod-fp3").name == "bitmod-fp3-g128"
    assert format_info("bitmod-fp3").bits_per_element == 3.0625
    from quant.api import scheme_for

    s = scheme_for("int3-g64-asym-mse")
    assert (s.element, s.group_size, s.symmetric, s.scale_method) == ("int3", 64, False, "mse")
    assert scheme_for("bitmod-fp3-g128") is None
