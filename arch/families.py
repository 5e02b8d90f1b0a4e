"""Registry of PE families: name -> "module:Class". Adding a family adds a line here and a
module under arch/; the engine is never touched. Each class takes
(config: ArchConfig, params: its own pydantic `Params`, tech: TechTable) and implements
arch.pe.PEModel; `Class.Params` validates `pe_array.params` (extra fields forbidden).
"""

from __future__ import annotations

import importlib

FAMILIES: dict[str, str] = {
    "systolic_mac": "arch.systolic_mac:SystolicMAC",
    "gpu_tensorcore": "arch.gpu_tensorcore:GPUTensorCore",
    "lut": "arch.lut:LUTTensorCore",
    "fpga_dsp": "arch.fpga_dsp:FPGADSP",
    "bitserial": "arch.bitserial:BitSerial",
    "mixpe": "arch.mixpe:MixPE",
}


def family_class(name: str) -> type:
    module, cls = FAMILIES[name].split(":")
    return getattr(importlib.import_module(module), cls)
