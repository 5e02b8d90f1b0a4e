"""`sim verify PRESET --device cpu` passes for every preset's PE family (issue 6)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from arch.accelerator import preset_names
from sim.cli import main


@pytest.mark.parametrize("preset", preset_names())
def test_verify_every_preset_on_cpu(preset):
    res = CliRunner().invoke(main, ["verify", preset, "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert "checks passed" in res.output
