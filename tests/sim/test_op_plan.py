"""sim/api.py `OpPlan`: a model's ops reduced once to their distinct entries, series and
report rows, so a run costs and sums distinct ops (issue 14's speed). Checked against the
plain per-op evaluation it replaces."""

from __future__ import annotations

import pytest

from arch.accelerator import load_accelerator
from sim.api import _built_plan, op_plan, simulate_ops
from sim.engine import Coster
from workloads.ops import Op
from workloads.zoo import load_model_shape

FMTS = {"wq": "int8", "aq": "int8", "kvq": "int8"}


def _ops() -> list[Op]:
    """Two layers of three linears, a repeated norm, a decode attention pair at three KV
    lengths (too few for a series), one op with a measured density, and counts > 1."""
    ops = []
    for _ in range(2):
        ops += [
            Op("q_proj", "linear", "prefill", M=16, K=256, N=256, bq="int8", aq="int8"),
            Op("norm", "norm", "prefill", elements=4096, bq="int8", aq="int8"),
            Op("up", "linear", "prefill", M=16, K=256, N=512, bq="int8", aq="int8", count=3),
            Op("down", "linear", "prefill", M=16, K=512, N=256, bq="int8", aq="int8"),
        ]
    for kv in (17, 18, 19):
        ops += [
            Op("attn_qk", "attn_qk", "decode", M=1, K=64, N=kv, bq="int8", aq="int8", count=4),
            Op("attn_pv", "attn_pv", "decode", M=1, K=kv, N=64, bq="int8", aq="int8", count=4),
        ]
    ops.append(
        Op("q_proj", "linear", "prefill", M=16, K=256, N=256, bq="int8", aq="int8",
           weight_density=0.5)
    )  # fmt: skip
    return ops


def test_plan_entries_and_rows_by_hand():
    ops = _ops()
    plan = op_plan(ops)
    # distinct: q_proj, norm, up, down; 3 qk + 3 pv; the sparse q_proj is its own entry
    assert len(plan.reps) == 4 + 6 + 1
    assert plan.series == ()  # 3 KV lengths < SERIES_MIN
    rows = {g: (entries, runs) for g, _, entries, runs, _ in plan.groups}
    assert list(rows) == [
        ("prefill", "q_proj"),
        ("prefill", "norm"),
        ("prefill", "up"),
        ("prefill", "down"),
        ("decode", "attn_qk"),
        ("decode", "attn_pv"),
    ]
    assert rows[("prefill", "q_proj")][1] == (2, 1)  # dense twice, sparse once
    assert rows[("prefill", "up")][1] == (6,)  # 2 layers x count 3
    assert rows[("decode", "attn_qk")][1] == (4, 4, 4)
    assert [plan.entry_of[i] for i in plan.reps] == list(range(len(plan.reps)))


@pytest.mark.parametrize("preset", ["int8-systolic", "bitmod", "h100"])
def test_rows_equal_the_per_op_sums(preset):
    """Every row equals the sum over its ops of (exact per-op cost x count), in the op
    order the rows were summed in before OpPlan (integer cycles exactly, energies to float
    rounding), with the mapping of the row's last op."""
    accel = load_accelerator(preset)
    ops = _ops()
    res = simulate_ops(accel, ops, "hand", 16, 3, 1, FMTS)
    oracle = Coster(accel)
    for row in res.rows:
        mine = [o for o in ops if (o.phase, o.name) == (row.phase, row.name)]
        costs = [oracle.op(o) for o in mine]
        assert row.count == sum(o.count for o in mine)
        assert row.cycles == sum(c.cycles * o.count for o, c in zip(mine, costs))
        assert row.macs == sum(c.macs * o.count for o, c in zip(mine, costs))
        assert row.dram_bytes == sum(c.dram_bytes * o.count for o, c in zip(mine, costs))
        for got, part in (
            (row.energy_compute_j, "compute_pj"),
            (row.energy_sram_j, "sram_pj"),
            (row.energy_dram_j, "dram_pj"),
        ):
            want = sum(getattr(c, part) * o.count for o, c in zip(mine, costs)) * 1e-12
            assert got == pytest.approx(want, rel=1e-13)
        assert row.mapping == costs[-1].mapping
        assert (row.kind, row.M, row.K, row.N) == (mine[0].kind, mine[0].M, mine[0].K, mine[0].N)


def test_model_plan_is_built_once_and_matches_a_fresh_plan():
    """The memoized plan of a zoo model is the plan of its ops (Llama-2-7B 2048+256:
    4,883 ops, 803 distinct) and is the same object on the next call."""
    shape = load_model_shape("llama-2-7b")
    plan = _built_plan(shape, 2048, 256, 1, "int8", "int8", "int8")
    assert _built_plan(shape, 2048, 256, 1, "int8", "int8", "int8") is plan
    assert (len(plan.ops), len(plan.reps)) == (4883, 803)
    again = op_plan(list(plan.ops))
    assert (again.entry_of, again.reps, again.series, again.groups) == (
        plan.entry_of,
        plan.reps,
        plan.series,
        plan.groups,
    )
    assert sum(sum(runs) for _, _, _, runs, _ in plan.groups) == sum(o.count for o in plan.ops)
