"""A day's run: discover, process every recording in a bounded pool, commit the day's partitions.

The three steps are separate functions so Airflow can map the middle one over batches;
``run_day`` chains them for the CLI.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

from pipeline import __version__
from pipeline.steps.discovery import Recording
from pipeline.exceptions import DayFailed, DayLocked, WorkerLost
from pipeline.steps.process import CallOutcome, failure_row, process_recording, utc_now
from pipeline.settings import Settings
from pipeline.wiring import Components, Lake, build_components, build_lake, build_source

__all__ = ["DayResult", "commit_day", "day_tables", "discover_day", "new_run_id", "process_recordings", "run_day"]

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
    ctr_skipped: int = 0  # contact trace records that failed validation (counted in runs)

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
    """The recordings of ``day``, a day in ``AFTERCALL_TIMEZONE`` (every UTC folder it overlaps)."""
    return build_source(settings).discover(day)


# --- worker processes: one set of components (one model) per process, never per call ---
_worker: tuple[Components, Settings] | None = None

# Fault injection for tests only: a pool worker given a recording whose contact id is listed in this
# variable (comma-separated) kills itself with SIGKILL, as the OOM killer would. Inert unless it is set.
FAULT_KILL_WORKER_ON = "AFTERCALL_FAULT_KILL_WORKER_ON"


def _init_worker(settings_json: str) -> None:
    global _worker
    settings = Settings.model_validate_json(settings_json)
    if settings.worker_memory_mb:  # a recording needing more raises MemoryError here and is quarantined
        import resource

        limit = settings.worker_memory_mb * 2**20
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
    _worker = (build_components(settings, cpu_threads=1), settings)


def _ready() -> bool:
    """A worker that runs this has started and loaded its model."""
    return _worker is not None


def _work(recording: Recording) -> CallOutcome:
    assert _worker is not None, "worker used before its initializer ran"
    doomed = os.environ.get(FAULT_KILL_WORKER_ON)
    if doomed and recording.contact_id in doomed.split(","):
        os.kill(os.getpid(), signal.SIGKILL)
    components, settings = _worker
    return process_recording(recording, components, settings.agent_channel, settings.max_call_minutes)


_MAIN_LOCK = threading.Lock()


@contextmanager
def _workers_main() -> Iterator[None]:
    """Let spawned workers import a harmless ``__main__`` (see ``pipeline._spawn_main``), not the parent's."""
    import pipeline._spawn_main as neutral

    with _MAIN_LOCK:
        saved = sys.modules["__main__"]
        sys.modules["__main__"] = neutral
        try:
            yield
        finally:
            sys.modules["__main__"] = saved


@contextmanager
def _children_allowed() -> Iterator[None]:
    """Let a task process forked from Celery's prefork pool (billiard) start the pool's worker processes.

    There the current process is daemonic, which multiprocessing refuses children only so that they
    cannot be orphaned (the pool below shuts its workers down itself, on every exit path), and its
    authentication key is billiard's, which refuses to be pickled into a spawned child. Both are put
    back as they were afterwards.
    """
    from multiprocessing.process import AuthenticationString

    current = multiprocessing.current_process()
    config = current._config  # type: ignore[attr-defined]
    saved = dict(config)
    config["daemon"] = False
    if config.get("authkey") is not None and type(config["authkey"]) is not AuthenticationString:
        config["authkey"] = AuthenticationString(bytes(config["authkey"]))
    try:
        yield
    finally:
        config.clear()
        config.update(saved)


def _in_pool(settings: Settings, recordings: list[Recording]) -> Iterator[CallOutcome]:
    """Outcomes as they complete; at most two calls per worker in flight so memory stays bounded.

    A worker that dies (native crash, OOM killer, a model that cannot load) takes the recordings in
    flight with it: they are remembered as suspects (:mod:`pipeline.steps.suspects`) and :class:`WorkerLost`
    is raised, so the orchestrator retries the batch. On that retry the suspects are processed last,
    each alone: one whose worker dies again is quarantined, and the rest of the batch completes.
    """
    from pipeline.steps import suspects

    known = suspects.load(settings, recordings)
    ordinary = [r for r in recordings if r.uri not in known]
    alone = [r for r in recordings if r.uri in known]
    if alone:
        log.warning("%d recording(s) were in flight when a worker died: each is processed alone, after the "
                    "others: %s", len(alone), ", ".join(r.uri for r in alone))
    if ordinary:
        yield from _shared_pool(settings, ordinary, known)
    if alone:
        yield from _isolated(settings, alone, known)


def _pool(settings: Settings, workers: int) -> ProcessPoolExecutor:
    ctx = multiprocessing.get_context("spawn")  # no fork: the parent may run threads (Airflow's, a model's)
    return ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                               initargs=(settings.model_dump_json(),))


def _submit(pool: ProcessPoolExecutor, fn: Callable, *args: object) -> Future:
    """Submit, starting a worker if the pool has none idle; a pool that breaks meanwhile raises BrokenProcessPool.

    CPython 3.11's pool marks itself broken and closes its queues from its manager thread without the
    lock ``submit`` holds, so a submit racing a worker's death can start a worker on a closed queue:
    ``OSError: handle is closed`` (seen once in CI under faketime). That is the same broken pool.
    """
    with _workers_main():  # a submit may start a worker (spawn starts them one by one)
        try:
            return pool.submit(fn, *args)
        except (OSError, ValueError) as exc:
            raise BrokenProcessPool(f"could not start a pool worker: {exc}") from exc


def _shared_pool(settings: Settings, recordings: list[Recording], known: dict[str, dict]) -> Iterator[CallOutcome]:
    from pipeline.steps import suspects

    workers = min(settings.workers, len(recordings))
    pending = list(reversed(recordings))
    with _children_allowed(), _pool(settings, workers) as pool:
        running: dict[Future, Recording] = {}
        try:
            while pending or running:
                while pending and len(running) < 2 * workers:
                    rec = pending.pop()
                    running[_submit(pool, _work, rec)] = rec
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    outcome = future.result()  # raises BrokenProcessPool while still in `running`
                    del running[future]
                    yield outcome
        except BrokenProcessPool as exc:
            _kill_workers(pool)
            lost = list(running.values())
            log.error("a worker process died with %d recording(s) in flight: %s", len(lost),
                      ", ".join(r.uri for r in lost))
            suspects.remember(settings, lost, known)
            raise WorkerLost([r.uri for r in lost]) from exc


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """End every worker of a broken pool, so leaving the pool's ``with`` cannot hang.

    CPython 3.11's pool terminates the workers it knows of when one dies, then joins all of them;
    a worker that a ``submit`` was still starting at that moment is joined but never terminated nor
    told to stop, and the join waits forever (seen under a slow clock: the whole test run hung).
    ``_processes`` is the pool's private map of its workers: there is no public one.
    """
    processes = getattr(pool, "_processes", None) or {}
    for process in list(processes.values()):
        try:
            process.kill()
        except (OSError, ValueError, AttributeError):
            pass


def _isolated(settings: Settings, recordings: list[Recording], known: dict[str, dict]) -> Iterator[CallOutcome]:
    """Each suspect alone in a one-worker pool (a new pool after a death): a death now is the recording's."""
    from pipeline.steps import suspects

    queue = list(recordings)
    while queue:
        with _children_allowed(), _pool(settings, 1) as pool:
            try:
                _submit(pool, _ready).result()
            except BrokenProcessPool as exc:  # the worker cannot even start: not the suspects' fault
                _kill_workers(pool)
                log.error("a worker process died before taking a recording: %d suspect(s) left as they are",
                          len(queue))
                raise WorkerLost([r.uri for r in queue]) from exc
            while queue:
                rec = queue[0]
                try:
                    outcome = _submit(pool, _work, rec).result()
                except BrokenProcessPool:
                    _kill_workers(pool)
                    queue.pop(0)
                    suspects.note_death(settings, rec, known)
                    log.error("quarantined %s at worker: %s", rec.uri, suspects.REASON)
                    yield CallOutcome(rec, failure=failure_row(rec, "worker", suspects.REASON))
                    break  # this pool is broken: a new one for the rest
                queue.pop(0)
                suspects.clear(settings, rec)
                yield outcome


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
    # Suspects of a worker's death (pipeline.steps.suspects) are processed alone in their own pool, whatever the size.
    in_process = settings.engine == "aws" or (
        (settings.workers <= 1 or len(unique) <= 1) and not (unique and _has_suspects(settings, unique)))
    if unique and in_process:
        # One thread, as in a pool worker: int8 kernels may round differently with another thread count,
        # and a call must get the same transcript whichever way its batch ran.
        components = build_components(settings, cpu_threads=1)
        if components.transcriber is not None:
            components.transcriber.prepare(unique)
        outcomes: Iterable[CallOutcome] = (process_recording(r, components, settings.agent_channel,
                                                             settings.max_call_minutes) for r in unique)
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


def _has_suspects(settings: Settings, recordings: list[Recording]) -> bool:
    from pipeline.steps import suspects

    try:
        return bool(suspects.load(settings, recordings))
    except Exception:  # the lake's store unreachable: the pool path looks again and raises there if it must
        log.exception("could not look up suspects of earlier worker deaths")
        return False


def day_tables(settings: Settings, result: DayResult, lake: Lake | None = None) -> dict[str, list[dict]]:
    """Every table's rows for the day: the processed ones, and those derived from them at commit.

    With ``lake`` (the committing writer holds the day), what the day already has is taken into
    account: without ``AFTERCALL_CTR_SOURCE`` its contacts are kept rather than erased, and
    category rules newer than the configured ones (applied with ``recategorize --rules``) stay.
    """
    from pipeline.analytics.categories import effective_rules
    from pipeline.analytics.ctr import attribute_rows, read_contacts_checked
    from pipeline.analytics.pii import mask_for

    if settings.ctr_source or lake is None:
        contacts, result.ctr_skipped = read_contacts_checked(settings, result.day, result.calls)
        contact_rows = [{k: v for k, v in c.items() if not k.startswith("_")} for c in contacts]
        attributes = attribute_rows(contacts, pii_mask=mask_for(settings))  # values redacted like turns, names kept
    else:
        contact_rows = lake.read_partition("contacts", result.day).to_pylist()
        attributes = lake.read_partition("contact_attributes", result.day).to_pylist()
        if contact_rows:
            log.warning("%s: AFTERCALL_CTR_SOURCE is not set: keeping the day's %d contacts as they were "
                        "(set it to read contact trace records again)", result.day, len(contact_rows))
    rules = effective_rules(settings, lake, result.day)
    categories = _categories(rules, result)
    return {
        "calls": result.calls,
        "turns": result.turns,
        "failures": result.failures,
        "turns_raw": result.turns_raw,
        "call_categories": categories,
        "contacts": contact_rows,
        "contact_attributes": attributes,
        "evaluations": _evaluations(settings, rules, result, categories),
    }


def _evaluations(settings: Settings, rules, result: DayResult, categories: list[dict]) -> list[dict]:
    """The day's automated evaluations, in the same commit as its categories (whose matches they read)."""
    from pipeline.analytics.evaluations import effective_forms, evaluate_day

    return evaluate_day(effective_forms(settings, rules), result.calls, result.turns, categories)


def _categories(rules, result: DayResult) -> list[dict]:
    """The day's categories, from its turns as rows or, staged by the orchestrator, as one arrow table."""
    from pipeline.analytics.categories import categorize_day, categorize_table

    if isinstance(result.turns, list):
        return categorize_day(rules, result.calls, result.turns)
    import pyarrow as pa

    from pipeline.lake.schema import TABLES

    calls = pa.Table.from_pylist([{k: c.get(k) for k in TABLES["calls"].names} for c in result.calls],
                                 schema=TABLES["calls"])
    return categorize_table(rules, calls, result.turns)


def new_run_id(prefix: str = "cli") -> str:
    """A run id nobody else has: the second, and 32 random bits (two CLI runs in one second differ)."""
    return f"{prefix}__{utc_now():%Y-%m-%dT%H:%M:%S}__{uuid.uuid4().hex[:8]}"


def commit_day(settings: Settings, result: DayResult, *, recordings: int | None = None,
               run_id: str | None = None) -> dict[str, list[dict]]:
    """Replace the day's partition of every table at once (an empty day writes empty partitions).

    One writer per day: the day's lock is held from reading what the day has to the switch; a
    second writer waits (``AFTERCALL_LOCK_WAIT_S``), then stops with :class:`DayLocked`.
    A day whose recordings all failed is not committed: :class:`DayFailed` is raised and the day
    keeps its last committed rows. Every attempt is appended to the ``runs`` table: ``started``
    when it holds the day (a run killed after that stays ``started`` until the next writer marks
    it ``interrupted``), then ``committed``, ``failed`` or ``refused``.
    ``recordings`` is how many were found (default: outcomes seen).
    """
    from pipeline.steps.days import check_lake_zone, record_lake_zone

    check_lake_zone(settings)  # a lake of another zone's days is refused before anything is written to it
    lake = build_lake(settings)
    found = len(result.calls) + len(result.failures) if recordings is None else recordings
    run = _RunLog(lake, result, run_id or new_run_id(), found)
    if found and not result.calls:
        for failure in result.failures:
            log.error("%s: %s failed at %s: %s", result.day, failure["recording_uri"], failure["stage"],
                      failure["error"])
        example = result.failures[0]["error"] if result.failures else "nothing staged"
        reason = f"all {found} recordings failed (e.g. {example})"
        run.record("failed", reason)
        raise DayFailed(result.day, reason)
    try:  # a writer killed mid-switch (S3: between two Glue calls) left a day half switched: finish it first
        for day in lake.recover_pending():
            log.warning("%s: completed the switch a killed writer left unfinished", day)
    except Exception:
        log.exception("could not check for unfinished switches")
    try:
        with lake.day_lock(result.day, run.run_id):
            run.record("started", None)
            run.mark_interrupted()
            try:
                record_lake_zone(settings)  # the lake's first commit records its zone
                tables = day_tables(settings, result, lake)
                lake.write_partitions(result.day, tables, run_id=run.run_id, attempt_id=run.attempt)
            except BaseException as exc:  # KeyboardInterrupt / SystemExit too: the attempt says how it ended
                run.record("failed", f"{type(exc).__name__}: {exc}")
                raise
            run.record("committed", None)  # still holding the day: the next writer sees the final status
    except DayLocked as exc:
        run.record("refused", str(exc))
        raise
    return tables


class _RunLog:
    """This attempt's row of ``runs`` (its own file or object: attempts never overwrite each other)."""

    def __init__(self, lake: Lake, result: DayResult, run_id: str, recordings: int) -> None:
        from pipeline.lake.tables import commit_id

        self.lake, self.result, self.run_id, self.recordings = lake, result, run_id, recordings
        self.attempt = commit_id()
        self.started_at = utc_now()

    def record(self, status: str, error: str | None) -> None:
        """Never masks the run's own error: a row that cannot be written is logged."""
        result = self.result
        row = {"run_id": self.run_id, "attempt_id": self.attempt, "status": status, "recordings": self.recordings,
               "processed": len(result.calls), "quarantined": len(result.failures),
               "ctr_skipped": result.ctr_skipped, "error": error, "started_at": self.started_at,
               "finished_at": None if status == "started" else utc_now(), "pipeline_version": __version__}
        try:
            self.lake.append_run(result.day, self.attempt, row)
        except Exception:
            log.exception("%s: could not record run %s (%s) in the runs table", result.day, self.run_id, status)

    def mark_interrupted(self) -> None:
        """Attempts still ``started`` while this one holds the day died holding it (kill -9, a lost machine):
        ``committed`` if the day shows their commit (killed between the switch and their last row), else
        ``interrupted``."""
        try:
            stale = [r for r in self.lake.read_partition("runs", self.result.day).to_pylist()
                     if r.get("status") == "started" and r.get("attempt_id") and r["attempt_id"] != self.attempt]
            shown = self.lake.committed_attempt(self.result.day) if stale else None
            for row in stale:
                if row["attempt_id"] == shown:
                    final = {"status": "committed", "error": "the run ended right after its commit; recorded by the "
                                                             f"next writer of the day, run {self.run_id}"}
                else:
                    final = {"status": "interrupted", "error": "the run ended before it committed (killed or "
                                                               "crashed); the day was left as it was"}
                self.lake.append_run(self.result.day, row["attempt_id"], {**row, **final, "finished_at": utc_now()})
        except Exception:
            log.exception("%s: could not mark interrupted runs", self.result.day)


def run_day(settings: Settings, day: date, progress: Progress | None = None,
            on_discovered: Callable[[int], None] | None = None) -> DayResult:
    from pipeline.analytics.categories import effective_rules

    from pipeline.steps.days import check_lake_zone
    from pipeline.analytics.evaluations import effective_forms

    # broken category rules or evaluation forms stop the run before it pays for any transcription
    effective_forms(settings, effective_rules(settings))
    check_lake_zone(settings)  # so does a lake whose days are in another zone
    recordings = discover_day(settings, day)
    if on_discovered:
        on_discovered(len(recordings))
    result = process_recordings(settings, recordings, progress, day=day)
    commit_day(settings, result, recordings=len(recordings))
    return result
