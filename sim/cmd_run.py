"""`sim run ARCH MODEL`: simulate a whole LLM (zoo name, HF config.json path or a trace
directory) on an accelerator (preset name or arch YAML)."""

from __future__ import annotations

import click

from common.errors import InputError
from common.files import check_output
from common.inputs import is_dir, is_file
from sim.limits import BATCH, DECODE, PREFILL, format_name, mapper_option
from sim.output import render, write_outputs


def _is_trace(model: str) -> bool:
    return is_dir(model) and is_file(f"{model}/trace.json")


@click.command("run")
@click.argument("arch")
@click.argument("model")
@click.option(
    "--prefill",
    type=PREFILL,
    default=256,
    show_default=True,
    help="Prompt tokens per sequence (1..131072; not with a trace, which fixes it).",
)
@click.option(
    "--decode",
    type=DECODE,
    default=32,
    show_default=True,
    help="Generated tokens per sequence (0..131072; not with a trace).",
)
@click.option(
    "--batch",
    type=BATCH,
    default=1,
    show_default=True,
    help="Sequences run together (1..65536; not with a trace).",
)
@click.option("--wq", callback=format_name, help="Weight format (default: the arch's).")
@click.option("--aq", callback=format_name, help="Activation format (default: the arch's).")
@click.option("--kvq", callback=format_name, help="KV-cache format (default: the arch's).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="stdout: a table, the JSON of README 'format json', or the per-op CSV "
    "(totals with --totals).",
)
@click.option(
    "--totals",
    is_flag=True,
    help="With --format csv: after the per-op rows, one 'total' row per phase and a last "
    "row with phase=total for the whole run (ops.csv of --out stays per-op).",
)
@click.option(
    "--out",
    "out_dir",
    default=None,
    help="Also write result.json, ops.csv and summary.txt into this directory (replaced as a set).",
)
@mapper_option("fast")
@click.option(
    "--fit",
    is_flag=True,
    help="Report the footprint (weights, KV cache, activations) against the arch's "
    "memory.dram.capacity_gib and the largest batch and prefill that fit; no simulation.",
)
@click.pass_context
def command(
    ctx, arch, model, prefill, decode, batch, wq, aq, kvq, fmt, totals, out_dir, mapper, fit
) -> None:
    """Simulate MODEL on ARCH and print totals and per-op rows.

    ARCH is a preset name (`sim list presets`) or an arch YAML file (arch/README.md).
    MODEL is a zoo name (`sim list models`), an HF-style config.json (or its directory),
    or a trace directory written by `sim trace export`.
    """
    from sim.api import simulate, simulate_trace

    if totals and fmt != "csv":
        raise InputError("--totals", f"--format {fmt}", "--format csv (table and JSON have totals)")
    if out_dir is not None:
        check_output(out_dir, "directory")

    if fit:  # what fits memory.dram.capacity_gib (sim/fit.py), no simulation
        from sim.fit import check_fit_options, fit_text

        check_fit_options(fmt, totals, out_dir)

        click.echo(fit_text(arch, model, prefill, decode, batch, wq, aq, kvq, fmt))
        return
    if _is_trace(model):
        for name in ("prefill", "decode", "batch"):
            if ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT:
                raise InputError(
                    f"--{name}",
                    model,
                    "no --prefill/--decode/--batch with a trace (its run fixes them; "
                    "export another trace to change them)",
                )
        from workloads.trace import load_trace

        if not load_trace(model, verify_hash=False).meta.ops:
            raise InputError(f"{model}/trace.json", "ops", "at least one op (the list is empty)")
        res = simulate_trace(arch, model, wq=wq, aq=aq, kvq=kvq, mapper=mapper)
    else:
        run = dict(prefill=prefill, decode=decode, batch=batch, wq=wq, aq=aq, kvq=kvq)
        res = simulate(arch, model, **run, mapper=mapper)
    text = render(res, fmt, totals)
    paths = write_outputs(res, out_dir) if out_dir is not None else []
    click.echo(text)
    for p in paths:
        click.echo(f"wrote {p}", err=True)
