"""Amazon Connect contact trace records (CTRs): who took the call, from which queue, when.

Kinesis Data Firehose writes CTRs as JSON objects one after another, often with no separator,
several per object, under ``<prefix>/YYYY/MM/DD/HH/`` (UTC). A day's contacts (a day in
``AFTERCALL_TIMEZONE``) are read from every UTC folder the day overlaps and the next one (a call
that ends after midnight is delivered the day after), kept when they started that local day or
name one of the day's recordings. Several records of
one contact: the latest ``LastUpdateTimestamp`` wins. Connect's ``Recording.Location`` is
the authoritative link to a recording, so a recording whose file name is not its contact id
is still matched.

Records are checked one by one: a record that is not an object, lacks a usable ``ContactId``
(a string of 1-256 printable characters), has a time that is not ISO 8601 text, or a field of
the wrong shape (``Agent`` not an object, ``Attributes`` not a map, ...) is skipped, counted and
logged with its file and position, never its content. A file that turns into garbage part way
keeps the records before it (the rest counts as one skipped item); the day goes on either way.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from pipeline.steps.days import local_day, utc_folders
from pipeline.analytics.pii import redact_attribute
from pipeline.settings import Settings

__all__ = ["BadRecord", "attribute_rows", "iter_records", "read_contacts", "read_contacts_checked", "valid_contact_id"]

log = logging.getLogger(__name__)

MAX_CONTACT_ID = 256
LOGGED_PER_FILE = 5  # skipped records logged one by one per file; the rest as a count


class BadRecord(ValueError):
    """A CTR this module can't use; the message names the field, never its value."""


def _values(text: str) -> Iterator[tuple[int, Any]]:
    """(index, value) of every JSON value in ``text`` (a top-level array's items one by one).

    Raises :class:`json.JSONDecodeError` where the text stops being JSON, after the values before it.
    """
    # A number of thousands of digits stays text (Python refuses to convert it): one value, not the file.
    decoder = json.JSONDecoder(parse_int=lambda digits: int(digits) if len(digits) <= 4000 else digits)
    i, n, index = 0, len(text), 0
    while i < n:
        while i < n and text[i] in " \t\r\n,":
            i += 1
        if i >= n:
            break
        value, i = decoder.raw_decode(text, i)
        for item in value if isinstance(value, list) else [value]:
            yield index, item
            index += 1


def iter_records(text: str) -> Iterator[Any]:
    """Every JSON object in ``text``: concatenated, newline-separated or a JSON array."""
    for _, value in _values(text):
        yield value


def _ts(record: Mapping[str, Any], field: str) -> datetime | None:
    value = record.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadRecord(f"{field} is {type(value).__name__}, not ISO 8601 text")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRecord(f"{field} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:  # Connect writes UTC; a time without an offset is read as UTC, not local
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:  # 0001-01-01T00:00+14:00 is before year 1 in UTC
        raise BadRecord(f"{field} is out of range in UTC") from None


def _object(record: Mapping[str, Any], field: str) -> Mapping[str, Any]:
    value = record.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRecord(f"{field} is {type(value).__name__}, not an object")
    return value


def _text(record: Mapping[str, Any], field: str, where: str = "") -> str | None:
    value = record.get(field)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise BadRecord(f"{where}{field} is {type(value).__name__}, not text")


def _contact_id(record: Mapping[str, Any]) -> str:
    return valid_contact_id(record.get("ContactId"))


def valid_contact_id(value: Any) -> str:
    """``value`` if it can be a contact id (1-256 printable characters), else :class:`BadRecord` saying why."""
    if not isinstance(value, str):
        raise BadRecord("no ContactId" if value is None else f"ContactId is {type(value).__name__}, not text")
    if not value.strip():
        raise BadRecord("ContactId is empty")
    if len(value) > MAX_CONTACT_ID:
        raise BadRecord(f"ContactId is {len(value)} characters long (at most {MAX_CONTACT_ID})")
    if not value.isprintable():
        raise BadRecord("ContactId holds control characters")
    return value


def _row(record: Any, uri: str) -> dict:
    """The ``contacts`` row of one record; :class:`BadRecord` when the record can't give one."""
    if not isinstance(record, dict):
        raise BadRecord(f"a JSON {type(record).__name__}, not an object")
    contact_id = _contact_id(record)
    agent, queue, recording = _object(record, "Agent"), _object(record, "Queue"), _object(record, "Recording")
    attributes = _object(record, "Attributes")
    return {
        "contact_id": contact_id,
        "agent_username": _text(agent, "Username", "Agent."),
        "agent_arn": _text(agent, "ARN", "Agent."),
        "queue_name": _text(queue, "Name", "Queue."),
        "channel": _text(record, "Channel"),
        "initiation_method": _text(record, "InitiationMethod"),
        "initiation_at": _ts(record, "InitiationTimestamp"),
        "disconnect_at": _ts(record, "DisconnectTimestamp"),
        "agent_connected_at": _ts(agent, "ConnectedToAgentTimestamp"),
        "recording_location": _text(recording, "Location", "Recording."),
        "ctr_uri": uri,
        "_updated": _ts(record, "LastUpdateTimestamp") or datetime.min,
        "_attributes": {str(name): _value_text(value) for name, value in attributes.items()},  # text now: per record
    }


def _file_rows(path: str, data: bytes) -> tuple[list[dict], int]:
    """The usable rows of one CTR file, and how many items in it were skipped (logged, without content)."""
    rows: list[dict] = []
    skipped = 0

    def skip(position: str, reason: str) -> None:
        nonlocal skipped
        skipped += 1
        if skipped <= LOGGED_PER_FILE:
            log.warning("skipping CTR %s of %s: %s", position, path, reason)

    text = data.decode("utf-8", errors="replace").lstrip("\ufeff")  # a stray byte spoils one value, not the file
    index = -1
    try:
        for index, record in _values(text):
            try:
                rows.append(_row(record, path))
            except BadRecord as exc:
                skip(f"record #{index}", str(exc))
            except (ValueError, OverflowError, TypeError, RecursionError) as exc:  # e.g. a 5,000-digit number
                skip(f"record #{index}", f"a value it cannot use ({type(exc).__name__})")
    except json.JSONDecodeError as exc:
        skip(f"from record #{index + 1} on", f"not JSON from character {exc.pos} ({exc.msg})")
    except RecursionError:
        skip(f"from record #{index + 1} on", "JSON nested too deep")
    if skipped > LOGGED_PER_FILE:
        log.warning("skipped %d CTR records of %s in all", skipped, path)
    return rows, skipped


def read_contacts_checked(settings: Settings, day: date,
                          calls: Iterable[Mapping[str, Any]] = ()) -> tuple[list[dict], int]:
    """``contacts`` rows for ``day`` from ``AFTERCALL_CTR_SOURCE`` (none when it is not set), and how
    many records (or unreadable file tails) were skipped."""
    if not settings.ctr_source:
        return [], 0
    from pipeline.wiring import build_store

    store = build_store(settings, settings.ctr_source)
    root = settings.ctr_source.rstrip("/")
    by_file = {c["recording_uri"].rsplit("/", 1)[-1]: c["contact_id"] for c in calls}
    day_calls = set(by_file.values())
    latest: dict[str, dict] = {}
    skipped = 0
    folders = utc_folders(day, settings.timezone)
    for d in [*folders, folders[-1] + timedelta(days=1)]:
        for path in store.list(f"{root}/{d:%Y/%m/%d}"):
            rows, bad = _file_rows(path, store.read_bytes(path))
            skipped += bad
            for row in rows:
                location = (row["recording_location"] or "").rsplit("/", 1)[-1]
                contact_id = by_file.get(location, row["contact_id"]) if location else row["contact_id"]
                started = row["initiation_at"]
                if contact_id not in day_calls and (started is None or local_day(started, settings.timezone) != day):
                    continue
                row["contact_id"] = contact_id
                if contact_id not in latest or row["_updated"] >= latest[contact_id]["_updated"]:
                    latest[contact_id] = row
    log.info("%s: %d contacts from contact trace records (%d records skipped)", day, len(latest), skipped)
    return [{k: v for k, v in r.items() if k != "_updated"} for _, r in sorted(latest.items())], skipped


def read_contacts(settings: Settings, day: date, calls: Iterable[Mapping[str, Any]] = ()) -> list[dict]:
    """``contacts`` rows for ``day`` from ``AFTERCALL_CTR_SOURCE`` (none when it is not set)."""
    return read_contacts_checked(settings, day, calls)[0]


def _value_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def attribute_rows(contacts: Iterable[Mapping[str, Any]], *,
                   pii_mask: Literal["type", "pii"] | None = None) -> list[dict]:
    """``contact_attributes`` rows (contact_id, name, value) from the contacts' latest records.

    Contact flows set these (``$.Attributes``, a Lambda's return): intent, customer tier, IVR choice.
    Values are kept as text, as Connect stores them. With ``pii_mask`` (redaction on:
    :func:`pipeline.analytics.pii.mask_for`), values go through :func:`pipeline.analytics.pii.redact_attribute` —
    the name is context there (``cvv`` = ``123``) and stays as it is.
    """
    rows = []
    for c in contacts:
        for name, value in sorted((c.get("_attributes") or {}).items()):
            text = _value_text(value)  # already text for contacts read here; callers may pass raw values
            if pii_mask and text is not None:
                text = redact_attribute(str(name), text, pii_mask)
            rows.append({"contact_id": c["contact_id"], "name": str(name), "value": text})
    return rows
