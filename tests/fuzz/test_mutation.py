"""Hypothesis-driven mutation of valid inputs (issue 12): an arch YAML, a config.json, a
shapes CSV and a trace.json are mutated (bytes flipped, inserted, deleted; values replaced
by hostile ones) and each mutant must either be accepted (exit 0) or end with exit code 2
and one `error:` line on stderr, in bounded time, never a traceback."""

from __future__ import annotations

import json
import os
import signal
import tempfile
from pathlib import Path

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.cli import main
from tests.fuzz.corpus import CONFIG, GOOD_CSV, PRESET_TEXT, good_trace_meta
from tests.fuzz.corpus_dse import GOOD_SPEC

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # CI reproducible; the corpus tests cover the named cases
)
HOSTILE = st.sampled_from(
    [
        None,
        True,
        -1,
        0,
        2**64,
        10**30,
        1e308,
        -1e-308,
        "",
        "x" * 1000,
        [],
        {},
        [[[]]],
        {"a": {"b": 1}},
        "nan",
        "1e400",
        "∞",
        "\x00",
        float("inf"),
        float("nan"),
    ]
)


class _Timeout(BaseException):
    pass


def _invoke(args: list[str], cwd) -> int:
    def alarm(signum, frame):
        raise _Timeout()

    old_dir, old = os.getcwd(), signal.signal(signal.SIGALRM, alarm)
    os.chdir(cwd)
    signal.alarm(30)
    try:
        res = CliRunner().invoke(main, args, catch_exceptions=True)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        os.chdir(old_dir)
    exc = res.exception
    assert exc is None or isinstance(exc, SystemExit), (args, repr(exc))
    if res.exit_code != 0:
        lines = res.stderr.strip().splitlines()
        assert res.exit_code == 2 and len(lines) == 1, (res.exit_code, res.stderr[-500:])
        assert lines[0].startswith("error: ") and len(lines[0]) <= 300
    return res.exit_code


def _mutate_bytes(data: bytes, ops) -> bytes:
    b = bytearray(data)
    for kind, pos, val in ops:
        if not b:
            break
        i = pos % len(b)
        if kind == 0:
            b[i] = val
        elif kind == 1:
            b.insert(i, val)
        else:
            del b[i]
    return bytes(b)


BYTE_OPS = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=6
)


def _paths(d: dict, prefix=()):
    for k, v in d.items():
        yield (*prefix, k)
        if isinstance(v, dict):
            yield from _paths(v, (*prefix, k))


def _replace(d: dict, path, value) -> dict:
    d = json.loads(json.dumps(d))
    cur = d
    for k in path[:-1]:
        cur = cur[k]
    cur[path[-1]] = value
    return d


ARCH = yaml.safe_load(PRESET_TEXT)
ARCH_PATHS = sorted(_paths(ARCH))


@SETTINGS
@given(ops=BYTE_OPS)
def test_arch_yaml_byte_mutants(tmp_path, ops):
    (tmp_path / "a.yaml").write_bytes(_mutate_bytes(PRESET_TEXT.encode(), ops))
    _invoke(["gemm", str(tmp_path / "a.yaml"), "4", "64", "64"], tmp_path)


@SETTINGS
@given(path=st.sampled_from(ARCH_PATHS), value=HOSTILE)
def test_arch_yaml_value_mutants(tmp_path, path, value):
    mutant = _replace(ARCH, path, value) if value == value else _replace(ARCH, path, ".nan")
    text = yaml.safe_dump(mutant, allow_unicode=True)
    (tmp_path / "a.yaml").write_text(text)
    _invoke(["gemm", str(tmp_path / "a.yaml"), "4", "64", "64"], tmp_path)


@SETTINGS
@given(key=st.sampled_from(sorted(CONFIG)), value=HOSTILE, ops=st.one_of(st.none(), BYTE_OPS))
def test_config_json_mutants(tmp_path, key, value, ops):
    text = json.dumps({**CONFIG, key: value}).encode()
    if ops is not None:
        text = _mutate_bytes(text, ops)
    (tmp_path / "config.json").write_bytes(text)
    _invoke(
        [
            "run",
            "int8-systolic",
            str(tmp_path / "config.json"),
            "--prefill",
            "4",
            "--decode",
            "1",
            "--format",
            "json",
        ],
        tmp_path,
    )


@SETTINGS
@given(ops=BYTE_OPS)
def test_shapes_csv_mutants(tmp_path, ops):
    (tmp_path / "in.csv").write_bytes(_mutate_bytes(GOOD_CSV.encode(), ops))
    (tmp_path / "out.csv").write_bytes(b"previous\n")
    _invoke(["gemm", "int8-systolic", "--shapes", "in.csv", "--out", "out.csv"], tmp_path)


TRACE = good_trace_meta()
TRACE_PATHS = sorted(_paths(TRACE)) + [("ops", 0, k) for k in TRACE["ops"][0]]


@SETTINGS
@given(path=st.sampled_from(TRACE_PATHS), value=HOSTILE, ops=st.one_of(st.none(), BYTE_OPS))
def test_trace_json_mutants(tmp_path, path, value, ops):
    meta = _replace(TRACE, path, value)
    text = json.dumps(meta).encode()
    if ops is not None:
        text = _mutate_bytes(text, ops)
    (tmp_path / "t").mkdir(exist_ok=True)
    (tmp_path / "t" / "trace.json").write_bytes(text)
    _invoke(["run", "int8-systolic", str(tmp_path / "t"), "--format", "json"], tmp_path)


# ---- sweep specs (sim sweep; issue 12, the DSE commands) -------------------------------------
SWEEP_SPEC = {
    **GOOD_SPEC,
    "sampling": {"method": "grid", "seed": 0},
    "constraints": ["area_mm2 <= 100"],
    "linked": [{"pe_array.cols": [16, 32]}],
}
SWEEP_PATHS = sorted(_paths(SWEEP_SPEC), key=str)


def _sweep(tmp_path, text: bytes) -> None:
    """`sim sweep` of a mutant spec: accepted (exit 0, a store written) or exit 2 with one
    line, and then nothing written at all (validated before anything runs)."""
    d = Path(tempfile.mkdtemp(dir=tmp_path))
    (d / "s.yaml").write_bytes(text)
    code = _invoke(["sweep", str(d / "s.yaml"), "--out", str(d / "o")], d)
    if code == 0:
        assert any((d / "o").glob("part-*.parquet")) and (d / "o" / "_spec.yaml").is_file()
    else:
        assert not (d / "o").exists()


@SETTINGS
@given(path=st.sampled_from(SWEEP_PATHS), value=HOSTILE)
def test_sweep_spec_value_mutants(tmp_path, path, value):
    mutant = _replace(SWEEP_SPEC, path, value)
    _sweep(tmp_path, yaml.safe_dump(mutant, allow_unicode=True).encode())


KEY_EDITS = {
    "drop_last": lambda k: k[:-1],
    "append": lambda k: k + "x",
    "upper": lambda k: k.upper(),
    "empty": lambda k: "",
    "dot": lambda k: k + ".",
    "swap": lambda k: k[1:2] + k[:1] + k[2:],
}


@SETTINGS
@given(path=st.sampled_from(SWEEP_PATHS), edit=st.sampled_from(sorted(KEY_EDITS)))
def test_sweep_spec_key_mutants(tmp_path, path, edit):
    """A key renamed (a typo, an empty key, a dangling dot)."""
    mutant = json.loads(json.dumps(SWEEP_SPEC))
    cur = mutant
    for k in path[:-1]:
        cur = cur[k]
    cur[KEY_EDITS[edit](str(path[-1]))] = cur.pop(path[-1])
    _sweep(tmp_path, yaml.safe_dump(mutant, allow_unicode=True).encode())


@SETTINGS
@given(ops=BYTE_OPS)
def test_sweep_spec_byte_mutants(tmp_path, ops):
    text = yaml.safe_dump(SWEEP_SPEC, sort_keys=False).encode()
    _sweep(tmp_path, _mutate_bytes(text, ops))


# ---- results stores (sim report) -------------------------------------------------------------
REPORT_SETTINGS = settings(SETTINGS, max_examples=15)  # each report draws its figures (~1 s)


@REPORT_SETTINGS
@given(
    col=st.sampled_from(
        ["key", "phase", "arch_json", "model", "wq", "prefill", "decode", "batch", "tokens_per_s"]
        + ["energy_per_token_j", "area_mm2", "error", "axis.pe_array.rows", "rows"]
    ),
    value=HOSTILE,
    which=st.sets(st.integers(0, 5), min_size=1),
)
def test_report_store_mutants(tmp_path, col, value, which):
    """A real store (corpus_dse.valid_store) with hostile values in some rows of one column:
    `sim report` accepts it (exit 0) or exits 2 with one line, never a traceback."""
    import io

    import pandas as pd

    from tests.fuzz.corpus_dse import GOOD_TEXT, valid_store

    df = pd.read_parquet(io.BytesIO(valid_store()))
    df[col] = df[col].astype(object)
    for i in which:
        df.at[i, col] = value
    d = Path(tempfile.mkdtemp(dir=tmp_path))
    (d / "r").mkdir()
    try:
        df.to_parquet(d / "r" / "part-0.parquet", index=False)
    except Exception:  # noqa: BLE001 - a mix pyarrow cannot store is no store at all
        return
    (d / "r" / "_spec.yaml").write_text(GOOD_TEXT)
    _invoke(["report", str(d / "r"), "--out", str(d / "rep"), "--top", "1"], d)
