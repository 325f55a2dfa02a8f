from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.aws.transcript_format import parse_call_analytics, parse_transcribe, render_transcribe
from pipeline.ports import Word
from pipeline.steps.turns import build_turns

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_channels_map_to_participants_with_strings_parsed_and_punctuation_attached():
    words = parse_transcribe(load("transcribe_channels.json"), agent_channel=1)
    agent = [w for w in words if w.participant == "AGENT"]
    customer = [w for w in words if w.participant == "CUSTOMER"]
    assert " ".join(w.text for w in agent) == "Thank you for calling, this is Ana."
    assert " ".join(w.text for w in customer) == "Hi, my order 25 never arrived."
    assert agent[0] == Word("AGENT", 0.4, 0.71, "Thank", 0.999)
    assert isinstance(customer[3].begin_s, float) and customer[3].text == "25"


def test_agent_channel_setting_swaps_roles():
    words = parse_transcribe(load("transcribe_channels.json"), agent_channel=0)
    assert [w.text for w in words if w.participant == "AGENT"][0] == "Hi,"


def test_speaker_labels_for_mono_recordings():
    words = parse_transcribe(load("transcribe_speakers.json"))
    turns = build_turns(words)
    assert [(t.participant, t.text) for t in turns] == [("AGENT", "Hello, how can I help?"),
                                                         ("CUSTOMER", "My card is blocked.")]


def test_call_analytics_items_by_participant_role():
    words = parse_call_analytics(load("call_analytics.json"))
    assert [(t.participant, t.text) for t in build_turns(words)] == [("AGENT", "Thanks for calling."),
                                                                     ("CUSTOMER", "It broke again.")]
    assert words[0].begin_s == 0.4 and words[-1].end_s == 3.1


def test_unlabelled_output_is_refused():
    with pytest.raises(ValueError, match="agent from customer"):
        parse_transcribe({"results": {"items": [], "transcripts": []}})


def test_render_then_parse_gives_the_same_words():
    words = parse_transcribe(load("transcribe_channels.json"))
    again = parse_transcribe(json.loads(json.dumps(render_transcribe(words, "job"))))
    assert sorted(again, key=lambda w: w.begin_s) == sorted(words, key=lambda w: w.begin_s)
