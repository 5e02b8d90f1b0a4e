"""Technology tables: energy and area of arithmetic and SRAM, and scaling between nodes.

Sources (each number's origin is on its line in tables.yaml):
- M. Horowitz, "Computing's energy problem", ISSCC 2014 (45 nm): add/mult energies and areas.
- BitMoD (HPCA'25) synthesis at TSMC 28 nm, 1 GHz: FP16 MAC 1968.7 um^2 / 0.77 mW,
  FP16xINT8 1318.6 um^2 / 0.613 mW, BitMoD PE 1793.7 um^2 / 0.586 mW (SEED_SYSTEMS.md §1).
- SRAM: a CACTI-style form E_access = e0 * (width_bits/64) * (1 + sqrt(bank_kib/kib0))
  and area = a_per_kib * size + periphery per bank; constants in tables.yaml (assumed
  CACTI-like magnitudes at 28 nm, not a CACTI run).
Scaling rule between nodes (Dennard-era dynamic energy ~ C V^2, area ~ L^2; tempered by
post-28nm voltage stagnation): energy x (node/ref)^1.0, area x (node/ref)^2.0 (Stillmaker
& Baas, "Scaling equations for the accurate prediction of CMOS device performance from
180 nm to 7 nm", Integration 2017, fit to within a factor ~1.3 over 45..14 nm).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

_TABLES = Path(__file__).with_name("tables.yaml")


@dataclass(frozen=True)
class TechTable:
    """Energy (pJ) and area (um^2) lookups at one process node."""

    node_nm: int
    entries: dict  # raw table (see tables.yaml)

    def _scale_e(self, ref_nm: float) -> float:
        return (self.node_nm / ref_nm) ** self.entries["scaling"]["energy_exponent"]

    def _scale_a(self, ref_nm: float) -> float:
        return (self.node_nm / ref_nm) ** self.entries["scaling"]["area_exponent"]

    def unit(self, name: str) -> tuple[float, float]:
        """(energy pJ per operation, area um^2) of an arithmetic unit at this node."""
        row = self.entries["units"][name]
        return row["pj"] * self._scale_e(row["node_nm"]), row["um2"] * self._scale_a(row["node_nm"])

    def sram_access_pj(self, size_bytes: int, banks: int, width_bits: int) -> float:
        """Energy of one width_bits-wide access to an SRAM of size_bytes in `banks` banks."""
        s = self.entries["sram"]
        bank_kib = size_bytes / 1024 / banks
        e = s["e0_pj"] * (width_bits / 64) * (1 + math.sqrt(bank_kib / s["kib0"]))
        return e * self._scale_e(s["node_nm"])

    def sram_area_um2(self, size_bytes: int, banks: int) -> float:
        s = self.entries["sram"]
        a = s["um2_per_kib"] * size_bytes / 1024 + s["bank_periphery_um2"] * banks
        return a * self._scale_a(s["node_nm"])


@cache
def _raw() -> dict:
    import yaml  # on first use: keeps `from sim import simulate` light

    return yaml.safe_load(_TABLES.read_text())


def tech_table(node_nm: int) -> TechTable:
    return TechTable(node_nm, _raw())
