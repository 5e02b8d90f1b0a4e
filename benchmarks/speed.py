"""Wall time of one whole `sim run` of Llama-2-7B (prefill 2048, decode 256, batch 1) on
each preset, in-process (a fresh Coster each run, so no memo is shared between runs).
Prints JSON. Goal (issue 2): under 2 s per run on a 2-core machine.

    .venv/bin/python benchmarks/speed.py
"""

from __future__ import annotations

import json
import time

from arch.accelerator import load_accelerator, preset_names
from sim.api import simulate


def main() -> None:
    out = {"model": "llama-2-7b", "prefill": 2048, "decode": 256, "batch": 1, "runs": {}}
    simulate("int8-systolic", "smollm2-135m", prefill=8, decode=1)  # import warm-up
    for name in preset_names():
        accel = load_accelerator(name)
        t = time.perf_counter()
        try:
            res = simulate(accel, "llama-2-7b", prefill=2048, decode=256, batch=1)
        except Exception as e:  # a preset whose native formats don't fit this model
            out["runs"][name] = {"error": str(e)}
            continue
        wall = time.perf_counter() - t
        out["runs"][name] = {"wall_s": round(wall, 3), "tokens_per_s": res.tokens_per_s}
    walls = [r["wall_s"] for r in out["runs"].values() if "wall_s" in r]
    out["max_wall_s"] = max(walls)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
