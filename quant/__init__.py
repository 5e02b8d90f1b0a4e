"""Number formats, quantization schemes, quantizers and error metrics (see README.md)."""

from quant.api import quantize, quantize_dequantize
from quant.formats import NumberFormat, element_format
from quant.info import FormatInfo, all_formats, format_info
from quant.qtensor import QTensor
from quant.scheme import QuantScheme

__all__ = [
    "FormatInfo",
    "NumberFormat",
    "QTensor",
    "QuantScheme",
    "all_formats",
    "element_format",
    "format_info",
    "quantize",
    "quantize_dequantize",
]
