"""The exact mapper as a user reaches it (README "Two mappers"): `simulate(mapper=)`,
`sim run --mapper`, and a sweep spec's `mapper` (a store column and part of every key)."""

from __future__ import annotations

import json

import pytest

from arch.arch import as_accelerator
from sim import Arch, simulate, sweep
from sim.engine import Coster

from .conftest import TINY, run_sim

RUN = dict(prefill=16, decode=2)


def test_simulate_mapper_exact_is_the_exact_coster():
    """mapper="exact" is Coster(exact=True): the same totals and per-op rows."""
    accel = as_accelerator(Arch.load("int8-systolic"))
    got = simulate(accel, "smollm2-135m", **RUN, mapper="exact")
    want = simulate(accel, "smollm2-135m", **RUN, coster=Coster(accel, exact=True))
    assert got.rows == want.rows
    default = simulate(accel, "smollm2-135m", **RUN)
    assert default.rows != got.rows  # the two mappers pick other tilings on this model
    # the exact mapper is never slower on any op (the least event-model time over a
    # superset of what matters): per row, within float rounding of a sum
    for e, d in zip(got.rows, default.rows):
        assert (e.phase, e.name) == (d.phase, d.name)
        assert e.cycles <= d.cycles * (1 + 1e-12), (e.phase, e.name)
    with pytest.raises(ValueError, match="mapper must be one of"):
        simulate(accel, "smollm2-135m", **RUN, mapper="fastest")


def test_sim_run_mapper_flag():
    r = run_sim("run", "int8-systolic", "smollm2-135m", "--prefill", "16", "--decode", "2",
                "--mapper", "exact", "--format", "json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    want = simulate("int8-systolic", "smollm2-135m", **RUN, mapper="exact")
    assert json.loads(r.stdout)["ttft_s"] == pytest.approx(want.ttft_s, rel=1e-12)
    bad = run_sim("run", "int8-systolic", "smollm2-135m", "--mapper", "fastest")
    assert bad.returncode == 2 and "--mapper" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_sweep_mapper_exact_rows_and_keys(tmp_path):
    """A sweep maps with the exact mapper unless its spec says `mapper: fast`: every row
    says which, the keys differ, and the times are that mapper's (simulate(mapper=))."""
    spec = {**TINY, "axes": {"memory.dram.bandwidth_gb_s": [16, 64]}, "linked": []}
    exact = sweep(spec, tmp_path / "exact")
    fast = sweep({**spec, "mapper": "fast"}, tmp_path / "fast")
    assert set(exact.mapper) == {"exact"} and set(fast.mapper) == {"fast"}
    assert not set(exact.key) & set(fast.key)
    row = fast[(fast.phase == "total") & (fast["axis.memory.dram.bandwidth_gb_s"] == 64)]
    arch = Arch.load("bitmod").replace({"memory.dram.bandwidth_gb_s": 64})
    w = TINY["workload"]
    want = simulate(arch, w["model"], prefill=w["prefill"], decode=w["decode"], mapper="fast")
    assert row.ttft_s.iloc[0] == pytest.approx(want.ttft_s, rel=1e-12)
    row = exact[(exact.phase == "total") & (exact["axis.memory.dram.bandwidth_gb_s"] == 64)]
    arch = Arch.load("bitmod").replace({"memory.dram.bandwidth_gb_s": 64})
    w = TINY["workload"]
    want = simulate(arch, w["model"], prefill=w["prefill"], decode=w["decode"], mapper="exact")
    assert row.ttft_s.iloc[0] == pytest.approx(want.ttft_s, rel=1e-12)


def test_store_of_before_the_mapper_column_still_reads(tmp_path):
    """Part files written before STORE_VERSION 3 have no `mapper` column: they are read,
    as what they were (every point then ran the screened mapper, now "fast"), beside
    newer parts."""
    import pyarrow.parquet as pq

    from sim.dse.store import read_results

    spec = {**TINY, "axes": {"memory.dram.bandwidth_gb_s": [16, 64]}, "linked": []}
    out = tmp_path / "old"
    new = sweep({**spec, "mapper": "fast"}, out)  # the mapper every point ran then
    for part in out.glob("part-*.parquet"):  # as an older sim wrote them
        t = pq.read_table(part)
        pq.write_table(t.drop(["mapper"]), part)
        assert "mapper" not in pq.read_schema(part).names
    old = read_results(out)
    assert set(old.mapper) == {"fast"}
    cols = ["key", "phase", "time_s", "energy_j"]
    pd_equal = old.sort_values("key")[cols].reset_index(drop=True)
    assert pd_equal.equals(new.sort_values("key")[cols].reset_index(drop=True))


def test_report_simulates_the_shown_designs_with_their_mapper(tmp_path, monkeypatch):
    """`sim report` simulates the base and front designs again: with the mapper their
    rows ran (an exact sweep's figures are the exact mapper's), and a store whose mapper
    column names no mapper is an error of the results (exit 2, the column named)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    import sim.api
    from sim.dse.reporting import sweep_report

    spec = {**TINY, "axes": {"memory.dram.bandwidth_gb_s": [16, 64]}, "linked": []}
    sweep(spec, tmp_path / "res")
    seen, real = [], sim.api.simulate

    def spy(*args, **kwargs):
        seen.append(kwargs.get("mapper"))
        return real(*args, **kwargs)

    monkeypatch.setattr(sim.api, "simulate", spy)
    sweep_report(tmp_path / "res", tmp_path / "rep", top=1)
    assert seen == ["exact", "exact"]  # the base and one front design
    for part in (tmp_path / "res").glob("part-*.parquet"):
        t = pq.read_table(part)
        i = t.schema.get_field_index("mapper")
        pq.write_table(t.set_column(i, "mapper", pa.array(["nope"] * len(t))), part)
    r = run_sim("report", tmp_path / "res", "--out", tmp_path / "rep2")
    assert r.returncode == 2 and "mapper" in r.stderr and "Traceback" not in r.stderr
