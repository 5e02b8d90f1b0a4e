"""Every bad input ends with exit code 2 and one line naming the file, the field and the
expectation; no traceback; nothing half-written."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from sim.cli import main

PRESET = "arch/presets/int8-systolic.yaml"


def _run(*args: str):
    res = CliRunner().invoke(main, list(args))
    return res.exit_code, res.stderr.strip(), res.stdout


def _arch(tmp_path, mutate) -> str:
    cfg = yaml.safe_load(open(PRESET))
    mutate(cfg)
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return str(p)


def _assert_clean(code: int, err: str, *needles: str) -> None:
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    for n in needles:
        assert n in err, (n, err)


def test_malformed_yaml(tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text("name: x\npe_array: [rows: 3\n")
    _assert_clean(*_run("run", str(p), "llama-2-7b")[:2], "broken.yaml", "line", "YAML")


def test_unknown_family(tmp_path):
    p = _arch(tmp_path, lambda c: c["pe_array"].update(family="quantum_pe"))
    _assert_clean(*_run("run", p, "llama-2-7b")[:2], "bad.yaml", "pe_array.family", "systolic_mac")


def test_unknown_field(tmp_path):
    p = _arch(tmp_path, lambda c: c.update(colour="red"))
    _assert_clean(*_run("run", p, "llama-2-7b")[:2], "bad.yaml", "colour", "known field")


def test_unknown_family_param(tmp_path):
    p = _arch(tmp_path, lambda c: c["pe_array"]["params"].update(warp_drive=True))
    _assert_clean(*_run("run", p, "llama-2-7b")[:2], "pe_array.params.warp_drive")


@pytest.mark.parametrize(
    "path,value",
    [
        (("pe_array", "rows"), 0),
        (("pe_array", "cols"), -4),
        (("frequency_mhz",), 0),
        (("memory", "buffers", "weight", "size_kib"), -1),
        (("memory", "dram", "bandwidth_gb_s"), 0),
    ],
)
def test_zero_or_negative_sizes(tmp_path, path, value):
    def mutate(c):
        d = c
        for k in path[:-1]:
            d = d[k]
        d[path[-1]] = value

    code, err, _ = _run("run", _arch(tmp_path, mutate), "llama-2-7b")
    _assert_clean(code, err, "bad.yaml", ".".join(path), "greater than 0")


def test_buffer_too_small_for_any_tile(tmp_path):
    p = _arch(tmp_path, lambda c: c["memory"]["buffers"]["weight"].update(size_kib=0.01))
    _assert_clean(*_run("run", p, "llama-2-7b")[:2], "bad.yaml", "memory.buffers", "too small")


def test_unknown_model():
    _assert_clean(*_run("run", PRESET, "llama-9-900b")[:2], "model", "llama-9-900b", "llama-2-7b")


def test_missing_config_file(tmp_path):
    missing = tmp_path / "nope" / "config.json"
    _assert_clean(*_run("run", PRESET, str(missing))[:2], "config.json")


def test_missing_arch_file(tmp_path):
    _assert_clean(*_run("run", str(tmp_path / "x.yaml"), "llama-2-7b")[:2], "x.yaml")


def test_unknown_arch_name():
    _assert_clean(*_run("run", "tpu-v99", "llama-2-7b")[:2], "tpu-v99", "int8-systolic")


def test_bad_format_lists_valid_names():
    _assert_clean(*_run("run", PRESET, "llama-2-7b", "--wq", "int99")[:2], "int99", "int8")


def test_format_the_array_cannot_run():
    _assert_clean(*_run("run", PRESET, "llama-2-7b", "--aq", "fp16")[:2], "INT8 MAC", "fp16")


def test_nothing_half_written(tmp_path):
    out = tmp_path / "out"
    code, err, _ = _run("run", PRESET, "llama-9-900b", "--out", str(out))
    assert code == 2 and not out.exists()


def test_out_dir_written_on_success(tmp_path):
    out = tmp_path / "out"
    code, _, _ = _run(
        "run", PRESET, "smollm2-135m", "--prefill", "16", "--decode", "2", "--out", str(out)
    )
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["ops.csv", "result.json", "summary.txt"]


def test_gemm_csv_bad_row(tmp_path):
    shapes = tmp_path / "in.csv"
    shapes.write_text("M,K,N,wq,aq\n1,4096,4096,int8,int8\n2,-5,7,int8,int8\n")
    out = tmp_path / "out.csv"
    _assert_clean(
        *_run("gemm", PRESET, "--shapes", str(shapes), "--out", str(out))[:2],
        "in.csv",
        "row 3 column K",
        "positive integer",
    )
    assert not out.exists()


def test_gemm_csv_bad_format_row(tmp_path):
    shapes = tmp_path / "in.csv"
    shapes.write_text("M,K,N,wq,aq\n1,64,64,int8,int8\n4,64,64,intX,int8\n")
    _assert_clean(
        *_run("gemm", PRESET, "--shapes", str(shapes), "--out", str(tmp_path / "o.csv"))[:2],
        "in.csv",
        "row 3",
        "intX",
    )


def test_gemm_csv_missing_column(tmp_path):
    shapes = tmp_path / "in.csv"
    shapes.write_text("M,K,N,wq\n1,64,64,int8\n")
    _assert_clean(
        *_run("gemm", PRESET, "--shapes", str(shapes), "--out", str(tmp_path / "o.csv"))[:2],
        "header",
        "aq",
    )


def test_gemm_csv_roundtrip(tmp_path):
    shapes = tmp_path / "in.csv"
    shapes.write_text("M,K,N,wq,aq\n1,4096,4096,int8,int8\n512,4096,4096,int4-g128,int8\n")
    out = tmp_path / "out.csv"
    code, _, _ = _run("gemm", PRESET, "--shapes", str(shapes), "--out", str(out))
    assert code == 0
    import pandas as pd

    df = pd.read_csv(out)
    assert list(df.columns[:8]) == ["M", "K", "N", "wq", "aq", "time_us", "cycles", "bound"]
    # decode GEMV: DRAM-bound (the 2048-bit fill bus outruns 64 B/cycle); prefill: compute
    assert list(df.bound) == ["memory", "compute"]
    assert df.cycles[0] == pytest.approx(128 * 4159 + 2048, rel=0.001)  # see test_cycles
