"""What the hardware model needs to know about a number format, by its CLI name.

`format_info(name)` is the single lookup the simulator (arch/, sim/) uses: storage bits per
element, block (group) size and per-block metadata bits, and the arithmetic class.
Bit-exact encode/decode lives in `quant.formats`; this module only describes sizes.
Every name here is also accepted by `quant.quantize` (quant/README.md lists them all).

Grammar of the parametric families (B = bits, G = group size along K):
- `intB` (B = 2..8, symmetric, one FP16 scale per output channel / token),
  `intB-gG` (groups of G, FP16 scale), `-asym` (FP16 scale + B-bit zero point),
  `-mse` (MSE-optimal clipping search instead of absmax; same storage).
- `fp4-e2m1`, `fp6-e2m3`, `fp6-e3m2`, `fp8-e4m3`, `fp8-e5m2` (per-tensor FP32 scale),
  optionally `-gG` (FP16 scale per group).
- `bitmod-fp3-gG`, `bitmod-fp4-gG`, `bitmod-int6-gG` (aliases without `-gG` mean G = 128).
- `bipolar-intB` (B = 2..8, per channel).
"""

from __future__ import annotations

from dataclasses import dataclass

from common.errors import InputError
from quant.names import FP_ELEMENTS, FormatName, parse_format


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


def _f(name: str, bits: int, e: int, m: int, desc: str, block: int = 0, meta: int = 0):
    return FormatInfo(name, bits, "float", block, meta, e, m, description=desc)


_FIXED: dict[str, FormatInfo] = {
    "fp32": _f("fp32", 32, 8, 23, "IEEE binary32"),
    "fp16": _f("fp16", 16, 5, 10, "IEEE binary16"),
    "bf16": _f("bf16", 16, 8, 7, "bfloat16"),
    "mxfp4": _f("mxfp4", 4, 2, 1, "OCP MX v1.0 FP4 E2M1, blocks of 32, E8M0 scale", 32, 8),
    "mxfp6-e2m3": _f("mxfp6-e2m3", 6, 2, 3, "OCP MX v1.0 FP6 E2M3, block 32, E8M0", 32, 8),
    "mxfp6-e3m2": _f("mxfp6-e3m2", 6, 3, 2, "OCP MX v1.0 FP6 E3M2, block 32, E8M0", 32, 8),
    "mxfp8-e4m3": _f("mxfp8-e4m3", 8, 4, 3, "OCP MX v1.0 FP8 E4M3, block 32, E8M0", 32, 8),
    "mxfp8-e5m2": _f("mxfp8-e5m2", 8, 5, 2, "OCP MX v1.0 FP8 E5M2, block 32, E8M0", 32, 8),
    "mxint8": FormatInfo(
        "mxint8",
        8,
        "int",
        32,
        8,
        description="OCP MX v1.0 INT8 (k/64, k in [-127,127]), block 32, E8M0",
    ),
    "nvfp4": _f(
        "nvfp4",
        4,
        2,
        1,
        "NVIDIA NVFP4: E2M1, blocks of 16, UE4M3 scale (+ one FP32 tensor scale)",
        16,
        8,
    ),
    "ant-int4": FormatInfo(
        "ant-int4", 4, "int", description="ANT int4 (±7), per-channel absmax scale"
    ),
    "ant-flint4": FormatInfo(
        "ant-flint4",
        4,
        "nonuniform",
        description="ANT flint4 {0,±.25,±.5,±.75,±1,±1.5,±2,±4}, per channel",
    ),
    "ant-pot4": FormatInfo(
        "ant-pot4", 4, "nonuniform", description="ANT power-of-two {0,±2^0..±2^6}, per channel"
    ),
    "ant-fp4": _f("ant-fp4", 4, 2, 1, "ANT float4 (E2M1), per channel"),
    "ant4": FormatInfo(
        "ant4",
        4,
        "nonuniform",
        description="ANT: per-tensor type choice int4/flint4/PoT4/float4 by MSE",
    ),
    "olive-int4": FormatInfo(
        "olive-int4",
        4,
        "nonuniform",
        description="OliVe outlier-victim pairs: int4 normals, abfloat outliers, per channel",
    ),
    "olive-flint4": FormatInfo(
        "olive-flint4",
        4,
        "nonuniform",
        description="OliVe outlier-victim pairs: flint4 normals, abfloat outliers, per channel",
    ),
    "ternary": FormatInfo(
        "ternary",
        2,
        "int",
        description="BitNet b1.58 ternary {-1,0,1} (1.58 bits, packed in 2), "
        "per-tensor absmean scale",
    ),
    "binary": FormatInfo(
        "binary", 1, "int", description="binary {-1,+1}, per-channel mean|x| scale"
    ),
}


def _int_info(name: str, p: FormatName) -> FormatInfo:
    bits, group, asym = p.bits, p.group or 0, p.asym
    meta = (16 + (bits if asym else 0)) if group else 0
    how = f"groups of {group}" if group else "per output channel"
    clip = ", MSE clipping" if p.mse else ""
    return FormatInfo(
        name,
        bits,
        "int",
        block_size=group,
        block_meta_bits=meta,
        signed=not asym,
        description=f"INT{bits} {'asymmetric' if asym else 'symmetric'}, {how}, FP16 scale{clip}",
    )


def _fp_info(name: str, p: FormatName) -> FormatInfo:
    bits, e, mant = FP_ELEMENTS[p.element]
    if p.group is None:
        return _f(name, bits, e, mant, f"OCP FP{bits} E{e}M{mant}, per-tensor FP32 scale")
    g = p.group
    return _f(name, bits, e, mant, f"FP{bits} E{e}M{mant}, groups of {g}, FP16 scale", g, 16)


def _bitmod_info(name: str, p: FormatName) -> FormatInfo:
    g = p.group or 128
    canon = f"bitmod-{p.element}-g{g}"
    if p.element == "int6":
        return FormatInfo(canon, 6, "int", g, 8, description=f"BitMoD lossless INT6, groups of {g}")
    bits = p.bits
    # 8 bits per group = scale + 2-bit type selector (SEED_SYSTEMS §1: 3.0625 / 4.0625 b/w).
    return FormatInfo(
        canon,
        bits,
        "nonuniform",
        g,
        8,
        description=f"BitMoD FP{bits} (ER/EA special values, per-group type choice), groups of {g}",
    )


def _bipolar_info(name: str, p: FormatName) -> FormatInfo:
    b = p.bits
    return FormatInfo(
        name, b, "int", description=f"bipolar-INT{b}: bit i = ±2^i (odd integers), per channel"
    )


_PARAMETRIC = {"int": _int_info, "fp": _fp_info, "bitmod": _bitmod_info, "bipolar": _bipolar_info}


def known_names() -> list[str]:
    """Canonical example names (the parametric families accept any group size)."""
    return [f.name for f in all_formats()]


def all_formats() -> list[FormatInfo]:
    """A representative list of formats (for `sim list formats`), effective bits included
    via `FormatInfo.bits_per_element`."""
    names = [
        "fp32",
        "fp16",
        "bf16",
        "fp8-e4m3",
        "fp8-e5m2",
        "fp6-e2m3",
        "fp6-e3m2",
        "fp4-e2m1",
        "int8",
        "int4",
        "int4-g128",
        "int4-g128-asym",
        "int4-g128-mse",
        "int3-g128",
        "int2-g128",
        "mxfp4",
        "mxfp6-e2m3",
        "mxfp6-e3m2",
        "mxfp8-e4m3",
        "mxfp8-e5m2",
        "mxint8",
        "nvfp4",
        "bitmod-fp3-g128",
        "bitmod-fp4-g128",
        "bitmod-int6-g128",
        "ant-int4",
        "ant-flint4",
        "ant-pot4",
        "ant-fp4",
        "ant4",
        "olive-int4",
        "olive-flint4",
        "ternary",
        "binary",
        "bipolar-int4",
    ]
    return [_lookup(n) for n in names]


def _lookup(name: str) -> FormatInfo | None:
    if name in _FIXED:
        return _FIXED[name]
    p = parse_format(name)
    return None if p is None else _PARAMETRIC[p.family](name, p)


def format_info(name: str, source: str = "format") -> FormatInfo:
    """Look a format up by name; bad names raise InputError listing the valid ones."""
    info = _lookup(name) if isinstance(name, str) else None
    if info is None:
        raise InputError(
            source,
            repr(name),
            "a known format name, one of: "
            + ", ".join(known_names())
            + " (intB[-gG][-asym][-mse] for B=2..8, fpX-eEmM[-gG], "
            "bitmod-{fp3,fp4,int6}[-gG], bipolar-intB)",
        )
    return info
