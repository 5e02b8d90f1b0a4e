"""`sim run ARCH MODEL --fit`: what fits the arch's memory, without simulating.

Reports the footprint of the requested run (weights, KV cache, activations:
workloads/footprint.py), the capacity `memory.dram.capacity_gib`, whether the run fits,
the largest batch that fits at this prefill + decode, and the largest prefill that fits
at this batch and decode (capped by the model's max_position_embeddings).
"""

from __future__ import annotations

import json

from workloads.footprint import GIB, footprint, max_batch, max_prefill


def check_fit_options(fmt: str, totals: bool, out_dir: str | None) -> None:
    """--fit prints a footprint (text or JSON) and simulates nothing: options about the
    simulation's outputs would be ignored silently, so they are refused (issue 12)."""
    from common.errors import InputError

    if out_dir is not None:
        raise InputError("--out", "--fit", "no --out with --fit (it prints; nothing to write)")
    if fmt == "csv" or totals:
        opt = "--totals" if totals else "--format csv"
        raise InputError(opt, "--fit", "--format table or json with --fit (no per-op rows)")


def fit_report(arch: str, model: str, prefill: int, decode: int, batch: int, wq, aq, kvq) -> dict:
    """The --fit figures as a dict (bytes; capacity in GiB)."""
    from pathlib import Path

    from arch.arch import as_accelerator
    from common.errors import InputError
    from common.inputs import path_exists
    from workloads.zoo import load_model_shape

    if path_exists(Path(model) / "trace.json"):
        raise InputError(
            "--fit", model, "a zoo model or config.json (a trace has no model shape to size)"
        )
    accel = as_accelerator(arch)
    d = accel.config.defaults
    f = {"wq": wq or d.wq, "aq": aq or d.aq, "kvq": kvq or d.kvq}
    cap = accel.config.memory.dram.capacity_gib
    shape = load_model_shape(model)
    fp = footprint(shape, prefill, decode, batch, f["wq"], f["aq"], f["kvq"])
    return {
        "arch": accel.name,
        "model": shape.name,
        "prefill": prefill,
        "decode": decode,
        "batch": batch,
        "formats": f,
        "capacity_gib": cap,
        "footprint_bytes": fp.as_dict(),
        "fits": fp.total <= cap * GIB,
        "max_batch": max_batch(shape, prefill, decode, f["wq"], f["aq"], f["kvq"], cap),
        "max_prefill": max_prefill(shape, decode, batch, f["wq"], f["aq"], f["kvq"], cap),
    }


def fit_text(arch, model, prefill, decode, batch, wq, aq, kvq, fmt: str) -> str:
    """`--fit` output: JSON for --format json, else lines of text."""
    r = fit_report(arch, model, prefill, decode, batch, wq, aq, kvq)
    if fmt == "json":
        return json.dumps(r, indent=2)
    fb = r["footprint_bytes"]
    total = sum(fb.values())
    return "\n".join(
        [
            f"arch {r['arch']}  model {r['model']}  prefill {prefill}  decode {decode}  "
            f"batch {batch}  formats " + " ".join(f"{k}={v}" for k, v in r["formats"].items()),
            f"footprint: weights {fb['weights'] / GIB:.2f} GiB + KV cache "
            f"{fb['kv_cache'] / GIB:.2f} GiB + activations {fb['activations'] / GIB:.2f} GiB = "
            f"{total / GIB:.2f} GiB of {r['capacity_gib']:g} GiB "
            f"({'fits' if r['fits'] else 'does NOT fit'})",
            f"largest batch at prefill {prefill} + decode {decode}: {r['max_batch']}",
            f"largest prefill at batch {batch} + decode {decode}: {r['max_prefill']}",
        ]
    )
