"""ANT's own simulator (clevercool/ANT-Quantization, ant_simulator/; ANT, MICRO'22): its
configurations, its workloads and its published result table, as data, and its workloads
as our ops.

    python benchmarks/fidelity/ant_workloads.py --extract GIT_DIR [--commit SHA]

reads a clone of clevercool/ANT-Quantization (a bare git directory is enough: files are
read with `git show COMMIT:PATH`) and writes data/ant_reference.json:

- `designs`: each design of their run_ant.py (ANT-OS, ANT-WS, BitFusion, OLAccel, BiScaled,
  AdaFloat) with the config file it is simulated with (conf_*.ini: array a x c, precisions
  high_prec/low_prec, SRAM sizes, memory interface width, frequency), its layer-list module
  (bitfusion/src/benchmarks/*_bench.py) and its dataflow (run_ant.py passes
  weight_stationary=True for ANT-WS only; check_pandas_or_run's default is False, i.e. their
  output-stationary cycle formula, for every other design);
- `nets`: per net and design, their layer list verbatim: rows
  [input_size, weight_size, output_size, stride, padding, precision_bits, op_type]
  (op_type 0 = convolution, weight_size = [Cout, Cin, kh, kw]; 1 = fully connected,
  weight_size = [N, K]), each with the file and lines it was read from;
- `entries`: results/ant_res.csv as shipped (their simulator's output, from which the paper's
  Fig. 13 is drawn: README.md): cycles and the four energy components (Static, Dram,
  Buffer, Core) per net and design, all normalized to AdaFloat's cycles / total energy,
  printed to 2 decimals; the last 'Geomean' column of that file is an arithmetic mean
  (run_ant.py lines 171-206 sum and divide by the number of nets) and is stored as
  net = "mean_column".

Their workloads as our ops (`net_ops`): batch 64 (run_ant.py line 39; create_net multiplies
the first dimension of every layer's input and output by it). A convolution is the im2col
GEMM M = batch x OH x OW, K = Cin x kh x kw, N = Cout; a fully connected layer M = rows x
batch, K, N. Their layer precision is both operands' (create_conv / create_fc give the
input the weight's dtype).
"""

from __future__ import annotations

import argparse
import ast
import configparser
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from workloads.ops import Op  # noqa: E402

REF_PATH = Path(__file__).resolve().parent / "data" / "ant_reference.json"
REPO = "clevercool/ANT-Quantization"
SIM = "ant_simulator"
BENCH_DIR = f"{SIM}/bitfusion/src/benchmarks"
# their run_ant.py benchlist order (bitfusion/src/benchmarks/benchmarks.py lines 135-144)
NETS = ["vgg16", "resnet18", "resnet50", "inceptionv3", "vit", "mnli", "cola", "sst_2"]
# the names ant_res.csv prints (run_ant.py lines 154-161)
NET_LABELS = {
    "VGG16": "vgg16",
    "ResNet18": "resnet18",
    "ResNet50": "resnet50",
    "InceptionV3": "inceptionv3",
    "ViT": "vit",
    "BERT-MNLI": "mnli",
    "BERT-CoLA": "cola",
    "BERT-SST-2": "sst_2",
}
# design -> (config file, bench module, weight_stationary, run_ant.py lines of its run)
DESIGNS = {
    "ANT-OS": ("conf_ant.ini", "ant_bench", False, "46-59"),
    "ANT-WS": ("conf_ant.ini", "ant_weight_bench", True, "62-76"),
    "BitFusion": ("conf_ant.ini", "bitfusion_bench", False, "79-93"),
    "OLAccel": ("conf_olaccel.ini", "olaccel_bench", False, "96-110"),
    "AdaFloat": ("conf_adafloat.ini", "adafloat_bench", False, "112-126"),
    "BiScaled": ("conf_biscaled.ini", "biscaled_bench", False, "128-142"),
}
ENERGY_ROWS = {"Static": 7, "Dram": 8, "Buffer": 9, "Core": 10}  # ant_res.csv line numbers
TIME_ROW = 3


def _show(git_dir: str, commit: str, path: str) -> str:
    out = subprocess.run(
        ["git", "--git-dir", git_dir, "show", f"{commit}:{path}"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


def _cite(commit: str, path: str, where: str) -> str:
    return f"{REPO}@{commit} {path} {where}"


def _bench_lists(text: str) -> dict[str, tuple[list, int, int]]:
    """name -> (layer rows, first line, last line) of every list assigned in a bench file."""
    out = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = (
                ast.literal_eval(node.value),
                node.lineno,
                node.end_lineno,
            )
    return out


def _parse_results(text: str, commit: str, path: str) -> list[dict]:
    lines = text.splitlines()
    nets_row = [c.strip() for c in lines[0].split(",")]
    designs_row = [c.strip() for c in lines[1].split(",")]
    col_net, cur = [], None
    for c in nets_row:
        cur = c or cur
        col_net.append(cur)
    entries = []
    rows = {"time_norm_adafloat": TIME_ROW}
    rows.update({f"energy_{k.lower()}_norm_adafloat": v for k, v in ENERGY_ROWS.items()})
    for quantity, lineno in rows.items():
        cells = [c.strip() for c in lines[lineno - 1].split(",")]
        label = cells[0]
        for j in range(1, len(designs_row)):
            if j >= len(cells) or not cells[j]:
                continue
            net = col_net[j]
            net_key = "mean_column" if net == "Geomean" else NET_LABELS[net]
            entries.append(
                {
                    "system": "ant",
                    "source": "published_table",
                    "net": net_key,
                    "design": designs_row[j],
                    "quantity": quantity,
                    "value": float(cells[j]),
                    "unit": "ratio",
                    "citation": _cite(
                        commit,
                        path,
                        f"line {lineno} ('{label}') field {j + 1} ({net}, {designs_row[j]})",
                    ),
                }
            )
    return entries


def extract(git_dir: str, commit: str = "HEAD") -> dict:
    """Their configurations, layer lists and result table (module docstring)."""
    sha = subprocess.run(
        ["git", "--git-dir", git_dir, "rev-parse", commit],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    designs = {}
    for design, (conf, bench, ws, run_lines) in DESIGNS.items():
        cp = configparser.ConfigParser()
        cp.read_string(_show(git_dir, sha, f"{SIM}/{conf}"))
        acc = cp["accelerator"]
        designs[design] = {
            "config": {
                "frequency_hz": int(acc["frequency"]),
                "wgt_sram_bytes": int(acc["Wgt_SRAM"]),
                "act_sram_bytes": int(acc["Act_SRAM"]),
                "out_sram_bytes": int(acc["Out_SRAM"]),
                "a_rows": int(acc["a"]),
                "c_cols": int(acc["c"]),
                "high_prec_bits": int(acc["high_prec"]),
                "low_prec_bits": int(acc["low_prec"]),
                "if_width_bits_per_cycle": int(cp["system"]["if_width"]),
            },
            "config_citation": _cite(sha, f"{SIM}/{conf}", "lines 1-14"),
            "bench_module": f"{BENCH_DIR}/{bench}.py",
            "weight_stationary": ws,
            "run_citation": _cite(sha, f"{SIM}/run_ant.py", f"lines {run_lines}"),
        }
    nets: dict = {n: {} for n in NETS}
    for design, (_, bench, _, _) in DESIGNS.items():
        path = f"{BENCH_DIR}/{bench}.py"
        lists = _bench_lists(_show(git_dir, sha, path))
        for net in NETS:
            rows, first, last = lists[net]
            nets[net][design] = {
                "citation": _cite(sha, path, f"lines {first}-{last} ({net})"),
                "layers": rows,
            }
    run = _show(git_dir, sha, f"{SIM}/run_ant.py").splitlines()
    assert run[38].strip() == "batch_size = 64", run[38]
    res_path = f"{SIM}/results/ant_res.csv"
    return {
        "about": "ANT's simulator (ant_simulator/, Bit Fusion based): configurations, layer "
        "lists and its shipped result table; written by benchmarks/fidelity/ant_workloads.py "
        "--extract from the cited commit (every value cited).",
        "repository": REPO,
        "commit": sha,
        "batch_size": 64,
        "batch_size_citation": _cite(sha, f"{SIM}/run_ant.py", "line 39"),
        "layer_format": "[input_size, weight_size, output_size, stride, padding, "
        "precision_bits, op_type]; op_type 0 conv (weight [Cout, Cin, kh, kw]), 1 fc "
        "(weight [N, K]); sizes per image / sequence (batch 1), their create_net scales "
        "dimension 0 by the batch",
        "designs": designs,
        "nets": nets,
        "entries": _parse_results(_show(git_dir, sha, res_path), sha, res_path),
    }


# --- their workloads as our ops ----------------------------------------------------------
# design -> {their layer precision (bits): (weight format, activation format)}. Their layer
# precision is both operands' (module docstring). ANT's 4-bit layers run ANT's adaptive
# 4-bit type through the decoder (ant4), its 8-bit layers int8 (the paper keeps the first
# and last layers at 8 bits); BitFusion/OLAccel are integer; AdaFloat's 8-bit AdaptivFloat
# is their simulator's FXP8 (the same 8x8 rate, benchmarks.py get_precision), here int8;
# BiScaled 6-bit integers.
FORMATS = {
    "ANT-OS": {4: ("ant4", "ant4"), 8: ("int8", "int8")},
    "ANT-WS": {4: ("ant4", "ant4"), 8: ("int8", "int8")},
    "BitFusion": {4: ("int4", "int4"), 8: ("int8", "int8")},
    "OLAccel": {4: ("int4", "int4"), 8: ("int8", "int8")},
    "AdaFloat": {8: ("int8", "int8")},
    "BiScaled": {6: ("int6", "int6")},
}


def layer_gemm(row: list, batch: int, kernel: str = "true") -> tuple[int, int, int]:
    """(M, K, N) of one of their layer rows at `batch` (module docstring). kernel="kh_squared"
    reproduces their simulator's convention: Simulator.get_cycles (simulator.py line 496)
    takes the kernel size from the weight tensor's second dimension, kh, and costs a
    kh x kw convolution as kh x kh (InceptionV3's 1x7 as 1x1, 7x1 as 7x7)."""
    inp, w, out, _stride, _pad, _bits, op_type = row
    if op_type == 0:
        kk = w[2] * w[2] if kernel == "kh_squared" else w[2] * w[3]
        return batch * out[2] * out[3], w[1] * kk, w[0]
    return batch * inp[0], w[1], w[0]


def has_non_square_kernels(ref: dict, net: str, design: str) -> bool:
    return any(r[6] == 0 and r[1][2] != r[1][3] for r in ref["nets"][net][design]["layers"])


def net_ops(
    ref: dict, net: str, design: str, batch: int | None = None, kernel: str = "true"
) -> list[Op]:
    """Their `net` as run on `design`: one op per distinct (M, K, N, precision), with its
    count (their simulator costs every layer separately; identical layers cost the same).
    `kernel`: as in layer_gemm."""
    b = ref["batch_size"] if batch is None else batch
    fmts = FORMATS[design]
    counts: Counter = Counter()
    order: list = []
    for row in ref["nets"][net][design]["layers"]:
        key = (*layer_gemm(row, b, kernel), row[5], row[6])
        if key not in counts:
            order.append(key)
        counts[key] += 1
    ops = []
    for i, key in enumerate(order):
        M, K, N, bits, op_type = key
        wq, aq = fmts[bits]
        name = f"{'conv' if op_type == 0 else 'fc'}{i}_w{bits}"
        ops.append(Op(name, "linear", "prefill", M=M, K=K, N=N, count=counts[key], bq=wq, aq=aq))
    return ops


def dumps(data: dict) -> str:
    """JSON with one line per layer row (the file stays readable and diffable)."""
    rows: list[str] = []
    nets = {}
    for net, per in data["nets"].items():
        nets[net] = {}
        for design, d in per.items():
            marks = []
            for r in d["layers"]:
                marks.append(f"@@{len(rows)}@@")
                rows.append(json.dumps(r, separators=(", ", ": ")))
            nets[net][design] = {**d, "layers": marks}
    text = json.dumps({**data, "nets": nets}, indent=1)
    for i, r in enumerate(rows):
        text = text.replace(f'"@@{i}@@"', r, 1)
    return text + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--extract", metavar="GIT_DIR", required=True, help="clone of " + REPO)
    ap.add_argument("--commit", default="HEAD")
    ap.add_argument("--out", default=str(REF_PATH))
    args = ap.parse_args(argv)
    from common.files import write_atomic

    data = extract(args.extract, args.commit)
    write_atomic(args.out, dumps(data))
    print(f"{args.out}: {len(data['entries'])} entries, commit {data['commit']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
