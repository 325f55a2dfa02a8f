"""Bad input never loses the night: each bad recording is quarantined with a reason, the rest completes."""

from __future__ import annotations

import pytest

from pipeline.lake.tables import LocalLake
from pipeline.steps.run import run_day
from tests.badinput import EXPECTED, fingerprint, write_bad_recordings
from tests.conftest import DAY_DIR, DEMO_DAY, make_settings


@pytest.fixture(scope="module")
def bad_day(tmp_path_factory):
    from pipeline.settings import SAMPLES_DIR

    root = tmp_path_factory.mktemp("bad-source")
    (root / DAY_DIR).mkdir(parents=True)
    good = sorted((SAMPLES_DIR / DAY_DIR).glob("*.wav"))[-1]
    (root / DAY_DIR / good.name).write_bytes(good.read_bytes())
    write_bad_recordings(root / DAY_DIR, good)
    before = fingerprint(root)
    lake = tmp_path_factory.mktemp("lake")
    result = run_day(make_settings(root, lake, transcribe=False, workers=1), DEMO_DAY)
    return root, before, lake, result


def test_every_recording_is_processed_or_quarantined(bad_day):
    _, before, _, result = bad_day
    assert len(result.calls) + len(result.failures) == len(before)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_outcome_per_kind(bad_day, name):
    _, _, _, result = bad_day
    contact_id = name.split("_")[0].rsplit(".", 1)[0]
    failures = {f["contact_id"]: f for f in result.failures}
    calls = {c["contact_id"]: c for c in result.calls}
    expected = EXPECTED[name]
    if expected == "ok":
        assert contact_id in calls, failures.get(contact_id)
        assert calls[contact_id]["duration_s"] > 0
    else:
        stage, reason = expected
        assert contact_id in failures
        assert failures[contact_id]["stage"] == stage
        assert reason in failures[contact_id]["error"]


def test_unusual_but_valid_files_keep_their_properties(bad_day):
    _, _, _, result = bad_day
    calls = {c["contact_id"]: c for c in result.calls}
    assert calls["cd0010"]["sample_rate_hz"] == 44100 and calls["studio0011"]["sample_rate_hz"] == 48000
    assert calls["silentside0009"]["customer_talk_s"] == 0.0 and calls["silentside0009"]["customer_loudness"] is None
    assert calls["silentside0009"]["agent_talk_s"] > 5
    reference = calls["lossless0012"]
    for cid in ("cd0010", "studio0011", "Anruf mit Überlänge 0013"):
        assert calls[cid]["agent_talk_s"] == pytest.approx(reference["agent_talk_s"], rel=0.05)
    assert calls["truncated0008"]["duration_s"] < reference["duration_s"]


def test_source_files_are_never_modified(bad_day):
    root, before, _, _ = bad_day
    assert fingerprint(root) == before


def test_failures_table_has_the_reasons(bad_day):
    _, _, lake, result = bad_day
    failures = LocalLake(lake).read_partition("failures", DEMO_DAY).to_pylist()
    assert len(failures) == len(result.failures)
    assert all(f["error"] and f["stage"] and f["failed_at"] for f in failures)
