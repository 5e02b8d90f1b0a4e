"""`systolic_mac`: a rows x cols array of fixed-width MAC PEs (INT8, FP16 or FP32), weight-
or output-stationary. The baseline every low-bit family is compared with.

Closed forms per fold (R = rows, C = cols, L = lanes, m rows streamed; derived by hand and
checked against a per-cycle stepping model in tests/sim/test_systolic_oracle.py):

weight-stationary (WS): a fold holds a (R*L) x c block of the B operand (c <= C columns
  used). Loading it takes R cycles (weights shift down one row per cycle). Activation row t
  enters PE row r at cycle t + r (skew) and moves one column per cycle; partial sums move
  down one row per cycle, so the last output (t = m-1, column c-1) leaves the array
  m + R + c - 2 cycles after the first input enters. Folds run n-block outer, k-block inner.
  * without PE weight double-buffering: each fold loads, then streams until its last
    output: fold = R + m + R + c - 2 (= 2R + C + m - 2 for a full fold).
  * with double-buffering (default, `weight_double_buffer: true`) each PE has a shadow
    weight register; the next fold's weights shift in, column-skewed, while the current
    fold streams, and a PE switches banks when the first input of the new fold reaches it.
    Fold f starts injecting at R + f*max(m, R), so F folds take
    R + (F-1)*max(m, R) + m + R + c_last - 2.
  * the weight-fill bus (arch/dataflow.py): a fold's R*L x C weights of b stored bits
    load in W = ceil(R*L*C*b / min(weight_fill_bits, weight-buffer bits per cycle))
    cycles; the default `weight_fill_bits` = C*L*native bits is the shift chain above
    (W = R at native width; 4-bit weights W = R/2). W replaces R in the load terms:
    W + (F-1)*max(m, W) + m + R + c_last - 2 (double-buffered), W + R + c + m - 2 per
    fold (single). At m = 1 (decode GEMV) a narrow bus makes the array fill-bound.
    The bus costs area (fill_bits tracks across the array) and energy (every weight
    bit crosses it once), tech unit `wire_bit_mm`.
output-stationary (OS): a fold holds an R x C block of outputs; A enters from the left and
  B from the top, both skewed, ceil(k/L) steps each; the last MAC happens at step
  ceil(k/L) + R + C - 3 and the R x C results shift out in R cycles:
  fold = ceil(k/L) + R + C - 2 + R (no overlap between folds).

Energy per MAC (tables in arch/tech/tables.yaml): the MAC's multiplier part scales with the
operand widths actually used (array multiplier ~ a_bits * b_bits) relative to the MAC's
native width; the accumulator part does not. Area: R*C*L MAC units.
"""

from __future__ import annotations

from math import ceil
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from arch.dataflow import array_span_mm, bus_bits_per_cycle, fill_cycles, ws_cycles
from arch.pe import Tile, TileCost, TileModel
from arch.schema import ArchConfig
from arch.tech import TechTable
from quant.info import FormatInfo

_MAC_UNIT = {"int8": "mac_int8", "fp16": "mac_fp16", "fp32": "mac_fp32"}
_ADD_UNIT = {"int8": "add_int32", "fp16": "add_fp16", "fp32": "add_fp16"}
_NATIVE_BITS = {"int8": 8, "fp16": 16, "fp32": 32}


class SystolicParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    dataflow: Literal["weight_stationary", "output_stationary"] = "weight_stationary"
    mac: Literal["int8", "fp16", "fp32"] = "int8"
    weight_double_buffer: bool = True
    weight_fill_bits: int | None = Field(
        None,
        ge=1,
        description="WS weight-fill bus width (bits/cycle); default: one PE row per cycle "
        "at the native width (cols x lanes x MAC bits, the classic shift chain)",
    )


class SystolicMAC(TileModel):
    """A fixed-precision MAC array (see module docstring for the cycle model)."""

    family = "systolic_mac"
    Params = SystolicParams

    def __init__(self, config: ArchConfig, params: SystolicParams, tech: TechTable) -> None:
        self.R = config.pe_array.rows
        self.C = config.pe_array.cols
        self.L = config.pe_array.lanes
        self.p = params
        self.mac_pj, self.mac_um2 = tech.unit(_MAC_UNIT[params.mac])
        self.add_pj, _ = tech.unit(_ADD_UNIT[params.mac])
        native = _NATIVE_BITS[params.mac]
        self.fill_bits = params.weight_fill_bits or self.C * self.L * native
        wb = config.memory.buffers.weight
        self.bus_bits = bus_bits_per_cycle(self.fill_bits, wb.banks, wb.width_bits)
        self.wire_pj, self.wire_um2 = tech.unit("wire_bit_mm")
        self.span_mm = array_span_mm(self.R * self.C * self.L * self.mac_um2)

    # -- capability -------------------------------------------------------------------
    def unsupported(self, a: FormatInfo, b: FormatInfo, kind: str) -> str | None:
        native = _NATIVE_BITS[self.p.mac]
        for role, f in (("activation", a), ("weight/KV", b)):
            if self.p.mac == "int8" and (f.kind != "int" or f.element_bits > 8):
                return f"an INT8 MAC array cannot take {role} format {f.name}; use int2..int8"
            if f.element_bits > native:
                return f"a {self.p.mac.upper()} MAC array cannot take {role} format {f.name}"
        return None

    def tile_quantum(self, a: FormatInfo, b: FormatInfo) -> tuple[int, int, int]:
        if self.p.dataflow == "weight_stationary":
            return (1, self.R * self.L, self.C)
        return (self.R, self.L, self.C)

    def peak_macs_per_cycle(self, a: FormatInfo, b: FormatInfo) -> float:
        return float(self.R * self.C * self.L)

    def accumulator_bits(self, a: FormatInfo, b: FormatInfo) -> int:
        return 32

    def area_um2(self) -> dict[str, float]:
        area = {"mac": self.R * self.C * self.L * self.mac_um2}
        if self.p.dataflow == "weight_stationary":
            area["fill_bus"] = self.fill_bits * self.span_mm * self.wire_um2
        return area

    # -- cost -------------------------------------------------------------------------
    def fold_cycles(self, m: int, k: int, n: int, b_bits: float | None = None) -> int:
        """Cycles of the whole tile's folds (closed forms in the module docstring);
        b_bits = stored width of the weights (default: the MAC's native width)."""
        R, C, L = self.R, self.C, self.L
        if self.p.dataflow == "weight_stationary":
            bits = _NATIVE_BITS[self.p.mac] if b_bits is None else b_bits
            W = fill_cycles(R * L, C, bits, self.bus_bits)  # cycles to load a fold
            kf, nf = ceil(k / (R * L)), ceil(n / C)
            c_last = n - (nf - 1) * C
            return ws_cycles(m, kf, nf, R, C, c_last, W, self.p.weight_double_buffer)
        folds = ceil(m / R) * ceil(n / C)
        return folds * (ceil(k / L) + 2 * R + C - 2)

    def mac_energy_pj(self, a: FormatInfo, b: FormatInfo) -> float:
        native = _NATIVE_BITS[self.p.mac]
        ab = min(a.element_bits, native) * min(b.element_bits, native) / native**2
        return self.add_pj + (self.mac_pj - self.add_pj) * ab

    def tile_cost(self, tile: Tile) -> TileCost:
        m, k, n = tile.m, tile.k, tile.n
        R, C, L = self.R, self.C, self.L
        macs = m * k * n
        a_bits, b_bits, acc = tile.a.element_bits, tile.b.element_bits, 32
        if self.p.dataflow == "weight_stationary":
            kf, nf = ceil(k / (R * L)), ceil(n / C)
            reads = {
                "weight": k * n * b_bits,
                "input": m * k * nf * a_bits,
                "output": m * n * (kf - 1) * acc,
            }
            writes = {"output": m * n * kf * acc}
        else:
            mf, nf = ceil(m / R), ceil(n / C)
            reads = {"weight": k * n * mf * b_bits, "input": m * k * nf * a_bits, "output": 0.0}
            writes = {"output": m * n * acc}
        fill_pj = 0.0
        if self.p.dataflow == "weight_stationary":  # every weight crosses the fill bus once
            fill_pj = k * n * b_bits * self.span_mm * self.wire_pj
        return TileCost(
            cycles=self.fold_cycles(m, k, n, b_bits),
            compute_pj=macs * self.mac_energy_pj(tile.a, tile.b) + fill_pj,
            buffer_read_bits=reads,
            buffer_write_bits=writes,
            macs=macs,
        )

    def verification(self) -> tuple:
        """`sim verify`: the kernel of this datapath (kernels/README.md): the INT8 MAC with
        an exact accumulator, or the FP32-accumulating MAC on `mac`-format operands."""
        from kernels.spec import VerifySpec

        if self.p.mac == "int8":
            return (VerifySpec("kernels.mac:int8_partials", (("int8", "int8"),)),)
        return (VerifySpec("kernels.mac:fp_mac_gemm", ((self.p.mac, self.p.mac),)),)
