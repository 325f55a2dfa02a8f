"""The local Parquet lake: ``<lake>/<table>/dt=YYYY-MM-DD/part-00000.parquet``.

A day's partition of a table is one file. A write goes to a hidden temporary file in
the same folder, is flushed to disk, then atomically renamed over the previous file
(``os.replace``). Readers see the old day or the new day, never a half-written one;
a crash leaves at most a hidden ``.tmp-*.partial`` file, which no ``*.parquet`` glob matches and
the next write of that partition removes. Re-running a day replaces its rows.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.exceptions import LakeError
from pipeline.schema import PARTITION, TABLES

__all__ = ["LocalLake", "PART_NAME"]

log = logging.getLogger(__name__)

PART_NAME = "part-00000.parquet"


class LocalLake:
    """A lake in a local folder, laid out as the S3 lake is."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()

    def partition_dir(self, table: str, dt: date | str) -> Path:
        return self.root / table / f"{PARTITION}={dt}"

    def table_glob(self, table: str) -> str:
        return str(self.root / table / f"{PARTITION}=*" / "*.parquet")

    def has_data(self, table: str) -> bool:
        return any((self.root / table).glob(f"{PARTITION}=*/*.parquet"))

    def write_partition(self, table: str, dt: date | str, rows: Iterable[Mapping[str, object]]) -> Path:
        """Replace ``table``'s partition for ``dt`` with ``rows`` (zero rows is a valid, empty day)."""
        return self.write_partitions(dt, {table: rows})[table]

    def write_partitions(self, dt: date | str, tables: Mapping[str, Iterable[Mapping[str, object]]]) -> dict[str, Path]:
        """Replace several tables' partitions for ``dt``: every file is written and flushed first, then
        all are renamed into place, so a failed write changes no table at all."""
        staged: dict[str, tuple[Path, Path, int]] = {}
        table = ""
        try:
            for table, rows in tables.items():
                schema = TABLES[table]
                data = pa.Table.from_pylist([{k: row.get(k) for k in schema.names} for row in rows], schema=schema)
                folder = self.partition_dir(table, dt)
                folder.mkdir(parents=True, exist_ok=True)
                for stale in folder.glob(".tmp-*"):
                    stale.unlink(missing_ok=True)
                tmp = folder / f".tmp-{uuid.uuid4().hex}.partial"  # not *.parquet: globs must not see it
                staged[table] = (tmp, folder / PART_NAME, data.num_rows)
                pq.write_table(data, tmp, compression="zstd")
                with open(tmp, "rb") as fh:
                    os.fsync(fh.fileno())
        except OSError as exc:
            for tmp, _, _ in staged.values():
                tmp.unlink(missing_ok=True)
            raise LakeError(table, str(dt), f"could not write the partition: {exc}") from exc
        for table, (tmp, final, rows) in staged.items():
            os.replace(tmp, final)  # a rename within one folder: atomic, and all files are already on disk
            log.info("wrote %s rows to %s", rows, final)
        return {table: final for table, (_, final, _) in staged.items()}

    def read_partition(self, table: str, dt: date | str) -> pa.Table:
        path = self.partition_dir(table, dt) / PART_NAME
        return pq.read_table(path) if path.exists() else TABLES[table].empty_table()
