"""One malformed contact trace record never costs the day: checked one by one, skipped, counted, logged
with its file and position and never its content."""

from __future__ import annotations

import json
import logging
import shutil
from datetime import date

import pytest

from pipeline.analytics.ctr import read_contacts, read_contacts_checked
from pipeline.lake.tables import LocalLake
from pipeline.settings import SAMPLES_DIR, Settings

DAY = date(2026, 11, 22)
SECRET = "4111111111111111"  # in every bad record: it must never reach a log line


def good(contact_id: str, **extra) -> dict:
    return {"ContactId": contact_id, "InitiationTimestamp": "2026-11-22T10:00:00Z",
            "LastUpdateTimestamp": "2026-11-22T10:05:00Z", "Agent": {"Username": "ana.p"},
            "Queue": {"Name": "Sales"}, "Attributes": {"intent": "upgrade"}, **extra}


def bad(**fields) -> dict:
    record = good("bad-one", Attributes={"cardNumber": SECRET})
    for key, value in fields.items():
        if value is ...:
            record.pop(key)
        else:
            record[key] = value
    return record


HOSTILE = {
    "null contact id": (bad(ContactId=None), "no ContactId"),
    "no contact id": (bad(ContactId=...), "no ContactId"),
    "numeric contact id": (bad(ContactId=12345), "ContactId is int"),
    "empty contact id": (bad(ContactId="  "), "ContactId is empty"),
    "absurd contact id": (bad(ContactId="x" * 300), "ContactId is 300 characters long"),
    "control characters": (bad(ContactId="a\nb"), "control characters"),
    "human timestamp": (bad(InitiationTimestamp="2026-11-22 9am"), "InitiationTimestamp is not an ISO 8601"),
    "numeric timestamp": (bad(InitiationTimestamp=1795338000), "InitiationTimestamp is int"),
    "numeric update time": (bad(LastUpdateTimestamp=1795338000), "LastUpdateTimestamp is int"),
    "agent a string": (bad(Agent="bob"), "Agent is str, not an object"),
    "queue a string": (bad(Queue="Billing"), "Queue is str, not an object"),
    "recording a string": (bad(Recording="s3://x/y.wav"), "Recording is str, not an object"),
    "attributes a list": (bad(Attributes=[SECRET]), "Attributes is list, not an object"),
    "nested junk": (bad(Agent={"Username": {"first": SECRET}}), "Agent.Username is dict, not text"),
    "nested time": (bad(Agent={"ConnectedToAgentTimestamp": [SECRET]}), "ConnectedToAgentTimestamp is list"),
    "bare number": (42, "a JSON int, not an object"),
    "bare string": (SECRET, "a JSON str, not an object"),
    "null": (None, "a JSON NoneType, not an object"),
}


def write(root, name: str, text: str, day: str = "2026/11/22/10"):
    folder = root / day
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_each_malformed_record_is_skipped_counted_and_logged_without_its_content(tmp_path, caplog, case):
    record, reason = HOSTILE[case]
    path = write(tmp_path / "ctr", "stream-1", json.dumps(good("before")) + json.dumps(record) +
                 "\n" + json.dumps(good("after")))
    with caplog.at_level(logging.DEBUG, logger="pipeline"):
        rows, skipped = read_contacts_checked(Settings(ctr_source=str(tmp_path / "ctr")), DAY)
    assert [r["contact_id"] for r in rows] == ["after", "before"] and skipped == 1
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    message = warning.getMessage()
    assert str(path) in message and "record #1" in message and reason in message, message
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert SECRET not in logged and "bob" not in logged and "9am" not in logged


def test_a_file_that_turns_to_garbage_keeps_the_records_before_it(tmp_path, caplog):
    text = json.dumps(good("one")) + json.dumps([good("two"), good("three")]) + '{"ContactId": "f' + SECRET + "\x00junk"
    path = write(tmp_path / "ctr", "half", text)
    (path.parent / "binary").write_bytes(b"\xff\xfe\x00garbage")
    with caplog.at_level(logging.WARNING, logger="pipeline"):
        rows, skipped = read_contacts_checked(Settings(ctr_source=str(tmp_path / "ctr")), DAY)
    assert sorted(r["contact_id"] for r in rows) == ["one", "three", "two"] and skipped == 2
    messages = [r.getMessage() for r in caplog.records]
    assert any(str(path) in m and "from record #3 on" in m and "not JSON from character" in m for m in messages)
    assert not any(SECRET in m for m in messages)


def test_a_stray_byte_spoils_no_record_and_the_rest_of_the_day_counts(tmp_path):
    record = json.dumps(good("latin", Attributes={"note": "caf\u00e9"})).encode().replace(b"\xc3\xa9", b"\xe9")
    (tmp_path / "ctr" / "2026/11/22/10").mkdir(parents=True)
    (tmp_path / "ctr" / "2026/11/22/10" / "latin1").write_bytes(record)
    rows, skipped = read_contacts_checked(Settings(ctr_source=str(tmp_path / "ctr")), DAY)
    assert [r["contact_id"] for r in rows] == ["latin"] and skipped == 0


def test_many_bad_records_log_a_few_lines_and_a_count(tmp_path, caplog):
    write(tmp_path / "ctr", "flood", "".join(json.dumps(bad(Agent="bob")) for _ in range(50)) + json.dumps(good("ok")))
    with caplog.at_level(logging.WARNING, logger="pipeline"):
        rows, skipped = read_contacts_checked(Settings(ctr_source=str(tmp_path / "ctr")), DAY)
    assert [r["contact_id"] for r in rows] == ["ok"] and skipped == 50
    assert len(caplog.records) <= 6 and "skipped 50 CTR records" in caplog.records[-1].getMessage()


def test_read_contacts_still_returns_the_list_and_without_a_source_nothing_is_skipped(tmp_path):
    write(tmp_path / "ctr", "s", json.dumps(good("a")) + "42")
    assert [r["contact_id"] for r in read_contacts(Settings(ctr_source=str(tmp_path / "ctr")), DAY)] == ["a"]
    assert read_contacts_checked(Settings(), DAY) == ([], 0)


def test_times_without_an_offset_are_utc_and_the_latest_update_wins_by_time_not_text(tmp_path):
    write(tmp_path / "ctr", "s", json.dumps(good("a", InitiationTimestamp="2026-11-22T23:30:00",
                                                   LastUpdateTimestamp="2026-11-22T23:59:00+00:00",
                                                   Agent={"Username": "first"}))
          + json.dumps(good("a", LastUpdateTimestamp="2026-11-23T01:00:00+02:00", Agent={"Username": "second"})))
    [row] = read_contacts(Settings(ctr_source=str(tmp_path / "ctr")), DAY)
    assert row["agent_username"] == "first"  # 23:59 UTC is later than 23:00 UTC, though it sorts first as text
    assert (row["initiation_at"].hour, row["initiation_at"].minute) == (23, 30)


def test_a_hostile_ctr_day_still_commits_every_call_and_contact(tmp_path):
    """The whole night through run_day: the sample CTRs plus a file of every malformed record above."""
    ctr = tmp_path / "ctr"
    shutil.copytree(SAMPLES_DIR / "ctr", ctr)
    write(ctr, "hostile", "".join(json.dumps(r) for r, _ in HOSTILE.values()) + "{garbage")
    settings = Settings(lake=str(tmp_path / "lake"), ctr_source=str(ctr), transcribe=False, workers=1)
    from pipeline.steps.run import run_day

    run_day(settings, DAY)
    lake = LocalLake(settings.lake)
    assert len(lake.read_partition("calls", DAY)) == 4
    contacts = sorted(r["contact_id"][:8] for r in lake.read_partition("contacts", DAY).to_pylist())
    assert contacts == ["3f1c9a52", "8b2d4e61", "c4e5f607"]
    values = [r["value"] for r in lake.read_partition("contact_attributes", DAY).to_pylist()]
    assert SECRET not in values
