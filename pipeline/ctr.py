"""Amazon Connect contact trace records (CTRs): who took the call, from which queue, when.

Kinesis Data Firehose writes CTRs as JSON objects one after another, often with no separator,
several per object, under ``<prefix>/YYYY/MM/DD/HH/``. A day's contacts are read from that
day's folder and the next one (a call that ends after midnight is delivered the day after),
kept when they started that day (UTC) or name one of the day's recordings. Several records of
one contact: the latest ``LastUpdateTimestamp`` wins. Connect's ``Recording.Location`` is
the authoritative link to a recording, so a recording whose file name is not its contact id
is still matched.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pipeline.settings import Settings

__all__ = ["attribute_rows", "iter_records", "read_contacts"]

log = logging.getLogger(__name__)


def iter_records(text: str) -> Iterator[dict]:
    """Every JSON object in ``text``: concatenated, newline-separated or a JSON array."""
    decoder, i, n = json.JSONDecoder(), 0, len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n,":
            i += 1
        if i >= n:
            break
        value, i = decoder.raw_decode(text, i)
        yield from (value if isinstance(value, list) else [value])


def _ts(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)


def _row(record: Mapping[str, Any], uri: str) -> dict:
    agent = record.get("Agent") or {}
    queue = record.get("Queue") or {}
    recording = record.get("Recording") or {}
    return {
        "contact_id": record["ContactId"],
        "agent_username": agent.get("Username"),
        "agent_arn": agent.get("ARN"),
        "queue_name": queue.get("Name"),
        "channel": record.get("Channel"),
        "initiation_method": record.get("InitiationMethod"),
        "initiation_at": _ts(record.get("InitiationTimestamp")),
        "disconnect_at": _ts(record.get("DisconnectTimestamp")),
        "agent_connected_at": _ts(agent.get("ConnectedToAgentTimestamp")),
        "recording_location": recording.get("Location"),
        "ctr_uri": uri,
        "_updated": record.get("LastUpdateTimestamp") or "",
        "_attributes": record.get("Attributes") or {},
    }


def read_contacts(settings: Settings, day: date, calls: Iterable[Mapping[str, Any]] = ()) -> list[dict]:
    """``contacts`` rows for ``day`` from ``AFTERCALL_CTR_SOURCE`` (none when it is not set)."""
    if not settings.ctr_source:
        return []
    from pipeline.wiring import build_store

    store = build_store(settings, settings.ctr_source)
    root = settings.ctr_source.rstrip("/")
    by_file = {c["recording_uri"].rsplit("/", 1)[-1]: c["contact_id"] for c in calls}
    day_calls = set(by_file.values())
    latest: dict[str, dict] = {}
    bad = 0
    for d in (day, day + timedelta(days=1)):
        for path in store.list(f"{root}/{d:%Y/%m/%d}"):
            try:
                records = list(iter_records(store.read_bytes(path).decode("utf-8")))
            except (ValueError, UnicodeDecodeError) as exc:
                bad += 1
                log.warning("skipping CTR file %s: %s", path, exc)
                continue
            for record in records:
                if "ContactId" not in record:
                    continue
                row = _row(record, path)
                location = (row["recording_location"] or "").rsplit("/", 1)[-1]
                contact_id = by_file.get(location, row["contact_id"]) if location else row["contact_id"]
                started = row["initiation_at"]
                if contact_id not in day_calls and (started is None or started.date() != day):
                    continue
                row["contact_id"] = contact_id
                if contact_id not in latest or row["_updated"] >= latest[contact_id]["_updated"]:
                    latest[contact_id] = row
    log.info("%s: %d contact trace records (%d unreadable files)", day, len(latest), bad)
    return [{k: v for k, v in r.items() if k != "_updated"} for _, r in sorted(latest.items())]


def attribute_rows(contacts: Iterable[Mapping[str, Any]]) -> list[dict]:
    """``contact_attributes`` rows (contact_id, name, value) from the contacts' latest records.

    Contact flows set these (``$.Attributes``, a Lambda's return): intent, customer tier, IVR choice.
    Values are kept as text, as Connect stores them.
    """
    return [{"contact_id": c["contact_id"], "name": str(name), "value": None if value is None else str(value)}
            for c in contacts for name, value in sorted((c.get("_attributes") or {}).items())]
