"""Closed forms shared by weight-stationary arrays (systolic_mac, mixpe): the fold timing
and the weight-fill bus that loads each fold's weights.

Weight-fill bus: weights move from the weight buffer into the array over a bus of
`fill_bits` bits per cycle, at their stored width (4-bit weights fill twice as many PEs
per beat as 8-bit ones). The bus can carry no more than the weight buffer delivers
(banks x width_bits per cycle). A fold holding k_rows x c_cols weights of b bits loads in

    W = ceil(k_rows * c_cols * b / bus_bits_per_cycle)  cycles.

The classic shift chain (one PE row per cycle, a native-width link per column) is
`fill_bits = cols * lanes * native bits`. Its cost: `fill_bits` wires across the array
(span = sqrt of the PE-array area), charged per bit moved and per bit-track of area
(tech unit `wire_bit_mm`).

Weight-stationary fold timing (R = rows, C = cols, m rows streamed per fold, c_last =
columns used by the last fold; derivation in arch/systolic_mac.py, checked against the
per-cycle oracle in tests/sim/test_systolic_oracle.py):
  double-buffered weights: W + (F-1)*max(m, W) + m + R + c_last - 2  (F = folds)
  single-buffered: every fold W + R + c + m - 2 (c = its columns).
"""

from __future__ import annotations

from math import ceil, sqrt


def fill_cycles(k_rows: int, c_cols: int, b_bits: float, bus_bits_per_cycle: float) -> int:
    """Cycles to load one fold's k_rows x c_cols weights of b_bits over the fill bus."""
    return max(1, ceil(k_rows * c_cols * b_bits / bus_bits_per_cycle))


def bus_bits_per_cycle(fill_bits: int, buffer_banks: int, buffer_width_bits: int) -> int:
    """What the fill bus delivers per cycle: its width, capped by the weight buffer."""
    return min(fill_bits, buffer_banks * buffer_width_bits)


def ws_cycles(
    m: int, kf: int, nf: int, R: int, C: int, c_last: int, W: int, double_buffer: bool
) -> int:
    """Cycles of kf x nf weight-stationary folds (n-block outer, k-block inner)."""
    if double_buffer:
        return W + (kf * nf - 1) * max(m, W) + m + R + c_last - 2
    return (nf - 1) * kf * (W + R + C + m - 2) + kf * (W + R + c_last + m - 2)


def array_span_mm(pe_area_um2: float) -> float:
    """Side of a square PE array of that area (mm): the length a fill bus crosses."""
    return sqrt(pe_area_um2) / 1000.0
