"""GPU side of `h100_layers.py`: whole decoder layers and weight-only int4 GEMMs on an H100.

Run through `python3 benchmarks/fidelity/h100_layers.py --measure --out DIR` on the GPU
machine (this module imports torch; the comparison side of h100_layers.py does not).

Layers (fp16, random weights scaled 1/sqrt(fan-in), one layer = the kernels below):
  llama-like: attn_norm (F.rms_norm) · qkv_proj (one fused F.linear, bias if the model has
  one) · rotary (NeoX halves convention on q and k together, in place: flip + mul_ +
  addcmul_, 3 kernels) · kv_write (new K/V into the cache, one copy) · attention
  (F.scaled_dot_product_attention, default backend choice, GQA through enable_gqa; prefill
  causal on the fresh K/V, decode the new token against the cache) · o_proj ·
  attn_residual (add) · mlp_norm · gate_up_proj (one fused F.linear) · act (F.silu) ·
  gate_mul (mul) · down_proj · mlp_residual (add).
  OPT: LayerNorm for the norms, no rotary, fc1 (bias) · act (relu) · fc2 (bias).
Decode: batch B x KV length L (the new token's K/V written at position L-1, attention over
L keys). Prefill: batch 1 x S tokens.

Timing: C = 3 independent copies of the layer (weights >= 400 MB and a KV cache each, so
nothing stays in the 50 MB L2 between uses), chained x -> layer(copy 0) -> layer(copy 1)
... for P = 4 passes = 12 layer calls, captured as one CUDA graph; time per layer =
(time of R = 3 back-to-back replays between CUDA events) / (R x 12), median of 5 such
measurements (min and max kept). Each step alone is timed the same way (a graph of that
step over the same 12 copy-calls, inputs left by an eager run of the layer), and one eager
pass of each step runs under torch.profiler to list its kernels (names, durations).

int4: `torch.ops.aten._weight_int4pack_mm` (bf16 activations, int4 weights packed by
`_convert_weight_to_int4pack`, innerKTiles 8, group 128, bf16 scale and zero per group),
`torch._weight_int8pack_mm` (per-channel int8 weights) where the build has it on CUDA, and
fp16/bf16 F.linear for reference, at M in INT4_M over INT4_SHAPES. Weights rotate over
n = clamp(ceil(256 MB / weight bytes), 2, 48) copies; a graph of n calls per replay
(int8pack_mm: 2 copies and M <= 64 only; it runs at ~100x the HBM time, see the data).
Per config the attention step is also timed with SDPA forced to FlashAttention-2
(`attention_flash`; the default dispatch of this build picks cuDNN attention).
"""

from __future__ import annotations

import csv
import json
import math
import statistics
import subprocess
import time
import traceback
from pathlib import Path

import torch
import torch.nn.functional as F

from workloads.zoo import load_model_shape

COPIES = 3
PASSES = 4
REPLAYS = 3
TRIALS = 5
INT4_M = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
# (K, N) of y = x @ W^T, W: N x K: Llama-2-7B q/o, fused qkv, fused gate/up, down;
# Llama-3-8B fused gate/up and down
INT4_SHAPES = [
    (4096, 4096),
    (4096, 12288),
    (4096, 22016),
    (11008, 4096),
    (4096, 28672),
    (14336, 4096),
]
INT4_ROTATE_BYTES = 256e6


class Timer:
    """CUDA-graph timing on a GPU; plain wall clock on the CPU (for testing the logic)."""

    def __init__(self, device: str, trials: int = TRIALS, replays: int = REPLAYS):
        self.dev = device
        self.trials = trials
        self.replays = replays

    def __call__(self, fn, calls: int) -> tuple[float, float, float]:
        """(median, min, max) us per call of fn(), which makes `calls` calls."""
        if self.dev == "cpu":
            fn()
            ts = []
            for _ in range(self.trials):
                t0 = time.perf_counter()
                fn()
                ts.append((time.perf_counter() - t0) * 1e6 / calls)
            return statistics.median(ts), min(ts), max(ts)
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            fn()
            fn()
        torch.cuda.current_stream().wait_stream(s)
        torch.cuda.synchronize()
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            fn()
        g.replay()
        torch.cuda.synchronize()
        ts = []
        for _ in range(self.trials):
            a = torch.cuda.Event(enable_timing=True)
            b = torch.cuda.Event(enable_timing=True)
            a.record()
            for _ in range(self.replays):
                g.replay()
            b.record()
            b.synchronize()
            ts.append(a.elapsed_time(b) * 1e3 / (self.replays * calls))
        del g
        torch.cuda.synchronize()
        return statistics.median(ts), min(ts), max(ts)


# --- one decoder layer ---------------------------------------------------------------


def make_copy(shape, dev, kv_batch: int, kv_len: int, dtype=torch.float16) -> dict:
    """Weights and KV cache of one layer copy (random, scaled 1/sqrt(fan-in))."""
    H, I, d = shape.hidden, shape.intermediate, shape.head_dim
    nq, nkv = shape.heads, shape.kv_heads

    def w(n, k):
        return torch.randn(n, k, device=dev, dtype=dtype) / math.sqrt(k)

    def b(n, on):
        return torch.randn(n, device=dev, dtype=dtype) * 0.1 if on else None

    c = {
        "n1_w": 1 + 0.1 * torch.randn(H, device=dev, dtype=dtype),
        "n2_w": 1 + 0.1 * torch.randn(H, device=dev, dtype=dtype),
        "wqkv": w((nq + 2 * nkv) * d, H),
        "bqkv": b((nq + 2 * nkv) * d, shape.qkv_bias),
        "wo": w(H, nq * d),
        "bo": b(H, shape.o_bias),
        "wdown": w(H, I),
        "bdown": b(H, shape.mlp_bias),
        # K and V caches in one buffer: (2, batch, kv_heads, length, head_dim)
        "kv": torch.randn(2, kv_batch, nkv, kv_len, d, device=dev, dtype=dtype),
    }
    if shape.norm == "layer":
        c["n1_b"] = 0.1 * torch.randn(H, device=dev, dtype=dtype)
        c["n2_b"] = 0.1 * torch.randn(H, device=dev, dtype=dtype)
    if shape.mlp == "gated":
        c["wup"] = w(2 * I, H)  # gate rows then up rows
        c["bup"] = b(2 * I, shape.mlp_bias)
    else:
        c["wup"] = w(I, H)
        c["bup"] = b(I, shape.mlp_bias)
    return c


def rope_tables(shape, positions: torch.Tensor, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and signed sin, (T, 1, 2, d/2), for q*C + flip_halves(q)*S (NeoX rotate_half)."""
    half = shape.rotary_dim // 2
    inv = 1.0 / (10000.0 ** (torch.arange(half, device=positions.device) * 2.0 / (2 * half)))
    ang = positions.float()[:, None] * inv[None, :]
    cos, sin = ang.cos(), ang.sin()
    C = torch.stack([cos, cos], 1)[:, None].to(dtype)
    S = torch.stack([-sin, sin], 1)[:, None].to(dtype)
    return C, S


def layer_steps(shape, phase: str, batch: int, length: int) -> list[tuple[str, object]]:
    """The layer as (step name, fn(state) -> dict of new state entries), in order."""
    H, I, d = shape.hidden, shape.intermediate, shape.head_dim
    nq, nkv = shape.heads, shape.kv_heads
    T = batch if phase == "decode" else length
    gqa = nq != nkv
    eps = 1e-5

    def norm(x, c, i):
        if shape.norm == "layer":
            return F.layer_norm(x, (H,), c[f"n{i}_w"], c[f"n{i}_b"], eps)
        return F.rms_norm(x, (H,), c[f"n{i}_w"], eps)

    def attn_norm(s):
        return {"h": norm(s["x"], s["c"], 1)}

    def qkv_proj(s):
        return {"qkv": F.linear(s["h"], s["c"]["wqkv"], s["c"]["bqkv"])}

    def rotary(s):
        qk = s["qkv"][:, : (nq + nkv) * d].view(T, nq + nkv, 2, d // 2)
        tmp = qk.flip(2)
        qk.mul_(s["C"])
        qk.addcmul_(tmp, s["S"])
        return {}

    def kv_write(s):
        kv = s["c"]["kv"]
        new = s["qkv"][:, nq * d :]
        if phase == "decode":
            kv[:, :batch, :, length - 1].copy_(new.view(batch, 2, nkv, d).transpose(0, 1))
        else:
            kv[:, 0, :, :length].copy_(new.view(length, 2, nkv, d).permute(1, 2, 0, 3))
        return {}

    def attention(s):
        qkv = s["qkv"]
        if phase == "decode":
            q = qkv[:, : nq * d].view(batch, nq, 1, d)
            kv = s["c"]["kv"]
            k, v = kv[0, :batch, :, :length], kv[1, :batch, :, :length]
            o = F.scaled_dot_product_attention(q, k, v, enable_gqa=gqa)
            return {"o": o.reshape(batch, nq * d)}
        t = qkv.view(1, length, nq + 2 * nkv, d).transpose(1, 2)
        q, k, v = t[:, :nq], t[:, nq : nq + nkv], t[:, nq + nkv :]
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=gqa)
        return {"o": o.transpose(1, 2).reshape(length, nq * d)}

    def o_proj(s):
        return {"a": F.linear(s["o"], s["c"]["wo"], s["c"]["bo"])}

    def attn_residual(s):
        return {"x1": s["x"] + s["a"]}

    def mlp_norm(s):
        return {"h2": norm(s["x1"], s["c"], 2)}

    def up(s):
        return {"u": F.linear(s["h2"], s["c"]["wup"], s["c"]["bup"])}

    def act(s):
        if shape.mlp == "gated":
            return {"g": F.silu(s["u"][:, :I])}
        return {"g": F.relu(s["u"])}

    def gate_mul(s):
        return {"m": s["g"] * s["u"][:, I:]}

    def down(s):
        src = s["m"] if shape.mlp == "gated" else s["g"]
        return {"dn": F.linear(src, s["c"]["wdown"], s["c"]["bdown"])}

    def mlp_residual(s):
        return {"y": s["x1"] + s["dn"]}

    steps = [("attn_norm", attn_norm), ("qkv_proj", qkv_proj)]
    if shape.rotary_dim:
        steps.append(("rotary", rotary))
    steps += [("kv_write", kv_write), ("attention", attention), ("o_proj", o_proj)]
    steps += [("attn_residual", attn_residual), ("mlp_norm", mlp_norm)]
    if shape.mlp == "gated":
        steps += [("gate_up_proj", up), ("act", act), ("gate_mul", gate_mul)]
        steps += [("down_proj", down)]
    else:
        steps += [("fc1", up), ("act", act), ("fc2", down)]
    steps.append(("mlp_residual", mlp_residual))
    return steps


def run_layer(steps, s: dict) -> dict:
    for _, fn in steps:
        s.update(fn(s))
    return s


def sdpa_backend(shape, phase, batch, length, s) -> str:
    """Name of the backend SDPA's default dispatch picks for this config's attention."""
    nq, nkv, d = shape.heads, shape.kv_heads, shape.head_dim
    try:
        if phase == "decode":
            q = s["qkv"][:, : nq * d].view(batch, nq, 1, d)
            k = s["c"]["kv"][0, :batch, :, :length]
            args = (q, k, k)
            kw = {"is_causal": False}
        else:
            t = s["qkv"].view(1, length, nq + 2 * nkv, d).transpose(1, 2)
            args = (t[:, :nq], t[:, nq : nq + nkv], t[:, nq + nkv :])
            kw = {"is_causal": True}
        choice = torch._fused_sdp_choice(*args, None, 0.0, kw["is_causal"], enable_gqa=nq != nkv)
        members = torch.nn.attention.SDPBackend.__members__.items()
        names = {int(v): k for k, v in members}
        return names.get(int(choice), str(choice))
    except Exception as e:  # noqa: BLE001 - diagnostics only
        return f"unknown ({type(e).__name__}: {e})"[:120]


def profile_steps(steps, s: dict, dev: str) -> dict[str, list]:
    """Kernels each step launches (eager, one pass): {step: [[kernel name, us], ...]}.

    Kernels are assigned to steps through the GPU-side ranges that record_function leaves
    in the trace (`gpu_user_annotation`); where those are missing, by the synchronization
    gaps between steps."""
    from torch.profiler import ProfilerActivity, profile, record_function

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev != "cpu" else [])
    with profile(activities=acts) as prof:
        for name, fn in steps:
            with record_function("step:" + name):
                fn(s)
                if dev != "cpu":
                    torch.cuda.synchronize()
            if dev != "cpu":
                torch.cuda.synchronize()
    names = [n for n, _ in steps]
    out: dict[str, list] = {n: [] for n in names}
    gpu = [e for e in prof.events() if e.device_type.name == "CUDA"]
    ann = [e for e in gpu if e.name.startswith("step:")]
    ker = sorted(
        (e for e in gpu if not e.name.startswith("step:")), key=lambda e: e.time_range.start
    )

    def row(e):
        return [e.name[:90], round(e.time_range.elapsed_us(), 3)]

    if ann:
        for e in ker:
            home = [a for a in ann if a.time_range.start <= e.time_range.start <= a.time_range.end]
            key = home[0].name[5:] if home else "_unassigned"
            out.setdefault(key, []).append(row(e))
        return out
    if len(ker) < len(names):
        out["_unassigned"] = [row(e) for e in ker]
        return out
    gaps = sorted(
        range(1, len(ker)), key=lambda i: ker[i].time_range.start - ker[i - 1].time_range.end
    )
    bounds = [0] + sorted(gaps[len(ker) - len(names) :]) + [len(ker)]
    for j, n in enumerate(names):
        out[n] = [row(e) for e in ker[bounds[j] : bounds[j + 1]]]
    return out


def check_layer_math(shape, dev) -> dict:
    """Relative errors of the fused rotary and the decode attention against plain formulas
    (float64 on the same inputs): the measured kernels compute the intended function."""
    torch.manual_seed(1)
    out = {}
    d, nq, nkv = shape.head_dim, shape.heads, shape.kv_heads
    if shape.rotary_dim:
        T = 5
        pos = torch.arange(T, device=dev) + 7
        C, S = rope_tables(shape, pos, torch.float32)
        x = torch.randn(T, nq + nkv, d, device=dev)
        ref = x.double()
        half = d // 2
        inv = 1.0 / (10000.0 ** (torch.arange(half, device=dev).double() * 2 / d))
        ang = pos.double()[:, None] * inv[None]
        cos, sin = torch.cat([ang.cos()] * 2, -1)[:, None], torch.cat([ang.sin()] * 2, -1)[:, None]
        rot = torch.cat([-ref[..., half:], ref[..., :half]], -1)
        want = ref * cos + rot * sin
        qk = x.view(T, nq + nkv, 2, half)
        tmp = qk.flip(2)
        qk.mul_(C)
        qk.addcmul_(tmp, S)
        out["rotary_rel_err"] = float((x.double() - want).norm() / want.norm())
    B, L = 2, 37
    q = torch.randn(B, nq, 1, d, device=dev, dtype=torch.float16)
    k = torch.randn(B, nkv, L, d, device=dev, dtype=torch.float16)
    v = torch.randn(B, nkv, L, d, device=dev, dtype=torch.float16)
    o = F.scaled_dot_product_attention(q, k, v, enable_gqa=nq != nkv).double()
    g = nq // nkv
    kk, vv = k.double().repeat_interleave(g, 1), v.double().repeat_interleave(g, 1)
    p = torch.softmax(q.double() @ kk.transpose(-1, -2) / math.sqrt(d), -1)
    want = p @ vv
    out["decode_attention_rel_err"] = float((o - want).norm() / want.norm())
    return out


def layer_configs(decode_b, decode_kv, prefill):
    cfg = [("decode", b, kv) for b in decode_b for kv in decode_kv]
    return cfg + [("prefill", 1, s) for s in prefill]


def measure_layers(
    models,
    configs,
    out: Path,
    dev: str,
    meta: dict,
    copies=COPIES,
    passes=PASSES,
    timer: Timer | None = None,
    suffix: str = "",
) -> None:
    """Whole-layer and per-step times of every (model, config): rows into h100_layers.csv,
    kernels into h100_layers_kernels.json."""
    timer = timer or Timer(dev)
    fields = [
        "model",
        "phase",
        "batch",
        "length",
        "step",
        "time_us",
        "min_us",
        "max_us",
        "calls",
        "sdpa_backend",
    ]
    kernels: dict = {}
    csv_path = out / f"h100_layers{suffix}.csv"
    with csv_path.open("w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=fields)
        wr.writeheader()
        for model in models:
            shape = model if not isinstance(model, str) else load_model_shape(model)
            name = shape.name
            try:
                meta.setdefault("math_checks", {})[name] = check_layer_math(shape, dev)
            except Exception as e:  # noqa: BLE001 - recorded, measurement goes on
                meta.setdefault("errors", []).append(f"{name} check: {e!r}"[:300])
            kv_b = max(b for ph, b, _ in configs if ph == "decode") if configs else 1
            kv_l = max(ln for _, _, ln in configs)
            torch.manual_seed(0)
            cps = [make_copy(shape, dev, kv_b, kv_l) for _ in range(copies)]
            for phase, batch, length in configs:
                t0 = time.time()
                try:
                    _measure_config(
                        shape, phase, batch, length, cps, dev, passes, timer, wr, kernels
                    )
                except Exception:  # noqa: BLE001 - recorded, the next config goes on
                    meta.setdefault("errors", []).append(
                        f"{name} {phase} b{batch} n{length}: {traceback.format_exc()[-600:]}"
                    )
                fh.flush()
                print(f"{name} {phase} b{batch} n{length}: {time.time() - t0:.1f} s", flush=True)
            del cps
            if dev != "cpu":
                torch.cuda.empty_cache()
    (out / f"h100_layers_kernels{suffix}.json").write_text(json.dumps(kernels, indent=0))


def _measure_config(shape, phase, batch, length, cps, dev, passes, timer, wr, kernels):
    H = shape.hidden
    T = batch if phase == "decode" else length
    steps = layer_steps(shape, phase, batch, length)
    pos = (
        torch.full((T,), length - 1, device=dev)
        if phase == "decode"
        else torch.arange(T, device=dev)
    )
    C, S = rope_tables(shape, pos, torch.float16) if shape.rotary_dim else (None, None)
    states = []
    for c in cps:
        s = {"c": c, "C": C, "S": S, "x": torch.randn(T, H, device=dev, dtype=torch.float16)}
        states.append(run_layer(steps, s))
    backend = sdpa_backend(shape, phase, batch, length, states[0])
    calls = len(cps) * passes
    x0 = states[0]["x"]

    def whole():
        x = x0
        for _ in range(passes):
            for s in states:
                st = {"c": s["c"], "C": C, "S": S, "x": x}
                x = run_layer(steps, st)["y"]

    base = {
        "model": shape.name,
        "phase": phase,
        "batch": batch,
        "length": length,
        "calls": calls,
        "sdpa_backend": backend,
    }
    med, lo, hi = timer(whole, calls)
    wr.writerow(
        {
            **base,
            "step": "layer",
            "time_us": f"{med:.3f}",
            "min_us": f"{lo:.3f}",
            "max_us": f"{hi:.3f}",
        }
    )
    for name, fn in steps:

        def one(fn=fn):
            for _ in range(passes):
                for s in states:
                    fn(s)

        med, lo, hi = timer(one, calls)
        wr.writerow(
            {
                **base,
                "step": name,
                "time_us": f"{med:.3f}",
                "min_us": f"{lo:.3f}",
                "max_us": f"{hi:.3f}",
            }
        )
    if dev != "cpu":  # the same attention with SDPA forced to its FlashAttention-2 backend
        from torch.nn.attention import SDPBackend, sdpa_kernel

        attn = dict(steps)["attention"]

        def flash():
            with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                for _ in range(passes):
                    for s in states:
                        attn(s)

        try:
            med, lo, hi = timer(flash, calls)
            wr.writerow(
                {
                    **base,
                    "step": "attention_flash",
                    "time_us": f"{med:.3f}",
                    "min_us": f"{lo:.3f}",
                    "max_us": f"{hi:.3f}",
                    "sdpa_backend": "FLASH_ATTENTION",
                }
            )
        except Exception:  # noqa: BLE001 - a config flash refuses: no row
            pass
    try:
        kernels[f"{shape.name}|{phase}|{batch}|{length}"] = profile_steps(steps, states[1], dev)
    except Exception as e:  # noqa: BLE001 - diagnostics only
        kernels[f"{shape.name}|{phase}|{batch}|{length}"] = {"_error": repr(e)[:300]}


# --- weight-only low-bit GEMMs ---------------------------------------------------------


def _int4_pack(n, k, dev, group=128, inner_k_tiles=8):
    """Random int4 codes packed for tinygemm, bf16 scales/zeros, and the dequantized
    reference weight for both nibble orders."""
    q = torch.randint(0, 16, (n, k), dtype=torch.int32, device=dev)
    u8 = ((q[:, ::2] << 4) | q[:, 1::2]).to(torch.uint8)
    if dev == "cpu":
        packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, inner_k_tiles)
    else:
        packed = torch.ops.aten._convert_weight_to_int4pack(u8, inner_k_tiles)
    scale = (torch.rand(k // group, n, device=dev) * 0.02 + 0.01).to(torch.bfloat16)
    zero = (torch.randn(k // group, n, device=dev) * 0.01).to(torch.bfloat16)
    sz = torch.stack([scale, zero], -1).contiguous()
    return q, packed, sz


def _int4_mm(x, packed, sz, group=128):
    if x.device.type == "cpu":
        return torch.ops.aten._weight_int4pack_mm_for_cpu(x, packed, group, sz)
    return torch.ops.aten._weight_int4pack_mm(x, packed, group, sz)


def check_int4(dev, group=128) -> dict:
    """Relative error of _weight_int4pack_mm against x @ dequant(W)^T (float64), with
    w = (q - 8) * scale + zero per group (tinygemm's convention)."""
    n, k, m = 256, 512, 8
    q, packed, sz = _int4_pack(n, k, dev, group)
    x = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
    y = _int4_mm(x, packed, sz, group).double()
    s = sz[..., 0].double().repeat_interleave(group, 0).t()
    z = sz[..., 1].double().repeat_interleave(group, 0).t()
    w = (q.double() - 8) * s + z
    want = x.double() @ w.t()
    out = {"int4pack_rel_err": float((y - want).norm() / want.norm())}
    qs = q.view(n, k // 2, 2).flip(-1).reshape(n, k)  # the other nibble order
    want2 = x.double() @ ((qs.double() - 8) * s + z).t()
    out["int4pack_rel_err_nibbles_swapped"] = float((y - want2).norm() / want2.norm())
    return out


def measure_int4(
    out: Path,
    dev: str,
    meta: dict,
    shapes=INT4_SHAPES,
    ms=INT4_M,
    timer: Timer | None = None,
    suffix: str = "",
) -> None:
    """Rows (kernel, K, N, M, time_us, min_us, max_us, copies, weight_bytes) into
    h100_int4.csv: int4 tinygemm, int8 weight-only and fp16/bf16 cuBLAS at each M."""
    timer = timer or Timer(dev)
    try:
        meta["int4_check"] = check_int4(dev)
    except Exception as e:  # noqa: BLE001
        meta.setdefault("errors", []).append(f"int4 check: {e!r}"[:300])
    fields = ["kernel", "K", "N", "M", "time_us", "min_us", "max_us", "copies", "weight_bytes"]
    with (out / f"h100_int4{suffix}.csv").open("w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=fields)
        wr.writeheader()
        for k, n in shapes:
            for kern, wbytes in (
                ("int4pack_mm", k * n / 2 + k // 128 * n * 4),
                ("int8pack_mm", k * n + 2 * n),
                ("fp16_linear", 2 * k * n),
                ("bf16_linear", 2 * k * n),
            ):
                copies = max(2, min(48, math.ceil(INT4_ROTATE_BYTES / wbytes)))
                if kern == "int8pack_mm":  # compute-bound far above HBM time: 2 copies
                    copies = 2
                try:
                    ws = [_make_weight(kern, n, k, dev) for _ in range(copies)]
                except Exception as e:  # noqa: BLE001 - a kernel this build lacks
                    meta.setdefault("errors", []).append(f"{kern} {k}x{n}: {e!r}"[:300])
                    continue
                for m in ms:
                    if kern == "int8pack_mm" and m > 64:  # a slow kernel (tens of ms): skip
                        continue
                    dt = torch.float16 if kern == "fp16_linear" else torch.bfloat16
                    x = torch.randn(m, k, device=dev, dtype=dt)
                    call = _make_call(kern)

                    def fn(x=x, ws=ws, call=call):
                        for w in ws:
                            call(x, w)

                    try:
                        med, lo, hi = timer(fn, copies)
                    except Exception as e:  # noqa: BLE001
                        meta.setdefault("errors", []).append(f"{kern} {k}x{n} M{m}: {e!r}"[:300])
                        break
                    wr.writerow(
                        {
                            "kernel": kern,
                            "K": k,
                            "N": n,
                            "M": m,
                            "time_us": f"{med:.3f}",
                            "min_us": f"{lo:.3f}",
                            "max_us": f"{hi:.3f}",
                            "copies": copies,
                            "weight_bytes": int(wbytes),
                        }
                    )
                fh.flush()
                print(f"{kern} {k}x{n} done", flush=True)
                del ws
                if dev != "cpu":
                    torch.cuda.empty_cache()


def _make_weight(kern, n, k, dev):
    if kern == "int4pack_mm":
        _, packed, sz = _int4_pack(n, k, dev)
        return (packed, sz)
    if kern == "int8pack_mm":
        w = torch.randint(-127, 128, (n, k), device=dev, dtype=torch.int8)
        sc = torch.rand(n, device=dev, dtype=torch.bfloat16) * 0.01
        x = torch.randn(2, k, device=dev, dtype=torch.bfloat16)
        torch._weight_int8pack_mm(x, w, sc)  # raises where the build lacks the kernel
        return (w, sc)
    dt = torch.float16 if kern == "fp16_linear" else torch.bfloat16
    return (torch.randn(n, k, device=dev, dtype=dt) / math.sqrt(k),)


def _make_call(kern):
    if kern == "int4pack_mm":
        return lambda x, w: _int4_mm(x, w[0], w[1])
    if kern == "int8pack_mm":
        return lambda x, w: torch._weight_int8pack_mm(x, w[0], w[1])
    return lambda x, w: F.linear(x, w[0])


# --- entry ------------------------------------------------------------------------------


def environment(dev: str) -> dict:
    meta = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device": dev,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    if dev != "cpu":
        p = torch.cuda.get_device_properties(0)
        meta.update(
            gpu=p.name,
            sms=p.multi_processor_count,
            l2_bytes=getattr(p, "L2_cache_size", None),
            mem_bytes=p.total_memory,
        )
        try:
            q = "name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,power.limit,temperature.gpu"
            meta["smi"] = subprocess.run(
                ["nvidia-smi", f"--query-gpu={q}", "--format=csv"],
                capture_output=True,
                text=True,
                timeout=20,
            ).stdout
        except Exception as e:  # noqa: BLE001
            meta["smi"] = repr(e)
    return meta


def gemm_sanity(dev: str, timer: Timer) -> dict:
    """fp16 F.linear M=1, 4096x4096 with 24 rotating weights: benchmarks/data/h100_gemm.csv
    holds 15.794 us (steady) from the machine the h100 preset was fitted on."""
    ws = [torch.randn(4096, 4096, device=dev, dtype=torch.float16) for _ in range(24)]
    x = torch.randn(1, 4096, device=dev, dtype=torch.float16)

    def fn():
        for w in ws:
            F.linear(x, w)

    med, lo, hi = timer(fn, len(ws))
    return {"fp16_M1_4096x4096_us": med, "fitting_machine_us": 15.794}


def measure(
    out: Path, models, configs, int4: bool, dev: str | None = None, suffix: str = ""
) -> dict:
    dev = dev or ("cuda" if torch.cuda.is_available() else "cpu")
    out.mkdir(parents=True, exist_ok=True)
    meta = environment(dev)
    timer = Timer(dev)
    t0 = time.time()
    if dev != "cpu":
        meta["gemm_sanity"] = gemm_sanity(dev, timer)
    measure_layers(models, configs, out, dev, meta, timer=timer, suffix=suffix)
    meta["layers_s"] = time.time() - t0
    if int4:
        measure_int4(out, dev, meta, timer=timer, suffix=suffix)
    meta["total_s"] = time.time() - t0
    if dev != "cpu":
        meta["smi_after"] = environment(dev).get("smi")
    (out / f"h100_meta{suffix}.json").write_text(json.dumps(meta, indent=1))
    return meta
