"""`SimResult`: per-op rows and totals of one simulated run, as records, dict or DataFrame.

Definitions (seconds at the arch clock):
- ttft_s: time of the prefill phase (it ends with the first token's lm_head).
- tpot_s: decode-phase time / decode steps (0 when there is no decode).
- tokens_per_s: batch / tpot_s during decode; with no decode, batch*prefill / ttft_s
  (prompt tokens per second).
- energy_per_token_j: total energy / generated tokens (batch*decode); with no decode,
  / prompt tokens (batch*prefill). Split into compute (PE datapath + vector unit),
  sram (on-chip buffers) and dram.
- utilization: MACs done / (peak MACs per cycle x GEMM cycles).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class OpRow:
    """One op name in one phase, summed over all its executions (layers, heads, steps)."""

    phase: str
    name: str
    kind: str
    M: int
    K: int
    N: int
    count: int  # executions
    cycles: float  # all executions
    time_s: float
    compute_cycles: float
    dram_bytes: float
    macs: int
    utilization: float
    bound: str
    energy_compute_j: float
    energy_sram_j: float
    energy_dram_j: float
    mapping: str


@dataclass(frozen=True)
class SimResult:
    arch: str
    model: str
    prefill: int
    decode: int
    batch: int
    formats: dict[str, str]
    frequency_hz: float
    area_mm2: float
    peak_macs_per_cycle: float
    rows: list[OpRow] = field(default_factory=list)
    params_total: int | None = None  # model parameters (workloads.llm.param_counts)
    params_active: int | None = None  # those one token uses (MoE: top_k experts)
    # device memory the run holds: {weights, kv_cache, activations} (workloads/footprint.py)
    footprint_bytes: dict[str, int] | None = None

    def _phase_cycles(self, phase: str) -> float:
        return sum(r.cycles for r in self.rows if r.phase == phase)

    @property
    def total_cycles(self) -> float:
        return sum(r.cycles for r in self.rows)

    @property
    def total_time_s(self) -> float:
        return self.total_cycles / self.frequency_hz

    @property
    def ttft_s(self) -> float:
        return self._phase_cycles("prefill") / self.frequency_hz

    @property
    def tpot_s(self) -> float:
        return (
            self._phase_cycles("decode") / self.frequency_hz / self.decode if self.decode else 0.0
        )

    @property
    def tokens_per_s(self) -> float:
        if self.decode:
            return self.batch / self.tpot_s
        return self.batch * self.prefill / self.ttft_s

    def _energy(self, part: str) -> float:
        return sum(getattr(r, f"energy_{part}_j") for r in self.rows)

    @property
    def energy_j(self) -> float:
        return self._energy("compute") + self._energy("sram") + self._energy("dram")

    @property
    def tokens(self) -> int:
        return self.batch * (self.decode or self.prefill)

    @property
    def energy_per_token_j(self) -> float:
        return self.energy_j / self.tokens

    @property
    def utilization(self) -> float:
        gemm = sum(r.cycles for r in self.rows if r.macs)
        macs = sum(r.macs for r in self.rows)
        return macs / (self.peak_macs_per_cycle * gemm) if gemm else 0.0

    def summary(self) -> dict:
        """The stable summary keys (documented in README.md, `--format json`)."""
        return {
            "arch": self.arch,
            "model": self.model,
            "prefill": self.prefill,
            "decode": self.decode,
            "batch": self.batch,
            "formats": self.formats,
            "total_time_s": self.total_time_s,
            "total_cycles": self.total_cycles,
            "ttft_s": self.ttft_s,
            "tpot_s": self.tpot_s,
            "tokens_per_s": self.tokens_per_s,
            "energy_j": self.energy_j,
            "energy_per_token_j": self.energy_per_token_j,
            "energy_per_token_split_j": {
                p: self._energy(p) / self.tokens for p in ("compute", "sram", "dram")
            },
            "area_mm2": self.area_mm2,
            "utilization": self.utilization,
            "params_total": self.params_total,
            "params_active": self.params_active,
            "footprint_bytes": self.footprint_bytes,
        }

    def to_dict(self) -> dict:
        return {**self.summary(), "ops": [asdict(r) for r in self.rows]}

    def to_dataframe(self) -> pd.DataFrame:
        """One row per op (the OpRow fields) plus `energy_j` (compute + sram + dram): the
        columns of `sim run --out`'s ops.csv, in the same order."""
        cols = [f.name for f in fields(OpRow)]
        import pandas as pd  # on use: it costs ~0.3 s of `from sim import simulate`

        df = pd.DataFrame([asdict(r) for r in self.rows], columns=cols)
        df["energy_j"] = df.energy_compute_j + df.energy_sram_j + df.energy_dram_j
        return df
