"""Sentiment cached by (texts, language, engine): a rerun pays nothing, a change re-analyses."""

from __future__ import annotations

from pipeline.adapters.vader import VaderSentiment
from pipeline.steps.sentiment_cache import CachedSentiment
from pipeline.lake.storage import LocalStore


class Counting(VaderSentiment):
    def __init__(self, name: str = "vader") -> None:
        super().__init__()
        self.name, self.seen = name, []

    def analyze(self, texts, language_code):
        self.seen.append((tuple(texts), language_code))
        return super().analyze(texts, language_code if language_code.startswith("en") else "en-US")


def test_the_same_texts_are_answered_from_the_cache_and_a_change_is_analysed(tmp_path):
    inner = Counting()
    cache = CachedSentiment(inner, LocalStore(), str(tmp_path / "_sentiment"))
    texts = ["I have called three times and nobody fixed it.", "Thank you, that is great."]
    first = cache.analyze(texts, "en-US")
    again = CachedSentiment(Counting(), LocalStore(), str(tmp_path / "_sentiment"))  # a later run, a new process
    assert again.analyze(texts, "en-US") == first and again.inner.seen == []
    again.analyze(texts, "en-GB")  # another language
    again.analyze([texts[0], "Thank you, that is [PII]."], "en-US")  # another text (redaction switched on)
    assert len(again.inner.seen) == 2
    other = CachedSentiment(Counting("another-engine"), LocalStore(), str(tmp_path / "_sentiment"))
    other.analyze(texts, "en-US")
    assert len(other.inner.seen) == 1
    assert first[0].label == "NEGATIVE" and first[1].label == "POSITIVE"
