"""Business days in the centre's time zone: the interval maths, discovery across two UTC folders, dt = the
local day, the DAG's day rule in the zone, and a lake that refuses a change of zone."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pipeline.steps.days import day_bounds, local_day, recording_day, utc_folders
from pipeline.steps.discovery import discover_local
from pipeline.exceptions import ConfigurationError, LakeZoneMismatch
from pipeline.steps.orchestration import day_has_landed, day_of_run
from pipeline.settings import load_settings
from tests.conftest import make_settings
from tests.zones import straddling_source

SEOUL, NEW_YORK = "Asia/Seoul", "America/New_York"


# --- the interval maths ---
def test_a_seoul_day_is_15_00_utc_the_day_before_to_15_00_utc_and_spans_two_folders():
    start, end = day_bounds(date(2026, 11, 23), SEOUL)
    assert (start, end) == (datetime(2026, 11, 22, 15, tzinfo=UTC), datetime(2026, 11, 23, 15, tzinfo=UTC))
    assert utc_folders(date(2026, 11, 23), SEOUL) == [date(2026, 11, 22), date(2026, 11, 23)]


def test_a_utc_day_is_one_folder():
    assert day_bounds(date(2026, 11, 22)) == (datetime(2026, 11, 22, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC))
    assert utc_folders(date(2026, 11, 22), "UTC") == [date(2026, 11, 22)]


def test_new_york_negative_offset_reads_the_day_and_the_next_folder():
    assert day_bounds(date(2026, 11, 22), NEW_YORK) == (datetime(2026, 11, 22, 5, tzinfo=UTC),
                                                        datetime(2026, 11, 23, 5, tzinfo=UTC))
    assert utc_folders(date(2026, 11, 22), NEW_YORK) == [date(2026, 11, 22), date(2026, 11, 23)]
    assert day_bounds(date(2026, 7, 4), NEW_YORK)[0] == datetime(2026, 7, 4, 4, tzinfo=UTC)  # EDT, UTC-4


@pytest.mark.parametrize(("day", "hours", "start_hour", "end_hour"), [
    (date(2026, 3, 8), 23, 5, 4),  # spring forward: EST -> EDT
    (date(2026, 11, 1), 25, 4, 5),  # fall back: EDT -> EST
    (date(2026, 3, 9), 24, 4, 4),
])
def test_new_york_days_across_dst_are_23_or_25_hours(day, hours, start_hour, end_hour):
    start, end = day_bounds(day, NEW_YORK)
    assert end - start == timedelta(hours=hours)
    assert (start.hour, end.hour) == (start_hour, end_hour)
    # consecutive days tile time: no gap, no overlap
    assert day_bounds(day + timedelta(days=1), NEW_YORK)[0] == end


def test_local_day_of_an_instant():
    assert local_day(datetime(2026, 11, 22, 15, 0, tzinfo=UTC), SEOUL) == date(2026, 11, 23)
    assert local_day(datetime(2026, 11, 22, 14, 59, tzinfo=UTC), SEOUL) == date(2026, 11, 22)
    assert local_day(datetime(2026, 11, 22, 14, 59), SEOUL) == date(2026, 11, 22)  # naive = UTC
    assert local_day(datetime(2026, 11, 23, 4, 59, tzinfo=UTC), NEW_YORK) == date(2026, 11, 22)


def test_a_recording_without_a_stamp_or_in_the_wrong_folder_belongs_to_its_folders_day():
    assert recording_day(date(2026, 11, 22), None, SEOUL) == date(2026, 11, 22)
    assert recording_day(date(2026, 11, 22), datetime(2026, 11, 22, 16, tzinfo=UTC), SEOUL) == date(2026, 11, 23)
    # stamped another UTC day than its folder (moved or renamed by hand): the folder decides, as before zones
    assert recording_day(date(2026, 11, 22), datetime(2026, 11, 25, 16, tzinfo=UTC), SEOUL) == date(2026, 11, 22)


# --- settings ---
def test_the_zone_is_validated_with_a_clear_message(monkeypatch):
    assert load_settings().timezone == "UTC"
    assert load_settings(timezone=SEOUL).timezone == SEOUL
    monkeypatch.setenv("AFTERCALL_TIMEZONE", "Asia/Seol")
    with pytest.raises(ConfigurationError, match=r"AFTERCALL_TIMEZONE: unknown time zone 'Asia/Seol'.*IANA"):
        load_settings()
    for bad in ("", "+09:00", "../../etc/passwd"):
        with pytest.raises(ConfigurationError, match="AFTERCALL_TIMEZONE"):
            load_settings(timezone=bad)


@pytest.mark.parametrize("name", ["localtime", "right/UTC", "right/Asia/Seoul"])
def test_a_zone_that_differs_from_machine_to_machine_is_refused(name):
    """tzdata's `localtime` is a link to each machine's /etc/localtime: a lake recorded in it had other days on
    another worker. right/ zones count leap seconds."""
    with pytest.raises(ConfigurationError, match=rf"AFTERCALL_TIMEZONE: '{name}' is not one zone on every machine"):
        load_settings(timezone=name)


# --- discovery across two UTC folders ---
NAMES = {  # UTC folder -> file names; the Seoul day 2026-11-23 runs from 22nd 15:00 UTC to 23rd 15:00 UTC
    "2026/11/22": ["early_20261122T14:59_UTC.wav", "late_20261122T15:00_UTC.wav", "night_20261122T23:30_UTC.wav",
                   "nostamp22.wav"],
    "2026/11/23": ["morning_20261123T00:10_UTC.wav", "noon_20261123T03:00_UTC.wav",
                   "evening_20261123T15:00_UTC.wav", "nostamp23.wav"],
    "2026/11/24": ["next_20261124T01:00_UTC.wav"],
}


def _layout(root, names=NAMES, instances=("acme",)):
    for instance in instances:
        for folder, files in names.items():
            path = root / "connect" / instance / "CallRecordings" / folder
            path.mkdir(parents=True, exist_ok=True)
            for name in files:
                (path / name).write_bytes(b"x")


def test_a_seoul_day_takes_the_calls_that_started_in_it_from_both_folders(tmp_path):
    _layout(tmp_path)
    found = discover_local(tmp_path, date(2026, 11, 23), SEOUL)
    assert [r.contact_id for r in found] == ["late", "morning", "night", "noon", "nostamp23"]
    assert {r.dt for r in found} == {date(2026, 11, 23)} and {r.timezone for r in found} == {SEOUL}
    assert [r.contact_id for r in discover_local(tmp_path, date(2026, 11, 22), SEOUL)] == ["early", "nostamp22"]
    assert [r.contact_id for r in discover_local(tmp_path, date(2026, 11, 24), SEOUL)] == ["evening", "next"]


def test_every_recording_belongs_to_exactly_one_local_day_in_any_zone(tmp_path):
    _layout(tmp_path)
    every = sorted(n.split("_")[0].removesuffix(".wav") for files in NAMES.values() for n in files)
    for tz in ("UTC", SEOUL, NEW_YORK, "Pacific/Kiritimati", "Pacific/Pago_Pago"):
        seen = [r.contact_id for d in range(19, 28) for r in discover_local(tmp_path, date(2026, 11, d), tz)]
        assert sorted(seen) == every, tz


def test_utc_discovery_is_as_before(tmp_path):
    _layout(tmp_path)
    assert [r.contact_id for r in discover_local(tmp_path, date(2026, 11, 22))] == [
        "early", "late", "night", "nostamp22"]


def test_the_s3_source_lists_both_folders_too(aws, tmp_path):
    from pipeline.aws.s3_source import S3Source

    from tests.aws_support import SOURCE_BUCKET

    s3 = aws.client("s3")
    for folder, files in NAMES.items():
        for name in files:
            s3.put_object(Bucket=SOURCE_BUCKET, Key=f"connect/acme/CallRecordings/{folder}/{name}", Body=b"x")
    found = S3Source(s3, f"s3://{SOURCE_BUCKET}/connect", timezone=SEOUL).discover(date(2026, 11, 23))
    assert [r.contact_id for r in found] == ["late", "morning", "night", "noon", "nostamp23"]
    assert {r.dt for r in found} == {date(2026, 11, 23)}
    assert found[0].uri.startswith(f"s3://{SOURCE_BUCKET}/connect/acme/CallRecordings/2026/11/22/")


# --- the DAG's day rule in the zone ---
def test_the_logical_date_names_the_local_day():
    seoul_midnight = datetime(2026, 11, 23, tzinfo=ZoneInfo(SEOUL))  # = 2026-11-22 15:00 UTC
    assert day_of_run(None, seoul_midnight.astimezone(UTC), datetime.now(UTC), SEOUL) == date(2026, 11, 23)
    assert day_of_run(None, seoul_midnight.astimezone(UTC), datetime.now(UTC)) == date(2026, 11, 22)  # UTC as before
    # a trigger without a logical date: yesterday, in the zone
    assert day_of_run(None, None, datetime(2026, 11, 23, 16, tzinfo=UTC), SEOUL) == date(2026, 11, 23)
    assert day_of_run(None, None, datetime(2026, 11, 23, 16, tzinfo=UTC)) == date(2026, 11, 22)
    assert day_of_run("2026-03-01", seoul_midnight, datetime.now(UTC), SEOUL) == date(2026, 3, 1)


def test_a_local_day_has_landed_after_its_local_midnight_plus_the_delay():
    day = date(2026, 11, 23)
    assert not day_has_landed(day, 30, datetime(2026, 11, 23, 15, 29, tzinfo=UTC), SEOUL)
    assert day_has_landed(day, 30, datetime(2026, 11, 23, 15, 30, tzinfo=UTC), SEOUL)
    assert not day_has_landed(date(2026, 11, 1), 0, datetime(2026, 11, 2, 4, 59, tzinfo=UTC), NEW_YORK)  # 25 h
    assert day_has_landed(date(2026, 11, 1), 0, datetime(2026, 11, 2, 5, 0, tzinfo=UTC), NEW_YORK)


# --- dt = the local day, end to end through run_day, and a lake that keeps its zone ---
def _straddling_source(tmp_path, sample_files):
    return straddling_source(tmp_path / "source", sample_files)


def test_dt_is_the_local_day_and_the_views_show_the_zone(tmp_path, sample_files):
    from pipeline.adapters.duckdb_engine import query
    from pipeline.steps.run import run_day

    source, lake = _straddling_source(tmp_path, sample_files), tmp_path / "lake"
    settings = make_settings(source, lake, transcribe=False, workers=1, timezone=SEOUL)
    for _ in range(2):  # a rerun replaces the day, never duplicates it
        run_day(settings, date(2026, 11, 23))
    run_day(settings, date(2026, 11, 22))  # the Seoul day before: none of these calls
    assert query("select dt, count(*), count(distinct contact_id) from calls group by dt order by dt", lake)[1] == [
        ("2026-11-23", 4, 4)]
    assert query("select dt, status from runs order by finished_at", lake)[1] == [
        ("2026-11-23", "committed"), ("2026-11-23", "committed"), ("2026-11-22", "committed")]
    rows = query("select call_started_at, call_started_local, timezone from v_call_summary order by 1", lake)[1]
    assert [(str(a), str(b), z) for a, b, z in rows] == [
        ("2026-11-22 15:05:00", "2026-11-23 00:05:00", SEOUL), ("2026-11-22 23:58:00", "2026-11-23 08:58:00", SEOUL),
        ("2026-11-23 00:02:00", "2026-11-23 09:02:00", SEOUL), ("2026-11-23 14:55:00", "2026-11-23 23:55:00", SEOUL)]
    assert json.loads((lake / "_aftercall.json").read_text())["timezone"] == SEOUL


def test_a_change_of_zone_on_an_existing_lake_is_refused_and_changes_nothing(tmp_path, sample_files):
    from pipeline.steps.orchestration import plan_day
    from pipeline.steps.run import commit_day, process_recordings, run_day

    source, lake = _straddling_source(tmp_path, sample_files), tmp_path / "lake"
    seoul = make_settings(source, lake, transcribe=False, workers=1, timezone=SEOUL)
    run_day(seoul, date(2026, 11, 23))
    before = sorted(p.relative_to(lake) for p in lake.rglob("*"))
    utc = make_settings(source, lake, transcribe=False, workers=1)
    with pytest.raises(LakeZoneMismatch, match=r"holds days in Asia/Seoul.*AFTERCALL_TIMEZONE=UTC.*new lake") as err:
        run_day(utc, date(2026, 11, 22))
    assert (err.value.lake_zone, err.value.zone) == (SEOUL, "UTC")
    with pytest.raises(LakeZoneMismatch):
        plan_day(utc, date(2026, 11, 22), "manual__x")
    with pytest.raises(LakeZoneMismatch):  # the commit step checks too (a DAG whose zone changed between steps)
        commit_day(utc, process_recordings(utc, [], day=date(2026, 11, 22)))
    assert sorted(p.relative_to(lake) for p in lake.rglob("*")) == before


def test_a_lake_from_before_zones_holds_utc_days(tmp_path, sample_files, source):
    from pipeline.steps.days import LAKE_META
    from pipeline.steps.run import run_day

    lake = tmp_path / "lake"
    run_day(make_settings(source, lake, transcribe=False, workers=1), date(2026, 11, 22))
    (lake / LAKE_META).unlink()  # as a lake written by an earlier version has it
    with pytest.raises(LakeZoneMismatch, match="before aftercall knew zones"):
        run_day(make_settings(source, lake, transcribe=False, workers=1, timezone=SEOUL), date(2026, 11, 22))
    run_day(make_settings(source, lake, transcribe=False, workers=1), date(2026, 11, 22))  # UTC: still fine
    assert json.loads((lake / LAKE_META).read_text())["timezone"] == "UTC"


# --- contact trace records and imports follow the local day too ---
def test_contact_trace_records_are_read_for_the_local_day(tmp_path):
    from pipeline.analytics.ctr import read_contacts_checked

    ctr = tmp_path / "ctr"
    records = {  # Firehose folder (UTC hour) -> (contact, InitiationTimestamp)
        "2026/11/22/14": ("before", "2026-11-22T14:59:00Z"),  # Seoul 22nd
        "2026/11/22/15": ("first", "2026-11-22T15:01:00Z"),  # Seoul 23rd
        "2026/11/23/02": ("second", "2026-11-23T02:00:00Z"),  # Seoul 23rd
        "2026/11/23/15": ("after", "2026-11-23T15:00:00Z"),  # Seoul 24th
        "2026/11/24/00": ("late", "2026-11-23T14:50:00Z"),  # Seoul 23rd, delivered after the day's last folder
    }
    for folder, (contact, started) in records.items():
        (ctr / folder).mkdir(parents=True)
        (ctr / folder / "stream-1").write_text(json.dumps(
            {"ContactId": contact, "InitiationTimestamp": started, "LastUpdateTimestamp": started}))
    settings = make_settings(tmp_path, tmp_path / "lake", ctr_source=str(ctr), timezone=SEOUL)
    contacts, skipped = read_contacts_checked(settings, date(2026, 11, 23))
    assert sorted(c["contact_id"] for c in contacts) == ["first", "late", "second"] and skipped == 0
    utc = make_settings(tmp_path, tmp_path / "lake", ctr_source=str(ctr))
    assert sorted(c["contact_id"] for c in read_contacts_checked(utc, date(2026, 11, 22))[0]) == ["before", "first"]


def test_an_imported_transcript_belongs_to_the_local_day_of_its_start_stamp():
    from pipeline.analytics.importers import _day

    assert _day("abc_20261122T16:00_UTC.json", None, SEOUL) == date(2026, 11, 23)
    assert _day("abc_20261122T16:00_UTC.json", None) == date(2026, 11, 22)
    assert _day("abc_20261122T16:00_UTC.json", date(2026, 1, 1), SEOUL) == date(2026, 1, 1)  # --date wins


def test_a_schedule_in_another_zone_than_the_workers_is_refused():
    from pipeline.steps.orchestration import check_schedule_zone

    seoul_midnight = datetime(2026, 11, 22, 15, tzinfo=UTC)
    check_schedule_zone(date(2026, 11, 23), SEOUL, seoul_midnight)
    check_schedule_zone(date(2026, 11, 23), SEOUL, None)  # no logical date: nothing to compare
    # the scheduler parsed the DAG with Asia/Seoul, this worker has UTC: its day would be the 22nd, from 15:00
    with pytest.raises(ConfigurationError, match=r"15:00 UTC is not a midnight in AFTERCALL_TIMEZONE=UTC.*same"):
        check_schedule_zone(day_of_run(None, seoul_midnight, datetime.now(UTC)), "UTC", seoul_midnight)
    check_schedule_zone(date(2026, 11, 2), NEW_YORK, datetime(2026, 11, 2, 5, tzinfo=UTC))  # after a 25-hour day


def test_an_s3_lake_records_its_zone_and_refuses_another(aws):
    from pipeline.steps.days import check_lake_zone, lake_zone, record_lake_zone
    from tests.aws_support import LAKE_BUCKET, aws_settings

    seoul = aws_settings(timezone=SEOUL)
    assert lake_zone(seoul)[0] is None  # a new lake: any zone may start it
    record_lake_zone(seoul)
    meta = aws.client("s3").get_object(Bucket=LAKE_BUCKET, Key="aftercall/_aftercall.json")
    assert json.loads(meta["Body"].read())["timezone"] == SEOUL and meta["ServerSideEncryption"] == "aws:kms"
    check_lake_zone(seoul)
    with pytest.raises(LakeZoneMismatch, match="recorded in _aftercall.json"):
        check_lake_zone(aws_settings())
