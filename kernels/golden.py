"""Golden data: reference GEMM outputs recorded on a real GPU, stored under
tests/data/golden/ so CI (no GPU) checks every kernel against them.

  python -m kernels.golden inputs            # CPU: make inputs with quant (fixed seeds)
  python -m kernels.golden record --device cuda [--out DIR]   # GPU: add reference outputs
  sim verify --record                        # same as `record` on the current device

One .npz per PE family; keys "<i>.<field>" for case i of kernels.cases.FAMILIES[family]:
its inputs (codes, scales, tables, reference operands), and after recording "<i>.gpu_out"
(float kinds), "<i>.gpu_partials" (integer kinds), "<i>.gpu_rel", "<i>.gpu_out_u", plus
"meta.device" / "meta.torch". Shapes are slices of real layers (SmolLM2-135M: hidden 576,
k/v 192; Llama-2-7B: K slices of 4096).
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

import numpy as np

from kernels.cases import FAMILIES, Case, epilogue64, reference

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "tests" / "data" / "golden"

#: (M, K, N) per family: M tokens; K, N slices of SmolLM2-135M / Llama-2-7B projections.
SHAPES = {
    "systolic_mac": (32, 576, 192),  # SmolLM2 k_proj (576 -> 192), 32 tokens
    "gpu_tensorcore": (16, 576, 192),  # SmolLM2 k_proj, 16 tokens
    "bitserial": (16, 512, 256),  # Llama-2-7B q_proj slice (K 512 of 4096, N 256)
    "lut": (32, 576, 256),  # SmolLM2 q_proj slice (N 256 of 576)
    "mixpe": (64, 576, 192),  # SmolLM2 v_proj, 64 tokens
    "fpga_dsp": (16, 1024, 256),  # Llama-2-7B slice (K 1024 of 4096)
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


def load(family: str, directory: Path = GOLDEN_DIR) -> list[tuple[Case, dict, dict | None]]:
    """[(case, inputs, recorded reference or None)] of one family's golden file."""
    z = np.load(directory / f"{family}.npz", allow_pickle=False)
    out = []
    for i, case in enumerate(FAMILIES[family]):
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


def write_inputs(directory: Path = GOLDEN_DIR) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for fam, cases in FAMILIES.items():
        arrays = {}
        for i, case in enumerate(cases):
            for key, v in _pack(make_inputs(case, SHAPES[fam]), case).items():
                arrays[f"{i}.{key}"] = v
        np.savez_compressed(directory / f"{fam}.npz", **arrays)


def record(device: str, out_dir: Path = GOLDEN_DIR, in_dir: Path = GOLDEN_DIR) -> None:
    """Run the reference GEMMs on `device` over the stored inputs; write complete files."""
    import torch

    out_dir.mkdir(parents=True, exist_ok=True)
    for fam in FAMILIES:
        z = np.load(in_dir / f"{fam}.npz", allow_pickle=False)
        arrays = {k: z[k] for k in z.files if ".gpu_" not in k and not k.startswith("meta.")}
        for i, (case, inp, _) in enumerate(load(fam, in_dir)):
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
        np.savez_compressed(out_dir / f"{fam}.npz", **arrays)
        print(f"recorded {fam} on {name}", flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or args[0] not in ("inputs", "record"):
        sys.exit("usage: python -m kernels.golden inputs | record [--device D] [--out DIR]")
    if args[0] == "inputs":
        write_inputs()
    else:
        dev = args[args.index("--device") + 1] if "--device" in args else "cuda"
        out = Path(args[args.index("--out") + 1]) if "--out" in args else GOLDEN_DIR
        record(dev, out)
