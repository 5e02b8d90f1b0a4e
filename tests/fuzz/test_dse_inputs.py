"""Regression tests of defects the DSE corpus (tests/fuzz/corpus_dse.py) found, beyond its
exit-2 contract: what a refused or odd input leaves behind and prints."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from common.errors import InputError
from sim.cli import main
from sim.dse.spec import MAX_POINTS, grid_size, parse_spec
from tests.fuzz.corpus_dse import GOOD_SPEC, spec_with


def _run(args, cwd):
    import os

    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    finally:
        os.chdir(old)


def test_front_of_a_sweep_whose_constraints_exclude_everything(tmp_path):
    """Two constraints, the first excluding every point: the front is empty and said so
    (an empty pandas mask of dtype object used to select columns: no column left)."""
    spec = spec_with(constraints=["area_mm2 <= 0.001", "tokens_per_s >= 1"])
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    r = _run(["sweep", "s.yaml", "--out", "o"], tmp_path)
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[0].startswith("2 points: 2 computed, 0 already stored")
    assert r.output.splitlines()[1] == (
        "Pareto front: none (no point of the total phase ran without error and met the constraints)"
    )


def test_grid_size_is_the_product_and_stops_past_the_bound():
    spec = parse_spec(
        spec_with(
            axes={"pe_array.rows": [8, 16, 32], "frequency_mhz": {"low": 1, "high": 2, "num": 5}},
            linked=[{"pe_array.cols": [8, 16], "pe_array.lanes": [1, 2]}],
        ),
        "s",
    )
    assert grid_size(spec) == 3 * 5 * 2
    big = [list(range(1, 1001))] * 3
    raw = spec_with(axes={f"a{i}": v for i, v in enumerate(big)})
    with pytest.raises(InputError) as e:
        parse_spec(raw, "s")
    assert e.value.field == "axes" and str(MAX_POINTS) in e.value.expected


def test_report_onto_its_results_leaves_them_and_the_cwd_intact(tmp_path):
    """`sim report r --out .` would have swapped the working directory for the report."""
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(GOOD_SPEC))
    assert _run(["sweep", "s.yaml", "--out", "r"], tmp_path).exit_code == 0
    before = sorted(p.name for p in tmp_path.rglob("*"))
    for target in (".", "r", "r/rep"):
        r = CliRunner().invoke(
            main, ["report", str(tmp_path / "r"), "--out", str(tmp_path / target)]
        )
        assert r.exit_code == 2
        assert "a directory apart from RESULTS" in r.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_report_of_a_store_where_no_point_meets_the_constraints(tmp_path):
    """The 'best per constraint' table of no qualifying row used to lose its columns
    (KeyError traceback); the report now says that nothing qualifies."""
    spec = spec_with(constraints=["area_mm2 <= 0.001"])
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    assert _run(["sweep", "s.yaml", "--out", "r"], tmp_path).exit_code == 0
    r = _run(["report", "r", "--out", "rep", "--top", "0"], tmp_path)
    assert r.exit_code == 0, r.output
    md = (tmp_path / "rep" / "report.md").read_text()
    assert (
        "2 design points in phase total (0 errored, not shown); 0 satisfy the constraints "
        "['area_mm2 <= 0.001']; 0 on the Pareto front." in md
    )


def test_dollar_signs_in_names_are_text_not_mathtext(tmp_path):
    """A spec name, axis values and an arch name with an unbalanced '$' (matplotlib
    mathtext raised a ParseException while drawing the report and compare figures)."""
    spec = spec_with(name="bad $\\frac{ name", axes={"name": ["a$b", "c$\\frac{$d"]})
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    assert _run(["sweep", "s.yaml", "--out", "r"], tmp_path).exit_code == 0
    r = _run(["report", "r", "--out", "rep", "--top", "2"], tmp_path)
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in (tmp_path / "rep").glob("heatmap_*.png"))
    assert names == [
        "heatmap_base_int8-systolic.png",
        "heatmap_name_a_b.png",
        "heatmap_name_c__frac__d.png",
    ]
    from tests.fuzz.corpus import PRESET_TEXT

    (tmp_path / "a.yaml").write_text(PRESET_TEXT.replace("name: int8-systolic", 'name: "x$y"'))
    args = ["compare", "int8-systolic", "a.yaml", "--model", "smollm2-135m"]
    args += ["--prefill", "8", "--decode", "1", "--csv", "c.csv", "--report", "crep"]
    r = _run(args, tmp_path)
    assert r.exit_code == 0, r.output
    assert "| x$y " in (tmp_path / "crep" / "compare.md").read_text()
    assert (tmp_path / "crep" / "compare.png").read_bytes()[:4] == b"\x89PNG"


def test_sweep_on_a_running_scheduler_passes_the_address_check(tmp_path):
    """A real Dask scheduler (an in-process LocalCluster on the loopback, TCP) answers the
    identity probe of --scheduler; the sweep runs there and stores every row."""
    from dask.distributed import LocalCluster

    from sim.dse.run import check_scheduler, sweep

    with LocalCluster(
        n_workers=1,
        processes=False,
        threads_per_worker=1,
        host="127.0.0.1",
        protocol="tcp",
        dashboard_address=None,
    ) as cluster:
        addr = cluster.scheduler_address
        assert check_scheduler(addr) == ("127.0.0.1", int(addr.rsplit(":", 1)[1]))
        df = sweep(GOOD_SPEC, tmp_path / "o", scheduler=addr, progress=False)
    assert df.attrs["sweep"]["computed"] == 2 and len(df) == 6 and df.error.isna().all()


def test_silent_port_is_refused_within_the_client_timeout():
    import time

    from sim.dse.run import CLIENT_TIMEOUT_S, check_scheduler
    from tests.fuzz.corpus_dse import silent_port

    t0 = time.perf_counter()
    with pytest.raises(InputError) as e:
        check_scheduler(f"tcp://127.0.0.1:{silent_port()}")
    assert e.value.expected == "a Dask scheduler at this address ('no Dask answer')"
    assert time.perf_counter() - t0 < CLIENT_TIMEOUT_S + 2


def test_cli_bounds_match_the_api_bounds():
    """--workers/--trials are bounded in click (so `sim --help` needs no Dask import) and
    again in the API; the two spellings must agree."""
    from sim import cmd_search
    from sim.dse import run, search

    assert cmd_search.MAX_WORKERS == run.MAX_WORKERS == 256
    assert cmd_search.MAX_TRIALS == search.MAX_TRIALS == MAX_POINTS == 100_000
    with pytest.raises(InputError) as e:
        run.sweep(GOOD_SPEC, "unused-out", workers=257)
    assert (e.value.source, e.value.expected) == ("--workers", "an integer in [0, 256]")


def test_sweep_into_a_symlinked_directory(tmp_path):
    """--out may be a symlink to a directory (part files go into it; nothing is replaced),
    unlike a symlink to anything else (the corpus: /dev/null)."""
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(GOOD_SPEC))
    r = _run(["sweep", "s.yaml", "--out", "link"], tmp_path)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "link").is_symlink()
    assert len(list((tmp_path / "real").glob("part-*.parquet"))) == 1
    assert (tmp_path / "real" / "_spec.yaml").is_file()
