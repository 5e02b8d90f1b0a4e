"""The one report builder behind `sim report RESULTS --out DIR` and
`sim compare ... --report DIR`: a self-contained `index.html` (every figure embedded as a
base64 PNG, no network, no external script), `report.md` and each figure as PNG and SVG.

Inputs are plain data (this package simulates nothing and imports no `sim`):
- `table`: one row per design point (columns of the sweep store, or of `sim compare`),
  with a `label` column; `objectives` {column: "min"|"max"} for the Pareto scatter.
- `runs`: {label: RunData} for the per-op figures (energy, latency, roofline, heat map).
- `baseline`: the label the speedup / energy-efficiency bars are normalized to.

Figures (units on every axis; titles name the model, phase and formats):
  pareto      objective scatter, the Pareto front highlighted and its points labelled
  speedup     end-to-end speedup and energy efficiency vs the baseline (x baseline)
  energy      energy per generated token, stacked compute / SRAM / DRAM (mJ/token)
  latency     time by op kind, per phase (prefill = TTFT; decode per token = TPOT) (ms)
  roofline_*  per arch: attainable GOPS vs ops/byte, each GEMM op placed (1 MAC = 2 ops)
  heatmap_*   per arch: time per layer x op (ms), one panel per phase
"""

from __future__ import annotations

import base64
import html
import io
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from common.files import write_dir_atomic  # noqa: E402

# Ops that run once per request, not once per decoder layer (workloads/llm.py).
NON_LAYER_OPS = ("final_norm", "lm_head", "pos_embed_add")
ENERGY_PARTS = (("compute", "#4c72b0"), ("sram", "#dd8452"), ("dram", "#55a868"))


@dataclass
class RunData:
    """One simulated run, as plain data (built from a SimResult by the caller)."""

    label: str
    ops: pd.DataFrame  # SimResult.to_dataframe(): phase, name, kind, count, time_s, ...
    model: str
    prefill: int
    decode: int
    batch: int
    formats: dict[str, str]
    layers: int
    peak_ops_per_s: float  # 2 x peak MACs/cycle x clock
    dram_bytes_per_s: float
    energy_static_j: float | None = None  # only when the model reports leakage
    extra: dict = field(default_factory=dict)

    @property
    def fmt(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.formats.items())

    @property
    def tokens(self) -> int:
        return self.batch * (self.decode or self.prefill)


@dataclass
class _Figure:
    name: str
    caption: str
    png: bytes
    svg: bytes


def _fit(title: str, fig) -> str:  # noqa: ANN001 - a matplotlib Figure
    """The title wrapped to the width of the figure's axes (about 12 characters per inch
    at 9 pt; the y label and ticks take about an inch), so bar charts do not clip it."""
    per_line = max(24, int((fig.get_figwidth() - 1.0) * 12))
    return "\n".join("\n".join(textwrap.wrap(line, per_line)) or line for line in title.split("\n"))


def _render(fig, name: str, caption: str) -> _Figure:
    fig.tight_layout()
    bufs = {}
    for fmt in ("png", "svg"):
        b = io.BytesIO()
        fig.savefig(b, format=fmt, dpi=110, bbox_inches="tight")  # rotated labels included
        bufs[fmt] = b.getvalue()
    plt.close(fig)
    return _Figure(name, caption, bufs["png"], bufs["svg"])


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in s)[:60]


# --- figures ---------------------------------------------------------------------------


def fig_pareto(
    table: pd.DataFrame, objectives: Mapping[str, str], front_mask: np.ndarray, title: str
) -> _Figure:
    (x, sx), (y, sy) = list(objectives.items())[:2]
    fig, ax = plt.subplots(figsize=(7.5, 5))
    feas = table.get("feasible", pd.Series(True, index=table.index)).astype(bool)
    ax.scatter(table[x][feas], table[y][feas], s=12, c="#9aa7b8", label="feasible points")
    if (~feas).any():
        ax.scatter(
            table[x][~feas],
            table[y][~feas],
            s=10,
            marker="x",
            c="#d9a0a0",
            label="violates a constraint",
        )
    front = table[front_mask].sort_values(x)
    ax.plot(front[x], front[y], "-o", c="#c44e52", ms=5, lw=1.5, label="Pareto front")
    mid = 0.5 * (table[x].min() + table[x].max())
    for i, (_, r) in enumerate(front.head(12).iterrows()):
        right = r[x] > mid  # labels grow inwards, staggered so neighbours do not overlap
        ax.annotate(
            str(r["label"]),
            (r[x], r[y]),
            fontsize=6,
            xytext=(-4 if right else 4, 6 + 9 * i),
            textcoords="offset points",
            ha="right" if right else "left",
            arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "#c44e52"},
        )
    ax.set_xlabel(f"{_unit(x)} ({sx})")
    ax.set_ylabel(f"{_unit(y)} ({sy})")
    ax.set_title(_fit(title, fig), fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _render(fig, "pareto", f"Pareto front of {x} ({sx}) and {y} ({sy}).")


_UNITS = {
    "tokens_per_s": "throughput (tokens/s)",
    "energy_per_token_j": "energy per token (J/token)",
    "energy_j": "energy (J)",
    "time_s": "time (s)",
    "ttft_s": "TTFT (s)",
    "tpot_s": "TPOT (s)",
    "area_mm2": "area (mm²)",
    "utilization": "GEMM utilization (fraction)",
    "perplexity": "perplexity (SmolLM2, nats→ppl)",
    "footprint_bytes": "DRAM footprint (bytes)",
}


def _unit(col: str) -> str:
    return _UNITS.get(col, col)


def fig_speedup(summary: pd.DataFrame, baseline: str, title: str) -> _Figure:
    b = summary.set_index("label").loc[baseline]
    speed = b["total_time_s"] / summary["total_time_s"]
    eff = b["energy_j"] / summary["energy_j"]
    fig, ax = plt.subplots(figsize=(1.8 + 1.1 * len(summary), 4))
    xs = np.arange(len(summary))
    ax.bar(xs - 0.2, speed, 0.4, label="speedup (end to end)", color="#4c72b0")
    ax.bar(xs + 0.2, eff, 0.4, label="energy efficiency", color="#55a868")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xticks(xs, summary["label"], rotation=20, ha="right", fontsize=7)
    ax.set_ylabel(f"× baseline ({baseline})")
    ax.set_title(_fit(title, fig), fontsize=9)
    ax.legend(fontsize=7)
    return _render(fig, "speedup", f"Speedup and energy efficiency relative to {baseline}.")


def fig_energy(runs: Sequence[RunData], title: str) -> _Figure:
    fig, ax = plt.subplots(figsize=(1.8 + 1.1 * len(runs), 4))
    xs = np.arange(len(runs))
    bottom = np.zeros(len(runs))
    parts = list(ENERGY_PARTS)
    if any(r.energy_static_j is not None for r in runs):
        parts.append(("static", "#8172b2"))
    for part, color in parts:
        if part == "static":
            v = np.array([(r.energy_static_j or 0.0) / r.tokens * 1e3 for r in runs])
        else:
            v = np.array([r.ops[f"energy_{part}_j"].sum() / r.tokens * 1e3 for r in runs])
        ax.bar(xs, v, 0.6, bottom=bottom, label=part, color=color)
        bottom += v
    ax.set_xticks(xs, [r.label for r in runs], rotation=20, ha="right", fontsize=7)
    ax.set_ylabel("energy per generated token (mJ/token)")
    ax.set_title(_fit(title, fig), fontsize=9)
    ax.legend(fontsize=7)
    return _render(fig, "energy", "Energy per generated token, by component.")


def fig_latency(runs: Sequence[RunData], title: str) -> _Figure:
    kinds = sorted({k for r in runs for k in r.ops["kind"].unique()})
    cmap = plt.get_cmap("tab10")
    fig, axes = plt.subplots(1, 2, figsize=(3 + 1.6 * len(runs), 4))
    for ax, phase in zip(axes, ("prefill", "decode")):
        xs = np.arange(len(runs))
        bottom = np.zeros(len(runs))
        for i, kind in enumerate(kinds):
            v = []
            for r in runs:
                ops = r.ops[(r.ops.phase == phase) & (r.ops.kind == kind)]
                div = r.decode if phase == "decode" and r.decode else 1
                v.append(ops["time_s"].sum() / div * 1e3)
            v = np.array(v)
            ax.bar(xs, v, 0.6, bottom=bottom, label=kind, color=cmap(i % 10))
            bottom += v
        ax.set_xticks(xs, [r.label for r in runs], rotation=20, ha="right", fontsize=7)
        what = "TTFT (prefill time)" if phase == "prefill" else "TPOT (decode time per token)"
        ax.set_ylabel(f"{what} (ms)")
        ax.set_title(f"{phase}", fontsize=9)
    axes[1].legend(fontsize=7, title="op kind", title_fontsize=7)
    fig.suptitle(_fit(title, fig), fontsize=9)
    return _render(fig, "latency", "Latency by op kind: prefill (TTFT) and per decode token.")


def fig_roofline(r: RunData, title: str) -> _Figure:
    ops = r.ops[(r.ops["macs"] > 0) & (r.ops["time_s"] > 0)].copy()
    ops["ops"] = 2.0 * ops["macs"]
    ops["intensity"] = ops["ops"] / ops["dram_bytes"].where(ops["dram_bytes"] > 0, np.nan)
    ops["gops"] = ops["ops"] / ops["time_s"] / 1e9
    fig, ax = plt.subplots(figsize=(7.5, 5))
    finite = ops["intensity"].dropna()
    lo = min(0.1, finite.min() / 2) if len(finite) else 0.1
    hi = max(1e4, finite.max() * 2) if len(finite) else 1e4
    xs = np.geomspace(lo, hi, 200)
    peak = r.peak_ops_per_s / 1e9
    bw = r.dram_bytes_per_s / 1e9
    ax.plot(xs, np.minimum(peak, bw * xs), "k-", lw=1.5, label="roofline")
    ax.axvline(peak / bw, color="k", ls=":", lw=0.8)
    for phase, m in (("prefill", "o"), ("decode", "s")):
        sub = ops[ops.phase == phase]
        # ops whose operands stay on chip (0 DRAM bytes) are drawn at the right edge
        xi = sub["intensity"].fillna(hi)
        ax.scatter(xi, sub["gops"], marker=m, s=24, label=f"{phase} GEMMs", alpha=0.8)
        for (_, row), xv in zip(sub.iterrows(), xi):
            ax.annotate(
                row["name"],
                (xv, row["gops"]),
                fontsize=6,
                xytext=(3, 2),
                textcoords="offset points",
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (ops/byte of DRAM traffic)")
    ax.set_ylabel("attained performance (GOPS, 1 MAC = 2 ops)")
    ax.set_title(f"{title}\npeak {peak:.4g} GOPS, DRAM {bw:.4g} GB/s", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    return _render(fig, f"roofline_{_slug(r.label)}", f"Roofline of {r.label}, each GEMM placed.")


def layer_table(r: RunData, phase: str) -> pd.DataFrame:
    """Time (s) per layer x op name for one phase. Decoder ops run `count/layers` times
    per layer, all layers alike (the zoo models are shape-only: every layer has the same
    shapes); ops that run once per request (NON_LAYER_OPS) form the row 'head'."""
    ops = r.ops[r.ops.phase == phase]
    names = list(dict.fromkeys(ops["name"]))
    per = {n: float(ops[ops.name == n]["time_s"].sum()) for n in names}
    idx = [f"layer {i}" for i in range(r.layers)] + ["head"]
    t = pd.DataFrame(0.0, index=idx, columns=names)
    for n, v in per.items():
        if n in NON_LAYER_OPS:
            t.loc["head", n] = v
        else:
            t.loc[idx[:-1], n] = v / r.layers
    return t


def fig_heatmap(r: RunData, title: str) -> _Figure:
    phases = [p for p in ("prefill", "decode") if (r.ops.phase == p).any()]
    fig, axes = plt.subplots(len(phases), 1, figsize=(9, 2.4 + 3.2 * len(phases)), squeeze=False)
    for ax, phase in zip(axes[:, 0], phases):
        t = layer_table(r, phase) * 1e3
        im = ax.imshow(t.to_numpy(), aspect="auto", cmap="viridis", interpolation="nearest")
        ax.set_xticks(range(len(t.columns)), t.columns, rotation=60, ha="right", fontsize=6)
        step = max(1, len(t.index) // 12)
        ticks = list(range(0, len(t.index) - 1, step)) + [len(t.index) - 1]
        ax.set_yticks(ticks, [t.index[i] for i in ticks], fontsize=6)
        ax.set_xlabel("op")
        ax.set_ylabel("layer")
        ax.set_title(f"{phase}: time per layer × op", fontsize=8)
        fig.colorbar(im, ax=ax, label="time (ms)")
    fig.suptitle(_fit(title, fig), fontsize=9)
    return _render(fig, f"heatmap_{_slug(r.label)}", f"Time per layer × op of {r.label}.")


# --- page ------------------------------------------------------------------------------

_CHECK_JS = """
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message || e)));
const _ce = console.error;
console.error = (...a) => { window.__errors.push(a.join(' ')); _ce(...a); };
window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  const r = {images: imgs.length,
             loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
             widths: imgs.map(i => i.naturalWidth), errors: window.__errors};
  document.getElementById('render-check').textContent = JSON.stringify(r);
});
"""

_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:24px auto;color:#222}
h1{font-size:1.4em} h2{font-size:1.15em;border-bottom:1px solid #ddd;padding-bottom:4px}
figure{margin:12px 0} figcaption{font-size:.85em;color:#555}
img{max-width:100%;border:1px solid #eee}
table{border-collapse:collapse;font-size:.8em} td,th{border:1px solid #ddd;padding:2px 6px}
th{background:#f4f4f4} #render-check{display:none}
"""


def _table_html(df: pd.DataFrame) -> str:
    return df.to_html(index=False, float_format=lambda v: f"{v:.4g}", border=0)


def write_report(
    out_dir: str | Path,
    title: str,
    *,
    table: pd.DataFrame | None = None,
    objectives: Mapping[str, str] | None = None,
    front_mask: np.ndarray | None = None,
    summary: pd.DataFrame | None = None,
    baseline: str | None = None,
    runs: Sequence[RunData] = (),
    tables: Mapping[str, pd.DataFrame] | None = None,
    notes: Sequence[str] = (),
    source: str = "--out",
    extra_fill: Callable[[Path], object] | None = None,
) -> Path:
    """Build the report directory atomically; returns its path.

    `summary`: one row per compared design (label, total_time_s, energy_j, ...) for the
    speedup bars; `tables`: extra named tables shown in the page and the Markdown;
    `extra_fill(tmpdir)` adds files of the caller to the same atomic directory (e.g.
    reports.compare.fill_compare_report's compare.csv/md/png)."""
    runs = list(runs)
    sub = _subtitle(runs)
    figs: list[_Figure] = []
    # labels and titles are user text (spec names, axis values): a '$' must not start
    # matplotlib mathtext (an unbalanced one raised a ParseException)
    with plt.rc_context({"text.parse_math": False}):
        if table is not None and objectives and len(objectives) >= 2 and front_mask is not None:
            figs.append(fig_pareto(table, objectives, front_mask, f"{title}\n{sub}"))
        if summary is not None and baseline is not None and len(summary) > 1:
            figs.append(fig_speedup(summary, baseline, f"{title}\n{sub}"))
        if runs:
            figs.append(fig_energy(runs, f"energy per token — {sub}"))
            figs.append(fig_latency(runs, f"latency breakdown — {sub}"))
            for r in runs:
                figs.append(fig_roofline(r, f"{r.label}: {r.model}, {r.fmt}, prefill+decode"))
                figs.append(fig_heatmap(r, f"{r.label}: {r.model}, {r.fmt}"))
    seen: dict[str, int] = {}
    for f in figs:  # labels equal after _slug (or cut at 60 characters) must not collide
        seen[f.name] = seen.get(f.name, 0) + 1
        if seen[f.name] > 1:
            f.name = f"{f.name}-{seen[f.name]}"
    tables = dict(tables or {})

    def fill(tmp: Path) -> None:
        for f in figs:
            (tmp / f"{f.name}.png").write_bytes(f.png)
            (tmp / f"{f.name}.svg").write_bytes(f.svg)
        (tmp / "index.html").write_text(_html(title, sub, figs, tables, notes), encoding="utf-8")
        (tmp / "report.md").write_text(_markdown(title, sub, figs, tables, notes))
        if extra_fill is not None:
            extra_fill(tmp)

    return write_dir_atomic(out_dir, fill, source)


def _subtitle(runs: Sequence[RunData]) -> str:
    if not runs:
        return ""
    r = runs[0]
    fmts = sorted({x.fmt for x in runs})
    f = fmts[0] if len(fmts) == 1 else "formats per design"
    return f"{r.model}, prefill {r.prefill} + decode {r.decode}, batch {r.batch}, {f}"


def _html(title, sub, figs, tables, notes) -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{e(title)}</title><style>{_CSS}</style><script>{_CHECK_JS}</script>",
        f"</head><body><h1>{e(title)}</h1><p>{e(sub)}</p>",
    ]
    parts += [f"<p>{e(n)}</p>" for n in notes]
    for name, df in tables.items():
        parts.append(f"<h2>{e(name)}</h2>{_table_html(df)}")
    for f in figs:
        b64 = base64.b64encode(f.png).decode()
        parts.append(
            f"<h2>{e(f.name)}</h2><figure><img alt='{e(f.name)}' "
            f"src='data:image/png;base64,{b64}'><figcaption>{e(f.caption)} "
            f"(<a href='{e(f.name)}.svg'>SVG</a>)</figcaption></figure>"
        )
    parts.append("<pre id='render-check'></pre></body></html>")
    return "\n".join(parts)


def _markdown(title, sub, figs, tables, notes) -> str:
    out = [f"# {title}", "", sub, ""]
    out += [f"{n}\n" for n in notes]
    for name, df in tables.items():
        out += [f"## {name}", "", df.to_markdown(index=False, floatfmt=".4g"), ""]
    for f in figs:
        out += [f"## {f.name}", "", f"![{f.caption}]({f.name}.png)", ""]
    return "\n".join(out)
