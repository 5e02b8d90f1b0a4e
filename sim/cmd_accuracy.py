"""`sim accuracy MODEL --wq FMT ...`: perplexity of a model with fake-quantized weights,
activations and KV cache, one row per weight format after the reference row.

Windowing: `--stride` = `--window` is the quantization papers' protocol (GPTQ/AWQ:
non-overlapping 2,048-token windows, each scored on its own); `--stride` < `--window` (default
window/2) is the HF sliding-window protocol. lm_head and the tied embedding stay at the
reference precision unless `--quantize-lm-head`. The protocol is printed with the result.

The work is `workloads.accuracy.evaluate`; this module parses options and prints the table
(or JSON). Progress lines go to stderr so `--format json` output stays clean.
"""

from __future__ import annotations

import json
import math

import click
from tabulate import tabulate

from sim.limits import format_name, format_names, text_file
from workloads.accuracy import DEFAULT_TOKENS, DEFAULT_WINDOW, evaluate


def _num(x: float) -> str:
    return f"{x:.3f}" if abs(x) < 1e5 else f"{x:.3e}"


def _opt(name) -> str:
    return name if isinstance(name, str) else "-"


def _fmt_delta(delta: float, ref: float, is_ref: bool) -> str:
    if is_ref:
        return "—"
    if not math.isfinite(delta):
        return str(delta)
    rel = delta / ref
    how = f"{100 * rel:+.1f}%" if rel < 10 else f"×{1 + rel:.3g}"
    return f"{'+' if delta >= 0 else ''}{_num(delta)} ({how})"


def render_table(df) -> str:
    """The result as a plain-text table with its header lines (what was measured, how)."""
    a = df.attrs
    show_aq = int(df["aq"].notna().any())
    show_kv = int(df["kvq"].notna().any())
    head = ["format", "bits/weight", "perplexity", "Δ vs reference"]
    head += ["act"] * show_aq + ["kv"] * show_kv
    ref = float(df["perplexity"].iloc[0])
    body = []
    for i, r in enumerate(df.itertuples(index=False)):
        cells = [
            r.format,
            f"{r.bits_per_weight:.2f}" + ("*" if i == 0 else ""),
            _num(r.perplexity),
            _fmt_delta(r.delta, ref, i == 0),
        ]
        cells += [_opt(r.aq)] * show_aq + [_opt(r.kvq)] * show_kv
        body.append(cells)
    table = tabulate(
        body,
        headers=head,
        tablefmt="simple",
        colalign=("left",) + ("right",) * (len(head) - 1),
        disable_numparse=True,
    )
    out = [
        f"Perplexity of {a['model']} ({a['model_description']})",
        f"text: {a['text']} (sha256 {a['text_sha256'][:12]})",
        f"tokens scored: {a['tokens_scored']} (requested {a['tokens_requested']}) in "
        f"{a['windows']} windows; window {a['window']}, stride {a['stride']}",
        f"protocol: {a['protocol']}",
        "lm_head + tied embedding: "
        + ("quantized (--quantize-lm-head)" if a["quantize_lm_head"] else "reference precision"),
        "",
        *(row.rstrip() for row in table.splitlines()),
        "",
        f"* reference = {a['reference']}",
        "quantized:",
        *(f"  {part}" for part in a["quantized"]),
        "bits/weight: effective storage incl. per-block scales (quant.info.format_info).",
    ]
    n_cached = sum(a["rows_cached"])
    if a["all_cached"]:
        out.append(f"all {n_cached} rows from cache ({a['seconds']:.1f} s)")
    else:
        out.append(f"computed in {a['seconds']:.1f} s ({n_cached} of {len(df)} rows from cache)")
    return "\n".join(out)


@click.command("accuracy")
@click.argument("model")
@click.option(
    "--wq",
    multiple=True,
    metavar="FMT",
    callback=format_names,
    help="Weight format, repeatable or comma-separated (one row each); 'reference' keeps "
    "the loaded weights.",
)
@click.option(
    "--aq",
    metavar="FMT",
    default=None,
    callback=format_name,
    help="Activation format (linear inputs).",
)
@click.option("--kvq", metavar="FMT", default=None, help="KV cache format (k/v proj outputs).")
@click.option(
    "--text",
    "text",
    metavar="FILE",
    default=None,
    callback=text_file,
    help="UTF-8 text to score (default: Python's pydoc_data.topics).",
)
@click.option(
    "--tokens",
    type=click.IntRange(1, 2**20),
    default=DEFAULT_TOKENS,
    show_default=True,
    help="Tokens to score (1..2**20).",
)
@click.option(
    "--window",
    type=click.IntRange(2, 8192),
    default=DEFAULT_WINDOW,
    show_default=True,
    help="Context window in tokens (2..8192, the model's context).",
)
@click.option(
    "--stride",
    type=click.IntRange(1, 8192),
    default=None,
    help="Window step, 1..window [default: window/2]. = window: non-overlapping windows "
    "(GPTQ/AWQ protocol); < window: overlapping (HF sliding-window protocol).",
)
@click.option(
    "--quantize-lm-head",
    is_flag=True,
    help="Also quantize lm_head and the tied token embedding with --wq (default: keep them "
    "at the reference precision, as GPTQ/AWQ do).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option("--recompute", is_flag=True, help="Ignore cached results (still writes them).")
def command(
    model, wq, aq, kvq, text, tokens, window, stride, quantize_lm_head, fmt, recompute
) -> None:
    """Perplexity of MODEL (smollm2-135m) with fake-quantized weights/activations/KV."""
    df = evaluate(
        model,
        list(wq),
        aq=aq,
        kvq=kvq,
        text=text,
        tokens=tokens,
        window=window,
        stride=stride,
        quantize_lm_head=quantize_lm_head,
        use_cache=not recompute,
        progress=lambda msg: click.echo(msg, err=True),
        warn=lambda msg: click.echo(f"warning: {msg}", err=True),
    )
    if fmt == "json":
        rows = json.loads(df.to_json(orient="records"))
        click.echo(json.dumps({"meta": dict(df.attrs), "rows": rows}, indent=1))
    else:
        click.echo(render_table(df))
