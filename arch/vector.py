"""The one vector-op model: norm, softmax, activation and element-wise ops on every family.

A vector op touches `elements` values of `bits` each. Its time is

    cycles = max(compute, memory) * time_scale + fixed_cycles[kind] + overhead_cycles
    compute = ceil(elements * lane_ops[kind] / lanes)            (vector/SFU lanes)
    memory  = dram_bytes / dram_bytes_per_cycle[kind]
    dram_bytes = 0 when the op is fused into its producer (`fused`) or its data fits
                 on chip (elements*bits/8 <= on_chip_bytes), else
                 dram_passes[kind] * elements * bits / 8

and its energy is lane_ops * energy_pj_per_op (compute), sram_bytes * sram_pj_per_byte
(on-chip traffic: `sram_passes` element passes, or the DRAM bytes when sram_passes is
None, as on a GPU whose on-chip traffic follows its HBM traffic) and DRAM bits * pJ/bit.

Each family gives the parameters through `PEModel.vector_model(accel)`; the engine calls
`cost_vector` for every vector op of every family. Sources of the per-kind constants are
given where they are defined (ASIC defaults below; GPU and FPGA in their modules).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from math import ceil
from typing import TYPE_CHECKING

from arch.pe import OpCost

if TYPE_CHECKING:
    from arch.accelerator import Accelerator

# Lane operations per element of vector ops (state of the art SFU pipelines; our
# assumption): softmax = max, subtract, exp, sum, divide; norm (RMS/Layer) = square,
# sum, rsqrt-scale, weight multiply; act (SiLU/GELU) = exp, add, divide, multiply;
# eltwise (residual add, rotary, gating product) = 1.
LANE_OPS_PER_ELEMENT = {"softmax": 5.0, "norm": 4.0, "act": 4.0, "eltwise": 1.0}


@dataclass(frozen=True)
class VectorModel:
    """Parameters of `cost_vector` for one accelerator (see module docstring)."""

    lanes: int
    energy_pj_per_op: float
    lane_ops: Mapping[str, float]
    dram_passes: Mapping[str, float]
    dram_bytes_per_cycle: Mapping[str, float]
    dram_pj_per_bit: float
    on_chip_bytes: float
    sram_pj_per_byte: float
    sram_passes: float | None = 2.0
    fused: frozenset[str] = frozenset()
    fixed_cycles: Mapping[str, float] = field(default_factory=dict)
    overhead_cycles: float = 0.0
    time_scale: float = 1.0


def cost_vector(kind: str, elements: int, bits: float, vm: VectorModel) -> OpCost:
    """Cost of one execution of a vector op of `kind` over `elements` values of `bits`."""
    lane_ops = elements * vm.lane_ops[kind]
    compute = ceil(lane_ops / vm.lanes)
    nbytes = elements * bits / 8
    if kind in vm.fused or nbytes <= vm.on_chip_bytes:
        dram_bytes, fixed = 0.0, 0.0 if kind in vm.fused else vm.fixed_cycles.get(kind, 0.0)
    else:
        dram_bytes, fixed = vm.dram_passes[kind] * nbytes, vm.fixed_cycles.get(kind, 0.0)
    if kind in vm.fused:
        sram_bytes = 0.0 if vm.sram_passes is None else vm.sram_passes * nbytes
    else:
        sram_bytes = dram_bytes if vm.sram_passes is None else vm.sram_passes * nbytes
    memory = dram_bytes / vm.dram_bytes_per_cycle[kind] if dram_bytes else 0.0
    busy = max(compute, memory) * vm.time_scale
    if fixed > busy:
        bound = "overhead"
    else:
        bound = "compute" if compute >= memory else "memory"
    return OpCost(
        cycles=busy + fixed + vm.overhead_cycles,
        compute_cycles=compute * vm.time_scale,
        memory_cycles=memory * vm.time_scale,
        compute_pj=lane_ops * vm.energy_pj_per_op,
        sram_pj=sram_bytes * vm.sram_pj_per_byte,
        dram_pj=dram_bytes * 8 * vm.dram_pj_per_bit,
        dram_bytes=dram_bytes,
        bound=bound,
    )


def asic_vector_model(accel: Accelerator) -> VectorModel:
    """An ASIC's vector unit beside the array: data stays in the output buffer when it fits
    (fused after the producing GEMM), else it streams from and back to DRAM (2 passes);
    on-chip traffic is one read and one write of each element at the output buffer."""
    cfg = accel.config
    vu = cfg.vector_unit
    out = cfg.memory.buffers.output
    bw = accel.dram_bytes_per_cycle
    fused, on_chip = fusion_rules(cfg, out.size_bytes)
    return VectorModel(
        lanes=vu.lanes,
        energy_pj_per_op=vu.energy_pj_per_op,
        lane_ops=LANE_OPS_PER_ELEMENT,
        dram_passes=dict.fromkeys(LANE_OPS_PER_ELEMENT, 2.0),
        dram_bytes_per_cycle=dict.fromkeys(LANE_OPS_PER_ELEMENT, bw),
        dram_pj_per_bit=cfg.memory.dram.energy_pj_per_bit,
        on_chip_bytes=on_chip,
        sram_pj_per_byte=8 / out.width_bits * accel.buffer_access_pj("output"),
        sram_passes=2.0,
        fused=fused,
        overhead_cycles=cfg.kernel_overhead_cycles,
    )


EPILOGUE_KINDS = frozenset({"norm", "act", "eltwise"})


def fusion_rules(cfg, on_chip_bytes: float) -> tuple[frozenset[str], float]:  # noqa: ANN001
    """(kinds fused into a neighbouring kernel, bytes kept on chip otherwise) from the
    arch's `fusion` block: softmax joins fused attention; epilogues are fused, unfused
    (always streamed: 0 bytes on chip) or auto (on chip when they fit `on_chip_bytes`)."""
    f = cfg.fusion
    fused = frozenset({"softmax"}) if f.attention else frozenset()
    if f.epilogues == "fused":
        fused |= EPILOGUE_KINDS
    if f.epilogues == "unfused":
        on_chip_bytes = 0.0
    return fused, on_chip_bytes
