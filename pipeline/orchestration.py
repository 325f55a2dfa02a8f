"""The day as steps an orchestrator can map, retry and resume: plan, process a batch, commit, check views.

Airflow-agnostic (the DAG calls these; so could any other scheduler). Between steps only
paths and ids travel. Batches stage their rows under ``<lake>/_staging/dt=DAY/<run>/``;
the commit step turns every staged batch into the day's partitions in one switch per table,
then removes the staging folder. A batch that is retried overwrites its own staged files,
so retries and re-runs never duplicate rows.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import shutil
from dataclasses import asdict
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.adapters.duckdb_engine import query
from pipeline.discovery import Recording
from pipeline.exceptions import AftercallError
from pipeline.lake import LocalLake
from pipeline.run import DayResult, discover_day, process_recordings
from pipeline.schema import TABLES
from pipeline.settings import Settings

__all__ = ["DayFailed", "MAX_BATCHES", "check_views", "commit_day_staged", "plan_day", "process_batch"]

log = logging.getLogger(__name__)

MAX_BATCHES = 256  # well under Airflow's max_map_length (1024)


class DayFailed(AftercallError):
    """Every recording of a non-empty day was quarantined: something is wrong beyond bad files."""

    def __init__(self, day: date, failures: int, sample: str) -> None:
        super().__init__(f"{day}: all {failures} recordings failed (e.g. {sample})")
        self.day = day


def _run_key(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)


def _staging(settings: Settings, day: date, run_id: str) -> Path:
    return Path(settings.lake) / "_staging" / f"dt={day}" / _run_key(run_id)


def plan_day(settings: Settings, day: date, run_id: str, batch_size: int = 50) -> list[dict]:
    """Discover the day, write its manifest, return one small descriptor per batch (ids and paths only)."""
    recordings = discover_day(settings, day)
    staging = _staging(settings, day, run_id)
    shutil.rmtree(staging, ignore_errors=True)  # a re-run of the same run id starts clean
    staging.mkdir(parents=True)
    manifest = staging / "manifest.json"
    manifest.write_text(json.dumps([{**asdict(r), "dt": str(r.dt),
                                     "call_started_at": r.call_started_at.isoformat() if r.call_started_at else None}
                                    for r in recordings]))
    if not recordings:
        log.info("%s: no recordings found under %s", day, settings.source)
        return []
    size = max(batch_size, math.ceil(len(recordings) / MAX_BATCHES))
    count = math.ceil(len(recordings) / size)
    log.info("%s: %d recordings in %d batches of up to %d", day, len(recordings), count, size)
    return [
        {"manifest": str(manifest), "batch": i, "start": i * size, "stop": min((i + 1) * size, len(recordings)),
         "label": f"batch {i + 1}/{count} ({min((i + 1) * size, len(recordings)) - i * size} calls)"}
        for i in range(count)
    ]


def _load_manifest(path: str, start: int, stop: int) -> list[Recording]:
    from datetime import datetime

    rows = json.loads(Path(path).read_text())[start:stop]
    return [Recording(uri=r["uri"], contact_id=r["contact_id"], dt=date.fromisoformat(r["dt"]),
                      call_started_at=datetime.fromisoformat(r["call_started_at"]) if r["call_started_at"] else None,
                      size_bytes=r["size_bytes"]) for r in rows]


def process_batch(settings: Settings, batch: dict) -> str:
    """Process one batch and stage its rows; returns the staged folder."""
    recordings = _load_manifest(batch["manifest"], batch["start"], batch["stop"])
    result = process_recordings(settings, recordings, day=recordings[0].dt if recordings else None)
    folder = Path(batch["manifest"]).parent / f"batch-{batch['batch']:05d}"
    folder.mkdir(exist_ok=True)
    for table, rows in (("calls", result.calls), ("turns", result.turns), ("failures", result.failures)):
        schema = TABLES[table]
        pq.write_table(pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in rows], schema=schema),
                       folder / f"{table}.parquet")
    log.info("%s: %d processed, %d quarantined, %.0f s of audio in %.1f s", batch["label"], len(result.calls),
             len(result.failures), result.audio_s, result.wall_s)
    return str(folder)


def commit_day_staged(settings: Settings, day: date, run_id: str) -> dict:
    """Switch the day's partitions to the staged batches; fail the day if every recording failed."""
    staging = _staging(settings, day, run_id)
    manifest = json.loads((staging / "manifest.json").read_text())
    result = DayResult(day)
    for folder in sorted(staging.glob("batch-*")):
        result.calls += pq.read_table(folder / "calls.parquet").to_pylist()
        result.turns += pq.read_table(folder / "turns.parquet").to_pylist()
        result.failures += pq.read_table(folder / "failures.parquet").to_pylist()
    seen = len(result.calls) + len(result.failures)
    if seen < len(manifest):
        raise AftercallError(f"{day}: only {seen} of {len(manifest)} recordings were staged; not committing")
    lake = LocalLake(settings.lake)
    for table, rows in (("calls", result.calls), ("turns", result.turns), ("failures", result.failures)):
        lake.write_partition(table, day, rows)
    shutil.rmtree(staging, ignore_errors=True)
    with contextlib.suppress(OSError):  # another run of the same day may still be staging there
        staging.parent.rmdir()
    summary = {"day": str(day), "recordings": len(manifest), "processed": len(result.calls),
               "quarantined": len(result.failures), "turns": len(result.turns)}
    log.info("committed %s", summary)
    if manifest and not result.calls:
        raise DayFailed(day, len(result.failures), result.failures[0]["error"] if result.failures else "?")
    return summary


def check_views(settings: Settings, day: date) -> list[dict]:
    """Run every view over the lake (locally views are created per connection); log the day's overview."""
    columns, rows = query(f"select * from v_daily_overview where dt = '{day:%Y-%m-%d}'", settings.lake)
    overview = [dict(zip(columns, r, strict=True)) for r in rows]
    log.info("v_daily_overview %s: %s", day, overview)
    return overview
