"""`bitserial`: an array of dot-product PEs where one operand is processed serially, a few
bits (or signed terms) per cycle, and the other in parallel: Stripes (activation-serial,
one bit-plane per cycle) and BitMoD (weight-serial, radix-4 Booth / term decoding, FP16
activations, per-group accumulation and a bit-serial dequantization unit).

Array and mapping (BitMoD analytical simulator, `abdelfattah-lab/BitMoD-HPCA-25`
bitmod_sim/accelerator.py `_calc_tile_fc`; SEED_SYSTEMS.md §1). The array is
output-stationary with broadcast operands (no systolic skew): each PE owns one output
(token, output channel) and reduces `lanes` (dp) K elements per step.
  rows (R)  = PEs along M (tokens)           = BitMoD's W (16 in the generative config)
  cols (C)  = PEs along N (output channels)  = BitMoD's H (64)
  lanes (L) = K elements per PE per step     = BitMoD's dp (4; Stripes 16)
So BitMoD's "H x W = 64 x 16" is `rows: 16, cols: 64` here (rows follow M for
output-stationary arrays, as in arch/README.md).

Cycles of one (m x k x n) tile, operands already on chip:
  folds     = ceil(m / R) * ceil(n / C)                (R x C output blocks)
  steps     = ceil(k / L)                              (dp-wide K steps per output)
  s         = cycles per step = PE latency of the serial operand (bits b = its element bits):
                term_encoding "bit"   (Stripes): s = b               (one bit-plane per cycle)
                term_encoding "booth" (BitMoD):  s = ceil(floor(b) / 2)
                  (radix-4 Booth / leading-one term decoding: 2 for W3/W4, 3 for W6, 4 for
                   INT8 KV; BitMoD pe_array.py `pe_latency`)
              with `zero_skip: true`, s = clamp(nonzero_terms * s / t_max, 1, s) where
                t_max = the terms a value can have (b for "bit", s for "booth"):
                Pragmatic-style skipping of zero terms. nonzero_terms comes from the trace
                statistics of the serial operand (prefix x = "w" weight-serial, "a"
                activation-serial; workloads/trace_stats.py): "booth" uses
                `{x}_booth_terms_mean`, "bit" uses (1 - `{x}_bitplane_zero_mean`) * b (one
                bits of the two's-complement codes). The stat is a per-value mean; a
                per-dp-group max (lanes run in lock step) gives the exact figure, a per-value
                mean the optimistic bound. Without the stat (shape-only runs) the mean
                of uniformly random codes, arch/activity.py `random_code_terms` (int8
                Booth: 3.0 of 4 digits; "bit": b / 2).
  per_fold  = max(steps * s, ceil(k / G) * dequant_cycles)   (G = the serial operand's
                group size; the bit-serial dequantizer applies the group scale once per group
                partial sum and overlaps the next group's accumulation, so it only limits
                throughput when a group is shorter than a dequantization; G = 0 -> no term)
  cycles    = ceil(folds * per_fold) + m_last,  m_last = m - (ceil(m/R) - 1) * R
                (output registers are double-buffered: a fold's results leave while the next
                 fold computes; only the last fold's m_last rows drain, one row per cycle)
BitMoD's own model is compute = ceil(Cin/dp) * ceil(Cout/H) * ceil(Ntok/W) * B * pe_latency,
i.e. the first term summed over tiles; the drain is ours (m_last <= R cycles per tile).

Per-tile operation counts (`op_counts`): term cycles, group accumulations, dequantizations
(m * n * ceil(k / G) with groups, else m * n: a per-channel scale applied once per output).

Energy and area follow the lanes (`PE_UNIT_LANES`). A `pe_unit` row of
arch/tech/tables.yaml describes a PE of `unit_lanes` lanes (pe_bitmod: BitMoD's dp = 4;
pe_stripes_sip16: 16; any other unit: 1). A PE of L lanes has L copies of the per-lane
datapath (BitMoD: exponent match + bit-serial multiplier; Stripes: the weight register
and the adder-tree input of one lane) and one copy of the per-PE parts (BitMoD: group
accumulator + dequantizer; Stripes: the shift-accumulator), so with u = unit area,
l = unit_lanes and p = the unit's per-PE fraction:
  area = R * C * u * (p + (1 - p) * L / l)
Energy: one lane-cycle costs e / l (e = the unit's pJ per PE-cycle), charged per active
lane-cycle m * n * k * s (a lane handles one K element per step; idle PEs of partial folds
and idle lanes of a partial last step are clock/operand-gated; BitMoD's model charges all
PEs for every compute cycle). Energy per MAC is therefore independent of R, C and L: the
reduction of L lanes is an (L-1)-adder tree plus one accumulate, one add per lane; the
per-PE parts' energy is taken as per lane too (BitMoD publishes no power breakdown, so
this is an approximation that over-charges the accumulator at L < l and under-charges
it at L > l). For `pe_bitmod` the energy is the synthesized BitMoD PE (0.586 mW at 1 GHz,
28 nm) and includes the group accumulator and the dequantizer, so dequantizations are
counted, not charged again.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from math import ceil, floor, gcd
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from arch.activity import random_code_terms
from arch.dataflow import cdiv, eceil, emax, power_of_two_parts, view_columns
from arch.pe import Tile, TileCost, TileModel
from arch.schema import ArchConfig
from arch.tech import TechTable
from quant.info import FormatInfo

ACC_BITS = 32  # partial sums kept in FP32 / INT32 in the output buffer (our assumption)


@dataclass(frozen=True)
class UnitLanes:
    """How a tables.yaml PE unit splits between per-lane and per-PE hardware."""

    lanes: int  # lanes of the PE the unit's pJ / um^2 were reported for
    per_pe_area_fraction: float  # share of the unit's area that is not replicated per lane


# pe_unit -> UnitLanes (module docstring). Units not listed are one-lane units.
PE_UNIT_LANES: dict[str, UnitLanes] = {
    # BitMoD PE (SEED_SYSTEMS.md §1, yc2367/BitMoD synthesis at 28 nm): exp-match 306.9 +
    # bit-serial mul 748.3 (per lane, 4 lanes) + group accum 546.1 + dequant 192.4 (per PE)
    # = 1793.7 um^2 -> per-PE fraction (546.1 + 192.4) / 1793.7.
    "pe_bitmod": UnitLanes(4, (546.1 + 192.4) / 1793.7),
    # Stripes SIP16 (arch/tech/tables.yaml estimate): 16 lanes of weight flip-flops and
    # adder-tree inputs + one int32 shift-accumulator (137 um^2 of 2560).
    "pe_stripes_sip16": UnitLanes(16, 137.0 / 2560.0),
}


def serial_step_cycles(bits: int, encoding: str) -> int:
    """Cycles a PE spends on one serial value of `bits` bits (see module docstring)."""
    if encoding == "bit":
        return bits
    return ceil(floor(bits) / 2)


def os_tile_cycles(
    m: int,
    k: int,
    n: int,
    rows: int,
    cols: int,
    k_per_step: int,
    step_cycles: float,
    group: int = 0,
    dequant_cycles: int = 0,
) -> int:
    """Closed form of an output-stationary broadcast array (module docstring); one tile or
    numpy arrays of tiles (arch/dataflow.py)."""
    mf = cdiv(m, rows)
    folds = mf * cdiv(n, cols)
    per_fold = cdiv(k, k_per_step) * step_cycles
    if group and dequant_cycles:
        per_fold = emax(per_fold, cdiv(k, group) * dequant_cycles)
    return eceil(folds * per_fold) + (m - (mf - 1) * rows)


def os_buffer_bits(
    m: int, k: int, n: int, rows: int, cols: int, a: FormatInfo, b: FormatInfo
) -> tuple[dict[str, float], dict[str, float]]:
    """Buffer reads/writes of an output-stationary broadcast array: each R-row fold reads
    the k x n weight block once (broadcast down the columns), each C-column fold reads
    the m x k activations once (broadcast along the rows), outputs are written once."""
    reads = {
        "weight": k * n * b.bits_per_element * cdiv(m, rows),
        "input": m * k * a.bits_per_element * cdiv(n, cols),
        "output": 0.0,
    }
    return reads, {"output": 1.0 * (m * n * ACC_BITS)}


class BitSerialParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    serial_operand: Literal["weight", "activation"] = Field(
        "weight", description="operand streamed term by term (B = weight/KV, A = activation)"
    )
    term_encoding: Literal["bit", "booth"] = Field(
        "booth", description="bit: 1 bit-plane/cycle (Stripes); booth: radix-4 terms (BitMoD)"
    )
    parallel: Literal["fp16", "int16", "int8"] = Field(
        "fp16", description="datapath of the parallel operand (BitMoD: FP16 activations)"
    )
    max_serial_bits: int = Field(8, ge=1, le=16, description="widest serial operand")
    zero_skip: bool = Field(False, description="skip zero terms using trace statistics")
    dequant_cycles: int = Field(
        4,
        ge=0,
        description="cycles of one bit-serial group dequantization (8-bit scale, "
        "2 bits/cycle; our assumption, hidden unless groups are shorter)",
    )
    pe_unit: str = Field("pe_bitmod", description="arch/tech/tables.yaml unit of one PE")


class BitSerial(TileModel):
    """Bit-/term-serial dot-product PE array (see module docstring for the cycle model)."""

    family = "bitserial"
    Params = BitSerialParams

    def __init__(self, config: ArchConfig, params: BitSerialParams, tech: TechTable) -> None:
        self.R = config.pe_array.rows
        self.C = config.pe_array.cols
        self.L = config.pe_array.lanes
        self.p = params
        if params.pe_unit not in tech.entries["units"]:
            raise ValueError(f"params.pe_unit {params.pe_unit!r} is not in arch/tech/tables.yaml")
        self.pe_pj, self.pe_um2 = tech.unit(params.pe_unit)
        self.unit_lanes = PE_UNIT_LANES.get(params.pe_unit, UnitLanes(1, 0.0))
        self.lane_pj = self.pe_pj / self.unit_lanes.lanes  # pJ per active lane-cycle

    # -- operands ---------------------------------------------------------------------
    def _split(self, a: FormatInfo, b: FormatInfo) -> tuple[FormatInfo, FormatInfo, str]:
        """(serial format, parallel format, stats prefix)."""
        return (b, a, "w") if self.p.serial_operand == "weight" else (a, b, "a")

    def step_cycles(self, a: FormatInfo, b: FormatInfo, stats=None) -> float:
        """Cycles per dp step (PE latency), with zero-term skipping when enabled."""
        ser, _, x = self._split(a, b)
        s = serial_step_cycles(ser.element_bits, self.p.term_encoding)
        mean = _nonzero_terms(stats or {}, x, self.p.term_encoding, ser.element_bits)
        if self.p.zero_skip and mean is None:  # shape-only: random codes (arch/activity.py)
            mean = random_code_terms(ser.element_bits, self.p.term_encoding, ser.signed)
        if self.p.zero_skip and mean is not None:
            t_max = ser.element_bits if self.p.term_encoding == "bit" else s
            return min(float(s), max(1.0, mean * s / t_max))
        return float(s)

    # -- capability -------------------------------------------------------------------
    def unsupported(self, a: FormatInfo, b: FormatInfo, kind: str) -> str | None:
        ser, par, _ = self._split(a, b)
        role = "weight/KV" if self.p.serial_operand == "weight" else "activation"
        if ser.element_bits > self.p.max_serial_bits:
            return (
                f"a bit-serial PE takes serial ({role}) operands up to "
                f"{self.p.max_serial_bits} bits, not {ser.name}"
            )
        if self.p.term_encoding == "bit" and ser.kind != "int":
            return f"bit-plane serial PEs need an integer {role} format, not {ser.name}"
        if ser.kind == "float" and ser.element_bits > 4:
            return f"term decoding handles FP3/FP4-class {role} formats, not {ser.name}"
        other = "activation" if self.p.serial_operand == "weight" else "weight/KV"
        if self.p.parallel == "fp16":
            ok = par.kind in ("int", "float") and par.element_bits <= 16
            ok = ok and not (par.kind == "float" and par.exponent_bits > 5)
            ok = ok and not (par.kind == "int" and par.element_bits > 11)
        else:
            ok = par.kind == "int" and par.element_bits <= int(self.p.parallel[3:])
        if not ok:
            return f"the {self.p.parallel.upper()} parallel datapath cannot take {other} {par.name}"
        return None

    def tile_quantum(self, a: FormatInfo, b: FormatInfo) -> tuple[int, int, int]:
        ser, _, _ = self._split(a, b)
        kq = self.L
        if ser.block_size:  # keep K tiles group-aligned
            g = ser.block_size
            kq = kq * g // gcd(kq, g)
        return (self.R, kq, self.C)

    def finest_quantum(self, a: FormatInfo, b: FormatInfo) -> tuple[int, int, int]:
        """A tile's folds (cdiv(n, cols)), K steps (cdiv(k, lanes)) and buffer bits never
        grow with cols or lanes (os_tile_cycles, os_buffer_bits), and an array of twice
        the rows has the smaller one as a view (sub_arrays), so tiles of any M and N and
        K tiles of whole groups of the serial operand cost no more on a bigger array."""
        ser, _, _ = self._split(a, b)
        return (1, ser.block_size or 1, 1)

    def sub_arrays(self, exact: bool = True) -> tuple[BitSerial, ...]:
        """Power-of-two fractions of the rows, full array first: a tile may run on r of
        the R rows with the rest idle (ceil(m / r) folds; only the last fold's rows
        drain, os_tile_cycles), which a tile of few K steps per fold drains faster on
        (m = 2r: 2 folds + r drain cycles against 1 fold + 2r). Columns and lanes need
        no views: a tile's folds and steps never grow with them. For the exact mapper
        only (exact=False: the full array): a part wins only where a fold's K steps x N
        folds are fewer than the rows, which no tile of the fast mapper's (K multiples
        of lanes x groups) is on the presets, and the parts cost it 20% of its speed."""
        if not exact:
            return (self,)
        views: list[BitSerial] = [self]
        for r, _ in power_of_two_parts(self.R, 1)[1:]:
            v = copy.copy(self)
            v.R = r
            views.append(v)
        return tuple(views)

    def peak_macs_per_cycle(self, a: FormatInfo, b: FormatInfo) -> float:
        return self.R * self.C * self.L / self.step_cycles(a, b)

    def accumulator_bits(self, a: FormatInfo, b: FormatInfo) -> int:
        return ACC_BITS

    def area_um2(self) -> dict[str, float]:
        """Per-lane datapaths and per-PE parts of R x C PEs of L lanes (module docstring)."""
        u, ul = self.pe_um2, self.unit_lanes
        per_lane = u * (1 - ul.per_pe_area_fraction) / ul.lanes
        per_pe = u * ul.per_pe_area_fraction
        return {"pe": self.R * self.C * (per_pe + self.L * per_lane)}

    # -- cost -------------------------------------------------------------------------
    def tile_cycles(self, tile: Tile) -> int:
        ser, _, _ = self._split(tile.a, tile.b)
        s = self.step_cycles(tile.a, tile.b, tile.stats)
        return os_tile_cycles(
            tile.m,
            tile.k,
            tile.n,
            self.R,
            self.C,
            self.L,
            s,
            ser.block_size,
            self.p.dequant_cycles,
        )

    def tile_cycles_array(self, m, k, n, a: FormatInfo, b: FormatInfo, stats, views: tuple):
        """tile_cost's cycles and buffer bits for shapes (1, S) on every view (V, 1) at once
        (rows R per view): os_tile_cycles and os_buffer_bits on arrays."""
        ser, _, _ = self._split(a, b)
        s = self.step_cycles(a, b, stats)
        (R,) = view_columns(self, views, "R")
        cycles = os_tile_cycles(
            m, k, n, R, self.C, self.L, s, ser.block_size, self.p.dequant_cycles
        )
        reads, writes = os_buffer_bits(m, k, n, R, self.C, a, b)
        bits = {x: reads.get(x, 0.0) + writes.get(x, 0.0) for x in ("weight", "input", "output")}
        return cycles, bits

    def op_counts(self, tile: Tile) -> dict[str, float]:
        """Operations of one tile: active PE-cycles (term cycles), active lane-cycles (one
        lane per K element per step), group accumulations (one per output per group) and
        dequantizations (scale multiplies)."""
        ser, _, _ = self._split(tile.a, tile.b)
        m, k, n = tile.m, tile.k, tile.n
        s = self.step_cycles(tile.a, tile.b, tile.stats)
        groups = ceil(k / ser.block_size) if ser.block_size else 1
        return {
            "pe_cycles": m * n * ceil(k / self.L) * s,
            "lane_cycles": m * n * k * s,
            "group_accumulations": float(m * n * groups),
            "dequantizations": float(m * n * groups),
        }

    def tile_cost(self, tile: Tile) -> TileCost:
        counts = self.op_counts(tile)
        reads, writes = os_buffer_bits(tile.m, tile.k, tile.n, self.R, self.C, tile.a, tile.b)
        return TileCost(
            cycles=self.tile_cycles(tile),
            compute_pj=counts["lane_cycles"] * self.lane_pj,
            buffer_read_bits=reads,
            buffer_write_bits=writes,
            macs=tile.m * tile.k * tile.n,
        )

    def verification(self) -> tuple:
        """`sim verify`: FP16-parallel PEs with Booth terms run the BitMoD kernel (LOD terms
        of BitMoD FP3/FP4, radix-4 Booth of INT6/INT8), with plain binary terms the
        shift-add kernel; INT-parallel PEs the Stripes bit-plane kernel (kernels/README.md).
        Weights wider than `max_serial_bits` are left out."""
        from kernels.spec import VerifySpec

        mb = self.p.max_serial_bits
        if self.p.parallel != "fp16":
            formats = tuple((w, "int8") for w, b in (("int4-g128", 4), ("int8", 8)) if b <= mb)
            return (VerifySpec("kernels.bitserial:stripes_partials", formats),)
        if self.p.term_encoding == "bit":
            formats = tuple(
                (w, "fp16") for w, b in (("int4-g128", 4), ("int4-g128-asym", 4)) if b <= mb
            )
            return (VerifySpec("kernels.mixpe:mixpe_partials", formats),)
        weights = (
            ("bitmod-fp3-g128", 3),
            ("bitmod-fp4-g128", 4),
            ("bitmod-int6-g128", 6),
            ("int8-g128", 8),
        )
        formats = tuple((w, "fp16") for w, b in weights if b <= mb)
        return (VerifySpec("kernels.bitserial:bitmod_partials", formats),)


def _nonzero_terms(stats, x: str, encoding: str, bits: int) -> float | None:
    """Mean nonzero terms per serial value from trace statistics, or None if absent."""
    if encoding == "booth":
        v = stats.get(f"{x}_booth_terms_mean")
        return None if v is None else float(v)
    v = stats.get(f"{x}_bitplane_zero_mean")
    return None if v is None else (1.0 - float(v)) * bits
