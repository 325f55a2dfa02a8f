"""The local transcriber's packing of both channels into windows, the way back, and its hallucination guards."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.adapters.whisper import (PIECE_GAP_S, WINDOW_S, WhisperTranscriber, copies_prompt, drop_loops, merge_heard,
                                      pack)
from pipeline.steps.audio import CallAudio

RATE = 16000


def _channels(seconds: float = 120.0) -> dict:
    return {"AGENT": np.ones(int(seconds * RATE), np.float32), "CUSTOMER": np.full(int(seconds * RATE), 2, np.float32)}


def _s(a: float, b: float) -> tuple[int, int]:
    return int(a * RATE), int(b * RATE)


def test_pieces_of_both_channels_fill_windows_of_at_most_30_s():
    speech = {"AGENT": [_s(0, 10), _s(20, 32), _s(50, 52)], "CUSTOMER": [_s(10, 14), _s(33, 60)]}
    stream = pack(speech, _channels())
    assert [(p.participant, p.begin_s, p.end_s) for p in stream.pieces] == [
        ("AGENT", 0, 10), ("AGENT", 20, 32), ("AGENT", 50, 52), ("CUSTOMER", 10, 14), ("CUSTOMER", 33, 60)]
    assert all(e - s <= WINDOW_S for s, e in stream.windows)
    # 10 + 12 + 2 s of agent speech and the customer's 4 s share a window (29.6 s with gaps); 27 s needs its own
    assert len(stream.windows) == 2
    gaps = len(stream.pieces) * PIECE_GAP_S
    assert len(stream.samples) == pytest.approx((10 + 12 + 2 + 4 + 27 + gaps) * RATE, abs=2)
    # each piece's samples are its channel's: agent ones, customer twos
    for p in stream.pieces:
        first = int(round(p.stream_s * RATE))
        assert stream.samples[first] == (1 if p.participant == "AGENT" else 2)


def test_words_go_back_to_their_channel_and_time_clamped_to_their_piece():
    stream = pack({"AGENT": [_s(5, 7)], "CUSTOMER": [_s(30, 31)]}, _channels())
    customer_at = stream.pieces[1].stream_s
    assert stream.place(0.1, 0.5) == ("AGENT", pytest.approx(5.1), pytest.approx(5.5))
    # Whisper stretched a word into the gap after the piece: it ends where the speech ended
    assert stream.place(1.8, 2.2) == ("AGENT", pytest.approx(6.8), pytest.approx(7.0))
    assert stream.place(customer_at + 0.2, customer_at + 0.6) == ("CUSTOMER", pytest.approx(30.2), pytest.approx(30.6))
    # a word centred in the gap belongs to the nearer piece
    assert stream.place(customer_at - 0.15, customer_at + 0.05)[0] == "CUSTOMER"


def test_no_speech_means_no_windows():
    stream = pack({"AGENT": [], "CUSTOMER": []}, _channels(1))
    assert stream.windows == [] and len(stream.samples) == 0


def test_repetition_loops_keep_their_first_occurrence():
    words = "I have a question about 1, 1, 1, 1, 1, 1, my bill".split()
    assert [words[i] for i in drop_loops(words)] == "I have a question about 1, my bill".split()
    words = "thank you thank you thank you thank you goodbye".split()
    assert [words[i] for i in drop_loops(words)] == "thank you goodbye".split()
    words = "no no I said no".split()  # twice is speech, not a loop
    assert drop_loops(words) == list(range(len(words)))


@pytest.fixture(scope="module")
def whisper():
    return WhisperTranscriber("tiny.en", cpu_threads=2)


def test_silence_and_line_noise_give_no_words(whisper):
    rng = np.random.default_rng(7)
    rate, seconds = 8000, 20
    audio = CallAudio(agent=np.zeros(rate * seconds, np.float32),
                      customer=rng.normal(0, 0.003, rate * seconds).astype(np.float32), sample_rate=rate, agent_channel=1)
    assert whisper.transcribe(None, audio).words == []


class _Segment:
    def __init__(self, start, text, ratio, no_speech=0.01, logprob=-0.3):
        self.start, self.text, self.compression_ratio = start, text, ratio
        self.no_speech_prob, self.avg_logprob = no_speech, logprob
        self.words = [type("W", (), {"start": start + i * 0.3, "end": start + i * 0.3 + 0.2, "word": w,
                                      "probability": 0.9})() for i, w in enumerate(text.split())]


class _ScriptedPipeline:
    """Stands in for faster-whisper's batched pipeline: a real loop cannot be produced on demand."""

    def __init__(self, answers):
        self.answers, self.asked = answers, []

    def transcribe(self, samples, *, clip_timestamps, **options):
        clips = [(c["start"], c["end"]) for c in clip_timestamps]
        self.asked.append(clips)
        return [self.answers[len(self.asked) - 1](s) for s, _ in clips], None


def test_a_window_that_loops_is_decoded_again_piece_by_piece_and_silence_is_dropped():
    stream = pack({"AGENT": [_s(0, 5), _s(8, 12)], "CUSTOMER": [_s(20, 24)]}, _channels(30))
    assert len(stream.windows) == 1
    loop = "a bit of " * 40
    first = {0.0: _Segment(0.0, "hello there " + loop, 3.6)}
    pieces = {p.stream_s: p for p in stream.pieces}

    def again(start):
        if pieces[start].participant == "CUSTOMER":
            return _Segment(start, "thanks thanks thanks thanks bye", 2.6)  # still loops: first kept
        if pieces[start].begin_s == 8:
            return _Segment(start, "ok", 0.9, no_speech=0.9, logprob=-1.5)  # judged silent: dropped
        return _Segment(start, "hello there", 1.1)

    whisper = WhisperTranscriber.__new__(WhisperTranscriber)
    whisper.language, whisper.beam_size = "en", 1
    whisper.pipeline = _ScriptedPipeline([lambda s: first[s], again, again])
    words = [w[2] for w in whisper.decode(stream)]
    assert whisper.pipeline.asked[1] == [(p.stream_s, p.stream_end_s) for p in stream.pieces]
    # The piece judged silent got no words: it is decoded once more alone (judged silent again: still dropped).
    assert whisper.pipeline.asked[2] == [(p.stream_s, p.stream_end_s) for p in stream.pieces if p.begin_s == 8]
    assert words == ["hello", "there", "thanks", "bye"]


def test_a_word_whisper_starts_in_the_gap_before_its_piece_keeps_that_piece_from_a_second_decode():
    """The vocabulary fallback re-decodes pieces without words. A word whose start Whisper put 0.2 s early, in the
    gap before the customer's piece, was not counted as that piece's: the piece was decoded again without the
    prompt and the caller's word came out twice (overlapping). Ownership is now place()'s: the word's middle."""
    from types import SimpleNamespace as NS

    from pipeline.adapters.whisper import WhisperTranscriber

    rate = 16000
    stream = pack({"AGENT": [(0, 3 * rate)], "CUSTOMER": [(10 * rate, 13 * rate)]},
                  {p: np.full(20 * rate, 0.1, np.float32) for p in ("AGENT", "CUSTOMER")})
    early = stream.pieces[1].stream_s - 0.2

    def word(start, end, text):
        return NS(start=start, end=end, word=text, probability=0.9)

    class Pipeline:
        calls: list = []

        def transcribe(self, samples, *, clip_timestamps, initial_prompt=None, **options):
            self.calls.append(initial_prompt)
            found = ([word(0.5, 1.0, "hello"), word(early, early + 0.4, "Acme"), word(early + 0.4, early + 0.8, "Telecom")]
                     if initial_prompt else
                     [word(c["start"] + 0.1, c["start"] + 0.6, "again") for c in clip_timestamps])
            return iter([NS(start=found[0].start, compression_ratio=1.0, no_speech_prob=0.0, avg_logprob=-0.1,
                            words=found, text="x")] if found else []), None

    t = WhisperTranscriber.__new__(WhisperTranscriber)
    t.language, t.beam_size, t.pipeline, t.prompt = "en", 1, Pipeline(), "Acme Telecom"
    assert [w[2] for w in t.decode(stream)] == ["hello", "Acme", "Telecom"]  # each word once
    assert t.pipeline.calls == ["Acme Telecom", None]  # with the vocabulary, then the window without it
    empty = pack({"AGENT": [], "CUSTOMER": []}, {p: np.zeros(rate, np.float32) for p in ("AGENT", "CUSTOMER")})
    assert t.decode(empty) == []  # no pieces: nothing decoded, no error


def test_the_vocabulary_written_out_is_told_from_speech_that_names_it():
    phrases = ["Northfield Credit Union", "Nippon", "Priya", "Westmoor Building Society", "Acme Telecom", "Sarah"]
    said = "Good afternoon, Acme Telecom, Sarah speaking. Welcome to Northfield Credit Union.".split()
    assert not copies_prompt(said, phrases)
    assert copies_prompt("Northfield Credit Union, Northfield Credit Union, how".split(), phrases)
    assert copies_prompt("Northfield Credit Union, Nippon, Priya, Westmoor Building Society".split(), phrases)
    assert copies_prompt("Northfield Credit Union, Nippon, Priya, Kenwin, Tom, Mac".split(), ["Northfield Credit Union",
                                                                                          "Priya", "Tom"])
    assert not copies_prompt("Priya here, about your Nippon account, Priya again".split(), phrases)  # apart, not a run
    assert not copies_prompt(said, [])


def test_a_window_that_names_nothing_of_the_vocabulary_keeps_its_decode_without_it():
    """The prompt helps where its names are heard; elsewhere it only shifts Whisper's guesses (docs/speech.md)."""
    from types import SimpleNamespace as NS

    rate = 16000
    stream = pack({"AGENT": [(0, 3 * rate)], "CUSTOMER": []},
                  {p: np.full(5 * rate, 0.1, np.float32) for p in ("AGENT", "CUSTOMER")})

    class Pipeline:
        def __init__(self, prompted: str):
            self.prompted, self.calls = prompted, []

        def transcribe(self, samples, *, clip_timestamps, initial_prompt=None, **options):
            self.calls.append(initial_prompt)
            text = self.prompted if initial_prompt else "hurry to hear that"
            found = [NS(start=0.2 + i * 0.3, end=0.4 + i * 0.3, word=w, probability=0.9) for i, w in enumerate(text.split())]
            return iter([NS(start=0.2, compression_ratio=1.0, no_speech_prob=0.0, avg_logprob=-0.1, words=found,
                            text=text)]), None

    def decoded(prompted: str) -> tuple[list[str], list]:
        t = WhisperTranscriber.__new__(WhisperTranscriber)
        t.language, t.beam_size, t.pipeline, t.prompt = "en", 1, Pipeline(prompted), "Harbour Bank, Megan"
        return [w[2] for w in t.decode(stream)], t.pipeline.calls

    assert decoded("Harbour to hear, Matt") == (["hurry", "to", "hear", "that"], ["Harbour Bank, Megan", None])
    assert decoded("Harbour Bank, Megan speaking") == (["Harbour", "Bank,", "Megan", "speaking"],
                                                       ["Harbour Bank, Megan", None])
    assert decoded("Megan, Megan, Megan") == (["hurry", "to", "hear", "that"], ["Harbour Bank, Megan", None])


def test_the_names_come_from_the_prompted_decode_and_the_rest_from_the_plain_one():
    def words(text):
        return [(i * 0.3, i * 0.3 + 0.2, w, 0.9) for i, w in enumerate(text.split())]

    phrases = ["Harbour Bank", "Megan", "Northfield Credit Union"]
    merged = merge_heard(words("Harbour Bank, Megan speaking. Harbour to hear, Matt."),
                         words("Harbor Mank card term within Megan speaking. Hurry to hear that."), phrases)
    assert " ".join(w[2] for w in merged) == "Harbour Bank, Megan speaking. Hurry to hear that."
    # Part of a phrase differing is enough ("union" heard either way).
    merged = merge_heard(words("Northfield Credit Union, this is"), words("not be a premier union, this is"), phrases)
    assert " ".join(w[2] for w in merged) == "Northfield Credit Union, this is"
    assert merge_heard([], words("hello there"), phrases) == words("hello there")  # a piece the prompt skipped


def test_a_window_whisper_returns_empty_is_decoded_again_in_clips_then_piece_by_piece():
    """On the bench corpus base (beam 1) returned nothing for the angry caller's whole window in 4 of 25 calls."""
    stream = pack({"AGENT": [_s(0, 5)], "CUSTOMER": [_s(8, 12), _s(14, 16)]}, _channels(30))
    whisper = WhisperTranscriber.__new__(WhisperTranscriber)
    whisper.language, whisper.beam_size = "en", 1
    whisper.pipeline = _ScriptedPipeline([lambda s: _Segment(s, "", 1.0),  # the window: nothing
                                          lambda s: _Segment(s, "hello", 1.1),  # one clip of the three pieces
                                          lambda s: _Segment(s, "my internet", 1.1)])  # the two still bare, alone
    assert [w[2] for w in whisper.decode(stream)] == ["hello", "my", "internet", "my", "internet"]
    pieces = [(p.stream_s, p.stream_end_s) for p in stream.pieces]
    assert whisper.pipeline.asked[1] == [(pieces[0][0], pieces[-1][1])]
    assert whisper.pipeline.asked[2] == pieces[1:]
