"""The peers' common layer (../shared/reference/PEERS.md) through ZigZag, the roofline
bound, the peers' published figures and `sim` (issue 11, part 5). Prints JSON.

    python benchmarks/fidelity/peers.py [--skip-zigzag]

Workload: one Llama-2-7B decoder layer: q/k/v/o 4096->4096, gate/up 4096->11008, down
11008->4096, and QK^T / AV of 32 heads (head dim 128) at KV length 512; prefill M = 512,
decode M = 1. Hardware: a 32x32 INT8 weight-stationary array at 1 GHz, 2 MB of on-chip
SRAM, DRAM 64 GB/s (512 bit/cycle).

- ZigZag (zigzag-dse 3.9.1, the version PEERS.md ran, + `six`, which it needs and does
  not declare) is installed by this script into its own virtual environment,
  `$SIM_CACHE_DIR/zigzag-venv` (default ~/.cache/sim/zigzag-venv), and run there in a child
  process, so the project environment stays clean. Our description of the hardware for
  it is ZigZag's own `tpu_like` example (zigzag/inputs/hardware/tpu_like.yaml in 3.9.1)
  with this layer's sizes: a 32x32 (D1 x D2) operational array of 8-bit multipliers,
  systolic over both dimensions; per PE a 128 B (1024-bit) weight register file and one
  32-bit accumulator register; one 2 MB SRAM (16 777 216 bits) holding inputs and outputs
  (weights go from DRAM straight into the PE register files, as in tpu_like), its read
  and write ports 64..2048 bit/cycle (tpu_like's widths); DRAM with one read/write port
  of 512 bit/cycle. Mapping: K (outputs) on D1, C (reduction) on D2, weight-stationary;
  temporal loops searched by ZigZag's LOMA, latency-optimal.
  Each GEMM is one ZigZag `Gemm` layer `O[g][b][k] += I[g][b][c] * W[g][c][k]` (g = heads
  for attention, 1 otherwise). Energy constants (unit_energy, r/w costs) are
  ZigZag's tpu_like values; only latency is compared.
  Why this description and not "one 8-bit weight register per PE, weights in the SRAM":
  that one gives exactly 2.0x the ideal cycles in every prefill GEMM. With a single weight
  per PE the output register cannot accumulate over C in place, so the 32-bit partial
  sums go back to the SRAM and are read again every cycle; ZigZag's port model
  (CostModelEvaluation.combine_data_transfer_rate_per_physical_port) charges each operand
  whose transfer window is the whole period for the whole period on a shared port,
  whatever fraction of its 2048 bits it uses, so the input (every cycle) and the partial
  sums (every cycle) on the SRAM's one read port sum to 2x the computation time and the
  stall is 1x it (q_proj: 8 461 306 stall cycles on 8 388 608 ideal). With the 128 B
  weight RF, LOMA keeps a C loop under the accumulator and only the input needs the port
  every cycle. This description reproduces PEERS.md's ZigZag figures (105.96 ms prefill,
  q/k/v/o 8.64 M cycles each, 3.229 ms decode); `zigzag_vs_peers_md` reports the match.
- Roofline: max(MACs / 1024 MAC/cycle, DRAM bytes / 64 B/cycle) at 1 GHz, with the MACs
  and the compulsory bytes (int8 weights once, KV cache once, input and output
  activations once) counted here from the shapes.
- `sim`: the same ops (int8 weights and activations, int8 KV) on the `int8-systolic`
  preset, which describes this hardware (arch/presets/int8-systolic.yaml).
- Peers: the table of PEERS.md (tool, version, prefill ms, decode ms, wall time), as
  published there.
ZigZag and sim are timed in the same run (wall clock of each call, same machine).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ZIGZAG_PIN = ["zigzag-dse==3.9.1", "six"]
FREQ_HZ = 1e9
MACS_PER_CYCLE = 32 * 32
DRAM_BYTES_PER_CYCLE = 64  # 64 GB/s at 1 GHz = 512 bit/cycle
HEADS, HEAD_DIM, KV_LEN, HIDDEN, INTER = 32, 128, 512, 4096, 11008
PHASES = {"prefill": 512, "decode": 1}

# ../shared/reference/PEERS.md, "tool (version) | prefill | decode | wall time per layer"
PEERS = {
    "ZigZag (zigzag-dse 3.9.1)": {
        "prefill_ms": 105.96,
        "decode_ms": 3.229,
        "wall": "8.5 s / 4.7 s",
    },
    "Stream (stream-dse 2.1.1)": {"prefill_ms": 103.61, "decode_ms": 3.249, "wall": "7.2 s both"},
    "LLMCompass": {"prefill_ms": 107.69, "decode_ms": 3.229, "wall": "~62 s"},
    "GenZ (genz-llm 0.0.16)": {"prefill_ms": 103.28, "decode_ms": 3.006, "wall": "0.08 s model"},
    "LLM-Viewer": {"prefill_ms": 103.28, "decode_ms": 3.23, "wall": "~1 ms"},
    "SCALE-Sim 3.0.0": {"prefill_ms": 122.0, "decode_ms": None, "wall": "hours, >24 GB"},
}

# ../shared/reference/PEERS.md, Notes: "ZigZag per-GEMM prefill cycles" (millions)
PEERS_ZIGZAG_PREFILL_MCYCLES = {
    "q_proj": 8.64,
    "k_proj": 8.64,
    "v_proj": 8.64,
    "o_proj": 8.64,
    "gate_proj": 23.09,
    "up_proj": 23.09,
    "down_proj": 23.08,
    "attn_qk": 1.08,
    "attn_pv": 1.06,
}


def gemms(m: int) -> list[dict]:
    """(name, G, B, C, K): O[g][b][k] += I[g][b][c] * W[g][c][k], the layer's GEMMs."""
    lin = [
        ("q_proj", HIDDEN, HIDDEN),
        ("k_proj", HIDDEN, HIDDEN),
        ("v_proj", HIDDEN, HIDDEN),
        ("o_proj", HIDDEN, HIDDEN),
        ("gate_proj", HIDDEN, INTER),
        ("up_proj", HIDDEN, INTER),
        ("down_proj", INTER, HIDDEN),
    ]
    out = [{"name": n, "G": 1, "B": m, "C": c, "K": k} for n, c, k in lin]
    out.append({"name": "attn_qk", "G": HEADS, "B": m, "C": HEAD_DIM, "K": KV_LEN})
    out.append({"name": "attn_pv", "G": HEADS, "B": m, "C": KV_LEN, "K": HEAD_DIM})
    return out


def roofline(m: int) -> dict:
    """MACs, compulsory DRAM bytes (int8) and the bound of one layer at M = m."""
    macs = sum(g["G"] * g["B"] * g["C"] * g["K"] for g in gemms(m))
    weights = sum(g["C"] * g["K"] for g in gemms(m) if g["G"] == 1)
    kv = 2 * KV_LEN * HEADS * HEAD_DIM
    acts = sum(g["B"] * (g["C"] + g["K"]) for g in gemms(m) if g["G"] == 1)
    compute_s = macs / MACS_PER_CYCLE / FREQ_HZ
    memory_s = (weights + kv + acts) / DRAM_BYTES_PER_CYCLE / FREQ_HZ
    return {
        "macs": macs,
        "dram_bytes": weights + kv + acts,
        "compute_ms": compute_s * 1e3,
        "memory_ms": memory_s * 1e3,
        "bound_ms": max(compute_s, memory_s) * 1e3,
        "bound": "compute" if compute_s >= memory_s else "memory",
    }


# --- sim ---------------------------------------------------------------------------------


def sim_layer(phase: str, mapper: str = "fast") -> dict:
    """The layer's GEMMs through sim on int8-systolic with the given mapper (README "Two
    mappers"): time per op and total, wall time."""
    from arch.accelerator import load_accelerator
    from sim.api import simulate_ops
    from sim.engine import Coster
    from workloads.ops import Op

    m = PHASES[phase]
    t0 = time.perf_counter()
    accel = load_accelerator("int8-systolic")
    ops = []
    for g in gemms(m):
        kind = "linear" if g["G"] == 1 else g["name"]
        ops.append(
            Op(
                g["name"],
                kind,
                phase,
                M=g["B"],
                K=g["C"],
                N=g["K"],
                count=g["G"],
                bq="int8",
                aq="int8",
            )
        )
    fmts = {"wq": "int8", "aq": "int8", "kvq": "int8"}
    coster = Coster(accel, exact=mapper == "exact")
    res = simulate_ops(accel, ops, "llama-2-7b-layer", m, 0, 1, fmts, coster=coster)
    wall = time.perf_counter() - t0
    per_op = {r.name: r.cycles for r in res.rows}
    return {
        "ms": sum(per_op.values()) / accel.frequency_hz * 1e3,
        "per_op_cycles": per_op,
        "wall_s": wall,
    }


# --- ZigZag ------------------------------------------------------------------------------

ACCELERATOR_YAML = """\
name: int8_ws_32x32_2MB_64GBs
memories:
  w_reg:
    size: 1024
    r_cost: 0.095
    w_cost: 0.095
    area: 0
    latency: 1
    operands: [I2]
    ports:
      - {name: r_port_1, type: read, bandwidth_min: 8, bandwidth_max: 8, allocation: ["I2, tl"]}
      - {name: w_port_1, type: write, bandwidth_min: 8, bandwidth_max: 8, allocation: ["I2, fh"]}
    served_dimensions: []
  acc_reg:
    size: 32
    r_cost: 0.021
    w_cost: 0.021
    area: 0
    latency: 1
    operands: [O]
    ports:
      - {name: r_port_1, type: read, bandwidth_min: 32, bandwidth_max: 32, allocation: ["O, tl"]}
      - {name: r_port_2, type: read, bandwidth_min: 32, bandwidth_max: 32, allocation: ["O, th"]}
      - {name: w_port_1, type: write, bandwidth_min: 32, bandwidth_max: 32, allocation: ["O, fh"]}
      - {name: w_port_2, type: write, bandwidth_min: 32, bandwidth_max: 32, allocation: ["O, fl"]}
    served_dimensions: []
  sram_2MB:
    size: 16777216
    r_cost: 416.16
    w_cost: 378.4
    area: 0
    latency: 1
    operands: [I1, O]
    ports:
      - name: r_port_1
        type: read
        bandwidth_min: 64
        bandwidth_max: 2048
        allocation: ["I1, tl", "O, tl", "O, th"]
      - name: w_port_1
        type: write
        bandwidth_min: 64
        bandwidth_max: 2048
        allocation: ["I1, fh", "O, fh", "O, fl"]
    served_dimensions: [D1, D2]
  dram:
    size: 10000000000
    r_cost: 700
    w_cost: 750
    area: 0
    latency: 1
    operands: [I1, I2, O]
    ports:
      - name: rw_port_1
        type: read_write
        bandwidth_min: 512
        bandwidth_max: 512
        allocation: ["I1, fh", "I1, tl", "I2, fh", "I2, tl", "O, fh", "O, tl", "O, fl", "O, th"]
    served_dimensions: [D1, D2]
operational_array:
  input_precision: [8, 8]
  unit_energy: 0.04
  unit_area: 1
  dimensions: [D1, D2]
  sizes: [32, 32]
  systolic_dimensions: [D1, D2]
"""

MAPPING_YAML = """\
- name: default
  spatial_mapping:
    D1:
      - K, 32
    D2:
      - C, 32
  memory_operand_links:
    O: O
    W: I2
    I: I1
"""

CHILD = r"""
import json, logging, sys, time
logging.disable(logging.CRITICAL)
from zigzag.api import get_hardware_performance_zigzag
wl, acc, mp, out = sys.argv[1:5]
t0 = time.perf_counter()
res = get_hardware_performance_zigzag(wl, acc, mp, opt="latency", dump_folder=out,
                                      loma_show_progress_bar=False)
wall = time.perf_counter() - t0
energy, latency, cmes = res[0], res[1], res[-1]
per = {}
for item in cmes[0][1]:
    c = item[0]
    per[str(c.layer.name)] = {"cycles": float(c.latency_total2),
                              "ideal_cycles": float(getattr(c, "ideal_temporal_cycle", 0.0))}
print(json.dumps({"latency_cycles": float(latency), "energy_pj": float(energy),
                  "per_layer_cycles": per, "wall_s": wall}))
"""


def _layer_yaml(i: int, g: dict) -> str:
    return (
        f"- id: {i}\n  name: {g['name']}\n  operator_type: Gemm\n"
        "  equation: O[g][b][k]+=I[g][b][c]*W[g][c][k]\n"
        "  loop_dims: [G, B, C, K]\n"
        f"  loop_sizes: [{g['G']}, {g['B']}, {g['C']}, {g['K']}]\n"
        "  operand_precision: {W: 8, I: 8, O: 32, O_final: 8}\n"
    )


def zigzag_python() -> Path:
    """The python of the ZigZag venv, created (and zigzag-dse installed) on first use."""
    cache = Path(os.environ.get("SIM_CACHE_DIR", Path.home() / ".cache" / "sim"))
    env = cache / "zigzag-venv"
    py = env / "bin" / "python"
    probe = [str(py), "-c", "import importlib.metadata as m, six; print(m.version('zigzag-dse'))"]
    if py.exists():
        r = subprocess.run(probe, capture_output=True, text=True)
        if r.returncode == 0 and r.stdout.strip() == ZIGZAG_PIN[0].split("==")[1]:
            return py
    venv.create(env, with_pip=True, clear=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", *ZIGZAG_PIN], check=True)
    return py


def zigzag_layer(py: Path, phase: str) -> dict:
    """ZigZag's latency (cycles -> ms at 1 GHz) of the layer at this phase, and wall time."""
    with tempfile.TemporaryDirectory(prefix="zigzag-") as d:
        d = Path(d)
        (d / "acc.yaml").write_text(ACCELERATOR_YAML)
        (d / "map.yaml").write_text(MAPPING_YAML)
        (d / "wl.yaml").write_text(
            "".join(_layer_yaml(i, g) for i, g in enumerate(gemms(PHASES[phase])))
        )
        t0 = time.perf_counter()
        r = subprocess.run(
            [
                str(py),
                "-c",
                CHILD,
                str(d / "wl.yaml"),
                str(d / "acc.yaml"),
                str(d / "map.yaml"),
                str(d / "out"),
            ],
            capture_output=True,
            text=True,
            cwd=d,
        )
        outer = time.perf_counter() - t0
    if r.returncode != 0:
        return {"error": r.stderr.strip().splitlines()[-1][:300] if r.stderr else "failed"}
    res = json.loads(r.stdout.strip().splitlines()[-1])
    res["ms"] = res["latency_cycles"] / FREQ_HZ * 1e3
    res["wall_s_with_startup"] = outer
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--skip-zigzag", action="store_true", help="no ZigZag install or run")
    a = ap.parse_args(argv)
    out: dict = {
        "workload": "Llama-2-7B decoder layer, KV 512; prefill M=512, decode M=1",
        "hardware": "32x32 INT8 WS array, 1 GHz, 2 MB SRAM, 64 GB/s DRAM",
        "peers_published": PEERS,
        "phases": {},
    }
    py = None
    if not a.skip_zigzag:
        try:
            py = zigzag_python()
        except (subprocess.CalledProcessError, OSError) as e:
            out["zigzag_install_error"] = str(e)[:300]
    for phase in PHASES:
        rl = roofline(PHASES[phase])
        s = sim_layer(phase)
        x = sim_layer(phase, "exact")
        row = {
            "roofline": rl,
            "sim": {
                "ms": s["ms"],
                "wall_s": s["wall_s"],
                "per_op_cycles": s["per_op_cycles"],
                "vs_roofline": s["ms"] / rl["bound_ms"] - 1,
            },
            "sim_exact_mapper": {
                "ms": x["ms"],
                "wall_s": x["wall_s"],
                "vs_roofline": x["ms"] / rl["bound_ms"] - 1,
            },
        }
        if py is not None:
            z = zigzag_layer(py, phase)
            if "ms" in z:
                z["vs_roofline"] = z["ms"] / rl["bound_ms"] - 1
                row["sim"]["vs_zigzag"] = s["ms"] / z["ms"] - 1
                row["sim"]["speedup_vs_zigzag_wall"] = z["wall_s"] / s["wall_s"]
                peer = PEERS["ZigZag (zigzag-dse 3.9.1)"][f"{phase}_ms"]
                z["vs_peers_md_total"] = z["ms"] / peer - 1
                if phase == "prefill":
                    z["vs_peers_md_per_gemm"] = {
                        n: z["per_layer_cycles"][n]["cycles"] / (mc * 1e6) - 1
                        for n, mc in PEERS_ZIGZAG_PREFILL_MCYCLES.items()
                    }
            row["zigzag"] = z
        row["peers"] = {
            k: {
                "ms": v[f"{phase}_ms"],
                "vs_roofline": None
                if v[f"{phase}_ms"] is None
                else v[f"{phase}_ms"] / rl["bound_ms"] - 1,
            }
            for k, v in PEERS.items()
        }
        out["phases"][phase] = row
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
