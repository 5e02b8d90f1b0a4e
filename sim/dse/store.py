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
from common.files import write_atomic

STRING_COLUMNS = ("error", "perplexity_model")


def _parts(out: Path) -> list[Path]:
    if not out.is_dir():
        return []
    return sorted(p for p in out.glob("part-*.parquet") if p.is_file())


class Store:
    def __init__(self, out: str | Path, source: str = "--out") -> None:
        self.out = Path(out)
        self.source = source
        if self.out.exists() and not self.out.is_dir():
            raise InputError(source, str(out), "a directory (a file has that name)")
        self._keys: set[str] | None = None
        self._rows: dict[str, dict] | None = None  # key -> row, once read

    def keys(self) -> set[str]:
        """Row keys already stored (read once, then kept up to date by `write`)."""
        if self._keys is None:
            import pyarrow.parquet as pq

            keys: set[str] = set()
            for p in _parts(self.out):
                keys.update(pq.read_table(p, columns=["key"]).column("key").to_pylist())
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
    """All rows of a store (deduplicated by key), or an InputError if there are none."""
    out = Path(out)
    parts = _parts(out)
    if not parts:
        raise InputError(source, str(out), "a sweep/search output directory (no part-*.parquet)")
    import pyarrow.parquet as pq

    frames = [pq.read_table(p).to_pandas() for p in parts]
    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return df.drop_duplicates("key", keep="first").reset_index(drop=True)
