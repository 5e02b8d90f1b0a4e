"""sim: cycle-approximate simulator of low-bit LLM inference accelerators.

    from sim import simulate
    result = simulate("int8-systolic", "llama-2-7b", prefill=512, decode=128)

`InputError` and `write_atomic` live in the leaf package `common` (nothing below `sim`
imports `sim`) and are re-exported here. The engine entry points are imported on first
use so that `import sim` stays cheap for the CLI's help and list commands.
"""

from common.errors import InputError
from common.files import write_atomic, write_dir_atomic

# name -> module that defines it (imported on first use)
_LAZY = {
    "simulate": "sim.api",
    "simulate_ops": "sim.api",
    "Arch": "arch.arch",
    "sweep": "sim.dse.run",
    "search": "sim.dse.search",
    "pareto": "sim.dse.analysis",
}

__all__ = ["InputError", "write_atomic", "write_dir_atomic", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)
