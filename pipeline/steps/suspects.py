"""Recordings in flight when a worker process died: remembered beside the lake, retried alone.

A native crash or the kernel's OOM killer takes a worker with every recording it held, and which
of them caused it is unknown. Those recordings become *suspects*, one small JSON object each under
``<lake>/_suspects/dt=DAY/`` (written through the lake's store, so on S3 too; one object per
recording, so batches of one day running at once never overwrite each other's).

The next attempt (the orchestrator's retry, or a rerun of the day) processes the other recordings
in the pool as usual, then each suspect alone in a single-worker pool (:func:`pipeline.steps.run._in_pool`):

* the worker dies again on it → it is quarantined (``failures`` stage ``worker``, :data:`REASON`)
  and the rest of the batch completes;
* it completes → it was innocent (in flight beside the culprit): it is cleared.

A worker that cannot even start there (a model that cannot load) is the machine's fault, not the
suspect's: :class:`~pipeline.exceptions.WorkerLost` is raised again and nothing is quarantined.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import date
from pathlib import Path

from pipeline.steps.discovery import Recording
from pipeline.steps.process import utc_now
from pipeline.settings import Settings
from pipeline.lake.storage import Store
from pipeline.wiring import build_store

__all__ = ["FOLDER", "REASON", "clear", "load", "note_death", "remember"]

log = logging.getLogger(__name__)

FOLDER = "_suspects"
REASON = "the worker process died while processing it (out of memory or a crash) twice"


def _folder(settings: Settings, day: date) -> str:
    return f"{settings.lake.rstrip('/')}/{FOLDER}/dt={day}"


def _path(settings: Settings, recording: Recording) -> str:
    key = hashlib.sha256(recording.uri.encode()).hexdigest()[:24]
    return f"{_folder(settings, recording.dt)}/{key}.json"


def load(settings: Settings, recordings: list[Recording]) -> dict[str, dict]:
    """The suspects among ``recordings``: uri -> its record (``deaths``: how often a worker died with it)."""
    store = build_store(settings)
    found: dict[str, dict] = {}
    for day in sorted({r.dt for r in recordings}):
        listed = set(store.list(_folder(settings, day)))  # one listing per day, not one read per recording
        if not listed:
            continue
        for rec in recordings:
            path = _path(settings, rec)
            if rec.dt == day and path in listed:
                try:
                    found[rec.uri] = json.loads(store.read_bytes(path))
                except (OSError, ValueError) as exc:  # unreadable: still a suspect, with what we know
                    log.warning("suspect record %s unreadable (%s): treating %s as a suspect", path, exc, rec.uri)
                    found[rec.uri] = {"uri": rec.uri, "deaths": 1}
    return found


def _write(store: Store, settings: Settings, recording: Recording, deaths: int) -> None:
    store.write_bytes(_path(settings, recording), json.dumps({
        "uri": recording.uri, "contact_id": recording.contact_id, "dt": str(recording.dt), "deaths": deaths,
        "last_death_at": utc_now().isoformat(timespec="seconds")}).encode())


def remember(settings: Settings, recordings: list[Recording], known: dict[str, dict] | None = None) -> None:
    """A worker died with these in flight: each becomes a suspect (or one more death is counted).

    Never raises: the worker's death is the error to report, this only makes the retry smarter.
    """
    store = build_store(settings)
    known = known or {}
    for rec in recordings:
        try:
            _write(store, settings, rec, int(known.get(rec.uri, {}).get("deaths", 0)) + 1)
        except Exception:
            log.exception("could not remember %s as a suspect of a worker's death", rec.uri)


def note_death(settings: Settings, recording: Recording, known: dict[str, dict]) -> None:
    """The worker died on this suspect alone: one more death on its record (kept for later reruns)."""
    remember(settings, [recording], known)


def clear(settings: Settings, recording: Recording) -> None:
    """The suspect completed alone: it was innocent."""
    store = build_store(settings)
    path = _path(settings, recording)
    try:
        if hasattr(store, "delete"):  # S3Store
            store.delete([path])  # type: ignore[attr-defined]
        else:
            Path(path).unlink(missing_ok=True)
    except Exception:
        log.exception("could not clear suspect %s (it will be processed alone again next time)", recording.uri)
