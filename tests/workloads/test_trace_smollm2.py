"""Real SmolLM2-135M trace export (slow: loads the GGUF model once, ~20 s; one shared
export of 16 prompt tokens + 2 decode steps): linear shapes of the 30 layers, GEMM ops
equal to the shape-only builder, dequantized int4-g128 weights within scale/2 of the model's
weights, activation samples and statistics."""

from __future__ import annotations

import numpy as np
import pytest

from workloads.ops import GEMM_KINDS
from workloads.trace import load_trace
from workloads.trace_quant import expand_blocks

pytestmark = pytest.mark.slow

TOKENS, DECODE = 16, 2


@pytest.fixture(scope="module")
def smol(tmp_path_factory):
    from workloads.export import DEFAULT_PROMPT, export_llm
    from workloads.smollm2 import GGUF_NAME, load_model

    model, tok = load_model()
    out = tmp_path_factory.mktemp("smol") / "trace"
    export_llm(
        model,
        tok,
        out,
        name="smollm2-135m",
        source=f"gguf:{GGUF_NAME}",
        prompt=DEFAULT_PROMPT,
        tokens=TOKENS,
        decode=DECODE,
        wq="int4-g128",
        aq="int8",
        kvq="int8",
        act_rows=8,
        progress=False,
    )
    return model, load_trace(out)


def test_linear_shapes(smol) -> None:
    _, tr = smol
    prefill = {o.name: o for o in tr.ops() if o.kind == "linear" and o.phase == "prefill"}
    # (N, K) = weight rows x cols as stored by nn.Linear; M = prompt tokens
    want = {
        "q_proj": (576, 576),
        "k_proj": (192, 576),
        "v_proj": (192, 576),
        "o_proj": (576, 576),
        "gate_proj": (1536, 576),
        "up_proj": (1536, 576),
        "down_proj": (576, 1536),
        "lm_head": (49152, 576),
    }
    assert set(prefill) == set(want)
    for name, (n, k) in want.items():
        o = prefill[name]
        assert (o.N, o.K) == (n, k), name
        assert o.M == (1 if name == "lm_head" else TOKENS)
        assert o.count == (1 if name == "lm_head" else 30)
        assert o.bq == "int4-g128" and o.aq == "int8"
    rec = next(r for r in tr.meta.ops if r.name == "q_proj")
    assert rec.layers == list(range(30)) and rec.group_size == 128
    assert len(rec.per_layer) == 30


def test_gemm_ops_equal_shape_only_builder(smol) -> None:
    from workloads.llm import build_ops
    from workloads.zoo import load_model_shape

    _, tr = smol
    ref = build_ops(
        load_model_shape("smollm2-135m"), TOKENS, DECODE, 1, "int4-g128", "int8", "int8"
    )

    def key(o):
        return (o.name, o.kind, o.phase, o.M, o.K, o.N, o.count)

    assert sorted(key(o) for o in tr.ops() if o.kind in GEMM_KINDS) == sorted(
        key(o) for o in ref if o.kind in GEMM_KINDS
    )
    # vector ops too, and the order
    full = [(o.name, o.kind, o.phase, o.M, o.K, o.N, o.elements, o.count) for o in tr.ops()]
    assert full == [(o.name, o.kind, o.phase, o.M, o.K, o.N, o.elements, o.count) for o in ref]


def test_dequantized_weights_within_half_scale(smol) -> None:
    model, tr = smol
    mods = dict(model.named_modules())
    checked = 0
    for rec in tr.meta.ops:
        if rec.kind != "linear" or rec.phase != "prefill":
            continue
        for layer in rec.layers or [None]:
            block = "self_attn" if rec.name in ("q_proj", "k_proj", "v_proj", "o_proj") else "mlp"
            path = "lm_head" if layer is None else f"model.layers.{layer}.{block}.{rec.name}"
            w = mods[path].weight.detach().numpy()
            w_hat = tr.dequantized(rec.name, layer)
            scales = tr.tensor(
                f"{rec.name}/{layer}/weight.scales"
                if layer is not None
                else f"{rec.name}/weight.scales"
            )
            assert scales.shape == (w.shape[0], -(-w.shape[1] // 128))
            bound = expand_blocks(scales, w.shape[1], 128) / 2 * (1 + 1e-6) + 1e-8
            assert np.all(np.abs(w - w_hat) <= bound), path
            checked += 1
    assert checked == 7 * 30 + 1


def test_activation_sample_and_stats(smol) -> None:
    _, tr = smol
    assert tr.tensor("q_proj/0/act.codes").shape == (8, 576)
    assert tr.tensor("down_proj/29/act.codes").shape == (8, 1536)
    assert tr.tensor("lm_head/act.codes").shape == (1, 576)
    assert len(tr.meta.run.generated_token_ids) == DECODE
    for o in tr.ops(GEMM_KINDS):
        st = dict(o.stats)
        for k in (
            "w_absmax",
            "a_absmax",
            "w_outlier_3sigma",
            "a_outlier_6sigma",
            "w_olive_pair_outlier",
            "w_bitplane_zero_mean",
            "w_booth_terms_mean",
        ):
            assert k in st, (o.name, k)
        assert 0.0 <= st["w_bitplane_zero_mean"] <= 1.0
    # int4 weights: 4 bit planes, at most 2 Booth digits per code
    q = dict(next(o for o in tr.ops() if o.name == "q_proj").stats)
    assert "w_bitplane_zero_b3" in q and "w_bitplane_zero_b4" not in q
    assert 0.0 < q["w_booth_terms_mean"] <= 2.0


def test_trace_run_agrees_with_shape_only_run(smol) -> None:
    """`sim run ARCH TRACE_DIR` vs the shape-only run of the same model, formats and
    lengths: within 1% (no data-dependent feature in int8-systolic)."""
    from click.testing import CliRunner

    from sim.api import simulate, simulate_trace
    from sim.cli import main

    trace_dir = smol[1].path
    tr = simulate_trace("int8-systolic", str(trace_dir))
    f = tr.formats
    shape = simulate(
        "int8-systolic",
        "smollm2-135m",
        prefill=tr.prefill,
        decode=tr.decode,
        batch=tr.batch,
        wq=f["wq"],
        aq=f["aq"],
        kvq=f["kvq"],
    )
    assert tr.total_cycles == pytest.approx(shape.total_cycles, rel=0.01)
    assert tr.energy_j == pytest.approx(shape.energy_j, rel=0.01)
    res = CliRunner().invoke(main, ["run", "int8-systolic", str(trace_dir), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert '"ttft_s"' in res.stdout


def test_trace_statistics_drive_zero_skipping(smol, tmp_path) -> None:
    """A data-dependent PE (Stripes with zero-term skipping) runs faster on the trace's real
    activation bit statistics than on the shape-only model, which assumes random codes
    (arch/activity.py: half the bits set). Seen: 160,920 vs 172,800 q_proj cycles."""
    import yaml

    from sim.api import simulate, simulate_trace

    cfg = yaml.safe_load(open("arch/presets/stripes.yaml"))
    cfg["pe_array"]["params"]["zero_skip"] = True
    arch = tmp_path / "stripes-skip.yaml"
    arch.write_text(yaml.safe_dump(cfg))
    tr = simulate_trace(str(arch), str(smol[1].path), wq="int8", aq="int8", kvq="int8")
    shape = simulate(
        str(arch),
        "smollm2-135m",
        prefill=tr.prefill,
        decode=tr.decode,
        wq="int8",
        aq="int8",
        kvq="int8",
    )
    q_tr = next(r for r in tr.rows if r.phase == "prefill" and r.name == "q_proj")
    q_sh = next(r for r in shape.rows if r.phase == "prefill" and r.name == "q_proj")
    assert q_tr.compute_cycles < 0.95 * q_sh.compute_cycles
