"""Languages on the local engine: the model must read the language, sentiment only where VADER can."""

from __future__ import annotations

import pytest

from pipeline.adapters.no_sentiment import NoSentiment
from pipeline.adapters.vader import VaderSentiment
from pipeline.adapters.whisper import WhisperTranscriber
from pipeline.exceptions import ConfigurationError
from pipeline.ports import Transcript, Word
from pipeline.steps.process import language_rows
from pipeline.settings import Settings
from pipeline.wiring import Components, build_sentiment


def test_english_gets_vader_other_languages_get_no_sentiment():
    assert isinstance(build_sentiment(Settings(language_code="en-GB")), VaderSentiment)
    assert isinstance(build_sentiment(Settings(language_code="ko-KR")), NoSentiment)


def test_an_english_only_model_refuses_korean_and_names_the_one_that_reads_it():
    with pytest.raises(ConfigurationError, match="English-only.*ko-KR.*AFTERCALL_WHISPER_MODEL=base"):
        WhisperTranscriber("tiny.en", language_code="ko-KR")


def test_no_sentiment_leaves_every_sentiment_column_empty():
    words = [Word("CUSTOMER", 0.5, 1.0, "요금이", 0.9), Word("AGENT", 2.0, 2.5, "네", 0.9)]
    call = {"contact_id": "c1", "recording_uri": "x.wav"}
    turns, _ = language_rows(call, Transcript(words, "ko-KR", "faster-whisper:base"),
                             Components(None, None, NoSentiment()), 3.0, None)  # type: ignore[arg-type]
    assert call["sentiment_engine"] == "none" and call["language_code"] == "ko-KR"
    assert "customer_sentiment" not in call and "customer_sentiment_start" not in call  # NULL in the lake
    assert [t["sentiment"] for t in turns] == [None, None] and [t["text"] for t in turns] == ["요금이", "네"]
