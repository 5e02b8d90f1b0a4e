"""`sim verify PRESET` runs the kernel of the datapath the preset describes (issue 10, item
5): each PE family declares it (`verification()`), nothing in sim/ or kernels/ maps
families to kernels. A toy family defined in a test module verifies with no file touched."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from arch.accelerator import load_accelerator, preset_names
from sim.cli import main

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
SHAPES = "8x256x32,5x300x17"  # small; the second has a partial group and odd sizes

#: preset -> the kernels its datapath runs (module:function under kernels/).
EXPECTED = {
    "ant": {"kernels.decoders:ant_partials"},  # FP16 x INT8 MAC behind ANT decoders
    "olive": {"kernels.decoders:olive_partials"},  # OliVe outlier-victim decoder
    "bitfusion": {"kernels.bitfusion:bitfusion_partials"},  # 2-bit BitBricks
    "mixpe-w4a8": {"kernels.mixpe:mixpe_partials"},
    "mixpe-w4a16": {"kernels.mixpe:mixpe_partials"},
    "fp16-bitmod-baseline": {"kernels.mac:fp_mac_gemm"},  # mixpe mac fp16
    "bitmod": {"kernels.bitserial:bitmod_partials"},
    "bitmod-gen-w3": {"kernels.bitserial:bitmod_partials"},
    "bitmod-disc-w4": {"kernels.bitserial:bitmod_partials"},
    "bitmod-int6": {"kernels.bitserial:bitmod_partials"},
    "stripes": {"kernels.bitserial:stripes_partials"},  # INT16-parallel, bit terms
    "pragmatic": {"kernels.bitserial:stripes_partials"},  # Stripes datapath, zero terms skipped
    "int8-systolic": {"kernels.mac:int8_partials"},
    "fp16-systolic": {"kernels.mac:fp_mac_gemm"},
    "h100": {"kernels.mac:int8_partials", "kernels.mac:fp_mac_gemm"},  # int8, fp16, fp8
    "lut-tensor-core": {"kernels.lut:lut_gemm"},
    "tmac-cpu": {"kernels.lut:lut_gemm"},
    "flightllm-u280": {"kernels.fpga_dsp:dsp_int8_partials"},
    "flightllm-vhk158": {"kernels.fpga_dsp:dsp_int8_partials"},
    "bitmod-ant-disc": {"kernels.decoders:ant_partials"},
    "bitmod-olive-disc": {"kernels.decoders:olive_partials"},
    "bitmod-fp16-baseline-disc": {"kernels.mac:fp_mac_gemm"},
    "bitmod-int6-disc": {"kernels.bitserial:bitmod_partials"},
    "mixpe-fp16-baseline": {"kernels.mac:fp_mac_gemm"},
    "mixpe-fp16-baseline-32": {"kernels.mac:fp_mac_gemm"},
    "mixpe-fp16-baseline-64": {"kernels.mac:fp_mac_gemm"},
    "mixpe-int8-baseline": {"kernels.mac:int8_partials"},
    # ANT's own simulator's designs (benchmarks/fidelity/seed_systems.py --systems ant)
    "ant-sim": {"kernels.decoders:ant_partials"},  # ANT decoders on a BitFusion-style PE
    "ant-sim-ws": {"kernels.decoders:ant_partials"},
    "ant-sim-bitfusion": {"kernels.bitfusion:bitfusion_partials"},
    "ant-sim-olaccel": {"kernels.bitfusion:bitfusion_partials"},  # 4-bit PEs, outliers 8
    "ant-sim-adafloat": {"kernels.bitfusion:bitfusion_partials"},  # run as int8 on 4-bit PEs
    "ant-sim-biscaled": {"kernels.mac:int8_partials"},
}


def test_every_preset_names_its_kernel():
    assert set(EXPECTED) == set(preset_names()), "add the new preset's kernel here"


@pytest.mark.parametrize("preset", sorted(EXPECTED))
def test_preset_declares_its_datapath_kernel(preset):
    specs = load_accelerator(preset).pe.verification()
    assert {s.kernel for s in specs} == EXPECTED[preset]


def test_declared_formats_follow_the_datapath():
    def formats(name):
        return [f for s in load_accelerator(name).pe.verification() for f in s.formats]

    # ANT/OliVe PEs take FP16 activations (fp16_int8 MAC): the decoders get FP16 inputs.
    assert formats("ant") == [(w, "fp16") for w in ("ant4", "ant-flint4", "ant-pot4", "ant-int4")]
    assert formats("olive") == [("olive-int4", "fp16"), ("olive-flint4", "fp16")]
    assert {a for _, a in formats("mixpe-w4a8")} == {"int8"}
    assert {a for _, a in formats("mixpe-w4a16")} == {"fp16"}
    # fp16-systolic checks the FP MAC on FP16 operands, not the INT8 MAC.
    assert formats("fp16-systolic") == [("fp16", "fp16")]
    # h100: INT8 MAC + FP16/BF16/FP8 (its three precisions); no MX/NVFP4 (not Hopper).
    assert formats("h100") == [("int8", "int8"), ("fp16", "fp16"), ("bf16", "bf16"),
                               ("fp8-e4m3", "fp8-e4m3")]  # fmt: skip


@pytest.mark.parametrize("preset", sorted(EXPECTED))
def test_verify_every_preset_on_cpu(preset):
    res = CliRunner().invoke(main, ["verify", preset, "--device", "cpu", "--shapes", SHAPES])
    assert res.exit_code == 0, res.output
    head = res.output.splitlines()[0]
    assert head.startswith(f"{load_accelerator(preset).name} (family ")
    for kernel in EXPECTED[preset]:
        assert kernel in head
    short = {k.removeprefix("kernels.").replace(":", ".") for k in EXPECTED[preset]}
    rows = [ln.split()[0] for ln in res.output.splitlines()[3:-1]]
    assert rows and set(rows) == short  # only the declared kernels ran
    assert "FAIL" not in res.output


def test_golden_rows_for_a_preset():
    args = ["verify", "olive", "--device", "cpu", "--shapes", "8x64x16", "--golden", str(GOLDEN)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    # the olive-int4 / A fp16 decoder case was recorded on the H100 (32x576x192)
    golden = [ln for ln in res.output.splitlines() if "golden" in ln]
    assert len(golden) == 2 and all("olive-int4" in ln and "PASS" in ln for ln in golden)


def _toy_yaml(tmp_path, family):
    raw = yaml.safe_load(Path(load_accelerator("int8-systolic").source).read_text())
    raw["name"] = f"{family}-array"
    raw["pe_array"]["family"] = family
    path = tmp_path / f"{family}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_toy_family_verifies_with_no_project_file_touched(tmp_path, monkeypatch):
    import arch.families

    monkeypatch.setitem(
        arch.families.FAMILIES, "toy_signmag", "tests.kernels.toy_family:ToySignMagnitude"
    )
    path = _toy_yaml(tmp_path, "toy_signmag")
    res = CliRunner().invoke(main, ["verify", str(path), "--device", "cpu", "--shapes", SHAPES])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[0] == (
        "toy_signmag-array (family toy_signmag): tests.kernels.toy_family:signmag_partials"
    )
    # 2 formats x 2 shapes x (partials + out) rows, all passing
    assert "8/8 checks passed" in res.output


def test_toy_family_with_a_wrong_kernel_fails(tmp_path, monkeypatch):
    import arch.families

    monkeypatch.setitem(arch.families.FAMILIES, "toy_broken", "tests.kernels.toy_family:ToyBroken")
    path = _toy_yaml(tmp_path, "toy_broken")
    res = CliRunner().invoke(main, ["verify", str(path), "--device", "cpu", "--shapes", SHAPES])
    assert res.exit_code == 1, res.output
    assert "FAIL" in res.output and "0/8 checks passed" in res.output


def test_bitmod_preset_is_an_alias_not_a_copy():
    from arch.accelerator import PRESETS_DIR

    link = PRESETS_DIR / "bitmod.yaml"
    assert link.is_symlink() and link.resolve() == (PRESETS_DIR / "bitmod-gen-w3.yaml").resolve()
    assert load_accelerator("bitmod").config == load_accelerator("bitmod-gen-w3").config
    res = CliRunner().invoke(main, ["list", "presets"])
    line = next(ln for ln in res.output.splitlines() if ln.startswith("bitmod "))
    assert line.split() == ["bitmod", "bitserial", "alias", "of", "bitmod-gen-w3"]
