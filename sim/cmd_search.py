"""`sim search SPEC --out DIR --trials N`: multi-objective Optuna search (NSGA-II or TPE)
over the spec's axes, sharing the Parquet store with `sim sweep`."""

from __future__ import annotations

import click

from common.errors import InputError
from common.inputs import quote

# bounds of --workers and --trials (documented where they are used: sim/dse/run.py
# MAX_WORKERS, sim/dse/search.py MAX_TRIALS); imported lazily elsewhere, spelled here so
# that `sim --help` does not import Dask
MAX_WORKERS = 256
MAX_TRIALS = 100_000

# options shared by `sim sweep` and `sim search`
out_option = click.option(
    "--out", "out_dir", required=True, help="result directory (Parquet parts)"
)
workers_option = click.option(
    "--workers",
    type=click.IntRange(0, MAX_WORKERS),
    default=0,
    show_default=True,
    help="Dask LocalCluster worker processes on 127.0.0.1 (0: in this process)",
)
scheduler_option = click.option(
    "--scheduler", default=None, help="address of an existing Dask scheduler"
)
set_option = click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="FIELD=VALUE",
    help="override a spec field (YAML value), e.g. workload.prefill=64",
)


def overrides_from(sets) -> dict:
    """--set FIELD=VALUE pairs as {dotted field: YAML-parsed value}."""
    from common.inputs import load_yaml

    out = {}
    for s in sets:
        if "=" not in s:
            raise InputError("--set", quote(s), "FIELD=VALUE")
        k, v = s.split("=", 1)
        # the hardened loader: no aliases, no .inf/.nan, bounded numbers and nesting
        out[k.strip()] = load_yaml(v, f"--set {quote(s)}")
    return out


def print_front(df, spec, overrides, n: int = 8) -> None:
    """Echo the Pareto front of the spec's objectives (objective phase, feasible rows)."""
    from sim.dse.analysis import pareto
    from sim.dse.run import resolve_spec
    from sim.dse.spec import constraint_ok, parse_constraint

    sp, _ = resolve_spec(spec, overrides)
    objs = list(sp.objectives)
    if len(objs) < 2 or df.empty:
        return
    t = df[(df.phase == sp.objective_phase) & df["error"].isna()].drop_duplicates("key")
    for c in sp.constraints:
        col, op, b = parse_constraint(c)
        # a boolean mask even when t is empty (an empty object Series would select columns)
        t = t[t[col].map(lambda v, op=op, b=b: constraint_ok(v, op, b)).astype(bool)]
    if t.empty:
        click.echo(
            f"Pareto front: none (no point of the {sp.objective_phase} phase ran without "
            "error and met the constraints)"
        )
        return
    front = pareto(t, objs[:3], [sp.objectives[o] for o in objs[:3]])
    cols = [c for c in ["arch", "rows", "cols", "lanes", "dram_bandwidth_gb_s", "wq"] if c in t]
    axis_cols = [c for c in t.columns if c.startswith("axis.")]
    click.echo(f"Pareto front ({len(front)} points; {sp.objective_phase} phase):")
    with __import__("pandas").option_context("display.width", 200):
        shown = front[list(dict.fromkeys([*(axis_cols or cols), *objs, "area_mm2"]))].head(n)
        click.echo(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


@click.command("search")
@click.argument("spec")
@out_option
@click.option(
    "--trials",
    type=click.IntRange(1, MAX_TRIALS),
    default=100,
    show_default=True,
    help="trials to evaluate (points already in the store are read, not recomputed)",
)
@workers_option
@scheduler_option
@click.option(
    "--sampler",
    type=click.Choice(["nsga2", "tpe"]),
    default=None,
    help="override the spec's search.sampler",
)
@set_option
def command(spec, out_dir, trials, workers, scheduler, sampler, sets) -> None:
    """Search SPEC's axes for the Pareto front of its objectives under its constraints."""
    from sim.dse.search import search

    overrides = overrides_from(sets)
    if sampler:
        overrides["search.sampler"] = sampler
    df = search(
        spec, out_dir, trials=trials, workers=workers, scheduler=scheduler, overrides=overrides
    )
    st = df.attrs["search"]
    click.echo(
        f"{st['trials']} trials: {st['computed']} points computed, {st['reused']} read from "
        f"the store, {st['failed']} failed; {st['seconds']:.2f} s"
    )
    if not df.empty:
        print_front(df, spec, overrides)
