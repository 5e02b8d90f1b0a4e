"""Verification cases: how each functional kernel is run on which formats, and how its
result is checked against the reference GEMMs (used by `sim verify`, kernels/golden.py
and the tests). Which kernels a PE datapath runs is declared by the PE family itself
(`verification()` in arch/<family>.py, a tuple of kernels.spec.VerifySpec); `harness`
turns one (kernel, weight format, activation format) into a Case.

A case makes its inputs (codes + scales from `quant.quantize`, fixed seeds), runs the
kernel, and checks:
- kind "int" (integer datapaths, and FP16-activation datapaths whose aligned accumulator is
  exact): the group partials must be bit-identical to the reference integer GEMM
  (torch._int_mm / int64; float64 DGEMM for FP16 activations, exact there), and the FP32
  output within γ32(G + 3)·S of the float64 dequantization of the reference partials;
- kind "lut": FP16-accumulating output within kernels.lut.lut_bound;
- kind "float:<dtype>": FP32-accumulating MAC within γ32(K + 1)·S plus the reference's own
  error (fp16/bf16/fp32 GEMM, FP8 torch._scaled_mm);
- kinds "mx" / "nvfp4": block-scaled GEMM within its bound (kernels.blockscaled).
S = Σ_k |a_k|·|w_k| over dequantized operands. Inputs are plain dicts of numpy arrays so
they can be stored in golden .npz files.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from kernels import bitfusion, bitserial, blockscaled, decoders, fpga_dsp, lut, mac, mixpe
from kernels._common import U32, dequant_rounds, gamma, n_groups, table_ints
from kernels.reference import (
    fits_float64,
    float64_partials,
    float_gemm,
    int_partials,
)


@dataclass(frozen=True)
class Case:
    """One check: `make(rng, m, k, n)` builds the inputs (a dict of numpy arrays),
    `run(inputs)` calls the kernel; `kind` says how the result is compared (module
    docstring). Identified by (kernel, wq, aq)."""

    kernel: str  # "module:function" of the functional kernel
    wq: str
    aq: str
    kind: str
    make: Callable[[np.random.Generator, int, int, int], dict]
    run: Callable[[dict], dict]

    @property
    def key(self) -> str:
        return f"{self.kernel}|{self.wq}|{self.aq}"

    @property
    def fmt(self) -> str:
        if self.kind == "int" or self.kind == "lut":
            return f"W {self.wq} / A {self.aq}"
        return f"{self.wq} x {self.aq}"

    @property
    def kernel_name(self) -> str:
        """Short display name: "decoders.ant_partials"."""
        module, func = self.kernel.split(":")
        return f"{module.removeprefix('kernels.')}.{func}"


# ------------------------------------------------------------------ input generation


def _activations(rng, m, k) -> np.ndarray:
    """LLM-like activations: normal, a few large channels (outliers), float32."""
    x = rng.standard_normal((m, k)).astype(np.float32)
    ch = rng.choice(k, size=max(1, k // 64), replace=False)
    x[:, ch] *= 8.0
    return x


def _weights(rng, n, k) -> np.ndarray:
    return (rng.standard_normal((n, k)) * 0.02).astype(np.float32)


def _a_int(rng, m, k, name="int8"):
    """Per-token INT activations (`int8` / `int4`): codes int8 [M, K], scales [M]."""
    import quant

    q = quant.quantize(_activations(rng, m, k), name)
    return q.codes.astype(np.int8), q.scales.reshape(m).astype(np.float32)


def _a16(rng, m, k):
    return _activations(rng, m, k).astype(np.float16)


def _grid(q) -> tuple[np.ndarray, int]:
    """Reference integer-grid weight values (quant's own decoder) and their unit exponent."""
    v = q.element_values().astype(np.float64)
    ints, lsb = table_ints(v.ravel())
    return ints.reshape(v.shape).astype(np.int32), lsb


def _int_inputs(q, a, a_scale, pexp_a, w_scales=None) -> dict:
    w, lsb = _grid(q)
    n, k = w.shape
    gs, g = n_groups(k, q.block_size)
    d = {
        "ref_a": a,
        "ref_w": w,
        "pexp": np.int64(pexp_a + lsb),
        "gs": np.int64(q.block_size),
        "w_scales": np.broadcast_to(q.scales if w_scales is None else w_scales, (n, g))
        .astype(np.float32)
        .copy(),
    }
    if q.zeros is not None:
        d["w_zeros"] = np.broadcast_to(q.zeros.astype(np.int64), (n, g)).copy()
    if a_scale is not None:
        d["a_scale"] = a_scale
    return d


def _wq(name):
    def f(rng, n, k):
        import quant

        return quant.quantize(_weights(rng, n, k), name)

    return f


# ------------------------------------------------------------------ case builders


def _mk_int(wname, act, extra=None):
    """Integer-kind inputs: weights `wname`, activations `act`: per-token INT codes
    ("int8", "int4") or "fp16"."""

    def make(rng, m, k, n):
        q = _wq(wname)(rng, n, k)
        if act == "fp16":
            a = _a16(rng, m, k)
            d = _int_inputs(q, a, None, -24)
        else:
            a, s = _a_int(rng, m, k, act)
            d = _int_inputs(q, a, s, 0)
        d["w_codes"] = q.codes
        if extra:
            d.update(extra(q))
        return d

    return make


def int_inputs(wq: str, aq: str):
    """Input builder `make(rng, m, k, n)` of an integer-partials check (for harnesses outside
    kernels/): weights `wq` codes + scales, activations `aq` ("int8"/"int4" codes with
    per-token scales, or "fp16")."""
    return _mk_int(wq, aq)


def dequantized_result(part, pexp: int, inp: dict) -> dict:
    """A kernel result from exact partials: {"partials", "pexp", "out"} with `out` the FP32
    per-group dequantization (kernels._common.dequant_core) the checks compare."""
    return _deq_run(part, pexp, inp, _act_fixed(inp) if "w_zeros" in inp else None)


def _types_tables(q) -> dict:
    return {
        "tables": np.stack([f.table for f in q.formats]),
        "types": np.asarray(q.types, np.int64),
    }


def _ant_table(q) -> dict:
    t = 0 if q.types is None else int(np.asarray(q.types).ravel()[0])
    return {"table": q.formats[t].table}


def _olive_tables(q) -> dict:
    return {"normal_table": q.formats[0].table, "outlier_table": q.formats[1].table}


def _res(part, pexp, inp, out):
    return {"partials": part, "pexp": pexp, "out": out}


def _deq_run(part, pexp, inp, a_int):
    from kernels._common import dequantize_partials

    out = dequantize_partials(
        part,
        pexp,
        inp["w_scales"],
        inp.get("w_zeros"),
        a_int,
        n_groups(inp["ref_a"].shape[1], int(inp["gs"]))[0],
        inp.get("a_scale"),
    )
    return _res(part, pexp, inp, out)


def _act_fixed(inp):
    from kernels._common import activations_fixed

    return activations_fixed(inp["ref_a"])[0]


def _run_stripes(bits):
    def run(inp):
        part = bitserial.stripes_partials(inp["ref_a"], inp["w_codes"], bits, int(inp["gs"]))
        return _deq_run(part, 0, inp, None)

    return run


def _run_bitmod(int_bits=0):
    def run(inp):
        part, pexp = bitserial.bitmod_partials(
            inp["ref_a"],
            inp["w_codes"],
            inp.get("tables"),
            inp.get("types"),
            group_size=int(inp["gs"]),
            int_bits=int_bits,
        )
        return _deq_run(part, pexp, inp, None)

    return run


def _run_mixpe(bits):
    def run(inp):
        part, pexp = mixpe.mixpe_partials(
            inp["ref_a"], inp["w_codes"], bits=bits, group_size=int(inp["gs"])
        )
        return _deq_run(part, pexp, inp, _act_fixed(inp))

    return run


def _run_ant(inp):
    part, pexp = decoders.ant_partials(
        inp["ref_a"], inp["w_codes"], inp["table"], group_size=int(inp["gs"])
    )
    return _deq_run(part, pexp, inp, None)


def _run_olive(inp):
    part, pexp = decoders.olive_partials(
        inp["ref_a"],
        inp["w_codes"],
        inp["normal_table"],
        inp["outlier_table"],
        group_size=int(inp["gs"]),
    )
    return _deq_run(part, pexp, inp, None)


def _run_int8(inp):
    return _deq_run(mac.int8_partials(inp["ref_a"], inp["w_codes"], int(inp["gs"])), 0, inp, None)


def _run_dsp(bits):
    def run(inp):
        f = fpga_dsp.dsp_int8_partials if bits == 8 else fpga_dsp.dsp_int4_partials
        return _deq_run(f(inp["ref_a"], inp["w_codes"], int(inp["gs"])), 0, inp, None)

    return run


def _run_bitfusion(a_bits, w_bits):
    def run(inp):
        part = bitfusion.bitfusion_partials(
            inp["ref_a"], inp["w_codes"], a_bits=a_bits, w_bits=w_bits, group_size=int(inp["gs"])
        )
        return _deq_run(part, 0, inp, inp["ref_a"].astype(np.int64))

    return run


def _mk_lut(wname, bits):
    def make(rng, m, k, n):
        d = _mk_int(wname, "fp16")(rng, m, k, n)
        d["bits"] = np.int64(bits)
        return d

    return make


def _run_lut(inp):
    out = lut.lut_gemm(
        inp["ref_a"],
        inp["w_codes"],
        inp["w_scales"],
        inp.get("w_zeros"),
        bits=int(inp["bits"]),
        group_size=int(inp["gs"]),
    )
    return {"out": out}


def _mk_float(fmt):
    def make(rng, m, k, n):
        import ml_dtypes

        x, w = _activations(rng, m, k), _weights(rng, n, k) * 50
        if fmt == "fp8-e4m3":
            cast = lambda v: v.astype(ml_dtypes.float8_e4m3fn).astype(np.float32)  # noqa: E731
        elif fmt == "bf16":
            cast = lambda v: v.astype(ml_dtypes.bfloat16).astype(np.float32)  # noqa: E731
        elif fmt == "fp16":
            cast = lambda v: v.astype(np.float16).astype(np.float32)  # noqa: E731
        else:
            cast = lambda v: v.astype(np.float32)  # noqa: E731
        return {"ref_a": cast(x), "ref_w": cast(w)}

    return make


def _run_float(inp):
    return {"out": mac.fp_mac_gemm(inp["ref_a"], inp["ref_w"])}


def _mk_mx(name):
    def make(rng, m, k, n):
        import quant

        qa = quant.quantize(_activations(rng, m, k), name)
        qw = quant.quantize(_weights(rng, n, k), name)
        div = 64.0 if name == "mxint8" else 1.0
        tab = qa.formats[0].table / div
        return {
            "a_codes": qa.codes,
            "a_sc": qa.scale_codes.astype(np.uint8),
            "w_codes": qw.codes,
            "w_sc": qw.scale_codes.astype(np.uint8),
            "table": tab,
            "ref_a": qa.dequantize().astype(np.float64),
            "ref_w": qw.dequantize().astype(np.float64),
        }

    return make


def _run_mx(inp):
    return {
        "out": blockscaled.mx_gemm(
            inp["a_codes"], inp["a_sc"], inp["table"], inp["w_codes"], inp["w_sc"], inp["table"]
        )
    }


def _mk_nvfp4(rng, m, k, n):
    import quant

    qa = quant.quantize(_activations(rng, m, k), "nvfp4")
    qw = quant.quantize(_weights(rng, n, k), "nvfp4")

    def unscaled(q):  # element × block scale (exact in float64), tensor scale left out
        v = q.element_values().astype(np.float64)
        return v * np.repeat(q.scales.astype(np.float64), 16, axis=-1)[:, : v.shape[1]]

    return {
        "a_codes": qa.codes,
        "a_sc": qa.scale_codes.astype(np.uint8),
        "a_ts": np.float32(qa.tensor_scale),
        "w_codes": qw.codes,
        "w_sc": qw.scale_codes.astype(np.uint8),
        "w_ts": np.float32(qw.tensor_scale),
        "fp4_table": qa.formats[0].table,
        "ue4m3_table": __import__("quant").element_format("fp8-e4m3").table,
        "ref_a": unscaled(qa),
        "ref_w": unscaled(qw),
        "post": np.float64(qa.tensor_scale) * np.float64(qw.tensor_scale),
    }


def _run_nvfp4(inp):
    return {
        "out": blockscaled.nvfp4_gemm(
            inp["a_codes"],
            inp["a_sc"],
            inp["a_ts"],
            inp["w_codes"],
            inp["w_sc"],
            inp["w_ts"],
            inp["fp4_table"],
            inp["ue4m3_table"],
        )
    }


_FLOAT_DTYPE = {"fp16": "float16", "bf16": "bfloat16", "fp8-e4m3": "fp8-e4m3", "fp32": "float32"}


def _bits(name: str) -> int:
    from quant.info import format_info

    return format_info(name).element_bits


def _int_case(make_extra=None, run=None):
    """Harness entry of an integer-partials kernel: run(wq, aq) -> runner."""

    def build(kernel, wq, aq):
        return Case(kernel, wq, aq, "int", _mk_int(wq, aq, make_extra), run(wq, aq))

    return build


def _bitmod_case(kernel, wq, aq):
    fp = wq.startswith("bitmod-fp")
    extra = _types_tables if fp else None
    return Case(kernel, wq, aq, "int", _mk_int(wq, aq, extra), _run_bitmod(0 if fp else _bits(wq)))


def _float_case(kernel, wq, aq):
    if wq != aq or wq not in _FLOAT_DTYPE:
        raise ValueError(f"{kernel}: operands of one format in {sorted(_FLOAT_DTYPE)}")
    return Case(kernel, wq, aq, f"float:{_FLOAT_DTYPE[wq]}", _mk_float(wq), _run_float)


def _lut_case(kernel, wq, aq):
    return Case(kernel, wq, aq, "lut", _mk_lut(wq, _bits(wq)), _run_lut)


def _mx_case(kernel, wq, aq):
    return Case(kernel, wq, aq, "mx", _mk_mx(wq), _run_mx)


def _nvfp4_case(kernel, wq, aq):
    return Case(kernel, wq, aq, "nvfp4", _mk_nvfp4, _run_nvfp4)


#: Calling convention of each kernel under kernels/ (kernel -> Case builder). This is a
#: table of kernels, not of PE families: families pick kernels in their verification().
_HARNESS = {
    "kernels.mac:int8_partials": _int_case(run=lambda w, a: _run_int8),
    "kernels.mac:fp_mac_gemm": _float_case,
    "kernels.bitserial:stripes_partials": _int_case(run=lambda w, a: _run_stripes(_bits(w))),
    "kernels.bitserial:bitmod_partials": _bitmod_case,
    "kernels.lut:lut_gemm": _lut_case,
    "kernels.mixpe:mixpe_partials": _int_case(run=lambda w, a: _run_mixpe(_bits(w))),
    "kernels.bitfusion:bitfusion_partials": _int_case(
        run=lambda w, a: _run_bitfusion(_bits(a), _bits(w))
    ),
    "kernels.decoders:ant_partials": _int_case(_ant_table, lambda w, a: _run_ant),
    "kernels.decoders:olive_partials": _int_case(_olive_tables, lambda w, a: _run_olive),
    "kernels.fpga_dsp:dsp_int8_partials": _int_case(run=lambda w, a: _run_dsp(8)),
    "kernels.fpga_dsp:dsp_int4_partials": _int_case(run=lambda w, a: _run_dsp(4)),
    "kernels.blockscaled:mx_gemm": _mx_case,
    "kernels.blockscaled:nvfp4_gemm": _nvfp4_case,
}


def harness(kernel: str, wq: str, aq: str) -> Case:
    """The Case that runs `kernel` ("module:function" under kernels/) on weights `wq` and
    activations `aq`."""
    if kernel not in _HARNESS:
        raise KeyError(f"{kernel}: no harness in kernels.cases (known: {', '.join(_HARNESS)})")
    return _HARNESS[kernel](kernel, wq, aq)


def _import(ref: str):
    module, name = ref.split(":")
    return getattr(importlib.import_module(module), name)


def cases_of(specs: Iterable) -> list[Case]:
    """Cases of kernels.spec.VerifySpec declarations (each spec's own harness), deduplicated
    in order."""
    out: dict[str, Case] = {}
    for spec in specs:
        build = _import(spec.harness)
        for wq, aq in spec.formats:
            case = build(spec.kernel, wq, aq)
            out.setdefault(case.key, case)
    return list(out.values())


def trace_case(kernel: str, wq: str, aq: str, bits: int, symmetric: bool) -> Case | None:
    """The Case running `kernel` on a trace's INT-coded weights (`wq`: `bits` bits,
    symmetric or not) and activations (`aq`: per-token INT8 codes, else fed as FP16); None
    when the kernel's datapath cannot take them."""
    int8 = aq == "int8"
    act = {
        "kernels.mac:int8_partials": "int8" if bits == 8 and symmetric and int8 else None,
        "kernels.fpga_dsp:dsp_int8_partials": "int8" if bits == 8 and symmetric and int8 else None,
        "kernels.bitserial:stripes_partials": "int8" if symmetric and int8 else None,
        "kernels.bitserial:bitmod_partials": "fp16" if symmetric and bits in (6, 8) else None,
        "kernels.lut:lut_gemm": "fp16",
        "kernels.mixpe:mixpe_partials": "int8" if int8 else "fp16",
        "kernels.bitfusion:bitfusion_partials": "int8" if int8 else None,
    }.get(kernel)
    return None if act is None else harness(kernel, wq, act)


#: Every (kernel, weights, activations) case of kernels/ (`sim verify --family all`, golden
#: files): each kernel on the formats of the datapaths that use it.
CATALOGUE: tuple[tuple[str, str, str], ...] = (
    ("kernels.mac:int8_partials", "int8", "int8"),
    *(("kernels.mac:fp_mac_gemm", f, f) for f in _FLOAT_DTYPE),
    *(
        ("kernels.blockscaled:mx_gemm", f, f)
        for f in ("mxfp4", "mxfp6-e2m3", "mxfp8-e4m3", "mxfp8-e5m2", "mxint8")
    ),
    ("kernels.blockscaled:nvfp4_gemm", "nvfp4", "nvfp4"),
    ("kernels.bitserial:stripes_partials", "int4-g128", "int8"),
    ("kernels.bitserial:stripes_partials", "int8", "int8"),
    ("kernels.bitserial:bitmod_partials", "bitmod-fp3-g128", "fp16"),
    ("kernels.bitserial:bitmod_partials", "bitmod-fp4-g128", "fp16"),
    ("kernels.bitserial:bitmod_partials", "bitmod-int6-g128", "fp16"),
    ("kernels.bitserial:bitmod_partials", "int8-g128", "fp16"),
    ("kernels.lut:lut_gemm", "int4-g128-asym", "fp16"),
    ("kernels.lut:lut_gemm", "int2-g128", "fp16"),
    ("kernels.lut:lut_gemm", "int3-g128", "fp16"),
    ("kernels.mixpe:mixpe_partials", "int4-g128", "int8"),
    ("kernels.mixpe:mixpe_partials", "int4-g128-asym", "fp16"),
    ("kernels.mixpe:mixpe_partials", "int4-g128-asym", "int8"),
    ("kernels.mixpe:mixpe_partials", "int4-g128", "fp16"),
    ("kernels.bitfusion:bitfusion_partials", "int4", "int8"),
    ("kernels.bitfusion:bitfusion_partials", "int2", "int8"),
    ("kernels.bitfusion:bitfusion_partials", "int8", "int8"),
    ("kernels.bitfusion:bitfusion_partials", "int4", "int4"),
    ("kernels.decoders:ant_partials", "ant4", "int8"),
    ("kernels.decoders:ant_partials", "ant4", "fp16"),
    ("kernels.decoders:ant_partials", "ant-flint4", "fp16"),
    ("kernels.decoders:ant_partials", "ant-pot4", "fp16"),
    ("kernels.decoders:ant_partials", "ant-int4", "fp16"),
    ("kernels.decoders:olive_partials", "olive-int4", "fp16"),
    ("kernels.decoders:olive_partials", "olive-flint4", "int8"),
    ("kernels.decoders:olive_partials", "olive-flint4", "fp16"),
    ("kernels.fpga_dsp:dsp_int8_partials", "int8", "int8"),
    ("kernels.fpga_dsp:dsp_int8_partials", "int4-g128", "int8"),
    ("kernels.fpga_dsp:dsp_int4_partials", "int4-g128", "int4"),
)
CASES: list[Case] = [harness(*c) for c in CATALOGUE]


# ------------------------------------------------------------------ reference + checks


def epilogue64(part, pexp, inp) -> np.ndarray:
    """float64 dequantization of exact partials (reference side)."""
    m, n, g = part.shape
    x = part.astype(np.float64)
    if "w_zeros" in inp:
        from kernels._common import group_sums

        gs, _ = n_groups(inp["ref_a"].shape[1], int(inp["gs"]))
        a_int = _act_fixed(inp)
        asum = group_sums(a_int, gs, g).astype(np.float64)
        x = x - inp["w_zeros"].astype(np.float64)[None, :, :] * asum[:, None, :]
    out = np.einsum("mng,ng->mn", x, inp["w_scales"].astype(np.float64)) * 2.0 ** int(inp["pexp"])
    if "a_scale" in inp:
        out = out * inp["a_scale"].astype(np.float64)[:, None]
    return out


def dequantized(inp, kind) -> tuple[np.ndarray, np.ndarray]:
    """Dequantized float64 operands (A [M, K], W [N, K]) for S = |A|·|W|^T."""
    if kind in ("int", "lut"):
        a = inp["ref_a"].astype(np.float64)
        if "a_scale" in inp:
            a = a * inp["a_scale"].astype(np.float64)[:, None]
        w = inp["ref_w"].astype(np.float64) * 2.0 ** int(inp["pexp"])
        if a.dtype and inp["ref_a"].dtype == np.float16:
            w = w * 2.0**24
        gs, g = n_groups(w.shape[1], int(inp["gs"]))
        col = np.minimum(np.arange(w.shape[1]) // gs, g - 1)
        if "w_zeros" in inp:
            w = w - inp["w_zeros"].astype(np.float64)[:, col] * 2.0 ** int(inp["pexp"]) * (
                2.0**24 if inp["ref_a"].dtype == np.float16 else 1.0
            )
        return a, w * inp["w_scales"].astype(np.float64)[:, col]
    post = float(inp.get("post", 1.0))
    return inp["ref_a"].astype(np.float64), inp["ref_w"].astype(np.float64) * post


def reference(case: Case, inp: dict, device: str) -> dict:
    """Reference result: {"out" float64, "partials" int64 (int kinds), "rel", "out_u"}."""
    if case.kind in ("int", "lut"):
        a, w, gs = inp["ref_a"], inp["ref_w"], int(inp["gs"])
        if a.dtype == np.float16:
            a64 = a.astype(np.float64)
            if not fits_float64(a64 * 2.0**24, w, gs, 0):
                raise ValueError("partials too wide for an exact float64 reference")
            pf = float64_partials(a64, w.astype(np.float64), gs, device) * 2.0**24
            part = np.rint(pf).astype(np.int64)
            assert np.array_equal(part.astype(np.float64), pf)
        else:
            part = int_partials(a, w, gs, device)
        return {
            "partials": part,
            "out": epilogue64(part, inp["pexp"], inp),
            "rel": 1e-13,
            "out_u": 0.0,
        }
    if case.kind.startswith("float:"):
        out, rel, out_u = float_gemm(inp["ref_a"], inp["ref_w"], case.kind[6:], device)
        return {"out": out, "rel": rel, "out_u": out_u}
    out, rel, out_u = float_gemm(inp["ref_a"], inp["ref_w"], "float32", device)
    post = float(inp.get("post", 1.0))
    return {"out": out * post, "rel": rel + 1e-13, "out_u": out_u}


def kernel_bound(case: Case, inp: dict, s: np.ndarray) -> np.ndarray:
    """Elementwise bound on |kernel out − exact| given S = |A|·|W|^T."""
    k = inp["ref_a"].shape[1]
    if case.kind == "int":
        _, g = n_groups(k, int(inp["gs"]))
        return s * gamma(dequant_rounds(g), U32)
    if case.kind == "lut":
        return lut.lut_bound(
            inp["ref_a"],
            inp["w_codes"],
            inp["w_scales"],
            inp.get("w_zeros"),
            bits=int(inp["bits"]),
            group_size=int(inp["gs"]),
        )
    if case.kind.startswith("float:"):
        return s * gamma(k + 1, U32)
    if case.kind == "mx":
        return blockscaled.mx_bound(inp["ref_a"], inp["ref_w"], inp["table"], inp["table"])
    return s * gamma(-(-k // blockscaled.NVFP4_BLOCK) + 3, U32)


@dataclass
class Row:
    kernel: str
    shape: str
    fmt: str
    what: str
    max_abs: float
    max_rel: float
    exact: bool
    bound: str
    ok: bool


def check(case: Case, inp: dict, res: dict, ref: dict, shape: str) -> list[Row]:
    """Compare one kernel result with its reference (see module docstring)."""
    rows = []
    if "partials" in res and ref.get("partials") is not None:
        p, r = res["partials"], ref["partials"]
        same = p.shape == r.shape and np.array_equal(p, r)
        err = float(np.abs(p - r).max()) if p.shape == r.shape else float("inf")
        rows.append(
            Row(
                case.kernel_name,
                shape,
                case.fmt,
                "partials",
                err,
                err / max(1.0, float(np.abs(r).max())),
                same,
                "exact",
                same,
            )
        )
    a, w = dequantized(inp, case.kind)
    s = np.abs(a) @ np.abs(w).T
    out, rout = res["out"].astype(np.float64), ref["out"]
    bound = (kernel_bound(case, inp, s) + ref["rel"] * s + ref["out_u"] * np.abs(rout)) * (
        1 + 1e-9
    ) + 1e-300
    err = np.abs(out - rout)
    ok = bool(np.all(np.isfinite(out)) and np.all(err <= bound))
    scale = np.maximum(np.abs(rout), 1e-30)
    rows.append(
        Row(
            case.kernel_name,
            shape,
            case.fmt,
            "out",
            float(err.max()),
            float((err / scale).max()),
            bool(np.array_equal(out, rout)),
            f"{float(bound.max()):.3g}",
            ok,
        )
    )
    return rows
