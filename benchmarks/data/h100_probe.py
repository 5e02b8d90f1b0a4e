"""Power, clock and vector-op probes on a real GPU (run on the H100 device machine).

    PYTHONUNBUFFERED=1 python3 benchmarks/data/h100_probe.py --out $OUT

Writes `h100_probe.json` and `h100_vector.csv`.

Power probes: each workload runs back to back (CUDA graph replays) for about `--seconds`;
meanwhile the host polls `nvidia-smi --query-gpu=power.draw.instant,clocks.sm` every
~0.2 s. Reported: achieved MAC/s or bytes/s (CUDA events over the whole window), median
power (W) and median SM clock (MHz) over the samples after the first second, and the idle
power before any work. These give dynamic energy per MAC and per HBM byte (board power
minus idle), see arch/gpu_tensorcore.py.
- gemm_<dtype>: 8192 x 8192 x 8192 (fp16, bf16: F.linear; int8: torch._int_mm;
  fp8-e4m3: torch._scaled_mm, bf16 out, fast accumulation).
- gemv_fp16: M = 1, K = 4096, N = 128256 fp16 (1.05 GB of weights), 4 rotating copies.
- copy: 2 GiB device-to-device copy (bytes counted read + write).

Vector ops (fp16, rows x 4096, rows = 1 .. 8192): `torch.add(x, y, out=z)`
(3 x 2 bytes per element), `torch.softmax(x, -1)` and `F.rms_norm(x, (4096,), w)`
(2 x 2 bytes per element), steady (graph of 20 calls / 20) and per_call (host wall time with
sync, median of 25), inputs rotating over >= 200 MB as in h100_gemm.py.
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

import h100_gemm as hg  # same folder: graph and call timers
import torch


def smi_sample() -> tuple[float, float] | None:
    try:
        r = subprocess.run(
            [
                "nvidia-smi",
                "--query-gpu=power.draw.instant,clocks.sm",
                "--format=csv,noheader,nounits",
            ],
            capture_output=True,
            text=True,
            timeout=5,
        )
        p, c = r.stdout.strip().split(",")
        return float(p), float(c)
    except Exception:  # noqa: BLE001 - a missed sample is skipped
        return None


def sustained(fn, per_call_units: float, seconds: float) -> dict:
    """Replay a graph of 20 fn() calls until `seconds` pass; sample power meanwhile."""
    fn()
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        fn()
    torch.cuda.current_stream().wait_stream(s)
    with torch.cuda.graph(g):
        for _ in range(20):
            fn()
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    g.replay()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    g.replay()
    torch.cuda.synchronize()
    one = time.perf_counter() - t0
    reps = max(2, math.ceil(seconds / one))
    a.record()
    for _ in range(reps):
        g.replay()
    b.record()
    samples = []
    t0 = time.perf_counter()
    while not b.query():
        x = smi_sample()
        if x is not None:
            samples.append((time.perf_counter() - t0, *x))
        time.sleep(0.15)
    b.synchronize()
    el = a.elapsed_time(b) * 1e-3
    late = [s for s in samples if s[0] > 1.0] or samples
    return {
        "seconds": el,
        "units_per_s": reps * 20 * per_call_units / el,
        "power_w": statistics.median(s[1] for s in late) if late else None,
        "sm_clock_mhz": statistics.median(s[2] for s in late) if late else None,
        "samples": len(late),
    }


def vector_rows(out_csv: Path) -> None:
    f = out_csv.open("w", newline="")
    wr = csv.writer(f)
    wr.writerow(["op", "rows", "cols", "elements", "bytes", "mode", "time_us"])
    w = torch.ones(4096, device="cuda", dtype=torch.float16)
    ops = {
        "add": (lambda x, y: torch.add(x, y), 3),
        "softmax": (lambda x, y: torch.softmax(x, -1), 2),
        "rms_norm": (lambda x, y: torch.nn.functional.rms_norm(x, (4096,), w), 2),
    }
    for rows in (1, 8, 32, 128, 512, 2048, 8192):
        n = rows * 4096
        nset = max(2, min(20, math.ceil(200e6 / (4 * n))))
        sets = [
            (
                torch.randn(rows, 4096, device="cuda", dtype=torch.float16),
                torch.randn(rows, 4096, device="cuda", dtype=torch.float16),
            )
            for _ in range(nset)
        ]
        for name, (fn, passes) in ops.items():
            steady = hg.time_graph(fn, sets)
            wall, gpu = hg.time_calls(fn, sets)
            for mode, t in (("steady", steady), ("per_call", wall), ("per_call_gpu", gpu)):
                wr.writerow([name, rows, 4096, n, passes * 2 * n, mode, f"{t:.3f}"])
            print(f"{name} rows={rows}: steady {steady:.1f} call {wall:.1f} gpu {gpu:.1f}")
        sets = None
    f.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--seconds", type=float, default=4.0)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.zeros(1, device="cuda")
    time.sleep(2.0)
    idle = [x for x in (smi_sample() for _ in range(5)) if x]
    res: dict = {"idle_power_w": statistics.median(p for p, _ in idle) if idle else None}
    print(res, flush=True)
    n = 8192
    for dtype in hg.DTYPES:
        x, w = hg.make_operands(dtype, n, n, n, "cuda")
        call = hg.make_call(dtype, "cuda")
        fn = lambda c=call, x=x, w=w: c(x, w)  # noqa: E731
        res[f"gemm_{dtype}"] = sustained(fn, float(n) ** 3, args.seconds)
        print(dtype, res[f"gemm_{dtype}"], flush=True)
        x = w = None
    time.sleep(3.0)  # let the clocks recover between probes
    sets = [hg.make_operands("fp16", 1, 4096, 128256, "cuda") for _ in range(4)]
    it = iter(range(10**12))

    def gemv():
        x, w = sets[next(it) % 4]
        return torch.nn.functional.linear(x, w)

    res["gemv_fp16"] = sustained(gemv, 128256 * 4096 * 2.0, args.seconds)
    print("gemv", res["gemv_fp16"], flush=True)
    sets = None
    a = torch.empty(1 << 30, device="cuda", dtype=torch.float16)
    b = torch.empty_like(a)
    res["copy"] = sustained(lambda: b.copy_(a), 4.0 * (1 << 30), args.seconds)
    print("copy", res["copy"], flush=True)
    a = b = None
    torch.cuda.empty_cache()
    (out / "h100_probe.json").write_text(json.dumps(res, indent=1))
    vector_rows(out / "h100_vector.csv")


if __name__ == "__main__":
    main()
