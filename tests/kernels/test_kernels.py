"""Functional kernels: bit-exact against GPU golden data (torch._int_mm / DGEMM on an H100),
FP paths within their stated bounds, numba == plain-numpy twins bit for bit, and the
hardware decompositions themselves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from kernels import bitserial, blockscaled, decoders, fpga_dsp, golden, lut, mixpe, twins
from kernels._common import (
    booth_terms,
    dequantize_partials,
    lod_terms,
    rn16,
)
from kernels.cases import CASES, check, reference


def _int_ref(a, w, gs):
    a = np.asarray(a, np.int64)
    w = np.asarray(w, np.int64)
    g = -(-a.shape[1] // gs)
    pad = g * gs - a.shape[1]
    a = np.pad(a, ((0, 0), (0, pad)))
    w = np.pad(w, ((0, 0), (0, pad)))
    return np.einsum("mgk,ngk->mng", a.reshape(len(a), g, gs), w.reshape(len(w), g, gs))


# ------------------------------------------------------------------ golden (GPU) data


GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"


@pytest.mark.parametrize("stem", sorted(golden.FILES))
def test_golden_recorded_on_gpu_match(stem):
    path = GOLDEN / f"{stem}.npz"
    z = np.load(path)
    assert "H100" in str(z["meta.device"])
    loaded = golden.load(path)
    assert [c.key for c, _, _ in loaded] == ["|".join(c) for c in golden.FILES[stem][1]]
    for case, inp, ref in loaded:
        assert ref is not None, case.key
        res = case.run(inp)
        if "partials" in res:  # integer datapath: bit-exact vs torch._int_mm / DGEMM
            np.testing.assert_array_equal(res["partials"], ref["partials"], err_msg=case.key)
            assert np.abs(ref["partials"]).max() > 50
        rows = check(case, inp, res, ref, "golden")
        assert all(r.ok for r in rows), (case.key, rows)
        assert np.abs(res["out"]).max() > 0.1


def test_golden_lut_is_bit_identical_to_numpy_fp16_twin():
    for _case, inp, _ in golden.load(GOLDEN / "lut.npz"):
        args = (inp["ref_a"], inp["w_codes"], inp["w_scales"], inp.get("w_zeros"))
        kw = {"bits": int(inp["bits"]), "group_size": int(inp["gs"])}
        np.testing.assert_array_equal(lut.lut_gemm(*args, **kw), twins.lut_gemm(*args, **kw))


def test_golden_files_small():
    total = sum(p.stat().st_size for p in GOLDEN.glob("*.npz"))
    assert 100_000 < total < 5_000_000


# ------------------------------------------------------------------ quant's real codes


def test_every_case_on_quant_codes_cpu_reference():
    """Odd sizes: K not a multiple of the group (128) nor of the MX block (32)."""
    rng = np.random.default_rng(7)
    for case in CASES:
        inp = case.make(rng, 6, 200, 18)
        res = case.run(inp)
        rows = check(case, inp, res, reference(case, inp, "cpu"), "6x200x18")
        assert all(r.ok for r in rows), (case.key, rows)
        if case.kind == "int":
            assert rows[0].exact


# ------------------------------------------------------------------ edge values, exactness


def test_integer_kernels_extreme_values_exact():
    rng = np.random.default_rng(3)
    m, k, n = 5, 301, 7
    a = rng.integers(-128, 128, (m, k)).astype(np.int8)
    a[0] = -128
    w8 = rng.integers(-128, 128, (n, k)).astype(np.int8)
    w8[0] = -128
    w4 = rng.integers(-8, 8, (n, k)).astype(np.int8)
    w4[1] = -8
    a4 = rng.integers(-8, 8, (m, k)).astype(np.int8)
    a4[0] = -8
    np.testing.assert_array_equal(bitserial.stripes_partials(a, w8, 8, 128), _int_ref(a, w8, 128))
    np.testing.assert_array_equal(bitserial.stripes_partials(a, w4, 4, 0), _int_ref(a, w4, k))
    np.testing.assert_array_equal(fpga_dsp.dsp_int8_partials(a, w8, 64), _int_ref(a, w8, 64))
    np.testing.assert_array_equal(fpga_dsp.dsp_int4_partials(a4, w4, 128), _int_ref(a4, w4, 128))
    np.testing.assert_array_equal(mixpe.mixpe_partials(a, w4, bits=4)[0], _int_ref(a, w4, 128))
    p, pexp = bitserial.bitmod_partials(a.astype(np.float16), w8, int_bits=8)
    assert pexp == -24
    np.testing.assert_array_equal(p, _int_ref(a, w8, 128) << 24)


def test_dsp_low_field_limit_is_real():
    """7 worst-case INT8 products fit the 18-bit low field; an 8th breaks the packing."""
    a = np.full((1, 8), -128, np.int64)
    w = np.full((2, 8), -128, np.int64)
    exact = _int_ref(a, w, 8)
    ok = fpga_dsp._dsp_int8_core(a, w, 8, 7)
    bad = fpga_dsp._dsp_int8_core(a, w, 8, 8)
    np.testing.assert_array_equal(ok, exact)
    assert not np.array_equal(bad, exact)
    with pytest.raises(ValueError):
        fpga_dsp.dsp_int8_partials(a, w, chain=8)


def test_twins_match_numba_bit_for_bit():
    import quant

    rng = np.random.default_rng(11)
    m, k, n = 6, 256, 10
    a8 = rng.integers(-127, 128, (m, k)).astype(np.int8)
    a16 = (rng.standard_normal((m, k)) * 4).astype(np.float16)
    w8 = rng.integers(-127, 128, (n, k)).astype(np.int8)
    np.testing.assert_array_equal(
        twins.dsp_int8_partials(a8, w8), fpga_dsp.dsp_int8_partials(a8, w8)
    )
    qo = quant.quantize(rng.standard_normal((n, k)).astype(np.float32), "olive-flint4")
    np.testing.assert_array_equal(
        twins.olive_partials(a16, qo.codes, qo.formats[0].table, qo.formats[1].table, k),
        decoders.olive_partials(a16, qo.codes, qo.formats[0].table, qo.formats[1].table)[0],
    )
    qb = quant.quantize(rng.standard_normal((n, k)).astype(np.float32), "bitmod-fp3-g128")
    tab = np.stack([f.table for f in qb.formats])
    nt, mu, sh, _ = bitserial.bitmod_tables(tab)
    part, pexp = bitserial.bitmod_partials(a16, qb.codes, tab, qb.types)
    np.testing.assert_array_equal(
        twins.terms_partials(
            a16, qb.codes.astype(np.int64) & 7, qb.types.astype(np.int64), nt, mu, sh, 128
        ),
        part,
    )
    np.testing.assert_array_equal(
        dequantize_partials(part, pexp, qb.scales, gs=128),
        twins.dequantize(part, pexp, qb.scales, gs=128),
    )
    qa = quant.quantize(rng.standard_normal((m, k)).astype(np.float32), "mxfp8-e4m3")
    qw = quant.quantize(rng.standard_normal((n, k)).astype(np.float32), "mxfp8-e4m3")
    t = qa.formats[0].table
    np.testing.assert_array_equal(
        blockscaled.mx_gemm(qa.codes, qa.scale_codes, t, qw.codes, qw.scale_codes, t),
        twins.mx_gemm(qa.codes, qa.scale_codes, t, qw.codes, qw.scale_codes, t),
    )


def test_term_decompositions():
    for v in range(-32, 32):
        assert sum(m << s for m, s in booth_terms(v, 6)) == v
        assert len(booth_terms(v, 6)) <= 3
    for v in range(-128, 128):
        assert len(booth_terms(v, 8)) <= 4
    # BitMoD FP4 grid values are sums of at most two powers of two (LOD)
    for v in (0, 1, 2, 3, 4, 6, 8, 10, 12, 16, -12, -10):
        t = lod_terms(v)
        assert sum(m << s for m, s in t) == v and len(t) <= 2
    assert lod_terms(12) == [(1, 3), (1, 2)]


def test_rn16_equals_ieee_half():
    from numba import njit

    @njit
    def f(x):
        fb = np.zeros(1, np.float32)
        ib = fb.view(np.int32)
        out = np.empty_like(x)
        for i in range(x.size):
            out[i] = rn16(x[i], fb, ib)
        return out

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(20000) * s for s in (1e-7, 1e-5, 1, 300, 3e4)])
    x = np.concatenate([x, [65504.0, 65519.0, 65520.0, -70000.0, 2.0**-25, 3 * 2.0**-26]])
    x = x.astype(np.float32)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(f(x), x.astype(np.float16).astype(np.float32))


def test_lut_bound_holds_and_is_meaningful():
    import quant

    rng = np.random.default_rng(5)
    a = rng.standard_normal((4, 512)).astype(np.float16)
    q = quant.quantize(rng.standard_normal((8, 512)).astype(np.float32), "int4-g128-asym")
    out = lut.lut_gemm(a, q.codes, q.scales, q.zeros, bits=4, group_size=128)
    ref = a.astype(np.float64) @ q.dequantize().astype(np.float64).T
    bnd = lut.lut_bound(a, q.codes, q.scales, q.zeros, bits=4, group_size=128)
    err = np.abs(out - ref)
    assert np.all(err <= bnd)
    assert err.max() > 0  # FP16 accumulation really rounds


# ------------------------------------------------------------------ CLI


def test_cli_verify_pass_fail_and_input_errors(monkeypatch):
    from sim.cli import main

    r = CliRunner().invoke(
        main, ["verify", "--family", "fpga_dsp", "--shapes", "4x96x6", "--device", "cpu"]
    )
    assert r.exit_code == 0, r.output
    assert (
        "fpga_dsp.dsp_int8_partials" in r.output and "PASS" in r.output and "FAIL" not in r.output
    )
    r = CliRunner().invoke(main, ["verify", "--family", "fpga_dsp", "--shapes", "4x9"])
    assert r.exit_code == 2
    r = CliRunner().invoke(main, ["verify", "--family", "nope"])
    assert r.exit_code == 2

    real = fpga_dsp._dsp_int8_core

    def one_bit_flipped(*args):
        out = real(*args)
        out[0, 0, 0] ^= 1
        return out

    monkeypatch.setattr(fpga_dsp, "_dsp_int8_core", one_bit_flipped)
    r = CliRunner().invoke(
        main, ["verify", "--family", "fpga_dsp", "--shapes", "4x96x6", "--device", "cpu"]
    )
    assert r.exit_code == 1 and "FAIL" in r.output


def test_cli_record_writes_only_into_the_given_directory(tmp_path):
    from sim.cli import main

    before = {p.name: p.stat().st_mtime_ns for p in GOLDEN.glob("*.npz")}
    args = ["verify", "int8-systolic", "--device", "cpu", "--shapes", "4x64x8"]
    r = CliRunner().invoke(main, [*args, "--golden", str(GOLDEN), "--record", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert {p.name: p.stat().st_mtime_ns for p in GOLDEN.glob("*.npz")} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(before)
    for case, _inp, ref in golden.load(tmp_path / "mixpe.npz"):
        stored = dict((c.key, r) for c, _, r in golden.load(GOLDEN / "mixpe.npz"))[case.key]
        # CPU int64 reference partials == the H100's torch._int_mm / DGEMM ones
        np.testing.assert_array_equal(ref["partials"], stored["partials"])
    assert str(np.load(tmp_path / "mixpe.npz")["meta.device"]) == "cpu"


# ------------------------------------------------------------------ Bit Fusion


def test_bitfusion_bricks_hand_worked():
    from kernels.bitfusion import bricks

    # -8 = 0b1000 (4 bits): slices (lo, hi) = (0, -2): 0 + 4*(-2) = -8
    # 7 = 0b0111: (3, 1) -> 3 + 4 = 7;  -1 = 0b1111: (3, -1) -> 3 - 4 = -1
    assert bricks(np.array([-8, 7, -1], np.int8), 4).T.tolist() == [[0, -2], [3, 1], [3, -1]]
    # unsigned 8-bit 200 = 0b11_00_10_00: slices 0, 2, 0, 3 (all unsigned)
    assert bricks(np.array([200], np.uint8), 8)[:, 0].tolist() == [0, 2, 0, 3]
    # 3-bit -3 = 0b101 -> two slices (1, -1): 1 - 4 = -3
    assert bricks(np.array([-3], np.int8), 3)[:, 0].tolist() == [1, -1]


@pytest.mark.parametrize("a_bits, w_bits", [(8, 4), (8, 2), (8, 8), (4, 4), (3, 5)])
def test_bitfusion_partials_exact(a_bits, w_bits):
    from kernels.bitfusion import bitfusion_partials

    rng = np.random.default_rng(a_bits * 16 + w_bits)
    a = rng.integers(-(2 ** (a_bits - 1)), 2 ** (a_bits - 1), (5, 300)).astype(np.int8)
    w = rng.integers(-(2 ** (w_bits - 1)), 2 ** (w_bits - 1), (7, 300)).astype(np.int8)
    part = bitfusion_partials(a, w, a_bits=a_bits, w_bits=w_bits, group_size=128)
    np.testing.assert_array_equal(part, _int_ref(a, w, 128))
    uw = rng.integers(0, 2**w_bits, (7, 300)).astype(np.uint8)  # asymmetric (unsigned) codes
    part = bitfusion_partials(a, uw, a_bits=a_bits, w_bits=w_bits, group_size=0)
    np.testing.assert_array_equal(part, _int_ref(a, uw, 300))
