"""Markdown + PNG + CSV report of a `sim compare` table (speedup, energy efficiency and
area of accelerators normalized to a baseline). Pure rendering: it simulates nothing."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from common.files import write_dir_atomic  # noqa: E402

METRICS = {
    "speedup": "speedup (end to end)",
    "prefill_speedup": "prefill speedup",
    "decode_speedup": "decode speedup",
    "energy_eff": "energy efficiency",
    "area_ratio": "area (relative)",
}
FILES = ("compare.csv", "compare.md", "compare.png")


def fill_compare_report(df: pd.DataFrame, title: str, out: Path) -> list[Path]:
    """Write compare.csv (the whole table), compare.md (the table) and compare.png
    (grouped bars of METRICS) into the existing directory `out`."""
    cols = ["arch", "wq", "aq", "kvq", "tokens_per_s", "energy_per_token_j", "area_mm2", *METRICS]
    table = df[cols].to_markdown(index=False, floatfmt=".4g")
    csv, md, png = (out / f for f in FILES)
    csv.write_text(df.to_csv(index=False))
    md.write_text(f"# {title}\n\n{table}\n\n![normalized metrics]({png.name})\n")
    # arch names and titles are user text: a '$' must not start matplotlib mathtext
    with plt.rc_context({"text.parse_math": False}):
        _bars(df, title, png)
    return [csv, md, png]


def _bars(df: pd.DataFrame, title: str, png: Path) -> None:
    fig, ax = plt.subplots(figsize=(1.6 + 1.2 * len(df), 3.6))
    try:
        width = 0.8 / len(METRICS)
        for i, (col, label) in enumerate(METRICS.items()):
            xs = [j + i * width for j in range(len(df))]
            ax.bar(xs, df[col].fillna(0.0), width, label=label)
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(df))], df["arch"], rotation=20)
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_ylabel("x baseline")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(png, dpi=120, format="png")
    finally:
        plt.close(fig)


def write_compare_report(df: pd.DataFrame, title: str, out_dir: str | Path) -> list[Path]:
    """The report directory as one set (built aside, then swapped into place)."""
    out = write_dir_atomic(Path(out_dir), lambda tmp: fill_compare_report(df, title, tmp))
    return [out / f for f in FILES]
