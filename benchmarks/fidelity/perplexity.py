"""Perplexity as the quantization papers measure it (issue 11, part 3). Prints JSON.

    python benchmarks/fidelity/perplexity.py [--tokens 8192] [--window 1024]

Protocol (GPTQ, Frantar et al. ICLR'23, and AWQ, Lin et al. MLSys'24, both scoring
WikiText-2 test with non-overlapping windows: IST-DASLab/gptq datautils.py / llama.py
`llama_eval`): the WikiText-2 test text (../shared/data/wikitext-2-test.txt), tokenized
as one stream, cut into non-overlapping windows (`stride = window`), each window scored on
its own, perplexity = exp(mean token NLL); lm_head and the tied embedding at the
reference precision (the papers quantize the decoder layers only). Weights: GPTQ-style
round-to-nearest (quant/scheme.py `rtn`: per-channel or grouped, symmetric or
asymmetric with GPTQ's zero-point rounding and clamping). Model: SmolLM2-135M-Instruct,
the real weights available offline (its GGUF Q4_1 weights, dequantized, are the
reference row). The papers use 2,048-token windows on 7B+ models; SmolLM2's context is
8,192, so any window up to that is the same protocol (default 1,024 here, the issue's
acceptance command).

Checks printed (`checks`): INT8 RTN within 0.5% of the reference perplexity, and the
ordering monotone in bits (8 <= 6 <= 4 <= 3 bits, per-channel symmetric RTN, and the
grouped asymmetric INT4 no worse than per-channel INT4). Also the same formats with
lm_head quantized (`--quantize-lm-head` in `sim accuracy`), as a contrast.
Runs `workloads.accuracy.evaluate` (cached per format under $SIM_CACHE_DIR); about 12
minutes on 2 busy CPU cores uncached. Its output at 8,192 tokens, window 1,024, is kept in
data/perplexity_run.json (reference 23.609, INT8 +0.15%, INT6 25.04, INT4 47.11, INT3
11,286; grouped INT8 23.663, grouped asymmetric INT4 29.305).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

TEXT = Path(__file__).resolve().parents[3] / "shared" / "data" / "wikitext-2-test.txt"
FORMATS = ["int8", "int6", "int4", "int3", "int8-g64", "int4-g64-asym"]
MONOTONE = ["int8", "int6", "int4", "int3"]  # per-channel symmetric RTN, fewer bits down


def run(tokens: int, window: int, text: Path) -> dict:
    from workloads.accuracy import evaluate

    out: dict = {"model": "smollm2-135m", "text": str(text), "tokens": tokens}
    for label, lm_head in (("lm_head_reference", False), ("lm_head_quantized", True)):
        df = evaluate(
            "smollm2-135m",
            FORMATS,
            text=text,
            tokens=tokens,
            window=window,
            stride=window,
            quantize_lm_head=lm_head,
        )
        ppl = dict(zip(df["format"], (float(p) for p in df["perplexity"])))
        out[label] = {
            "protocol": df.attrs.get("protocol"),
            "windows": df.attrs.get("windows"),
            "tokens_scored": df.attrs.get("tokens_scored"),
            "perplexity": {k: round(v, 4) for k, v in ppl.items()},
            "bits_per_weight": dict(zip(df["format"], (float(b) for b in df["bits_per_weight"]))),
        }
    ppl = {k: float(v) for k, v in out["lm_head_reference"]["perplexity"].items()}
    ref = ppl["reference"]
    chain = [ppl[f] for f in MONOTONE]
    out["checks"] = {
        "int8_vs_reference": round(ppl["int8"] / ref - 1, 5),
        "int8_within_0.5pct": abs(ppl["int8"] / ref - 1) <= 0.005,
        "monotone_in_bits": all(a <= b for a, b in zip(chain, chain[1:])),
        "grouped_asym_int4_no_worse_than_per_channel": ppl["int4-g64-asym"] <= ppl["int4"],
    }
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description="perplexity protocol of the quantization papers")
    ap.add_argument("--tokens", type=int, default=8192)
    ap.add_argument("--window", type=int, default=1024)
    ap.add_argument("--text", type=Path, default=TEXT)
    args = ap.parse_args(argv)
    out = run(args.tokens, args.window, args.text)
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
