"""The local sentiment engine: VADER, mapped to Comprehend's label and four scores.

VADER's ``compound`` is in -1..+1. Within the neutral band, -0.10 < compound < +0.40,
a text is NEUTRAL. The band was calibrated on ``pipeline/data/sentiment_labelled.csv``
(60 call-centre lines): VADER's own +-0.05 reads polite lines ("Yes please", "Sure, I can
do that") as positive and scores many complaints only mildly negative, hence the asymmetry. Outside it the polar confidence grows from
0.5 at the band's edge to 1.0 at |compound| = 1. Texts with both positive and negative
words get a MIXED share ``2 * min(pos, neg)`` of VADER's word proportions, and the
label MIXED when that share is at least 0.3. The four scores always sum to 1.
"""

from __future__ import annotations

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from pipeline.exceptions import ConfigurationError
from pipeline.ports import SentimentAnalyzer, SentimentResult

__all__ = ["NEUTRAL_BAND", "VaderSentiment", "from_vader"]

NEUTRAL_BAND = (-0.10, 0.40)
MIXED_LABEL_SHARE = 0.3


def from_vader(scores: dict[str, float], band: tuple[float, float] = NEUTRAL_BAND) -> SentimentResult:
    """Map VADER's ``polarity_scores`` to Comprehend's shape; ``band`` is (negative edge, positive edge)."""
    compound = scores["compound"]
    mixed = min(1.0, 2.0 * min(scores["pos"], scores["neg"]))
    rest = 1.0 - mixed
    positive = negative = 0.0
    edge = band[1] if compound > 0 else -band[0]
    if abs(compound) >= edge:
        polar = 0.5 + 0.5 * (abs(compound) - edge) / (1.0 - edge)
        positive, negative = (rest * polar, 0.0) if compound > 0 else (0.0, rest * polar)
        neutral = rest * (1.0 - polar)
        label = "POSITIVE" if compound > 0 else "NEGATIVE"
    else:
        neutral = rest
        label = "NEUTRAL"
    if mixed >= MIXED_LABEL_SHARE:
        label = "MIXED"
    return SentimentResult(label, round(positive, 4), round(negative, 4), round(neutral, 4), round(mixed, 4))  # type: ignore[arg-type]


class VaderSentiment(SentimentAnalyzer):
    name = "vader"

    def __init__(self, band: tuple[float, float] = NEUTRAL_BAND) -> None:
        self.band = band
        self._analyzer = SentimentIntensityAnalyzer()  # reads its lexicon from the installed package

    def analyze(self, texts: list[str], language_code: str) -> list[SentimentResult]:
        if not language_code.lower().startswith("en"):
            raise ConfigurationError(f"VADER scores English only; language is {language_code}")
        return [from_vader(self._analyzer.polarity_scores(t), self.band) for t in texts]
