"""Data-dependent energy and zero-term skipping: how much the operands' bits actually switch.

The per-operation energies of arch/tech/tables.yaml (Horowitz ISSCC'14 "Computing's energy
problem", the BitMoD synthesis, Keckler et al. IEEE Micro 2011 for wires) are figures for
random operands: every input bit is 1 with probability 1/2 and, from one operation to the
next, switches with probability 1/2. That is the reference activity here,
`REFERENCE_TOGGLE_RATE` = 0.5. Dynamic CMOS energy is C * V^2 per switching node, so a
datapath or bus whose inputs switch with probability t spends t / 0.5 of the table's
data-dependent energy (first-order: the switching of the internal nodes of a multiplier's
partial-product array is taken as proportional to the switching of its inputs; glitches
and the clock tree are not modelled).

A trace records each operand's measured `toggle_rate` (workloads/trace_stats.py: fraction
of an operand's bit wires that switch between consecutive values along K), under the prefix
`a_` (A operand: activations) or `w_` (B operand: weights or KV cache). Shape-only runs
have no statistics and use `DEFAULT_TOGGLE_RATE` = the reference, i.e. factor 1: the
energy the tables give. Only the data-dependent part of an energy is scaled; each family
says which part that is (arch/systolic_mac.py: the multiplier part of the MAC and the
weight-fill bus; accumulators, registers and SRAM/DRAM accesses are left as they are).

Zero-term skipping (arch/bitserial.py `zero_skip`) needs the mean number of nonzero terms
of the serial operand. Without a trace the default is that of random codes (the same
"every code equally likely" assumption as the reference activity): `random_code_terms`,
e.g. 3.0 radix-4 Booth terms for int8 (each of its 4 digits is zero for 2 of the 8
patterns of its 3 bits, so 4 * 3/4), 4.0 one bits for "bit" encoding.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

REFERENCE_TOGGLE_RATE = 0.5  # random operands: the activity the tables' energies assume
DEFAULT_TOGGLE_RATE = REFERENCE_TOGGLE_RATE  # shape-only runs: the tables' energies as given
ROLES = ("a", "w")  # stats prefixes: A operand (activation), B operand (weight / KV cache)


def toggle_rate(stats: Mapping[str, float] | None, role: str) -> float:
    """Measured toggle rate of operand `role` ("a" or "w"), or the default."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    v = (stats or {}).get(f"{role}_toggle_rate")
    return DEFAULT_TOGGLE_RATE if v is None else float(v)


def activity_factor(stats: Mapping[str, float] | None, role: str) -> float:
    """Data-dependent energy of hardware driven by operand `role`, relative to the tech
    table's figure: toggle_rate / REFERENCE_TOGGLE_RATE (1.0 without statistics)."""
    return toggle_rate(stats, role) / REFERENCE_TOGGLE_RATE


def multiplier_activity_factor(stats: Mapping[str, float] | None) -> float:
    """A two-input multiplier's data-dependent energy relative to random operands: the mean
    of its two inputs' factors (first-order; module docstring)."""
    return (activity_factor(stats, "a") + activity_factor(stats, "w")) / 2


@cache
def random_code_terms(bits: int, encoding: str, signed: bool = True) -> float:
    """Mean nonzero terms per value of uniformly random `bits`-bit codes: radix-4 Booth
    digits (`encoding` "booth", quant.metrics.booth_terms) or one bits ("bit": bits / 2)."""
    import numpy as np

    from quant.metrics import booth_terms

    if encoding == "bit":
        return bits / 2
    lo = -(1 << (bits - 1)) if signed else 0
    codes = np.arange(lo, lo + (1 << bits), dtype=np.int64)
    return float(booth_terms(codes, bits, signed).mean())
