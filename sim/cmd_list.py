"""`sim list presets|models|formats|families`."""

from __future__ import annotations

import click
import yaml

from arch.accelerator import PRESETS_DIR, preset_names
from arch.families import FAMILIES


def _presets() -> list[str]:
    lines = []
    for name in preset_names():
        path = PRESETS_DIR / f"{name}.yaml"
        raw = yaml.safe_load(path.read_text())
        fam = raw.get("pe_array", {}).get("family", "?")
        desc = raw.get("description", "")
        if path.is_symlink():  # an alias: a link to another preset file
            desc = f"alias of {path.resolve().stem}"
        lines.append(f"{name:24} {fam:15} {desc}")
    return lines


def _models() -> list[str]:
    from workloads.zoo import list_models, load_model_shape

    out = []
    for name in list_models():
        s = load_model_shape(name)
        out.append(
            f"{name:18} layers {s.layers:3}  hidden {s.hidden:5}  heads {s.heads:3}/"
            f"{s.kv_heads:<3} ffn {s.intermediate:6}  vocab {s.vocab}"
        )
    return out


def _formats() -> list[str]:
    from quant.info import all_formats

    rows = [
        f"{f.name:20} {f.bits_per_element:7.4f} bits/element  {f.description}"
        for f in all_formats()
    ]
    # the parametric families (quant/names.py): every member works, not only those above
    return [
        *rows,
        "",
        "parametric names (quant/names.py), any member works:",
        "  int{2..8}[-gG][-asym][-mse]      e.g. int3, int6-g64, int4-g128-asym",
        "  {fp4-e2m1|fp6-e2m3|fp6-e3m2|fp8-e4m3|fp8-e5m2}[-gG]",
        "  bitmod-{fp3|fp4|int6}[-gG]       e.g. bitmod-fp3 (= -g128), bitmod-fp3-g64",
        "  bipolar-int{2..8}",
    ]


@click.command("list")
@click.argument("what", type=click.Choice(["presets", "models", "formats", "families"]))
def command(what: str) -> None:
    """List presets, models, formats (bits incl. scale/metadata) or PE families."""
    lines = {
        "presets": _presets,
        "models": _models,
        "formats": _formats,
        "families": lambda: sorted(FAMILIES),
    }[what]()
    click.echo("\n".join(lines))
