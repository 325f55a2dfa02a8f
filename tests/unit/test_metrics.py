from __future__ import annotations

import numpy as np
import pytest

from pipeline.steps.audio import frame_levels_db, loudness_score, speech_intervals
from pipeline.steps.metrics import (interruptions, non_talk_time, overlap_time, segment_cut_ins, talk_speed, talk_time,
                                   union)


def test_non_talk_counts_only_silences_over_three_seconds_including_edges():
    agent = [(4.0, 10.0), (12.5, 14.0)]  # 4 s of silence before: counts; 2.5 s gap: does not
    customer = [(14.5, 20.0)]
    assert non_talk_time(agent, customer, duration_s=30.0) == pytest.approx(4.0 + 10.0)
    assert non_talk_time(agent, customer, duration_s=22.9) == pytest.approx(4.0)


def test_a_gap_bridged_by_the_other_participant_is_not_silence():
    assert non_talk_time([(0, 5), (10, 15)], [(4, 11)], 15) == 0.0


def test_overlap_and_union():
    a, b = [(0, 5), (8, 12)], [(4, 9), (11, 20)]
    assert overlap_time(a, b) == pytest.approx(1 + 1 + 1)
    assert union(a, b) == [(0, 20)]
    assert talk_time(a) == 9


@pytest.mark.parametrize(
    ("interrupter", "other", "expected"),
    [
        ([(3.0, 6.0)], [(0.0, 8.0)], 1),  # cuts in 3 s into the other's speech, both keep talking
        ([(0.2, 3.0)], [(0.0, 8.0)], 0),  # started (almost) together: not an interruption
        ([(3.0, 3.3)], [(0.0, 8.0)], 0),  # a short "mm" under the other: backchannel
        ([(7.8, 12.0)], [(0.0, 8.0)], 0),  # the other was finishing: overlap under 0.5 s
        ([(3.0, 6.0), (10.0, 12.0)], [(0.0, 8.0), (9.0, 15.0)], 2),
    ],
)
def test_interruption_rule(interrupter, other, expected):
    assert len(interruptions(interrupter, other)) == expected


def test_vad_finds_a_tone_in_noise_and_ignores_a_silent_side():
    rate = 8000
    rng = np.random.default_rng(0)
    x = rng.normal(0, 0.002, rate * 6).astype("float32")
    t = np.arange(rate * 2) / rate
    x[rate * 2 : rate * 4] += 0.3 * np.sin(2 * np.pi * 440 * t).astype("float32")
    intervals = speech_intervals(frame_levels_db(x, rate))
    assert len(intervals) == 1
    assert intervals[0][0] == pytest.approx(2.0, abs=0.05) and intervals[0][1] == pytest.approx(4.0, abs=0.05)
    assert 70 < loudness_score(frame_levels_db(x, rate), intervals) <= 100
    silent = rng.normal(0, 0.002, rate * 6).astype("float32")
    assert speech_intervals(frame_levels_db(silent, rate)) == []
    assert speech_intervals(frame_levels_db(np.zeros(rate * 3, "float32"), rate)) == []


def test_a_pause_spent_listening_is_not_talk_and_resuming_after_it_is_no_cut_in():
    from pipeline.steps.metrics import cut_ins, speech_tracks, yielded_pauses

    # The customer tells a story 0-10 s; the agent's utterance 2-12 s is "Yeah." (2.0-2.3), silence while the
    # customer goes on, then "Mhm, I see." (10.5-12.0) once they stopped.
    customer_words = [(0.0 + i, 0.8 + i) for i in range(10)]
    agent_words = [(2.0, 2.3), (10.5, 11.0), (11.1, 12.0)]
    spans = {"CUSTOMER": [(0.0, 9.8)], "AGENT": [(2.0, 12.0)]}
    times = {"CUSTOMER": customer_words, "AGENT": agent_words}
    assert yielded_pauses(spans["AGENT"], agent_words, customer_words) == [(2.3, 10.5)]
    tracks = speech_tracks(spans, times)
    talk, floor = tracks["AGENT"]
    assert talk == [(2.0, 2.3), (9.8, 12.0)]  # what the customer said while the agent listened is not the agent's
    assert floor == [(2.0, 2.3), (10.5, 12.0)]
    assert tracks["CUSTOMER"] == ([(0.0, 9.8)], [(0.0, 9.8)])
    assert cut_ins(spans, times) == {"AGENT": [], "CUSTOMER": []}  # a backchannel, then an answer: no cut-in
    # Without word times the utterance is all talk, and it overlaps the story by 7.8 s: counted as a cut-in.
    assert cut_ins(spans) == {"AGENT": [2.0], "CUSTOMER": []}

    # A pause the other only starts speaking into is still the speaker's: cut into mid-sentence.
    customer_words = [(0.0, 3.0), (5.0, 6.0)]
    agent_words = [(3.6, 4.8)]
    spans = {"CUSTOMER": [(0.0, 6.0)], "AGENT": [(3.6, 4.8)]}
    assert cut_ins(spans, {"CUSTOMER": customer_words, "AGENT": agent_words}) == {"AGENT": [3.6], "CUSTOMER": []}


def test_metrics_of_a_100k_word_call_take_seconds_not_hours():
    """Before: pauses(), yielded_pauses(), subtract(), speech_tracks() and interruptions() scanned every word or
    stretch per utterance (quadratic):
    4,000 alternating utterances took 0.7 s, 100,000 would have taken about 8 minutes."""
    import time

    from pipeline.steps.metrics import cut_ins, speech_tracks

    n = 100_000  # the customer cuts 1 s into each of the agent's 2 s utterances
    spans = {"AGENT": [(i * 2.0, i * 2.0 + 2.0) for i in range(0, n, 2)],
             "CUSTOMER": [(i * 2.0 - 1.0, i * 2.0 + 1.0) for i in range(1, n, 2)]}
    # Two words per utterance with a pause between them that the other speaks into (yielded, listened, subtract).
    words = {p: [w for b, e in v for w in ((b, b + 0.4), (e - 0.4, e))] for p, v in spans.items()}
    started = time.monotonic()
    cuts = cut_ins(spans, spans)
    tracks = speech_tracks(spans, words)
    cut_ins(spans, words)
    assert time.monotonic() - started < 60  # ~8 s here on a busy 2-core machine; before, hours
    assert cuts["AGENT"] == [] and len(cuts["CUSTOMER"]) == n // 2
    assert len(tracks["AGENT"][0]) == n // 2 and len(tracks["CUSTOMER"][1]) == n // 2


# --- Call Analytics' rule on a transcript's segments (imports without audio) ---


def _words(*items):
    return [(b, e, t) for b, e, t in items]


def test_a_segment_overlapping_the_other_for_two_seconds_with_words_of_its_own_is_a_cut_in():
    spans = {"CUSTOMER": [(0.0, 10.0)], "AGENT": [(6.0, 12.0)]}
    words = {"CUSTOMER": _words((0.0, 9.9, "story")), "AGENT": _words((6.0, 6.5, "Sorry"), (6.5, 7.0, "to"))}
    assert segment_cut_ins(spans, words) == {"AGENT": [6.0], "CUSTOMER": []}


def test_backchannels_only_or_under_two_seconds_of_overlap_are_not_cut_ins():
    spans = {"CUSTOMER": [(0.0, 10.0)], "AGENT": [(6.0, 12.0)]}
    only_listening = {"CUSTOMER": [], "AGENT": _words((6.0, 6.4, "Mhm."), (7.0, 7.3, "Okay,"), (8.0, 8.3, "yeah"),
                                                      (10.5, 11.0, "So"))}
    assert segment_cut_ins(spans, only_listening)["AGENT"] == []
    short = {"CUSTOMER": [(0.0, 10.0)], "AGENT": [(8.2, 12.0)]}  # 1.8 s together
    assert segment_cut_ins(short, {"AGENT": _words((8.2, 8.6, "Right"), (8.6, 9.0, "so"))})["AGENT"] == []
    # A filler is no backchannel: "Uh" starts a turn (the 183 s call's cut-in at 18.7 s).
    assert segment_cut_ins(spans, {"AGENT": _words((6.0, 6.6, "Uh"))})["AGENT"] == [6.0]


def test_a_second_sentence_continues_the_first_and_starting_first_is_no_cut_in():
    spans = {"CUSTOMER": [(0.6, 3.7), (3.71, 6.2)], "AGENT": [(0.7, 5.8)]}
    words = {"CUSTOMER": _words((3.71, 4.0, "This"), (4.0, 4.3, "is")), "AGENT": _words((0.7, 1.0, "Now"))}
    assert segment_cut_ins(spans, words) == {"AGENT": [0.7], "CUSTOMER": []}


def test_redacted_items_leave_talk_speed_to_the_known_words():
    talk = [(0.0, 60.0)]
    assert talk_speed(talk, 120) == 120.0
    # 20 s of a spelled address redacted to one item: 100 known words in 40 s, not 101 in 60 s.
    assert talk_speed(talk, 101, [(10.0, 30.0)]) == 150.0
    assert talk_speed(talk, 1, [(0.0, 60.0)]) is None  # nothing known
    assert talk_speed([], 10) is None
    assert talk_speed(talk, 0) == 0.0
    assert talk_speed([(0.0, float("nan"))], 5) is None and talk_speed([(0.0, float("inf"))], 5) is None
