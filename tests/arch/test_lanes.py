"""Lanes are hardware (issue 9 item 6): a PE of L lanes has L copies of its per-lane
datapath, so area grows with R x C x L, and a MAC costs the same energy whatever the
lanes or the array size. Areas are hand-worked component sums at the presets' node
(28 nm); 45 nm units scale by (28/45)^2 in area and 28/45 in energy (arch/tech)."""

from __future__ import annotations

import pytest

from arch.arch import Arch
from arch.pe import Tile
from quant.info import format_info
from sim.engine import Coster
from workloads.ops import Op

F = format_info
A45 = (28 / 45) ** 2  # area scale of a 45 nm table unit at 28 nm
E45 = 28 / 45  # energy scale


def _pe(preset: str, **changes):
    arch = Arch.load(preset)
    if changes:
        arch = arch.replace({f"pe_array.{k}": v for k, v in changes.items()})
    return arch.accelerator.pe


# -- area: hand-worked component sums -------------------------------------------------


@pytest.mark.parametrize("lanes", [1, 2, 4, 8])
def test_bitmod_area_per_lane_and_per_pe(lanes):
    # BitMoD PE synthesis (28 nm, 4 lanes): exp-match 306.9 + bit-serial mul 748.3 are
    # per lane (1055.2 / 4 = 263.8 um^2 a lane); group accum 546.1 + dequant 192.4 =
    # 738.5 um^2 per PE. bitmod preset: 16 x 64 PEs.
    area = _pe("bitmod", lanes=lanes).area_um2()
    assert area["pe"] == pytest.approx(16 * 64 * (738.5 + 263.8 * lanes))
    # the preset itself (4 lanes) is the synthesized PE: 1024 x 1793.7
    if lanes == 4:
        assert area["pe"] == pytest.approx(1024 * 1793.7)


def test_bitmod_area_lanes_4_vs_1():
    a1 = _pe("bitmod", lanes=1).area_um2()["pe"]
    a4 = _pe("bitmod", lanes=4).area_um2()["pe"]
    # 1024 x 1793.7 = 1,836,748.8 vs 1024 x (738.5 + 263.8) = 1024 x 1002.3 = 1,026,355.2
    assert a4 == pytest.approx(1_836_748.8)
    assert a1 == pytest.approx(1_026_355.2)


@pytest.mark.parametrize("lanes", [4, 8, 16, 32])
def test_stripes_area(lanes):
    # SIP16 at 45 nm: 2560 um^2 = 16 lanes x 151.4375 (weight FFs + adder-tree input) +
    # 137 (shift-accumulator). stripes preset: 16 x 16 PEs at 28 nm.
    area = _pe("stripes", lanes=lanes).area_um2()["pe"]
    assert area == pytest.approx(256 * A45 * (137 + 151.4375 * lanes))


@pytest.mark.parametrize(
    ("preset", "rows", "cols", "unit_um2", "unit_nm"),
    [
        ("mixpe-w4a8", 64, 64, 440.0, 45),
        ("mixpe-w4a16", 32, 32, 1560.0, 45),
        ("bitfusion", 32, 32, 560.0, 45),
        ("fp16-bitmod-baseline", 12, 64, 1968.7, 28),
    ],
)
@pytest.mark.parametrize("lanes", [1, 2, 4])
def test_mixpe_area_scales_with_lanes(preset, rows, cols, unit_um2, unit_nm, lanes):
    scale = A45 if unit_nm == 45 else 1.0
    area = _pe(preset, lanes=lanes).area_um2()
    assert area == {"pe": pytest.approx(rows * cols * lanes * unit_um2 * scale)}


def test_mixpe_decoder_area_scales_with_lanes():
    # ant: 16 x 64 FP16xINT8 MACs (1318.6 um^2, 28 nm) + (16 + 64) x L ANT decoders
    # (80 um^2 at 45 nm)
    for lanes in (1, 4):
        area = _pe("ant", lanes=lanes).area_um2()
        assert area["pe"] == pytest.approx(16 * 64 * lanes * 1318.6)
        assert area["decoder"] == pytest.approx(80 * lanes * 80 * A45)


# -- energy per MAC: independent of lanes and array size ------------------------------


def _pj_per_mac(pe, m, k, n, a, b):
    cost = pe.tile_cost(Tile(m, k, n, F(a), F(b)))
    return cost.compute_pj / cost.macs


@pytest.mark.parametrize(
    ("preset", "a", "b", "pj"),
    [
        # MixPE W4A8 PE 0.689 pJ per lane-cycle (45 nm) at 2 int4 products per cycle, plus a
        # post-group dequantization (mul_fp16 1.1 + add_fp16 0.4, 45 nm) per 128 K elements
        ("mixpe-w4a8", "int8", "int4-g128", (0.689 / 2 + 1.5 / 128) * E45),
        # MixPE W4A16: 1.347 pJ per lane-cycle, 2 products per cycle, same dequantization
        ("mixpe-w4a16", "fp16", "int4-g128", (1.347 / 2 + 1.5 / 128) * E45),
        # Bit Fusion at int4 x int4: 4 products per fusion-unit cycle, per-channel scale once
        # per output (1.5 pJ / k)
        ("bitfusion", "int4", "int4", (0.689 / 4 + 1.5 / 512) * E45),
        # FP16 MAC (28 nm): 0.77 pJ per MAC, per-channel dequant 1.5 pJ * 28/45 per output
        ("fp16-bitmod-baseline", "fp16", "fp16", 0.77 + 1.5 * E45 / 512),
    ],
)
def test_mixpe_energy_per_mac_independent_of_lanes_and_array(preset, a, b, pj):
    seen = []
    for lanes in (1, 2, 4):
        for rows, cols in ((16, 16), (32, 64)):
            pe = _pe(preset, lanes=lanes, rows=rows, cols=cols)
            seen.append(_pj_per_mac(pe, 64, 512, 128, a, b))
    assert seen == pytest.approx([pj] * len(seen), rel=1e-12)


@pytest.mark.parametrize(
    ("preset", "a", "b", "pj"),
    [
        # BitMoD W3: 2 term cycles per weight, 0.586 pJ per 4-lane PE-cycle = 0.1465 pJ
        # per lane-cycle (28 nm): 0.293 pJ per MAC
        ("bitmod", "fp16", "bitmod-fp3-g128", 2 * 0.586 / 4),
        # Stripes: int8 activations, one bit-plane per cycle (8 cycles), 0.85 pJ per 16-lane
        # SIP cycle at 45 nm
        ("stripes", "int8", "int8", 8 * 0.85 / 16 * E45),
    ],
)
def test_bitserial_energy_per_mac_independent_of_lanes_and_array(preset, a, b, pj):
    seen = []
    for lanes in (1, 2, 4, 16):
        for rows, cols in ((16, 16), (32, 64)):
            pe = _pe(preset, lanes=lanes, rows=rows, cols=cols)
            seen.append(_pj_per_mac(pe, 64, 512, 128, a, b))
    assert seen == pytest.approx([pj] * len(seen), rel=1e-12)


def test_tmac_energy_per_mac_independent_of_simd_width_and_cores():
    # cpu_simd_op: 20 pJ per 128-bit instruction at 16 nm; 2 lookups (tbl + add) per
    # lanes x 4 activation x 1-bit products, table build and group-128 scale FMAs
    seen = []
    for lanes in (16, 32, 64):
        for rows in (1, 2, 8):
            pe = _pe("tmac-cpu", lanes=lanes, rows=rows)
            seen.append(_pj_per_mac(pe, 4, 512, 256, "int8", "int4"))
    # m=4, k=512, n=256, B=4 planes, lanes L: tbl+add 2*4*128*4*256/L, tables 4*128*8/L,
    # scale FMAs 4*256*4/(L/4); x 20*L/16 pJ -> L cancels
    per_l = 2 * 4 * 128 * 4 * 256 + 4 * 128 * 8 + 4 * 256 * 4 * 4
    assert seen == pytest.approx([per_l * 20 / 16 / (4 * 512 * 256)] * len(seen), rel=1e-12)


def test_whole_op_compute_energy_independent_of_lanes():
    # A whole mapped GEMM (engine tiling) on mixpe and bitserial presets: the datapath
    # energy of a 64 x 4096 x 4096 linear is the same with 1, 2 or 4 lanes.
    for preset, bq, aq in (("mixpe-w4a8", "int4-g128", "int8"), ("bitmod", "bitmod-fp3", "fp16")):
        o = Op("q_proj", "linear", "prefill", M=64, K=4096, N=4096, bq=bq, aq=aq)
        pj = [
            Coster(Arch.load(preset).replace({"pe_array.lanes": la}).accelerator).op(o).compute_pj
            for la in (1, 2, 4)
        ]
        assert pj == pytest.approx([pj[0]] * 3, rel=1e-12)


def test_lut_tensor_core_energy_per_mac_independent_of_array():
    # one lookup (mux 0.02 + exponent add 0.03*28/45 + FP16 accumulate 0.4*28/45) per
    # output per 4 K elements per weight bit-plane, + 14 table-building FP16 adds per
    # 4 activations per row (m * k/4 tables)
    look = 0.02 + (0.03 + 0.4) * E45
    m, k, n, planes = 64, 512, 512, 2
    expect = (m * n * (k // 4) * planes * look + m * (k // 4) * 14 * 0.4 * E45) / (m * k * n)
    for rows, cols in ((1, 1), (2, 4), (8, 8)):
        pe = _pe("lut-tensor-core", rows=rows, cols=cols)
        assert _pj_per_mac(pe, m, k, n, "int8", "int2") == pytest.approx(expect, rel=1e-12)
