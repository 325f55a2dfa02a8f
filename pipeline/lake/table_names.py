"""The lake's table names and its partition column, without their schemas.

Readers that only list and point at files (the day pointers, the local engine's views) import this
instead of :mod:`pipeline.lake.schema`, so they never load pyarrow: ``aftercall report`` stays within a
small memory budget (pyarrow alone adds ~40 MB resident).
"""

from __future__ import annotations

__all__ = ["LATER_COLUMNS", "PARTITION", "TABLE_NAMES"]

PARTITION = "dt"
TABLE_NAMES: tuple[str, ...] = ("calls", "turns", "failures", "call_categories", "turns_raw", "contacts",
                                "contact_attributes", "runs", "evaluations")

# Columns added to a table after files without them were written, with their DuckDB types: the local views
# read them as NULL in older files even when no file has them yet (Athena does so through the Glue table).
# pipeline.lake.schema checks that they are its columns, of these types.
LATER_COLUMNS: dict[str, dict[str, str]] = {
    "calls": {"call_started_local": "TIMESTAMP", "timezone": "VARCHAR", "summary": "VARCHAR"},
}
