"""Turns from word timestamps, and talk speed.

Whisper's segments run across several speaker turns, so turns are built from words.
A participant's consecutive words form one turn until

- a pause longer than :data:`TURN_PAUSE_S` (1 s), or
- a pause of at least :data:`REPLY_PAUSE_S` (0.3 s) during which the other participant is
  silent, after the other participant spoke during this turn: someone cut in, and what
  follows the pause answers them, so it is a new turn.

Both participants' turns are then sorted by start time.

Word timestamps are the speech model's estimate (Whisper's start early and end early by a
tenth of a second or more). :func:`align_to_speech` moves each turn's edges to the nearest
edge of the participant's measured speech (20 ms frames) within :data:`ALIGN_MAX_S`, never past
the turn's own words or into the participant's neighbouring turns.
"""

from __future__ import annotations

from bisect import bisect_left
from itertools import accumulate

from collections.abc import Sequence
from dataclasses import dataclass, field

from pipeline.steps.audio import Participant
from pipeline.ports import Word

__all__ = ["ALIGN_MAX_S", "TURN_PAUSE_S", "Turn", "align_to_speech", "build_turns", "words_per_minute"]

TURN_PAUSE_S = 1.0
REPLY_PAUSE_S = 0.3
ALIGN_MAX_S = 0.5


@dataclass(slots=True)
class Turn:
    participant: Participant
    words: list[Word] = field(default_factory=list)
    aligned: tuple[float, float] | None = None  # (begin, end) moved onto measured speech

    @property
    def begin_s(self) -> float:
        return self.aligned[0] if self.aligned else self.words[0].begin_s

    @property
    def end_s(self) -> float:
        return self.aligned[1] if self.aligned else self.words[-1].end_s

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words).strip()

    @property
    def confidence(self) -> float:
        return sum(w.confidence for w in self.words) / len(self.words)


def build_turns(words: Sequence[Word]) -> list[Turn]:
    """Group each participant's words into turns at pauses over 1 s; sort all turns by start."""
    turns: list[Turn] = []
    spoken = [w for w in words if w.text.strip()]
    for participant in ("AGENT", "CUSTOMER"):
        own = sorted((w for w in spoken if w.participant == participant), key=lambda w: w.begin_s)
        other = _Others(sorted((w.begin_s, w.end_s) for w in spoken if w.participant != participant))
        current: Turn | None = None
        for word in own:
            if current is None or _ends_turn(current, word.begin_s, other):
                current = Turn(participant)
                turns.append(current)
            current.words.append(word)
    return sorted(turns, key=lambda t: (t.begin_s, t.participant))


class _Others:
    """The other participant's words sorted by start, bisected (a scan of all of them per word was quadratic:
    a 100,000-word call took hours)."""

    def __init__(self, spans: list[tuple[float, float]]) -> None:
        self.begins = [b for b, _ in spans]
        self.ends_so_far = list(accumulate((e for _, e in spans), max))  # the latest end among the first k words

    def begins_in(self, low: float, high: float) -> bool:
        """Some word begins in [low, high)."""
        return bisect_left(self.begins, high) > bisect_left(self.begins, low)

    def speaks_in(self, low: float, high: float) -> bool:
        """Some word overlaps (low, high): begins before ``high`` and ends after ``low``."""
        k = bisect_left(self.begins, high)
        return k > 0 and self.ends_so_far[k - 1] > low


def _ends_turn(turn: Turn, next_begin: float, other: _Others) -> bool:
    pause_begin = turn.end_s
    pause = next_begin - pause_begin
    if pause > TURN_PAUSE_S:
        return True
    if pause < REPLY_PAUSE_S:
        return False
    return other.begins_in(turn.begin_s, pause_begin) and not other.speaks_in(pause_begin, next_begin)


def align_to_speech(turns: Sequence[Turn], speech: dict[str, Sequence[tuple[float, float]]]) -> None:
    """Move turn edges onto the nearest edges of each participant's speech intervals (in place)."""
    for participant, intervals in speech.items():
        own = sorted((t for t in turns if t.participant == participant), key=lambda t: t.words[0].begin_s)
        starts = [b for b, _ in intervals]
        ends = [e for _, e in intervals]
        for i, turn in enumerate(own):
            first, last = turn.words[0], turn.words[-1]
            low = own[i - 1].end_s if i else float("-inf")
            high = own[i + 1].words[0].begin_s if i + 1 < len(own) else float("inf")
            begin = _nearest(starts, first.begin_s, low, first.end_s)
            end = _nearest(ends, last.end_s, max(last.begin_s, begin), high)
            turn.aligned = (round(begin, 3), round(end, 3))


def _nearest(edges: Sequence[float], at: float, low: float, high: float) -> float:
    """The edge nearest ``at`` within ALIGN_MAX_S and inside [low, high]; else ``at``."""
    candidates = [e for e in edges if abs(e - at) <= ALIGN_MAX_S and low <= e <= high]
    return min(candidates, key=lambda e: abs(e - at)) if candidates else at


def words_per_minute(turns: Sequence[Turn], participant: Participant) -> float | None:
    """Words spoken per minute of the participant's own turns (Contact Lens' talk speed)."""
    own = [t for t in turns if t.participant == participant]
    seconds = sum(t.end_s - t.begin_s for t in own)
    if seconds <= 0:
        return None
    return round(sum(len(t.words) for t in own) / seconds * 60.0, 1)
