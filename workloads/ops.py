"""`Op`: one unit of work of a layer, the engine's input record.

GEMM-like ops (`linear`, `attn_qk`, `attn_pv`) compute an (M x K) @ (K x N) product:
M = rows of the activation operand (tokens x batch), K = reduction length, N = outputs.
For `linear` the K x N operand is a weight stored in format `wq`; for attention ops it is
the KV cache stored in format `kvq` (carried in `wq` here, the "B operand" format), and
the A operand is an activation in format `aq`.
Vector ops (`softmax`, `norm`, `act`, `eltwise`) touch `elements` values each.
`count` is how many times the op runs (layers x heads x decode steps ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field

GEMM_KINDS = ("linear", "attn_qk", "attn_pv")
VECTOR_KINDS = ("softmax", "norm", "act", "eltwise")
PHASES = ("prefill", "decode")


@dataclass(frozen=True)
class Op:
    """One op. Sizes are element counts; formats are `quant` format names."""

    name: str  # e.g. "q_proj", "attn_qk", "lm_head"
    kind: str  # one of GEMM_KINDS or VECTOR_KINDS
    phase: str  # "prefill" or "decode"
    M: int = 0
    K: int = 0
    N: int = 0
    elements: int = 0  # vector ops only
    count: int = 1
    wq: str = "fp16"  # format of the B operand (weight, or KV cache for attention)
    aq: str = "fp16"  # format of the A operand (activation)
    stats: tuple[tuple[str, float], ...] = field(default=())  # data statistics from a trace

    def __post_init__(self) -> None:
        if self.kind not in GEMM_KINDS + VECTOR_KINDS:
            raise ValueError(f"unknown op kind {self.kind!r}")
        if self.phase not in PHASES:
            raise ValueError(f"unknown phase {self.phase!r}")

    @property
    def is_gemm(self) -> bool:
        return self.kind in GEMM_KINDS

    @property
    def macs(self) -> int:
        """Multiply-accumulates of one execution."""
        return self.M * self.K * self.N if self.is_gemm else 0

    def signature(self) -> tuple:
        """Everything that may decide the cost of one execution (not the phase or count).
        The name is included: a family may treat ops by name (e.g. FlightLLM's per-layer
        sparsity on q_proj/k_proj)."""
        return (
            self.name,
            self.kind,
            self.M,
            self.K,
            self.N,
            self.elements,
            self.wq,
            self.aq,
            self.stats,
        )

    def stat(self, key: str, default: float) -> float:
        return dict(self.stats).get(key, default)
