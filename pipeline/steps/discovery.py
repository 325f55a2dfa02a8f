"""Find a day's recordings in Amazon Connect's layout: ``*/CallRecordings/YYYY/MM/DD/<contactId>_<YYYYMMDDTHH:MM>_UTC.wav``.

The folders are UTC days; the day asked for is a day in ``AFTERCALL_TIMEZONE`` (:mod:`pipeline.steps.days`):
every UTC folder it overlaps is listed, and a recording is kept when it belongs to that local day.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from pipeline.steps.days import recording_day, utc_folders

__all__ = ["AUDIO_SUFFIXES", "Recording", "discover_local", "has_connect_layout", "in_day", "parse_recording_name"]

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff"})
_NAME = re.compile(r"^(?P<contact>[^_]+)_(?P<ts>\d{8}T\d{2}:?\d{2}(?::?\d{2})?)_UTC", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Recording:
    """One stereo call recording; ``uri`` is an absolute local path or an ``s3://`` URI.

    ``dt`` is the local day (in ``timezone``) the recording belongs to; ``call_started_at`` is UTC.
    """

    uri: str
    contact_id: str
    dt: date
    call_started_at: datetime | None
    size_bytes: int
    etag: str | None = None  # S3's content tag: with the size, it keys the transcript cache
    timezone: str = "UTC"  # the zone of ``dt`` (AFTERCALL_TIMEZONE)


def parse_recording_name(name: str) -> tuple[str, datetime | None]:
    """``contactId_20261122T09:30_UTC.wav`` -> (contactId, 2026-11-22 09:30 UTC); else (stem, None)."""
    stem = name.rsplit(".", 1)[0] if "." in name else name
    match = _NAME.match(name)
    if not match:
        return stem.split("_", 1)[0] or stem, None
    digits = match["ts"].replace(":", "")
    fmt = "%Y%m%dT%H%M%S" if len(digits) == 15 else "%Y%m%dT%H%M"
    try:
        started = datetime.strptime(digits, fmt).replace(tzinfo=UTC)
    except ValueError:
        started = None
    return match["contact"], started


def has_connect_layout(root: Path) -> bool:
    """Whether any ``CallRecordings`` folder with a ``YYYY/MM/DD`` below it exists under ``root``."""
    for dirpath, dirnames, _ in os.walk(root):
        if Path(dirpath).name == "CallRecordings":
            if any(p.is_dir() for p in Path(dirpath).glob("[0-9][0-9][0-9][0-9]/[0-9][0-9]/[0-9][0-9]")):
                return True
            dirnames.clear()
            continue
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
    return False


def _day_dirs(root: Path, day: date) -> list[Path]:
    """Every ``CallRecordings/YYYY/MM/DD`` folder below ``root``, without walking other days' folders."""
    tail = Path(f"{day:%Y}", f"{day:%m}", f"{day:%d}")
    found: list[Path] = []
    for dirpath, dirnames, _ in os.walk(root):
        if Path(dirpath).name == "CallRecordings":
            candidate = Path(dirpath) / tail
            if candidate.is_dir():
                found.append(candidate)
            dirnames.clear()  # an archive of years lies below: never walk it
            continue
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
    return found


def in_day(name: str, folder_day: date, day: date, tz: str) -> tuple[str, datetime | None] | None:
    """(contact id, start) of the recording ``name`` filed under the UTC folder ``folder_day`` when it belongs
    to the local ``day`` in zone ``tz``, else None."""
    contact_id, started = parse_recording_name(name)
    return (contact_id, started) if recording_day(folder_day, started, tz) == day else None


def discover_local(root: Path, day: date, tz: str = "UTC") -> list[Recording]:
    """The local day's recordings under ``root`` (every UTC folder the day overlaps), sorted by contact id then
    path; other files are ignored."""
    recordings = []
    for folder_day in utc_folders(day, tz):
        for folder in _day_dirs(root, folder_day):
            for entry in sorted(folder.iterdir()):
                if entry.name.startswith(".") or not entry.is_file():
                    continue
                if entry.suffix.lower() not in AUDIO_SUFFIXES:
                    log.debug("ignoring %s: not an audio file name", entry)
                    continue
                found = in_day(entry.name, folder_day, day, tz)
                if found is None:
                    continue
                recordings.append(Recording(str(entry.resolve()), found[0], day, found[1], entry.stat().st_size,
                                            timezone=tz))
    return sorted(recordings, key=lambda r: (r.contact_id, r.uri))
