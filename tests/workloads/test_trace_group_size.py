"""OpRecord.group_size (issue 10 item 8) is carried into the op's B format by `to_op`:
an ungrouped name takes the group ("int4" + 128 -> "int4-g128"); a name with its own group
must state the same one, else the trace is a bad input (exit 2, one line)."""

from __future__ import annotations

import json
import shutil

import pytest

from common.errors import InputError
from quant.info import format_info
from workloads.export import export_module
from workloads.trace import TRACE_JSON, OpRecord, load_trace


def _rec(wq: str, group_size: int) -> OpRecord:
    return OpRecord(
        name="q_proj", kind="linear", phase="prefill", M=1, K=256, N=256, wq=wq, aq="int8",
        group_size=group_size,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("wq", "group", "bq"),
    [
        ("int4", 128, "int4-g128"),
        ("int4-asym", 64, "int4-g64-asym"),
        ("int3-mse", 32, "int3-g32-mse"),
        ("fp4-e2m1", 32, "fp4-e2m1-g32"),
        ("bitmod-fp3", 128, "bitmod-fp3-g128"),
        ("int4-g128", 128, "int4-g128"),  # the name already says it
        ("nvfp4", 16, "nvfp4"),  # a block format: NVFP4's 16-element blocks
        ("int4-g128", 0, "int4-g128"),  # 0: not stated
        ("fp16", 0, "fp16"),
    ],
)
def test_group_carried_into_the_format(wq, group, bq):
    op = _rec(wq, group).to_op()
    assert op.bq == bq
    assert format_info(op.bq).block_size == (group or format_info(wq).block_size)


@pytest.mark.parametrize(
    ("wq", "group", "expected"),
    [
        ("int4-g128", 64, "expected 128 or 0"),
        ("nvfp4", 32, "expected 16 or 0"),
        ("fp16", 128, "expected 0"),
    ],
)
def test_contradicting_group_rejected(wq, group, expected):
    with pytest.raises(ValueError, match=f"group_size {group} contradicts format {wq}.*{expected}"):
        _rec(wq, group)


@pytest.fixture(scope="module")
def trace_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("gs") / "trace"
    export_module("tests.workloads.custom_model:mlp", out, wq="int4-g32", aq="int8", progress=False)
    return out


def _edited(trace_dir, tmp_path, **fields):
    dst = tmp_path / "trace"
    shutil.copytree(trace_dir, dst)
    meta = json.loads((dst / TRACE_JSON).read_text())
    meta["ops"][0].update(fields)
    (dst / TRACE_JSON).write_text(json.dumps(meta))
    return dst


def test_trace_ungrouped_name_takes_the_group(trace_dir, tmp_path):
    tr = load_trace(_edited(trace_dir, tmp_path, wq="int4"))
    assert tr.meta.ops[0].group_size == 32
    assert [o.bq for o in tr.ops()] == ["int4-g32"] * 3


def test_trace_contradicting_group_is_an_input_error(trace_dir, tmp_path):
    with pytest.raises(InputError) as e:
        load_trace(_edited(trace_dir, tmp_path, group_size=64))
    assert e.value.field == "ops.0"
    assert str(e.value).endswith(
        "group_size 64 contradicts format int4-g32 (its group: 32); expected 32 or 0"
    )
