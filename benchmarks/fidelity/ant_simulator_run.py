"""Run ANT's own simulator (clevercool/ANT-Quantization ant_simulator/, Bit Fusion based) on
its own layer lists, offline on CPU, and store what it reports per net and design.

    python benchmarks/fidelity/ant_simulator_run.py --repo ANT_GIT_DIR --cacti CACTI_GIT_DIR \\
        [--nets vit,mnli,cola,sst_2] [--work DIR] [--out FILE]

ANT_GIT_DIR is a clone (or bare git directory) of clevercool/ANT-Quantization, CACTI_GIT_DIR
one of HewlettPackard/cacti (their README: clone it into bitfusion/sram/cacti and make; their
SRAM energies come from it). Into --work (default $SIM_CACHE_DIR/ant-simulator, else
~/.cache/sim/ant-simulator) this script extracts both at the commits given, builds CACTI
with make, creates a virtual environment with their requirements (pandas, graphviz; numpy
for pandas) and runs, in a child process per (net, design) in that environment, their own
code path: benchmarks.create_net (their layer list, batch 64) -> benchmarks.get_bench_numbers
(Simulator.get_cycles per layer: the tiling/loop-order search of optimizer.py) ->
Stats.get_energy_breakdown(Simulator.get_energy_cost()), exactly as run_ant.py does, except
that each distinct layer row of a list is simulated once and multiplied by its count (their
simulator costs every layer independently, so the sums are the same; stats and energy are
linear in the per-layer counts). Output: data/ant_simulator_run.json (per net and design:
cycles, memory stall cycles, DRAM/buffer bits, energy breakdown [static, dram, buffer, core]
in nJ; per layer row too).

Their full run_ant.py takes "about 15 minutes" (their README) on a many-core machine; the
transformer nets (ViT, BERT) take minutes here, the CNNs much longer (pass --nets).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HERE = Path(__file__).resolve().parent
OUT_PATH = HERE / "data" / "ant_simulator_run.json"
REF_PATH = HERE / "data" / "ant_reference.json"
ANT_COMMIT = "bc840673b614fac644081f3169a9c81dff2d8dc1"
CACTI_COMMIT = "1ffd8dfb10303d306ecd8d215320aea07651e878"
# their requirements.txt names pandas and graphviz unpinned; these are the versions used
PINS = ["pandas==3.1.1", "numpy==2.4.6", "graphviz==0.21"]

DRIVER = r"""
import json, sys, time
sys.path.insert(0, ".")
import bitfusion.src.benchmarks.benchmarks as benchmarks
from bitfusion.src.simulator.simulator import Simulator

job = json.loads(open(sys.argv[1]).read())
sim = Simulator(job["conf"], False)
ec = sim.get_energy_cost()
t0 = time.time()
graph = benchmarks.create_net(job["name"], job["rows"], job["batch"])
stats = benchmarks.get_bench_numbers(graph, sim, job["batch"], weight_stationary=job["ws"])
layers = {}
for name, s in stats.items():
    layers[name] = {
        "cycles": s.total_cycles,
        "mem_stall_cycles": s.mem_stall_cycles,
        "reads_bits": s.reads,
        "writes_bits": s.writes,
        "energy_breakdown_nj": s.get_energy_breakdown(ec),
    }
print(json.dumps({"layers": layers, "energy_cost": list(ec), "wall_s": time.time() - t0}))
"""


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def setup(work: Path, ant_git: str, cacti_git: str) -> tuple[Path, Path]:
    """Their simulator + CACTI built + a venv, under `work`; (simulator dir, python)."""
    work.mkdir(parents=True, exist_ok=True)
    sim_dir = work / "ant_simulator"
    if not (sim_dir / "run_ant.py").exists():
        tar = subprocess.run(
            ["git", "--git-dir", ant_git, "archive", ANT_COMMIT, "ant_simulator"],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "x", "-C", str(work)], input=tar, check=True)
    cacti = sim_dir / "bitfusion" / "sram" / "cacti"
    if not (cacti / "cacti").exists():
        cacti.mkdir(parents=True, exist_ok=True)
        tar = subprocess.run(
            ["git", "--git-dir", cacti_git, "archive", CACTI_COMMIT],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "x", "-C", str(cacti)], input=tar, check=True)
        _run(["make", "-C", str(cacti), f"-j{os.cpu_count() or 1}"])
    env = work / "venv"
    py = env / "bin" / "python"
    if not py.exists():
        venv.create(env, with_pip=True, clear=True)
        _run([str(py), "-m", "pip", "install", "-q", *PINS])
    (work / "driver.py").write_text(DRIVER)
    return sim_dir, py


def distinct_rows(rows: list) -> tuple[list, list[int]]:
    uniq: list = []
    counts: list[int] = []
    for r in rows:
        if r in uniq:
            counts[uniq.index(r)] += 1
        else:
            uniq.append(r)
            counts.append(1)
    return uniq, counts


def run_one(sim_dir: Path, py: Path, ref: dict, net: str, design: str) -> dict:
    d = ref["designs"][design]
    conf = Path(d["config_citation"].split()[1]).name
    uniq, counts = distinct_rows(ref["nets"][net][design]["layers"])
    job = {
        "conf": conf,
        "name": net,
        "rows": uniq,
        "batch": ref["batch_size"],
        "ws": d["weight_stationary"],
    }
    job_path = sim_dir.parent / f"job-{net}-{design}.json"
    job_path.write_text(json.dumps(job))
    out = _run([str(py), str(sim_dir.parent / "driver.py"), str(job_path)], cwd=sim_dir)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    layers = []
    tot = {"cycles": 0, "mem_stall_cycles": 0, "energy_breakdown_nj": [0.0] * 4}
    reads: dict = {}
    writes: dict = {}
    for i, (row, n) in enumerate(zip(uniq, counts)):
        kind = "conv" if row[6] == 0 else "fc"
        name = next(k for k in res["layers"] if k.split("/")[0] == f"{kind}{i}")
        s = res["layers"][name]
        layers.append({"row": row, "count": n, **s})
        tot["cycles"] += n * s["cycles"]
        tot["mem_stall_cycles"] += n * s["mem_stall_cycles"]
        tot["energy_breakdown_nj"] = [
            a + n * b for a, b in zip(tot["energy_breakdown_nj"], s["energy_breakdown_nj"])
        ]
        for k, v in s["reads_bits"].items():
            reads[k] = reads.get(k, 0) + n * v
        for k, v in s["writes_bits"].items():
            writes[k] = writes.get(k, 0) + n * v
    return {
        **tot,
        "reads_bits": reads,
        "writes_bits": writes,
        "energy_cost": res["energy_cost"],
        "wall_s": round(res["wall_s"], 1),
        "layers": layers,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", required=True, help="git dir of clevercool/ANT-Quantization")
    ap.add_argument("--cacti", required=True, help="git dir of HewlettPackard/cacti")
    ap.add_argument("--nets", default="vit,mnli,cola,sst_2")
    ap.add_argument("--designs", default="ANT-OS,ANT-WS,BitFusion,OLAccel,BiScaled,AdaFloat")
    cache = Path(os.environ.get("SIM_CACHE_DIR", Path.home() / ".cache" / "sim"))
    ap.add_argument("--work", default=str(cache / "ant-simulator"))
    ap.add_argument("--out", default=str(OUT_PATH))
    args = ap.parse_args(argv)
    from common.files import write_atomic

    ref = json.loads(REF_PATH.read_text())
    sim_dir, py = setup(Path(args.work), args.repo, args.cacti)
    out_path = Path(args.out)
    data = json.loads(out_path.read_text()) if out_path.exists() else {"nets": {}}
    data.update(
        {
            "about": "ANT's simulator run here on its own layer lists (batch 64), by "
            "benchmarks/fidelity/ant_simulator_run.py; energies in nJ, [static, dram, buffer, "
            "core] as Stats.get_energy_breakdown returns them",
            "simulator": f"clevercool/ANT-Quantization@{ANT_COMMIT} ant_simulator",
            "cacti": f"HewlettPackard/cacti@{CACTI_COMMIT}",
            "python": sys.version.split()[0],
            "pins": PINS,
        }
    )
    cmd = (
        "python benchmarks/fidelity/ant_simulator_run.py --repo ANT_GIT_DIR --cacti "
        f"CACTI_GIT_DIR --nets {args.nets} --designs {args.designs}"
    )
    data.pop("command", None)
    data["commands"] = [c for c in data.get("commands", []) if c != cmd] + [cmd]
    for net in [n for n in args.nets.split(",") if n]:
        for design in [d for d in args.designs.split(",") if d]:
            t0 = time.time()
            data["nets"].setdefault(net, {})[design] = run_one(sim_dir, py, ref, net, design)
            print(f"{net} {design}: {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
            write_atomic(out_path, json.dumps(data, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
