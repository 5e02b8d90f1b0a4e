"""The seed simulators' own results beside ours (issue 11, part 2). Prints JSON.

    python benchmarks/fidelity/seed_systems.py [--systems bitmod,mixpe,flightllm,ant]
        [--ant-nets vgg16,mnli] [--out FILE]

For each seed system, `sim` runs presets carrying that simulator's exact configuration
(arch/presets/*: each preset's `source:` names the file and line of every number) on that
simulator's own workload, normalized to that simulator's own baseline, beside the reference
numbers in data/seed_reference.json (every entry cited: repository@commit + path, or how
their simulator was run to produce it). Our side is computed live, never stored.

BitMoD (abdelfattah-lab/BitMoD-HPCA-25, HPCA'25 Fig. 7 / Fig. 8):
  designs FP16, ANT, OliVe, BitMoD-LY (lossy: W3 generative / W4 discriminative),
  BitMoD-LL (lossless INT6); models OPT-1.3B, Phi-2, Yi-6B, Llama-2-7B, Llama-2-13B,
  Llama-3-8B; batch 1, context 256.
  discriminative = 256 tokens through every linear (lm_head on all 256 tokens) and the
  attention GEMMs, on the discriminative arrays (32x24 FP16, 32x32 ANT, 36x32 OliVe, 32x32
  BitMoD); generative = one token against a 256-token KV cache on the generative arrays
  (64x12, 64x16, 72x16, 64x16). Their figure's generative total is
  20 x generative + discriminative (speedup_plot.ipynb), and so is ours.
  speedup = baseline time / design time; energy = design energy / baseline energy.
  Scope as theirs: GEMMs only (their model has no norms, softmax or element-wise ops).

MixPE (yuzhang712/mixpe_simulator, results/mixpe_res.csv): designs FP16 (32x28), INT8
  (32x32), MixPE-W4A8 (64x64), MixPE-W4A16 (32x32); nets OPT-6.7B and Llama-2-13B as their
  benchmark layer lists (64 rows each: run_mix.py batch 64), each design on its own list
  (the lists differ per design), layer precisions mapped to our formats below.
  time = design time / FP16 time; energy likewise (their table's "Time" / energy rows).
  Their ViT rows need a convolution and are not run.
  Also the issue's same-size check: MixPE against an FP16 array of its own size and memory,
  by their simulator (conf_float.ini resized) and by ours (their workload, and Llama-2-7B
  prefill 256 + decode 20 end to end).

FlightLLM (FlightLLM/flightllm_test_demo, profile/README.md, paper Fig. 12): Llama-2-7B,
  batch 1, prefill 128/512 x decode 512/1024/1536, on the VHK158 as their profiler reports
  it (prefill ms, decode ms, total ms, decode token/s), beside `sim.simulate` on
  flightllm-vhk158; and the U280 on-board figure of their README (55 token/s decode, paper
  Fig. 1, lengths unstated) beside flightllm-u280's decode token/s on the same six cases.
  Their conventions (run.py): decode step i is costed at KV length prefill+i+1 rounded up
  to 16; ours costs the exact length. Absolute times, not ratios: their profiler has no
  baseline of its own (the GPU columns are measured GPUs, not a simulator preset).

ANT (clevercool/ANT-Quantization ant_simulator, results/ant_res.csv; paper Fig. 13): their
  designs ANT-OS, ANT-WS, BitFusion, OLAccel, BiScaled (VGG16 and ResNet50 only in their
  table), normalized to AdaFloat, on VGG16, ResNet18, ResNet50, InceptionV3, ViT and BERT
  (MNLI, CoLA, SST-2) at batch 64, each design on its own layer list (data/ant_reference.json,
  written from their repository by ant_workloads.py, which also turns the lists into our
  GEMMs), on the ant-sim* presets (their conf_*.ini). time = design cycles / AdaFloat cycles
  (their 'Time' row); energy = design / AdaFloat total, and per component (their Static,
  Dram, Buffer, Core rows; ours has no static term, so `energy_dynamic_norm` compares ours
  with their Dram + Buffer + Core). Their simulator was also run here on the same lists
  (ant_simulator_run.py -> data/ant_simulator_run.json): where stored, each row carries
  `their_simulator_run` (it reproduces their table to its 2 decimals) and `absolute` compares
  our cycles with theirs per net and design. `--ant-nets` runs a subset.

Every |ours / theirs - 1| > 10% carries an `explanation`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sim import simulate  # noqa: E402
from workloads.llm import decode_step_ops, prefill_ops  # noqa: E402
from workloads.ops import Op  # noqa: E402
from workloads.zoo import load_model_shape  # noqa: E402

REF_PATH = Path(__file__).resolve().parent / "data" / "seed_reference.json"
GAP = 0.10  # relative gap above which an explanation is required (issue 11)

# --- BitMoD -------------------------------------------------------------------------------
BITMOD_MODELS = ["opt-1.3b", "phi-2", "yi-6b", "llama-2-7b", "llama-2-13b", "llama-3-8b"]
CONTEXT = 256  # bitmod_sim/test_*.py --cxt_len default
BITMOD_HZ = 1e9  # every BitMoD configuration runs at 1 GHz (test_*.py, the presets)
GEN_TOKENS = 20  # speedup_plot.ipynb / energy_plot.ipynb num_token_generate

# design -> presets and formats. Weight bits from bitmod_sim/test_*.py: FP16 16; ANT 5
# (5.25 Yi-6B, 4 Llama-2-13B); OliVe 4 (4.5 Llama-3-8B); BitMoD 3.0625 gen / 4.0625 disc
# (lossy), 6.0625 (lossless). KV bits: 16 FP16/ANT/OliVe, 8 BitMoD.
BITMOD_DESIGNS = {
    "FP16": {"gen": "fp16-bitmod-baseline", "disc": "bitmod-fp16-baseline-disc", "kvq": "fp16"},
    "ANT": {"gen": "ant", "disc": "bitmod-ant-disc", "kvq": "fp16"},
    "OliVe": {"gen": "olive", "disc": "bitmod-olive-disc", "kvq": "fp16"},
    "BitMoD-LY": {"gen": "bitmod-gen-w3", "disc": "bitmod-disc-w4", "kvq": "int8"},
    "BitMoD-LL": {"gen": "bitmod-int6", "disc": "bitmod-int6-disc", "kvq": "int8"},
}


def bitmod_wq(design: str, task: str, model: str) -> tuple[str, str]:
    """Our weight format for their (design, task, model), and a note where their weight
    width has no exact counterpart among our formats ('' when exact)."""
    if design == "FP16":
        return "fp16", ""
    if design == "ANT":
        if model == "llama-2-13b":
            return "int4", ""
        note = "their 5.25 b/w (a per-tensor 4/8-bit mix) run as int5" if model == "yi-6b" else ""
        return "int5", note
    if design == "OliVe":
        note = "their 4.5 b/w run as olive-int4 (4 b/w)" if model == "llama-3-8b" else ""
        return "olive-int4", note
    if design == "BitMoD-LY":
        return ("bitmod-fp3-g128" if task == "gen" else "bitmod-fp4-g128"), ""
    return "bitmod-int6-g128", ""


def bitmod_ops(model: str, task: str, wq: str, kvq: str) -> list[Op]:
    """Their workload as our ops: GEMMs only; discriminative lm_head on all tokens."""
    shape = load_model_shape(model)
    if task == "disc":
        ops = prefill_ops(shape, CONTEXT, 1, wq, "fp16", kvq)
        ops = [replace(o, M=CONTEXT) if o.name == "lm_head" else o for o in ops]
    else:
        ops = decode_step_ops(shape, CONTEXT, 1, wq, "fp16", kvq)
    return [o for o in ops if o.is_gemm]


def run_ops(preset: str, ops: list[Op], fmts: tuple[str, str, str]) -> tuple[float, float]:
    """(time s, energy J) of `ops` on `preset`."""
    res = simulate(preset, ops, prefill=0, decode=0, wq=fmts[0], aq=fmts[1], kvq=fmts[2])
    time_s = sum(r.time_s for r in res.rows)
    energy_j = sum(r.energy_compute_j + r.energy_sram_j + r.energy_dram_j for r in res.rows)
    return time_s, energy_j


def ref_index(ref: dict) -> dict:
    idx = {}
    for e in ref["entries"]:
        key = tuple(
            e.get(k) for k in ("system", "source", "task", "net", "design", "model", "quantity")
        )
        idx[key] = e["value"]
    return idx


def bitmod_theirs(idx: dict, source: str, design: str, model: str) -> dict:
    def get(task, q):
        return idx[("bitmod", source, task, None, design, model, q)]

    def get_b(task, q):
        return idx[("bitmod", source, task, None, "FP16", model, q)]

    out = {}
    cd, cg = get("discriminative", "cycles"), get("generative", "cycles_per_decode_token")
    bd = get_b("discriminative", "cycles")
    bg = get_b("generative", "cycles_per_decode_token")
    ed = get("discriminative", "energy_total")
    eg = get("generative", "energy_total_per_decode_token")
    fd = get_b("discriminative", "energy_total")
    fg = get_b("generative", "energy_total_per_decode_token")
    out["speedup_disc"] = bd / cd
    out["speedup_gen"] = (GEN_TOKENS * bg + bd) / (GEN_TOKENS * cg + cd)
    out["energy_disc"] = ed / fd
    out["energy_gen"] = (GEN_TOKENS * eg + ed) / (GEN_TOKENS * fg + fd)
    return out


def bitmod_ours(design: str, model: str, cache: dict) -> tuple[dict, list[str]]:
    def run(des, task):
        key = (des, task, model)
        if key not in cache:
            d = BITMOD_DESIGNS[des]
            wq, note = bitmod_wq(des, task, model)
            ops = bitmod_ops(model, task, wq, d["kvq"])
            cache[key] = (*run_ops(d[task], ops, (wq, "fp16", d["kvq"])), note)
        return cache[key]

    td, ed, n1 = run(design, "disc")
    tg, eg, n2 = run(design, "gen")
    bd, fd, _ = run("FP16", "disc")
    bg, fg, _ = run("FP16", "gen")
    vals = {
        "speedup_disc": bd / td,
        "speedup_gen": (GEN_TOKENS * bg + bd) / (GEN_TOKENS * tg + td),
        "energy_disc": ed / fd,
        "energy_gen": (GEN_TOKENS * eg + ed) / (GEN_TOKENS * fg + fd),
    }
    return vals, [n for n in {n1, n2} if n]


# --- MixPE --------------------------------------------------------------------------------
MIXPE_NETS = {"opt": "OPT-6.7B", "llama": "Llama-2-13B"}
# design -> (preset, {their layer precision bits: (wq, aq)}). Their benchmark lists give
# each layer one precision for both operands (create_fc); we run the design's real formats.
MIXPE_DESIGNS = {
    "FP16": ("mixpe-fp16-baseline", {16: ("fp16", "fp16")}),
    "INT8": ("mixpe-int8-baseline", {8: ("int8", "int8")}),
    "MixPE-W4A8": ("mixpe-w4a8", {4: ("int4-g128", "int8"), 8: ("int8", "int8")}),
    "MixPE-W4A16": ("mixpe-w4a16", {8: ("int4-g128", "fp16"), 16: ("fp16", "fp16")}),
}
SAME_SIZE = {
    "MixPE-W4A8": ("mixpe-fp16-baseline-64", "FP16-64x64"),
    "MixPE-W4A16": ("mixpe-fp16-baseline-32", "FP16-32x32"),
}


def mixpe_ops(ref: dict, net: str, design: str) -> list[Op]:
    wl = ref["mixpe_workloads"]
    rows = wl["rows_M"]
    fmts = MIXPE_DESIGNS[design][1]
    ops = []
    for i, layer in enumerate(wl["nets"][net][design]["layers"]):
        wq, aq = fmts[layer["precision_bits"]]
        ops.append(
            Op(
                f"fc{i}",
                "linear",
                "prefill",
                M=rows,
                K=layer["K"],
                N=layer["N"],
                count=layer["count"],
                bq=wq,
                aq=aq,
            )
        )
    return ops


def mixpe_run(ref: dict, net: str, design: str, preset: str | None = None) -> tuple[float, float]:
    p = preset or MIXPE_DESIGNS[design][0]
    ops = mixpe_ops(ref, net, design)
    return run_ops(p, ops, (ops[0].bq, ops[0].aq, ops[0].aq))


# --- FlightLLM ----------------------------------------------------------------------------
FLIGHTLLM_QTY = ("prefill_ms", "decode_ms", "total_ms", "decode_tokens_per_s")


def flightllm_ours(preset: str, prefill: int, decode: int) -> dict:
    """Our Llama-2-7B run on `preset` in their quantities, plus where decode time goes."""
    from arch.accelerator import load_accelerator

    acc = load_accelerator(preset)
    res = simulate(acc, "llama-2-7b", prefill=prefill, decode=decode, batch=1)
    f = res.frequency_hz
    dec = [r for r in res.rows if r.phase == "decode"]
    dec_cycles = sum(r.cycles for r in dec)
    dec_compute = sum(r.cycles for r in dec if r.dram_bytes / acc.dram_bytes_per_cycle < r.cycles)
    return {
        "prefill_ms": res.ttft_s * 1e3,
        "decode_ms": dec_cycles / f * 1e3,
        "total_ms": res.total_time_s * 1e3,
        "decode_tokens_per_s": res.tokens_per_s,
        "decode_share_not_dram_bound": dec_compute / dec_cycles,
    }


def flightllm_section(ref: dict) -> dict:
    idx = ref_index(ref)
    cases = ref["flightllm_workload"]["cases_prefill_decode"]
    per_case, u280 = {}, {}
    for pf, dc in cases:
        task = f"b1_p{pf}_d{dc}"
        ours = flightllm_ours("flightllm-vhk158", pf, dc)
        per_case[task] = {
            q: row(
                ours[q],
                idx[("flightllm", "published_table", task, None, "VHK158", "llama-2-7b", q)],
                explain_flightllm("VHK158", q),
            )
            for q in FLIGHTLLM_QTY
        }
        per_case[task]["ours_decode_share_not_dram_bound"] = round(
            ours["decode_share_not_dram_bound"], 4
        )
        ou = flightllm_ours("flightllm-u280", pf, dc)
        claim = idx[
            (
                "flightllm",
                "published_claim",
                "decode_on_board",
                None,
                "U280",
                "llama-2-7b",
                "decode_tokens_per_s",
            )
        ]
        u280[task] = row(ou["decode_tokens_per_s"], claim, explain_flightllm("U280", "tps"))
        u280[task]["ours_decode_share_not_dram_bound"] = round(ou["decode_share_not_dram_bound"], 4)
    geo = {}
    for q in FLIGHTLLM_QTY:
        vals = [per_case[t][q] for t in per_case]
        geo[q] = row(
            gmean([v["ours"] for v in vals]),
            gmean([v["theirs"] for v in vals]),
            explain_flightllm("VHK158", q),
        )
    uvals = list(u280.values())
    return {
        "note": VHK158_NOTE,
        "theirs": "VHK158: their profiler's output in profile/README.md (pre-generated "
        "profiler_output CSVs); U280: 55 token/s on board, README.md (paper Fig. 1)",
        "vhk158_per_case": per_case,
        "vhk158_geomean": geo,
        "u280_decode_tokens_per_s": u280,
        "u280_geomean": row(
            gmean([v["ours"] for v in uvals]),
            gmean([v["theirs"] for v in uvals]),
            explain_flightllm("U280", "tps"),
        ),
    }


# --- ANT ----------------------------------------------------------------------------------
ANT_REF_PATH = Path(__file__).resolve().parent / "data" / "ant_reference.json"
ANT_PRESETS = {
    "ANT-OS": "ant-sim",
    "ANT-WS": "ant-sim-ws",
    "BitFusion": "ant-sim-bitfusion",
    "OLAccel": "ant-sim-olaccel",
    "BiScaled": "ant-sim-biscaled",
    "AdaFloat": "ant-sim-adafloat",
}
ANT_RUN_PATH = Path(__file__).resolve().parent / "data" / "ant_simulator_run.json"
ANT_PARTS = ("static", "dram", "buffer", "core")  # Stats.get_energy_breakdown order
ANT_BASE = "AdaFloat"  # run_ant.py normalizes every design to AdaFloat (lines 169-180, 229-265)
# metric -> their component rows (ant_res.csv) whose sum is compared; None = time
ANT_METRICS = {
    "time_norm": None,
    "energy_norm": ("static", "dram", "buffer", "core"),
    "energy_dynamic_norm": ("dram", "buffer", "core"),
    "energy_dram_norm": ("dram",),
    "energy_buffer_norm": ("buffer",),
    "energy_core_norm": ("core",),
}


def _ant_workloads():
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    import ant_workloads

    return ant_workloads


def ant_ours(ref: dict, net: str, design: str, kernel: str = "true") -> dict:
    """Our run of their `net` on `design`'s preset: time, energy by part, cycles.
    kernel="kh_squared": their simulator's kh x kh costing of kh x kw convolutions."""
    aw = _ant_workloads()
    ops = aw.net_ops(ref, net, design, kernel=kernel)
    preset = ROOT / "arch" / "presets" / f"{ANT_PRESETS[design]}.yaml"
    res = simulate(str(preset), ops, prefill=0, decode=0)
    parts = {
        "dram": sum(r.energy_dram_j for r in res.rows),
        "buffer": sum(r.energy_sram_j for r in res.rows),
        "core": sum(r.energy_compute_j for r in res.rows),
    }
    return {
        "time_s": sum(r.time_s for r in res.rows),
        "cycles": sum(r.cycles for r in res.rows),
        "dram_bytes": sum(r.dram_bytes for r in res.rows),
        "energy_j": sum(parts.values()),
        **{f"energy_{k}_j": v for k, v in parts.items()},
    }


def _ant_our_value(o: dict, b: dict, metric: str) -> float:
    if metric == "time_norm":
        return o["time_s"] / b["time_s"]
    parts = ANT_METRICS[metric]
    if "static" in parts or len(parts) > 1:  # ours has no static part: total vs total
        return o["energy_j"] / b["energy_j"]
    return o[f"energy_{parts[0]}_j"] / b[f"energy_{parts[0]}_j"]


def _ant_their_value(idx: dict, net: str, design: str, metric: str) -> float:
    def get(d, q):
        return idx[("ant", "published_table", None, net, d, None, q)]

    if metric == "time_norm":
        return get(design, "time_norm_adafloat")
    parts = ANT_METRICS[metric]
    num = sum(get(design, f"energy_{p}_norm_adafloat") for p in parts)
    den = sum(get(ANT_BASE, f"energy_{p}_norm_adafloat") for p in parts)
    return num / den


def _ant_run_value(run: dict, base: dict, metric: str) -> float:
    """A metric from their simulator's run (data/ant_simulator_run.json)."""
    if metric == "time_norm":
        return run["cycles"] / base["cycles"]
    parts = [ANT_PARTS.index(p) for p in ANT_METRICS[metric]]
    num = sum(run["energy_breakdown_nj"][i] for i in parts)
    return num / sum(base["energy_breakdown_nj"][i] for i in parts)


def ant_section(ref: dict, nets: list[str] | None = None) -> dict:
    idx = ref_index(ref)
    aw = _ant_workloads()
    nets = nets or list(aw.NETS)
    their_run = json.loads(ANT_RUN_PATH.read_text())["nets"] if ANT_RUN_PATH.exists() else {}
    table: dict = {}
    absolute: dict = {}
    for net in nets:
        runs = {d: ant_ours(ref, net, d) for d in ANT_PRESETS}
        base = runs[ANT_BASE]
        trun = their_run.get(net, {})
        for design, o in runs.items():
            ab = {
                "ours_cycles": round(o["cycles"]),
                "ours_dram_bytes": round(o["dram_bytes"]),
                "ours_energy_j": round(o["energy_j"], 6),
            }
            if design in trun:
                t = trun[design]
                ab["cycles"] = row(o["cycles"], t["cycles"], explain_ant(design, "cycles"))
                if aw.has_non_square_kernels(ref, net, design):
                    o2 = ant_ours(ref, net, design, kernel="kh_squared")
                    ab["cycles_their_kernel_convention"] = row(
                        o2["cycles"], t["cycles"], explain_ant(design, "cycles")
                    )
                ab["their_simulator_dram_bytes"] = round(
                    (t["reads_bits"]["dram"] + t["writes_bits"]["dram"]) / 8
                )
                ab["their_simulator_energy_j"] = round(sum(t["energy_breakdown_nj"]) * 1e-9, 6)
            absolute.setdefault(design, {})[net] = ab
            if design == ANT_BASE:
                continue
            key = ("ant", "published_table", None, net, design, None, "time_norm_adafloat")
            if key not in idx:  # BiScaled: their table prints VGG16 and ResNet50 only
                continue
            for metric in ANT_METRICS:
                r = row(
                    _ant_our_value(o, base, metric),
                    _ant_their_value(idx, net, design, metric),
                    explain_ant(design, metric),
                )
                if design in trun and ANT_BASE in trun:
                    r["their_simulator_run"] = round(
                        _ant_run_value(trun[design], trun[ANT_BASE], metric), 4
                    )
                table.setdefault(f"{design}|{metric}", {})[net] = r
    geo = {}
    means = {}
    for key, per in table.items():
        design, metric = key.split("|")
        geo[key] = row(
            gmean([v["ours"] for v in per.values()]),
            gmean([v["theirs"] for v in per.values()]),
            explain_ant(design, metric),
        )
        if metric == "time_norm":
            mk = ("ant", "published_table", None, "mean_column", design, None, "time_norm_adafloat")
            means[design] = idx[mk]
    return {
        "theirs": "results/ant_res.csv as shipped (their simulator's output; paper Fig. 13), "
        "2 decimals, normalized to AdaFloat",
        "metrics": "time_norm = design / AdaFloat cycles; energy_norm = total / total (theirs "
        "Static + Dram + Buffer + Core); energy_dynamic_norm = ours total vs their Dram + "
        "Buffer + Core; energy_{dram,buffer,core}_norm = that part / AdaFloat's same part",
        "presets": ANT_PRESETS,
        "batch": ref["batch_size"],
        "per_net": table,
        "geomean": geo,
        "their_mean_column_time": {
            "note": "their 'Geomean' column is an arithmetic mean (run_ant.py lines 171-206); "
            "BiScaled's divides the sum over all 8 nets although 2 are printed",
            "values": means,
        },
        "absolute": absolute,
        "their_simulator_run": "data/ant_simulator_run.json: their simulator run here "
        "(ant_simulator_run.py) where present; reproduces their table's 2 decimals",
        "format_notes": {
            d: {str(b): list(f) for b, f in fm.items()} for d, fm in aw.FORMATS.items()
        },
    }


# --- comparison ---------------------------------------------------------------------------
def gmean(xs: list[float]) -> float:
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def row(ours: float, theirs: float, explain: str) -> dict:
    gap = ours / theirs - 1.0
    r = {"ours": round(ours, 4), "theirs": round(theirs, 4), "gap": round(gap, 4)}
    if abs(gap) > GAP:
        r["explanation"] = explain
    return r


def bitmod_section(ref: dict) -> dict:
    idx = ref_index(ref)
    cache: dict = {}
    table, notes = {}, {}
    for design in BITMOD_DESIGNS:
        if design == "FP16":
            continue
        for model in BITMOD_MODELS:
            ours, nn = bitmod_ours(design, model, cache)
            paper = bitmod_theirs(idx, "paper_figure_data", design, model)
            theirsim = bitmod_theirs(idx, "simulator_run", design, model)
            for metric in ours:
                r = row(ours[metric], paper[metric], explain_bitmod(design, metric, ours, paper))
                r["their_simulator_head"] = round(theirsim[metric], 4)
                table.setdefault(f"{design}|{metric}", {})[model] = r
            if nn:
                notes[f"{design}|{model}"] = nn
    geo = {}
    for key, per in table.items():
        o = gmean([v["ours"] for v in per.values()])
        t = gmean([v["theirs"] for v in per.values()])
        design, metric = key.split("|")
        geo[key] = row(o, t, explain_bitmod(design, metric, None, None))
        geo[key]["their_simulator_head"] = round(
            gmean([v["their_simulator_head"] for v in per.values()]), 4
        )
    absolute = {}
    for (des, task, model), (t, _, _) in sorted(cache.items()):
        q = "cycles" if task == "disc" else "cycles_per_decode_token"
        tk = "discriminative" if task == "disc" else "generative"
        absolute.setdefault(f"{des}|{tk}", {})[model] = {
            "ours": round(t * BITMOD_HZ),
            "theirs_paper": idx[("bitmod", "paper_figure_data", tk, None, des, model, q)],
            "their_simulator_head": idx[("bitmod", "simulator_run", tk, None, des, model, q)],
        }
    return {
        "absolute_cycles": absolute,
        "theirs": "paper figure data (plot notebooks); their_simulator_head = their simulator "
        "at the cited commit, run here",
        "metrics": "speedup_* = FP16 time / design time; energy_* = design energy / FP16 energy; "
        "_disc = discriminative (prefill 256), _gen = 20 x generative token + discriminative",
        "per_model": table,
        "geomean": geo,
        "format_notes": notes,
    }


def mixpe_section(ref: dict) -> dict:
    idx = ref_index(ref)
    table = {}
    ours_t: dict = {}
    for net in MIXPE_NETS:
        for design in MIXPE_DESIGNS:
            ours_t[(net, design)] = mixpe_run(ref, net, design)
        bt, be = ours_t[(net, "FP16")]
        for design in MIXPE_DESIGNS:
            if design == "FP16":
                continue
            t, e = ours_t[(net, design)]
            pub_t = idx[("mixpe", "published_table", None, net, design, None, "time_norm_fp16")]
            pub_e = sum(
                idx[("mixpe", "published_table", None, net, design, None, f"energy_{p}_norm_fp16")]
                for p in ("static", "dram", "buffer", "core")
            )
            sim_c = idx[("mixpe", "simulator_run", None, net, design, None, "cycles")]
            sim_cb = idx[("mixpe", "simulator_run", None, net, "FP16", None, "cycles")]
            sim_e = idx[("mixpe", "simulator_run", None, net, design, None, "energy_total")]
            sim_eb = idx[("mixpe", "simulator_run", None, net, "FP16", None, "energy_total")]
            rt = row(t / bt, pub_t, explain_mixpe(design, "time"))
            rt["their_simulator_run"] = round(sim_c / sim_cb, 4)
            re_ = row(e / be, pub_e, explain_mixpe(design, "energy"))
            re_["their_simulator_run"] = round(sim_e / sim_eb, 4)
            table.setdefault(f"{design}|time_norm", {})[net] = rt
            table.setdefault(f"{design}|energy_norm", {})[net] = re_
    geo = {}
    for key, per in table.items():
        design, metric = key.split("|")
        geo[key] = row(
            gmean([v["ours"] for v in per.values()]),
            gmean([v["theirs"] for v in per.values()]),
            explain_mixpe(design, metric.split("_")[0]),
        )
    same = {}
    for design, (preset, their_base) in SAME_SIZE.items():
        per = {}
        for net in MIXPE_NETS:
            t, _ = ours_t[(net, design)]
            bt, _ = mixpe_run(ref, net, "FP16", preset)
            sim_c = idx[("mixpe", "simulator_run", None, net, design, None, "cycles")]
            sim_b = idx[("mixpe", "simulator_run", None, net, their_base, None, "cycles")]
            per[net] = row(bt / t, sim_b / sim_c, explain_mixpe(design, "same_size"))
        e2e_d = simulate(design.lower(), "llama-2-7b", prefill=256, decode=20)
        e2e_b = simulate(preset, "llama-2-7b", prefill=256, decode=20)
        same[design] = {
            "baseline_preset": preset,
            "speedup_their_workload": per,
            "speedup_llama2_7b_prefill256_decode20_ours": round(
                e2e_b.total_time_s / e2e_d.total_time_s, 4
            ),
        }
    return {
        "theirs": "results/mixpe_res.csv (published); their_simulator_run = their simulator "
        "at the cited commit, run here (reproduces the published table to its 2 decimals)",
        "metrics": "time_norm / energy_norm = design / FP16 (32x28) on each design's own list",
        "per_net": table,
        "geomean": geo,
        "same_size_speedup": same,
    }


# --- explanations (causes identified by reading both simulators; see module docstring) ---
def explain_bitmod(design: str, metric: str, ours: dict | None, theirs: dict | None) -> str:
    if metric == "speedup_disc":
        return (
            "their FP16 discriminative baseline is DRAM-bound on the large layers: their "
            "refetch rule (accelerator.py _calc_num_mem_refetch) re-reads a whole operand when "
            "both weight and input exceed the 512 KB buffers (FP16 Llama-2-7B down_proj: "
            "15.5 M compute vs 31 M DRAM cycles by their formulas), which costs the 16-bit "
            "baseline most; ours tiles inside the buffers and runs those layers compute-bound "
            "(see absolute_cycles: our FP16 prefill is close to their compute-only cycles), so "
            "our speedups sit near the PE-count ratios (ANT 1024/768, OliVe 1152/768)"
        )
    if metric == "energy_disc":
        return (
            "their FP16 discriminative energy is dominated by that refetched DRAM traffic "
            "(FP16 Llama-2-7B figure data: 12.6 of 15.5 J off chip at 18.75 pJ/bit); ours "
            "fetches each operand about once, so the low-bit designs save less relative "
            "energy; PE energies also differ (theirs pe_energy x 1.5 PR_SCALING x every PE x "
            "every compute cycle, ours per active MAC from arch/tech)"
        )
    return (
        "cause not isolated: the generative total is 20 x one decode token + the "
        "discriminative run (speedup_plot.ipynb), so it carries the discriminative refetch "
        "difference above; per-token decode cycles are compared in absolute_cycles"
    )


def explain_mixpe(design: str, what: str) -> str:
    if what == "energy":
        return (
            "energy: their energy is leakage x cycles (static, a large share) + CACTI SRAM "
            "per bit + DRAM 0.63 pJ/bit + core power x busy cycles from "
            "systolic_array_synth.csv; ours has no leakage term and charges 18.75 pJ/bit "
            "DRAM, so ratios follow time less closely"
        )
    if design == "INT8":
        return (
            "INT8: their int88 list runs every product at the 8x8 rate on 32x32 PEs vs "
            "FP16 on 32x28: ratio 28/32 = 0.875 in compute; ours differs by buffer/DRAM "
            "stalls of the small 64-row GEMMs"
        )
    return (
        f"{design}: their benchmark lists give the input the weight's precision (create_fc: "
        "data dtype = w_dtype), so their simulator's get_perf_factor counts (pmax/4)^2 = 4 "
        "products per PE per cycle for the W4 layers (their W4A8 runs as W4A4, W4A16 as "
        "'8x8' on a 16-bit PE); ours runs the design's real formats (W4A8 / W4A16: the "
        "activation datapath is fixed-width, 2 products per PE per cycle at W4), about "
        "half their throughput on compute-bound layers"
    )


ANT_STATIC = (
    "their Static row is DRAM background power, 484.615 mW x run time (stats.py lines 83, "
    "105: 0.969 nJ per 500 MHz cycle), 37-42% of AdaFloat's energy and proportional to "
    "cycles; ours has no static/leakage term, so designs whose time ratio exceeds their "
    "dynamic-energy ratio (OLAccel: 0.76-0.90 of AdaFloat's time on 16x18 PEs) are cheaper in "
    "ours; energy_dynamic_norm compares without it"
)
ANT_BUFFER = (
    "buffer energy: theirs reads both operands from SRAM for every MAC (OS: act + wgt per "
    "MAC, outputs once; WS: act per MAC and a 16-bit partial-sum read + write per MAC: "
    "optimizer.py get_stats_fast lines 162-175) at CACTI energies, independent of the "
    "array size; ours reads an operand once per array fold (broadcast along the rows / "
    "cols) and WS partial sums once per K fold, at our SRAM fit. So ANT-WS (WS, against "
    "the OS AdaFloat) costs 0.85-1.05 of AdaFloat's buffer energy in theirs (the 16-bit "
    "partial sums per MAC dominate) but 0.68-1.09 (geomean 0.78) in ours, and OLAccel's "
    "small 16x18 array re-reads operands more "
    "often in ours (2x / 1.6x the folds of 32x28) than in theirs, and BiScaled's 32x80 "
    "array less often"
)
ANT_DRAM = (
    "DRAM: their traffic depends on their tile search far more than on operand width, and "
    "is 0.9-13x ours in absolute bytes (2-9x for ANT-OS and AdaFloat; absolute: "
    "their_simulator_dram_bytes). Transformers: "
    "16-bit partial-sum write-backs dominate: once an output tile no longer fits half the "
    "OBUF, get_stats_fast (optimizer.py lines 109-139, oprec 16) writes it back once per K "
    "(IC) tile, and AdaFloat's 8-bit weight tiles cover half the K of 4-bit ones: on "
    "BERT-SST-2 their run writes 465 Gbit for AdaFloat (43x its 10.9 Gbit of outputs), "
    "35 Gbit for ANT-OS. CNNs: im2col activation reads, refetched per output-channel "
    "tile, dominate (VGG16: 661 Gbit read for AdaFloat, 181 for ANT-OS, 0.27; "
    "data/ant_simulator_run.json). Ours accumulates over K on chip, writes each output "
    "once and refetches less (VGG16: 159 Gbit AdaFloat, 87 ANT-OS), so our DRAM ratio "
    "follows the operand widths (~0.5 for 4-bit designs, ~0.9 for BiScaled's 6 bits vs "
    "8, ~0.75-0.95 for BitFusion's mostly 8-bit lists where theirs is ~1)"
)
ANT_CORE = (
    "core: theirs charges every PE of the array every cycle (leakage + dynamic power of "
    "their one synthesized 8/4-bit PE, systolic_array_synth.csv, x a x c x cycles: "
    "simulator.py lines 315-330, stats.py lines 88-89), whatever the precision or "
    "occupancy; ours charges each active MAC (a 4-bit fused product a quarter of an 8x8 "
    "one, idle PEs of partial folds gated), so a design running mostly 8-bit layers "
    "(BitFusion's CNN lists) costs relatively more in ours, and BiScaled's 32x80 6-bit PEs "
    "(their 152 uW vs 344 uW PE) are modelled by our INT8 MAC energy"
)


def explain_ant(design: str, metric: str) -> str:
    if metric == "cycles":
        return (
            "absolute cycles vs their simulator run here. InceptionV3: their get_cycles "
            "(simulator.py line 496) costs a kh x kw convolution as kh x kh (1x7 as 1x1, 7x1 "
            "as 7x7), which makes its GEMMs 1.70x the true MACs (620.8 vs 365.6 GMAC at batch "
            "64); ours uses the true kernel, and with their convention "
            "(cycles_their_kernel_convention) lands within a few % like the other nets. "
            + explain_ant(design, "time_norm")
        )
    if metric == "time_norm":
        return (
            "time: both are output-stationary closed forms with the same fold counts "
            "(p = 8 / bits per operand, 2 at 4 bits: theirs ceil(M/(a p)) ceil(N/(c p)) K, "
            "accelerator.py lines 107-130; ours ceil(M/R) ceil(N/C) ceil(K/p^2) + the last "
            "fold's drain, arch/mixpe.py). "
            "ANT-WS: their WS formula M ceil(N/(c p)) ceil(K/(a p)) (lines 79-105) spreads a "
            "4-bit x 4-bit PE's 4 products as 2 along K and 2 along N and has no array fill; "
            "our mixpe WS puts all 4 along K (a fold holds 128 K rows x 32 outputs) and pays "
            "the weight fill and skew per fold, so ResNet50's 1x1 convolutions with K = 64 "
            "fill half our fold (2.24x their cycles on those layers, 3-15% on the others: "
            "+12% on ResNet50 as a whole). InceptionV3: their get_cycles takes a kh x kw "
            "kernel as kh x kh (simulator.py line 496: 1x7 as 1x1, 7x1 as 7x7), ours the "
            "true kh x kw"
        )
    if metric == "energy_norm":
        return ANT_STATIC
    if metric == "energy_dynamic_norm":
        return ANT_BUFFER if design in ("ANT-WS", "OLAccel") else ANT_DRAM
    if metric == "energy_dram_norm":
        return ANT_DRAM
    if metric == "energy_buffer_norm":
        return ANT_BUFFER
    return ANT_CORE


def explain_flightllm(design: str, what: str) -> str:
    if design == "U280":
        return (
            "U280: flightllm-u280 is one core (the on-board case gives instructions to SLR0 "
            "only: inst.slr1/slr2 are 4-byte files) with the VHK158's MV unit (N64 x K16 = "
            "1024 INT8 MAC/cycle, U280 values unpublished) at 225 MHz, so its decode is "
            "bound by that unit (ours_decode_share_not_dram_bound ~1): Llama-2-7B's ~6.5 "
            "GMAC/token (q/k at density 0.7) / (1024 x 225e6) ~ 28 ms/token, ~34 token/s, "
            "while its INT4 weights (~3.4 GB) over 32 channels at the 0.7 same-channel "
            "efficiency (322 GB/s) would allow ~95. 55 token/s needs ~1.6x that "
            "MV throughput (more SLR cores, a wider MV unit or a higher clock than the "
            "preset's [unverified] values); the README does not state the lengths or "
            "clock of its 55 token/s, so the preset is not refitted to it"
        )
    return VHK158_NOTE


VHK158_NOTE = (
    "VHK158: our cores (4) x parallel_efficiency (0.8) divide compute exactly as their "
    "correction_factor 3.2 (inst_profiler.py line 21) divides every instruction, and every "
    "op of these runs is compute-bound in ours (ours_decode_share_not_dram_bound = 1), so "
    "streaming HBM at the physical 819.2e9 B/s instead of their 819.2 x 2^30 B/s (7.4% "
    "slower loads) changes nothing here; prefill is within 3%. Our decode is 4-7% faster, "
    "growing with KV length: their profiler leaves part of the load/misc time unhidden "
    "(llama2_decode_token_512.csv: TOTAL 9.81 ms vs MV 9.07 ms; LD 7.11 ms, MISC 0.29 ms), "
    "ours overlaps each op's loads with its compute, and their KV lengths are rounded up "
    "to 16"
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--systems", default="bitmod,mixpe,flightllm,ant")
    ap.add_argument("--ant-nets", default="", help="ANT: a subset of its nets (default all)")
    ap.add_argument("--out", help="also write the JSON here")
    args = ap.parse_args(argv)
    ref = json.loads(REF_PATH.read_text())
    out = {"reference": str(REF_PATH.relative_to(ROOT)), "gap_threshold": GAP}
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    for s in systems:
        if s == "bitmod":
            out["bitmod"] = bitmod_section(ref)
        elif s == "mixpe":
            out["mixpe"] = mixpe_section(ref)
        elif s == "flightllm":
            out["flightllm"] = flightllm_section(ref)
        elif s == "ant":
            nets = [n.strip() for n in args.ant_nets.split(",") if n.strip()] or None
            ant_ref = json.loads(ANT_REF_PATH.read_text())
            known = _ant_workloads().NETS
            bad = [n for n in nets or [] if n not in known]
            if bad:
                print(f"argument: --ant-nets: {', '.join(known)} (got {bad[0]!r})", file=sys.stderr)
                return 2
            out["ant"] = ant_section(ant_ref, nets)
            out["ant_reference"] = str(ANT_REF_PATH.relative_to(ROOT))
        else:
            print(
                f"argument: --systems: bitmod, mixpe, flightllm, ant (got {s!r})", file=sys.stderr
            )
            return 2
    text = json.dumps(out, indent=1)
    print(text)
    if args.out:
        from common.files import write_atomic

        write_atomic(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
