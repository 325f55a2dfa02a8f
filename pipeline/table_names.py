"""The lake's table names and its partition column, without their schemas.

Readers that only list and point at files (the day pointers, the local engine's views) import this
instead of :mod:`pipeline.schema`, so they never load pyarrow: ``aftercall report`` stays within a
small memory budget (pyarrow alone adds ~40 MB resident).
"""

from __future__ import annotations

__all__ = ["PARTITION", "TABLE_NAMES"]

PARTITION = "dt"
TABLE_NAMES: tuple[str, ...] = ("calls", "turns", "failures", "call_categories", "turns_raw", "contacts",
                                "contact_attributes", "runs", "evaluations")
