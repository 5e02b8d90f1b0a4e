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
    _assert_clean(*_run("run", "tpu-v99", "llama-2-7b")[:2], "tpu-v99", "sim list presets")
    code, err = _run("run", "int8-systolc", "llama-2-7b")[:2]
    _assert_clean(code, err, "int8-systolc", "did you mean int8-systolic")


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
    # 16 MiB of int8 weights at 64 B/cycle = 262,144 cycles; plus the first load, one
    # DRAM latency (100 cycles) and the last tile's drain
    assert 262_144 < df.cycles[0] < 262_144 * 1.005


# ---- issue 12: hardening (each defect of the issue, by name) ------------------------------
PRESET_TEXT = open(PRESET).read()


def _yaml(tmp_path, text: str | bytes) -> str:
    p = tmp_path / "a.yaml"
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(p)


def test_billion_laughs_is_refused_fast(tmp_path):
    import time

    from tests.fuzz.corpus import laughs

    t0 = time.perf_counter()
    code, err, _ = _run("run", _yaml(tmp_path, laughs(9)), "llama-2-7b")
    line = PRESET_TEXT.count("\n") + 2  # the first anchor, after the preset's text
    _assert_clean(code, err, "a.yaml", f"line {line}:", "no YAML anchors or aliases")
    assert time.perf_counter() - t0 < 2 and len(err) < 300


@pytest.mark.parametrize(
    "old,new,needles",
    [
        ("frequency_mhz: 1000", "frequency_mhz: .inf", ("finite number",)),
        ("frequency_mhz: 1000", "frequency_mhz: 1e30", ("2**53",)),
        ("rows: 32", "rows: " + "9" * 5000, ("at most 20 digits",)),
        ("energy_pj_per_bit: 18.75", "energy_pj_per_bit: .inf", ("finite",)),
        ("rows: 32", "rows: 32\n  rows: 64", ("rows", "only once")),
        ("description: 32x32", "description: " + "[" * 500 + "]" * 500, ("nesting at most 64",)),
    ],
)
def test_yaml_numbers_and_keys(tmp_path, old, new, needles):
    p = _yaml(tmp_path, PRESET_TEXT.replace(old, new, 1))
    line = PRESET_TEXT[: PRESET_TEXT.index(old)].count("\n") + 1 + new.count("\n")
    _assert_clean(*_run("run", p, "llama-2-7b")[:2], "a.yaml", f"line {line}", *needles)


def test_undecodable_yaml(tmp_path):
    text = PRESET_TEXT.replace("description: 32x32", "description: caf\xe9").encode("latin-1")
    _assert_clean(*_run("gemm", _yaml(tmp_path, text), "1", "64", "64")[:2], "line 2", "UTF-8")


def test_misspelled_key_is_unknown_with_suggestion(tmp_path):
    p = _yaml(tmp_path, PRESET_TEXT.replace("bandwidth_gb_s", "bandwith_gb_s"))
    code, err, _ = _run("run", p, "llama-2-7b")
    _assert_clean(code, err, "memory.dram.bandwith_gb_s", "did you mean bandwidth_gb_s?")
    assert "missing" not in err


def test_h100_empty_split_k(tmp_path):
    h100 = open("arch/presets/h100.yaml").read()
    p = _yaml(tmp_path, h100.replace("split_k: [1, 2, 3, 4, 6, 8]", "split_k: []"))
    _assert_clean(*_run("gemm", p, "1", "64", "64")[:2], "pe_array.params.split_k", "at least 1")


def test_config_architectures_int_and_huge_hidden(tmp_path):
    import json

    cfg = json.load(open("workloads/configs/smollm2-135m.json"))
    p = tmp_path / "config.json"
    p.write_text(json.dumps({**cfg, "architectures": 5}))
    _assert_clean(
        *_run("run", PRESET, str(p))[:2], "architectures", "a list of class names (got 5)"
    )
    p.write_text(json.dumps({**cfg, "hidden_size": 1e30}))
    _assert_clean(*_run("run", PRESET, str(p))[:2], "hidden_size", "2**53")
    p.write_text(json.dumps({**cfg, "hidden_size": 10**12}))
    _assert_clean(*_run("run", PRESET, str(p))[:2], "hidden_size", "up to 2**24")


def test_usage_errors_are_one_line():
    code, err, _ = _run("run", PRESET, "llama-2-7b", "--batch", "1e18")
    _assert_clean(code, err, "sim run", "--batch", "'1e18' is not a valid integer range")
    _assert_clean(*_run("gemm", PRESET, "1e30", "4096", "4096")[:2], "sim gemm", "1e30")
    _assert_clean(*_run("verify", "--family", "systolic_mac", "--seed", "-1")[:2], "--seed")
    _assert_clean(*_run("run", PRESET, "llama-2-7b", "--decode", "1000000000")[:2], "131072")


def test_version_and_full_help():
    res = CliRunner().invoke(main, ["--version"])
    assert res.exit_code == 0 and res.stdout.startswith("sim ")
    help_text = " ".join(CliRunner().invoke(main, ["--help"]).stdout.split())
    assert (
        "..." not in help_text.split("Commands:")[1]
        and "(speedup, energy efficiency, area vs baseline)" in help_text
    )
    run_help = " ".join(CliRunner().invoke(main, ["run", "--help"]).stdout.split())
    assert "preset name" in run_help and "trace directory" in run_help


def test_gemm_csv_unicode_digits_ragged_and_duplicate_columns(tmp_path):
    shapes, out = tmp_path / "in.csv", tmp_path / "o.csv"
    cases = {
        "M,K,N,wq,aq\n1,4096²,64,int8,int8\n": ("row 2 column K", "'4096²'"),
        "M,K,N,wq,aq\n1,64,64,int8,int8,extra\n": ("row 2", "5 fields like the header (got 6)"),
        "M,K,N,wq,aq,M\n1,64,64,int8,int8,2\n": ("header", "each column once ('M' repeated)"),
        "M,K,N,wq,aq\n1e30,64,64,int8,int8\n": ("row 2 column M", "up to 2**24"),
    }
    for text, needles in cases.items():
        shapes.write_text(text)
        code, err, _ = _run("gemm", PRESET, "--shapes", str(shapes), "--out", str(out))
        _assert_clean(code, err, "in.csv", *needles)
        assert not out.exists()


def test_out_onto_fifo_is_refused_and_kept(tmp_path):
    import os
    import stat

    fifo = tmp_path / "o.csv"
    os.mkfifo(fifo)
    shapes = tmp_path / "in.csv"
    shapes.write_text("M,K,N,wq,aq\n1,64,64,int8,int8\n")
    code, err, _ = _run("gemm", PRESET, "--shapes", str(shapes), "--out", str(fifo))
    _assert_clean(code, err, "o.csv", "a FIFO, socket or device", "refusing to replace")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_outputs_honour_umask_and_replace_as_a_set(tmp_path):
    import os

    old = os.umask(0o027)
    try:
        out = tmp_path / "res"
        args = ["run", PRESET, "smollm2-135m", "--prefill", "8", "--decode", "1", "--out", str(out)]
        assert _run(*args)[0] == 0
        assert oct(os.stat(out).st_mode & 0o777) == oct(0o750)
        assert {oct(os.stat(p).st_mode & 0o777) for p in out.iterdir()} == {oct(0o640)}
        (out / "stale.txt").write_text("from an older run")
        assert _run(*args)[0] == 0
        assert sorted(p.name for p in out.iterdir()) == ["ops.csv", "result.json", "summary.txt"]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]  # no temporaries
    finally:
        os.umask(old)


def test_unique_temp_names_and_sweep_of_dead_writers(tmp_path):
    from common.files import sweep, write_atomic

    dead = tmp_path / ".out.csv.sim-999999999-abcd.tmp"
    dead.write_text("left by a killed run")
    live = tmp_path / f".out.csv.sim-{__import__('os').getpid()}-abcd.tmp"
    live.write_text("being written by a live process")
    write_atomic(tmp_path / "out.csv", "a,b\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "out.csv"]
    # a directory parked aside by a writer killed between its two renames is put back
    (tmp_path / ".res.sim-999999999-ab.old").mkdir()
    assert sweep(tmp_path) == [".res.sim-999999999-ab.old"] and (tmp_path / "res").is_dir()


def test_trace_flags_and_integrity(tmp_path):
    import json

    from tests.fuzz.corpus import good_trace_meta

    t = tmp_path / "t"
    t.mkdir()
    (t / "trace.json").write_text(json.dumps(good_trace_meta()))
    code, err, _ = _run("run", PRESET, str(t), "--prefill", "99")
    _assert_clean(code, err, "--prefill", "its run fixes them")
    meta = good_trace_meta()
    meta["run"]["decode_steps"] = 5
    (t / "trace.json").write_text(json.dumps(meta))
    _assert_clean(*_run("run", PRESET, str(t))[:2], "trace.json", "decode ops")
    meta = good_trace_meta()
    meta["tensors"] = {"a": {"dtype": "F32", "shape": [2]}}
    (t / "trace.json").write_text(json.dumps(meta))
    _assert_clean(*_run("trace", "show", str(t))[:2], "tensors_file record")
    (t / "trace.json").write_text(json.dumps({**good_trace_meta(), "ops": []}))
    _assert_clean(*_run("run", PRESET, str(t))[:2], "ops", "at least one op")


def test_empty_format_names():
    _assert_clean(*_run("run", PRESET, "llama-2-7b", "--wq", "")[:2], "--wq", "a format name")
    _assert_clean(*_run("accuracy", "smollm2-135m", "--wq", "")[:2], "--wq", "format names")


def test_trace_export_does_not_import_from_cwd(tmp_path):
    import os
    import subprocess
    import sys

    (tmp_path / "safetensors.py").write_text(
        "open('PWNED', 'w').write('x')\ndef evil():\n    raise SystemExit(0)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    p = subprocess.run(
        [sys.executable, "-P", "-m", "sim", "trace", "export", "safetensors:evil", "--out", "x"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert not (tmp_path / "PWNED").exists() and not (tmp_path / "x").exists()


def test_compare_report_dir_holds_csv_and_yaml_is_labelled_by_name(tmp_path):
    cfg = yaml.safe_load(open(PRESET))
    cfg["name"] = "my-int8"
    p = tmp_path / "mine.yaml"
    p.write_text(yaml.safe_dump(cfg))
    rep = tmp_path / "rep"
    args = ["compare", "int8-systolic", str(p), "--model", "smollm2-135m", "--prefill", "8"]
    res = CliRunner().invoke(main, [*args, "--decode", "1", "--report", str(rep)])
    assert res.exit_code == 0, res.output
    names = {x.name for x in rep.iterdir()}
    # compare's own table and bars, inside the one report builder's index.html + figures
    assert {"compare.csv", "compare.md", "compare.png", "index.html", "report.md"} <= names
    import pandas as pd

    df = pd.read_csv(rep / "compare.csv")
    assert list(df.arch) == ["int8-systolic", "my-int8"]
    md = (rep / "compare.md").read_text()
    assert "prefill_speedup" in md and "| my-int8 " in md
    assert not (tmp_path / "compare.csv").exists()


def test_to_dataframe_has_the_columns_of_ops_csv(tmp_path):
    import pandas as pd

    from sim.api import simulate

    out = tmp_path / "res"
    args = ["run", PRESET, "smollm2-135m", "--prefill", "8", "--decode", "1", "--out", str(out)]
    assert _run(*args)[0] == 0
    df = simulate(PRESET, "smollm2-135m", prefill=8, decode=1).to_dataframe()
    csv = pd.read_csv(out / "ops.csv", keep_default_na=False)
    assert list(df.columns) == list(csv.columns)
    assert df.energy_j.tolist() == pytest.approx(
        (df.energy_compute_j + df.energy_sram_j + df.energy_dram_j).tolist()
    )
    assert df.energy_j.sum() == pytest.approx(csv.energy_j.sum(), rel=1e-12)


def _set(path, value):
    def mutate(c):
        d = c
        for k in path[:-1]:
            d = d[k]
        d[path[-1]] = value

    return mutate


@pytest.mark.parametrize(
    "path,value,needle",
    [
        (("pe_array", "rows"), True, "pe_array.rows: Input should be a valid integer (got True)"),
        (("pe_array", "cols"), 32.0, "pe_array.cols: Input should be a valid integer (got 32.0)"),
        (("pe_array", "lanes"), "4", "pe_array.lanes: Input should be a valid integer"),
        (("memory", "buffers", "weight", "banks"), True, "weight.banks: Input should be a valid"),
        (("kernel_overhead_cycles",), False, "kernel_overhead_cycles: Input should be a valid"),
        (("technology_nm",), 2, "technology_nm: Input should be greater than or equal to 3"),
        (("technology_nm",), 181, "technology_nm: Input should be less than or equal to 180"),
        (("technology_nm",), True, "technology_nm: Input should be a valid integer"),
    ],
)
def test_arch_integers_are_strict_and_node_in_range(tmp_path, path, value, needle):
    """YAML `true` is not 1 and 32.0 is not 32; the node lies in 3..180 nm (arch/schema.py)."""
    p = _arch(tmp_path, _set(path, value))
    _assert_clean(*_run("gemm", p, "1", "64", "64")[:2], "bad.yaml", needle)


def test_node_range_ends_are_accepted_and_scale_area(tmp_path):
    """3 and 180 nm are valid; the MAC array's area scales with node^2 (area_exponent in
    arch/tech/tables.yaml)."""
    from arch.accelerator import load_accelerator

    areas = {}
    for nm in (3, 180):
        p = tmp_path / f"n{nm}.yaml"
        cfg = yaml.safe_load(open(PRESET))
        cfg["technology_nm"] = nm
        p.write_text(yaml.safe_dump(cfg))
        areas[nm] = load_accelerator(str(p)).pe.area_um2()
    assert areas[180]["mac"] == pytest.approx(areas[3]["mac"] * (180 / 3) ** 2, rel=1e-12)


def test_trace_format_the_arch_cannot_run_blames_the_trace(tmp_path):
    """A trace exported with kvq=int8 run on lut-tensor-core (int2..int4 B operands): the
    error names trace.json, the op's index and formats, not the preset (issue 12)."""
    import json

    from tests.fuzz.corpus import good_trace_meta

    meta = good_trace_meta()
    fc = dict(meta["ops"][0], wq="int4", aq="fp16")
    qk = dict(fc, name="qk", kind="attn_qk", wq="int8")
    meta["ops"] = [fc, dict(fc, name="fc2"), qk]
    t = tmp_path / "t"
    t.mkdir()
    (t / "trace.json").write_text(json.dumps(meta))
    code, err, _ = _run("run", "lut-tensor-core", str(t))
    _assert_clean(
        code,
        err,
        f"error: {t}/trace.json: ops.2 (attn_qk qk, kvq int8, aq fp16): formats "
        "lut-tensor-core can run (a LUT array takes integer weights/KV of 1..4 bits",
    )
    assert "lut-tensor-core.yaml" not in err
    # the same format given by --kvq is blamed on the option; --kvq int4 runs
    code, err, _ = _run("run", "lut-tensor-core", str(t), "--kvq", "int8")
    _assert_clean(code, err, "ops.2 (attn_qk qk, kvq int8 from --kvq, aq fp16)")
    code, _, out = _run("run", "lut-tensor-core", str(t), "--kvq", "int4", "--format", "json")
    assert code == 0 and json.loads(out)["formats"]["kvq"] == "int4"


def test_run_csv_totals_rows_match_the_summary():
    """`run --format csv --totals`: the per-op rows as without it, then one total row per
    phase and a whole-run row equal to the JSON summary's totals; only with --format csv."""
    import io
    import json

    import pandas as pd

    args = ["run", PRESET, "smollm2-135m", "--prefill", "8", "--decode", "2"]
    code, _, plain = _run(*args, "--format", "csv")
    assert code == 0
    code, _, with_totals = _run(*args, "--format", "csv", "--totals")
    assert code == 0
    s = json.loads(_run(*args, "--format", "json")[2])
    ops = pd.read_csv(io.StringIO(plain), keep_default_na=False)
    df = pd.read_csv(io.StringIO(with_totals), keep_default_na=False)
    assert with_totals.startswith(plain.rstrip("\n"))  # the per-op rows unchanged
    tot = df.iloc[len(ops) :].set_index("phase")
    assert list(tot.index) == ["prefill", "decode", "total"] and set(tot.name) == {"total"}
    assert set(tot.M) == {""} and set(tot.bound) == {""}
    for phase in ("prefill", "decode"):
        part = ops[ops.phase == phase]
        assert tot.loc[phase, "count"] == part["count"].sum()
        assert tot.loc[phase, "cycles"] == pytest.approx(part.cycles.sum(), rel=1e-12)
        assert tot.loc[phase, "energy_j"] == pytest.approx(part.energy_j.sum(), rel=1e-12)
    assert tot.loc["prefill", "time_s"] == pytest.approx(s["ttft_s"], rel=1e-12)
    assert tot.loc["decode", "time_s"] == pytest.approx(s["tpot_s"] * 2, rel=1e-12)
    assert tot.loc["total", "cycles"] == pytest.approx(s["total_cycles"], rel=1e-12)
    assert tot.loc["total", "time_s"] == pytest.approx(s["total_time_s"], rel=1e-12)
    assert tot.loc["total", "energy_j"] == pytest.approx(s["energy_j"], rel=1e-12)
    assert tot.loc["total", "utilization"] == pytest.approx(s["utilization"], rel=1e-12)
    assert tot.loc["total", "macs"] == ops.macs.sum()
    _assert_clean(*_run(*args, "--totals")[:2], "--totals: --format table: --format csv")


def test_gemm_kvq_sets_the_b_operand_of_attention_kinds(tmp_path):
    """`sim gemm --kind attn_qk|attn_pv --kvq F`: the KV cache is the B operand. On
    int8-systolic (no attention fusion) a 1 x 64 x 1024 QK^T moves the K cache (64 x 1024
    elements), the query row (64 int8 bytes) and the scores (1024 int8 bytes): 65,536 +
    64 + 1,024 bytes with an int8 cache, 32,768 + 64 + 1,024 with int4."""
    import json

    dims = ("1", "64", "1024")
    code, _, out = _run("gemm", PRESET, *dims, "--kind", "attn_qk", "--format", "json")
    assert code == 0
    r8 = json.loads(out)
    assert (r8["kind"], r8["wq"], r8["kvq"], r8["aq"]) == ("attn_qk", "", "int8", "int8")
    assert r8["dram_bytes"] == 65_536 + 64 + 1_024
    args = ("gemm", PRESET, *dims, "--kind", "attn_qk", "--kvq", "int4", "--format", "json")
    r4 = json.loads(_run(*args)[2])
    assert r4["kvq"] == "int4" and r4["dram_bytes"] == 32_768 + 64 + 1_024
    # attn_pv: 1 x 1024 probabilities times a 1024 x 64 V cache (int4: 32,768 bytes)
    args = ("gemm", PRESET, "1", "1024", "64", "--kind", "attn_pv", "--kvq", "int4")
    rp = json.loads(_run(*args, "--format", "json")[2])
    assert rp["kind"] == "attn_pv" and rp["dram_bytes"] == 1_024 + 32_768 + 64
    # the option that does not apply to the kind is an error, not ignored
    _assert_clean(*_run("gemm", PRESET, *dims, "--kvq", "int4")[:2], "--kvq: --kind linear")
    code, err, _ = _run("gemm", PRESET, *dims, "--kind", "attn_pv", "--wq", "int4")
    _assert_clean(code, err, "--wq: --kind attn_pv: --kvq")
    # a KV format the array cannot run names the option, not the arch file
    code, err, _ = _run("gemm", "lut-tensor-core", *dims, "--kind", "attn_qk", "--kvq", "int8")
    _assert_clean(code, err, "arguments: attn_qk kvq int8 (--kvq), aq fp16 (lut-tensor-core")
    assert ".yaml" not in err
    code, _, out = _run("gemm", "--help")
    assert "--kvq" in out and "KV-cache" in out and "attn_qk" in out


def test_gemm_csv_kind_and_kvq_columns(tmp_path):
    """Optional CSV columns kind and kvq: an attention row gives kvq (wq empty), a linear
    row wq (kvq empty); the output carries both, equal to the one-GEMM command."""
    import json

    import pandas as pd

    shapes = tmp_path / "in.csv"
    shapes.write_text("M,K,N,wq,aq,kind,kvq\n1,64,1024,,int8,attn_qk,int4\n1,64,64,int8,int8,,\n")
    out = tmp_path / "out.csv"
    assert _run("gemm", PRESET, "--shapes", str(shapes), "--out", str(out))[0] == 0
    df = pd.read_csv(out, keep_default_na=False)
    assert list(df.columns[-2:]) == ["kind", "kvq"]
    assert df.kind.tolist() == ["attn_qk", "linear"] and df.kvq.tolist() == ["int4", ""]
    assert df.wq.tolist() == ["", "int8"]
    one = json.loads(
        _run(
            "gemm",
            PRESET,
            "1",
            "64",
            "1024",
            "--kind",
            "attn_qk",
            "--kvq",
            "int4",
            "--format",
            "json",
        )[2]
    )
    assert df.cycles[0] == one["cycles"] and df.dram_bytes[0] == 32_768 + 64 + 1_024
    shapes.write_text("M,K,N,wq,aq,kind,kvq\n1,64,64,int8,int8,attn_pv,int8\n")
    code, err, _ = _run("gemm", PRESET, "--shapes", str(shapes), "--out", str(out))
    _assert_clean(code, err, "in.csv: row 2 column wq: empty on attn_pv rows")
    code, err, _ = _run("gemm", PRESET, "--shapes", str(shapes), "--out", str(out), "--kvq", "int4")
    _assert_clean(code, err, "--kvq: --shapes: no --kind/--wq/--aq/--kvq with --shapes")


# ---- the accuracy cache verifies its rows (issue 12: hand-edited rows) -----------------------
def _sealed_reference(tmp_path, perplexity: float):
    """A sealed reference row of `sim accuracy smollm2-135m --wq reference` over a small
    text (64 tokens, windows of 32), as the CLI would key it; returns (path, argv)."""
    import hashlib

    from workloads import accuracy as acc

    text = tmp_path / "t.txt"
    text.write_text("The quick brown fox jumps over the lazy dog. " * 40, encoding="utf-8")
    sha = hashlib.sha256(text.read_bytes()).hexdigest()
    key = acc.cache_key(
        "smollm2-135m",
        "reference",
        None,
        None,
        text_sha256=sha,
        tokens=64,
        window=32,
        stride=32,
        quantize_lm_head=False,
        quant_hash=acc._quant_source_hash(),
    )
    row = {"format": "reference", "aq": None, "kvq": None, "perplexity": perplexity}
    row.update(nll_sum=0.0, tokens_scored=62, seconds=1.0, torch_threads=1)
    path = tmp_path / "cache" / "accuracy" / f"{key}.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(acc.seal_row(key, row))
    argv = ["accuracy", "smollm2-135m", "--wq", "reference", "--text", str(text)]
    argv += ["--tokens", "64", "--window", "32", "--stride", "32", "--format", "json"]
    return path, key, row, argv


def test_accuracy_cache_rows_verify(tmp_path):
    """read_cached_row: a sealed row reads back; an edited value, a row copied under
    another key, an unsealed (older) row, a NaN and a truncated file each give None and
    one warning line naming the file and the reason."""
    import json

    from workloads.accuracy import read_cached_row, seal_row

    path, key, row, _ = _sealed_reference(tmp_path, 7.873)
    item = ("reference", None, None)
    warnings: list[str] = []
    assert read_cached_row(path, key, item, warnings.append) == row and warnings == []
    assert read_cached_row(path.with_name("none.json"), key, item, warnings.append) is None
    assert warnings == []  # no row is not a bad row

    def check(data: bytes, reason: str, k: str = key) -> None:
        path.write_bytes(data)
        warnings.clear()
        assert read_cached_row(path, k, item, warnings.append) is None
        assert len(warnings) == 1 and "\n" not in warnings[0], warnings
        assert str(path) in warnings[0] and reason in warnings[0], warnings[0]

    doc = json.loads(seal_row(key, row))
    doc["row"]["perplexity"] = 5.0  # hand-edited: a better result
    check(json.dumps(doc).encode(), "checksum mismatch (the row was edited)")
    check(seal_row(key, row), "stored under another key", k="0" * 64)
    check(json.dumps(row).encode(), "not a sealed row")
    check(seal_row(key, row)[:40], "unreadable")
    check(seal_row(key, dict(row, format="int4")), "fields disagree with the key")
    check(seal_row(key, dict(row, tokens_scored=True)), "tokens_scored is not a positive")
    doc = json.loads(seal_row(key, row))
    check(json.dumps(doc).replace("7.873", "NaN").encode(), "checksum mismatch")


def test_accuracy_cli_uses_a_sealed_row_without_the_model(tmp_path, monkeypatch):
    import json

    path, _, _, argv = _sealed_reference(tmp_path, 20.0)
    monkeypatch.setenv("SIM_CACHE_DIR", str(tmp_path / "cache"))
    code, err, out = _run(*argv)
    assert code == 0 and "warning" not in err, err
    doc = json.loads(out)
    assert doc["rows"][0]["perplexity"] == 20.0 and doc["meta"]["all_cached"] is True


@pytest.mark.slow
def test_accuracy_cli_recomputes_a_tampered_row(tmp_path, monkeypatch):
    """A cached row edited by hand (perplexity 20.0 -> 10.0) is not printed: one warning
    line, the row computed again on the real model (7.873 on this text, as measured by
    `sim accuracy` without a cache), the file sealed again with the real value."""
    import json

    from workloads.smollm2 import gguf_path

    path, key, _, argv = _sealed_reference(tmp_path, 20.0)
    model_dir = gguf_path().parent  # downloads the model first on a fresh machine
    (tmp_path / "cache" / "smollm2").symlink_to(model_dir, True)  # model cache
    monkeypatch.setenv("SIM_CACHE_DIR", str(tmp_path / "cache"))
    path.write_text(path.read_text().replace('"perplexity": 20.0', '"perplexity": 10.0'))
    code, err, out = _run(*argv)
    assert code == 0
    warn = [ln for ln in err.splitlines() if ln.startswith("warning:")]
    assert len(warn) == 1 and "checksum mismatch (the row was edited)" in warn[0], err
    ppl = json.loads(out)["rows"][0]["perplexity"]
    assert ppl == pytest.approx(7.873, abs=5e-4)
    doc = json.loads(path.read_text())
    # (--format json prints 10 significant digits: pandas to_json)
    assert doc["key"] == key and doc["row"]["perplexity"] == pytest.approx(ppl, rel=1e-9)
    code, err, out = _run(*argv)  # now cached, verified, no warning
    assert code == 0 and "warning" not in err
    assert json.loads(out)["rows"][0]["perplexity"] == ppl and json.loads(out)["meta"]["all_cached"]
    # on a terminal: bars over the rows computed and over each row's windows (2 of 32)
    env = {"SIM_CACHE_DIR": str(tmp_path / "cache")}
    code, tty, out = _stderr_on_a_tty([*argv, "--recompute"], env)
    assert code == 0 and json.loads(out)["rows"][0]["perplexity"] == ppl
    assert "accuracy rows:   0%|" in tty and "| 0/1 [" in tty, tty
    assert "windows:   0%|" in tty and "| 0/2 [" in tty, tty


# ---- progress bars: on a terminal only, off with --quiet (common/progress.py) ---------------
def _stderr_on_a_tty(argv: list[str], env: dict | None = None) -> tuple[int, str, str]:
    """Run `python -m sim ARGV` with stderr on a pseudo-terminal (stdout a pipe): (exit
    code, what the terminal got, stdout)."""
    import fcntl
    import os
    import pty
    import select
    import struct
    import subprocess
    import sys
    import termios
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    master, slave = pty.openpty()
    # a terminal of 24 x 100 characters (a new pty has 0 x 0, where tqdm draws nothing)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    p = subprocess.Popen(
        [sys.executable, "-P", "-m", "sim", *argv],
        stdout=subprocess.PIPE,
        stderr=slave,
        cwd=root,
        env={**os.environ, **(env or {})},
    )
    os.close(slave)
    tty = b""
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:  # the child closed its end
                break
            if not chunk:
                break
            tty += chunk
        elif p.poll() is not None:
            break
    out = p.stdout.read().decode()
    p.wait(timeout=300)
    os.close(master)
    return p.returncode, tty.decode(errors="replace"), out


def test_verify_progress_bar_on_a_terminal_only():
    argv = ["verify", "--family", "systolic_mac", "--shapes", "4x64x8,8x64x8"]
    code, tty, out = _stderr_on_a_tty(argv)
    assert code == 0 and "6/6 checks passed" in out
    # the bar over (kernel, shape) pairs, 2 kernels x 2 shapes (int8_partials checks
    # partials and outputs: 6 checks), drawn at 0/4 and cleared at the end (leave=False)
    assert "\rverify cases:   0%|" in tty and "| 0/4 [" in tty, tty
    assert tty.endswith(" " * 50 + "\r"), tty
    code, tty, out = _stderr_on_a_tty(["--quiet", *argv])
    assert code == 0 and "6/6 checks passed" in out and "verify cases" not in tty, tty
    code, err, _ = _run(*argv)  # CliRunner: stderr is not a terminal, no bar
    assert code == 0 and "verify cases" not in err
