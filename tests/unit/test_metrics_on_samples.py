"""Metrics from audio against the scripted timings of the bundled sample calls."""

from __future__ import annotations

import pytest

from pipeline.steps.discovery import parse_recording_name
from pipeline.steps.metrics import interruptions, non_talk_time, talk_time
from pipeline.steps.process import process_recording
from pipeline.wiring import build_components
from tests.conftest import DEMO_DAY, make_settings
from pipeline.settings import SAMPLES_DIR
from pipeline.steps.discovery import discover_local


def _truth_metrics(call: dict) -> dict:
    spans = {p: [(t["begin_s"], t["end_s"]) for t in call["turns"] if t["participant"] == p] for p in ("AGENT", "CUSTOMER")}
    return {
        "agent_talk_s": talk_time(spans["AGENT"]),
        "customer_talk_s": talk_time(spans["CUSTOMER"]),
        "non_talk_s": non_talk_time(spans["AGENT"], spans["CUSTOMER"], call["duration_s"]),
        "agent_interruptions": len(interruptions(spans["AGENT"], spans["CUSTOMER"])),
        "customer_interruptions": len(interruptions(spans["CUSTOMER"], spans["AGENT"])),
    }


@pytest.fixture(scope="module")
def acoustic_rows(tmp_path_factory):
    settings = make_settings(SAMPLES_DIR, tmp_path_factory.mktemp("lake"), transcribe=False)
    components = build_components(settings)
    return {r.contact_id: process_recording(r, components, 1).call for r in discover_local(SAMPLES_DIR, DEMO_DAY)}


def test_every_sample_call_is_processed(acoustic_rows, truth):
    assert set(acoustic_rows) == set(truth)
    assert all(row is not None for row in acoustic_rows.values())


def test_scripts_contain_the_situations_the_metrics_must_see(truth):
    expected = [_truth_metrics(c) for c in truth.values()]
    assert sum(e["customer_interruptions"] for e in expected) >= 1
    assert sum(e["agent_interruptions"] for e in expected) >= 1
    assert any(e["non_talk_s"] > 3 for e in expected)


@pytest.mark.parametrize("metric", ["agent_talk_s", "customer_talk_s"])
def test_talk_time_within_five_percent(acoustic_rows, truth, metric):
    for cid, call in truth.items():
        expected = _truth_metrics(call)[metric]
        assert acoustic_rows[cid][metric] == pytest.approx(expected, rel=0.05), cid


def test_non_talk_time_within_half_a_second(acoustic_rows, truth):
    for cid, call in truth.items():
        assert acoustic_rows[cid]["non_talk_s"] == pytest.approx(_truth_metrics(call)["non_talk_s"], abs=0.5), cid


@pytest.mark.parametrize("metric", ["agent_interruptions", "customer_interruptions"])
def test_interruptions_exact(acoustic_rows, truth, metric):
    for cid, call in truth.items():
        assert acoustic_rows[cid][metric] == _truth_metrics(call)[metric], cid


def test_duration_rate_channel_and_start_time(acoustic_rows, truth):
    for cid, call in truth.items():
        row = acoustic_rows[cid]
        assert row["duration_s"] == pytest.approx(call["duration_s"], abs=0.01)
        assert row["sample_rate_hz"] == 8000 and row["agent_channel"] == 1
        assert row["call_started_at"] == parse_recording_name(call["file"])[1].replace(tzinfo=None)
        assert 0 < row["agent_loudness"] <= 100 and 0 < row["customer_loudness"] <= 100


def test_swapping_the_agent_channel_swaps_the_participants(truth):
    settings = make_settings(SAMPLES_DIR, "unused", transcribe=False, agent_channel=0)
    rec = discover_local(SAMPLES_DIR, DEMO_DAY)[0]
    swapped = process_recording(rec, build_components(settings), 0).call
    expected = _truth_metrics(truth[rec.contact_id])
    assert swapped["customer_talk_s"] == pytest.approx(expected["agent_talk_s"], rel=0.05)
    assert swapped["agent_channel"] == 0
