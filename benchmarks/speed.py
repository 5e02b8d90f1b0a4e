"""Speed of the engine as a sweep sees it (issues 14 and 9), printed as JSON:

- `configs_per_s`: whole-model configurations per second, per tile family (one preset
  each: int8-systolic, bitmod, lut-tensor-core, mixpe-w4a8) and per mapper (`fast`, the
  default of `simulate` and `sim run`; `exact`, the default of `sim sweep` and
  `sim search`: README "Two mappers"), in this one process (= per core): Llama-2-7B,
  prefill 2048 + decode 256, batch 1, each configuration a different arch (DRAM
  bandwidth x {0.5, 0.75, 1, 1.5, 2} and PE columns x {1, 2} of the preset, via
  `Arch.replace`), each with a fresh Coster, so no op or tile cost is shared between them
  (`configs_per_s`), and as `sim sweep` runs them (`configs_per_s_sweep`): tile costs and
  tilings' compute cycles shared through a TileMemo by the configurations that differ
  only in DRAM (sim/engine.py; op costs are never shared). Per wall second and per CPU
  second of this process (`configs_per_cpu_s*`: the machine may be shared). As a sweep
  worker runs: numba's tile pipeline (sim/pipeline_nb.py) loaded once per process, and
  one untimed warm-up configuration (its JIT cache load), reported as `warmup_s`.
  Goal (issue 14): >= 20 per family with the fast mapper.
- `import_s`: wall time of `from sim import simulate` in a fresh interpreter (best of 3;
  goal < 0.15 s).
- `sim_run_cold_s`: wall time of a fresh `sim run` process (best of 3), for a tiny run
  (SmolLM2-135M, prefill 8, decode 1: mostly start-up) and for the whole Llama-2-7B run
  above (goal < 0.5 s).

    .venv/bin/python benchmarks/speed.py [--n 10] [--families bitmod,int8-systolic]
        [--mappers fast,exact]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

FAMILIES = {
    "systolic_mac": "int8-systolic",
    "bitserial": "bitmod",
    "lut": "lut-tensor-core",
    "mixpe": "mixpe-w4a8",
}
MODEL, PREFILL, DECODE = "llama-2-7b", 2048, 256
BW_SCALES = (0.5, 0.75, 1.0, 1.5, 2.0)
COL_SCALES = (1, 2)
SIM = str(Path(sys.executable).parent / "sim")


def configs_per_s(preset: str, n: int, mapper: str = "fast") -> dict:
    from arch.arch import as_accelerator
    from sim import Arch, simulate
    from sim.engine import Coster, TileMemo

    base = Arch.load(preset)
    t = time.perf_counter()
    import sim.pipeline_nb  # noqa: F401  (as sim.dse's workers do)

    exact = mapper == "exact"
    simulate(base, MODEL, prefill=PREFILL, decode=DECODE, mapper=mapper)  # warm-up, untimed
    warmup_s = time.perf_counter() - t
    bw = base.get("memory.dram.bandwidth_gb_s")
    cols = base.get("pe_array.cols")
    variants = [
        {"memory.dram.bandwidth_gb_s": bw * s, "pe_array.cols": cols * c}
        for c in COL_SCALES
        for s in BW_SCALES
    ][:n]
    out: dict = {"mapper": mapper, "configs": len(variants), "warmup_s": round(warmup_s, 3)}
    for mode in ("fresh", "sweep"):
        memo = TileMemo()
        walls, cpus = [], []
        for v in variants:
            accel = as_accelerator(base.replace(v))
            coster = Coster(accel, memo if mode == "sweep" else None, exact=exact)
            t, c = time.perf_counter(), time.process_time()
            simulate(accel, MODEL, prefill=PREFILL, decode=DECODE, batch=1, coster=coster)
            walls.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)
        suffix = "" if mode == "fresh" else "_sweep"
        out[f"configs_per_s{suffix}"] = round(len(walls) / sum(walls), 3)
        out[f"configs_per_cpu_s{suffix}"] = round(len(cpus) / sum(cpus), 3)
        out[f"mean_s{suffix}"] = round(sum(walls) / len(walls), 4)
    return out


def _best_wall(cmd: list[str], repeat: int = 3) -> float:
    best = float("inf")
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="0")
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        best = min(best, time.perf_counter() - t)
    return round(best, 4)


def import_time() -> float:
    code = (
        "import time; t = time.perf_counter(); from sim import simulate; "
        "print(time.perf_counter() - t)"
    )
    best = float("inf")
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        best = min(best, float(out.stdout))
    return round(best, 4)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description="engine speed (JSON)")
    ap.add_argument("--n", type=int, default=len(BW_SCALES) * len(COL_SCALES))
    ap.add_argument("--families", default=",".join(FAMILIES.values()))
    ap.add_argument("--mappers", default="fast,exact", help="fast, exact or both")
    args = ap.parse_args(argv)
    presets = [p for p in args.families.split(",") if p]
    out: dict = {
        "model": MODEL,
        "prefill": PREFILL,
        "decode": DECODE,
        "batch": 1,
        "cpu_count": os.cpu_count(),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "import_s": import_time(),
        "sim_run_cold_s": {
            "smollm2-135m prefill 8 decode 1": _best_wall(
                [SIM, "run", "int8-systolic", "smollm2-135m", "--prefill", "8", "--decode", "1"]
            ),
            f"{MODEL} prefill {PREFILL} decode {DECODE}": _best_wall(
                [
                    SIM,
                    "run",
                    "int8-systolic",
                    MODEL,
                    "--prefill",
                    str(PREFILL),
                    "--decode",
                    str(DECODE),
                ]
            ),
        },
        "families": {},
    }
    mappers = [m for m in args.mappers.split(",") if m]
    for preset in presets:
        out["families"][preset] = {}
        for mapper in mappers:
            try:
                got = configs_per_s(preset, args.n, mapper)
            except Exception as e:  # a preset that cannot run this model: say why
                got = {"error": f"{type(e).__name__}: {e}"}
            out["families"][preset][mapper] = got
    for mapper in mappers:
        for key in ("configs_per_s", "configs_per_s_sweep"):
            rates = [f[mapper][key] for f in out["families"].values() if key in f[mapper]]
            out[f"min_{key}_{mapper}"] = min(rates) if rates else None
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
