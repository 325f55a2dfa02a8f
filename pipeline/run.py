"""A day's run: discover, process every recording in a bounded pool, commit the day's partitions.

The three steps are separate functions so Airflow can map the middle one over batches;
``run_day`` chains them for the CLI.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import date

from pipeline.discovery import Recording
from pipeline.process import CallOutcome, failure_row, process_recording
from pipeline.settings import Settings
from pipeline.wiring import Components, build_components, build_lake, build_source

__all__ = ["DayResult", "commit_day", "day_tables", "discover_day", "process_recordings", "run_day"]

log = logging.getLogger(__name__)

Progress = Callable[[CallOutcome], None]


@dataclass(slots=True)
class DayResult:
    day: date
    calls: list[dict] = field(default_factory=list)
    turns: list[dict] = field(default_factory=list)
    turns_raw: list[dict] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    audio_s: float = 0.0
    wall_s: float = 0.0

    def add(self, outcome: CallOutcome) -> None:
        if outcome.call is not None:
            self.calls.append(outcome.call)
            self.turns.extend(outcome.turns)
            self.turns_raw.extend(outcome.turns_raw)
        if outcome.failure is not None:
            self.failures.append(outcome.failure)
        self.audio_s += outcome.audio_s
        for stage, seconds in outcome.timings.items():
            self.timings[stage] = self.timings.get(stage, 0.0) + seconds


def discover_day(settings: Settings, day: date) -> list[Recording]:
    return build_source(settings).discover(day)


# --- worker processes: one set of components (one model) per process, never per call ---
_worker: tuple[Components, int] | None = None


def _init_worker(settings_json: str) -> None:
    global _worker
    settings = Settings.model_validate_json(settings_json)
    _worker = (build_components(settings, cpu_threads=1), settings.agent_channel)


def _work(recording: Recording) -> CallOutcome:
    assert _worker is not None, "worker used before its initializer ran"
    return process_recording(recording, *_worker)


def _in_pool(settings: Settings, recordings: list[Recording]) -> Iterator[CallOutcome]:
    """Outcomes as they complete; at most two calls per worker in flight so memory stays bounded."""
    workers = min(settings.workers, len(recordings))
    pending = list(reversed(recordings))
    while pending:
        ctx = multiprocessing.get_context("spawn")  # no fork: model runtimes start threads
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                                 initargs=(settings.model_dump_json(),)) as pool:
            running: dict[Future, Recording] = {}
            try:
                while pending or running:
                    while pending and len(running) < 2 * workers:
                        rec = pending.pop()
                        running[pool.submit(_work, rec)] = rec
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        outcome = future.result()  # raises BrokenProcessPool while still in `running`
                        del running[future]
                        yield outcome
            except BrokenProcessPool:
                # A native crash or the OOM killer took a worker: quarantine what was in flight, go on.
                for rec in running.values():
                    yield CallOutcome(rec, failure=failure_row(rec, "worker", "worker process died while processing"))


def process_recordings(settings: Settings, recordings: Iterable[Recording],
                       progress: Progress | None = None, day: date | None = None) -> DayResult:
    """Process recordings (deduplicated by contact id) into one DayResult; bad ones become failures."""
    recordings = list(recordings)
    result = DayResult(day or (recordings[0].dt if recordings else date.today()))
    started = time.perf_counter()
    unique: list[Recording] = []
    seen: dict[str, Recording] = {}
    for rec in recordings:
        if rec.contact_id in seen:
            outcome = CallOutcome(rec, failure=failure_row(
                rec, "discover", f"duplicate contact id {rec.contact_id}: also in {seen[rec.contact_id].uri}"))
            result.add(outcome)
            if progress:
                progress(outcome)
            continue
        seen[rec.contact_id] = rec
        unique.append(rec)
    # In-process when the speech work is remote (AWS: a batch's jobs are started and awaited together in
    # prepare(), a no-op for local engines) or there is nothing to spread over a pool.
    if unique and (settings.engine == "aws" or settings.workers <= 1 or len(unique) <= 1):
        components = build_components(settings, cpu_threads=max(1, settings.workers))
        if components.transcriber is not None:
            components.transcriber.prepare(unique)
        outcomes: Iterable[CallOutcome] = (process_recording(r, components, settings.agent_channel) for r in unique)
    elif not unique:
        outcomes = ()
    else:
        outcomes = _in_pool(settings, unique)
    for outcome in outcomes:
        result.add(outcome)
        if progress:
            progress(outcome)
    result.calls.sort(key=lambda r: r["contact_id"])
    result.turns.sort(key=lambda r: (r["contact_id"], r["turn_index"]))
    result.turns_raw.sort(key=lambda r: (r["contact_id"], r["turn_index"]))
    result.wall_s = time.perf_counter() - started
    return result


def day_tables(settings: Settings, result: DayResult) -> dict[str, list[dict]]:
    """Every table's rows for the day: the processed ones, and those derived from them at commit."""
    from pipeline.categories import categorize_day, load_rules
    from pipeline.ctr import read_contacts

    return {
        "calls": result.calls,
        "turns": result.turns,
        "failures": result.failures,
        "turns_raw": result.turns_raw,
        "call_categories": categorize_day(load_rules(settings.categories), result.calls, result.turns),
        "contacts": read_contacts(settings, result.day, result.calls),
    }


def commit_day(settings: Settings, result: DayResult) -> dict[str, list[dict]]:
    """Replace the day's partition of every table (an empty day writes empty partitions)."""
    lake = build_lake(settings)
    tables = day_tables(settings, result)
    for table, rows in tables.items():
        lake.write_partition(table, result.day, rows)
    return tables


def run_day(settings: Settings, day: date, progress: Progress | None = None,
            on_discovered: Callable[[int], None] | None = None) -> DayResult:
    recordings = discover_day(settings, day)
    if on_discovered:
        on_discovered(len(recordings))
    result = process_recordings(settings, recordings, progress, day=day)
    commit_day(settings, result)
    return result
