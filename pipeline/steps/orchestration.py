"""The day as steps an orchestrator can map, retry and resume: plan, process a batch, commit, check views.

Airflow-agnostic (the DAG calls these; so could any other scheduler). A day is a day in
``AFTERCALL_TIMEZONE`` (:mod:`pipeline.steps.days`): staging, manifests, locks and partitions are keyed by it.
Between steps only paths and ids travel. Batches stage their rows under ``<lake>/_staging/dt=DAY/<run>/`` (a
folder, or an S3 prefix when the lake is on S3);
the commit step turns every staged batch into the day's partitions in one switch per table,
then removes the staging folder. A batch that is retried overwrites its own staged files,
so retries and re-runs never duplicate rows.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import re
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.adapters.duckdb_engine import query
from pipeline.steps.discovery import Recording
from pipeline.exceptions import AftercallError, DayFailed
from pipeline.steps.run import DayResult, commit_day, discover_day, process_recordings
from pipeline.lake.schema import TABLES
from pipeline.settings import Settings
from pipeline.wiring import aws_client, build_store

__all__ = ["DayFailed", "MAX_BATCHES", "check_schedule_zone", "check_views", "commit_day_staged", "day_has_landed",
           "day_of_run", "plan_day", "process_batch", "refresh_views"]

log = logging.getLogger(__name__)

MAX_BATCHES = 256  # well under Airflow's max_map_length (1024)
STAGED = ("calls", "turns", "turns_raw", "failures")  # what batches produce; the rest is derived at commit


def day_of_run(day_param: str | None, logical_date: datetime | None, run_after: datetime,
               tz: str = "UTC") -> date:
    """The day a run processes, as users name it: a day in the centre's zone ``tz`` (``AFTERCALL_TIMEZONE``).

    The ``day`` param if given; else the logical date's day in ``tz``: the nightly run of the interval
    starting at D 00:00 (local), ``airflow dags test … D``, each day of ``backfill create --from-date D1
    --to-date D2``, a UI trigger with a logical date. A trigger without a logical date: yesterday
    (in ``tz``) relative to when it runs, the last day that has ended.
    """
    from pipeline.steps.days import local_day

    if day_param:
        return date.fromisoformat(day_param)
    if logical_date is not None:
        return local_day(logical_date, tz)
    return local_day(run_after, tz) - timedelta(days=1)


def day_has_landed(day: date, delay_minutes: float, now: datetime | None = None, tz: str = "UTC") -> bool:
    """Whether ``day`` (a day in ``tz``) ended at least ``delay_minutes`` ago: its last recordings have been
    uploaded."""
    from pipeline.steps.days import day_bounds

    landed = day_bounds(day, tz)[1] + timedelta(minutes=delay_minutes)
    return (now or datetime.now(UTC)) >= landed


def check_schedule_zone(day: date, tz: str, logical_date: datetime | None) -> None:
    """A run the midnight schedule made (scheduled, backfill) starts at the local midnight of ``day`` in ``tz``;
    else the scheduler read another ``AFTERCALL_TIMEZONE`` than this worker (the timetable is built where the DAG
    is parsed for the scheduler) and the day would be wrong: ConfigurationError, before anything is discovered.

    The logical date is compared, not the data interval: a manual run (which a backfill may re-run) carries the
    interval Airflow infers for it, the one that ended before its logical date."""
    from pipeline.steps.days import day_bounds
    from pipeline.exceptions import ConfigurationError

    if logical_date is None:
        return
    midnight = day_bounds(day, tz)[0]
    if logical_date.astimezone(UTC) != midnight:
        raise ConfigurationError(
            f"the run's logical date {logical_date.astimezone(UTC):%Y-%m-%d %H:%M} UTC is not a midnight in "
            f"AFTERCALL_TIMEZONE={tz} (the day {day} starts at {midnight:%Y-%m-%d %H:%M} UTC): the scheduler's DAG "
            "processor and the workers must have the same AFTERCALL_TIMEZONE, and AFTERCALL_SCHEDULE stay at midnight")


def _run_key(run_id: str) -> str:
    """A folder name for ``run_id`` that is one path segment, never ``.`` or ``..``, and never another run's:
    the readable part is sanitised and a digest of the exact id is appended."""
    readable = re.sub(r"[^A-Za-z0-9_-]", "_", run_id)[:80] or "run"
    return f"{readable}-{hashlib.sha256(run_id.encode()).hexdigest()[:12]}"


def _staging(settings: Settings, day: date, run_id: str) -> str:
    return "/".join([settings.lake.rstrip("/"), "_staging", f"dt={day}", _run_key(run_id)])


def _parquet_bytes(table: str, rows: list[dict]) -> bytes:
    schema = TABLES[table]
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in rows], schema=schema), buffer)
    return buffer.getvalue()


def plan_day(settings: Settings, day: date, run_id: str, batch_size: int = 50) -> list[dict]:
    """Discover the day, write its manifest, return one small descriptor per batch (ids and paths only)."""
    from pipeline.analytics.categories import effective_rules
    from pipeline.steps.days import check_lake_zone
    from pipeline.analytics.evaluations import effective_forms

    # broken category rules or evaluation forms stop the run before it pays for any transcription
    effective_forms(settings, effective_rules(settings))
    check_lake_zone(settings)  # so does a lake whose days are in another zone (LakeZoneMismatch)
    recordings = discover_day(settings, day)
    store = build_store(settings)
    staging = _staging(settings, day, run_id)
    store.delete_prefix(staging)  # a re-run of the same run id starts clean
    manifest = f"{staging}/manifest.json"
    store.write_bytes(manifest, json.dumps([
        {**asdict(r), "dt": str(r.dt), "call_started_at": r.call_started_at.isoformat() if r.call_started_at else None}
        for r in recordings]).encode())
    if not recordings:
        log.info("%s: no recordings found under %s", day, settings.source)
        return []
    size = max(batch_size, math.ceil(len(recordings) / MAX_BATCHES))
    count = math.ceil(len(recordings) / size)
    log.info("%s: %d recordings in %d batches of up to %d", day, len(recordings), count, size)
    return [
        {"manifest": manifest, "batch": i, "start": i * size, "stop": min((i + 1) * size, len(recordings)),
         "label": f"{day} batch {i + 1}/{count} ({min((i + 1) * size, len(recordings)) - i * size} calls)"}
        for i in range(count)
    ]


def _load_manifest(settings: Settings, path: str, start: int, stop: int) -> list[Recording]:
    from datetime import datetime

    rows = json.loads(build_store(settings).read_bytes(path))[start:stop]
    return [Recording(uri=r["uri"], contact_id=r["contact_id"], dt=date.fromisoformat(r["dt"]),
                      call_started_at=datetime.fromisoformat(r["call_started_at"]) if r["call_started_at"] else None,
                      size_bytes=r["size_bytes"], etag=r.get("etag"), timezone=r.get("timezone") or "UTC")
            for r in rows]


def process_batch(settings: Settings, batch: dict) -> str:
    """Process one batch and stage its rows; returns the staged folder (or prefix)."""
    recordings = _load_manifest(settings, batch["manifest"], batch["start"], batch["stop"])
    result = process_recordings(settings, recordings, day=recordings[0].dt if recordings else None)
    folder = f"{batch['manifest'].rsplit('/', 1)[0]}/batch-{batch['batch']:05d}"
    store = build_store(settings)
    for table in STAGED:
        store.write_bytes(f"{folder}/{table}.parquet", _parquet_bytes(table, getattr(result, table)))
    log.info("%s: %d processed, %d quarantined, %.0f s of audio in %.1f s, peak RSS %.0f MB (a worker process: "
             "%.0f MB)", batch["label"], len(result.calls), len(result.failures), result.audio_s, result.wall_s,
             *_peak_rss_mb())
    return folder


def _peak_rss_mb() -> tuple[float, float]:
    """Peak resident memory of this process and of its largest finished child (pool workers), in MB."""
    import resource

    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def commit_day_staged(settings: Settings, day: date, run_id: str) -> dict:
    """Switch the day's partitions to the staged batches, or change nothing.

    Staging is removed only after a successful commit: a retry of this step commits the same rows,
    or fails again with the same reason (:class:`DayFailed` when every recording failed).
    """
    store = build_store(settings)
    staging = _staging(settings, day, run_id)
    manifest = json.loads(store.read_bytes(f"{staging}/manifest.json"))
    result = DayResult(day)
    staged = {path.rsplit("/", 2)[-2:][0] for path in store.list(staging) if "/batch-" in path}
    parts: dict[str, list[pa.Table]] = {table: [] for table in STAGED}
    for folder in sorted(staged):
        for table in STAGED:
            parts[table].append(pq.read_table(io.BytesIO(store.read_bytes(f"{staging}/{folder}/{table}.parquet"))))
    for table in STAGED:
        data = pa.concat_tables(parts.pop(table)) if staged else TABLES[table].empty_table()
        # A busy day's turns stay columnar to the lake (as Python rows: ~1 KB each, over 1 GB for 10,000 calls);
        # calls and failures, one row a call, are what the run log, contacts and categories read as rows.
        setattr(result, table, data if table in ("turns", "turns_raw") else data.to_pylist())
    seen = len(result.calls) + len(result.failures)
    if seen < len(manifest):
        raise AftercallError(f"{day}: only {seen} of {len(manifest)} recordings were staged; not committing")
    tables = commit_day(settings, result, recordings=len(manifest), run_id=run_id)
    store.delete_prefix(staging)
    summary = {"day": str(day), "recordings": len(manifest), "processed": len(result.calls),
               "quarantined": len(result.failures), "turns": len(result.turns),
               "categories": len(tables["call_categories"]), "contacts": len(tables["contacts"]),
               "evaluation_answers": len(tables["evaluations"])}
    log.info("committed %s", summary)
    return summary


def refresh_views(settings: Settings, day: date) -> list[dict]:
    """On Athena, (re)create every view first; then check the day's overview answers."""
    if settings.lake_is_s3:
        from pipeline.aws.athena import create_views

        create_views(aws_client(settings, "athena"), settings)
    return check_views(settings, day)


def check_views(settings: Settings, day: date) -> list[dict]:
    """Run the day's overview (locally views are created per connection) and log it."""
    sql = f"select * from v_daily_overview where dt = '{day:%Y-%m-%d}'"
    if settings.lake_is_s3:
        from pipeline.aws.athena import run_query

        columns, rows = run_query(aws_client(settings, "athena"), sql, settings)
    else:
        columns, rows = query(sql, settings.lake)
    overview = [dict(zip(columns, r, strict=True)) for r in rows]
    log.info("v_daily_overview %s: %s", day, overview)
    return overview
