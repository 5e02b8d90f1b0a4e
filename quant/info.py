"""What the hardware model needs to know about a number format, by its CLI name.

`format_info(name)` is the single lookup the simulator (arch/, sim/) uses: storage bits per
element, block (group) size and per-block metadata bits, and the arithmetic class.
Bit-exact encode/decode lives in `quant.formats`; this module only describes sizes.

Names: `fp32`, `fp16`, `bf16`, `fp8-e4m3`, `fp8-e5m2`, `intB` (B = 2..8, symmetric,
per output channel), `intB-gG` (groups of G along K, FP16 scale), `intB-gG-asym`
(FP16 scale + B-bit zero point per group).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sim.errors import InputError


@dataclass(frozen=True)
class FormatInfo:
    """Size and arithmetic class of a format.

    element_bits: stored code width of one element (bits).
    kind: "int" (uniform integer grid), "float" (sign/exponent/mantissa), or
          "nonuniform" (a table of values, e.g. flint/PoT/abfloat; decoded before the MAC).
    block_size: elements sharing one scale along K (0: per channel / per tensor).
    block_meta_bits: scale + zero-point + type-selector bits stored per block.
    exponent_bits / mantissa_bits: for kind "float" (0 otherwise).
    """

    name: str
    element_bits: int
    kind: str
    block_size: int = 0
    block_meta_bits: int = 0
    exponent_bits: int = 0
    mantissa_bits: int = 0
    signed: bool = True
    description: str = ""

    @property
    def bits_per_element(self) -> float:
        """Effective storage bits per element including per-block metadata."""
        if self.block_size:
            return self.element_bits + self.block_meta_bits / self.block_size
        return float(self.element_bits)

    @property
    def is_float(self) -> bool:
        return self.kind == "float"


_FIXED = {
    "fp32": FormatInfo("fp32", 32, "float", exponent_bits=8, mantissa_bits=23,
                       description="IEEE binary32"),
    "fp16": FormatInfo("fp16", 16, "float", exponent_bits=5, mantissa_bits=10,
                       description="IEEE binary16"),
    "bf16": FormatInfo("bf16", 16, "float", exponent_bits=8, mantissa_bits=7,
                       description="bfloat16"),
    "fp8-e4m3": FormatInfo("fp8-e4m3", 8, "float", exponent_bits=4, mantissa_bits=3,
                           description="OCP FP8 E4M3fn, per-tensor FP32 scale"),
    "fp8-e5m2": FormatInfo("fp8-e5m2", 8, "float", exponent_bits=5, mantissa_bits=2,
                           description="OCP FP8 E5M2, per-tensor FP32 scale"),
}

_INT = re.compile(r"^int([2-8])(?:-g(\d+))?(-asym)?$")


def _int_info(name: str) -> FormatInfo | None:
    m = _INT.match(name)
    if not m:
        return None
    bits = int(m.group(1))
    group = int(m.group(2) or 0)
    asym = bool(m.group(3))
    if m.group(2) is not None and group <= 0:
        return None
    meta = (16 + (bits if asym else 0)) if group else 0
    how = f"groups of {group}" if group else "per output channel"
    return FormatInfo(name, bits, "int", block_size=group, block_meta_bits=meta,
                      signed=not asym,
                      description=f"INT{bits} {'asymmetric' if asym else 'symmetric'}, {how}")


def known_names() -> list[str]:
    """Example names (the integer family also accepts any group size)."""
    return [*_FIXED, "int8", "int4-g128", "int4-g128-asym", "int3-g128", "int2-g128"]


def format_info(name: str, source: str = "format") -> FormatInfo:
    """Look a format up by name; bad names raise InputError listing the valid ones."""
    info = _FIXED.get(name) or _int_info(name)
    if info is None:
        raise InputError(source, repr(name),
                         "a known format name, one of: " + ", ".join(known_names())
                         + " (intB[-gG][-asym] for B=2..8)")
    return info
