"""Evaluate points: simulate each and turn its SimResult into one row per phase (the
columns are documented in README.md, "Sweeps and search"). Runs on Dask workers; a point
that raises becomes rows carrying its error, and the batch goes on."""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Sequence

from sim.dse.points import Point, engine_version
from sim.dse.spec import PHASE_METRICS

NAN = float("nan")


def footprint(model: str, prefill: int, decode: int, batch: int, wq: str, kvq: str) -> dict:
    """DRAM footprint of one request (bytes): every linear weight once (in its stored
    width, group scales included) + the KV cache at its full length. Activations are not
    counted (they live in the on-chip buffers or are transient)."""
    from quant.info import format_info
    from workloads.llm import build_ops
    from workloads.zoo import load_model_shape

    shape = load_model_shape(model)
    ops = build_ops(shape, prefill, 0, 1, wq, "fp16", kvq)
    bits_w = format_info(wq).bits_per_element
    weights = sum(o.K * o.N * o.count for o in ops if o.kind == "linear") * bits_w / 8
    length = prefill + decode
    if shape.sliding_window:
        length = min(length, shape.sliding_window)
    kv_elems = 2 * shape.layers * shape.kv_dim * length * batch
    kv = kv_elems * format_info(kvq).bits_per_element / 8
    return {"weight_bytes": weights, "kv_cache_bytes": kv, "footprint_bytes": weights + kv}


def _phase_rows(res, point: Point) -> dict[str, dict]:
    """Metrics of each phase of one SimResult (and of the whole run, 'total')."""
    out = {}
    b = point.batch
    for phase in ("prefill", "decode", "total"):
        rows = [r for r in res.rows if phase == "total" or r.phase == phase]
        cycles = sum(r.cycles for r in rows)
        ec = sum(r.energy_compute_j for r in rows)
        es = sum(r.energy_sram_j for r in rows)
        ed = sum(r.energy_dram_j for r in rows)
        macs = sum(r.macs for r in rows)
        gemm_cycles = sum(r.cycles for r in rows if r.macs)
        time_s = cycles / res.frequency_hz
        if phase == "prefill":
            tokens = b * point.prefill
            tps = tokens / time_s if time_s else NAN
        elif phase == "decode":
            tokens = b * point.decode
            tps = b / res.tpot_s if point.decode else NAN
        else:
            tokens = res.tokens
            tps = res.tokens_per_s
        out[phase] = {
            "time_s": time_s,
            "cycles": cycles,
            "ttft_s": res.ttft_s,
            "tpot_s": res.tpot_s,
            "tokens_per_s": tps,
            "energy_j": ec + es + ed,
            "energy_compute_j": ec,
            "energy_sram_j": es,
            "energy_dram_j": ed,
            "energy_per_token_j": (ec + es + ed) / tokens if tokens else NAN,
            "utilization": macs / (res.peak_macs_per_cycle * gemm_cycles) if gemm_cycles else 0.0,
            "macs": float(macs),
            "dram_bytes": float(sum(r.dram_bytes for r in rows)),
        }
    return out


def base_row(point: Point, phase: str) -> dict:
    pe = point.arch_raw["pe_array"]
    mem = point.arch_raw["memory"]
    row = {
        "key": point.row_key(phase),
        "point_key": point.key,
        "phase": phase,
        "arch": point.arch_raw.get("name", ""),
        "family": pe["family"],
        "arch_digest": point.arch_digest,
        "engine_version": engine_version(),
        "arch_json": json.dumps(point.arch_raw, sort_keys=True),
        "rows": int(pe["rows"]),
        "cols": int(pe["cols"]),
        "lanes": int(pe.get("lanes", 1)),
        "frequency_mhz": float(point.arch_raw["frequency_mhz"]),
        "dram_bandwidth_gb_s": float(mem["dram"]["bandwidth_gb_s"]),
        "weight_buffer_kib": float(mem["buffers"]["weight"]["size_kib"]),
        "input_buffer_kib": float(mem["buffers"]["input"]["size_kib"]),
        "output_buffer_kib": float(mem["buffers"]["output"]["size_kib"]),
        "dram_capacity_bytes": float(mem["dram"].get("capacity_gib", float("nan"))) * 2**30,
        "model": point.model,
        "prefill": int(point.prefill),
        "decode": int(point.decode),
        "batch": int(point.batch),
        "wq": point.wq,
        "aq": point.aq,
        "kvq": point.kvq,
        "mapper": point.mapper,
    }
    for k, v in point.values.items():
        row[f"axis.{k}"] = v
    return row


def evaluate_points(points: Sequence[Point]) -> list[dict]:
    """Rows of every phase of every point. Points sharing an arch share one Coster (its
    memo of op costs), so sort them by arch first; archs differing only in DRAM or clock
    share tile costs (sim.engine.TileMemo). A batch of several points loads numba's tile
    pipeline (sim/pipeline_nb.py, cycle-equal to the Python one), which repays its load."""
    from arch.accelerator import build_accelerator
    from sim.api import simulate
    from sim.engine import Coster, TileMemo

    if len(points) > 1:
        import sim.pipeline_nb  # noqa: F401

    rows: list[dict] = []
    costers: dict[str, tuple] = {}
    memo = TileMemo()
    for p in points:
        t0 = time.perf_counter()
        err = None
        metrics: dict[str, dict] = {}
        area = NAN
        fp = {"weight_bytes": NAN, "kv_cache_bytes": NAN, "footprint_bytes": NAN}
        try:
            if (p.arch_digest, p.mapper) not in costers:
                accel = build_accelerator(p.arch_raw, f"point {p.key}")
                coster = Coster(accel, memo, exact=p.mapper == "exact")
                costers = {(p.arch_digest, p.mapper): (accel, coster)}  # one arch's memo
            accel, coster = costers[p.arch_digest, p.mapper]
            res = simulate(
                accel,
                p.model,
                prefill=p.prefill,
                decode=p.decode,
                batch=p.batch,
                wq=p.wq,
                aq=p.aq,
                kvq=p.kvq,
                coster=coster,
            )
            metrics = _phase_rows(res, p)
            area = res.area_mm2
            fp = footprint(p.model, p.prefill, p.decode, p.batch, p.wq, p.kvq)
        except Exception as e:  # recorded with the point; the sweep goes on
            last = traceback.extract_tb(e.__traceback__)[-1:]
            where = f" ({last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno})" if last else ""
            err = f"{type(e).__name__}: {e}{where}"
        secs = time.perf_counter() - t0
        for phase in p.phases:
            row = base_row(p, phase)
            m = metrics.get(phase, {})
            row.update({k: float(m.get(k, NAN)) for k in PHASE_METRICS})
            row["area_mm2"] = float(area)
            row.update({k: float(v) for k, v in fp.items()})
            cap = row["dram_capacity_bytes"]  # 1.0 when weights + KV cache fit in DRAM
            row["fits_dram"] = float(fp["footprint_bytes"] <= cap) if cap == cap else NAN
            row["error"] = err
            row["seconds"] = secs
            rows.append(row)
    return rows
