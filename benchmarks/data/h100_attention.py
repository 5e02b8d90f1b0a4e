"""Fixed (launch-floor) time of one attention kernel on an H100, back to back in a CUDA graph.

The `gpu_tensorcore` family charges each fused attention kernel (one per layer: QK^T,
softmax, PV of every head) a fixed time beside its work (arch/gpu_tensorcore.py,
`attention_fixed_us`). This script measures that floor: the time per call of
`F.scaled_dot_product_attention` (fp16, head_dim 128, 32 query and 32 KV heads, batch 1)
at shapes whose work is negligible, and at growing shapes to show where work takes over.

Phases: decode (1 query row per head against L cached keys, not causal) and prefill
(S rows, causal, against the same S keys). Backends: `flash` (SDPA forced to
FlashAttention-2) and `default` (the build's own choice). Timing: CALLS calls captured in
one CUDA graph; the graph replayed REPLAYS times between CUDA events; median over TRIALS.

Run on the GPU machine:  python3 benchmarks/data/h100_attention.py --out OUT
Writes OUT/h100_attention.csv (phase, backend, S_or_L, time_us, min_us, max_us) and
OUT/h100_attention_meta.json (GPU, torch, clocks).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

HEADS, HEAD_DIM, CALLS, REPLAYS, TRIALS = 32, 128, 20, 5, 7
DECODE_L = [1, 16, 64, 256, 1024, 2048, 4096]
PREFILL_S = [1, 16, 64, 128, 256, 512, 1024, 2048]


def time_graph(fn) -> tuple[float, float, float]:
    """(median, min, max) us per call of fn() over TRIALS graph replays."""
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for _ in range(CALLS):
            fn()
    for _ in range(3):
        g.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(TRIALS):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(REPLAYS):
            g.replay()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) * 1e3 / (REPLAYS * CALLS))
    return statistics.median(times), min(times), max(times)


def case(phase: str, n: int, backend: str) -> tuple[float, float, float]:
    dev, dt = "cuda", torch.float16
    rows = 1 if phase == "decode" else n
    q = torch.randn(1, HEADS, rows, HEAD_DIM, device=dev, dtype=dt)
    k = torch.randn(1, HEADS, n, HEAD_DIM, device=dev, dtype=dt)
    v = torch.randn(1, HEADS, n, HEAD_DIM, device=dev, dtype=dt)
    causal = phase == "prefill"

    def fn():
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)

    if backend == "flash":
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            return time_graph(fn)
    return time_graph(fn)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    out = Path(ap.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for backend in ("flash", "default"):
        for phase, sizes in (("decode", DECODE_L), ("prefill", PREFILL_S)):
            for n in sizes:
                try:
                    med, lo, hi = case(phase, n, backend)
                except RuntimeError as e:  # a backend refusing a shape
                    print(f"{phase} {backend} {n}: {e}".splitlines()[0])
                    continue
                rows.append([phase, backend, n, f"{med:.3f}", f"{lo:.3f}", f"{hi:.3f}"])
                print(phase, backend, n, f"{med:.2f} us", flush=True)
    with open(out / "h100_attention.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["phase", "backend", "S_or_L", "time_us", "min_us", "max_us"])
        w.writerows(rows)
    p = torch.cuda.get_device_properties(0)
    meta = {
        "gpu": p.name,
        "sms": p.multi_processor_count,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "heads": HEADS,
        "head_dim": HEAD_DIM,
        "calls_per_graph": CALLS,
        "replays": REPLAYS,
        "trials": TRIALS,
    }
    (out / "h100_attention_meta.json").write_text(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
