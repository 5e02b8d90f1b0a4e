"""The arch YAML schema (pydantic). Every field, unit and default is documented in
arch/README.md. Family-specific PE parameters live under `pe_array.params` and are
validated by the family's own `Params` model (see arch/families.py).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat

# Integer fields are strict (issue 12): YAML `true` or `32.0` is not taken for 1 or 32.
PositiveInt = Annotated[int, Field(gt=0, strict=True)]
NonNegativeInt = Annotated[int, Field(ge=0, strict=True)]
# Process nodes the energy/area scaling rule is used over (arch/tech/__init__.py): the
# Stillmaker & Baas fit spans 180 nm..7 nm; 3 nm (TSMC N3, the smallest node in volume
# production) is the furthest extrapolation allowed.
MIN_NODE_NM, MAX_NODE_NM = 3, 180


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PEArray(_Strict):
    rows: PositiveInt = Field(description="PEs along the reduction (K) dimension")
    cols: PositiveInt = Field(description="PEs along the output (N) dimension")
    lanes: PositiveInt = Field(1, description="dot-product width of one PE (K elements/cycle)")
    family: str = Field(description="PE family name, see `sim list families`")
    params: dict[str, Any] = Field(default_factory=dict, description="family parameters")


class Dram(_Strict):
    kind: str = Field("DRAM", description="label only, e.g. DDR4, LPDDR5, HBM2e, HBM3")
    bandwidth_gb_s: PositiveFloat = Field(description="peak bandwidth, 1e9 bytes/s")
    efficiency: float = Field(1.0, gt=0, le=1, description="achievable fraction of peak")
    latency_ns: float = Field(100.0, ge=0, description="first-byte latency per transfer")
    outstanding_requests: PositiveInt | None = Field(
        None,
        description="requests the memory system keeps in flight (memory-level parallelism): "
        "sustained bandwidth <= outstanding_requests x request_bytes / latency (Little's "
        "law); default: enough to sustain the peak (latency paid once per stream)",
    )
    request_bytes: PositiveInt = Field(64, description="bytes per request (one burst/line)")
    energy_pj_per_bit: PositiveFloat = Field(description="access energy, pJ per bit moved")
    capacity_gib: PositiveFloat = Field(
        description="memory capacity in GiB (2^30 bytes): a run whose weights + KV cache + "
        "activations (workloads/footprint.py) do not fit is an input error"
    )


class Buffer(_Strict):
    size_kib: PositiveFloat = Field(description="capacity in KiB (1024 bytes)")
    banks: PositiveInt = Field(1, description="independent banks")
    width_bits: PositiveInt = Field(
        256, description="bits one bank delivers per cycle (buffer bandwidth = banks x width)"
    )
    energy_pj_per_access: PositiveFloat | None = Field(
        None, description="energy of one width_bits access; default from the SRAM fit in arch/tech"
    )

    @property
    def size_bytes(self) -> int:
        return int(self.size_kib * 1024)

    @property
    def bytes_per_cycle(self) -> float:
        return self.banks * self.width_bits / 8

    @property
    def bits_per_cycle(self) -> int:
        return self.banks * self.width_bits


class Buffers(_Strict):
    weight: Buffer = Field(description="holds B-operand tiles (weights or KV cache)")
    input: Buffer = Field(description="holds A-operand tiles (activations)")
    output: Buffer = Field(description="holds output / partial-sum tiles")


class Memory(_Strict):
    dram: Dram
    buffers: Buffers


class VectorUnit(_Strict):
    lanes: PositiveInt = Field(32, description="elements processed per cycle")
    energy_pj_per_op: PositiveFloat = Field(1.0, description="energy of one lane operation")
    area_um2: float = Field(0.0, ge=0, description="area of the whole unit")


class Defaults(_Strict):
    wq: str = Field("fp16", description="weight format when the CLI gives none")
    aq: str = Field("fp16", description="activation format when the CLI gives none")
    kvq: str = Field("fp16", description="KV-cache format when the CLI gives none")
    weight_density: dict[str, Annotated[float, Field(gt=0, le=1)]] = Field(
        default_factory=dict,
        description="linear op name -> fraction of weights kept, for the compressed model "
        "this design runs (e.g. FlightLLM's pruned q_proj/k_proj); 1 for ops not listed",
    )


class Fusion(_Strict):
    """What the compiler fuses (a mapping choice the hardware must support)."""

    attention: bool = Field(
        False,
        description="FlashAttention-style: QK^T, softmax (running max/sum) and PV tiled over "
        "the KV length on chip; scores never reach DRAM (when buffers allow)",
    )
    epilogues: Literal["auto", "fused", "unfused"] = Field(
        "auto",
        description="norm/activation/residual ops: fused into the neighbouring GEMM (no DRAM "
        "traffic), unfused (each streams from and back to DRAM), or auto (on chip when the "
        "tensor fits the output buffer)",
    )


class ArchConfig(_Strict):
    name: str
    description: str = ""
    source: str = Field("", description="where the configuration comes from (paper, repo)")
    frequency_mhz: PositiveFloat
    technology_nm: Annotated[int, Field(ge=MIN_NODE_NM, le=MAX_NODE_NM, strict=True)] = Field(
        28, description="process node for energy/area tables, 3..180 nm"
    )
    pe_array: PEArray
    memory: Memory
    vector_unit: VectorUnit = Field(default_factory=VectorUnit)
    kernel_overhead_cycles: NonNegativeInt = Field(
        0, description="fixed cycles added per op execution (dispatch / launch)"
    )
    defaults: Defaults = Field(default_factory=Defaults)
    fusion: Fusion = Field(default_factory=Fusion)
