"""`sim list formats` names the parametric families, and every example it gives is a
format the simulator accepts (with the sizes quant.info computes)."""

from __future__ import annotations

import re

from click.testing import CliRunner

from quant.info import format_info
from sim.cli import main


def test_list_formats_names_the_parametric_families():
    out = CliRunner().invoke(main, ["list", "formats"]).output
    assert "bitmod-{fp3|fp4|int6}[-gG]" in out and "int{2..8}[-gG][-asym][-mse]" in out
    examples = [
        name.strip()
        for line in out.splitlines()
        if "e.g." in line
        for name in re.sub(r"\(.*?\)", "", line.split("e.g.", 1)[1]).split(",")
    ]
    assert examples == ["int3", "int6-g64", "int4-g128-asym", "bitmod-fp3", "bitmod-fp3-g64"]
    assert [format_info(n).name for n in examples] == [
        "int3",
        "int6-g64",
        "int4-g128-asym",
        "bitmod-fp3-g128",
        "bitmod-fp3-g64",
    ]
    # sizes: bits + a 16-bit scale per group
    assert format_info("int6-g64").bits_per_element == 6 + 16 / 64
    assert format_info("bitmod-fp3").bits_per_element == 3 + 8 / 128  # BitMoD's -g128 default
    assert format_info("int4-g128-asym").bits_per_element == 4 + 20 / 128  # scale + zero
