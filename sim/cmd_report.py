"""`sim report RESULTS --out DIR`: an HTML + Markdown report (figures embedded) of a sweep
or search output directory."""

from __future__ import annotations

import click

from common.errors import InputError
from common.inputs import quote

# --top: each design shown is simulated again and drawn as a roofline and a heat map
# (PNG + SVG); 100 designs is 400 figure files, already past a readable report.
MAX_TOP = 100


@click.command("report")
@click.argument("results")
@click.option("--out", "out_dir", required=True, help="report directory (index.html, report.md)")
@click.option(
    "--objective",
    "objectives",
    multiple=True,
    metavar="COLUMN:min|max",
    help="objectives of the Pareto scatter (default: the spec's)",
)
@click.option(
    "--phase",
    type=click.Choice(["prefill", "decode", "total"]),
    default=None,
    help="rows to analyse (default: the spec's objective_phase)",
)
@click.option(
    "--top",
    type=click.IntRange(0, MAX_TOP),
    default=4,
    show_default=True,
    help="front points simulated again for per-op figures",
)
def command(results, out_dir, objectives, phase, top) -> None:
    """Pareto front, sensitivity, best points, energy/latency/roofline/heat-map figures."""
    from sim.dse.reporting import sweep_report

    objs = {}
    for o in objectives:
        col, _, sense = o.partition(":")
        if sense not in ("min", "max") or not col:
            raise InputError("--objective", quote(o), "COLUMN:min or COLUMN:max")
        objs[col] = sense
    if len(objs) > 3:
        raise InputError("--objective", f"{len(objs)} given", "two or three objectives")
    path = sweep_report(results, out_dir, objectives=objs or None, phase=phase, top=top)
    click.echo(f"wrote {path}/index.html, {path}/report.md and figures")
