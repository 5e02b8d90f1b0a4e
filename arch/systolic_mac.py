"""`systolic_mac`: a rows x cols array of fixed-width MAC PEs (INT8, FP16 or FP32), weight-,
output- or input-stationary. The baseline every low-bit family is compared with.

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
input-stationary (IS): WS with the operands' roles swapped (C^T = B^T A^T). A fold holds a
  (R*L) x c block of A^T (k rows of the reduction, c <= C of the m output rows); column j
  of B streams in (row r at cycle j + r), partial sums move down, and output (i, j) leaves
  the bottom of column i - m0. Folds run m-block outer, k-block inner; n (the columns of
  B) plays the role of WS's m. The stationary inputs load over a one-row-per-cycle shift
  chain from the input buffer: W_in = ceil(R*L*C*a / min(C*L*native, input buffer bits
  per cycle)) cycles (arch/dataflow.fill_cycles; = R at native width). So:
  W_in + (F-1)*max(n, W_in) + n + R + m_last - 2 (double-buffered: `weight_double_buffer`
  then names the shadow register of the stationary operand, here the input), and
  W_in + R + c + n - 2 per fold when single-buffered (c = the fold's m rows).

Timing convention (`timing_convention`, default `native`): `scalesim` reproduces SCALE-Sim
v3.0.0's (scalesim-project/scale-sim-v2, scalesim/compute/systolic_compute_{ws,os,is}.py
and memory/double_buffered_scratchpad_mem.py) cycle count with free memory:
  * full-width folds: a partial last column fold is padded to C columns (its demand
    matrices append -1 "null request" columns up to arr_col), so every fold costs C;
  * non-overlapped folds: each fold's demand rows are concatenated after the previous
    fold's (no shadow registers), whatever `weight_double_buffer` says;
  * its OS drain: the outputs of a fold are written as the skewed wave passes (T-1 null
    rows, then R output rows, skewed over C columns), so an OS fold is
    ceil(k/L) + R + C - 2 with no extra R drain;
  * its reported total ("Total Cycles") is the serviced cycle of the last OFMAP demand
    row, a 0-based index: (rows of the demand matrix) - 1. The -1 is a reporting
    convention of the whole op, so it is `op_cycles_offset` (added once per GEMM op by
    the engine), not part of a tile's cycles (tiles would otherwise each lose a cycle).
  Per fold: WS W + R + C + m - 2 (SCALE-Sim: 2R + C + T - 2, W = R), IS W_in + R + C +
  n - 2, OS ceil(k/L) + R + C - 2; a tile = folds x fold; the op = its tiles - 1.
  Checked against SCALE-Sim itself by benchmarks/fidelity/scalesim.py.

Energy per MAC (tables in arch/tech/tables.yaml): the MAC's multiplier part scales with the
operand widths actually used (array multiplier ~ a_bits * b_bits) relative to the MAC's
native width; the accumulator part does not. The multiplier part and the fill bus also scale
with the operands' measured bit activity (arch/activity.py: toggle rate / 0.5, the random
operands the tables assume; 1.0 for shape-only runs). Area: R*C*L MAC units.
"""

from __future__ import annotations

import copy
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from arch.activity import activity_factor, multiplier_activity_factor
from arch.dataflow import (
    array_span_mm,
    bus_bits_per_cycle,
    cdiv,
    fill_cycles,
    power_of_two_parts,
    view_columns,
    ws_cycles,
)
from arch.pe import Tile, TileCost, TileModel
from arch.schema import ArchConfig
from arch.tech import TechTable
from quant.info import FormatInfo

_MAC_UNIT = {"int8": "mac_int8", "fp16": "mac_fp16", "fp32": "mac_fp32"}
_ADD_UNIT = {"int8": "add_int32", "fp16": "add_fp16", "fp32": "add_fp16"}
_NATIVE_BITS = {"int8": 8, "fp16": 16, "fp32": 32}


class SystolicParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    dataflow: Literal["weight_stationary", "output_stationary", "input_stationary"] = (
        "weight_stationary"
    )
    mac: Literal["int8", "fp16", "fp32"] = "int8"
    weight_double_buffer: bool = True
    weight_fill_bits: int | None = Field(
        None,
        ge=1,
        description="WS weight-fill bus width (bits/cycle); default: one PE row per cycle "
        "at the native width (cols x lanes x MAC bits, the classic shift chain)",
    )
    timing_convention: Literal["native", "scalesim"] = Field(
        "native",
        description="`scalesim`: SCALE-Sim v3.0.0's cycle conventions (full-width partial "
        "folds, non-overlapped folds, its OS drain, total = 0-based index of the last write); "
        "see the module docstring",
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
        self.wb_bits = wb.banks * wb.width_bits  # what the weight buffer delivers per cycle
        ib = config.memory.buffers.input  # IS: the stationary inputs' shift chain
        self.in_bus_bits = bus_bits_per_cycle(self.C * self.L * native, ib.banks, ib.width_bits)
        self.wire_pj, self.wire_um2 = tech.unit("wire_bit_mm")
        self.span_mm = array_span_mm(self.R * self.C * self.L * self.mac_um2)
        # SCALE-Sim reports the 0-based index of the last write: -1, once per op
        self.op_cycles_offset = -1 if params.timing_convention == "scalesim" else 0

    def sub_arrays(self, exact: bool = True) -> tuple[SystolicMAC, ...]:
        """WS (native timing): every power-of-two fraction of rows x cols, full array first
        (arch/dataflow.py "Sub-arrays": output taps at the last used row; the fill bus
        loads only the PEs in use: the default shift chain has c links for c columns, an
        explicit `weight_fill_bits` bus keeps its width). A view keeps the full array's
        fill-bus span (its wires cross the whole array). Other dataflows and the SCALE-Sim
        convention (which always uses the full array): the full array only."""
        if self.p.dataflow != "weight_stationary" or self.p.timing_convention == "scalesim":
            return (self,)
        views: list[SystolicMAC] = [self]
        for r, c in power_of_two_parts(self.R, self.C)[1:]:
            v = copy.copy(self)
            v.R, v.C = r, c
            if self.p.weight_fill_bits is None:  # the shift chain: one link per used column
                v.bus_bits = min(c * self.L * _NATIVE_BITS[self.p.mac], self.wb_bits)
            views.append(v)
        return tuple(views)

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
        if self.p.dataflow == "input_stationary":
            return (self.C, self.R * self.L, 1)
        return (self.R, self.L, self.C)

    def peak_macs_per_cycle(self, a: FormatInfo, b: FormatInfo) -> float:
        return float(self.R * self.C * self.L)

    def accumulator_bits(self, a: FormatInfo, b: FormatInfo) -> int:
        return 32

    def area_um2(self) -> dict[str, float]:
        area = {"mac": self.R * self.C * self.L * self.mac_um2}
        if self.p.dataflow == "weight_stationary":
            area["fill_bus"] = self.fill_bits * self.span_mm * self.wire_um2
        elif self.p.dataflow == "input_stationary":  # the inputs' one-row shift chain
            native = _NATIVE_BITS[self.p.mac]
            area["fill_bus"] = self.C * self.L * native * self.span_mm * self.wire_um2
        return area

    # -- cost -------------------------------------------------------------------------
    def fold_cycles(
        self, m: int, k: int, n: int, b_bits: int | None = None, a_bits: int | None = None
    ) -> int:
        """Cycles of the whole tile's folds (closed forms in the module docstring);
        b_bits / a_bits = stored width of the weights / inputs (default: the MAC's native
        width), which sets the WS / IS fill time."""
        native = _NATIVE_BITS[self.p.mac]
        b_bits = native if b_bits is None else b_bits
        a_bits = native if a_bits is None else a_bits
        return self._folds(self.R, self.C, self.bus_bits, m, k, n, b_bits, a_bits)

    def _folds(self, R, C, bus, m, k, n, b_bits, a_bits):
        """fold_cycles on R x C (one view, or (V, 1) columns of views, with their fill-bus
        widths `bus`) for one tile or arrays of tiles (arch/dataflow.py closed forms)."""
        L = self.L
        scalesim = self.p.timing_convention == "scalesim"
        if self.p.dataflow == "output_stationary":
            folds = cdiv(m, R) * cdiv(n, C)
            if scalesim:  # drain overlapped with the skew
                return folds * (cdiv(k, L) + R + C - 2)
            return folds * (cdiv(k, L) + 2 * R + C - 2)
        if self.p.dataflow == "weight_stationary":
            W = fill_cycles(R * L, C, b_bits, bus)
            streamed, cols = m, n  # rows streamed per fold; extent mapped on the columns
        else:  # input_stationary: WS on (B^T, A^T)
            W = fill_cycles(R * L, C, a_bits, self.in_bus_bits)
            streamed, cols = n, m
        kf, cf = cdiv(k, R * L), cdiv(cols, C)
        if scalesim:  # full-width, non-overlapped folds
            return kf * cf * (W + R + C + streamed - 2)
        c_last = cols - (cf - 1) * C
        return ws_cycles(streamed, kf, cf, R, C, c_last, W, self.p.weight_double_buffer)

    def _traffic(self, R, C, m, k, n, a_bits, b_bits) -> tuple[dict, dict]:
        """(buffer read bits, buffer write bits) of a tile between the buffers and an R x C
        array; one tile or arrays, like _folds."""
        acc, L = 32, self.L
        if self.p.dataflow == "weight_stationary":
            kf, nf = cdiv(k, R * L), cdiv(n, C)
            reads = {
                "weight": k * n * b_bits,
                "input": m * k * nf * a_bits,
                "output": m * n * (kf - 1) * acc,
            }
            return reads, {"output": m * n * kf * acc}
        if self.p.dataflow == "input_stationary":
            # each input loads once into its fold; B streams once per m-fold; partial sums
            # of every k-fold but the first are read back and accumulated
            kf, mf = cdiv(k, R * L), cdiv(m, C)
            reads = {
                "input": m * k * a_bits,
                "weight": k * n * mf * b_bits,
                "output": m * n * (kf - 1) * acc,
            }
            return reads, {"output": m * n * kf * acc}
        mf, nf = cdiv(m, R), cdiv(n, C)
        reads = {"weight": k * n * mf * b_bits, "input": m * k * nf * a_bits, "output": 0.0}
        return reads, {"output": m * n * acc}

    def tile_cycles_array(self, m, k, n, a: FormatInfo, b: FormatInfo, stats, views: tuple):
        """tile_cost's cycles and buffer bits for shapes (1, S) on every view (V, 1) at once:
        the same closed forms (_folds, _traffic) on arrays."""
        R, C, bus = view_columns(self, views, "R", "C", "bus_bits")
        a_bits, b_bits = a.element_bits, b.element_bits
        reads, writes = self._traffic(R, C, m, k, n, a_bits, b_bits)
        bits = {x: reads.get(x, 0.0) + writes.get(x, 0.0) for x in ("weight", "input", "output")}
        return self._folds(R, C, bus, m, k, n, b_bits, a_bits), bits

    def mac_energy_pj(self, a: FormatInfo, b: FormatInfo, stats=None) -> float:
        """pJ per MAC: accumulator + multiplier part scaled by the operand widths and by
        the operands' measured bit activity (arch/activity.py; 1.0 without stats)."""
        native = _NATIVE_BITS[self.p.mac]
        ab = min(a.element_bits, native) * min(b.element_bits, native) / native**2
        act = multiplier_activity_factor(stats)
        return self.add_pj + (self.mac_pj - self.add_pj) * ab * act

    def tile_cost(self, tile: Tile) -> TileCost:
        m, k, n = tile.m, tile.k, tile.n
        macs = m * k * n
        a_bits, b_bits = tile.a.element_bits, tile.b.element_bits
        reads, writes = self._traffic(self.R, self.C, m, k, n, a_bits, b_bits)
        fill_pj = 0.0
        if self.p.dataflow == "weight_stationary":  # every weight crosses the fill bus once
            fill_pj = k * n * b_bits * self.span_mm * self.wire_pj
            fill_pj *= activity_factor(tile.stats, "w")  # wires switch with the data
        elif self.p.dataflow == "input_stationary":  # every input crosses the shift chain
            fill_pj = m * k * a_bits * self.span_mm * self.wire_pj
            fill_pj *= activity_factor(tile.stats, "a")
        return TileCost(
            cycles=self.fold_cycles(m, k, n, b_bits, a_bits),
            compute_pj=macs * self.mac_energy_pj(tile.a, tile.b, tile.stats) + fill_pj,
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
