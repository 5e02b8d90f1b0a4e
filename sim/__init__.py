"""sim: cycle-approximate simulator of low-bit LLM inference accelerators.

    from sim import simulate
    result = simulate("int8-systolic", "llama-2-7b", prefill=512, decode=128)

`InputError` and `write_atomic` live in the leaf package `common` (nothing below `sim`
imports `sim`) and are re-exported here. The engine entry points are imported on first
use so that `import sim` stays cheap for the CLI's help and list commands.
"""

from common.errors import InputError
from common.files import write_atomic, write_dir_atomic

__all__ = ["InputError", "write_atomic", "write_dir_atomic", "simulate", "simulate_ops"]


def __getattr__(name: str):
    if name in ("simulate", "simulate_ops"):
        from sim import api as _mod

        return getattr(_mod, name)
    raise AttributeError(name)
