"""The local query engine: DuckDB over the Parquet lake, with the Athena views transpiled."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb

from pipeline.lake.tables import LocalLake
from pipeline.analytics.sql import athena_to_duckdb, view_definitions
from pipeline.lake.table_names import LATER_COLUMNS, PARTITION, TABLE_NAMES

__all__ = ["connect", "query"]

log = logging.getLogger(__name__)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def connect(lake_root: str | Path, attributes: str | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with one view per lake table and every Athena view of ``sql/views``.

    ``attributes``: contact attribute columns of v_call_contacts (default ``AFTERCALL_CTR_ATTRIBUTES``).

    A table's view names each day's committed file; DuckDB reads the ``dt`` of each from its
    ``dt=YYYY-MM-DD`` folder, so a query filtered on ``dt`` opens only those days' files.
    """
    lake = LocalLake(lake_root)
    con = duckdb.connect(":memory:")
    snapshot = lake.snapshot()  # each day's pointer read once: every view sees the same commits
    for table in TABLE_NAMES:
        files = snapshot[table]  # only what the day pointers name: never a stray copy or an empty file
        if files:
            listed = ", ".join(_quote(str(f)) for f in files)
            # Columns added after older files were written (calls.summary) read as NULL in those files, even
            # when no file has them yet, as Athena reads them through the Glue table's columns.
            later = ", ".join(f"cast(null as {kind}) as {name}" for name, kind in LATER_COLUMNS.get(table, {}).items())
            con.execute(
                f"create view {table} as select * from read_parquet([{listed}], "
                f"hive_partitioning = true, hive_types = {{'{PARTITION}': 'VARCHAR'}}, union_by_name = true)"
                + (f" union all by name select {later} where false" if later else "")
            )
        else:  # a lake with no day yet still answers every view, with no rows (only this needs pyarrow)
            import pyarrow as pa

            from pipeline.lake.schema import TABLES

            empty = TABLES[table].empty_table().append_column(PARTITION, pa.array([], pa.string()))
            con.from_arrow(empty).create(table)
    for name, sql in view_definitions(attributes).items():
        con.execute(f"create or replace view {name} as {athena_to_duckdb(sql)}")
    return con


def query(sql: str, lake_root: str | Path) -> tuple[list[str], list[tuple]]:
    """Run one Athena-dialect query on the local lake: (column names, rows)."""
    con = connect(lake_root)
    try:
        cursor = con.execute(athena_to_duckdb(sql))
        columns = [d[0] for d in cursor.description or []]
        return columns, cursor.fetchall()
    finally:
        con.close()
