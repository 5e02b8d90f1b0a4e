"""`fpga_dsp` family: FlightLLM instruction costs by hand, sparsity, resource rejection and
the VHK158 acceptance figure (arch/fpga_dsp.py docstring has the model)."""

from __future__ import annotations

import pytest
import yaml

from arch.accelerator import load_accelerator
from common.errors import InputError
from sim import simulate
from sim.engine import Coster
from workloads.ops import Op

# flightllm_test_demo/profile/README.md, case (batch 1, prefill 128, decode 512) on the
# VHK158: prefill 289.9 ms, decode 4946.4 ms, avg throughput 103.5 token/s.
REPORTED_TPS, REPORTED_TTFT_S = 103.5, 0.2899


def _lin(name, M, phase, wq="int4"):
    return Op(name, "linear", phase, M=M, K=4096, N=4096, bq=wq, aq="int8")


def test_mv_hand_worked():
    acc = load_accelerator("flightllm-vhk158")
    # MV: ceil(4096/512) = 8 instructions x K_blocks (4096/16 = 256) x 16*512/(64*16) = 8
    # -> 8 * 256 * 8 = 16384 cycles dense.
    assert acc.pe.mv_cycles(1, 4096, 4096, 1.0) == 16384
    # Load: 819.2e9 B/s / 32 ch / 225e6 Hz = 113.78 B/cycle/channel x 8 ch x 0.7 = 637.2;
    # INT4 weights 4096*4096/2 = 8388608 B -> 13166 cycles < 16384: compute-bound;
    # split over 4 cores at 0.8 -> 16384 / 3.2 = 5120 cycles.
    rec = Coster(acc).op(_lin("o_proj", 1, "decode"))
    assert rec.cycles == pytest.approx(16384 / 3.2)
    assert rec.bound == "compute" and rec.dram_bytes == 8388608  # activations stay on chip
    # q_proj density 0.7: 16384*0.7 = 11468.8 compute, 0.7 * 13166 load -> 3584 cycles
    q = Op(
        "q_proj", "linear", "decode", M=1, K=4096, N=4096, bq="int4", aq="int8", weight_density=0.7
    )
    assert Coster(acc).op(q).cycles == pytest.approx(3584)
    # INT8 weights: 16 MiB / 637.2 = 26331 load > 16384 -> memory-bound
    rec8 = Coster(acc).op(_lin("o_proj", 1, "decode", "int8"))
    bpc = 819.2e9 / 32 / 225e6 * 8 * 0.7
    assert rec8.bound == "memory" and rec8.cycles == pytest.approx(16777216 / bpc / 3.2)


def test_mm_hand_worked():
    acc = load_accelerator("flightllm-vhk158")
    # MM: ceil(128/128) * ceil(4096/16) = 256 instructions x 256 K blocks x
    # 128*16*16/(128*2*16) = 8 -> 524288 cycles; weights over 1 channel at 0.35:
    # 8388608 / (113.78*0.35) = 210650 + activations in/out 1 MiB / 637.2 = 1646 < 524288;
    # 4 cores at 0.8 -> / 3.2.
    assert acc.pe.mm_cycles(128, 4096, 4096, 1.0) == 524288
    rec = Coster(acc).op(_lin("o_proj", 128, "prefill"))
    assert rec.cycles == pytest.approx(524288 / 3.2) and rec.bound == "compute"
    # 129 rows need a second 128-row MM block: twice the cycles
    assert acc.pe.mm_cycles(129, 4096, 4096, 1.0) == 2 * 524288


@pytest.mark.parametrize("density", [0.25, 0.5, 0.7])
def test_sparse_chain_scales_by_density(density):
    acc = load_accelerator("flightllm-vhk158")
    pe = acc.pe
    for M in (1, 128):
        dense = min(pe.mv_cycles(M, 4096, 11008, 1), pe.mm_cycles(M, 4096, 11008, 1))
        sparse = min(pe.mv_cycles(M, 4096, 11008, density), pe.mm_cycles(M, 4096, 11008, density))
        assert sparse == pytest.approx(density * dense)


def _tmp(tmp_path, preset, edit):
    cfg = yaml.safe_load(open(f"arch/presets/{preset}.yaml"))
    edit(cfg)
    p = tmp_path / "fpga.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return str(p)


def test_too_many_dsps_rejected(tmp_path):
    def edit(cfg):  # 1024*2*16 = 32768 INT8 MAC/cycle / 2 per DSP48E2 = 16384 > 9024
        cfg["pe_array"]["cols"] = 2048
        cfg["pe_array"]["params"]["mm"]["m"] = 1024

    with pytest.raises(InputError) as e:
        load_accelerator(_tmp(tmp_path, "flightllm-u280", edit))
    assert e.value.field == "pe_array"
    assert "16384 dsp" in str(e.value) and "pe_array.params.device.dsp" in str(e.value)


def test_too_much_on_chip_memory_rejected(tmp_path):
    def edit(cfg):  # 64 MiB of URAM = 1821 URAMs > 960
        cfg["memory"]["buffers"]["weight"]["size_kib"] = 65536

    with pytest.raises(InputError, match="pe_array.params.device.uram"):
        load_accelerator(_tmp(tmp_path, "flightllm-u280", edit))


def test_array_shape_must_match_mm_unit(tmp_path):
    def edit(cfg):
        cfg["pe_array"]["rows"] = 32

    with pytest.raises(InputError, match="pe_array.params.mm"):
        load_accelerator(_tmp(tmp_path, "flightllm-vhk158", edit))


def test_resource_report():
    assert load_accelerator("flightllm-u280").pe.resources()["dsp"] == (2048, 9024)
    # 4 cores x ceil(4096 / 3) = 4 x 1366
    assert load_accelerator("flightllm-vhk158").pe.resources()["dsp"][0] == 5464


def test_vhk158_llama2_7b_matches_repo():
    acc = load_accelerator("flightllm-vhk158")
    res = simulate(acc, "llama-2-7b", prefill=128, decode=512, batch=1)
    assert res.tokens_per_s == pytest.approx(REPORTED_TPS, rel=0.10)
    assert res.ttft_s == pytest.approx(REPORTED_TTFT_S, rel=0.10)


# Physical HBM peaks (GB/s, 10^9 B/s): U280 32 pseudo-channels x 14.375 GB/s = 460 (AMD
# UG1314 / UG1393, SEED_SYSTEMS.md §6); VHK158 32 channels of HBM2e, 819.2 GB/s (AMD
# VHK158 product brief; SEED_SYSTEMS.md §6).
PHYSICAL_PEAK_GB_S = {"flightllm-u280": 460.0, "flightllm-vhk158": 819.2}


@pytest.mark.parametrize("preset", sorted(PHYSICAL_PEAK_GB_S))
def test_no_op_moves_bytes_faster_than_its_channels(preset):
    """Issue 9 item 7: every op of a Llama-2-7B run moves DRAM bytes no faster than the
    physical peak of the HBM channels the design is wired to (cores x the widest per-core
    stream, at most all channels). The old VHK158 preset streamed decode weights over one
    core's 8 channels (204.8 GB/s) at 3.2x their modelled rate."""
    cfg = yaml.safe_load(open(f"arch/presets/{preset}.yaml"))
    par = cfg["pe_array"]["params"]
    h = par["hbm"]
    per_core = max(h["mv_weight_channels"], h["mm_weight_channels"], h["act_channels"])
    wired = min(h["channels"], par.get("cores", 1) * per_core)
    peak_b_s = PHYSICAL_PEAK_GB_S[preset] * 1e9 * wired / h["channels"]
    df = simulate(preset, "llama-2-7b", prefill=128, decode=512).to_dataframe()
    df = df[df.dram_bytes > 0]
    rate = df.dram_bytes / df.time_s
    worst = df.assign(gb_s=rate / 1e9).sort_values("gb_s").iloc[-1]
    assert (rate <= peak_b_s * (1 + 1e-9)).all(), (
        f"{worst['phase']} {worst['name']}: {worst['gb_s']:.1f} GB/s > {peak_b_s / 1e9:.1f}"
    )


def test_cores_split_compute_and_need_their_channels(tmp_path):
    """Two cores: a compute-bound op takes half the cycles with the same DRAM bytes; more
    cores than the memory has channel groups is rejected."""
    one = _tmp(tmp_path, "flightllm-u280", lambda c: None)
    acc1 = load_accelerator(one)

    def two_cores(cfg):
        cfg["pe_array"]["params"]["cores"] = 2
        cfg["pe_array"]["params"]["hbm"]["mv_weight_channels"] = 16

    acc2 = load_accelerator(_tmp(tmp_path, "flightllm-u280", two_cores))
    op = _lin("o_proj", 128, "prefill")  # MM: 524288 cycles, weights 1 ch at 0.35 < that
    r1, r2 = Coster(acc1).op(op), Coster(acc2).op(op)
    assert r1.cycles == pytest.approx(524288) and r2.cycles == pytest.approx(524288 / 2)
    assert r1.dram_bytes == r2.dram_bytes
    assert acc2.pe.resources()["dsp"][0] == 2 * 2048

    def too_many(cfg):  # 5 cores x 8 channels = 40 > 32
        cfg["pe_array"]["params"]["cores"] = 5
        cfg["pe_array"]["params"]["hbm"]["mv_weight_channels"] = 8

    with pytest.raises(InputError, match="pe_array.params.cores"):
        load_accelerator(_tmp(tmp_path, "flightllm-u280", too_many))


def test_gqa_group_reads_its_kv_head_once():
    """Issue 9 item 8: with GQA the decode attention op is M = group query rows against
    one KV head (workloads/llm.py); the KV head is read once, not once per query head.
    Llama-3-8B: 32 query heads, 8 KV heads (group 4), head_dim 128, int8 KV."""
    acc = load_accelerator("flightllm-vhk158")
    qk = Op("attn_qk", "attn_qk", "decode", M=4, K=128, N=1000, bq="int8", aq="int8")
    pv = Op("attn_pv", "attn_pv", "decode", M=4, K=1000, N=128, bq="int8", aq="int8")
    # MV (4 x ceil(1000/512) x 8 K-blocks x 8 = 512 cycles < MM 63 x 8 x 8 = 4032); the
    # 128 x 512 B slab fits the 8 MiB A buffer: K cache 128 x 1000 x 1 B read once;
    # q rows and scores stay on chip in decode
    assert Coster(acc).op(qk).dram_bytes == 128 * 1000
    assert Coster(acc).op(pv).dram_bytes == 1000 * 128
    # whole run: decode steps attend over L = 17..20 keys; 32 layers x 8 KV heads each
    df = simulate(acc, "llama-3-8b", prefill=16, decode=4).to_dataframe()
    dec = df[df.phase == "decode"].set_index("name")
    kv_bytes = sum(32 * 8 * 128 * L for L in range(17, 21))
    assert dec.loc["attn_qk", "dram_bytes"] == pytest.approx(kv_bytes)
    assert dec.loc["attn_pv", "dram_bytes"] == pytest.approx(kv_bytes)


def test_mv_rows_reload_a_slab_too_big_for_the_buffer(tmp_path):
    """A slab larger than half the A buffer is reloaded per row (M times)."""

    def small(cfg):  # 128 KiB A buffer: half is 64 KiB
        cfg["memory"]["buffers"]["weight"]["size_kib"] = 128

    acc = load_accelerator(_tmp(tmp_path, "flightllm-vhk158", small))
    fits = Op("attn_qk", "attn_qk", "decode", M=4, K=128, N=1000, bq="int8", aq="int8")
    big = Op("attn_pv", "attn_pv", "decode", M=4, K=1000, N=128, bq="int8", aq="int8")
    assert Coster(acc).op(fits).dram_bytes == 128 * 1000  # 128 x 512 B = 64 KiB slab
    assert Coster(acc).op(big).dram_bytes == 4 * 1000 * 128  # 1000 x 128 B = 125 KiB
