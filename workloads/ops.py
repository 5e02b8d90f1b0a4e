"""`Op`: one unit of work of a layer, the engine's input record.

GEMM-like ops (`linear`, `attn_qk`, `attn_pv`) compute an (M x K) @ (K x N) product:
M = rows of the activation operand (tokens x batch), K = reduction length, N = outputs.
The A operand (M x K) is an activation in format `aq`; the B operand (K x N) is stored in
format `bq`: the weight format (`--wq`) for `linear`, the KV-cache format (`--kvq`) for
attention ops.
Vector ops (`softmax`, `norm`, `act`, `eltwise`) touch `elements` values each (in `aq`).
`count` is how many times the op runs (layers x heads x decode steps ...).

Data-dependent properties are explicit fields, so two ops with the same shape, formats and
data cost the same whatever they are called:
- `weight_density`: fraction of the B operand's weights kept (1.0 dense; e.g. 0.7 for
  FlightLLM's N:M-pruned q/k projections). Sparse datapaths skip the rest.
- `stats`: bit statistics of the operands measured by a trace exporter
  (workloads/trace_stats.py: e.g. `a_booth_terms_mean`, `b_bitplane_zero_mean`), empty for
  shape-only models. Bit-serial zero-term skipping reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GEMM_KINDS = ("linear", "attn_qk", "attn_pv")
VECTOR_KINDS = ("softmax", "norm", "act", "eltwise")
PHASES = ("prefill", "decode")


@dataclass(frozen=True)
class Op:
    """One op. Sizes are element counts; formats are `quant` format names."""

    name: str  # e.g. "q_proj", "attn_qk", "lm_head" (reporting only; never costed)
    kind: str  # one of GEMM_KINDS or VECTOR_KINDS
    phase: str  # "prefill" or "decode"
    M: int = 0
    K: int = 0
    N: int = 0
    elements: int = 0  # vector ops only
    count: int = 1
    bq: str = "fp16"  # format of the B operand: weight (linear) or KV cache (attention)
    aq: str = "fp16"  # format of the A operand (activation)
    weight_density: float = 1.0  # fraction of B-operand weights kept (sparse datapaths)
    stats: tuple[tuple[str, float], ...] = field(default=())  # trace bit statistics

    def __post_init__(self) -> None:
        if self.kind not in GEMM_KINDS + VECTOR_KINDS:
            raise ValueError(f"unknown op kind {self.kind!r}")
        if self.phase not in PHASES:
            raise ValueError(f"unknown phase {self.phase!r}")
        if not 0.0 < self.weight_density <= 1.0:
            raise ValueError(f"weight_density must be in (0, 1], got {self.weight_density}")

    @property
    def is_gemm(self) -> bool:
        return self.kind in GEMM_KINDS

    @property
    def macs(self) -> int:
        """Multiply-accumulates of one execution."""
        return self.M * self.K * self.N if self.is_gemm else 0

    def signature(self) -> tuple:
        """Everything that may decide the cost of one execution: kind, shape, formats and
        data properties. Not the name, phase or count."""
        return (
            self.kind,
            self.M,
            self.K,
            self.N,
            self.elements,
            self.bq,
            self.aq,
            self.weight_density,
            self.stats,
        )
