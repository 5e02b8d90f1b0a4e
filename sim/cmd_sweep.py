"""`sim sweep SPEC --out DIR`: run (or resume) a design-space sweep into a Parquet store.
Imports of Dask/pyarrow happen when the command runs, so `sim --help` stays fast."""

from __future__ import annotations

import click

from sim.cmd_search import (
    out_option,
    overrides_from,
    print_front,
    scheduler_option,
    set_option,
    workers_option,
)


@click.command("sweep")
@click.argument("spec")
@out_option
@workers_option
@scheduler_option
@click.option(
    "--sample",
    type=click.IntRange(min=1),
    default=None,
    help="evaluate N points drawn at random (the spec's seed) instead of its sampling",
)
@set_option
def command(spec, out_dir, workers, scheduler, sample, sets) -> None:
    """Evaluate every point of SPEC (grid / random / Latin hypercube) and store the rows."""
    from sim.dse.run import sweep

    overrides = overrides_from(sets)
    if sample is not None:
        overrides["sampling.method"] = "random"
        overrides["sampling.n"] = sample
    df = sweep(spec, out_dir, workers=workers, scheduler=scheduler, overrides=overrides)
    st = df.attrs["sweep"]
    click.echo(
        f"{st['points']} points: {st['computed']} computed, {st['skipped']} already stored, "
        f"{st['errors']} errored; {st['seconds']:.2f} s; {len(df)} rows in {out_dir}"
    )
    print_front(df, spec, overrides)
