"""Athena: the same ``sql/views/*.sql`` as the local engine, and queries for ``aftercall query``."""

from __future__ import annotations

import logging
import time
from typing import Any

from pipeline.exceptions import AftercallError
from pipeline.settings import Settings
from pipeline.analytics.sql import view_definitions

__all__ = ["AthenaQueryError", "create_views", "run_query"]

log = logging.getLogger(__name__)


class AthenaQueryError(AftercallError):
    def __init__(self, query_id: str, reason: str) -> None:
        super().__init__(f"Athena query {query_id}: {reason}")
        self.query_id = query_id
        self.reason = reason


def _execute(athena: Any, sql: str, settings: Settings, poll_s: float = 1.0) -> str:
    query_id = athena.start_query_execution(
        QueryString=sql, QueryExecutionContext={"Database": settings.glue_database},
        WorkGroup=settings.athena_workgroup)["QueryExecutionId"]
    while True:
        status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        if status["State"] == "SUCCEEDED":
            return query_id
        if status["State"] in ("FAILED", "CANCELLED"):
            raise AthenaQueryError(query_id, status.get("StateChangeReason", status["State"]))
        time.sleep(poll_s)


def create_views(athena: Any, settings: Settings) -> list[str]:
    """``create or replace view`` for every view, dependencies first; returns the view names."""
    names = []
    for name, sql in view_definitions().items():
        _execute(athena, f"create or replace view {name} as\n{sql}", settings)
        names.append(name)
    log.info("created or replaced %d Athena views in %s", len(names), settings.glue_database)
    return names


def run_query(athena: Any, sql: str, settings: Settings) -> tuple[list[str], list[tuple]]:
    """(column names, rows as strings) of one query in the project's workgroup (results SSE-KMS)."""
    query_id = _execute(athena, sql, settings)
    columns: list[str] = []
    rows: list[tuple] = []
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=query_id):
        result = page["ResultSet"]
        if not columns:
            columns = [c["Name"] for c in result.get("ResultSetMetadata", {}).get("ColumnInfo", [])]
            data = result["Rows"][1:]  # the first row of the first page repeats the header
        else:
            data = result["Rows"]
        rows += [tuple(d.get("VarCharValue") for d in r["Data"]) for r in data]
    return columns, rows
