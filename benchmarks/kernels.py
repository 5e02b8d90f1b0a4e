"""Throughput of the functional kernels vs. plain vectorized numpy (kernels/twins.py: the
same arithmetic and rounding points, no numba) on one 4096×4096 weight and 16 tokens.

Prints JSON. Per kernel: numba wall / CPU seconds (best of `--repeat`, after a warm-up
call so compile time is excluded), numpy wall / CPU seconds, speedup (numpy CPU / numba
CPU: fair when other processes share the cores), and weight-MACs per CPU-second per core
(M·N·K / numba CPU seconds; the "≥ 0.25 G/s per core at 4 bits" goal).

    .venv/bin/python benchmarks/kernels.py [--m 16 --k 4096 --n 4096] [--only NAME,...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _timed(fn, repeat: int) -> tuple[float, float]:
    best_w, best_c = float("inf"), float("inf")
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        best_w = min(best_w, time.perf_counter() - w0)
        best_c = min(best_c, time.process_time() - c0)
    return best_w, best_c


def _setups(m: int, k: int, n: int):
    """name -> (weight bits, numba call, numpy call, check equal)."""
    import quant
    from kernels import bitserial, blockscaled, decoders, fpga_dsp, lut, mac, mixpe, twins
    from kernels._common import n_groups

    rng = np.random.default_rng(0)
    x = rng.standard_normal((m, k)).astype(np.float32)
    wf = (rng.standard_normal((n, k)) * 0.02).astype(np.float32)
    qa8 = quant.quantize(x, "int8")
    a8 = qa8.codes.astype(np.int8)
    a16 = x.astype(np.float16)
    q4 = quant.quantize(wf, "int4-g128")
    q4a = quant.quantize(wf, "int4-g128-asym")
    q8 = quant.quantize(wf, "int8")
    qb = quant.quantize(wf, "bitmod-fp4-g128")
    qo = quant.quantize(wf, "olive-int4")
    qmx_a, qmx_w = quant.quantize(x, "mxfp4"), quant.quantize(wf, "mxfp4")
    tab_b = np.stack([f.table for f in qb.formats])
    nt, mu, sh, _ = bitserial.bitmod_tables(tab_b)
    gs, _ = n_groups(k, 128)
    pat_b = qb.codes.astype(np.int64) & 15
    ty_b = qb.types.astype(np.int64)
    from kernels._common import binary_terms, term_tables

    vals = np.where(np.arange(16) >= 8, np.arange(16) - 16, np.arange(16))[None, :]
    nt4, mu4, sh4 = term_tables(vals, lambda v: binary_terms(v, 4, True))
    pat4 = q4.codes.astype(np.int64) & 15
    ty4 = np.zeros((n, k // gs), np.int64)
    t_mx = qmx_a.formats[0].table
    a16s = a16[:, :]
    return {
        "bitserial.stripes W4A8": (
            4,
            lambda: bitserial.stripes_partials(a8, q4.codes, 4, 128),
            lambda: twins.stripes_partials(a8, q4.codes, 4, 128),
        ),
        "bitserial.bitmod fp4-g128 A16": (
            4,
            lambda: bitserial.bitmod_partials(a16, qb.codes, tab_b, qb.types)[0],
            lambda: twins.terms_partials(a16, pat_b, ty_b, nt, mu, sh, gs),
        ),
        "mixpe.shift_add W4A8": (
            4,
            lambda: mixpe.mixpe_partials(a8, q4.codes, bits=4)[0],
            lambda: twins.terms_partials(a8, pat4, ty4, nt4, mu4, sh4, gs),
        ),
        "lut.lut W4-asym A16 (fp16 acc)": (
            4,
            lambda: lut.lut_gemm(a16s, q4a.codes, q4a.scales, q4a.zeros, bits=4, group_size=128),
            lambda: twins.lut_gemm(a16s, q4a.codes, q4a.scales, q4a.zeros, bits=4, group_size=128),
        ),
        "decoders.olive olive-int4 A16": (
            4,
            lambda: decoders.olive_partials(
                a16, qo.codes, qo.formats[0].table, qo.formats[1].table
            )[0],
            lambda: twins.olive_partials(
                a16, qo.codes, qo.formats[0].table, qo.formats[1].table, k
            ),
        ),
        "fpga_dsp.int8x2 W8A8": (
            8,
            lambda: fpga_dsp.dsp_int8_partials(a8, q8.codes),
            lambda: twins.dsp_int8_partials(a8, q8.codes),
        ),
        "blockscaled.mx mxfp4": (
            4,
            lambda: blockscaled.mx_gemm(
                qmx_a.codes, qmx_a.scale_codes, t_mx, qmx_w.codes, qmx_w.scale_codes, t_mx
            ),
            lambda: twins.mx_gemm(
                qmx_a.codes, qmx_a.scale_codes, t_mx, qmx_w.codes, qmx_w.scale_codes, t_mx
            ),
        ),
        "mac.fp fp16 (fp32 acc)": (
            16,
            lambda: mac.fp_mac_gemm(a16, wf.astype(np.float16)),
            lambda: twins.fp_mac_gemm(a16, wf.astype(np.float16)),
        ),
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--k", type=int, default=4096)
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--only", default="")
    args = ap.parse_args(argv)
    import numba

    m, k, n = args.m, args.k, args.n
    threads = numba.get_num_threads()
    results = []
    for name, (bits, fast, slow) in _setups(m, k, n).items():
        if args.only and not any(s in name for s in args.only.split(",")):
            continue
        r_fast = fast()  # warm-up: compile / load the numba cache
        w_fast, c_fast = _timed(fast, args.repeat)
        w0, c0 = time.perf_counter(), time.process_time()
        r_slow = slow()
        w_slow, c_slow = time.perf_counter() - w0, time.process_time() - c0
        same = bool(np.array_equal(np.asarray(r_fast), np.asarray(r_slow)))
        macs = m * n * k
        results.append(
            {
                "kernel": name,
                "weight_bits": bits,
                "same_result_as_numpy": same,
                "numba_wall_s": round(w_fast, 4),
                "numba_cpu_s": round(c_fast, 4),
                "numpy_wall_s": round(w_slow, 4),
                "numpy_cpu_s": round(c_slow, 4),
                "speedup_cpu": round(c_slow / c_fast, 1),
                "speedup_wall": round(w_slow / w_fast, 1),
                "gmac_per_cpu_s": round(macs / c_fast / 1e9, 3),
                "gmac_per_s_per_thread_wall": round(macs / w_fast / 1e9 / threads, 3),
            }
        )
        print(f"# {name}: {results[-1]['speedup_cpu']}x", file=sys.stderr, flush=True)
    print(
        json.dumps(
            {
                "shape": {"tokens_M": m, "K": k, "N": n},
                "machine": {
                    "cpus": os.cpu_count(),
                    "numba_threads": threads,
                    "cpu": platform.processor() or platform.machine(),
                    "load_avg_1m": round(os.getloadavg()[0], 2),
                },
                "kernels": results,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
