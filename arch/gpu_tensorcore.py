"""`gpu_tensorcore`: a GPU running library GEMM kernels (cuBLAS-style) on tensor cores.

The calibration baseline: its parameters are fitted to GEMM latencies measured on a real
H100 (benchmarks/data/h100_gemm.csv, fitted by benchmarks/fit_h100.py, written into
arch/presets/h100.yaml). It is a physical model with a handful of parameters, not a lookup
table of shapes. The engine uses `cost_op` (whole op), not the tile pipeline.

GEMM (M x K) @ (K x N); the API returns microseconds (names ending in _us), `cost_op`
cycles of frequency_mhz:

1. Precision class of the tensor-core instruction (`precision`):
   - fp16: activations fp16/bf16 (or any <= 16-bit format) x any weight format that is not
     int8/fp8-class with a matching activation: fp16/bf16 GEMMs, and weight-only low-bit
     formats. A weight format listed under a measured weight-only kernel
     (`weight_only_kernels`, below) runs that kernel's own model; any other (int3, mx/fp4
     ...) is ASSUMED to run at the fp16 rate with the weights read at their stored bits
     (dequantization in registers hidden, as in Marlin-style kernels; not measured).
   - int8: integer activations and weights of <= 8 bits (W8A8, W4A8 upcast to int8).
   - fp8: float activations and weights of <= 8 bits (e4m3/e5m2; narrower floats upcast).
   fp32 activations are rejected (TF32 is not modelled).
2. Output-tile (CTA) quantization. The library picks, per shape, the fastest of its CTA
   tile shapes (tm x tn, `cta_tiles`) and split-K factors s (`split_k`). For a choice:
      ctas = ceil(M/tm) * ceil(N/tn) * s,   waves = ceil(ctas / sms)
      tile_cycles = max(tm*tn*ceil(K/s) / (peak * eff),                    # tensor cores
                        (min(tm,M)*a_B + min(tn,N)*b_B) * ceil(K/s) / l2_B)  # operand feed
                    + tile_overhead_cycles                                  # prologue/epilogue
      compute = waves * tile_cycles / f
   peak = dense MAC/cycle/SM of the precision (datasheet), eff = the fitted fraction the
   kernels sustain at clock f (it absorbs the power-limited clock: the H100 runs large
   GEMMs at 1.3-1.6 GHz under its 700 W limit, benchmarks/data/h100_probe.json),
   a_B / b_B = operand bytes per element, l2_B = L2->SM bytes/cycle/SM (fitted).
3. HBM traffic: unique bytes once (the L2 catches tile re-reads, CUTLASS-style rasterized
   tile order):  bytes = M*K*a_bits/8 + K*N*b_bits/8 + M*N*out_bytes (+ split-K partials
   2*s*M*N*4 when s > 1), memory = bytes / (dram.bandwidth * dram.efficiency).
   With `weights_in_l2` (weights reused while resident) weights of at most
   `l2_resident_bytes` move at `l2_bandwidth_gb_s` instead (measured: 33.6 MB of weights
   stayed resident, 45 MB did not; the 50 MB L2 is two partitions, so the preset says
   40 MB). A forward pass streams each layer's weights once and the model's weights are
   GBs, so the presets leave it off.
4. time = (compute^p + memory^p)^(1/p) + kernel_fixed_us[prec]: a smooth max (p -> inf is
   max, p = 1 is the sum) for the partial overlap of the tile pipeline with HBM streaming,
   plus the per-kernel fixed time seen back to back (ramp-up, tail, grid launch inside a
   CUDA graph). In `timing: per_call` mode `launch_overhead_us` (host dispatch + launch +
   synchronize of one isolated eager call) is added. `kernel_overhead_cycles` (arch
   schema: fixed cycles per op execution) is added to every op, as on every family.
5. Weight-only kernels (`weight_only_kernels`: kernel name -> the weight formats it runs,
   16-bit float activations, `linear` ops only). The kernel a user actually runs, not
   cuBLAS: measured on the H100, torch's `_weight_int4pack_mm` (tinygemm; W4A16, groups of
   128, bf16 scale and zero per group) is linear in M from M ~ 8 on: it dequantizes and
   multiplies on the CUDA/tensor cores at a rate far under cuBLAS's. Per kernel:
      memory  = K*N*stored_bits_per_weight/8 / (dram.bandwidth * bandwidth_efficiency)
      compute = M*K*N / rate_macs_per_s
      time    = fixed_us + (memory^p + compute^p)^(1/p)      (+ launch_overhead_us per_call)
   with stored_bits_per_weight the kernel's layout (4 + 2 x 16 / 128 = 4.25 for int4pack:
   nibbles plus a bf16 scale and zero per group, whatever the format's own scale bits).
   The four numbers are the least-squares fit `fit_int4` of
   benchmarks/fidelity/h100_layers.py to benchmarks/fidelity/data/h100_int4*.csv (60
   shapes x M = 1..512, HBM-streamed weights; median 2.3 %, worst 7.4 %); tests/arch/
   test_gpu_tensorcore.py refits them. Activation and output bytes are counted in the
   op's HBM bytes but not in the fitted time (<= 1 % of the bytes where memory matters).
   No CTA tiles, split-K or waves are modelled for these kernels (reported as 0).
   `GemmTime.kernel` / `GPUTensorCore.kernel_for` name the kernel an op runs.

Attention ops (attn_qk / attn_pv, count = layers x heads) run inside batched kernels, one
set per layer: one head's share is costed at full SM occupancy (no wave quantization) and
the kernels' fixed time, paid once per layer, is charged on the layer's softmax op (count =
layers; an op execution of one head cannot carry a per-layer cost):
- `fusion.attention` (default; FlashAttention, the usual H100 inference kernel): one kernel
  per layer whose scores never reach HBM: attn_qk writes no output, attn_pv reads no
  probabilities; softmax costs its lane operations on the CUDA cores (vector_unit.lanes
  per cycle), no HBM traffic, plus `attention_fixed_us`, the fixed time of one attention
  kernel (measured: SDPA forced to FlashAttention-2, decode 32 heads x 16 keys, 5.51 us
  back to back; benchmarks/data/h100_attention.csv).
  Its HBM streams (Q, K/V cache, output) move at `attention_hbm_efficiency` x
  dram.bandwidth when set (the attention kernel's own streaming efficiency; the h100
  preset's 0.9242 is cuDNN SDPA, PyTorch's default on the H100, reaching 3.10 TB/s over
  >= 1 GB KV caches in benchmarks/fidelity/data/h100_layers*.csv), else at the GEMM-fitted
  dram.efficiency.
- unfused: a batched GEMM kernel each for QK and PV (their fixed time: kernel_fixed_us
  of fp16, the measured per-GEMM-kernel time) and a softmax kernel (vector_fixed_us,
  2 HBM passes) per layer.

Vector ops (norm, act, eltwise; softmax when not fused): one kernel each, bandwidth bound:
   time = passes * elements * bits/8 / (BW * dram.efficiency * vector_efficiency[kind])
          + vector_fixed_us[kind] (+ launch_overhead_us per call),
   passes = 2 (read + write: norm, softmax and act, which is unary: SiLU/GELU/ReLU of one
   tensor), 3 for eltwise (two inputs: residual add, the SwiGLU gate product `gate_mul`,
   rotary); vector_efficiency measured (benchmarks/data/h100_vector.csv: add, rms_norm,
   softmax of 4096-wide fp16 rows).

Energy (pJ): compute = MACs * mac_pj[prec]; sram = HBM bytes * onchip_pj_per_byte (L2,
NoC, shared memory traffic that each HBM byte causes); dram = HBM bits * dram.energy_pj_per_bit.
mac_pj and onchip_pj_per_byte come from board power (nvidia-smi) minus idle power during
sustained 8192^3 GEMMs and an HBM-bound GEMV (benchmarks/fit_h100.py derives them); the
HBM device energy per bit is an assumption (see the preset). Idle (static) board power,
127 W measured, is not part of any op's energy.
Area: the whole die (die_area_mm2) split by `area_fraction` (an assumption; no vendor
breakdown exists), the SRAM buffers of the preset being subtracted from the "uncore" part
so that the accelerator's area total is the die.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, model_validator

from arch.pe import OpCost, OpModel
from arch.schema import ArchConfig
from arch.tech import TechTable
from arch.vector import VectorModel, fusion_rules
from quant.info import FormatInfo

PRECISIONS = ("fp16", "int8", "fp8")
Precision = Literal["fp16", "int8", "fp8"]
# lane operations per element (as the engine's vector model) and HBM passes per element
_VECTOR_OPS = {"softmax": 5, "norm": 4, "act": 4, "eltwise": 1}
_VECTOR_PASSES = {"softmax": 2, "norm": 2, "act": 2, "eltwise": 3}  # act is unary


def _per_prec(default: float) -> dict[str, float]:
    return dict.fromkeys(PRECISIONS, default)


class WeightOnlyKernel(BaseModel):
    """One measured weight-only GEMM kernel (module docstring, 5); sources in the preset."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kernel: str = Field(min_length=1, description="what the user runs, e.g. a torch op name")
    formats: list[str] = Field(min_length=1, description="weight formats it runs")
    stored_bits_per_weight: PositiveFloat = Field(
        description="bits the kernel reads per weight (its own layout, scales included)"
    )
    rate_macs_per_s: PositiveFloat = Field(description="dequantize-and-multiply rate, MAC/s")
    fixed_us: float = Field(ge=0, description="fixed time per call, back to back, us")
    bandwidth_efficiency: float = Field(
        gt=0, le=1, description="fraction of dram.bandwidth_gb_s its weight stream reaches"
    )
    overlap_exponent: float = Field(ge=1, description="p of the smooth max")

    @model_validator(mode="after")
    def _known_formats(self) -> WeightOnlyKernel:
        from quant.info import format_info

        for f in self.formats:
            try:
                format_info(f)
            except Exception as e:  # noqa: BLE001 - any lookup failure is a bad name
                raise ValueError(f"weight_only_kernels: unknown format {f!r}") from e
        return self


class GPUParams(BaseModel):
    """Parameters of the GPU model (units in the names; sources in arch/presets/h100.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sms: PositiveInt = Field(132, description="streaming multiprocessors (= pe_array.rows)")
    peak_macs_per_cycle_per_sm: dict[Precision, PositiveFloat] = Field(
        default_factory=lambda: {"fp16": 2048.0, "int8": 4096.0, "fp8": 4096.0},
        description="dense tensor-core MACs per cycle per SM, datasheet",
    )
    compute_efficiency: dict[Precision, float] = Field(
        default_factory=lambda: _per_prec(0.7),
        description="fraction of peak the GEMM kernels sustain at frequency_mhz (fitted)",
    )
    cta_tiles: dict[Precision, list[tuple[PositiveInt, PositiveInt]]] = Field(
        default_factory=lambda: dict.fromkeys(PRECISIONS, [(64, 128), (128, 128), (128, 256)]),
        description="output tile shapes (tm, tn) the library chooses from",
    )
    split_k: list[PositiveInt] = Field(
        [1, 2, 4, 8], min_length=1, description="split-K factors it may use"
    )
    tile_overhead_cycles: float = Field(0.0, ge=0, description="per CTA tile (fitted)")
    l2_bytes_per_cycle_per_sm: PositiveFloat = Field(
        64.0, description="operand feed from L2 to one SM, bytes/cycle (fitted)"
    )
    overlap_exponent: float = Field(4.0, ge=1, description="p of the smooth max (fitted)")
    kernel_fixed_us: dict[Precision, float] = Field(
        default_factory=lambda: _per_prec(3.0),
        description="fixed time per GEMM kernel, back to back (fitted), us",
    )
    output_bytes: dict[Precision, PositiveFloat] = Field(
        default_factory=lambda: {"fp16": 2.0, "int8": 4.0, "fp8": 2.0},
        description="bytes per output element (fp16: same type, int8: int32, fp8: bf16)",
    )
    timing: Literal["steady", "per_call"] = Field(
        "steady", description="steady: back-to-back kernels; per_call: isolated eager calls"
    )
    launch_overhead_us: float = Field(0.0, ge=0, description="per eager call (fitted), us")
    l2_resident_bytes: PositiveFloat = Field(
        40e6, description="largest weight that stays L2-resident across calls, bytes"
    )
    l2_bandwidth_gb_s: PositiveFloat = Field(6000.0, description="L2-resident weight reads")
    weights_in_l2: bool = Field(
        False, description="weights <= l2_resident_bytes read from L2 (hot reuse)"
    )
    attention_fixed_us: float = Field(
        5.51, ge=0, description="fixed time of one fused attention kernel (measured), us"
    )
    attention_hbm_efficiency: float | None = Field(
        None,
        gt=0,
        le=1,
        description="fraction of dram.bandwidth_gb_s attention kernels stream at (measured); "
        "None: dram.efficiency",
    )
    weight_only_kernels: dict[str, WeightOnlyKernel] = Field(
        default_factory=dict,
        description="measured weight-only GEMM kernels by name (module docstring, 5)",
    )
    vector_fixed_us: dict[str, float] = Field(
        default_factory=lambda: dict.fromkeys(_VECTOR_OPS, 2.0),
        min_length=1,
        description="fixed time per vector kernel by op kind, back to back, us (measured)",
    )
    vector_efficiency: dict[str, float] = Field(
        default_factory=lambda: dict.fromkeys(_VECTOR_OPS, 1.0),
        description="fraction of achievable HBM bandwidth per vector op kind (measured)",
    )
    mac_pj: dict[Precision, PositiveFloat] = Field(
        default_factory=lambda: {"fp16": 1.7, "int8": 1.3, "fp8": 0.85},
        description="dynamic chip energy per MAC (measured board power), pJ",
    )
    onchip_pj_per_byte: float = Field(
        0.0, ge=0, description="on-chip energy per HBM byte moved (measured), pJ"
    )
    die_area_mm2: PositiveFloat = Field(814.0, description="die area, mm^2")
    area_fraction: dict[str, float] = Field(
        default_factory=lambda: {"tensor_cores": 0.2, "sm_other": 0.3},
        description="die fractions; the rest is uncore (L2, HBM PHY, NoC, I/O)",
    )

    @model_validator(mode="after")
    def _check(self) -> GPUParams:
        for name in ("compute_efficiency", "cta_tiles", "kernel_fixed_us", "mac_pj"):
            missing = set(PRECISIONS) - set(getattr(self, name))
            if missing:
                raise ValueError(f"{name} needs an entry for {sorted(missing)}")
        if any(not tiles for tiles in self.cta_tiles.values()):
            raise ValueError("cta_tiles needs at least one tile shape per precision")
        if any(v < 0 for v in self.vector_fixed_us.values()):
            raise ValueError("vector_fixed_us values must be >= 0")
        if any(not 0 < e <= 1 for e in self.compute_efficiency.values()):
            raise ValueError("compute_efficiency values must be in (0, 1]")
        if sum(self.area_fraction.values()) >= 1:
            raise ValueError("area_fraction values must sum to less than 1")
        seen: dict[str, str] = {}
        for name, k in self.weight_only_kernels.items():
            for f in k.formats:
                if f in seen:
                    raise ValueError(f"weight_only_kernels: {f!r} in both {seen[f]} and {name}")
                seen[f] = name
        return self


@dataclass(frozen=True)
class GemmTime:
    """One GEMM's modelled time (us) and the choice behind it."""

    time_us: float
    compute_us: float
    memory_us: float
    fixed_us: float
    hbm_bytes: float
    tile: tuple[int, int]
    split_k: int
    ctas: int
    waves: int
    kernel: str = "cublas"  # the library kernel it runs (a weight_only_kernels name)

    @property
    def bound(self) -> str:
        return "compute" if self.compute_us >= self.memory_us else "memory"


def gemm_time_arrays(
    p: GPUParams,
    freq_hz: float,
    hbm_bytes_s: float,
    prec: str,
    M: np.ndarray,
    K: np.ndarray,
    N: np.ndarray,
    a_bits: np.ndarray | float,
    b_bits: np.ndarray | float,
    timing: str | None = None,
    weights_in_l2: bool | None = None,
    batched: bool = False,
    read_a: bool = True,
    write_o: bool = True,
) -> dict[str, np.ndarray]:
    """Vectorized GEMM time model (module docstring) over arrays of shapes (all us).

    hbm_bytes_s: achievable HBM bandwidth (peak x efficiency), bytes/s. Returns arrays:
    time_us, compute_us, memory_us, fixed_us, hbm_bytes, and the chosen tm, tn, s, ctas,
    waves. `batched` (attention heads): compute at full occupancy, no fixed time.
    read_a / write_o: whether the A operand / the output cross HBM (fused attention: no).
    """
    M, K, N = (np.asarray(x, dtype=np.float64)[..., None] for x in (M, K, N))
    a_bits = np.asarray(a_bits, dtype=np.float64)[..., None]
    b_bits = np.asarray(b_bits, dtype=np.float64)[..., None]
    timing = p.timing if timing is None else timing
    in_l2 = p.weights_in_l2 if weights_in_l2 is None else weights_in_l2
    cands = np.array([(tm, tn, s) for tm, tn in p.cta_tiles[prec] for s in p.split_k], float)
    tm, tn, s = cands[:, 0], cands[:, 1], cands[:, 2]
    rate = p.peak_macs_per_cycle_per_sm[prec] * p.compute_efficiency[prec]  # MAC/cycle/SM
    kk = np.ceil(K / s)
    ctas = np.ceil(M / tm) * np.ceil(N / tn) * s
    waves = np.ceil(ctas / p.sms)
    feed = (np.minimum(tm, M) * a_bits + np.minimum(tn, N) * b_bits) / 8 * kk
    tile_cyc = np.maximum(tm * tn * kk / rate, feed / p.l2_bytes_per_cycle_per_sm)
    tile_cyc = tile_cyc + p.tile_overhead_cycles
    if batched:
        compute = M * N * K / (p.sms * rate) / freq_hz * 1e6 + 0 * s
    else:
        compute = waves * tile_cyc / freq_hz * 1e6
    a_b, w_b = M * K * a_bits / 8 * read_a, K * N * b_bits / 8
    o_b = M * N * p.output_bytes[prec] * write_o
    part = np.where(s > 1, 2 * s * M * N * 4, 0.0)
    hot = (w_b <= p.l2_resident_bytes) if in_l2 else np.zeros_like(w_b, dtype=bool)
    hbm = a_b + o_b + part + np.where(hot, 0.0, w_b)
    memory = hbm / hbm_bytes_s * 1e6 + np.where(hot, w_b / (p.l2_bandwidth_gb_s * 1e9) * 1e6, 0)
    q = p.overlap_exponent
    big = np.maximum(compute, memory)
    t = big * ((compute / big) ** q + (memory / big) ** q) ** (1 / q)
    best = np.argmin(t, axis=-1)[..., None]

    def pick(x: np.ndarray) -> np.ndarray:
        return np.take_along_axis(np.broadcast_to(x, t.shape), best, axis=-1)[..., 0]

    fixed = 0.0 if batched else p.kernel_fixed_us[prec]
    if timing == "per_call" and not batched:
        fixed = fixed + p.launch_overhead_us
    tt = pick(t)
    return {
        "time_us": tt + fixed,
        "compute_us": pick(compute),
        "memory_us": pick(memory),
        "fixed_us": np.full_like(tt, fixed),
        "hbm_bytes": pick(hbm),
        "tm": pick(tm),
        "tn": pick(tn),
        "s": pick(s),
        "ctas": pick(ctas),
        "waves": pick(waves),
    }


def weight_only_time_arrays(
    k: WeightOnlyKernel,
    peak_bytes_s: float,
    M: np.ndarray,
    K: np.ndarray,
    N: np.ndarray,
    a_bits: np.ndarray | float,
    out_bytes: float,
    launch_us: float = 0.0,
    l2_bytes_s: float | None = None,
) -> dict[str, np.ndarray]:
    """Time (us) of a measured weight-only kernel (module docstring, 5), vectorized.

    peak_bytes_s: the HBM's datasheet bandwidth, bytes/s. l2_bytes_s: when given, the
    weights are L2-resident and stream at that rate instead. Same keys as gemm_time_arrays.
    """
    M, K, N = (np.asarray(x, dtype=np.float64) for x in (M, K, N))
    w_b = K * N * k.stored_bits_per_weight / 8
    bw = peak_bytes_s * k.bandwidth_efficiency if l2_bytes_s is None else l2_bytes_s
    memory = w_b / bw * 1e6 + 0 * M
    compute = M * K * N / k.rate_macs_per_s * 1e6
    q = k.overlap_exponent
    big = np.maximum(np.maximum(compute, memory), 1e-30)
    t = big * ((compute / big) ** q + (memory / big) ** q) ** (1 / q)
    fixed = k.fixed_us + launch_us
    hbm = M * K * np.asarray(a_bits, np.float64) / 8 + M * N * out_bytes
    hbm = hbm + (w_b if l2_bytes_s is None else 0.0)
    zero = np.zeros_like(t)
    return {
        "time_us": t + fixed,
        "compute_us": compute,
        "memory_us": memory,
        "fixed_us": np.full_like(t, fixed),
        "hbm_bytes": hbm,
        **dict.fromkeys(("tm", "tn", "ctas", "waves"), zero),
        "s": zero + 1,
    }


class GPUTensorCore(OpModel):
    """A GPU's tensor cores behind library GEMM kernels (see module docstring)."""

    family = "gpu_tensorcore"
    Params = GPUParams

    def __init__(self, config: ArchConfig, params: GPUParams, tech: TechTable) -> None:
        if config.pe_array.rows != params.sms:
            raise ValueError(
                f"pe_array.rows ({config.pe_array.rows}) must equal params.sms ({params.sms})"
            )
        self.p = params
        self.config = config
        self.tech = tech
        self.freq_hz = config.frequency_mhz * 1e6
        d = config.memory.dram
        self.peak_hbm_bytes_s = d.bandwidth_gb_s * 1e9
        self.hbm_bytes_s = self.peak_hbm_bytes_s * d.efficiency
        eff = params.attention_hbm_efficiency
        self.attention_hbm_bytes_s = (
            self.hbm_bytes_s if eff is None else d.bandwidth_gb_s * 1e9 * eff
        )
        self._wo = {f: k for k in params.weight_only_kernels.values() for f in k.formats}

    # -- capability -------------------------------------------------------------------
    def precision(self, a: FormatInfo, b: FormatInfo) -> str:
        """Tensor-core instruction class for activations `a` x weights/KV `b`."""
        if a.element_bits <= 8 and b.element_bits <= 8:
            if a.kind == "int" and b.kind == "int":
                return "int8"
            if a.kind == "float" and b.kind == "float":
                return "fp8"
        return "fp16"

    def unsupported(self, a: FormatInfo, b: FormatInfo, kind: str) -> str | None:
        if a.element_bits > 16:
            return f"GPU tensor-core model takes activations of <= 16 bits, not {a.name}"
        if b.element_bits > 16:
            return f"GPU tensor-core model takes weights/KV of <= 16 bits, not {b.name}"
        return None

    def weight_only_kernel(self, a: FormatInfo, b: FormatInfo) -> WeightOnlyKernel | None:
        """The measured weight-only kernel a linear op of activations `a` x weights `b`
        runs (16-bit float activations, weights in its formats), else None (cuBLAS)."""
        if a.kind == "float" and a.element_bits == 16:
            return self._wo.get(b.name)
        return None

    def kernel_for(self, a: FormatInfo, b: FormatInfo, kind: str = "linear") -> str:
        """Name of the kernel an op of this kind and these formats runs."""
        if kind != "linear":
            return "fused_attention" if self.config.fusion.attention else "cublas_batched"
        k = self.weight_only_kernel(a, b)
        return "cublas" if k is None else k.kernel

    def peak_macs_per_cycle(self, a: FormatInfo, b: FormatInfo) -> float:
        return float(self.p.sms * self.p.peak_macs_per_cycle_per_sm[self.precision(a, b)])

    def area_um2(self) -> dict[str, float]:
        """Die area by part (um^2); uncore excludes the preset's SRAM buffers and vector
        unit, which the accelerator adds, so that the total is die_area_mm2."""
        die = self.p.die_area_mm2 * 1e6
        out = {k: f * die for k, f in self.p.area_fraction.items()}
        sram = sum(
            self.tech.sram_area_um2(b.size_bytes, b.banks)
            for b in (
                self.config.memory.buffers.weight,
                self.config.memory.buffers.input,
                self.config.memory.buffers.output,
            )
        )
        out["uncore"] = die - sum(out.values()) - sram - self.config.vector_unit.area_um2
        return out

    # -- whole ops --------------------------------------------------------------------
    def gemm_time(
        self,
        M: int,
        K: int,
        N: int,
        a: FormatInfo,
        b: FormatInfo,
        timing: str | None = None,
        weights_in_l2: bool | None = None,
        batched: bool = False,
        read_a: bool = True,
        write_o: bool = True,
    ) -> GemmTime:
        """Modelled time of one (M x K) @ (K x N) GEMM (module docstring): a linear GEMM
        (batched=False) of a weight format with a measured weight-only kernel runs that
        kernel (5); batched (attention) GEMMs stream at the attention HBM efficiency."""
        prec = self.precision(a, b)
        wo = None if batched else self.weight_only_kernel(a, b)
        if wo is not None:
            timing = self.p.timing if timing is None else timing
            in_l2 = self.p.weights_in_l2 if weights_in_l2 is None else weights_in_l2
            hot = in_l2 and K * N * wo.stored_bits_per_weight / 8 <= self.p.l2_resident_bytes
            r = weight_only_time_arrays(
                wo,
                self.peak_hbm_bytes_s,
                M,
                K,
                N,
                a.bits_per_element,
                self.p.output_bytes[prec],
                self.p.launch_overhead_us if timing == "per_call" else 0.0,
                self.p.l2_bandwidth_gb_s * 1e9 if hot else None,
            )
            return GemmTime(
                float(r["time_us"]),
                float(r["compute_us"]),
                float(r["memory_us"]),
                float(r["fixed_us"]),
                float(r["hbm_bytes"]),
                (0, 0),
                1,
                0,
                0,
                wo.kernel,
            )
        r = gemm_time_arrays(
            self.p,
            self.freq_hz,
            self.attention_hbm_bytes_s if batched else self.hbm_bytes_s,
            prec,
            M,
            K,
            N,
            a.bits_per_element,
            b.bits_per_element,
            timing,
            weights_in_l2,
            batched,
            read_a,
            write_o,
        )
        return GemmTime(
            float(r["time_us"]),
            float(r["compute_us"]),
            float(r["memory_us"]),
            float(r["fixed_us"]),
            float(r["hbm_bytes"]),
            (int(r["tm"]), int(r["tn"])),
            int(r["s"]),
            int(r["ctas"]),
            int(r["waves"]),
            self.kernel_for(a, b, "attn_qk") if batched else "cublas",
        )

    def vector_model(self, accel) -> VectorModel:  # noqa: ANN001 - Accelerator
        """One kernel per vector op, bandwidth bound (module docstring): `_VECTOR_PASSES`
        HBM passes at the measured `vector_efficiency`, plus `vector_fixed_us` per kernel
        (and `launch_overhead_us` per call in per_call timing). The layer's softmax op also
        carries the fixed time of its attention kernels (module docstring): with
        `fusion.attention` it runs inside the one attention kernel (lane operations, no HBM
        pass, `attention_fixed_us`); unfused, beside two batched GEMM kernels."""
        p = self.p
        launch = p.launch_overhead_us if p.timing == "per_call" else 0.0
        fallback = max(p.vector_fixed_us.values())
        kinds = tuple(_VECTOR_OPS)
        bpc = self.hbm_bytes_s / self.freq_hz
        fixed_us = {k: p.vector_fixed_us.get(k, fallback) + launch for k in kinds}
        passes = dict(_VECTOR_PASSES)
        # fused epilogues cost no kernel of their own (the shared rule, arch/vector.py);
        # softmax is kept out: it carries the attention kernels' fixed time (below)
        fused, on_chip = fusion_rules(self.config, 0.0)
        if self.config.fusion.attention:
            passes["softmax"] = 0.0
            fixed_us["softmax"] = p.attention_fixed_us + launch
        else:
            fixed_us["softmax"] += 2 * (p.kernel_fixed_us["fp16"] + launch)
        return VectorModel(
            lanes=self.config.vector_unit.lanes,
            energy_pj_per_op=self.config.vector_unit.energy_pj_per_op,
            lane_ops=_VECTOR_OPS,
            dram_passes=passes,
            dram_bytes_per_cycle={k: bpc * p.vector_efficiency.get(k, 1.0) for k in kinds},
            dram_pj_per_bit=self.config.memory.dram.energy_pj_per_bit,
            on_chip_bytes=on_chip,
            sram_pj_per_byte=p.onchip_pj_per_byte,
            sram_passes=None,
            fused=fused - {"softmax"},
            fixed_cycles={k: us * 1e-6 * self.freq_hz for k, us in fixed_us.items()},
            overhead_cycles=self.config.kernel_overhead_cycles,
        )

    def cost_op(self, op, a: FormatInfo, b: FormatInfo, accel) -> OpCost:  # noqa: ANN001
        fused = self.config.fusion.attention
        g = self.gemm_time(
            op.M,
            op.K,
            op.N,
            a,
            b,
            batched=op.kind != "linear",
            read_a=not (fused and op.kind == "attn_pv"),
            write_o=not (fused and op.kind == "attn_qk"),
        )
        if g.fixed_us > max(g.compute_us, g.memory_us):
            bound = "overhead"
        else:
            bound = g.bound
        dram_pj_bit = self.config.memory.dram.energy_pj_per_bit
        return OpCost(
            cycles=g.time_us * 1e-6 * self.freq_hz + self.config.kernel_overhead_cycles,
            compute_cycles=g.compute_us * 1e-6 * self.freq_hz,
            memory_cycles=g.memory_us * 1e-6 * self.freq_hz,
            compute_pj=op.macs * self.p.mac_pj[self.precision(a, b)],
            sram_pj=g.hbm_bytes * self.p.onchip_pj_per_byte,
            dram_pj=g.hbm_bytes * 8 * dram_pj_bit,
            dram_bytes=g.hbm_bytes,
            bound=bound,
        )

    def verification(self) -> tuple:
        """`sim verify`: the tensor-core MACs of the precisions this GPU declares
        (`peak_macs_per_cycle_per_sm`): INT8 with an exact accumulator; FP16/BF16 and FP8
        E4M3 with FP32 accumulation (kernels/README.md)."""
        from kernels.spec import VerifySpec

        prec = self.p.peak_macs_per_cycle_per_sm
        specs = []
        if "int8" in prec:
            specs.append(VerifySpec("kernels.mac:int8_partials", (("int8", "int8"),)))
        fp = [f for f, p in (("fp16", "fp16"), ("bf16", "fp16"), ("fp8-e4m3", "fp8")) if p in prec]
        if fp:
            specs.append(VerifySpec("kernels.mac:fp_mac_gemm", tuple((f, f) for f in fp)))
        return tuple(specs)
