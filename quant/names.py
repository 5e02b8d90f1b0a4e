"""The one parser of parametric format names (grammar in quant/info.py's docstring).

`parse_format("int4-g128-asym")` -> FormatName(family="int", bits=4, group=128, asym=True).
Names of fixed formats (fp16, mxfp4, nvfp4, ant4, ...) are not parametric: None. Used by
`quant.info` (sizes), `quant.api` (quantizer dispatch) and `sim verify --trace`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: FP element formats: name -> (bits, exponent bits, mantissa bits) (OCP OFP8 / MX v1.0).
FP_ELEMENTS: dict[str, tuple[int, int, int]] = {
    "fp4-e2m1": (4, 2, 1),
    "fp6-e2m3": (6, 2, 3),
    "fp6-e3m2": (6, 3, 2),
    "fp8-e4m3": (8, 4, 3),
    "fp8-e5m2": (8, 5, 2),
}

_GROUP = r"(?:-g(?P<group>\d+))?"
_PATTERNS = {
    "int": re.compile(rf"^int(?P<bits>[2-8]){_GROUP}(?P<asym>-asym)?(?P<mse>-mse)?$"),
    "fp": re.compile(rf"^(?P<element>{'|'.join(FP_ELEMENTS)}){_GROUP}$"),
    "bitmod": re.compile(rf"^bitmod-(?P<element>fp3|fp4|int6){_GROUP}$"),
    "bipolar": re.compile(r"^bipolar-int(?P<bits>[2-8])$"),
}


@dataclass(frozen=True)
class FormatName:
    """A parsed parametric name. family: int | fp | bitmod | bipolar; bits: element bits;
    group: elements per scale group along K (None: no `-gG` suffix; a positive integer
    otherwise); element: the FP element ("fp4-e2m1") or BitMoD type ("fp3", "int6")."""

    family: str
    bits: int
    group: int | None = None
    asym: bool = False
    mse: bool = False
    element: str = ""


def parse_format(name: str) -> FormatName | None:
    """Parse a parametric format name; None for any other string (incl. group size 0)."""
    if not isinstance(name, str):
        return None
    for family, pattern in _PATTERNS.items():
        m = pattern.match(name)
        if m is None:
            continue
        d = m.groupdict()
        group = None if d.get("group") is None else int(d["group"])
        if group == 0:
            return None
        element = d.get("element") or ""
        if family == "fp":
            bits = FP_ELEMENTS[element][0]
        elif family == "bitmod":
            bits = int(element[-1])
        else:
            bits = int(d["bits"])
        return FormatName(
            family,
            bits,
            group,
            asym=bool(d.get("asym")),
            mse=bool(d.get("mse")),
            element=element,
        )
    return None
