"""`sim run ARCH MODEL`: simulate a whole LLM (zoo name, HF config.json path or a trace
directory) on an accelerator (preset name or arch YAML)."""

from __future__ import annotations

from pathlib import Path

import click

from sim.api import simulate, simulate_trace
from sim.output import render, write_outputs


@click.command("run")
@click.argument("arch")
@click.argument("model")
@click.option(
    "--prefill",
    type=click.IntRange(min=1),
    default=256,
    show_default=True,
    help="prompt tokens (S)",
)
@click.option(
    "--decode",
    type=click.IntRange(min=0),
    default=32,
    show_default=True,
    help="generated tokens (G)",
)
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--wq", default=None, help="weight format (default: the arch's)")
@click.option("--aq", default=None, help="activation format (default: the arch's)")
@click.option("--kvq", default=None, help="KV-cache format (default: the arch's)")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
@click.option("--out", "out_dir", default=None, help="also write result.json, ops.csv, summary.txt")
@click.option(
    "--fit",
    is_flag=True,
    help="Report the footprint (weights, KV cache, activations) against the arch's "
    "memory.dram.capacity_gib and the largest batch and prefill that fit; no simulation.",
)
def command(arch, model, prefill, decode, batch, wq, aq, kvq, fmt, out_dir, fit) -> None:
    """Simulate MODEL on ARCH and print totals and per-op rows."""
    if fit:  # what fits memory.dram.capacity_gib (sim/fit.py), no simulation
        from sim.fit import fit_text

        click.echo(fit_text(arch, model, prefill, decode, batch, wq, aq, kvq, fmt))
        return
    if (Path(model) / "trace.json").is_file():
        res = simulate_trace(arch, model, wq=wq, aq=aq, kvq=kvq)
    else:
        res = simulate(
            arch, model, prefill=prefill, decode=decode, batch=batch, wq=wq, aq=aq, kvq=kvq
        )
    click.echo(render(res, fmt))
    if out_dir:
        for p in write_outputs(res, out_dir):
            click.echo(f"wrote {p}", err=True)
