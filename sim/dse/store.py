"""The result store: a Parquet dataset under `--out`, one row per (configuration, model,
phase), keyed by a content hash of the inputs (`key`; `point_key` groups a point's
phases).

Each finished batch of points is written as its own part file `part-*.parquet`, atomically
(`common.files.write_atomic`: temporary name beside it, then rename), so a sweep killed at
any moment (SIGKILL included) leaves only whole part files; resuming skips every point
whose rows are all present. Reading dedupes by `key` (first part wins), so even two runs
racing on one directory never show a row twice. Other files in the directory start with
`_` (the spec copy), which Parquet readers skip: `pd.read_parquet(out)` reads the rows.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from common.errors import InputError
from common.files import check_output, write_atomic
from common.inputs import is_dir, quote, short
from sim.dse.spec import PHASE_METRICS

STRING_COLUMNS = ("error", "perplexity_model")

# The columns of a store (README.md, "Sweeps and search") by kind; `axis.<name>` columns
# come on top. A part file is read only when its Parquet schema has exactly these (issue
# 12: `sim report` must not trust a directory merely because it holds *.parquet files).
TEXT_COLUMNS = (
    "key",
    "point_key",
    "phase",
    "arch",
    "family",
    "arch_digest",
    "engine_version",
    "arch_json",
    "model",
    "wq",
    "aq",
    "kvq",
    "mapper",
    "error",
    "perplexity_model",
)
INT_COLUMNS = ("rows", "cols", "lanes", "prefill", "decode", "batch")
FLOAT_COLUMNS = (
    "frequency_mhz",
    "dram_bandwidth_gb_s",
    "weight_buffer_kib",
    "input_buffer_kib",
    "output_buffer_kib",
    "dram_capacity_bytes",
    *PHASE_METRICS,  # the per-phase metrics (one list, sim/dse/spec.py)
    "area_mm2",
    "weight_bytes",
    "kv_cache_bytes",
    "footprint_bytes",
    "fits_dram",
    "seconds",
    "perplexity",
)
# Columns added after the first stores, with the value they had there (a part file of an
# older store is still read: `mapper` came with STORE_VERSION 3, before it every point
# ran the screened mapper, now called "fast").
ADDED_COLUMNS = {"mapper": "fast"}
NULLABLE = ("error", "perplexity_model")  # null in every row of a part is typed `null`


def _kind_ok(name: str, t) -> bool:
    import pyarrow as pa

    if pa.types.is_null(t):
        return name in NULLABLE or name in FLOAT_COLUMNS or name.startswith("axis.")
    if name in TEXT_COLUMNS:
        return pa.types.is_string(t) or pa.types.is_large_string(t)
    if name in INT_COLUMNS:
        return pa.types.is_integer(t)
    if name in FLOAT_COLUMNS:
        return pa.types.is_floating(t) or pa.types.is_integer(t)
    return True  # axis.<name>: whatever the axis values are


def check_schema(path: Path, source: str):
    """The Parquet schema of a part file, checked against the store's columns; any
    problem is an InputError naming the file and the column."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = short(str(path))
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException, ValueError) as e:
        why = quote(str(e).split(". ")[0])
        raise InputError(src, "file", f"a Parquet part file written by sim ({why})") from None
    names = schema.names
    if len(set(names)) != len(names):
        raise InputError(src, "columns", "each column once")
    required = (*TEXT_COLUMNS, *INT_COLUMNS, *FLOAT_COLUMNS)
    missing = [c for c in required if c not in names and c not in ADDED_COLUMNS]
    if missing:
        raise InputError(src, short(missing[0], 80), "a column of a sim store (missing)")
    for name in names:
        known = name in TEXT_COLUMNS or name in INT_COLUMNS or name in FLOAT_COLUMNS
        if not known and not name.startswith("axis."):
            raise InputError(src, short(name, 80), "a column of a sim store (unknown column)")
        t = schema.field(name).type
        if not _kind_ok(name, t):
            kind = (
                "a text"
                if name in TEXT_COLUMNS
                else "an integer"
                if name in INT_COLUMNS
                else "a number"
            )
            raise InputError(src, short(name, 80), f"{kind} column (found {quote(str(t))})")
    return schema


def _read_table(path: Path, source: str, columns: list[str] | None = None):
    import pyarrow as pa
    import pyarrow.parquet as pq

    check_schema(path, source)
    try:
        return pq.read_table(path, columns=columns)
    except (OSError, pa.ArrowException, ValueError) as e:
        why = quote(str(e).split(". ")[0])
        raise InputError(short(str(path)), "file", f"a readable Parquet file ({why})") from None


def _parts(out: Path) -> list[Path]:
    if not out.is_dir():
        return []
    return sorted(p for p in out.glob("part-*.parquet") if p.is_file())


class Store:
    def __init__(self, out: str | Path, source: str = "--out") -> None:
        # a directory or a new name (never a file, device, FIFO or a symlink to one; a path
        # the OS accepts), checked before any work. A symlink to a directory is used as
        # that directory: part files are added into it, nothing is replaced.
        if os.path.islink(out) and is_dir(out):
            self.out = Path(out)
        else:
            self.out = check_output(out, "directory", source)
        self.source = source
        self._keys: set[str] | None = None
        self._rows: dict[str, dict] | None = None  # key -> row, once read

    def keys(self) -> set[str]:
        """Row keys already stored (read once, then kept up to date by `write`)."""
        if self._keys is None:
            keys: set[str] = set()
            for p in _parts(self.out):
                keys.update(_read_table(p, self.source, ["key"]).column("key").to_pylist())
            self._keys = keys
        return self._keys

    def write(self, rows: Iterable[dict]) -> Path | None:
        """Write rows (those not stored yet) as one new part file, atomically."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        have = self.keys()
        fresh, seen = [], set()
        for r in rows:
            if r["key"] not in have and r["key"] not in seen:
                seen.add(r["key"])
                fresh.append(r)
        if not fresh:
            return None
        df = pd.DataFrame(fresh)
        for name in STRING_COLUMNS:  # rows read back from a store hold NaN for null text
            if name in df.columns:
                df[name] = df[name].astype(object).where(df[name].notna(), None)
        table = pa.Table.from_pandas(df, preserve_index=False)
        for name in STRING_COLUMNS:  # all-null columns would be typed `null`
            if name in table.column_names and pa.types.is_null(table.schema.field(name).type):
                i = table.column_names.index(name)
                table = table.set_column(i, name, table.column(name).cast(pa.string()))
        name = f"part-{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}.parquet"
        path = write_atomic(self.out / name, lambda tmp: pq.write_table(table, tmp), self.source)
        have.update(seen)
        if self._rows is not None:
            self._rows.update({r["key"]: dict(r) for r in fresh})
        return path

    def rows(self, keys: Iterable[str]) -> dict[str, dict]:
        """Stored rows by key (the store is read once, then kept current by `write`)."""
        if self._rows is None:
            df = read_results(self.out) if _parts(self.out) else pd.DataFrame()
            self._rows = {r["key"]: r for r in df.to_dict("records")}
        return {k: self._rows[k] for k in keys if k in self._rows}

    def read(self) -> pd.DataFrame:
        return read_results(self.out)


def read_results(out: str | Path, source: str = "RESULTS") -> pd.DataFrame:
    """All rows of a store (deduplicated by key), or an InputError if there are none, or
    if a part file is not one `sim` wrote (schema, phases, workload sizes)."""
    from sim.dse.spec import PHASES
    from sim.limits import MAX_BATCH, MAX_TOKENS

    out = Path(out)
    try:
        parts = _parts(out)
    except OSError as e:
        raise InputError(source, short(str(out)), f"a readable directory ({e.strerror})") from None
    if not parts:
        raise InputError(
            source, short(str(out)), "a sweep/search output directory (no part-*.parquet)"
        )
    frames = [_read_table(p, source).to_pandas() for p in parts]
    for f in frames:
        for col, value in ADDED_COLUMNS.items():
            if col not in f:
                f[col] = value
    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    src = short(str(out))
    bad = ~df["phase"].isin(PHASES)
    if bad.any():
        got = quote(df.loc[bad, "phase"].iloc[0])
        raise InputError(src, "phase", f"one of {', '.join(PHASES)} (got {got})")
    for col in (*TEXT_COLUMNS, *INT_COLUMNS):  # only `error` and `perplexity_model` may be null
        if col not in NULLABLE and df[col].isna().any():
            raise InputError(src, col, "a value in every row (found a null)")
    for col, lo, hi in (
        ("prefill", 1, MAX_TOKENS),
        ("decode", 0, MAX_TOKENS),
        ("batch", 1, MAX_BATCH),
    ):
        bad = ~df[col].between(lo, hi)
        if bad.any():
            got = quote(df.loc[bad, col].iloc[0])
            raise InputError(src, col, f"integers in [{lo}, {hi}] (got {got})")
    for col in FLOAT_COLUMNS:  # NaN is a missing value (an errored point); inf is not ours
        vals = pd.to_numeric(df[col], errors="coerce")
        if vals.abs().eq(float("inf")).any():
            raise InputError(src, col, "finite numbers or NaN (found infinity)")
    return df.drop_duplicates("key", keep="first").reset_index(drop=True)
