"""Fixtures of the DSE tests: a tiny sweep spec (SmolLM2-135M shapes, 16-token prompt,
2 decode steps) whose points simulate in tens of milliseconds."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SIM = [str(Path(sys.executable).parent / "sim")]

TINY = {
    "name": "tiny",
    "base": "bitmod",
    "workload": {"model": "smollm2-135m", "prefill": 16, "decode": 2},
    "axes": {
        "pe_array.lanes": [2, 4, 8],
        "memory.dram.bandwidth_gb_s": [16, 64],
    },
    "linked": [{"pe_array.rows": [8, 16, 32], "pe_array.cols": [32, 64, 64]}],
    "constraints": ["area_mm2 <= 8"],
    "objectives": {"tokens_per_s": "max", "energy_per_token_j": "min"},
}


@pytest.fixture
def tiny_spec(tmp_path) -> Path:
    p = tmp_path / "tiny.yaml"
    p.write_text(yaml.safe_dump(TINY, sort_keys=False))
    return p


def run_sim(*args, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SIM, *map(str, args)], capture_output=True, text=True, cwd=cwd or ROOT, timeout=timeout
    )


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium; installed with apt-get when missing (skips only when that is
    impossible: no apt-get, or no permission / repository)."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    if shutil.which("apt-get") is None:
        pytest.skip("chromium missing and no apt-get to install it")
    r = subprocess.run(
        ["apt-get", "install", "-y", "-q", "chromium"],
        capture_output=True,
        text=True,
        env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
    )
    path = shutil.which("chromium")
    if path is None:
        pytest.skip(f"chromium could not be installed: {r.stderr.strip()[-200:]}")
    return path
