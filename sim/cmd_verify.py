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

from common.errors import InputError

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


def _print_table(rows) -> None:
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
        click.echo("  ".join(v.ljust(w) for v, w in zip(c, widths)).rstrip())


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


def _trace_cases(family: str, bits: int, sym: bool, act: str):
    """(Case, needs-fp16-activations) pairs of `family` that take INT-coded weights."""
    from kernels import cases as C

    lut = C.Case(family, "lut.lut", "", "lut", None, C._run_lut)
    table = {
        "systolic_mac": [(C.Case(family, "mac.int8", "", "int", None, C._run_int8), False)]
        if bits == 8 and sym and act == "int8"
        else [],
        "gpu_tensorcore": [(C.Case(family, "mac.int8", "", "int", None, C._run_int8), False)]
        if bits == 8 and sym and act == "int8"
        else [],
        "bitserial": (
            [(C.Case(family, "bitserial.stripes", "", "int", None, C._run_stripes(bits)), False)]
            if sym and act == "int8"
            else []
        )
        + (
            [(C.Case(family, "bitserial.bitmod", "", "int", None, C._run_bitmod(bits)), True)]
            if sym and bits in (6, 8)
            else []
        ),
        "lut": [(lut, True)],
        "mixpe": [
            (C.Case(family, "mixpe.shift_add", "", "int", None, C._run_mixpe(bits)), act != "int8")
        ],
        "fpga_dsp": [(C.Case(family, "fpga_dsp.int8x2", "", "int", None, C._run_dsp(8)), False)]
        if bits == 8 and sym and act == "int8"
        else [],
    }
    return table.get(family, [])


def run_trace(path: str, families: list[str], device: str, layers: int = 1):
    """Rows for the real tensors of a trace (INT-coded weights; INT8 or FP16 activations):
    every GEMM op of the first `layers` layers that carries weight and activation payloads."""
    import re
    from dataclasses import replace

    import numpy as np

    from kernels.cases import check, reference
    from workloads.trace import load_trace, tensor_key

    t = load_trace(path)
    if not t.has_tensors:
        raise InputError(path, "tensors.safetensors", "a trace with a tensor payload")
    wq, aq = t.meta.formats.wq, t.meta.formats.aq
    m = re.match(r"^int([2-8])(?:-g(\d+))?(-asym)?$", wq)
    if not m:
        raise InputError(path, "formats.wq", "an INT weight format (intB, intB-gG[-asym])")
    bits, gs, sym = int(m.group(1)), int(m.group(2) or 0), not m.group(3)
    keys = set(t.tensor_keys())
    pairs, rows = [], []
    for key in sorted(keys):
        parts = key.split("/")
        if parts[-1] == "weight.codes":
            pairs.append((parts[0], int(parts[1]) if len(parts) == 3 else None))
    for op, lay in pairs:
        if lay is not None and lay >= layers:
            continue
        if tensor_key(op, lay, "act", "codes") not in keys:
            continue
        wc = t.tensor(tensor_key(op, lay, "weight", "codes"))
        ws = t.tensor(tensor_key(op, lay, "weight", "scales")).astype(np.float32)
        ws = ws.reshape(wc.shape[0], -1)
        gsz = 0 if ws.shape[1] == 1 else gs  # the trace stores per-channel scales then
        zk = tensor_key(op, lay, "weight", "zeros")
        a_fp = t.dequantized(op, lay, "act").astype(np.float16)
        a_codes = t.tensor(tensor_key(op, lay, "act", "codes"))
        for fam in families:
            for case, wants_fp16 in _trace_cases(fam, bits, sym, aq):
                base = {
                    "ref_w": wc.astype(np.int32),
                    "w_codes": wc,
                    "gs": np.int64(gsz),
                    "w_scales": ws.reshape(wc.shape[0], -1),
                    "bits": np.int64(bits),
                }
                if zk in keys:
                    base["w_zeros"] = t.tensor(zk).astype(np.int64).reshape(wc.shape[0], -1)
                if wants_fp16 or aq != "int8":
                    inp = {**base, "ref_a": a_fp, "pexp": np.int64(-24)}
                else:
                    a_s = t.tensor(tensor_key(op, lay, "act", "scales")).astype(np.float32)
                    inp = {
                        **base,
                        "ref_a": a_codes.astype(np.int8),
                        "pexp": np.int64(0),
                        "a_scale": a_s.reshape(-1),
                    }
                c = replace(case, fmt=f"W {wq} / A {'fp16' if inp['pexp'] else aq} (trace)")
                mm, kk = inp["ref_a"].shape
                rows += check(
                    c,
                    inp,
                    c.run(inp),
                    reference(c, inp, device),
                    f"{op}/{lay} {mm}x{kk}x{wc.shape[0]}",
                )
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
    "--trace",
    "trace",
    default=None,
    type=click.Path(),
    help="Also run on a trace's real tensors (workloads.trace; INT-coded weights).",
)
@click.option(
    "--trace-layers",
    default=1,
    show_default=True,
    help="With --trace: how many leading layers to check.",
)
@click.option(
    "--record",
    is_flag=True,
    help="Record golden reference outputs on this device into tests/data/golden.",
)
@click.option("--seed", default=0, show_default=True, help="Seed of the random tensors.")
def command(arch, family, device, shapes, golden, trace, trace_layers, record, seed) -> None:
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
    if trace:
        rows += run_trace(trace, fams, dev, trace_layers)
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
