"""`sim verify`: run the functional kernels of a PE family on random tensors (or a trace's
real tensors) and compare them with reference GEMMs (torch on CUDA, int64/float64 on CPU).

Integer datapaths must match bit-exactly; floating ones must stay within the bound each
kernel states (kernels/README.md). Exit 0 when every check passes, 1 otherwise, 2 on bad
input. Runs standalone too: `python -m sim.cmd_verify ...` (needs no arch stack unless
ARCH is given).

Which kernels run is declared by the PE family of ARCH (`verification()` in
arch/<family>.py, kernels.spec.VerifySpec): the datapath the preset describes.
"""

from __future__ import annotations

import sys
import time

import click

from common.errors import InputError
from common.progress import progress
from sim.limits import SEED, verify_shapes

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


def _targets(arch: str | None, family: str | None) -> tuple[str, list]:
    """(label, VerifySpecs): ARCH's PE model declares them (`verification()`); --family F
    takes the union over the presets of family F; 'all' (or nothing): every kernel case."""
    from arch.accelerator import load_accelerator, preset_names
    from arch.families import FAMILIES

    if arch is not None and family is None:
        accel = load_accelerator(arch)
        return f"{accel.name} (family {accel.config.pe_array.family})", list(
            accel.pe.verification()
        )
    if family in (None, "all"):
        return "all kernels", []
    if family not in FAMILIES:
        raise InputError(arch or "--family", "family", "one of all, " + ", ".join(FAMILIES))
    specs = []
    for name in preset_names():
        accel = load_accelerator(name)
        if accel.config.pe_array.family == family:
            specs += accel.pe.verification()
    return f"family {family} (its presets)", specs


def _print_table(rows) -> None:
    from tabulate import tabulate

    head = (
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
    body = [
        (
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
    click.echo(tabulate(body, headers=head, tablefmt="simple", disable_numparse=True))


def run_verify(cases, shapes, device: str, seed: int = 0):
    """Rows of kernels.cases.check for every case at every shape."""
    import numpy as np

    from kernels.cases import check, reference

    rows = []
    todo = [(ci, case, shape) for ci, case in enumerate(cases) for shape in shapes]
    for ci, case, (m, k, n) in progress(todo, "verify cases"):
        rng = np.random.default_rng([seed, ci, m, k, n])
        inp = case.make(rng, m, k, n)
        res = case.run(inp)
        ref = reference(case, inp, device)
        rows += check(case, inp, res, ref, f"{m}x{k}x{n}")
    return rows


def run_golden(cases, directory):
    """Rows comparing each case that has recorded GPU outputs in `directory` with them."""
    from pathlib import Path

    from kernels import golden
    from kernels.cases import check

    if not Path(directory).is_dir() or not any(Path(directory).glob("*.npz")):
        raise InputError("--golden", str(directory), "a directory of golden .npz files")
    stored = golden.load_all(Path(directory))
    rows = []
    for case in cases:
        if case.key not in stored:
            continue
        gcase, inp, ref = stored[case.key]
        if ref is None:
            continue
        m, k = inp["ref_a"].shape
        n = inp["ref_w"].shape[0]
        rows += check(gcase, inp, gcase.run(inp), ref, f"{m}x{k}x{n} golden")
    return rows


def run_trace(path: str, cases, device: str, layers: int = 1):
    """Rows for the real tensors of a trace (INT-coded weights; INT8 or FP16 activations):
    every GEMM op of the first `layers` layers that carries weight and activation payloads,
    through each selected kernel that takes the trace's formats (kernels.cases.trace_case)."""
    from dataclasses import replace

    import numpy as np

    from kernels.cases import check, reference, trace_case
    from quant.names import parse_format
    from workloads.trace import load_trace, tensor_key

    t = load_trace(path)
    if not t.has_tensors:
        raise InputError(path, "tensors.safetensors", "a trace with a tensor payload")
    wq, aq = t.meta.formats.wq, t.meta.formats.aq
    p = parse_format(wq)
    if p is None or p.family != "int" or p.mse:
        raise InputError(path, "formats.wq", "an INT weight format (intB, intB-gG[-asym])")
    bits, gs, sym = p.bits, p.group or 0, not p.asym
    runs = []
    for case in cases:
        tc = trace_case(case.kernel, wq, aq, bits, sym)
        if tc is not None and tc.key not in {c.key for c in runs}:
            runs.append(tc)
    keys = set(t.tensor_keys())
    pairs, rows = [], []
    for key in sorted(keys):
        parts = key.split("/")
        if parts[-1] == "weight.codes":
            pairs.append((parts[0], int(parts[1]) if len(parts) == 3 else None))
    for op, lay in progress(pairs, "verify trace ops"):
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
        for case in runs:
            base = {
                "ref_w": wc.astype(np.int32),
                "w_codes": wc,
                "gs": np.int64(gsz),
                "w_scales": ws.reshape(wc.shape[0], -1),
                "bits": np.int64(bits),
            }
            if zk in keys:
                base["w_zeros"] = t.tensor(zk).astype(np.int64).reshape(wc.shape[0], -1)
            if case.aq == "fp16":
                inp = {**base, "ref_a": a_fp, "pexp": np.int64(-24)}
            else:
                a_s = t.tensor(tensor_key(op, lay, "act", "scales")).astype(np.float32)
                inp = {
                    **base,
                    "ref_a": a_codes.astype(np.int8),
                    "pexp": np.int64(0),
                    "a_scale": a_s.reshape(-1),
                }
            c = replace(case, wq=f"{wq} (trace)")
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
    help="PE family: the kernels of its presets (or 'all': every kernel); default: the "
    "kernels ARCH's PE model declares, else all.",
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
    callback=verify_shapes,
    help="Comma-separated MxKxN problem sizes (M tokens, K reduction, N outputs).",
)
@click.option(
    "--golden",
    "golden",
    default=None,
    type=click.Path(),
    metavar="DIR",
    help="Also compare with recorded GPU outputs in DIR (the project's: tests/data/golden).",
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
    type=click.IntRange(1, 1024),
    default=1,
    show_default=True,
    help="With --trace: how many leading layers to check.",
)
@click.option(
    "--record",
    default=None,
    type=click.Path(),
    metavar="DIR",
    help="Record reference outputs on this device for the golden inputs (--golden DIR, "
    "else DIR itself) into DIR.",
)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the random tensors.")
def command(arch, family, device, shapes, golden, trace, trace_layers, record, seed) -> None:
    """Check the functional kernels of ARCH's PE datapath against reference GEMMs."""
    from kernels.cases import CASES, cases_of
    from kernels.reference import resolve_device

    label, specs = _targets(arch, family)
    cases = cases_of(specs) if specs else list(CASES)
    shp = _parse_shapes(shapes)
    try:
        dev = resolve_device(device)
    except RuntimeError as e:
        raise InputError("--device", device, str(e)) from None
    t0 = time.time()
    if record:
        from kernels import golden as g

        for f in g.record(dev, golden or record, record):
            click.echo(f"recorded {f}", err=True)
    rows = run_verify(cases, shp, dev, seed)
    if golden:
        rows += run_golden(cases, golden)
    if trace:
        rows += run_trace(trace, cases, dev, trace_layers)
    kernels = sorted({c.kernel for c in cases})
    click.echo(f"{label}: {', '.join(kernels)}")
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
