"""Measure GEMM latencies of LLM linear layers on a real GPU (run on the H100 device machine).

    PYTHONUNBUFFERED=1 python3 benchmarks/data/h100_gemm.py --out $OUT

Writes `h100_gemm_run<run>.csv` (run, model, layer, M, M_run, K, N, dtype, mode, time_us) and
`h100_gemm_meta_run<run>.json` (GPU name, clocks, driver, torch/CUDA versions, bandwidth probes).
The CSV is written row by row, so a run stopped early keeps what it measured.
benchmarks/data/h100_gemm.csv holds run 1 (M ascending; recorded by this script before the
`run` column and `--run/--reverse` options existed, otherwise identical) and run 2
(`--run 2 --reverse`), concatenated; the fit uses the geometric mean of the two.

Shapes: every linear layer of Llama-2-7B, Llama-3-8B and OPT-6.7B, y = x @ W^T with
x: M x K (activations) and W: N x K (weights, PyTorch nn.Linear layout), M = tokens.

Precisions (the kernels an inference stack calls):
- fp16, bf16: `torch.nn.functional.linear` (cuBLAS, fp32 accumulate, output in the same type).
- int8: `torch._int_mm(x, W.t())` (cuBLASLt int8 x int8 -> int32, output int32). It needs
  M > 16, so M = 1, 8, 16 run padded to M_run = 32 (the time reported is that of M_run).
- fp8-e4m3: `torch._scaled_mm(x, W.t(), scale_a, scale_b, out_dtype=bf16,
  use_fast_accum=True)` with per-tensor fp32 scales (dims must be multiples of 16; if a
  small M is refused it is padded to 16, recorded in M_run).

Modes:
- steady: a CUDA graph of 20 back-to-back calls; time per call = replay time / 20
  (CUDA events), median of 7 replays after one warm-up replay. Launch gaps are hidden, as
  when a model's kernels run back to back.
- per_call: one call at a time, `torch.cuda.synchronize()` before and after, host wall
  clock (time.perf_counter) around launch + sync; median of 25 calls. This is what an
  isolated eager-mode call costs (Python dispatch + launch + kernel + sync).
- per_call_gpu: the same single calls timed with CUDA events around the launch (GPU-side
  duration incl. launch latency, excl. host dispatch); median of 25.
- steady_hot: like steady but all 20 calls use the same x and W (only for sets of at most
  64 MB), to show what an L2-resident weight would cost.

Rotating buffers (steady, per_call, per_call_gpu): n = clamp(ceil(200 MB / bytes(x+W)), 2,
20) independent (x, W) sets are allocated and call i uses set i mod n, so consecutive calls
touch >= 200 MB (or >= 2 sets) of operands; the H100 L2 is 50 MB, so weights are read from
HBM as in a real forward pass, where each layer's weights are used once per step. Outputs
are not rotated (the caching allocator reuses the same block).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import subprocess
import time
from pathlib import Path

import torch

MODELS = {
    "llama-2-7b": [
        ("qkvo_proj", 4096, 4096),
        ("gate_up_proj", 4096, 11008),
        ("down_proj", 11008, 4096),
        ("lm_head", 4096, 32000),
    ],
    "llama-3-8b": [
        ("q_o_proj", 4096, 4096),
        ("kv_proj", 4096, 1024),
        ("gate_up_proj", 4096, 14336),
        ("down_proj", 14336, 4096),
        ("lm_head", 4096, 128256),
    ],
    "opt-6.7b": [
        ("qkvo_proj", 4096, 4096),
        ("fc1", 4096, 16384),
        ("fc2", 16384, 4096),
        ("lm_head", 4096, 50272),
    ],
}
M_MAIN = [1, 8, 32, 128, 512, 2048]
M_EXTRA = [16, 64, 256, 1024, 4096]
DTYPES = ["fp16", "bf16", "int8", "fp8-e4m3"]
GRAPH_CALLS = 20
REPLAYS = 7
CALLS = 25
ROTATE_BYTES = 200e6
ELEM_BYTES = {"fp16": 2, "bf16": 2, "int8": 1, "fp8-e4m3": 1}


def make_operands(dtype: str, m: int, k: int, n: int, dev: str):
    """One (x, w) set: x m x k row-major, w n x k row-major (w.t() is column-major)."""
    if dtype in ("fp16", "bf16"):
        t = torch.float16 if dtype == "fp16" else torch.bfloat16
        return torch.randn(m, k, device=dev, dtype=t), torch.randn(n, k, device=dev, dtype=t)
    if dtype == "int8":
        x = torch.randint(-64, 64, (m, k), device=dev, dtype=torch.int8)
        return x, torch.randint(-64, 64, (n, k), device=dev, dtype=torch.int8)
    f8 = torch.float8_e4m3fn
    return (
        torch.randn(m, k, device=dev).to(f8),
        torch.randn(n, k, device=dev).to(f8),
    )


def make_call(dtype: str, dev: str):
    if dtype in ("fp16", "bf16"):
        return lambda x, w: torch.nn.functional.linear(x, w)
    if dtype == "int8":
        return lambda x, w: torch._int_mm(x, w.t())
    one = torch.ones((), device=dev, dtype=torch.float32)

    def fp8(x, w):
        return torch._scaled_mm(
            x, w.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16, use_fast_accum=True
        )

    return fp8


def run_m(dtype: str, m: int) -> list[int]:
    """Candidate M_run values: M itself, then the padding the kernel needs."""
    if dtype == "int8" and m <= 16:
        return [32]
    if dtype == "fp8-e4m3" and m % 16:
        return [m, 16 * math.ceil(m / 16)]
    return [m]


def time_graph(call, sets) -> float:
    """Median time per call (us) of a CUDA graph of GRAPH_CALLS calls over `sets`."""
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for i in range(3):
            call(*sets[i % len(sets)])
    torch.cuda.current_stream().wait_stream(s)
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for i in range(GRAPH_CALLS):
            call(*sets[i % len(sets)])
    g.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(REPLAYS):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        g.replay()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) * 1e3 / GRAPH_CALLS)
    del g
    return statistics.median(times)


def time_calls(call, sets) -> tuple[float, float]:
    """(median host wall us, median CUDA-event us) of isolated calls."""
    for i in range(3):
        call(*sets[i % len(sets)])
    torch.cuda.synchronize()
    wall, gpu = [], []
    for i in range(CALLS):
        x, w = sets[i % len(sets)]
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        a.record()
        call(x, w)
        b.record()
        torch.cuda.synchronize()
        wall.append((time.perf_counter() - t0) * 1e6)
        gpu.append(a.elapsed_time(b) * 1e3)
    return statistics.median(wall), statistics.median(gpu)


def smi(query: str) -> str:
    try:
        r = subprocess.run(
            ["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        return r.stdout.strip()
    except Exception as e:  # noqa: BLE001 - metadata only
        return f"error: {e}"


def bandwidth_probes(dev: str) -> dict:
    """Device copy (read+write) and read-only reduction bandwidth over 2 GiB, GB/s."""
    n = 1 << 30  # fp16 elements = 2 GiB
    x = torch.empty(n, device=dev, dtype=torch.float16).normal_()
    y = torch.empty_like(x)
    out = {}
    for name, fn, nbytes in (
        ("copy_rw_gb_s", lambda: y.copy_(x), 4 * n),
        ("sum_read_gb_s", lambda: x.sum(dtype=torch.float32), 2 * n),
    ):
        fn()
        torch.cuda.synchronize()
        ts = []
        for _ in range(10):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            fn()
            b.record()
            b.synchronize()
            ts.append(a.elapsed_time(b) * 1e-3)
        out[name] = nbytes / statistics.median(ts) / 1e9
    x = y = None
    torch.cuda.empty_cache()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--budget-s", type=float, default=420.0, help="stop starting new rows")
    ap.add_argument("--quick", action="store_true", help="a few shapes only (smoke test)")
    ap.add_argument("--run", type=int, default=1, help="run number written to the CSV")
    ap.add_argument("--reverse", action="store_true", help="largest M first")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dev = "cuda"
    t_start = time.time()
    props = torch.cuda.get_device_properties(0)
    meta = {
        "gpu": torch.cuda.get_device_name(0),
        "sms": props.multi_processor_count,
        "l2_bytes": getattr(props, "L2_cache_size", None),
        "memory_bytes": props.total_memory,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "smi_before": smi(
            "name,driver_version,clocks.max.sm,clocks.max.mem,clocks.sm,power.limit,temperature.gpu"
        ),
        "graph_calls": GRAPH_CALLS,
        "replays": REPLAYS,
        "calls": CALLS,
        "rotate_bytes": ROTATE_BYTES,
    }
    torch.backends.cuda.matmul.allow_tf32 = False
    meta.update(bandwidth_probes(dev))
    print(json.dumps(meta), flush=True)

    shapes: dict[tuple[int, int], list[tuple[str, str]]] = {}
    for model, layers in MODELS.items():
        for layer, k, n in layers:
            shapes.setdefault((k, n), []).append((model, layer))
    ms = M_MAIN + M_EXTRA
    if args.quick:
        shapes = {(4096, 4096): shapes[(4096, 4096)]}
        ms = [1, 128]
    if args.reverse:
        ms = sorted(ms, reverse=True)
    f = (out / f"h100_gemm_run{args.run}.csv").open("w", newline="")
    wr = csv.writer(f)
    wr.writerow(["run", "model", "layer", "M", "M_run", "K", "N", "dtype", "mode", "time_us"])
    skipped = []
    stopped = None
    for m in ms:
        if stopped:
            break
        for (k, n), users in shapes.items():
            if time.time() - t_start > args.budget_s:
                stopped = f"time budget reached before M={m}"
                break
            for dtype in DTYPES:
                call = make_call(dtype, dev)
                res = None
                for m_run in run_m(dtype, m):
                    try:
                        set_bytes = (m_run * k + n * k) * ELEM_BYTES[dtype]
                        nset = max(2, min(GRAPH_CALLS, math.ceil(ROTATE_BYTES / set_bytes)))
                        sets = [make_operands(dtype, m_run, k, n, dev) for _ in range(nset)]
                        steady = time_graph(call, sets)
                        wall, gpu = time_calls(call, sets)
                        hot = time_graph(call, sets[:1]) if set_bytes <= 64e6 else None
                        res = (m_run, steady, wall, gpu, hot)
                        break
                    except Exception as e:  # noqa: BLE001 - record and try padding
                        skipped.append(f"{dtype} M={m} run {m_run} K={k} N={n}: {e!s:.200}")
                    finally:
                        sets = None
                        torch.cuda.synchronize()
                if res is None:
                    continue
                m_run, steady, wall, gpu, hot = res
                for model, layer in users:
                    for mode, t in (
                        ("steady", steady),
                        ("per_call", wall),
                        ("per_call_gpu", gpu),
                        ("steady_hot", hot),
                    ):
                        if t is not None:
                            row = [args.run, model, layer, m, m_run, k, n, dtype, mode, f"{t:.3f}"]
                            wr.writerow(row)
                f.flush()
                print(
                    f"M={m} K={k} N={n} {dtype}: steady {steady:.1f} us, call {wall:.1f} us,"
                    f" gpu {gpu:.1f} us, hot {hot}",
                    flush=True,
                )
        torch.cuda.empty_cache()
    f.close()
    meta["smi_after"] = smi("clocks.sm,clocks.mem,power.draw,temperature.gpu")
    meta["skipped"] = skipped
    meta["stopped"] = stopped
    meta["elapsed_s"] = time.time() - t_start
    (out / f"h100_gemm_meta_run{args.run}.json").write_text(json.dumps(meta, indent=1))
    print(json.dumps({k: meta[k] for k in ("smi_after", "stopped", "elapsed_s")}))
    print("\n".join(skipped[:20]))


if __name__ == "__main__":
    main()
