"""The PE-family interface: what the engine asks of a processing-element model.

One family = one module under arch/ with one class implementing `PEModel`, registered by
name in arch/families.py. The engine never knows a family's arithmetic: it splits an op
into tiles (a mapping), asks the family for each distinct tile's `TileCost`, and adds
memory traffic, overlap and energy of buffers and DRAM itself.

Units: cycles of the accelerator clock; energy in pJ; area in um^2; sizes in elements;
traffic in bits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from quant.info import FormatInfo

if TYPE_CHECKING:
    from arch.accelerator import Accelerator
    from workloads.ops import Op


@dataclass(frozen=True)
class Tile:
    """An (m x k) @ (k x n) piece of a GEMM op held on chip at once.

    a: format of the A operand (activations, m x k); b: format of the B operand
    (weights or KV cache, k x n). `stats` holds trace statistics of the op (e.g.
    "b_zero_term_frac"), empty for shape-only models.
    """

    m: int
    k: int
    n: int
    a: FormatInfo
    b: FormatInfo
    kind: str = "linear"
    stats: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TileCost:
    """Cost of computing one tile on the array, its operands already on chip.

    cycles: compute cycles (closed form: fill, skew, stream, drain of every fold).
    compute_pj: datapath energy (multipliers, adders, decoders, dequantizers).
    buffer_read_bits / buffer_write_bits: traffic between the on-chip buffers
      ("weight", "input", "output") and the array, in bits.
    macs: useful multiply-accumulates done (m*k*n).
    """

    cycles: int
    compute_pj: float
    buffer_read_bits: Mapping[str, float]
    buffer_write_bits: Mapping[str, float]
    macs: int


@dataclass(frozen=True)
class OpCost:
    """A family's whole-op estimate, for families whose engine path is not the tile
    pipeline (e.g. a GPU model). Times in cycles of the arch clock; energy in pJ."""

    cycles: float
    compute_pj: float
    sram_pj: float
    dram_pj: float
    dram_bytes: float
    bound: str  # "compute" | "memory" | "overhead"


@runtime_checkable
class PEModel(Protocol):
    """What every PE family implements."""

    family: str

    def unsupported(self, a: FormatInfo, b: FormatInfo, kind: str) -> str | None:
        """None if the array can multiply these formats, else a one-line reason."""

    def tile_quantum(self, a: FormatInfo, b: FormatInfo) -> tuple[int, int, int]:
        """(m, k, n) granularity tile sizes should be multiples of (one array fold)."""

    def tile_cost(self, tile: Tile) -> TileCost:
        """Closed-form cost of one tile (see TileCost)."""

    def peak_macs_per_cycle(self, a: FormatInfo, b: FormatInfo) -> float:
        """Upper bound on MACs per cycle for these formats (roofline, utilization)."""

    def accumulator_bits(self, a: FormatInfo, b: FormatInfo) -> int:
        """Width of one partial sum kept in the output buffer."""

    def area_um2(self) -> Mapping[str, float]:
        """Area of the PE array by component (um^2); buffers are added by the engine."""

    def cost_op(self, op: Op, accel: Accelerator) -> OpCost | None:
        """Optional whole-op model; return None to use the engine's tile pipeline."""
