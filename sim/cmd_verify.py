"""`sim verify`: run the functional kernels of a PE family on random tensors (or a trace's
real tensors) and compare them with reference GEMMs (torch on CUDA, int64/float64 on CPU).

Integer datapaths must match bit-exactly; floating ones must stay within the bound each
kernel states (kernels/README.md). Exit 0 when every check passes, 1 otherwise, 2 on bad
input. Runs standalone too: `python -m sim.cmd_verify ...` (needs no arch stack unless
ARCH is given).
"""

from __future__ import annotations

import sys
import time

import click

from sim.errors import InputError

DEFAULT_SHAPES = "16x576x192,32x1024x256"


def _parse_shapes(text: str) -> list[tuple[int, int, int]]:
    out = []
    for part in text.split(","):
        try:
            m, k, n = (int(v) for v in part.lower().strip().split("x"))
        except ValueError:
            raise InputError("--shapes", part, "MxKxN with positive integers") from None
        if min(m, k, n) <= 0:
            raise InputError("--shapes", part, "MxKxN with positive integers")
        out.append((m, k, n))
    return out


def _family_of(arch: str) -> str:
    from arch.accelerator import load_accelerator

    return load_accelerator(arch).config.pe_array.family


def _print_table(rows, out=sys.stdout) -> None:
    head = (
        "family",
        "kernel",
        "shape",
        "format",
        "check",
        "max_abs_err",
        "max_rel_err",
        "bit_exact",
        "bound",
        "pass",
    )
    cells = [head] + [
        (
            r.family,
            r.kernel,
            r.shape,
            r.fmt,
            r.what,
            f"{r.max_abs:.3g}",
            f"{r.max_rel:.3g}",
            "yes" if r.exact else "no",
            r.bound,
            "PASS" if r.ok else "FAIL",
        )
        for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    for c in cells:
        print("  ".join(v.ljust(w) for v, w in zip(c, widths)).rstrip(), file=out)


def run_verify(families: list[str], shapes, device: str, seed: int = 0):
    """Rows of kernels.cases.check for every case of `families` at every shape."""
    import numpy as np

    from kernels.cases import FAMILIES, check, reference

    rows = []
    for fam in families:
        for ci, case in enumerate(FAMILIES[fam]):
            for m, k, n in shapes:
                rng = np.random.default_rng([seed, ci, m, k, n])
                inp = case.make(rng, m, k, n)
                res = case.run(inp)
                ref = reference(case, inp, device)
                rows += check(case, inp, res, ref, f"{m}x{k}x{n}")
    return rows


def run_golden(families: list[str]):
    """Rows comparing every kernel with the GPU outputs stored under tests/data/golden."""
    from kernels import golden
    from kernels.cases import check

    rows = []
    for fam in families:
        for case, inp, ref in golden.load(fam):
            if ref is None:
                continue
            m, k = inp["ref_a"].shape
            n = inp["ref_w"].shape[0]
            rows += check(case, inp, case.run(inp), ref, f"{m}x{k}x{n} golden")
    return rows


@click.command("verify")
@click.argument("arch", required=False)
@click.option(
    "--family",
    "family",
    default=None,
    help="PE family (or 'all'); default: the ARCH's family, else all.",
)
@click.option(
    "--device",
    type=click.Choice(["auto", "cuda", "cpu"]),
    default="auto",
    show_default=True,
    help="Where the reference GEMMs run.",
)
@click.option(
    "--shapes",
    default=DEFAULT_SHAPES,
    show_default=True,
    help="Comma-separated MxKxN problem sizes (M tokens, K reduction, N outputs).",
)
@click.option(
    "--golden/--no-golden",
    default=False,
    help="Also compare with the recorded GPU outputs in tests/data/golden.",
)
@click.option(
    "--record",
    is_flag=True,
    help="Record golden reference outputs on this device into tests/data/golden.",
)
@click.option("--seed", default=0, show_default=True, help="Seed of the random tensors.")
def command(arch, family, device, shapes, golden, record, seed) -> None:
    """Check the functional kernels of a PE family against reference GEMMs."""
    from kernels.cases import FAMILIES
    from kernels.reference import resolve_device

    fam = family or (_family_of(arch) if arch else "all")
    if fam == "all":
        fams = list(FAMILIES)
    elif fam in FAMILIES:
        fams = [fam]
    else:
        raise InputError(arch or "--family", "family", "one of all, " + ", ".join(FAMILIES))
    shp = _parse_shapes(shapes)
    try:
        dev = resolve_device(device)
    except RuntimeError as e:
        raise InputError("--device", device, str(e)) from None
    t0 = time.time()
    if record:
        from kernels import golden as g

        g.record(dev)
    rows = run_verify(fams, shp, dev, seed)
    if golden:
        rows += run_golden(fams)
    _print_table(rows)
    bad = [r for r in rows if not r.ok]
    click.echo(
        f"{len(rows) - len(bad)}/{len(rows)} checks passed on {dev} reference "
        f"in {time.time() - t0:.1f} s"
    )
    if bad:
        sys.exit(1)


if __name__ == "__main__":
    command()
