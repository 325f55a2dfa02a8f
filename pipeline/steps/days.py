"""Business days in the contact centre's time zone (``AFTERCALL_TIMEZONE``, an IANA name; default UTC).

Amazon Connect files a recording under the UTC day its call started
(``CallRecordings/YYYY/MM/DD/<contactId>_<YYYYMMDDTHH:MM>_UTC.wav``); analysts think in the
centre's local day. A local day is the interval ``[local midnight, next local midnight)``, turned
into UTC from the zone's own rules (23 or 25 hours across a DST change, never a hard-coded offset),
and it overlaps two UTC folders in any zone other than UTC (one when the offset is zero).

A recording belongs to the local day of its start stamp. A recording without a stamp, or whose
stamp's UTC date is not its folder's (a file renamed or moved by hand), belongs to the day its
folder names, as before zones existed: so every recording belongs to exactly one local day, and
that day's run always lists its folder.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["DEFAULT_ZONE", "day_bounds", "local_day", "recording_day", "utc_folders", "zone"]

log = logging.getLogger(__name__)

DEFAULT_ZONE = "UTC"


@lru_cache(maxsize=32)
def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ValueError with a readable message when there is no such zone."""
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise ValueError(f"{name!r} is not an IANA time zone name (such as UTC, Asia/Seoul, America/New_York)")
    if name == "localtime" or name.startswith("right/"):
        # localtime: tzdata's link to the machine's /etc/localtime, a different zone on each worker; right/: clocks
        # that count leap seconds, which Connect's timestamps do not
        raise ValueError(f"{name!r} is not one zone on every machine: name the centre's zone, such as Asia/Seoul")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as UTC, Asia/Seoul or "
                         "America/New_York") from None


def day_bounds(day: date, tz: str = DEFAULT_ZONE) -> tuple[datetime, datetime]:
    """The local ``day`` as a UTC interval ``[start, end)``: local midnight to the next local midnight."""
    z = zone(tz)
    start = datetime.combine(day, time(), tzinfo=z).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=z).astimezone(UTC)
    return start, end


def utc_folders(day: date, tz: str = DEFAULT_ZONE) -> list[date]:
    """The UTC days (Connect's folders) the local ``day`` overlaps, in order."""
    start, end = day_bounds(day, tz)
    last = (end - timedelta(microseconds=1)).date()
    return [start.date() + timedelta(days=i) for i in range((last - start.date()).days + 1)]


def local_day(instant: datetime, tz: str = DEFAULT_ZONE) -> date:
    """The local day of an aware ``instant`` (a naive one is read as UTC, as the lake stores times)."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(zone(tz)).date()


def recording_day(folder_day: date, started: datetime | None, tz: str = DEFAULT_ZONE) -> date:
    """The local day a recording filed under the UTC folder ``folder_day`` belongs to (see the module's doc)."""
    if started is None:
        return folder_day
    if started.astimezone(UTC).date() != folder_day:
        log.warning("a recording stamped %s lies in the folder of %s: it belongs to the folder's day",
                    started.isoformat(), folder_day)
        return folder_day
    return local_day(started, tz)


# --- the lake's zone: recorded once, at its first commit; a run with another zone is refused ---
LAKE_META = "_aftercall.json"  # <lake>/_aftercall.json: {"timezone": "Asia/Seoul", ...}
_RECORDED = f"recorded in {LAKE_META}"


def _meta_path(settings) -> str:
    return f"{settings.lake.rstrip('/')}/{LAKE_META}"


def lake_zone(settings) -> tuple[str | None, str]:
    """The zone the lake's days are in and how it is known: (zone, how); (None, ...) for a lake with no day yet."""
    import json

    from pipeline.wiring import build_store

    store = build_store(settings)
    try:
        raw = store.read_if_exists(_meta_path(settings))
        if raw is not None:
            recorded = json.loads(raw)["timezone"]
            zone(recorded)
    # OSError: a directory, FIFO or symlink loop where the file should be; RecursionError: JSON nested too deep
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        from pipeline.exceptions import ConfigurationError

        raise ConfigurationError(f"{_meta_path(settings)} is damaged ({str(exc)[:200]}): it names the time zone of "
                                 "the lake's days; restore it (or write {\"timezone\": \"<zone>\"})") from None
    if raw is not None:
        return recorded, _RECORDED
    root = settings.lake.rstrip("/")
    if store.list(f"{root}/_commits") or store.list(f"{root}/calls"):
        return DEFAULT_ZONE, "written before aftercall knew zones: UTC days"
    return None, "a new lake"


def check_lake_zone(settings) -> tuple[str | None, str]:
    """Raise :class:`~pipeline.exceptions.LakeZoneMismatch` when the lake's days are in another zone than
    ``AFTERCALL_TIMEZONE``; else :func:`lake_zone`'s answer."""
    from pipeline.exceptions import LakeZoneMismatch

    recorded, how = lake_zone(settings)
    if recorded is not None and recorded != settings.timezone:
        raise LakeZoneMismatch(settings.lake, recorded, settings.timezone, how)
    return recorded, how


def record_lake_zone(settings) -> None:
    """Check the lake's zone; record ``AFTERCALL_TIMEZONE`` as the lake's zone when it has none recorded yet."""
    import json

    from pipeline.wiring import build_store

    _, how = check_lake_zone(settings)  # one read of the zone file per commit, not two
    if how != _RECORDED:
        build_store(settings).write_bytes(_meta_path(settings), json.dumps(
            {"timezone": settings.timezone, "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
             "note": "dt partitions are days in this zone; a run with another AFTERCALL_TIMEZONE is refused"},
            indent=1).encode())
