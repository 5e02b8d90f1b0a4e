"""`sim trace`: export and inspect Traces (workloads/trace.py, workloads/export.py)."""

from __future__ import annotations

import os
import sys

import click

from sim._click import FullHelpGroup
from sim.limits import BATCH, DECODE, PREFILL, format_name, text_file


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
    default=None,
    callback=text_file,
    help="UTF-8 text to prefill (default: a built-in English paragraph).",
)
@click.option(
    "--path",
    "module_path",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="Directory to import MODULE from (appended to sys.path, so it never shadows an "
    "installed package; the current directory is not searched).",
)
@click.option(
    "--tokens",
    type=PREFILL,
    default=128,
    show_default=True,
    help="Prompt (prefill) length in tokens; the text is repeated if shorter.",
)
@click.option(
    "--decode",
    type=DECODE,
    default=8,
    show_default=True,
    help="Greedy decode steps after the prefill.",
)
@click.option(
    "--batch", type=BATCH, default=1, show_default=True, help="Identical sequences run together."
)
@click.option(
    "--wq", default="int4-g128", show_default=True, callback=format_name, help="Weight format."
)
@click.option(
    "--aq", default="int8", show_default=True, callback=format_name, help="Activation format."
)
@click.option(
    "--kvq", default="int8", show_default=True, callback=format_name, help="KV-cache format."
)
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
    module_path: str | None,
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
    from common.files import check_output
    from common.progress import enabled
    from quant.info import format_info
    from workloads.export import export_trace

    check_output(out, "directory")
    for opt, name in (("--wq", wq), ("--aq", aq), ("--kvq", kvq)):
        format_info(name, source=opt)
    if module_path is not None:
        full = os.path.abspath(module_path)
        if full not in sys.path:
            sys.path.append(full)

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
        progress=not quiet and enabled(),
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
