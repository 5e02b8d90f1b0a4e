"""Design-space exploration from Python, no YAML files: vary a bit-serial arch with
`Arch.replace`, simulate each variant, keep the Pareto front, then run the same space as
a stored (resumable) sweep.

    python examples/dse.py --out out/dse            # 3 x 3 x 2 designs
"""

from __future__ import annotations

import argparse
import itertools

import pandas as pd

from sim import Arch, pareto, simulate, sweep


def main(argv: list[str] | None = None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/dse")
    ap.add_argument("--model", default="llama-2-7b")
    ap.add_argument("--prefill", type=int, default=128)
    ap.add_argument("--decode", type=int, default=16)
    args = ap.parse_args(argv)

    base = Arch.load("bitmod")
    rows = []
    for r, lanes, bw in itertools.product([8, 16, 32], [2, 4, 8], [16, 64]):
        arch = base.replace(
            {"pe_array.rows": r, "pe_array.lanes": lanes, "memory.dram.bandwidth_gb_s": bw}
        )
        # designs are compared: the exact mapper, as sweeps use (README "Two mappers")
        res = simulate(arch, args.model, prefill=args.prefill, decode=args.decode, mapper="exact")
        s = res.summary()
        rows.append(
            {
                "rows": r,
                "lanes": lanes,
                "bw_gb_s": bw,
                "area_mm2": arch.area_mm2,
                "tokens_per_s": s["tokens_per_s"],
                "energy_per_token_j": s["energy_per_token_j"],
            }
        )  # noqa: E501
    df = pd.DataFrame(rows)
    front = pareto(df, ["tokens_per_s", "energy_per_token_j"], ["max", "min"])
    print(f"{len(df)} designs, {len(front)} on the Pareto front:")
    print(front.to_string(index=False, float_format=lambda v: f"{v:.4g}"))

    # the same space as a stored sweep: a second call computes nothing new
    spec = {
        "base": "bitmod",
        "workload": {"model": args.model, "prefill": args.prefill, "decode": args.decode},
        "phases": ["total"],
        "axes": {
            "pe_array.rows": [8, 16, 32],
            "pe_array.lanes": [2, 4, 8],
            "memory.dram.bandwidth_gb_s": [16, 64],
        },  # fmt: skip
        "objectives": {"tokens_per_s": "max", "energy_per_token_j": "min"},
    }
    stored = sweep(spec, args.out)
    print(f"sweep: {stored.attrs['sweep']}")
    return df


if __name__ == "__main__":
    main()
