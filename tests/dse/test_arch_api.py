"""The scripting API: Arch from a dict, replace by dotted paths, simulate(Arch)."""

from __future__ import annotations

import pytest

from common.errors import InputError
from sim import Arch, simulate


def test_from_dict_round_trip_and_replace():
    base = Arch.load("bitmod")
    again = Arch.from_dict(base.to_dict())
    assert again == base and again.digest == base.digest
    b = base.replace({"pe_array.rows": 64, "memory.dram.bandwidth_gb_s": 64})
    assert (b.get("pe_array.rows"), b.get("memory.dram.bandwidth_gb_s")) == (64, 64)
    assert base.get("pe_array.rows") == 16  # the original is unchanged
    assert b.digest != base.digest
    assert b.get("memory.dram.efficiency") == 1.0  # as written in the preset
    # 4x the rows: more PE area, same buffers
    pe = {k: v for k, v in b.accelerator.area_um2().items() if k.startswith("pe.")}
    pe0 = {k: v for k, v in base.accelerator.area_um2().items() if k.startswith("pe.")}
    assert sum(pe.values()) > sum(pe0.values())


def test_simulate_accepts_arch_exactly_like_a_preset():
    a = simulate(Arch.load("int8-systolic"), "smollm2-135m", prefill=16, decode=2)
    b = simulate("int8-systolic", "smollm2-135m", prefill=16, decode=2)
    assert a.summary() == b.summary()


def test_replace_of_the_same_value_is_the_same_arch():
    base = Arch.load("bitmod")
    assert base.replace({"pe_array.cols": base.get("pe_array.cols")}) == base


@pytest.mark.parametrize(
    "change, field",
    [
        ({"pe_array.rows": 0}, "pe_array.rows"),
        ({"pe_array.params.bogus": 1}, "pe_array.params.bogus"),
        ({"pe_array.rows.x": 1}, "pe_array.rows.x"),
        ({"memory.dram.nope": 1}, "memory.dram.nope"),
    ],
)
def test_replace_errors_name_the_dotted_path(change, field):
    with pytest.raises(InputError) as e:
        Arch.load("bitmod").replace(change)
    assert e.value.field == field
