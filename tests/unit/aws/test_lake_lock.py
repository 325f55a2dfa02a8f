"""The S3 lake's one-writer-per-day lock object and its roll-forward journal, on moto."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from pipeline.exceptions import DayLocked, LakeError
from pipeline.wiring import build_lake
from tests.aws_support import LAKE_BUCKET, all_objects, aws_settings

DAY = date(2026, 11, 22)
LOCK_KEY = "aftercall/_locks/dt=2026-11-22.lock"


def _hold(s3, expires_in_s: float, run_id: str = "scheduled__2026-11-23T00:30:00+00:00") -> None:
    expires = (datetime.now(UTC) + timedelta(seconds=expires_in_s)).isoformat(timespec="seconds")
    s3.put_object(Bucket=LAKE_BUCKET, Key=LOCK_KEY, Body=json.dumps(
        {"run_id": run_id, "host": "worker-7", "pid": 4242, "token": "theirs", "since": "2026-11-23T00:31:00+00:00",
         "expires_at": expires}).encode())


def _located_rows(lake, table):
    return sorted(r["contact_id"] for r in lake.read_partition(table, DAY).to_pylist())


def test_a_second_writer_stops_naming_the_holder_and_changes_nothing(aws):
    s3 = aws.client("s3")
    lake = build_lake(aws_settings(lock_wait_s=0.5))
    lake.write_partition("calls", DAY, [{"contact_id": "a"}])
    _hold(s3, 600)
    with pytest.raises(DayLocked, match=r"scheduled__2026-11-23T00:30:00\+00:00.*worker-7.*pid 4242"):
        lake.write_partition("calls", DAY, [{"contact_id": "b"}])
    assert _located_rows(lake, "calls") == ["a"]
    assert not [k for k in all_objects(s3, LAKE_BUCKET) if "/calls/" in k and "part-" in k and k.count("run=") and
                "b" in k.rsplit("/", 1)[-1]]
    assert json.loads(s3.get_object(Bucket=LAKE_BUCKET, Key=LOCK_KEY)["Body"].read())["token"] == "theirs"


def test_an_expired_lock_of_a_dead_holder_is_taken_over(aws):
    s3 = aws.client("s3")
    lake = build_lake(aws_settings(lock_wait_s=0))
    _hold(s3, -5)
    lake.write_partition("calls", DAY, [{"contact_id": "b"}])
    assert _located_rows(lake, "calls") == ["b"]
    assert LOCK_KEY not in all_objects(s3, LAKE_BUCKET)  # released


def test_a_writer_that_lost_its_lock_switches_nothing(aws, monkeypatch):
    s3 = aws.client("s3")
    lake = build_lake(aws_settings())
    lake.write_partition("calls", DAY, [{"contact_id": "a"}])
    real = lake._write

    def slow_write(table, rows, path):  # while this writer writes, its lock expires and another takes the day
        s3.delete_object(Bucket=LAKE_BUCKET, Key=LOCK_KEY)
        _hold(s3, 600, run_id="manual__other")
        return real(table, rows, path)

    monkeypatch.setattr(lake, "_write", slow_write)
    with pytest.raises(LakeError, match="lost the day's lock.*manual__other"):
        lake.write_partition("calls", DAY, [{"contact_id": "b"}])
    assert _located_rows(lake, "calls") == ["a"]


def test_a_switch_killed_between_tables_is_completed_by_the_next_writer(aws):
    s3 = aws.client("s3")
    lake = build_lake(aws_settings())
    lake.write_partitions(DAY, {"calls": [{"contact_id": "old"}], "turns": [{"contact_id": "old", "turn_index": 0}]})
    real = lake._point_partition
    switched: list[str] = []

    def die_after_first(table, dt, location):
        if switched:
            raise KeyboardInterrupt  # killed with calls switched and turns not
        switched.append(table)
        return real(table, dt, location)

    lake._point_partition = die_after_first
    with pytest.raises(KeyboardInterrupt):
        lake.write_partitions(DAY, {"calls": [{"contact_id": "new"}], "turns": [{"contact_id": "new", "turn_index": 0}]})
    s3.delete_object(Bucket=LAKE_BUCKET, Key=LOCK_KEY)  # a kill leaves the lock until it expires; say it did
    assert "aftercall/_commits/dt=2026-11-22.pending.json" in all_objects(s3, LAKE_BUCKET)
    other = build_lake(aws_settings())
    other.write_partition("failures", DAY, [])  # any next writer of the day rolls the switch forward first
    assert _located_rows(other, "calls") == ["new"] and _located_rows(other, "turns") == ["new"]
    keys = all_objects(s3, LAKE_BUCKET)
    assert "aftercall/_commits/dt=2026-11-22.pending.json" not in keys
    for table in ("calls", "turns"):  # the live prefix of each table has its file; the replaced one waits its grace
        live = other.current_location(table, DAY).split(f"{LAKE_BUCKET}/", 1)[1]
        assert any(k.startswith(live) for k in keys)
        assert len({k.rsplit("/", 1)[0] for k in keys if k.startswith(f"aftercall/{table}/")}) == 2


def test_replaced_prefixes_outlive_their_switch_then_go(aws):
    import pipeline.aws.lake as s3lake

    s3 = aws.client("s3")
    lake = build_lake(aws_settings())
    locations = []
    for i in range(3):
        lake.write_partitions(DAY, {"calls": [{"contact_id": f"c{i}"}], "turns": []})
        locations.append(lake.current_location("calls", DAY))
        keys = [f"s3://{LAKE_BUCKET}/{k}" for k in all_objects(s3, LAKE_BUCKET) if k.startswith("aftercall/calls/")]
        assert all(any(k.startswith(loc) for loc in locations) for k in keys)  # only ever this writer's
        assert {loc for loc in locations if any(k.startswith(loc) for k in keys)} == set(locations)  # queries planned
    assert _located_rows(lake, "calls") == ["c2"]                                          # before still read
    s3lake.REPLACED_GRACE_S, saved = 0.0, s3lake.REPLACED_GRACE_S
    try:
        lake.write_partitions(DAY, {"failures": []})  # a later writer, past the grace period
    finally:
        s3lake.REPLACED_GRACE_S = saved
    keys = [f"s3://{LAKE_BUCKET}/{k}" for k in all_objects(s3, LAKE_BUCKET) if k.startswith("aftercall/calls/")]
    assert keys and all(k.startswith(locations[-1]) for k in keys)
    assert _located_rows(lake, "calls") == ["c2"]


def test_a_half_switched_day_is_repaired_by_the_next_commit_of_any_day(aws):
    s3 = aws.client("s3")
    lake = build_lake(aws_settings())
    journal = {"commit": "run=x", "run_id": "killed", "attempt_id": "a1", "replaced": {"calls": None},
               "tables": {"calls": lake.write_partitions(DAY, {"calls": [{"contact_id": "n"}]})["calls"]}}
    s3.put_object(Bucket=LAKE_BUCKET, Key="aftercall/_commits/dt=2026-11-22.pending.json", Body=json.dumps(journal))
    assert lake.recover_pending() == ["2026-11-22"]
    assert "aftercall/_commits/dt=2026-11-22.pending.json" not in all_objects(s3, LAKE_BUCKET)
    assert lake.committed_attempt(DAY) == "a1"


def test_runs_keep_every_attempt_as_its_own_object(aws):
    lake = build_lake(aws_settings())
    for i in range(3):
        lake.append_run(DAY, f"20261122T00000{i}-00000000000{i}", {"run_id": "r", "status": "committed"})
    assert len(lake.read_partition("runs", DAY).to_pylist()) == 3
