"""Acceptance of issue 10: a new PE family added from a test — one module (this one), one
registry line (arch.families.FAMILIES, monkeypatched) and its tech rows (added to the
technology table at test time) — runs `sim run` and `sim verify` with no project file
touched.

The toy family, `toy_dot`: rows x cols dot-product units, each taking a length-`lanes`
INT8 dot product per cycle (lanes multipliers + an adder tree) into a 32-bit accumulator.
It is not a subclass of any family of arch/. Closed form of one (m x k) @ (k x n) tile,
R*C = U units, L = lanes:
    cycles = ceil(m*n / U) * ceil(k / L) + depth,   depth = ceil(log2 L) + 1
(output (i, j) pairs are spread over the U units; each unit does ceil(k/L) chunks; the
adder tree and the accumulator add `depth` cycles of pipeline latency once per tile).
Buffer traffic: A chunks are broadcast to the units, B chunks are per unit (no reuse
across rows): reads A = m*k*ceil(n/U)*a_bits, B = m*k*n*b_bits; writes out = m*n*32.
Energy: m*k*n x (int8 multiply + int32 add). Area: U*L multipliers + U*L adders.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from pydantic import BaseModel, ConfigDict

from arch.pe import Tile, TileCost, TileModel
from quant.info import FormatInfo
from sim.cli import main

KERNEL = "tests.kernels.test_toy_family:dot_partials"
HARNESS = "tests.kernels.test_toy_family:harness"

# Tech rows of the toy family, at 45 nm: Horowitz, "Computing's energy problem", ISSCC 2014
# (the source of arch/tech/tables.yaml's mac_int8): int8 multiply 0.2 pJ, 282 um^2;
# int32 add 0.1 pJ, 137 um^2.
TECH_ROWS = {
    "toy_dot_mult_int8": {"pj": 0.2, "um2": 282.0, "node_nm": 45},
    "toy_dot_add_int32": {"pj": 0.1, "um2": 137.0, "node_nm": 45},
}


def dot_partials(a_codes, w_codes, group_size: int = 0) -> np.ndarray:
    """Exact int64 [M, N, G]: the dot-product units' sums per group of K: each unit adds
    its `L` products in a tree, then into the accumulator — integer, so order-free."""
    a = np.asarray(a_codes).astype(np.int64)
    w = np.asarray(w_codes).astype(np.int64)
    k = a.shape[1]
    gs = k if group_size <= 0 else group_size
    pad = -k % gs
    a = np.pad(a, ((0, 0), (0, pad)))
    w = np.pad(w, ((0, 0), (0, pad)))
    return np.einsum("mgk,ngk->mng", a.reshape(a.shape[0], -1, gs), w.reshape(w.shape[0], -1, gs))


def harness(kernel: str, wq: str, aq: str):
    from kernels.cases import Case, dequantized_result, int_inputs

    assert kernel == KERNEL

    def run(inp):
        return dequantized_result(
            dot_partials(inp["ref_a"], inp["w_codes"], int(inp["gs"])), 0, inp
        )

    return Case(kernel, wq, aq, "int", int_inputs(wq, aq), run)


class DotParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DotUnit(TileModel):
    """rows x cols INT8 dot-product units of `lanes` products each (module docstring)."""

    family = "toy_dot"
    Params = DotParams

    def __init__(self, config, params: DotParams, tech) -> None:
        self.U = config.pe_array.rows * config.pe_array.cols
        self.L = config.pe_array.lanes
        self.depth = math.ceil(math.log2(self.L)) + 1
        self.mult_pj, self.mult_um2 = tech.unit("toy_dot_mult_int8")
        self.add_pj, self.add_um2 = tech.unit("toy_dot_add_int32")

    def unsupported(self, a: FormatInfo, b: FormatInfo, kind: str) -> str | None:
        for role, f in (("activation", a), ("weight/KV", b)):
            if f.kind != "int" or f.element_bits > 8:
                return f"INT8 dot-product units cannot take {role} format {f.name}"
        return None

    def peak_macs_per_cycle(self, a: FormatInfo, b: FormatInfo) -> float:
        return float(self.U * self.L)

    def area_um2(self) -> dict[str, float]:
        return {"mult": self.U * self.L * self.mult_um2, "add": self.U * self.L * self.add_um2}

    def tile_quantum(self, a: FormatInfo, b: FormatInfo) -> tuple[int, int, int]:
        return (1, self.L, self.U)

    def accumulator_bits(self, a: FormatInfo, b: FormatInfo) -> int:
        return 32

    def tile_cost(self, tile: Tile) -> TileCost:
        m, k, n = tile.m, tile.k, tile.n
        cycles = -(-m * n // self.U) * -(-k // self.L) + self.depth
        reads = {
            "input": m * k * -(-n // self.U) * tile.a.bits_per_element,
            "weight": m * k * n * tile.b.bits_per_element,
        }
        return TileCost(
            cycles=cycles,
            compute_pj=m * k * n * (self.mult_pj + self.add_pj),
            buffer_read_bits=reads,
            buffer_write_bits={"output": m * n * 32},
            macs=m * k * n,
        )

    def verification(self) -> tuple:
        from kernels.spec import VerifySpec

        return (VerifySpec(KERNEL, (("int8", "int8"), ("int4-g128", "int8")), harness=HARNESS),)


@pytest.fixture
def toy_arch(tmp_path, monkeypatch) -> Path:
    """Register the family and its tech rows; write its arch YAML (int8-systolic's memory,
    4 x 4 units of 16 lanes: 256 MACs/cycle)."""
    import arch.families
    import arch.tech

    monkeypatch.setitem(arch.families.FAMILIES, "toy_dot", "tests.kernels.test_toy_family:DotUnit")
    raw = arch.tech._raw()
    rows = raw | {"units": raw["units"] | TECH_ROWS}
    monkeypatch.setattr(arch.tech, "_raw", lambda: rows)
    from arch.accelerator import load_accelerator

    cfg = yaml.safe_load(Path(load_accelerator("int8-systolic").source).read_text())
    cfg["name"] = "toy-dot"
    cfg["description"] = "4 x 4 INT8 dot-product units of 16 lanes (test family)"
    cfg["pe_array"] = {"rows": 4, "cols": 4, "lanes": 16, "family": "toy_dot", "params": {}}
    path = tmp_path / "toy-dot.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_toy_family_runs(toy_arch):
    args = ["run", str(toy_arch), "llama-2-7b", "--prefill", "8", "--decode", "2"]
    res = CliRunner().invoke(main, [*args, "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    q = next(r for r in out["ops"] if (r["phase"], r["name"]) == ("prefill", "q_proj"))
    assert (q["M"], q["K"], q["N"], q["count"]) == (8, 4096, 4096, 32)
    # mapping "tm x tk x tn / order": tiles of the 8 x 4096 x 4096 GEMM
    tm, tk, tn = (int(v) for v in q["mapping"].split("/")[0].split("x"))
    tiles = math.ceil(8 / tm) * math.ceil(4096 / tk) * math.ceil(4096 / tn)
    # tn is a multiple of U = 16 and tk of L = 16, so over all tiles the chunk-cycles add
    # up to (8 * 4096 / 16) * (4096 / 16) = 2048 * 256 = 524288, plus depth = log2 16 + 1
    # = 5 per tile; per layer, x 32 layers in the row.
    assert tn % 16 == 0 and tk % 16 == 0
    assert q["compute_cycles"] == 32 * (524288 + 5 * tiles)
    # 256 MACs/cycle vs 64 B/cycle of DRAM for 16 MiB of int8 weights (262144 cycles):
    # compute-bound; the op ends after its compute plus at most the first tile's load and
    # the last tile's store (latency 100 cycles each).
    assert q["bound"] == "compute"
    first = (8 * tk + tk * tn) / 64 + 100
    last = 8 * tn / 64 + 100
    assert q["compute_cycles"] <= q["cycles"] <= q["compute_cycles"] + 32 * (first + last)
    assert q["macs"] == 32 * 8 * 4096 * 4096
    # area: 16 units x 16 lanes x (282 + 137) um^2 at 45 nm, scaled (28/45)^2 to 28 nm,
    # plus the int8-systolic SRAM (the same memory section) and its vector unit (50000 um^2)
    pe_mm2 = 256 * 419.0 * (28 / 45) ** 2 * 1e-6
    from arch.accelerator import load_accelerator

    acc = load_accelerator(str(toy_arch))
    sram_mm2 = sum(v for k, v in acc.area_um2().items() if k.startswith("sram.")) * 1e-6
    assert out["area_mm2"] == pytest.approx(pe_mm2 + sram_mm2 + 50000e-6)


def test_toy_family_verifies(toy_arch):
    res = CliRunner().invoke(
        main, ["verify", str(toy_arch), "--device", "cpu", "--shapes", "16x256x32,8x384x64"]
    )
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[0] == f"toy-dot (family toy_dot): {KERNEL}"
    assert "8/8 checks passed" in res.output  # 2 formats x 2 shapes x (partials + out)
