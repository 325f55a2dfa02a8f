"""Call sentiment like Contact Lens: a score from -5 to +5 per participant, for the call and per quarter.

Formula (also in docs/metrics.md). A turn's score is ``s = P(positive) - P(negative)`` from the
engine's Comprehend-shaped result, in -1..+1. A participant's score over a span is

    5 * sum(s_i * d_i) / sum(d_i)

over the participant's turns in that span, ``d_i`` being the turn's duration, so long
turns weigh more than "okay". Quarters split the call's duration in four; a turn counts in
every quarter it overlaps, weighted by the overlap (a 40 s answer that starts in the first
quarter colours the start of the call, even if most of it falls in the second). A quarter in
which the participant did not speak has no score (NULL). The shift is last quarter minus first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.audio import Participant
from pipeline.ports import SentimentResult
from pipeline.turns import Turn

__all__ = ["SentimentSummary", "summarize"]


@dataclass(frozen=True, slots=True)
class SentimentSummary:
    overall: float | None
    quarters: tuple[float | None, float | None, float | None, float | None]

    @property
    def start(self) -> float | None:
        return self.quarters[0]

    @property
    def end(self) -> float | None:
        return self.quarters[3]

    @property
    def shift(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return round(self.end - self.start, 3)


def _weighted(pairs: list[tuple[float, float]]) -> float | None:
    weight = sum(d for _, d in pairs)
    if weight <= 0:
        return None
    return round(5.0 * sum(s * d for s, d in pairs) / weight, 3)


def summarize(
    turns: Sequence[Turn], results: Sequence[SentimentResult], participant: Participant, duration_s: float
) -> SentimentSummary:
    """The participant's call and quarter scores from its turns and their sentiment results."""
    scored = [
        (t, r.score, max(t.end_s - t.begin_s, 0.05))
        for t, r in zip(turns, results, strict=True)
        if t.participant == participant
    ]
    quarters: list[list[tuple[float, float]]] = [[], [], [], []]
    length = duration_s / 4
    for turn, score, dur in scored:
        if length <= 0 or turn.end_s <= turn.begin_s:  # a point: the quarter that holds it
            index = min(3, max(0, int(turn.begin_s / length))) if length > 0 else 0
            quarters[index].append((score, dur))
            continue
        for index in range(4):
            start = index * length
            end = duration_s if index == 3 else start + length  # the last quarter takes any turn past the end
            overlap = min(turn.end_s, end) - max(turn.begin_s, start if index else float("-inf"))
            if overlap > 0:
                quarters[index].append((score, overlap))
    q = tuple(_weighted(items) for items in quarters)
    return SentimentSummary(overall=_weighted([(s, d) for _, s, d in scored]), quarters=q)  # type: ignore[arg-type]
