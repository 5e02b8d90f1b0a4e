"""`fpga_dsp`: an FPGA LLM overlay of DSP-slice MACs — FlightLLM (FPGA'24).

Sources: SEED_SYSTEMS.md §6; the FlightLLM artifact `FlightLLM/flightllm_test_demo`:
`profile/config.yaml` (VHK158 model: 225 MHz, MM parallelism N2 K16 M128, MV N64 K16,
MM issue 128 rows x 16 cols, MV issue 512 cols, block (FSB) 16, HBM 819.2 "GB/s" over 32
channels computed as 819.2 * 2^30 B/s, efficiency 0.7 within a channel / 0.35 across,
A buffer 4096 x 256 B x 8 channels, B buffer 4096 x 32 B, global buffer 512 x 256 B x 8,
MISC parallelism 16) and `profile/inst_gen/inst_profiler.py` + `layer_support/IR_linear_*`
(instruction costs, load streams, and `correction_factor = 3.2`).

Why `cost_op` (whole-op) and not the engine's tile pipeline: FlightLLM is an instruction
overlay whose time per op is `max(matrix-unit time, HBM load time)` with loads split into
streams of different channel counts and efficiencies (weights in decode over 8 channels
at the same-channel efficiency, weights in prefill over one channel at the cross-channel
efficiency, activations over 8 channels) and whose decode keeps activations on chip. The
engine's single-DRAM tile pipeline cannot express per-stream channel/efficiency nor
"activations never leave the chip", so the family costs whole ops (arch.pe.OpCost).

Array shape: `pe_array.rows` = MM K parallelism, `pe_array.cols` x `lanes` = MM M x N
parallelism (checked against `params.mm`), so rows x cols x lanes = INT8 MACs per cycle.

Cycle model (per op execution; d = density of the op's weights, 1 if dense; kb = ceil(K/16)).
One core's instruction stream (what the repo's profiler times):
  MV (one activation row, the decode GEMV):  per MV instruction (512 outputs x kb blocks)
      K_blocks * 16 * 512 / (mv_n * mv_k) cycles           = 8 * kb for N64 K16
      cycles_MV = M * ceil(N / 512) * kb * 16 * 512 / (mv_n * mv_k) * d
  MM (128 rows x 16 outputs x kb blocks per instruction):
      128 * K_blocks * 16 * 16 / (mm_m * mm_n * mm_k) cycles = 8 * kb for M128 N2 K16
      cycles_MM = ceil(M / 128) * ceil(N / 16) * kb * 128*16*16 / (mm_m*mm_n*mm_k) * d
  The compiler picks the cheaper mode (the repo uses MV for M = 1, MM otherwise).
  Sparse DSP chain: zero 16-blocks are skipped, so cycles scale by d (repo: computation *=
  sparse_ratio); d is the op's `weight_density` (linear ops only), which the workload sets:
  FlightLLM's compressed model prunes q/k projections to 0.7, given by the presets'
  `defaults.weight_density: {q_proj: 0.7, k_proj: 0.7}` (or measured in a trace).
  Loads: bytes / (channel_bw * channels * efficiency) per stream (inst_profiler.time_LD),
  channel_bw = memory.dram.bandwidth / hbm.channels (the physical per-channel peak):
    weights  MV: `mv_weight_channels` (8) at same-channel eff; MM: `mm_weight_channels` (1)
             at cross-channel eff when `mm_weights_cross_channel`; reloaded once per
             128-row MM block (the A buffer keeps the activation rows, weights stream by).
             MV with M > 1 rows (a GQA group of query heads against one KV head, or a
             decode batch): one MV instruction group's slab of the B operand (K x 512
             columns at its stored width) stays in the weight (A) buffer while every row
             uses it, so the B operand is read once per op when the slab fits in half that
             buffer (double-buffered: the repo's compiler keeps 2 slabs in flight,
             IR_linear_mv `input_weights_dependency_len >= 2`); else once per row.
    KV cache (attention B operand): `act_channels` (8) at same-channel efficiency.
    activations / outputs: 0 in decode when `always_on_chip_decode` and they fit the
      input/output buffers (FlightLLM's always-on-chip decode); else over `act_channels`.
  Weight bytes = K*N*(d*(element_bits + index_bits) + block metadata bits) / 8 with
  index_bits = `sparse_index_bits` for sparse ops (0 reproduces the repo profile, whose
  IR has mask_mode none, so no index/meta loads).
Multi-core: `cores` copies of that core (FlightLLM: one per SLR, config.yaml SLR_NUM = 4
on the VHK158), each with its own MM/MV unit, MISC unit, buffers (memory.buffers are per
core) and its own group of HBM channels (the per-core stream channel counts above:
A_BUFFER_HBM_CHANNEL_NUM = 8 = 32 channels / 4 SLRs). An op's instruction stream divides
over the cores (output columns of a linear op, heads of attention; the repo ends every
layer's instructions with a SYS that synchronizes all SLRs), and the cores sustain
`parallel_efficiency` of the ideal split (the slowest core and the layer barrier set the
op's end; it slows compute and loads alike):
  op cycles = max(compute, load) / (cores * parallel_efficiency) + kernel_overhead_cycles
(loads and the matrix unit run as separate instruction queues that overlap; the repo's
dependency simulation of decode shows MV 8.81 ms of a 9.28 ms total at 144 tokens).
Every byte moves over channels that exist: the cores' channel groups together must fit in
`hbm.channels` (checked), so no stream, and no op, exceeds memory.dram's physical peak.
The repo's profiler instead divides every instruction time, loads included, by
`correction_factor = 3.2` (inst_profiler.py, unexplained) over one core's 8 channels, so
its decode weights stream at 2.2x those channels' peak. We read 3.2 as SLR_NUM 4 x 0.8
[our reading]: `cores: 4` is the mechanism, `parallel_efficiency: 0.8` the one factor
taken from the repo's number; neither lets a memory run above its peak.
  Vector ops (MISC unit, `vector_unit.lanes` elements/cycle per core): elements * passes /
  lanes with passes = 2 for softmax and norm (read all, then compute), 1 for act and
  eltwise (inst_profiler.time_MISC).

DSP packing (resource report; `dsp` = device.dsp_kind):
  dsp48e2 (27x18 multiplier): 2 INT8 products per slice sharing one operand, (a*2^18 + b)*c,
    with LUT correction of the lower product's sign (Xilinx WP486); 4 INT4 products per
    slice [unverified].
  dsp58 (Versal): 3-element INT8 vector dot product per DSP (AMD UG1273 / AM004);
    6 INT4 products [unverified, assumed 2x INT8].
  DSPs used = cores * ceil(matrix MACs per cycle / products per DSP at `dsp_precision`)
  + `extra_dsp`; matrix MACs = max(MM, MV) with `unified_matrix_unit` (MM and MV share the
  DSP chains, FlightLLM's unified MPE) else their sum.
  BRAM36 (36 Kib, <= 72 bits wide) / URAM (288 Kib, <= 72 bits wide) per buffer:
  max(ceil(bits / capacity), banks * ceil(width_bits / 72)); `uram_buffers` lists the
  buffers placed in URAM; times `cores`. LUTs = `luts_per_mac` * MACs * cores +
  `luts_fixed` [assumptions].
  A design over any device budget raises ValueError naming the field (-> InputError).
"""

from __future__ import annotations

from math import ceil
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from arch.pe import OpCost, OpModel
from arch.schema import ArchConfig
from arch.tech import TechTable
from arch.vector import VectorModel, fusion_rules
from quant.info import FormatInfo

BRAM36_BITS, URAM_BITS, BRAM_URAM_WIDTH = 36 * 1024, 288 * 1024, 72  # UG1273 / AM007
PRODUCTS_PER_DSP = {  # (dsp kind, precision) -> products per slice (module docstring)
    ("dsp48e2", "int8"): 2,
    ("dsp48e2", "int4"): 4,
    ("dsp58", "int8"): 3,
    ("dsp58", "int4"): 6,
}
MISC_PASSES = {"softmax": 2, "norm": 2, "act": 1, "eltwise": 1}  # inst_profiler.time_MISC
MV_ISSUE_N = 512  # config.yaml MV_START_N_NUM
MM_ISSUE_M, MM_ISSUE_N = 128, 16  # config.yaml MM_START_M_NUM, MM_START_N_NUM


class _P(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Device(_P):
    name: str = Field(description="FPGA part, e.g. xcu280, xcvh1782")
    dsp_kind: Literal["dsp48e2", "dsp58"] = "dsp48e2"
    dsp: PositiveInt = Field(description="DSP slices available")
    bram36: PositiveInt = Field(description="36 Kib block RAMs available")
    uram: int = Field(0, ge=0, description="288 Kib UltraRAMs available")
    lut: PositiveInt = Field(description="6-input LUTs available")


class MMPar(_P):
    m: PositiveInt = 128
    n: PositiveInt = 2
    k: PositiveInt = 16


class MVPar(_P):
    n: PositiveInt = 64
    k: PositiveInt = 16


class Hbm(_P):
    channels: PositiveInt = Field(32, description="pseudo-channels sharing memory.dram BW")
    same_channel_efficiency: float = Field(0.7, gt=0, le=1)
    cross_channel_efficiency: float = Field(0.35, gt=0, le=1)
    mv_weight_channels: PositiveInt = 8
    mm_weight_channels: PositiveInt = 1
    mm_weights_cross_channel: bool = True
    act_channels: PositiveInt = 8


class FPGAParams(_P):
    device: Device
    dsp_precision: Literal["int8", "int4"] = "int8"
    mm: MMPar = Field(default_factory=MMPar)
    mv: MVPar = Field(default_factory=MVPar)
    unified_matrix_unit: bool = True
    block: PositiveInt = Field(16, description="sparse block / FSB size along K")
    sparse_index_bits: float = Field(4.0, ge=0, description="index bits per kept weight")
    hbm: Hbm = Field(default_factory=Hbm)
    always_on_chip_decode: bool = True
    cores: PositiveInt = Field(
        1, description="copies of the core (one per SLR), each with its own HBM channel group"
    )
    parallel_efficiency: float = Field(
        1.0, gt=0, le=1, description="fraction of the cores' ideal split an op sustains"
    )
    uram_buffers: list[Literal["weight", "input", "output"]] = Field(default_factory=list)
    luts_per_mac: float = Field(8.0, ge=0, description="[assumption] control+packing LUTs")
    luts_fixed: int = Field(150_000, ge=0, description="[assumption] HBM/ISA/SFU logic")
    extra_dsp: int = Field(0, ge=0, description="DSPs of the SFU / other units")


class FPGADSP(OpModel):
    """FlightLLM-style FPGA overlay (see module docstring for the models)."""

    family = "fpga_dsp"
    Params = FPGAParams

    def __init__(self, config: ArchConfig, params: FPGAParams, tech: TechTable) -> None:
        self.cfg = config
        self.p = params
        mm = params.mm
        pe = config.pe_array
        if (pe.rows, pe.cols * pe.lanes) != (mm.k, mm.m * mm.n):
            raise ValueError(
                f"pe_array rows x cols*lanes = {pe.rows} x {pe.cols * pe.lanes} must be the MM "
                f"unit's K x (M*N) = {mm.k} x {mm.m * mm.n} (pe_array.params.mm)"
            )
        h = params.hbm
        per_core = max(h.mv_weight_channels, h.mm_weight_channels, h.act_channels)
        if params.cores * per_core > h.channels:
            raise ValueError(
                f"{params.cores} cores x {per_core} HBM channels each = "
                f"{params.cores * per_core} > the memory's {h.channels} channels "
                "(pe_array.params.cores, pe_array.params.hbm)"
            )
        kind = params.device.dsp_kind
        self.mac_pj, _ = tech.unit(f"fpga_{kind}_mac_int8")
        self.report = self.resources()
        for res, (used, avail) in self.report.items():
            if used > avail:
                raise ValueError(
                    f"design does not fit {params.device.name}: needs {used} {res} but the "
                    f"device has {avail} (pe_array.params.device.{res}); " + self._why(res)
                )

    # -- resources --------------------------------------------------------------------
    def matrix_macs(self) -> int:
        mm = self.p.mm.m * self.p.mm.n * self.p.mm.k
        mv = self.p.mv.n * self.p.mv.k
        return max(mm, mv) if self.p.unified_matrix_unit else mm + mv

    def _why(self, res: str) -> str:
        if res == "dsp":
            per = PRODUCTS_PER_DSP[(self.p.device.dsp_kind, self.p.dsp_precision)]
            return (
                f"{self.matrix_macs()} {self.p.dsp_precision.upper()} MACs/cycle at {per} "
                f"per {self.p.device.dsp_kind} (pe_array.params.mm / mv)"
            )
        if res in ("bram36", "uram"):
            return "on-chip buffers too large (memory.buffers, pe_array.params.uram_buffers)"
        return "logic estimate (pe_array.params.luts_per_mac / luts_fixed)"

    def resources(self) -> dict[str, tuple[int, int]]:
        """{resource: (used, available)} for dsp, bram36, uram, lut."""
        d = self.p.device
        per = PRODUCTS_PER_DSP[(d.dsp_kind, self.p.dsp_precision)]
        cores = self.p.cores
        dsp = cores * ceil(self.matrix_macs() / per) + self.p.extra_dsp
        bram = uram = 0
        for which in ("weight", "input", "output"):
            b = getattr(self.cfg.memory.buffers, which)
            cap = URAM_BITS if which in self.p.uram_buffers else BRAM36_BITS
            blocks = max(
                ceil(b.size_bytes * 8 / cap), b.banks * ceil(b.width_bits / BRAM_URAM_WIDTH)
            )
            if which in self.p.uram_buffers:
                uram += cores * blocks
            else:
                bram += cores * blocks
        lut = ceil(self.p.luts_per_mac * self.matrix_macs() * cores) + self.p.luts_fixed
        return {
            "dsp": (dsp, d.dsp),
            "bram36": (bram, d.bram36),
            "uram": (uram, d.uram),
            "lut": (lut, d.lut),
        }

    # -- capability -------------------------------------------------------------------
    def unsupported(self, a: FormatInfo, b: FormatInfo, kind: str) -> str | None:
        for role, f in (("activation", a), ("weight/KV", b)):
            if f.kind != "int" or f.element_bits > 8:
                return f"the FPGA DSP datapath takes int2..int8 {role}s, not {f.name}"
        return None

    def peak_macs_per_cycle(self, a: FormatInfo, b: FormatInfo) -> float:
        mm, mv = self.p.mm.m * self.p.mm.n * self.p.mm.k, self.p.mv.n * self.p.mv.k
        return float(self.p.cores * max(mm, mv))  # one op runs in MM or MV mode

    def area_um2(self) -> dict[str, float]:
        return {}  # an FPGA: see resources() for its "area"

    # -- cycle model ------------------------------------------------------------------
    def mv_cycles(self, M: int, K: int, N: int, d: float) -> float:
        """MV: M rows x ceil(N/512) instructions of K_blocks*16*512/(mv_n*mv_k) cycles."""
        per_block = self.p.block * MV_ISSUE_N / (self.p.mv.n * self.p.mv.k)
        return M * ceil(N / MV_ISSUE_N) * ceil(K / self.p.block) * per_block * d

    def mm_cycles(self, M: int, K: int, N: int, d: float) -> float:
        """MM: ceil(M/128)*ceil(N/16) instructions of 128*K_blocks*16*16/(m*n*k) cycles."""
        mm = self.p.mm
        per_block = MM_ISSUE_M * self.p.block * MM_ISSUE_N / (mm.m * mm.n * mm.k)
        return ceil(M / MM_ISSUE_M) * ceil(N / MM_ISSUE_N) * ceil(K / self.p.block) * per_block * d

    def mv_slab_fits(self, K: int, N: int, b: FormatInfo, d: float) -> bool:
        """Whether one MV instruction group's slab of the B operand (K x 512 columns at its
        stored width) fits in half the weight (A) buffer, so that all M rows of an op use
        it before the next slab loads (module docstring)."""
        idx = self.p.sparse_index_bits if d < 1 else 0.0
        meta = b.bits_per_element - b.element_bits
        slab = K * min(N, MV_ISSUE_N) * (d * (b.element_bits + idx) + meta) / 8
        return slab <= self.cfg.memory.buffers.weight.size_bytes / 2

    def _bytes_per_cycle(self, accel, channels: int, cross: bool) -> float:
        """One core's stream, HBM bytes per cycle: channel peak x channels x efficiency."""
        d = self.cfg.memory.dram
        h = self.p.hbm
        per_channel = d.bandwidth_gb_s * 1e9 * d.efficiency / h.channels / accel.frequency_hz
        eff = h.cross_channel_efficiency if cross else h.same_channel_efficiency
        return per_channel * min(channels, h.channels) * eff

    def vector_model(self, accel) -> VectorModel:  # noqa: ANN001 - Accelerator
        """The MISC units (inst_profiler.time_MISC): `MISC_PASSES` lane passes per element,
        data kept in the output buffer when it fits, else read and written back over the
        activation channels; `cores` MISC units (lanes) and channel groups, at
        `parallel_efficiency` like every op."""
        vu = self.cfg.vector_unit
        out = self.cfg.memory.buffers.output
        cores = self.p.cores
        bpc = cores * self._bytes_per_cycle(accel, self.p.hbm.act_channels, False)
        fused, on_chip = fusion_rules(self.cfg, out.size_bytes)  # the arch's `fusion`
        return VectorModel(
            lanes=vu.lanes * cores,
            energy_pj_per_op=vu.energy_pj_per_op,
            lane_ops=MISC_PASSES,
            dram_passes=dict.fromkeys(MISC_PASSES, 2.0),
            dram_bytes_per_cycle=dict.fromkeys(MISC_PASSES, bpc),
            dram_pj_per_bit=self.cfg.memory.dram.energy_pj_per_bit,
            on_chip_bytes=on_chip,
            sram_pj_per_byte=8 / out.width_bits * accel.buffer_access_pj("output"),
            sram_passes=2.0,
            fused=fused,
            overhead_cycles=self.cfg.kernel_overhead_cycles,
            time_scale=1 / self.p.parallel_efficiency,
        )

    def cost_op(self, op, a: FormatInfo, b: FormatInfo, accel) -> OpCost:  # noqa: ANN001
        M, K, N = op.M, op.K, op.N
        d = op.weight_density if op.kind == "linear" else 1.0
        mv, mm = self.mv_cycles(M, K, N, d), self.mm_cycles(M, K, N, d)
        use_mv = mv <= mm
        compute = mv if use_mv else mm
        h = self.p.hbm
        # B operand (weights or KV cache), sparse-compressed with index bits per kept value
        idx = self.p.sparse_index_bits if d < 1 else 0.0
        meta = b.bits_per_element - b.element_bits
        b_bytes = K * N * (d * (b.element_bits + idx) + meta) / 8
        if use_mv:
            reloads = 1 if self.mv_slab_fits(K, N, b, d) else M
        else:
            reloads = ceil(M / MM_ISSUE_M)
        if op.kind == "linear":
            ch, cross = (
                (h.mv_weight_channels, False)
                if use_mv
                else (h.mm_weight_channels, h.mm_weights_cross_channel)
            )
        else:
            ch, cross = h.act_channels, False
        b_stream = b_bytes * reloads
        a_bytes = M * K * a.bits_per_element / 8
        o_bytes = M * N * a.bits_per_element / 8
        bufs = self.cfg.memory.buffers
        on_chip = (
            self.p.always_on_chip_decode
            and op.phase == "decode"
            and a_bytes <= bufs.input.size_bytes
            and o_bytes <= bufs.output.size_bytes
        )
        if self.cfg.fusion.attention:  # FlashAttention-style: scores never leave the chip
            a_bytes = 0.0 if op.kind == "attn_pv" else a_bytes
            o_bytes = 0.0 if op.kind == "attn_qk" else o_bytes
        act_stream = 0.0 if on_chip else a_bytes + o_bytes
        load = b_stream / self._bytes_per_cycle(accel, ch, cross)
        load += act_stream / self._bytes_per_cycle(accel, h.act_channels, False)
        # one core's stream over its own channels, split over `cores` (module docstring)
        scale = 1 / (self.p.cores * self.p.parallel_efficiency)
        cycles = max(compute, load) * scale + self.cfg.kernel_overhead_cycles
        dram = b_stream + act_stream
        sram_bits = 2 * b_stream * 8 + a_bytes * 8 * ceil(N / MV_ISSUE_N) + 2 * o_bytes * 8
        width = bufs.weight.width_bits
        return OpCost(
            cycles=cycles,
            compute_cycles=compute * scale,
            memory_cycles=load * scale,
            compute_pj=M * K * N * d * self.mac_pj,
            sram_pj=sram_bits / width * accel.buffer_access_pj("weight"),
            dram_pj=dram * 8 * self.cfg.memory.dram.energy_pj_per_bit,
            dram_bytes=dram,
            bound="compute" if compute >= load else "memory",
        )

    def verification(self) -> tuple:
        """`sim verify`: the DSP packing of `dsp_precision` (kernels/fpga_dsp.py): two INT8
        products per DSP multiply (INT8 and INT4 weights), or four INT4 products."""
        from kernels.spec import VerifySpec

        if self.p.dsp_precision == "int8":
            formats = (("int8", "int8"), ("int4-g128", "int8"))
            return (VerifySpec("kernels.fpga_dsp:dsp_int8_partials", formats),)
        return (VerifySpec("kernels.fpga_dsp:dsp_int4_partials", (("int4-g128", "int4"),)),)
