"""Golden data: reference GEMM outputs recorded on a real GPU, stored as small .npz files
(the project keeps them in tests/data/golden/) so CI, which has no GPU, checks every kernel
against them. Every function takes the directory explicitly.

  python -m kernels.golden inputs DIR                  # CPU: inputs with quant (fixed seeds)
  python -m kernels.golden record DIR [--device cuda] [--out OUT]   # GPU: reference outputs
  sim verify --golden DIR --record OUT                 # the same from the CLI

A file holds a few cases: "meta.cases" lists their keys ("kernel|wq|aq", kernels.cases.Case
.key) in order; keys "<i>.<field>" hold case i's inputs (codes, scales, tables, reference
operands) and, once recorded, "<i>.gpu_out" (float kinds), "<i>.gpu_partials" (integer
kinds), "<i>.gpu_rel", "<i>.gpu_out_u", plus "meta.device" / "meta.torch". Shapes are
slices of real layers (SmolLM2-135M: hidden 576, k/v 192; Llama-2-7B: K slices of 4096).
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

import numpy as np

from kernels.cases import Case, epilogue64, harness, reference

#: file stem -> ((M, K, N), cases): M tokens; K, N slices of SmolLM2-135M / Llama-2-7B
#: projections. The stems are the groups the H100 recording was made in.
FILES: dict[str, tuple[tuple[int, int, int], tuple[tuple[str, str, str], ...]]] = {
    "systolic_mac": (
        (32, 576, 192),  # SmolLM2 k_proj (576 -> 192), 32 tokens
        (
            ("kernels.mac:int8_partials", "int8", "int8"),
            ("kernels.decoders:ant_partials", "ant4", "int8"),
            ("kernels.decoders:olive_partials", "olive-int4", "fp16"),
            ("kernels.decoders:olive_partials", "olive-flint4", "int8"),
        ),
    ),
    "gpu_tensorcore": (
        (16, 576, 192),  # SmolLM2 k_proj, 16 tokens
        (
            ("kernels.mac:int8_partials", "int8", "int8"),
            *(("kernels.mac:fp_mac_gemm", f, f) for f in ("fp16", "bf16", "fp8-e4m3", "fp32")),
            *(
                ("kernels.blockscaled:mx_gemm", f, f)
                for f in ("mxfp4", "mxfp6-e2m3", "mxfp8-e4m3", "mxfp8-e5m2", "mxint8")
            ),
            ("kernels.blockscaled:nvfp4_gemm", "nvfp4", "nvfp4"),
        ),
    ),
    "bitserial": (
        (16, 512, 256),  # Llama-2-7B q_proj slice (K 512 of 4096, N 256)
        (
            ("kernels.bitserial:stripes_partials", "int4-g128", "int8"),
            ("kernels.bitserial:stripes_partials", "int8", "int8"),
            ("kernels.bitserial:bitmod_partials", "bitmod-fp3-g128", "fp16"),
            ("kernels.bitserial:bitmod_partials", "bitmod-fp4-g128", "fp16"),
            ("kernels.bitserial:bitmod_partials", "bitmod-int6-g128", "fp16"),
            ("kernels.bitserial:bitmod_partials", "int8-g128", "fp16"),
        ),
    ),
    "lut": (
        (32, 576, 256),  # SmolLM2 q_proj slice (N 256 of 576)
        tuple(
            ("kernels.lut:lut_gemm", w, "fp16")
            for w in ("int4-g128-asym", "int2-g128", "int3-g128")
        ),
    ),
    "mixpe": (
        (64, 576, 192),  # SmolLM2 v_proj, 64 tokens
        (
            ("kernels.mixpe:mixpe_partials", "int4-g128", "int8"),
            ("kernels.mixpe:mixpe_partials", "int4-g128-asym", "fp16"),
            ("kernels.mixpe:mixpe_partials", "int4-g128-asym", "int8"),
        ),
    ),
    "fpga_dsp": (
        (16, 1024, 256),  # Llama-2-7B slice (K 1024 of 4096)
        (
            ("kernels.fpga_dsp:dsp_int8_partials", "int8", "int8"),
            ("kernels.fpga_dsp:dsp_int4_partials", "int4-g128", "int4"),
        ),
    ),
}


def seed_of(case: Case, shape) -> int:
    """Fixed seed from the case key and shape (stable across runs and machines)."""
    return zlib.crc32(f"{case.key}|{shape}".encode())


def make_inputs(case: Case, shape) -> dict:
    m, k, n = shape
    return case.make(np.random.default_rng(seed_of(case, shape)), m, k, n)


_DERIVED = ("ref_a", "ref_w")


def _pack(inp: dict, case: Case) -> dict:
    """Drop arrays that are recomputable from the stored codes (kept small on disk)."""
    out = {}
    for key, v in inp.items():
        v = np.asarray(v)
        if case.kind in ("mx", "nvfp4") and key in _DERIVED:
            continue
        if key == "ref_w" and "w_codes" in inp and np.array_equal(v, inp["w_codes"]):
            continue
        if key == "ref_w":
            v = v.astype(np.int16)
        if (
            case.kind.startswith("float:")
            and v.dtype == np.float32
            and np.array_equal(v.astype(np.float16).astype(np.float32), v)
        ):
            v = v.astype(np.float16)  # fp16 / fp8 values: exact in binary16
        out[key] = v
    return out


def unpack(inp: dict, case: Case) -> dict:
    """Inverse of _pack: rebuild reference operands from codes (numpy table lookups)."""
    d = dict(inp)
    if case.kind in ("int", "lut") and "ref_w" not in d:
        d["ref_w"] = d["w_codes"].astype(np.int32)
    if "ref_w" in d and d["ref_w"].dtype == np.int16:
        d["ref_w"] = d["ref_w"].astype(np.int32)
    if case.kind.startswith("float:"):
        d["ref_a"] = d["ref_a"].astype(np.float32)
        d["ref_w"] = d["ref_w"].astype(np.float32)
    if case.kind == "mx":
        for side in ("a", "w"):
            tab = d["table"]
            v = tab[d[f"{side}_codes"].astype(np.int64) & (tab.size - 1)]
            sc = np.ldexp(1.0, d[f"{side}_sc"].astype(np.int64) - 127)
            d[f"ref_{side}"] = v * np.repeat(sc, 32, axis=1)[:, : v.shape[1]]
    if case.kind == "nvfp4":
        for side in ("a", "w"):
            v = d["fp4_table"][d[f"{side}_codes"].astype(np.int64) & 15]
            sc = d["ue4m3_table"][d[f"{side}_sc"].astype(np.int64) & 255]
            d[f"ref_{side}"] = v * np.repeat(sc, 16, axis=1)[:, : v.shape[1]]
    return d


def case_keys(path: Path) -> list[str]:
    """Keys of the cases stored in one golden file, in order."""
    with np.load(path, allow_pickle=False) as z:
        return [str(k) for k in z["meta.cases"]]


def load(path: Path) -> list[tuple[Case, dict, dict | None]]:
    """[(case, inputs, recorded reference or None)] of one golden file."""
    z = np.load(path, allow_pickle=False)
    out = []
    for i, key in enumerate(str(k) for k in z["meta.cases"]):
        case = harness(*key.split("|"))
        pre = f"{i}."
        fields = {k[len(pre) :]: z[k] for k in z.files if k.startswith(pre)}
        ref = None
        if "gpu_rel" in fields:
            ref = {"rel": float(fields.pop("gpu_rel")), "out_u": float(fields.pop("gpu_out_u"))}
            if "gpu_partials" in fields:
                ref["partials"] = fields.pop("gpu_partials").astype(np.int64)
            if "gpu_out" in fields:
                ref["out"] = fields.pop("gpu_out").astype(np.float64)
        inp = unpack(fields, case)
        if ref is not None and "out" not in ref:  # integer kinds: float64 epilogue on CPU
            ref["out"] = epilogue64(ref["partials"], inp["pexp"], inp)
        out.append((case, inp, ref))
    return out


def load_all(directory: Path) -> dict[str, tuple[Case, dict, dict | None]]:
    """Case key -> (case, inputs, recorded reference or None) over every file in `directory`."""
    out: dict[str, tuple[Case, dict, dict | None]] = {}
    for path in sorted(Path(directory).glob("*.npz")):
        for case, inp, ref in load(path):
            out.setdefault(case.key, (case, inp, ref))
    return out


def write_inputs(directory: Path) -> None:
    """Make the inputs of every file of FILES (no reference outputs) in `directory`."""
    from common.files import write_atomic

    directory = Path(directory)
    for stem, (shape, cases) in FILES.items():
        arrays = {"meta.cases": np.array(["|".join(c) for c in cases])}
        for i, c in enumerate(cases):
            case = harness(*c)
            for key, v in _pack(make_inputs(case, shape), case).items():
                arrays[f"{i}.{key}"] = v
        write_atomic(directory / f"{stem}.npz", lambda f, a=arrays: _save(f, a))


def record(device: str, in_dir: Path, out_dir: Path) -> list[str]:
    """Run the reference GEMMs on `device` over the inputs stored in `in_dir`; write the
    complete files (inputs + outputs) to `out_dir`. Returns the files written."""
    import torch

    from common.files import write_atomic

    written = []
    for path in sorted(Path(in_dir).glob("*.npz")):
        z = np.load(path, allow_pickle=False)
        arrays = {k: z[k] for k in z.files if ".gpu_" not in k and k not in _META_OUT}
        for i, (case, inp, _) in enumerate(load(path)):
            ref = reference(case, inp, device)
            arrays[f"{i}.gpu_rel"] = np.float64(ref["rel"])
            arrays[f"{i}.gpu_out_u"] = np.float64(ref["out_u"])
            if ref.get("partials") is not None:  # out = float64 epilogue, rebuilt on load
                p = ref["partials"]
                small = np.abs(p).max(initial=0) < 2**31
                arrays[f"{i}.gpu_partials"] = p.astype(np.int32) if small else p
            else:
                o = np.asarray(ref["out"], np.float64)
                o32 = o.astype(np.float32)
                arrays[f"{i}.gpu_out"] = o32 if np.array_equal(o32, o) else o
        name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
        arrays["meta.device"] = np.array(name)
        arrays["meta.torch"] = np.array(torch.__version__)
        target = Path(out_dir) / path.name
        write_atomic(target, lambda f, a=arrays: _save(f, a))
        written.append(str(target))
    return written


_META_OUT = ("meta.device", "meta.torch")


def _save(path: Path, arrays: dict) -> None:
    with open(path, "wb") as f:  # a file object: savez would append ".npz" to a name
        np.savez_compressed(f, **arrays)


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) < 2 or args[0] not in ("inputs", "record"):
        sys.exit("usage: python -m kernels.golden inputs DIR | record DIR [--device D] [--out OUT]")
    if args[0] == "inputs":
        write_inputs(Path(args[1]))
    else:
        dev = args[args.index("--device") + 1] if "--device" in args else "cuda"
        out = Path(args[args.index("--out") + 1]) if "--out" in args else Path(args[1])
        for f in record(dev, Path(args[1]), out):
            print(f"recorded {f}", flush=True)
