"""The sentiment engine for languages no local engine reads: no scores, never another language's."""

from __future__ import annotations

from pipeline.ports import SentimentAnalyzer, SentimentResult

__all__ = ["NoSentiment"]


class NoSentiment(SentimentAnalyzer):
    """Recorded as ``sentiment_engine = 'none'``; every sentiment column of the call and its turns is NULL.

    VADER's lexicon is English: on Korean text it would find no words and call every turn
    NEUTRAL, a score that looks real and is not.
    """

    name = "none"

    def analyze(self, texts: list[str], language_code: str) -> list[SentimentResult]:
        return []
