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
    # Load: 879.6e9 B/s / 32 ch / 225e6 Hz = 122.17 B/cycle/channel x 8 ch x 0.7 = 684.1;
    # INT4 weights 4096*4096/2 = 8388608 B -> 12262 cycles < 16384: compute-bound;
    # divided by the repo's correction factor 3.2 -> 5120 cycles.
    rec = Coster(acc).op(_lin("o_proj", 1, "decode"))
    assert rec.cycles == pytest.approx(16384 / 3.2)
    assert rec.bound == "compute" and rec.dram_bytes == 8388608  # activations stay on chip
    # q_proj density 0.7: 16384*0.7 = 11468.8 compute, 0.7 * 12262 load -> 3584 cycles
    q = Op(
        "q_proj", "linear", "decode", M=1, K=4096, N=4096, bq="int4", aq="int8", weight_density=0.7
    )
    assert Coster(acc).op(q).cycles == pytest.approx(3584)
    # INT8 weights: 16 MiB / 684.1 = 24524 load > 16384 -> memory-bound
    rec8 = Coster(acc).op(_lin("o_proj", 1, "decode", "int8"))
    bpc = 879.6e9 / 32 / 225e6 * 8 * 0.7
    assert rec8.bound == "memory" and rec8.cycles == pytest.approx(16777216 / bpc / 3.2)


def test_mm_hand_worked():
    acc = load_accelerator("flightllm-vhk158")
    # MM: ceil(128/128) * ceil(4096/16) = 256 instructions x 256 K blocks x
    # 128*16*16/(128*2*16) = 8 -> 524288 cycles; weights over 1 channel at 0.35:
    # 8388608 / (122.17*0.35) = 196190 + activations in/out 1 MiB / 684.1 = 1533 < 524288.
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
    assert load_accelerator("flightllm-vhk158").pe.resources()["dsp"][0] == 1366  # 4096/3


def test_vhk158_llama2_7b_matches_repo():
    acc = load_accelerator("flightllm-vhk158")
    res = simulate(acc, "llama-2-7b", prefill=128, decode=512, batch=1)
    assert res.tokens_per_s == pytest.approx(REPORTED_TPS, rel=0.10)
    assert res.ttft_s == pytest.approx(REPORTED_TTFT_S, rel=0.10)
