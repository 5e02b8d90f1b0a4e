"""Number formats, quantization schemes, quantizers and error metrics (see README.md).

The package namespace is lazy (PEP 562 `__getattr__`): `from quant.info import FormatInfo`
(what arch/ and sim/ need) loads neither numba nor ml_dtypes; `quant.quantize` and the
other names below import their module on first use.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "FormatInfo": "quant.info",
    "all_formats": "quant.info",
    "format_info": "quant.info",
    "NumberFormat": "quant.formats",
    "element_format": "quant.formats",
    "QTensor": "quant.qtensor",
    "QuantScheme": "quant.scheme",
    "quantize": "quant.api",
    "quantize_dequantize": "quant.api",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'quant' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
