"""The lake on S3: Parquet written by awswrangler, tables and partitions in the Glue catalog.

A day is replaced, never appended to, and never half visible:

1. the day's rows are written under a run-scoped prefix ``<table>/dt=DAY/run=<id>/``
   (SSE-KMS), which no query sees yet;
2. the Glue partition ``dt=DAY`` is created, or switched to that prefix (one
   ``update_partition`` call: Athena sees the old rows or the new ones);
3. every other ``run=*`` prefix of the day is deleted, including leftovers of crashed runs.

Why not ``mode="overwrite_partitions"``: it deletes the day's files before it writes the
new ones, so a failure in between loses the day. Why no partition projection on ``dt``:
projection computes a partition's location from a template and ignores the catalog, which
makes step 2 impossible; one ``dt`` partition per day in Glue is cheap and keeps pruning.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from pipeline.aws._helpers import join, split_uri, sse_kwargs
from pipeline.exceptions import LakeError
from pipeline.schema import PARTITION, TABLES, athena_type
from pipeline.settings import Settings

__all__ = ["S3Lake"]

log = logging.getLogger(__name__)


class S3Lake:
    """``session`` is a boto3 session (awswrangler uses it); ``glue`` and ``s3`` are its clients."""

    def __init__(self, settings: Settings, session: Any, glue: Any, s3: Any) -> None:
        self.root = settings.lake.rstrip("/")
        self.database = settings.glue_database
        self.kms_key_id = settings.kms_key_id
        self.session, self.glue, self.s3 = session, glue, s3

    def table_path(self, table: str) -> str:
        return join(self.root, table) + "/"

    def partition_path(self, table: str, dt: date | str) -> str:
        return join(self.root, table, f"{PARTITION}={dt}") + "/"

    def ensure_table(self, table: str) -> None:
        """Create the Glue table, or add the columns it lacks (schema evolution; partitions kept)."""
        import awswrangler as wr

        wr.catalog.create_parquet_table(
            database=self.database, table=table, path=self.table_path(table),
            columns_types={f.name: athena_type(f.type) for f in TABLES[table]},
            partitions_types={PARTITION: "string"}, mode="append", compression="snappy",
            description=f"aftercall {table}, one partition per day (dt)", boto3_session=self.session)

    def write_partition(self, table: str, dt: date | str, rows: Iterable[Mapping[str, object]]) -> str:
        """Replace ``table``'s partition for ``dt`` with ``rows``; returns the new location."""
        return self.write_partitions(dt, {table: rows})[table]

    def write_partitions(self, dt: date | str, tables: Mapping[str, Iterable[Mapping[str, object]]]) -> dict[str, str]:
        """Replace several tables' partitions for ``dt``: every table is written first, then the Glue
        partitions are switched one call each, so a failed write switches none of them."""
        import awswrangler as wr

        run = f"run={datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        written: dict[str, tuple[str, int]] = {}
        for table, rows in tables.items():
            schema = TABLES[table]
            data = pa.Table.from_pylist([{k: row.get(k) for k in schema.names} for row in rows], schema=schema)
            location = join(self.partition_path(table, dt), run) + "/"
            try:
                if data.num_rows:
                    wr.s3.to_parquet(data.to_pandas(), path=f"{location}part-00000.snappy.parquet", index=False,
                                     dtype={f.name: athena_type(f.type) for f in schema},
                                     s3_additional_kwargs=sse_kwargs(self.kms_key_id), boto3_session=self.session)
                self.ensure_table(table)
            except Exception as exc:
                raise LakeError(table, str(dt), f"could not write the partition: {exc}") from exc
            written[table] = (location, data.num_rows)
        for table, (location, _) in written.items():
            try:
                self._point_partition(table, str(dt), location)
            except Exception as exc:
                raise LakeError(table, str(dt), f"could not switch the partition: {exc}") from exc
        for table, (location, rows) in written.items():
            self._delete_other_runs(table, dt, keep=location)
            log.info("%s dt=%s -> %s (%d rows)", table, dt, location, rows)
        return {table: location for table, (location, _) in written.items()}

    def _point_partition(self, table: str, dt: str, location: str) -> None:
        table_sd = self.glue.get_table(DatabaseName=self.database, Name=table)["Table"]["StorageDescriptor"]
        sd = {**{k: v for k, v in table_sd.items() if k in ("Columns", "InputFormat", "OutputFormat", "SerdeInfo",
                                                           "Compressed", "Parameters")}, "Location": location}
        partition = {"Values": [dt], "StorageDescriptor": sd}
        try:
            self.glue.get_partition(DatabaseName=self.database, TableName=table, PartitionValues=[dt])
        except self.glue.exceptions.EntityNotFoundException:
            self.glue.create_partition(DatabaseName=self.database, TableName=table, PartitionInput=partition)
        else:
            self.glue.update_partition(DatabaseName=self.database, TableName=table, PartitionValueList=[dt],
                                       PartitionInput=partition)

    def _delete_other_runs(self, table: str, dt: date | str, keep: str) -> None:
        from pipeline.storage import S3Store

        store = S3Store(self.s3, self.kms_key_id)
        stale = [p for p in store.list(self.partition_path(table, dt)) if not p.startswith(keep)]
        store.delete(stale)
        if stale:
            log.info("%s dt=%s: deleted %d objects of earlier runs", table, dt, len(stale))

    def current_location(self, table: str, dt: date | str) -> str | None:
        try:
            part = self.glue.get_partition(DatabaseName=self.database, TableName=table, PartitionValues=[str(dt)])
        except self.glue.exceptions.EntityNotFoundException:
            return None
        return part["Partition"]["StorageDescriptor"]["Location"]

    def read_partition(self, table: str, dt: date | str) -> pa.Table:
        """The rows Athena sees for the day (what the Glue partition points at)."""
        import awswrangler as wr

        location = self.current_location(table, dt)
        if location is None:
            return TABLES[table].empty_table()
        bucket, prefix = split_uri(location)
        if not self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("KeyCount"):
            return TABLES[table].empty_table()
        return pa.Table.from_pandas(wr.s3.read_parquet(location, boto3_session=self.session), preserve_index=False)
