"""The two PE contracts: what the engine asks of a processing-element model.

A family implements exactly one of them (one module under arch/, one class, registered by
name in arch/families.py):

- `TileModel`: closed-form cycles, buffer traffic and energy of one tile of a GEMM (its
  operands already on chip). The engine maps each op into tiles, pipelines them against
  the memory system and adds buffer/DRAM energy itself. Families: systolic_mac,
  bitserial, lut, mixpe.
- `OpModel`: costs a whole GEMM op itself, for hardware whose scheduling the engine does
  not own (a GPU's library kernels, FlightLLM's instruction overlay): gpu_tensorcore,
  fpga_dsp.

Both share: the format check (`unsupported`, called by the engine before costing), the
roofline peak, the area of the PE array, and the parameters of the one vector-op model
(arch/vector.py) that costs norm/softmax/act/eltwise ops for every family.

Units: cycles of the accelerator clock; energy in pJ; area in um^2; sizes in elements;
traffic in bits (tiles) or bytes (ops).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from quant.info import FormatInfo

if TYPE_CHECKING:
    from arch.accelerator import Accelerator
    from arch.vector import VectorModel
    from kernels.spec import VerifySpec
    from workloads.ops import Op


@dataclass(frozen=True)
class Tile:
    """An (m x k) @ (k x n) piece of a GEMM op held on chip at once.

    a: format of the A operand (activations, m x k); b: format of the B operand
    (weights or KV cache, k x n). `stats` holds the op's trace bit statistics (e.g.
    "b_bitplane_zero_mean"), empty for shape-only models.
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
    """Cost of one execution of a whole op, from an `OpModel` or the vector model.

    cycles: total cycles of the op (arch clock), overlap and fixed times included.
    compute_cycles: cycles the datapath (matrix or vector unit) is busy on its own.
    memory_cycles: cycles the DRAM/HBM streams need on their own.
    Energy in pJ; dram_bytes moved to and from DRAM/HBM.
    """

    cycles: float
    compute_cycles: float
    memory_cycles: float
    compute_pj: float
    sram_pj: float
    dram_pj: float
    dram_bytes: float
    bound: str  # "compute" | "memory" | "overhead"


class PEModel(ABC):
    """What both contracts share. Subclasses take (config, params, tech)."""

    family: ClassVar[str]

    @abstractmethod
    def unsupported(self, a: FormatInfo, b: FormatInfo, kind: str) -> str | None:
        """None if the datapath can multiply these formats, else a one-line reason."""

    @abstractmethod
    def peak_macs_per_cycle(self, a: FormatInfo, b: FormatInfo) -> float:
        """Upper bound on MACs per cycle for these formats (roofline, utilization)."""

    @abstractmethod
    def area_um2(self) -> Mapping[str, float]:
        """Area of the PE array by component (um^2); buffers are added by the engine."""

    @abstractmethod
    def vector_model(self, accel: Accelerator) -> VectorModel:
        """Parameters of the shared vector-op model (arch/vector.py) on this hardware."""

    @abstractmethod
    def verification(self) -> tuple[VerifySpec, ...]:
        """What `sim verify` checks for this datapath: one kernels.spec.VerifySpec per
        functional kernel (numba model of the arithmetic under kernels/, or a "module:function"
        elsewhere with its own harness) and the (weight, activation) formats it runs on.
        Import kernels.spec inside the method: it is light, but arch/ must not load numba."""


class TileModel(PEModel):
    """A PE array whose GEMMs the engine maps into tiles and pipelines."""

    #: cycles the engine adds once to every GEMM op's time (not per tile): a reporting
    #: convention, e.g. -1 for SCALE-Sim's 0-based index of the last write
    #: (systolic_mac `timing_convention: scalesim`)
    op_cycles_offset: int = 0

    @abstractmethod
    def tile_quantum(self, a: FormatInfo, b: FormatInfo) -> tuple[int, int, int]:
        """(m, k, n) granularity tile sizes should be multiples of (one array fold)."""

    @abstractmethod
    def tile_cost(self, tile: Tile) -> TileCost:
        """Closed-form cost of one tile (see TileCost)."""

    @abstractmethod
    def accumulator_bits(self, a: FormatInfo, b: FormatInfo) -> int:
        """Width of one partial sum kept in the output buffer."""

    def tile_cycles_array(self, m, k, n, a: FormatInfo, b: FormatInfo, stats, views: tuple):
        """Optional, for the mapper's speed: `tile_cost(...).cycles` and the buffer bits
        (read + write, per buffer name) of tiles m[j] x k[j] x n[j] (numpy int64 arrays of
        shape (1, S)) with formats a x b and the op's operand statistics `stats` (a
        mapping, as Tile.stats), on every view in `views` (this array's
        `sub_arrays()`) at once: arrays of shape (V, S), row i = view i, exactly as that
        view's tile_cost computes them
        (tests/arch/test_tile_arrays.py holds a family to that). None (the default): the
        engine calls tile_cost per shape and view."""
        return None

    def finest_quantum(self, a: FormatInfo, b: FormatInfo) -> tuple[int, int, int]:
        """Per dimension (m, k, n), the smallest tile quantum a mapping may use: one fold
        of the smallest part of the array a tile can run on with the rest idle, at no
        more cycles than on an array of that part's size. The exact mapper's tile
        choices are multiples of it (sim.mapping.exact_choices), so a bigger array's
        choices hold a smaller one's. Default: the smallest quantum over sub_arrays()
        that divides the full array's. A family overrides it where its tile cost never
        grows with the array for any tile (e.g. lut: folds are cdiv(m, rows) x
        cdiv(n, cols))."""
        full = self.tile_quantum(a, b)
        qs = [v.tile_quantum(a, b) for v in self.sub_arrays(exact=True)[1:]]
        return tuple(min([full[d]] + [q[d] for q in qs if full[d] % q[d] == 0]) for d in range(3))

    def sub_arrays(self, exact: bool = True) -> tuple[TileModel, ...]:
        """Views of this array that a mapping may use instead of the whole of it (the rest
        idle), full array first; each view's `tile_cost` is the cost of a tile run on that
        part alone. The engine takes, per tile, the fastest view (ties: the earliest).
        Default: only the full array. A family that overrides this documents how a part
        of its array is used (e.g. systolic_mac / mixpe weight-stationary: power-of-two
        fractions of rows and columns, arch/dataflow.py). exact=False (the fast mapper)
        may leave out parts that only the exact mapper's guarantee needs (ones that win
        on no tile the fast mapper's choices hold, at a cost in its speed)."""
        return (self,)

    def vector_model(self, accel: Accelerator) -> VectorModel:
        from arch.vector import asic_vector_model

        return asic_vector_model(accel)


class OpModel(PEModel):
    """Hardware that costs a whole GEMM op itself (its formats already checked)."""

    @abstractmethod
    def cost_op(self, op: Op, a: FormatInfo, b: FormatInfo, accel: Accelerator) -> OpCost:
        """Cost of one execution of GEMM op `op` with operand formats `a` x `b`."""
