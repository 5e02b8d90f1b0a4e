"""Reference GEMMs the functional kernels are checked against.

device "cuda" (a GPU is present): torch on the GPU —
  - int_partials: `torch._int_mm` (INT8 × INT8 → INT32, exact on tensor cores) per group.
    Its shape rules (M > 16, K and N multiples of 8) are met by zero padding; weight values
    beyond INT8 (decoded grids up to ±384) are split exactly as w = 64·hi + lo, lo ∈ [0, 64).
  - float64 GEMMs (DGEMM) for FP16-activation partials: exact while every partial sum stays
    below 2^53 units (checked by `fits_float64`).
  - float_gemm in float32 (TF32 off), float16 / bfloat16 (FP32 accumulation, reduced-
    precision reductions off, output rounded to the input type), FP8 E4M3 via
    `torch._scaled_mm` (FP32 out).
device "cpu": int64 numpy for integer paths, float64 numpy for floating ones.
Each float reference reports its own error as (rel, out_u): |ref − exact| ≤ rel·Σ|a||w| +
out_u·|ref|, which the checks add to the kernel's bound.
"""

from __future__ import annotations

import numpy as np

from kernels._common import U16, U32, U64, gamma, n_groups

#: Assumed unit roundoff of the FP8 tensor-core accumulation behind torch._scaled_mm on
#: Hopper: DeepSeek-V3 (arXiv 2412.19437 §3.3.2) reports ~14 retained bits; 2^-13 is a
#: deliberately loose assumption, checked on an H100 by the golden recordings.
U_FP8_ACC = 2.0**-13


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def resolve_device(device: str | None) -> str:
    if device in (None, "auto"):
        return "cuda" if cuda_available() else "cpu"
    if device == "cuda" and not cuda_available():
        raise RuntimeError("CUDA requested but torch sees no GPU")
    return device


def _split(x: np.ndarray, gs: int, g: int) -> np.ndarray:
    """[R, K] -> [R, G, gs] zero padded."""
    r, k = x.shape
    pad = g * gs - k
    if pad:
        x = np.concatenate([x, np.zeros((r, pad), x.dtype)], axis=1)
    return x.reshape(r, g, gs)


def _pad_to(t, rows: int, cols: int):
    import torch

    out = torch.zeros((rows, cols), dtype=t.dtype, device=t.device)
    out[: t.shape[0], : t.shape[1]] = t
    return out


def _int_mm_exact(a8, w8):
    """int64 [M, N] of int8 tensors a8 [M, K], w8 [N, K] on the GPU via torch._int_mm."""
    import torch

    m, k = a8.shape
    n = w8.shape[0]
    mp = max(24, -(-m // 8) * 8)
    kp = -(-k // 8) * 8
    np_ = -(-n // 8) * 8
    a = _pad_to(a8, mp, kp)
    w = _pad_to(w8, np_, kp)
    return torch._int_mm(a, w.t()).to(torch.int64)[:m, :n]


def int_partials(a_int, w_int, group_size: int, device: str) -> np.ndarray:
    """Exact int64 [M, N, G] = Σ_{k∈g} a[m, k]·w[n, k] for integer operands (a within
    INT8 on CUDA; w within ±8191)."""
    a_int = np.asarray(a_int, np.int64)
    w_int = np.asarray(w_int, np.int64)
    m, k = a_int.shape
    n = w_int.shape[0]
    gs, g = n_groups(k, group_size)
    ag, wg = _split(a_int, gs, g), _split(w_int, gs, g)
    if device == "cpu":
        return np.einsum("mgk,ngk->mng", ag, wg)
    import torch

    if np.abs(a_int).max(initial=0) > 127 or a_int.min(initial=0) < -128:
        raise ValueError("CUDA int reference needs INT8 activations")
    lo = np.mod(wg, 64)
    hi = (wg - lo) // 64
    if np.abs(hi).max(initial=0) > 127:
        raise ValueError("weights too wide for the INT8 split")
    dev = torch.device("cuda")
    out = np.empty((m, n, g), np.int64)
    for gi in range(g):
        a8 = torch.from_numpy(ag[:, gi].astype(np.int8)).to(dev)
        r = _int_mm_exact(a8, torch.from_numpy(lo[:, gi].astype(np.int8)).to(dev))
        if np.any(hi[:, gi]):
            r = r + 64 * _int_mm_exact(a8, torch.from_numpy(hi[:, gi].astype(np.int8)).to(dev))
        out[:, :, gi] = r.cpu().numpy()
    return out


def fits_float64(a, w, group_size: int, unit_exp: int) -> bool:
    """True when Σ_{k∈g}|a||w| < 2^53 units of 2^unit_exp: a float64 GEMM is then exact."""
    a = np.abs(np.asarray(a, np.float64))
    w = np.abs(np.asarray(w, np.float64))
    gs, g = n_groups(a.shape[1], group_size)
    s = np.einsum("mgk,ngk->mng", _split(a, gs, g), _split(w, gs, g)).max(initial=0)
    return bool(s * 2.0**-unit_exp < 2.0**52)


def float64_partials(a, w, group_size: int, device: str) -> np.ndarray:
    """float64 [M, N, G] group sums (DGEMM on CUDA, numpy on CPU)."""
    a = np.asarray(a, np.float64)
    w = np.asarray(w, np.float64)
    gs, g = n_groups(a.shape[1], group_size)
    ag, wg = _split(a, gs, g), _split(w, gs, g)
    if device == "cpu":
        return np.einsum("mgk,ngk->mng", ag, wg)
    import torch

    dev = torch.device("cuda")
    ta = torch.from_numpy(np.ascontiguousarray(ag.transpose(1, 0, 2))).to(dev)
    tw = torch.from_numpy(np.ascontiguousarray(wg.transpose(1, 2, 0))).to(dev)
    return torch.bmm(ta, tw).cpu().numpy().transpose(1, 2, 0)


def float_gemm(a, w, dtype: str, device: str) -> tuple[np.ndarray, float, float]:
    """(out float64 [M, N], rel, out_u) of a [M, K] @ w[N, K]^T with operands already
    representable in `dtype` (float64|float32|float16|bfloat16|fp8-e4m3)."""
    a = np.asarray(a, np.float64)
    w = np.asarray(w, np.float64)
    k = a.shape[1]
    if device == "cpu":
        return a @ w.T, gamma(k, U64), 0.0
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction = False
    torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = False
    dev = torch.device("cuda")
    if dtype == "fp8-e4m3":
        m, n = a.shape[0], w.shape[0]
        mp, kp, np_ = -(-m // 16) * 16, -(-k // 16) * 16, -(-n // 16) * 16
        ta = _pad_to(torch.from_numpy(a.astype(np.float32)).to(dev), mp, kp)
        tw = _pad_to(torch.from_numpy(w.astype(np.float32)).to(dev), np_, kp)
        ta, tw = ta.to(torch.float8_e4m3fn), tw.to(torch.float8_e4m3fn)  # exact: fp8 values
        one = torch.ones((), dtype=torch.float32, device=dev)
        out = torch._scaled_mm(ta, tw.t(), scale_a=one, scale_b=one, out_dtype=torch.float32)
        return out[:m, :n].double().cpu().numpy(), gamma(k, U_FP8_ACC), U32
    tdt = {
        "float64": torch.float64,
        "float32": torch.float32,
        "float16": torch.float16,
        "bfloat16": torch.bfloat16,
    }[dtype]
    ta = torch.from_numpy(a).to(dev).to(tdt)
    tw = torch.from_numpy(w).to(dev).to(tdt)
    out = (ta @ tw.t()).double().cpu().numpy()
    rel = {
        "float64": gamma(k, U64),
        "float32": gamma(k, U32),
        "float16": gamma(k, U32),
        "bfloat16": gamma(k, U32),
    }[dtype]
    out_u = {"float64": 0.0, "float32": 0.0, "float16": U16, "bfloat16": 2.0**-8}[dtype]
    return out, rel, out_u
