"""`mixpe`: bit-parallel MAC arrays for mixed-precision GEMM, with the datapath options
of the low-bit accelerators the BitMoD / MixPE / ANT papers compare against:

- `mac: fp16`            FP16 MAC (BitMoD's FP16 baseline, 1968.7 um^2 / 0.77 mW, 28 nm).
- `mac: int8`            INT8 MAC (Horowitz ISSCC'14 mult + add).
- `mac: fp16_int8`       FP16 activation x INT8 (or decoded 4-bit) weight MAC, the ANT / OliVe
                         PE of BitMoD's comparison (1318.6 um^2 / 0.613 mW, 28 nm).
- `mac: bitfusion`       Bit Fusion fusion unit: 16 2b x 2b BitBricks fused into one 8x8
                         multiplier; at precisions (Pa, Pw) it does (8/Pa)(8/Pw) products per
                         cycle (SEED_SYSTEMS.md §2; ISCA'18).
- `mac: shift_add_int8`  MixPE W4A8 PE: low-bit integer weights multiply INT8 activations by
- `mac: shift_add_fp16`  shifts and adds (W4A16: FP16 activations, the weight scales the
                         exponent), dequantization once per group partial sum after the
                         per-group mpGEMM (MixPE arXiv 2411.16158 §3-4).
- `decoder: ant | olive` a decoder at the array edge turning ANT flint/PoT/float codes, or
                         OliVe outlier-victim pairs, into the integer/exponent form the MAC
                         takes (ANT MICRO'22, OliVe ISCA'23; SEED_SYSTEMS.md §3).

Throughput of fused datapaths (Bit Fusion simulator, as forked by MixPE:
`yuzhang712/mixpe_simulator` bitfusion/src/simulator/simulator.py `get_perf_factor`):
  g(P) = floor(pmax / max(P, pmin)) if P <= pmax else 1 / ceil(P / pmax)   (temporal fusion)
  f    = g(Pa) * g(Pw) for bitfusion (pmax 8, pmin 2 = the BitBrick; `min_bits` overrides),
  f    = g(Pw) for shift_add_int8 (pmax 8, pmin 4) and shift_add_fp16 (pmax 16, pmin 8): the
         activation datapath is fixed-width; MixPE's simulator sets (pmax, pmin) = (8, 4) for
         W4A8 and (16, 8) for W4A16 (conf_mixint.ini, conf_mixfloat.ini),
  f    = 1 for the plain MACs (narrower operands are not faster).
A PE then reduces q = L * f K-elements per cycle (f >= 1), or L per 1/f cycles (f < 1):
  q = L * max(1, floor(f)),  s = cycles per step = max(1, ceil(1 / f)).

Cycles of one (m x k x n) tile (R rows, C cols, L lanes):
- `dataflow: output_stationary` (BitMoD's analytical mapping; rows along M, cols along N,
  broadcast operands, no skew; shared with arch/bitserial.py):
    ceil(m/R) * ceil(n/C) * ceil(k/q) * s + m_last      (m_last = rows of the last m fold,
    the drain of the last fold; earlier drains overlap the next fold)
- `dataflow: weight_stationary` (Bit Fusion's systolic array: rows along K, cols along N;
  double-buffered PE weight registers, as `systolic_mac` — derivation in
  arch/systolic_mac.py): a fold holds an (R*q) x C weight block and streams m rows taking
  ms = ceil(m * s) cycles; kf = ceil(k/(R*q)), nf = ceil(n/C), F = kf * nf folds:
    R + (F - 1) * max(ms, R) + ms + R + c_last - 2        (c_last = n - (nf - 1) * C)

Dequantization (counted per tile in `op_counts`, charged mul_fp16 [+ add_fp16]):
  integer / fused datapaths (int8, bitfusion, shift_add_*) with grouped weights: once per
  group partial sum, m * n * ceil(k/G) (MixPE's post-group dequantization);
  FP datapaths (fp16, fp16_int8) with grouped weights: every weight element entering the
  array is scaled before the MAC (dequantization in the main loop);
  per-channel scales: once per output, m * n.
Decoders: one decode per ANT/OliVe element entering the array (table units dec_ant /
dec_olive); (R + C) * L decoders at the array edges (each edge port carries L elements
per cycle).
Lanes: every tables.yaml unit of this family is a one-lane PE (one multiplier or fusion
unit and its accumulator). A PE of L lanes is L of those datapaths, an (L-1)-adder tree
and one accumulator, i.e. L datapath + adder pairs, so
  area   = R * C * L * unit um^2  (+ (R + C) * L decoders)
  energy = active lane-cycles m * n * ceil(k / fi) * s * unit pJ,  fi = max(1, floor(f))
(a lane takes fi K elements per step; idle PEs of partial folds and idle lanes of a
partial last step are gated), so energy per MAC does not depend on R, C or L.
"""

from __future__ import annotations

import copy
from math import ceil
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from arch.bitserial import ACC_BITS, os_buffer_bits, os_tile_cycles
from arch.dataflow import (
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

# mac -> (tables.yaml unit, pmax, pmin, fused, activation datapath)
_MACS: dict[str, tuple[str, int, int, str, str]] = {
    "int8": ("mac_int8", 8, 8, "none", "int"),
    "fp16": ("mac_fp16", 16, 16, "none", "fp16"),
    "fp16_int8": ("mac_fp16_int8", 16, 16, "none", "fp16"),
    "bitfusion": ("pe_bitfusion", 8, 2, "both", "int"),
    "shift_add_int8": ("pe_mixpe_w4a8", 8, 4, "weight", "int"),
    "shift_add_fp16": ("pe_mixpe_w4a16", 16, 8, "weight", "fp16"),
}
_DECODER_UNIT = {"ant": "dec_ant", "olive": "dec_olive"}
_DECODER_PREFIX = {"ant": "ant", "olive": "olive-"}


def fusion_gain(bits: int, pmax: int, pmin: int) -> float:
    """Products per cycle along one operand of a fused unit (g(P) in the docstring)."""
    if bits <= pmax:
        return float(pmax // max(bits, pmin))
    return 1.0 / ceil(bits / pmax)


class MixPEParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    mac: Literal["int8", "fp16", "fp16_int8", "bitfusion", "shift_add_int8", "shift_add_fp16"] = (
        Field("shift_add_int8", description="PE datapath (module docstring)")
    )
    decoder: Literal["none", "ant", "olive"] = Field(
        "none", description="edge decoder for ANT / OliVe codes"
    )
    dataflow: Literal["output_stationary", "weight_stationary"] = "output_stationary"
    min_bits: int | None = Field(
        None, ge=1, le=16, description="override of the fused datapath's pmin (bits)"
    )
    weight_fill_bits: int | None = Field(
        None,
        ge=1,
        description="WS weight-fill bus width (bits/cycle, arch/dataflow.py); default: one "
        "PE row per cycle (the shift chain of the seed simulators), W = rows",
    )


class MixPE(TileModel):
    """Mixed-precision bit-parallel MAC array (see module docstring for the cycle model)."""

    family = "mixpe"
    Params = MixPEParams

    def __init__(self, config: ArchConfig, params: MixPEParams, tech: TechTable) -> None:
        self.R = config.pe_array.rows
        self.C = config.pe_array.cols
        self.L = config.pe_array.lanes
        self.cfg = config
        self.p = params
        unit, self.pmax, pmin, self.fused, self.act_path = _MACS[params.mac]
        self.pmin = params.min_bits or pmin
        self.pe_pj, self.pe_um2 = tech.unit(unit)
        self.dq_mul_pj, _ = tech.unit("mul_fp16")
        self.dq_add_pj, _ = tech.unit("add_fp16")
        self.dec_pj, self.dec_um2 = (0.0, 0.0)
        if params.decoder != "none":
            self.dec_pj, self.dec_um2 = tech.unit(_DECODER_UNIT[params.decoder])

    # -- throughput -------------------------------------------------------------------
    def fusion(self, a: FormatInfo, b: FormatInfo) -> float:
        """Products per PE per cycle per lane, f (module docstring)."""
        if self.p.mac == "fp16_int8":
            # 16-bit B operands (FP16 KV cache, INT9..16) go through the 8-bit weight port
            # in two passes (the 11-bit FP16 significand / two bytes); decoded codes in one.
            return 1.0 if self._decodable(b) or (b.kind == "int" and b.element_bits <= 8) else 0.5
        if self.fused == "none":
            return 1.0
        f = fusion_gain(b.element_bits, self.pmax, self.pmin)
        if self.fused == "both":
            f *= fusion_gain(a.element_bits, self.pmax, self.pmin)
        return f

    def step(self, a: FormatInfo, b: FormatInfo) -> tuple[int, int]:
        """(q = K elements per step, s = cycles per step)."""
        f = self.fusion(a, b)
        return self.L * max(1, int(f)), max(1, ceil(1 / f - 1e-9))

    def sub_arrays(self, exact: bool = True) -> tuple[MixPE, ...]:
        """WS: every power-of-two fraction of rows x cols, full array first (arch/dataflow.py
        "Sub-arrays": output taps at the last used row; the default shift chain loads r
        rows in r cycles, an explicit `weight_fill_bits` bus fills only the PEs in use).
        OS (BitMoD's broadcast mapping, no skew to save): power-of-two fractions of the
        rows for the exact mapper (as bitserial.BitSerial.sub_arrays: fewer rows drain
        less), the full array only for the fast one."""
        parts = power_of_two_parts(self.R, self.C)
        if self.p.dataflow != "weight_stationary" and not exact:
            return (self,)
        if self.p.dataflow != "weight_stationary":  # every column kept
            parts = [(r, self.C) for r, _ in power_of_two_parts(self.R, 1)]
        views: list[MixPE] = [self]
        for r, c in parts[1:]:
            v = copy.copy(self)
            v.R, v.C = r, c
            views.append(v)
        return tuple(views)

    # -- capability -------------------------------------------------------------------
    def _decodable(self, f: FormatInfo) -> bool:
        dec = self.p.decoder
        return dec != "none" and f.name.startswith(_DECODER_PREFIX[dec]) and f.element_bits <= 8

    def _takes(self, f: FormatInfo, path: str, width: int) -> bool:
        """Can a datapath of class `path` ("int" of `width` bits, or "fp16") take f?"""
        if self._decodable(f):
            return True
        if f.kind == "nonuniform":
            return False
        if path == "int":
            return f.kind == "int" and f.element_bits <= width
        if f.kind == "float":  # any float format FP16 holds exactly
            return f.element_bits <= 16 and f.exponent_bits <= 5
        return f.element_bits <= 11  # integers exactly representable in FP16

    def unsupported(self, a: FormatInfo, b: FormatInfo, kind: str) -> str | None:
        """Operand rules (widths in bits): int8 MAC: INT<=8 x INT<=8; fp16: FP16-exact x
        FP16-exact; fp16_int8: FP16-exact activations x (INT<=8 or decoded codes at full
        rate, INT<=16 / FP16-exact in two passes); bitfusion: INT<=16 x INT<=16 (above 8
        bits by temporal fusion); shift_add_int8: INT<=8 activations x INT<=16 weights;
        shift_add_fp16: FP16-exact activations x (INT<=16 or FP16-exact) weights (16-bit
        operands at the base rate, pmax 16 in MixPE's simulator)."""
        mac = self.p.mac
        a_width = 16 if mac == "bitfusion" else 8
        a_ok = self._takes(a, self.act_path, a_width)
        if mac in ("fp16", "shift_add_fp16"):
            b_ok = self._takes(b, "fp16", 16) or self._takes(b, "int", 16)
        elif mac == "fp16_int8":
            b_ok = self._takes(b, "int", 16) or self._takes(b, "fp16", 16)
        else:
            b_ok = self._takes(b, "int", 8 if mac == "int8" else 16)
        if mac == "fp16":
            b_ok = self._takes(b, "fp16", 16)
        hint = ""
        if self.p.decoder == "none" and "nonuniform" in (a.kind, b.kind):
            hint = " (ANT/OliVe codes need `decoder: ant|olive`)"
        if not a_ok:
            return f"a {mac} MAC array cannot take activation format {a.name}{hint}"
        if not b_ok:
            return f"a {mac} MAC array cannot take weight/KV format {b.name}{hint}"
        return None

    def tile_quantum(self, a: FormatInfo, b: FormatInfo) -> tuple[int, int, int]:
        q, _ = self.step(a, b)
        if self.p.dataflow == "weight_stationary":
            return (1, self.R * q, self.C)
        return (self.R, q, self.C)

    def finest_quantum(self, a: FormatInfo, b: FormatInfo) -> tuple[int, int, int]:
        """Weight-stationary: the finest of its sub-arrays (TileModel). Output-stationary
        (os_tile_cycles, as bitserial.finest_quantum): tiles of any M and N, K in steps."""
        if self.p.dataflow == "weight_stationary":
            return super().finest_quantum(a, b)
        q, _ = self.step(a, b)
        return (1, q, 1)

    def peak_macs_per_cycle(self, a: FormatInfo, b: FormatInfo) -> float:
        q, s = self.step(a, b)
        return self.R * self.C * q / s

    def accumulator_bits(self, a: FormatInfo, b: FormatInfo) -> int:
        return ACC_BITS

    def area_um2(self) -> dict[str, float]:
        """R x C PEs of L one-lane datapaths; (R + C) x L edge decoders (module docstring)."""
        area = {"pe": self.R * self.C * self.L * self.pe_um2}
        if self.p.decoder != "none":
            area["decoder"] = (self.R + self.C) * self.L * self.dec_um2
        return area

    # -- cost -------------------------------------------------------------------------
    def tile_cycles(self, tile: Tile) -> int:
        if self.p.dataflow == "output_stationary":
            q, s = self.step(tile.a, tile.b)
            return os_tile_cycles(tile.m, tile.k, tile.n, self.R, self.C, q, s)
        return self._ws(self.R, self.C, tile.m, tile.k, tile.n, tile.a, tile.b)[0]

    def _ws(self, R, C, m, k, n, a: FormatInfo, b: FormatInfo):
        """Weight-stationary (cycles, buffer read bits, buffer write bits) of a tile on an
        R x C array: one tile, or arrays of tiles on (V, 1) columns of views alike."""
        q, s = self.step(a, b)
        kf, nf = cdiv(k, R * q), cdiv(n, C)
        W = R
        if self.p.weight_fill_bits is not None:
            wb = self.cfg.memory.buffers.weight
            bus = bus_bits_per_cycle(self.p.weight_fill_bits, wb.banks, wb.width_bits)
            W = fill_cycles(R * q, C, b.element_bits, bus)
        cycles = ws_cycles(m * s, kf, nf, R, C, n - (nf - 1) * C, W, double_buffer=True)
        reads = {
            "weight": k * n * b.bits_per_element,
            "input": m * k * nf * a.bits_per_element,
            "output": 1.0 * (m * n * (kf - 1) * ACC_BITS),
        }
        return cycles, reads, {"output": 1.0 * (m * n * kf * ACC_BITS)}

    def tile_cycles_array(self, m, k, n, a: FormatInfo, b: FormatInfo, stats, views: tuple):
        """tile_cost's cycles and buffer bits for shapes (1, S) on every view (V, 1) at once
        (weight-stationary: _ws on arrays; output-stationary: os_tile_cycles and
        os_buffer_bits on arrays)."""
        R, C = view_columns(self, views, "R", "C")
        if self.p.dataflow == "output_stationary":
            q, s = self.step(a, b)
            cycles = os_tile_cycles(m, k, n, R, C, q, s)
            reads, writes = os_buffer_bits(m, k, n, R, C, a, b)
        else:
            cycles, reads, writes = self._ws(R, C, m, k, n, a, b)
        bits = {x: reads.get(x, 0.0) + writes.get(x, 0.0) for x in ("weight", "input", "output")}
        return cycles, bits

    def _entries(self, tile: Tile) -> tuple[int, int]:
        """(weight elements, activation elements) entering the array for this tile."""
        m, k, n = tile.m, tile.k, tile.n
        if self.p.dataflow == "output_stationary":
            return k * n * ceil(m / self.R), m * k * ceil(n / self.C)
        return k * n, m * k * ceil(n / self.C)

    def op_counts(self, tile: Tile) -> dict[str, float]:
        """Operations of one tile: active PE-cycles, active lane-cycles (module
        docstring), dequantizations, decodes."""
        m, k, n, b = tile.m, tile.k, tile.n, tile.b
        q, s = self.step(tile.a, tile.b)
        fi = q // self.L  # K elements per lane per step
        w_in, a_in = self._entries(tile)
        if not b.block_size:
            dq, per_element = m * n, False
        elif self.p.mac in ("fp16", "fp16_int8"):
            dq, per_element = w_in, True
        else:
            dq, per_element = m * n * ceil(k / b.block_size), False
        decodes = (w_in if self._decodable(b) else 0) + (a_in if self._decodable(tile.a) else 0)
        return {
            "pe_cycles": float(m * n * ceil(k / q) * s),
            "lane_cycles": float(m * n * ceil(k / fi) * s),
            "dequantizations": float(dq),
            "dequant_per_element": float(per_element),
            "decodes": float(decodes),
        }

    def tile_cost(self, tile: Tile) -> TileCost:
        c = self.op_counts(tile)
        dq_pj = self.dq_mul_pj + (0.0 if c["dequant_per_element"] else self.dq_add_pj)
        compute = c["lane_cycles"] * self.pe_pj + c["dequantizations"] * dq_pj
        compute += c["decodes"] * self.dec_pj
        m, k, n = tile.m, tile.k, tile.n
        if self.p.dataflow == "output_stationary":
            reads, writes = os_buffer_bits(m, k, n, self.R, self.C, tile.a, tile.b)
            cycles = self.tile_cycles(tile)
        else:
            cycles, reads, writes = self._ws(self.R, self.C, m, k, n, tile.a, tile.b)
        return TileCost(
            cycles=cycles,
            compute_pj=compute,
            buffer_read_bits=reads,
            buffer_write_bits=writes,
            macs=m * k * n,
        )

    def verification(self) -> tuple:
        """`sim verify`: the kernel of this datapath (kernels/README.md). An ANT / OliVe
        decoder runs the decoder kernel on its codes (activations INT8 or FP16 as the MAC
        takes them); bitfusion the 2-bit BitBrick kernel; shift_add_* the MixPE shift-add
        kernel; int8 the INT8 MAC; fp16 and an undecoded fp16_int8 the FP32-accumulating
        MAC (INT8 weights are exact FP16 values)."""
        from kernels.spec import VerifySpec

        act = "fp16" if self.act_path == "fp16" else "int8"
        if self.p.decoder == "ant":
            names = ("ant4", "ant-flint4", "ant-pot4", "ant-int4")
            return (VerifySpec("kernels.decoders:ant_partials", tuple((w, act) for w in names)),)
        if self.p.decoder == "olive":
            names = ("olive-int4", "olive-flint4")
            formats = tuple((w, act) for w in names)
            return (VerifySpec("kernels.decoders:olive_partials", formats),)
        mac = self.p.mac
        if mac == "bitfusion":
            formats = (("int4", "int8"), ("int2", "int8"), ("int8", "int8"), ("int4", "int4"))
            return (VerifySpec("kernels.bitfusion:bitfusion_partials", formats),)
        if mac.startswith("shift_add"):
            formats = (("int4-g128", act), ("int4-g128-asym", act))
            return (VerifySpec("kernels.mixpe:mixpe_partials", formats),)
        if mac == "int8":
            return (VerifySpec("kernels.mac:int8_partials", (("int8", "int8"),)),)
        return (VerifySpec("kernels.mac:fp_mac_gemm", (("fp16", "fp16"),)),)
