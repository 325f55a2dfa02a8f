"""Contact trace records and importing Transcribe / Call Analytics / Contact Lens outputs."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.adapters.duckdb_engine import query
from pipeline.cli import app
from pipeline.analytics.ctr import iter_records, read_contacts
from pipeline.analytics.importers import detect_format, import_paths
from pipeline.lake.tables import LocalLake
from pipeline.settings import SAMPLES_DIR, Settings

DAY = date(2026, 11, 22)
REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference"
FIXTURES = Path(__file__).parent / "aws" / "fixtures"
CONTACT_LENS = Path(__file__).parent / "fixtures" / "contact_lens_voice_analysis_example_raw.json"


def test_firehose_objects_back_to_back_newlines_or_arrays():
    text = '{"ContactId": "a"}{"ContactId": "b"}\n{"ContactId": "c"}\n[{"ContactId": "d"}]'
    assert [r["ContactId"] for r in iter_records(text)] == ["a", "b", "c", "d"]


def test_sample_ctrs_latest_record_wins_and_a_call_without_ctr_still_appears(tmp_path):
    settings = Settings(lake=str(tmp_path / "lake"), ctr_source=str(SAMPLES_DIR / "ctr"), transcribe=False, workers=1)
    from pipeline.steps.run import run_day

    run_day(settings, DAY)
    contacts = {r["contact_id"][:8]: r for r in LocalLake(settings.lake).read_partition("contacts", DAY).to_pylist()}
    assert sorted(contacts) == ["3f1c9a52", "8b2d4e61", "c4e5f607"]
    assert contacts["c4e5f607"]["agent_username"] == "mike.t"  # the later of its two records
    assert contacts["3f1c9a52"]["queue_name"] == "Billing" and contacts["3f1c9a52"]["initiation_at"].hour == 9
    _, rows = query("select agent_username, calls from v_agent_daily order by agent_username", settings.lake)
    assert rows == [("(no contact record)", 1), ("mike.t", 1), ("sarah.k", 2)]
    _, rows = query("select sum(calls) from v_queue_daily", settings.lake)
    assert rows == [(4,)]


def test_recording_location_links_a_ctr_whose_contact_id_differs_from_the_file_name(tmp_path):
    ctr = tmp_path / "ctr" / "2026" / "11" / "23" / "00"  # delivered after midnight
    ctr.mkdir(parents=True)
    (ctr / "late").write_text(json.dumps({
        "ContactId": "transferred-leg-2", "InitiationTimestamp": "2026-11-22T23:58:00Z",
        "LastUpdateTimestamp": "2026-11-23T00:05:00Z", "Agent": {"Username": "ana.p"}, "Queue": {"Name": "Sales"},
        "Recording": {"Location": "bucket/connect/x/CallRecordings/2026/11/22/first-leg_20261122T23:58_UTC.wav"}}))
    calls = [{"contact_id": "first-leg", "recording_uri": "/r/first-leg_20261122T23:58_UTC.wav"}]
    rows = read_contacts(Settings(ctr_source=str(tmp_path / "ctr")), DAY, calls)
    assert [(r["contact_id"], r["agent_username"]) for r in rows] == [("first-leg", "ana.p")]
    assert read_contacts(Settings(ctr_source=str(tmp_path / "ctr")), date(2026, 11, 23), []) == []


def test_format_detection():
    assert detect_format(json.loads((FIXTURES / "transcribe_channels.json").read_text())) == "transcribe"
    assert detect_format(json.loads((FIXTURES / "call_analytics.json").read_text())) == "call-analytics"
    assert detect_format(json.loads(CONTACT_LENS.read_text())) == "contact-lens"
    with pytest.raises(ValueError):
        detect_format({"hello": 1})


def test_contact_lens_example_keeps_the_service_metrics(tmp_path):
    target = tmp_path / "Analysis" / "Voice" / "2019" / "11" / "14"
    target.mkdir(parents=True)
    shutil.copy(CONTACT_LENS, target / "0cb2d4a8-example_analysis_2019-11-14T18:25:58Z.json")
    settings = Settings(lake=str(tmp_path / "lake"))
    summary = import_paths(settings, [str(tmp_path / "Analysis")])
    assert summary.imported == {"2019-11-14": 1} and not summary.failed
    call = LocalLake(settings.lake).read_partition("calls", "2019-11-14").to_pylist()[0]
    assert call["contact_id"] == "0cb2d4a8-example"
    assert (call["agent_talk_s"], call["customer_talk_s"], call["non_talk_s"]) == (15.079, 13.619, 0.0)
    assert (call["agent_wpm"], call["customer_wpm"]) == (239, 163)
    assert (call["customer_sentiment"], call["customer_sentiment_start"], call["customer_sentiment_end"]) == (3.1, -2.5, 5)
    assert call["customer_sentiment_shift"] == 7.5 and call["transcriber"] == "contact-lens (imported)"
    turns = LocalLake(settings.lake).read_partition("turns", "2019-11-14").to_pylist()
    assert turns[1]["text"] == "Just hello. My name is Peter and help." and turns[1]["participant"] == "CUSTOMER"
    assert turns[0]["loudness"] == 79.27


def test_transcribe_output_gets_metrics_from_word_timings_and_sentiment_from_the_engine(tmp_path):
    src = tmp_path / "abc-123_20261122T09:12_UTC.json"
    shutil.copy(FIXTURES / "transcribe_channels.json", src)
    settings = Settings(lake=str(tmp_path / "lake"))
    import_paths(settings, [str(src)])
    call = LocalLake(settings.lake).read_partition("calls", DAY).to_pylist()[0]
    assert call["contact_id"] == "abc-123" and call["call_started_at"].hour == 9
    assert call["agent_talk_s"] == pytest.approx(2.0) and call["customer_talk_s"] == pytest.approx(2.09)
    assert call["duration_s"] == 5.2 and call["sentiment_engine"] == "vader" and call["agent_wpm"] > 0


def test_import_is_idempotent_and_keeps_the_days_other_calls(tmp_path):
    settings = Settings(lake=str(tmp_path / "lake"), transcribe=False, workers=1)
    from pipeline.steps.run import run_day

    run_day(settings, DAY)
    src = tmp_path / "imported-1_20261122T18:00_UTC.json"
    shutil.copy(FIXTURES / "call_analytics.json", src)
    for _ in range(2):
        result = CliRunner().invoke(app, ["import", str(src), "--lake", settings.lake])
        assert result.exit_code == 0, result.output
    lake = LocalLake(settings.lake)
    ids = [c["contact_id"] for c in lake.read_partition("calls", DAY).to_pylist()]
    assert len(ids) == 5 and ids.count("imported-1") == 1
    assert len([t for t in lake.read_partition("turns", DAY).to_pylist() if t["contact_id"] == "imported-1"]) == 2


def test_import_reports_unreadable_files_and_needs_a_date(tmp_path):
    (tmp_path / "junk.json").write_text("{not json")
    shutil.copy(FIXTURES / "transcribe_channels.json", tmp_path / "nodate.json")
    result = CliRunner().invoke(app, ["import", str(tmp_path), "--lake", str(tmp_path / "lake")])
    assert result.exit_code == 1 and "junk.json" in result.output and "--date" in result.output
    ok = CliRunner().invoke(app, ["import", str(tmp_path / "nodate.json"), "--date", "2026-11-22",
                                  "--lake", str(tmp_path / "lake")])
    assert ok.exit_code == 0 and "imported 1 calls into dt=2026-11-22" in ok.output


def test_redacted_contact_lens_output_imports_with_its_redaction_and_ours(tmp_path):
    src = tmp_path / "redacted-1_analysis_2019-11-14T18:25:58Z.json"
    shutil.copy(CONTACT_LENS.with_name("contact_lens_voice_analysis_example_redacted.json"), src)
    settings = Settings(lake=str(tmp_path / "lake"), redact_pii=True)
    import_paths(settings, [str(src)])
    lake = LocalLake(settings.lake)
    texts = [t["text"] for t in lake.read_partition("turns", "2019-11-14").to_pylist()]
    assert any("[PII]" in t for t in texts)
    assert len(lake.read_partition("turns_raw", "2019-11-14")) == len(texts)


@pytest.mark.parametrize("role", ["<img src=x onerror=alert(1)>", "SUPERVISOR", None, 42])
def test_a_segment_whose_participant_is_not_agent_or_customer_refuses_its_file(tmp_path, role):
    """Markup or an unknown role would land in the lake and on the report; no role crashed the report."""
    doc = json.loads((FIXTURES / "call_analytics.json").read_text())
    good = tmp_path / "good-1_20261122T18:00_UTC.json"
    good.write_text(json.dumps(doc))
    if role is None:
        doc["Transcript"][1].pop("ParticipantRole")
    else:
        doc["Transcript"][1]["ParticipantRole"] = role
    bad = tmp_path / "hostile-1_20261122T18:05_UTC.json"
    bad.write_text(json.dumps(doc))
    summary = import_paths(Settings(lake=str(tmp_path / "lake")), [str(tmp_path)])
    assert summary.imported == {"2026-11-22": 1}
    [(path, reason)] = summary.failed
    assert path == str(bad) and "transcript segment 1" in reason
    assert ("has no participant" if role is None else "neither AGENT nor CUSTOMER") in reason
    lake = LocalLake(str(tmp_path / "lake"))
    assert [c["contact_id"] for c in lake.read_partition("calls", DAY).to_pylist()] == ["good-1"]
    assert {t["participant"] for t in lake.read_partition("turns", DAY).to_pylist()} <= {"AGENT", "CUSTOMER"}


def test_contact_lens_roles_from_the_participants_list_and_lower_case_spellings_import(tmp_path):
    doc = json.loads((FIXTURES / "call_analytics.json").read_text())
    for seg in doc["Transcript"]:
        seg["ParticipantRole"] = seg["ParticipantRole"].lower()
    src = tmp_path / "lower-1_20261122T18:00_UTC.json"
    src.write_text(json.dumps(doc))
    summary = import_paths(Settings(lake=str(tmp_path / "lake")), [str(src)])
    assert not summary.failed
    turns = LocalLake(str(tmp_path / "lake")).read_partition("turns", DAY).to_pylist()
    assert {t["participant"] for t in turns} == {"AGENT", "CUSTOMER"}
