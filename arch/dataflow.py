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

Sub-arrays (issue 9: "the mapper may leave hardware idle"): a WS fold may run on the
first r rows and c columns only, r = R / 2^i, c = C / 2^j (every power-of-two fraction
down to one PE), the other PEs clock-gated; the engine takes, per tile, the fastest
(`TileModel.sub_arrays`). The closed forms above hold with R, C replaced by r, c:
  * skew and drain: partial sums leave at the last used row through an output tap, so a
    fold's last output leaves m + r + c - 2 cycles after its first input. [assumption]
    One tap (a column-wide mux onto the output bus) at each power-of-two row boundary,
    as in a fissionable systolic array (Planaria, Ghodrati et al., MICRO'20: the array
    splits into power-of-two sub-arrays, each with its own output path). The taps' area
    and energy are not charged: log2(R) muxes per column against R MACs per column.
  * fill: the bus loads only the PEs in use. The shift chain (one link of lanes x native
    bits per column) loads r rows in r cycles; an explicit bus of `fill_bits` fills
    fill_bits / b PEs per beat wherever they are: W = ceil(r*L*c*b / bus).
  Without the taps a sub-array gains nothing: partial sums of r < R rows still cross the
  idle rows, one register each. Why it matters: a tiny GEMV on a taller array otherwise
  pays the full R of skew and drain per tile (8x8 -> 16x8 made a 1x128x64 GEMV slower).
"""

from __future__ import annotations

from math import ceil, sqrt


# The closed forms below take Python numbers or numpy arrays alike: a family's tile_cost
# calls them with one tile's numbers, its tile_cycles_array with arrays of shapes (and of
# sub-array views), so both give the same values from the same formulas.
def cdiv(x, y):
    """ceil(x / y) of positive integers (or numpy integer arrays), exactly."""
    return -(-x // y)


def _scalar(*xs) -> bool:
    return all(getattr(x, "ndim", 0) == 0 for x in xs)


def emax(x, y):
    """max(x, y); elementwise for numpy arrays."""
    if _scalar(x, y):
        return max(x, y)
    import numpy as np

    return np.maximum(x, y)


def eceil(x):
    """ceil(x) as an integer; elementwise (int64) for numpy arrays."""
    if _scalar(x):
        return ceil(x)
    import numpy as np

    return np.ceil(x).astype(np.int64)


def fill_cycles(k_rows: int, c_cols: int, b_bits: int, bus_bits_per_cycle: int) -> int:
    """Cycles to load one fold's k_rows x c_cols weights of b_bits over the fill bus."""
    return emax(1, cdiv(k_rows * c_cols * b_bits, bus_bits_per_cycle))


def bus_bits_per_cycle(fill_bits: int, buffer_banks: int, buffer_width_bits: int) -> int:
    """What the fill bus delivers per cycle: its width, capped by the weight buffer."""
    return min(fill_bits, buffer_banks * buffer_width_bits)


def ws_cycles(
    m: int, kf: int, nf: int, R: int, C: int, c_last: int, W: int, double_buffer: bool
) -> int:
    """Cycles of kf x nf weight-stationary folds (n-block outer, k-block inner)."""
    if double_buffer:
        return W + (kf * nf - 1) * emax(m, W) + m + R + c_last - 2
    return (nf - 1) * kf * (W + R + C + m - 2) + kf * (W + R + c_last + m - 2)


def array_span_mm(pe_area_um2: float) -> float:
    """Side of a square PE array of that area (mm): the length a fill bus crosses."""
    return sqrt(pe_area_um2) / 1000.0


def power_of_two_parts(R: int, C: int) -> list[tuple[int, int]]:
    """(r, c) sub-array shapes, full array first: R / 2^i rows x C / 2^j columns (every
    exact power-of-two fraction down to one PE; an odd count is not halved further)."""

    def halvings(x: int) -> list[int]:
        out = [x]
        while out[-1] % 2 == 0:
            out.append(out[-1] // 2)
        return out

    return [(r, c) for r in halvings(R) for c in halvings(C)]


def view_columns(owner, views: tuple, *attrs: str):
    """Each attribute of `views` (sub-array views) as an (V, 1) int64 column, for the
    vectorized tile costs; cached on `owner` for the last views tuple it was asked for."""
    import numpy as np

    got = owner.__dict__.get("_view_columns")
    if got is None or got[0] is not views or got[1] != attrs:
        cols = tuple(np.array([[getattr(v, x)] for v in views], dtype=np.int64) for x in attrs)
        got = owner.__dict__["_view_columns"] = (views, attrs, cols)
    return got[2]
