"""sim: cycle-approximate simulator of low-bit LLM inference accelerators.

    from sim import simulate
    result = simulate("int8-systolic", "llama-2-7b", prefill=512, decode=128)

`simulate` is imported lazily so that low-level packages (arch, quant) can use
`sim.errors` without importing the engine.
"""

__all__ = ["simulate", "simulate_ops"]


def __getattr__(name: str):
    if name in __all__:
        from sim import api as _mod

        return getattr(_mod, name)
    raise AttributeError(name)
