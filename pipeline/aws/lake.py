"""The lake on S3: Parquet written by awswrangler, tables and partitions in the Glue catalog.

A day is replaced, never appended to, and never half visible, by one writer at a time:

0. the writer takes the day's lock object (:mod:`pipeline.lake.locks`; a conditional put that every
   machine respects, with an owner and an expiry), and finishes what a dead writer of the day
   left: a pending switch is rolled forward, files of runs that never switched are deleted;
1. the day's rows are written under a run-scoped prefix ``<table>/dt=DAY/run=<id>/``
   (SSE-KMS), which no query sees yet;
2. it checks it still holds the lock, writes the switch it is about to make to a journal
   ``_commits/dt=DAY.pending.json``, then points each Glue partition ``dt=DAY`` at its new
   prefix (one ``update_partition`` call per table: Athena sees a table's old rows or its new
   ones), records the day's pointer ``_commits/dt=DAY.json`` and removes the journal;
3. the prefixes it replaced stay an hour (``REPLACED_GRACE_S``) for queries planned before the
   switch; a later writer of the day deletes them, and prefixes of runs that never switched.
   Never the prefix Glue points at, never another writer's.

Across tables, step 2 is a few Glue calls: a process killed between two of them leaves the
journal behind; the next writer of that day completes the switch before anything else, and
every commit first repairs any day's unfinished switch (:meth:`recover_pending`). Until then,
Athena may show that day's tables from two commits: Athena has no multi-table transaction. Why not ``mode="overwrite_partitions"``: it
deletes the day's files before it writes the new ones, so a failure in between loses the day.
Why no partition projection on ``dt``: projection computes a partition's location from a
template and ignores the catalog, which makes step 2 impossible.

``runs`` is append-only: each attempt is one object under ``runs/dt=DAY/attempts/``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from pipeline.aws._helpers import join, split_uri, sse_kwargs
from pipeline.exceptions import DayLocked, LakeError
from pipeline.lake.tables import COMMITS, REPLACED_GRACE_S, commit_id
from pipeline.lake.locks import LOCKS, S3DayLock, _reentry
from pipeline.lake.schema import PARTITION, TABLES, athena_type
from pipeline.settings import Settings

__all__ = ["S3Lake"]

log = logging.getLogger(__name__)

RUNS_FOLDER = "attempts"


class S3Lake:
    """``session`` is a boto3 session (awswrangler uses it); ``glue`` and ``s3`` are its clients."""

    def __init__(self, settings: Settings, session: Any, glue: Any, s3: Any) -> None:
        self.root = settings.lake.rstrip("/")
        self.database = settings.glue_database
        self.kms_key_id = settings.kms_key_id
        self.lock_wait_s, self.lock_ttl_s = settings.lock_wait_s, settings.lock_ttl_s
        self.session, self.glue, self.s3 = session, glue, s3
        self._locks: dict[str, S3DayLock] = {}

    def table_path(self, table: str) -> str:
        return join(self.root, table) + "/"

    def partition_path(self, table: str, dt: date | str) -> str:
        return join(self.root, table, f"{PARTITION}={dt}") + "/"

    def _object(self, *parts: str) -> tuple[str, str]:
        return split_uri(join(self.root, *parts))

    @contextmanager
    def day_lock(self, dt: date | str, run_id: str | None = None) -> Iterator[S3DayLock]:
        """Hold the day against every other writer, on any machine (waits, then :class:`DayLocked`)."""
        dt = str(dt)
        key = f"{dt}@{threading.get_ident()}"
        with _reentry(self.root, dt) as nested:
            if nested:
                yield self._locks[key]
                return
            bucket, object_key = self._object(LOCKS, f"{PARTITION}={dt}.lock")
            lock = S3DayLock(self.s3, bucket, object_key, dt, run_id, wait_s=self.lock_wait_s, ttl_s=self.lock_ttl_s,
                             kms_key_id=self.kms_key_id)
            lock.acquire()
            self._locks[key] = lock
            try:
                self.recover(dt)
                yield lock
            finally:
                del self._locks[key]
                lock.release()

    def ensure_table(self, table: str) -> None:
        """Create the Glue table, or add the columns it lacks (schema evolution; partitions kept)."""
        import awswrangler as wr

        wr.catalog.create_parquet_table(
            database=self.database, table=table, path=self.table_path(table),
            columns_types={f.name: athena_type(f.type) for f in TABLES[table]},
            partitions_types={PARTITION: "string"}, mode="append", compression="snappy",
            description=f"aftercall {table}, one partition per day (dt)", boto3_session=self.session)

    def _write(self, table: str, rows: Iterable[Mapping[str, object]] | pa.Table, path: str) -> int:
        import awswrangler as wr

        from pipeline.lake.tables import _as_table

        schema = TABLES[table]
        data = _as_table(rows, schema)  # rows, or a day's turns already columnar
        if data.num_rows:
            wr.s3.to_parquet(data.to_pandas(), path=path, index=False,
                             dtype={f.name: athena_type(f.type) for f in schema},
                             s3_additional_kwargs=sse_kwargs(self.kms_key_id), boto3_session=self.session)
        self.ensure_table(table)
        return data.num_rows

    def write_partition(self, table: str, dt: date | str, rows: Iterable[Mapping[str, object]]) -> str:
        """Replace ``table``'s partition for ``dt`` with ``rows``; returns the new location."""
        return self.write_partitions(dt, {table: rows})[table]

    def write_partitions(self, dt: date | str, tables: Mapping[str, Iterable[Mapping[str, object]]],
                         run_id: str | None = None, attempt_id: str | None = None) -> dict[str, str]:
        """Replace several tables' partitions for ``dt``: every table is written first, then the Glue
        partitions are switched under a journal, so a failed write switches none of them."""
        dt = str(dt)
        if "runs" in tables:
            raise ValueError("runs is append-only: use append_run")
        with self.day_lock(dt, run_id) as lock:
            run = f"run={commit_id()}"
            written: dict[str, tuple[str, int]] = {}
            for table, rows in tables.items():
                location = join(self.partition_path(table, dt), run) + "/"
                written[table] = (location, 0)  # listed before writing: a failure below deletes what it began
                try:
                    written[table] = (location, self._write(table, rows, f"{location}part-00000.snappy.parquet"))
                except Exception as exc:
                    self._delete_locations([loc for loc, _ in written.values()])
                    raise LakeError(table, dt, f"could not write the partition: {exc}") from exc
            replaced = {table: self.current_location(table, dt) for table in written}
            journal = {"commit": run, "run_id": run_id, "attempt_id": attempt_id,
                       "tables": {t: loc for t, (loc, _) in written.items()}, "replaced": replaced}
            try:
                lock.verify()
            except Exception:
                self._delete_locations([loc for loc, _ in written.values()])
                raise
            try:
                self._put_json(f"{PARTITION}={dt}.pending.json", journal)
            except Exception as exc:
                # The journal may have landed even so: its locations stay for recover() to roll forward, or
                # to delete as never switched when there is no journal.
                raise LakeError("*", dt, f"could not start the switch: {exc}") from exc
            try:
                self._apply(dt, journal)
            except Exception:
                self._roll_back(dt, journal)  # a live writer whose switch failed leaves the day as it was
                raise
            for table, (location, rows) in written.items():
                log.info("%s dt=%s -> %s (%d rows)", table, dt, location, rows)
            return {table: location for table, (location, _) in written.items()}

    def _apply(self, dt: str, journal: dict) -> None:
        """Switch every table of a journal, record the day's pointer, drop the journal, delete what it replaced."""
        for table, location in journal["tables"].items():
            try:
                self._point_partition(table, dt, location)
            except Exception as exc:
                raise LakeError(table, dt, f"could not switch the partition (the next writer of the day completes "
                                           f"the switch from {PARTITION}={dt}.pending.json): {exc}") from exc
        previous = self._get_json(f"{PARTITION}={dt}.json") or {"tables": {}}
        now = datetime.now(UTC).isoformat(timespec="seconds")
        # Replaced prefixes stay REPLACED_GRACE_S for queries planned before the switch; recover() deletes them.
        replaced = [r for r in previous.get("replaced", []) if isinstance(r, dict)]
        replaced += [{"table": t, "location": old, "at": now} for t, old in journal["replaced"].items()
                     if old and old != journal["tables"][t]]
        self._put_json(f"{PARTITION}={dt}.json", {
            "commit": journal["commit"], "run_id": journal.get("run_id"), "attempt_id": journal.get("attempt_id"),
            "committed_at": now, "tables": {**previous.get("tables", {}), **journal["tables"]}, "replaced": replaced})
        bucket, key = self._object(COMMITS, f"{PARTITION}={dt}.pending.json")
        self.s3.delete_object(Bucket=bucket, Key=key)

    def _roll_back(self, dt: str, journal: dict) -> None:
        """Point every switched table back, drop the journal and the new prefixes; if that fails too, the
        journal stays and the next writer rolls the switch forward instead (either way, one commit)."""
        try:
            for table, location in journal["tables"].items():
                if self.current_location(table, dt) != location:
                    continue
                old = journal["replaced"].get(table)
                if old:
                    self._point_partition(table, dt, old)
                else:
                    self.glue.delete_partition(DatabaseName=self.database, TableName=table, PartitionValues=[dt])
            bucket, key = self._object(COMMITS, f"{PARTITION}={dt}.pending.json")
            self.s3.delete_object(Bucket=bucket, Key=key)
        except Exception:
            log.exception("%s: could not roll the failed switch back; the next writer of the day completes it", dt)
            return
        self._delete_locations(list(journal["tables"].values()))

    def recover(self, dt: date | str) -> None:
        """Under the day's lock: finish a dead writer's switch, delete run prefixes that never switched."""
        dt = str(dt)
        journal = self._get_json(f"{PARTITION}={dt}.pending.json")
        if journal:
            log.warning("%s: completing the switch of %s, left unfinished by run %s", dt, journal.get("commit"),
                        journal.get("run_id"))
            self._apply(dt, journal)
        from pipeline.lake.storage import S3Store

        pointer = self._get_json(f"{PARTITION}={dt}.json") or {}
        graced, kept = set(), []
        for entry in pointer.get("replaced", []):
            try:
                young = (datetime.now(UTC) - datetime.fromisoformat(entry["at"])).total_seconds() < REPLACED_GRACE_S
            except (KeyError, TypeError, ValueError):
                continue
            if young:
                graced.add(entry["location"])
                kept.append(entry)
        store = S3Store(self.s3, self.kms_key_id)
        for table in TABLES:
            if table == "runs":
                continue
            current = self.current_location(table, dt)
            stale = [p for p in store.list(self.partition_path(table, dt)) if "/run=" in p
                     and not (current and p.startswith(current)) and not any(p.startswith(g) for g in graced)]
            if stale:
                store.delete(stale)
                log.info("%s dt=%s: deleted %d objects replaced or never switched", table, dt, len(stale))
        if pointer and len(kept) != len(pointer.get("replaced", [])):
            self._put_json(f"{PARTITION}={dt}.json", {**pointer, "replaced": kept})

    def recover_pending(self) -> list[str]:
        """Roll forward every day's unfinished switch (a writer killed between Glue calls), each under its
        lock; a day another writer holds is left to it. Returns the days repaired."""
        bucket, prefix = self._object(COMMITS, "")
        days = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                name = item["Key"].rsplit("/", 1)[-1]
                if name.startswith(f"{PARTITION}=") and name.endswith(".pending.json"):
                    days.append(name[len(PARTITION) + 1:-len(".pending.json")])
        repaired = []
        for day in days:
            try:
                date.fromisoformat(day)
            except ValueError:
                continue
            saved, self.lock_wait_s = self.lock_wait_s, 0.0
            try:
                with self.day_lock(day, "recover"):  # day_lock rolls the journal forward
                    repaired.append(day)
            except DayLocked:
                pass
            finally:
                self.lock_wait_s = saved
        return repaired

    def committed_attempt(self, dt: date | str) -> str | None:
        """The ``runs.attempt_id`` whose commit the day shows now."""
        return (self._get_json(f"{PARTITION}={dt}.json") or {}).get("attempt_id")

    def _delete_locations(self, locations: list[str]) -> None:
        from pipeline.lake.storage import S3Store

        store = S3Store(self.s3, self.kms_key_id)
        for location in locations:
            if "/run=" in location and location.startswith(self.root + "/"):  # only run-scoped prefixes of this lake
                store.delete_prefix(location)

    def _put_json(self, name: str, doc: dict) -> None:
        bucket, key = self._object(COMMITS, name)
        self.s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(doc, sort_keys=True).encode(),
                           ContentType="application/json", **sse_kwargs(self.kms_key_id))

    def _get_json(self, name: str) -> dict | None:
        bucket, key = self._object(COMMITS, name)
        try:
            return json.loads(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except self.s3.exceptions.NoSuchKey:
            return None

    def _point_partition(self, table: str, dt: str, location: str) -> None:
        table_sd = self.glue.get_table(DatabaseName=self.database, Name=table)["Table"]["StorageDescriptor"]
        sd = {**{k: v for k, v in table_sd.items() if k in ("Columns", "InputFormat", "OutputFormat", "SerdeInfo",
                                                           "Compressed", "Parameters")}, "Location": location}
        partition = {"Values": [dt], "StorageDescriptor": sd}
        try:
            self.glue.get_partition(DatabaseName=self.database, TableName=table, PartitionValues=[dt])
        except self.glue.exceptions.EntityNotFoundException:
            try:
                self.glue.create_partition(DatabaseName=self.database, TableName=table, PartitionInput=partition)
                return
            except self.glue.exceptions.AlreadyExistsException:
                pass  # created meanwhile (runs are appended without the day's lock): update it
        self.glue.update_partition(DatabaseName=self.database, TableName=table, PartitionValueList=[dt],
                                   PartitionInput=partition)

    def append_run(self, dt: date | str, attempt: str, row: Mapping[str, object]) -> str:
        """Write (or rewrite) one attempt's row of ``runs``: its own object, so attempts never overwrite each other."""
        location = join(self.partition_path("runs", dt), RUNS_FOLDER) + "/"
        path = f"{location}run-{attempt}.snappy.parquet"
        self._write("runs", [row], path)
        current = self.current_location("runs", dt)
        if current != location:
            if current and current.startswith(self.root + "/"):  # a day from before attempts: keep its rows
                bucket, prefix = split_uri(current)
                for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                    for item in page.get("Contents", []):
                        target = split_uri(f"{location}earlier-{item['Key'].replace('/', '_')}")[1]
                        self.s3.copy_object(Bucket=bucket, Key=target, CopySource={"Bucket": bucket, "Key": item["Key"]},
                                            **sse_kwargs(self.kms_key_id))
            self._point_partition("runs", str(dt), location)
        return path

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
        frame = wr.s3.read_parquet(location, boto3_session=self.session)
        return pa.Table.from_pandas(frame, preserve_index=False)
