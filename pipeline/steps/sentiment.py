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
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the views' and the report's readers of outcome() load no audio stack
    from pipeline.steps.audio import Participant
    from pipeline.ports import SentimentResult
    from pipeline.steps.turns import Turn

__all__ = ["ENDED_NEGATIVE_AT", "ENDED_POSITIVE_AT", "MOVED_AT", "Outcome", "SentimentSummary", "outcome",
           "summarize"]

ENDED_NEGATIVE_AT = -1.0  # customer_sentiment_end <= this: the call ended negative
ENDED_POSITIVE_AT = 1.0  # customer_sentiment_end >= this: the call ended positive (between: neutral)
MOVED_AT = 1.0  # customer_sentiment_shift >= this: rose; <= -this: fell (between: flat)


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


@dataclass(frozen=True, slots=True)
class Outcome:
    """How the customer's call ended (NEGATIVE / NEUTRAL / POSITIVE) and moved (ROSE / FELL / FLAT); None: unknown."""

    ended: str | None
    moved: str | None

    @property
    def happier(self) -> bool:
        """Ended at least neutral and rose: the only calls counted as "ended happier"."""
        return self.ended in ("NEUTRAL", "POSITIVE") and self.moved == "ROSE"

    @property
    def tags(self) -> tuple[str, ...]:
        """The outcome as filter values: ``ended-negative``, ``rose``, ``happier``, ``no-sentiment``..."""
        if self.ended is None:
            return ("no-sentiment",)
        return (f"ended-{self.ended.lower()}", *((self.moved.lower(),) if self.moved else ()),
                *(("happier",) if self.happier else ()))


def outcome(end: float | None, shift: float | None) -> Outcome:
    """The customer's outcome from the call's ``customer_sentiment_end`` and ``customer_sentiment_shift``
    (see the module's docstring; ``v_call_summary`` computes the same in SQL)."""
    if end is None or end != end:  # NULL or NaN
        return Outcome(None, None)
    ended = "NEGATIVE" if end <= ENDED_NEGATIVE_AT else "POSITIVE" if end >= ENDED_POSITIVE_AT else "NEUTRAL"
    if shift is None or shift != shift:
        return Outcome(ended, None)
    moved = "ROSE" if shift >= MOVED_AT else "FELL" if shift <= -MOVED_AT else "FLAT"
    return Outcome(ended, moved)
