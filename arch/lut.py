"""`lut`: lookup-table mpGEMM — LUT Tensor Core (ISCA'25) and a T-MAC-style CPU variant.

Sources: SEED_SYSTEMS.md §5; Mo et al., "LUT Tensor Core", ISCA'25 (arXiv 2408.06003);
the RTL in `microsoft/T-MAC` branch `LUTTensorCore_ISCA25`,
`sv_lut_array/rtl/fp_lut_array_b_cycle_stage1.sv` (parameters M_DIM=2, N_DIM=64, K_DIM=4,
A_LUT_DIM=2^(K_DIM-1)=8 table entries per row, a b_index FSM stepping one weight bit-plane
per cycle, the bit-plane weight applied by adding b_index to the FP16 exponent, a
DW_fp_add FP16 accumulator per output, `scripts/constraint.tcl` clock period 1 ns); the
accel-sim README of that branch (an A100 SM's tensor cores given "4x basic fp16-fp16
tensor core array size").

variant `lut_tensor_core` (default)
-----------------------------------
One LUT unit computes an elongated M x N x K = 2 x 64 x 4 tile per cycle for ONE weight
bit-plane: each of its 2 rows holds the 8-entry symmetrized table of one group of 4
activations; each of its 64 columns takes the 4 weight bits of that bit-plane as an index
(bits 3:1 select the entry, bit 0 flips the sign — table symmetrization: T(w) = -T(~w) for
weights read as bipolar +-1 per bit-plane, the offset corrected once per output), adds
b to the looked-up entry's exponent (x 2^b) and accumulates in FP16. That is
2*64*4 = 512 activation x 1-bit products per unit per cycle, whatever the activation
values are (a lookup costs the same for any value) and whatever the activation precision
(A8 tables hold INT10 sums, A16 tables FP16 sums; both are looked up once per cycle).

The array is `pe_array.rows` x `pe_array.cols` units; a unit row covers 2 output rows (M),
a unit column 64 output columns (N), so one array fold is an (2R) x (64C) output block,
output-stationary; the fold walks the tile's K in groups of 4, every group for each of
the B weight bit-planes (B = weight element bits; ternary = 2 planes, binary = 1).

  cycles(tile m x k x n) = ceil(m / 2R) * ceil(n / 64C) * ceil(k / 4) * B  +  P  (+ Tpre)

P = `pipeline_stages` (2: the RTL's stage1 lookup/exponent-add and stage2 accumulate;
folds are issued back to back, the pipeline fills once per tile). Cycles are exactly
proportional to B and independent of the activation format.

Table precompute (groups of 4 activations -> 8 entries): built by a binary tree of
FP16/INT adds, 2 + 4 + 8 = 14 adds per table (level i doubles the entries by adding
+-a_i), for m * ceil(k/4) tables per tile; each table is 8 entries of `entry_bits`
(16 for A16, 10 rounded to 16 storage for A8 — we store 16). `precompute`:
  * `fused` (paper §software optimizations: precompute fused into the preceding
    operator): no cycles are added here; the adds' energy, the table writes to and the
    table reads from the input buffer ARE counted.
  * `separate`: a precompute unit of `precompute_adders` adders runs before the tile's
    lookups: Tpre = ceil(14 * m * ceil(k/4) / precompute_adders) cycles, not overlapped.
  DRAM traffic of the A operand stays at the activation format's width in both modes
  (tables are expanded on chip from the loaded activations; the engine counts DRAM).

Group-wise weight scales (format block_size g > 0): the per-group partial sum is scaled
once per group (one FP16 multiply + add per output per K-group), pipelined behind the
accumulator: energy counted, no cycles.

Energy (arch/tech/tables.yaml): per lookup (one unit output for one bit-plane and one
K-group): an 8:1 16-bit table mux (`lut_mux8_16b`), a 5-bit exponent add (`add_int8`),
an FP16 accumulate (`add_fp16`). Area per unit: 128 x (mux + exponent adder + FP16 adder)
plus `precompute_adders` FP16 adders for the whole array.

variant `tmac_cpu` (T-MAC, SEED_SYSTEMS.md §5, repo `microsoft/T-MAC` main)
---------------------------------------------------------------------------
`pe_array.rows` = cores, `pe_array.cols` must be 1, `pe_array.lanes` = SIMD width in
bytes (16 for 128-bit NEON, 32 for AVX2). One table per group of 4 activations: 16 int8
entries, 8 stored (mirroring: T(w) = -T(~w)); one table-lookup instruction (NEON `tbl` /
x86 `pshufb`) maps `lanes` 4-bit weight indices (one per output column) to `lanes`
partial sums, i.e. `lanes` x 4 activation x 1-bit products; it is followed by one SIMD add
(int16 accumulate). Our model: each core issues `lookups_per_cycle` lookup+add pairs per
cycle (default 1: two SIMD pipes, one tbl + one add), so

  cycles(tile) = ceil(m * ceil(k/4) * B * ceil(n / lanes) / (cores * lookups_per_cycle))
                 + Tpre + Tscale

Tpre = ceil(m * ceil(k/4) * 8 / (cores * lanes)) (8 mirrored int8 entries per table, one
SIMD add each lane-wide); Tscale = ceil(m * n * ceil(k/128) / (cores * lanes / 4)) (the
group-128 FP32 scale-multiply-add, `lanes`/4 FP32 lanes). Weight group 128 (T-MAC
default). Energy: `cpu_simd_op` (a 128-bit = 16-byte instruction) x lanes / 16 per SIMD
instruction: the instruction's datapath energy scales with its width, so energy per MAC
does not depend on the SIMD width or the core count (an approximation: a wider SIMD
instruction amortizes its fetch/decode/issue share, which this model does not credit).
"""

from __future__ import annotations

from math import ceil
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from arch.dataflow import cdiv
from arch.pe import Tile, TileCost, TileModel
from arch.schema import ArchConfig
from arch.tech import TechTable
from quant.info import FormatInfo

UNIT_M, UNIT_N, UNIT_K = 2, 64, 4  # RTL fp_lut_array_b_cycle_stage1.sv M_DIM, N_DIM, K_DIM
TABLE_ENTRIES = 8  # 2^(K_DIM-1) symmetrized entries (RTL A_LUT_DIM)
TABLE_BUILD_ADDS = 14  # binary tree 2 + 4 + 8 adds per 8-entry table (our construction)
TABLE_ENTRY_BITS = 16  # FP16 entries (A16); A8 sums (10 bits) stored in 16-bit slots
TMAC_TABLE_ENTRIES = 8  # 16 int8 entries, 8 stored with mirroring (T-MAC)
TMAC_GROUP = 128  # T-MAC weight group size
SIMD_UNIT_BYTES = 16  # tables.yaml cpu_simd_op is one 128-bit instruction


class LUTParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    variant: Literal["lut_tensor_core", "tmac_cpu"] = "lut_tensor_core"
    precompute: Literal["fused", "separate"] = "fused"
    precompute_adders: int = Field(16, gt=0, description="FP16 adders of the table builder")
    pipeline_stages: int = Field(2, ge=0, description="RTL stage1 + stage2")
    max_weight_bits: int = Field(4, ge=1, le=8, description="bit-planes the FSM supports")
    lookups_per_cycle: float = Field(1.0, gt=0, description="tmac_cpu: tbl+add pairs/cycle")


class LUTTensorCore(TileModel):
    """LUT-based mpGEMM array (see module docstring for the cycle model)."""

    family = "lut"
    Params = LUTParams

    def __init__(self, config: ArchConfig, params: LUTParams, tech: TechTable) -> None:
        self.R = config.pe_array.rows
        self.C = config.pe_array.cols
        self.L = config.pe_array.lanes
        self.p = params
        if params.variant == "tmac_cpu" and self.C != 1:
            raise ValueError(
                "variant tmac_cpu reads pe_array.rows as cores and pe_array.lanes as SIMD "
                f"bytes; pe_array.cols must be 1 (got {self.C})"
            )
        if params.variant == "lut_tensor_core" and self.L != 1:
            raise ValueError(
                f"lut_tensor_core units have a fixed 2x64x4 shape; lanes=1 (got {self.L})"
            )
        self.mux_pj, self.mux_um2 = tech.unit("lut_mux8_16b")
        self.exp_pj, self.exp_um2 = tech.unit("add_int8")
        self.fadd_pj, self.fadd_um2 = tech.unit("add_fp16")
        self.fmul_pj, _ = tech.unit("mul_fp16")
        simd_pj, _ = tech.unit("cpu_simd_op")
        self.simd_pj = simd_pj * self.L / SIMD_UNIT_BYTES  # one lanes-byte-wide instruction

    @property
    def units(self) -> int:
        return self.R * self.C

    # -- capability -------------------------------------------------------------------
    def unsupported(self, a: FormatInfo, b: FormatInfo, kind: str) -> str | None:
        if b.kind != "int" or b.element_bits > self.p.max_weight_bits:
            return (
                f"a LUT array takes integer weights/KV of 1..{self.p.max_weight_bits} bits "
                f"(bit-serial planes), not {b.name}; use int2..int4, ternary or binary"
            )
        if self.p.variant == "tmac_cpu":
            if a.element_bits > 16:
                return f"T-MAC tables take int8/fp16 activations, not {a.name}"
            return None
        if not ((a.kind == "int" and a.element_bits <= 8) or (a.is_float and a.element_bits <= 16)):
            return f"LUT Tensor Core tables hold A8 (int) or A16 (fp16/bf16) sums, not {a.name}"
        return None

    def tile_quantum(self, a: FormatInfo, b: FormatInfo) -> tuple[int, int, int]:
        if self.p.variant == "tmac_cpu":
            return (1, UNIT_K, self.L)
        return (UNIT_M * self.R, UNIT_K, UNIT_N * self.C)

    def finest_quantum(self, a: FormatInfo, b: FormatInfo) -> tuple[int, int, int]:
        """LUT Tensor Core: one unit's tile (UNIT_M x UNIT_K x UNIT_N). A tile's folds
        (cdiv(m, UNIT_M x rows) x cdiv(n, UNIT_N x cols)), buffer bits and table
        precompute never grow with rows or cols, so a tile sized for a smaller array
        costs no more on a bigger one. T-MAC on a CPU: its own quantum."""
        if self.p.variant == "tmac_cpu":
            return self.tile_quantum(a, b)
        return (UNIT_M, UNIT_K, UNIT_N)

    def peak_macs_per_cycle(self, a: FormatInfo, b: FormatInfo) -> float:
        planes = b.element_bits
        if self.p.variant == "tmac_cpu":
            return self.R * self.L * UNIT_K * self.p.lookups_per_cycle / planes
        return self.units * UNIT_M * UNIT_N * UNIT_K / planes

    def accumulator_bits(self, a: FormatInfo, b: FormatInfo) -> int:
        return 16 if self.p.variant == "lut_tensor_core" else 32  # FP16 / T-MAC int16->fp32

    def area_um2(self) -> dict[str, float]:
        if self.p.variant == "tmac_cpu":
            return {}  # a CPU: no accelerator array area
        per_unit = UNIT_M * UNIT_N * (self.mux_um2 + self.exp_um2 + self.fadd_um2)
        return {
            "lut_units": self.units * per_unit,
            "precompute": self.p.precompute_adders * self.fadd_um2,
        }

    # -- cost -------------------------------------------------------------------------
    def precompute_cycles(self, m: int, k: int) -> int:
        """Cycles of building the tile's tables when not fused (module docstring)."""
        tables = m * cdiv(k, UNIT_K)
        if self.p.variant == "tmac_cpu":
            return ceil(tables * TMAC_TABLE_ENTRIES / (self.R * self.L))
        if self.p.precompute == "fused":
            return 0
        return cdiv(TABLE_BUILD_ADDS * tables, self.p.precompute_adders)

    def fold_cycles(self, m: int, k: int, n: int, planes: int) -> int:
        """Lookup cycles of the whole tile, pipeline fill included (no precompute). The
        LUT Tensor Core's forms take arrays of tiles too (tile_cycles_array)."""
        groups = cdiv(k, UNIT_K)
        if self.p.variant == "tmac_cpu":
            lookups = m * groups * planes * ceil(n / self.L)
            return ceil(lookups / (self.R * self.p.lookups_per_cycle))
        folds = cdiv(m, UNIT_M * self.R) * cdiv(n, UNIT_N * self.C)
        return folds * groups * planes + self.p.pipeline_stages

    def _traffic(self, m, k, n, a: FormatInfo, b: FormatInfo) -> tuple[dict, dict]:
        """LUT Tensor Core buffer (read bits, write bits) of a tile; one tile or arrays."""
        table_bits = m * cdiv(k, UNIT_K) * TABLE_ENTRIES * TABLE_ENTRY_BITS
        reads = {
            # each bit-plane read once per M fold; tables per N fold + raw activations
            "weight": cdiv(m, UNIT_M * self.R) * k * n * b.element_bits,
            "input": cdiv(n, UNIT_N * self.C) * table_bits + m * k * a.element_bits,
            "output": 0.0,
        }
        return reads, {"input": table_bits, "output": m * n * 16}

    def tile_cycles_array(self, m, k, n, a: FormatInfo, b: FormatInfo, stats, views: tuple):
        """tile_cost's cycles and buffer bits for shapes (1, S) on the one view (LUT Tensor
        Core; T-MAC on a CPU is costed per shape): fold_cycles, precompute_cycles and
        _traffic on arrays."""
        if self.p.variant == "tmac_cpu":
            return None
        cycles = self.fold_cycles(m, k, n, b.element_bits) + self.precompute_cycles(m, k)
        reads, writes = self._traffic(m, k, n, a, b)
        bits = {x: reads.get(x, 0.0) + writes.get(x, 0.0) for x in ("weight", "input", "output")}
        return cycles, bits

    def tile_cost(self, tile: Tile) -> TileCost:
        m, k, n = tile.m, tile.k, tile.n
        a, b = tile.a, tile.b
        planes = b.element_bits
        groups = ceil(k / UNIT_K)
        tables = m * groups
        macs = m * k * n
        scale_groups = ceil(k / b.block_size) if b.block_size else 0
        if self.p.variant == "tmac_cpu":
            sg = ceil(k / TMAC_GROUP)
            scale_cycles = ceil(m * n * sg / max(1, self.R * self.L // 4))
            cycles = self.fold_cycles(m, k, n, planes) + self.precompute_cycles(m, k)
            cycles += scale_cycles
            instr = (
                2 * m * groups * planes * ceil(n / self.L)  # tbl + add
                + ceil(tables * TMAC_TABLE_ENTRIES / self.L)  # table build
                + ceil(m * n * sg / max(1, self.L // 4))  # scale FMA
            )
            reads = {
                "weight": k * n * planes,
                "input": tables * TMAC_TABLE_ENTRIES * 8 * ceil(n / self.L)
                + m * k * a.element_bits,
                "output": 0.0,
            }
            writes = {"input": tables * TMAC_TABLE_ENTRIES * 8, "output": m * n * 32}
            return TileCost(cycles, instr * self.simd_pj, reads, writes, macs)
        lookups = m * n * groups * planes
        compute_pj = lookups * (self.mux_pj + self.exp_pj + self.fadd_pj)
        compute_pj += tables * TABLE_BUILD_ADDS * self.fadd_pj  # precompute, fused or not
        compute_pj += m * n * scale_groups * (self.fmul_pj + self.fadd_pj)
        reads, writes = self._traffic(m, k, n, a, b)
        cycles = self.fold_cycles(m, k, n, planes) + self.precompute_cycles(m, k)
        return TileCost(cycles, compute_pj, reads, writes, macs)

    def verification(self) -> tuple:
        """`sim verify`: the LUT kernel (FP16 activation tables, bipolar bit-planes, offset
        correction; kernels/lut.py) on INT weights up to `max_weight_bits` bits. The
        kernel builds FP16 tables for both variants (T-MAC's INT8 tables are not a
        separate kernel)."""
        from kernels.spec import VerifySpec

        formats = tuple(
            (w, "fp16")
            for w, bits in (("int2-g128", 2), ("int3-g128", 3), ("int4-g128-asym", 4))
            if bits <= self.p.max_weight_bits
        )
        return (VerifySpec("kernels.lut:lut_gemm", formats),)
