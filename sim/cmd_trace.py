"""`sim trace`: export and inspect Traces (workloads/trace.py, workloads/export.py)."""

from __future__ import annotations

import sys

import click

from sim._click import FullHelpGroup


@click.group("trace", cls=FullHelpGroup)
def command() -> None:
    """Export a model run as a Trace directory (trace.json + tensors.safetensors)."""


@command.command("export")
@click.argument("model")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False),
    help="Trace directory to write (replaced atomically if it exists).",
)
@click.option(
    "--prompt-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="UTF-8 text to prefill (default: a built-in English paragraph).",
)
@click.option(
    "--tokens",
    type=int,
    default=128,
    show_default=True,
    help="Prompt (prefill) length in tokens; the text is repeated if shorter.",
)
@click.option(
    "--decode",
    type=int,
    default=8,
    show_default=True,
    help="Greedy decode steps after the prefill.",
)
@click.option(
    "--batch", type=int, default=1, show_default=True, help="Identical sequences run together."
)
@click.option("--wq", default="int4-g128", show_default=True, help="Weight format.")
@click.option("--aq", default="int8", show_default=True, help="Activation format.")
@click.option("--kvq", default="int8", show_default=True, help="KV-cache format.")
@click.option("--no-tensors", is_flag=True, help="Write trace.json only (no payload).")
@click.option(
    "--layers",
    type=click.IntRange(min=1),
    default=None,
    help="config.json models only: keep the first N decoder layers (random weights).",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def export(
    model: str,
    out: str,
    prompt_file: str | None,
    tokens: int,
    decode: int,
    batch: int,
    wq: str,
    aq: str,
    kvq: str,
    no_tensors: bool,
    quiet: bool,
    layers: int | None,
) -> None:
    """Trace MODEL: `smollm2-135m` (real weights), an HF `config.json` (the real
    transformers class with random weights; MoE routing recorded), or `module.path:factory`
    (your own nn.Module; factory() returns (module, example input))."""
    from workloads.export import export_trace

    tr = export_trace(
        model,
        out,
        prompt_file=prompt_file,
        tokens=tokens,
        decode=decode,
        batch=batch,
        wq=wq,
        aq=aq,
        kvq=kvq,
        tensors=not no_tensors,
        progress=not quiet and sys.stderr.isatty(),
        layers=layers,
    )
    ops = tr.meta.ops
    gemm = sum(1 for o in ops if o.kind in ("linear", "attn_qk", "attn_pv"))
    click.echo(
        f"wrote {out}: {len(ops)} ops ({gemm} GEMM), {len(tr.meta.tensors)} tensors, "
        f"{tr.elapsed_s:.1f} s"
    )


@command.command("show")
@click.argument("trace_dir", type=click.Path())
def show(trace_dir: str) -> None:
    """Validate TRACE_DIR and print its ops (one line each)."""
    from workloads.trace import load_trace

    tr = load_trace(trace_dir)
    m = tr.meta
    click.echo(
        f"{m.model.name} ({m.model.source}) prefill {m.run.prompt_tokens} decode "
        f"{m.run.decode_steps} batch {m.run.batch} wq={m.formats.wq} "
        f"aq={m.formats.aq} kvq={m.formats.kvq}"
    )
    for o in m.ops:
        size = (
            f"{o.M}x{o.K}x{o.N}"
            if o.kind in ("linear", "attn_qk", "attn_pv")
            else f"{o.elements} el"
        )
        click.echo(f"{o.phase:8s} {o.name:14s} {o.kind:8s} {size:>18s} x{o.count}")
