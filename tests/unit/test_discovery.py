from __future__ import annotations

from datetime import UTC, date, datetime

from pipeline.steps.discovery import discover_local, parse_recording_name


def test_connect_name_gives_contact_and_start_time():
    cid, started = parse_recording_name("3f1c9a52-7d4e_20261122T09:30_UTC.wav")
    assert cid == "3f1c9a52-7d4e"
    assert started == datetime(2026, 11, 22, 9, 30, tzinfo=UTC)


def test_other_names_fall_back_to_the_stem():
    assert parse_recording_name("call 42 é.wav") == ("call 42 é", None)
    assert parse_recording_name("abc_def.flac") == ("abc", None)
    assert parse_recording_name("x_20261399T99:99_UTC.wav") == ("x", None)  # not a real time


def test_finds_only_the_days_recordings_in_any_instance(tmp_path):
    for rel in [
        "connect/acme/CallRecordings/2026/11/22/a_20261122T09:30_UTC.wav",
        "connect/acme/CallRecordings/2026/11/22/b.FLAC",
        "connect/acme/CallRecordings/2026/11/22/notes.txt",
        "connect/acme/CallRecordings/2026/11/22/.hidden.wav",
        "connect/acme/CallRecordings/2026/11/21/old_20261121T09:30_UTC.wav",
        "connect/other/CallRecordings/2026/11/22/c_20261122T23:59_UTC.wav",
        "connect/acme/Analysis/2026/11/22/a.wav",
    ]:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    found = discover_local(tmp_path, date(2026, 11, 22))
    assert [r.contact_id for r in found] == ["a", "b", "c"]
    assert all(r.dt == date(2026, 11, 22) for r in found)
    assert found[2].call_started_at == datetime(2026, 11, 22, 23, 59, tzinfo=UTC)
    assert found[1].call_started_at is None


def test_empty_or_missing_day_is_an_empty_list(tmp_path):
    (tmp_path / "connect/acme/CallRecordings/2026/11").mkdir(parents=True)
    assert discover_local(tmp_path, date(2026, 11, 22)) == []
