"""The orchestrator's commit: a busy day's staged turns go to the lake as arrow tables, never as a day of Python rows
(10,000 calls ≈ 330,000 turns: 1.4 GB as dicts in the commit task, 0.5 GB columnar; bench/scale.md), with the same
rows and categories as the row path."""

from __future__ import annotations

import json
from datetime import date

import pyarrow as pa

from pipeline.steps import orchestration
from pipeline.analytics.categories import categorize_day, load_rules
from pipeline.settings import Settings
from pipeline.lake.storage import LocalStore
from pipeline.wiring import build_lake

DAY = date(2026, 11, 22)


def _batch(first: int, count: int) -> tuple[list[dict], list[dict]]:
    calls, turns = [], []
    for n in range(first, first + count):
        cid = f"call-{n:03d}"
        calls.append({"contact_id": cid, "recording_uri": f"/x/{cid}.wav", "duration_s": 40.0, "non_talk_s": 12.0 * (n % 2)})
        lines = [("AGENT", "thank you for calling how can I help" if n % 3 else "yes"),
                 ("CUSTOMER", "I want to cancel my account" if n % 2 else "all good"), ("AGENT", "sure")]
        turns += [{"contact_id": cid, "turn_index": i, "participant": who, "begin_s": 2.0 * i, "end_s": 2.0 * i + 1.5,
                   "text": text, "word_count": len(text.split()), "sentiment": "NEUTRAL"}
                  for i, (who, text) in enumerate(lines)]
    return calls, turns


def test_a_staged_day_commits_its_turns_columnar_with_the_same_rows_and_categories(tmp_path, monkeypatch):
    settings = Settings(lake=str(tmp_path / "lake"), source=str(tmp_path))
    staging = orchestration._staging(settings, DAY, "run-1")
    store, everything = LocalStore(), ([], [])
    manifest = []
    for b in range(3):
        calls, turns = _batch(b * 4, 4)
        everything[0].extend(calls)
        everything[1].extend(turns)
        manifest += [{"uri": c["recording_uri"], "contact_id": c["contact_id"]} for c in calls]
        for table, rows in {"calls": calls, "turns": turns, "turns_raw": turns, "failures": []}.items():
            store.write_bytes(f"{staging}/batch-{b:05d}/{table}.parquet", orchestration._parquet_bytes(table, rows))
    store.write_bytes(f"{staging}/manifest.json", json.dumps(manifest).encode())
    seen = {}
    real = orchestration.commit_day

    def spy(settings, result, **kw):
        seen["turns"], seen["turns_raw"] = type(result.turns), type(result.turns_raw)
        return real(settings, result, **kw)

    monkeypatch.setattr(orchestration, "commit_day", spy)
    summary = orchestration.commit_day_staged(settings, DAY, "run-1")

    assert seen == {"turns": pa.Table, "turns_raw": pa.Table}  # not a list of dicts
    assert (summary["processed"], summary["turns"]) == (12, 36)
    lake = build_lake(settings)
    stored = lake.read_partition("turns", DAY).to_pylist()
    assert [(t["contact_id"], t["turn_index"], t["text"]) for t in stored] == \
        [(t["contact_id"], t["turn_index"], t["text"]) for t in everything[1]]
    expected = categorize_day(load_rules(), everything[0], everything[1])
    got = lake.read_partition("call_categories", DAY).to_pylist()
    key = lambda r: (r["contact_id"], r["category"])  # noqa: E731
    assert sorted(map(key, got)) == sorted(map(key, expected)) and len(expected) >= 8
