"""The small interfaces between the pipeline's steps and the engines behind them.

Each port has a local adapter (offline) and an AWS adapter; :mod:`pipeline.wiring`
picks them from settings. The steps between them (split, turns, metrics, sentiment
maths, lake schema) exist once, in this package, and never know which engine ran.
"""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import BinaryIO, Literal

from pipeline.steps.audio import CallAudio, Participant
from pipeline.steps.discovery import Recording

__all__ = [
    "RecordingSource",
    "SentimentAnalyzer",
    "SentimentLabel",
    "SentimentResult",
    "Transcriber",
    "Transcript",
    "Word",
]

SentimentLabel = Literal["POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED"]


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word with its times in seconds from the start of the recording."""

    participant: Participant
    begin_s: float
    end_s: float
    text: str
    confidence: float

    def glued(self, mark: str) -> Word:
        """This word with a punctuation mark attached, as Whisper prints and Transcribe's items mean it."""
        return Word(self.participant, self.begin_s, self.end_s, self.text + mark, self.confidence)


@dataclass(frozen=True, slots=True)
class Transcript:
    words: list[Word]
    language_code: str
    engine: str
    billed_minutes: float = 0.0  # what the engine bills for this call (0 for local engines)
    cost_usd: float = 0.0
    summary: str | None = None  # the engine's summary of the call (Call Analytics' generative summary), as written


@dataclass(frozen=True, slots=True)
class SentimentResult:
    """Comprehend's shape: a label and four scores that sum to 1."""

    label: SentimentLabel
    positive: float
    negative: float
    neutral: float
    mixed: float

    @property
    def score(self) -> float:
        """-1 (certainly negative) ... +1 (certainly positive): the number the call maths averages."""
        return self.positive - self.negative


class RecordingSource(ABC):
    """Where the day's recordings come from (a local folder or an S3 prefix)."""

    @abstractmethod
    def discover(self, day: date) -> list[Recording]:
        """The recordings of ``day`` in Connect's layout, sorted, without reading them."""

    @abstractmethod
    def read(self, recording: Recording) -> bytes:
        """The recording's bytes, read once; the source is never modified."""

    def open(self, recording: Recording) -> BinaryIO:
        """The recording as a seekable binary file, for reading block by block; the caller closes it.

        The default holds the recording's bytes in memory; a source with local files opens the file.
        """
        return io.BytesIO(self.read(recording))


class Transcriber(ABC):
    """Speech to words, per participant, with word timestamps."""

    name: str

    def prepare(self, recordings: Sequence[Recording]) -> None:  # noqa: B027 - optional hook
        """Called once per batch before its calls: remote engines start and await their jobs here."""

    @abstractmethod
    def transcribe(self, recording: Recording, audio: CallAudio) -> Transcript:
        """Words of both participants, any order."""


class SentimentAnalyzer(ABC):
    """Text to Comprehend-shaped sentiment."""

    name: str

    @abstractmethod
    def analyze(self, texts: list[str], language_code: str) -> list[SentimentResult]:
        """One result per text, in order."""

    def cost(self, texts: list[str]) -> tuple[int, float]:
        """(billed units, USD) of analysing ``texts``; local engines cost nothing."""
        return 0, 0.0
