"""Decode a stereo call, split it into participants, and find where each one speaks.

Voice activity is an energy detector on 20 ms frames, with a threshold that adapts to
the line's noise floor. It is deliberately simple: it runs at thousands of times real
time and on telephone audio it agrees with the scripted turn timings to a few percent
(``tests/unit/test_metrics_on_samples.py``).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import BinaryIO, Literal

import numpy as np
import soundfile as sf

from pipeline.exceptions import BadRecording

__all__ = [
    "CallAudio",
    "MAX_CALL_MINUTES",
    "MAX_RATE_HZ",
    "MIN_RATE_HZ",
    "check_format",
    "check_header",
    "Interval",
    "Participant",
    "decode_call",
    "frame_levels_db",
    "loudness_score",
    "speech_intervals",
]

Participant = Literal["AGENT", "CUSTOMER"]
Interval = tuple[float, float]

MIN_DURATION_S = 0.5  # Amazon Transcribe refuses shorter audio; so do we
MIN_RATE_HZ = 4_000  # below any telephone line (8 kHz) ...
MAX_RATE_HZ = 192_000  # ... above any studio recorder: outside, the header is damaged or hostile
MAX_CALL_MINUTES = 240.0  # default of AFTERCALL_MAX_CALL_MINUTES: no call is decoded beyond it
FRAME_S = 0.02
FLOOR_PERCENTILE = 10  # the quietest tenth of frames is the line's noise
ABOVE_FLOOR_DB = 15.0  # speech is at least this much louder than the noise floor
MIN_THRESHOLD_DB = -55.0  # ...and never quieter than this, whatever the floor
MERGE_GAP_S = 0.5  # pauses between words and sentences stay inside one stretch of speech
MIN_SPEECH_S = 0.12  # clicks and breaths are not speech
LOUDNESS_FLOOR_DB = -60.0  # loudness 0 ... 100 maps -60 dBFS ... 0 dBFS linearly


@dataclass(frozen=True, slots=True)
class CallAudio:
    """A decoded stereo call: one float32 array per participant, at the file's own rate."""

    agent: np.ndarray
    customer: np.ndarray
    sample_rate: int
    agent_channel: int

    @property
    def duration_s(self) -> float:
        return len(self.agent) / self.sample_rate

    def channel(self, participant: Participant) -> np.ndarray:
        return self.agent if participant == "AGENT" else self.customer


def decode_call(data: bytes | BinaryIO | str, uri: str, agent_channel: int,
                max_call_minutes: float = MAX_CALL_MINUTES) -> CallAudio:
    """Decode anything libsndfile reads (WAV, FLAC, OGG...) at any rate; refuse what is not a two-party call.

    The header is judged first (:func:`check_format`): a damaged or hostile one (a sample rate of
    1 Hz, billions of frames) is refused before a single sample is decoded or allocated.
    """
    if isinstance(data, bytes):
        if not data:
            raise BadRecording(uri, "decode", "empty file (0 bytes)")
        data = io.BytesIO(data)
    try:
        with sf.SoundFile(data) as f:
            rate = f.samplerate
            check_format(uri, rate, f.channels, f.frames / rate if rate > 0 else 0.0, max_call_minutes)
            samples = f.read(dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, EOFError) as exc:
        raise BadRecording(uri, "decode", f"not a readable audio file ({_reason(exc)})") from None
    frames, channels = samples.shape
    _check_layout(uri, channels, frames / rate)  # what was really there (a truncated file has less)
    if not np.isfinite(samples).all():
        raise BadRecording(uri, "audio", "samples are not finite numbers (corrupt data)")
    agent = np.ascontiguousarray(samples[:, agent_channel])
    customer = np.ascontiguousarray(samples[:, 1 - agent_channel])
    return CallAudio(agent=agent, customer=customer, sample_rate=int(rate), agent_channel=agent_channel)


def _reason(exc: Exception) -> str:
    """libsndfile's message without the in-memory file's address (the same file gives the same reason)."""
    return re.sub(r"^Error opening <[^>]*>: ", "", str(exc))


def _check_layout(uri: str, channels: int, duration_s: float) -> None:
    if channels == 1:
        raise BadRecording(uri, "audio", "mono recording: agent and customer cannot be separated")
    if channels != 2:
        raise BadRecording(uri, "audio", f"{channels} channels: expected a stereo (2-channel) call recording")
    if duration_s < MIN_DURATION_S:
        raise BadRecording(uri, "audio", f"{duration_s:.2f} s long: shorter than {MIN_DURATION_S} s")


def check_format(uri: str, rate: int, channels: int, duration_s: float,
                 max_call_minutes: float = MAX_CALL_MINUTES) -> None:
    """The rules a recording's header must meet before it is decoded here or sent to a paid job.

    One function for both engines (:func:`decode_call`, :func:`check_header`): a sample rate a
    telephone or studio recorder can have (:data:`MIN_RATE_HZ`-:data:`MAX_RATE_HZ`), two channels,
    at least :data:`MIN_DURATION_S` and at most ``max_call_minutes`` (``AFTERCALL_MAX_CALL_MINUTES``).
    Raises :class:`BadRecording` (stage ``audio``) with the reason.
    """
    if not MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
        raise BadRecording(uri, "audio", f"sample rate {rate:,} Hz in the header: outside {MIN_RATE_HZ:,}-"
                                         f"{MAX_RATE_HZ:,} Hz (a damaged or hostile header)")
    _check_layout(uri, channels, duration_s)
    if duration_s > max_call_minutes * 60:
        raise BadRecording(uri, "audio", f"{_length(duration_s)} long by its header: longer than the "
                                         f"{max_call_minutes:g}-minute limit (AFTERCALL_MAX_CALL_MINUTES)")


def _length(seconds: float) -> str:
    return f"{seconds / 3600:,.1f} hours" if seconds >= 3600 else f"{seconds / 60:,.1f} minutes"


def check_header(head: bytes, size: int, uri: str, max_call_minutes: float = MAX_CALL_MINUTES) -> None:
    """What :func:`decode_call` would refuse, judged from the first bytes of a ``size``-byte file.

    For a remote engine that bills per job: a ranged GET of the header decides whether a
    recording is worth a job. Raises the same :class:`BadRecording` (stage and reason) as
    decoding the whole file would (:func:`check_format`). The duration is the header's where the
    format declares it (FLAC's total samples, which the decoder trusts too); otherwise libsndfile
    counts only the frames present in ``head``, and a longer file's is scaled by its size.
    """
    if size == 0 or not head:
        raise BadRecording(uri, "decode", "empty file (0 bytes)")
    try:
        info = sf.info(io.BytesIO(head))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, EOFError) as exc:
        raise BadRecording(uri, "decode", f"not a readable audio file ({_reason(exc)})") from None
    seconds = info.frames / info.samplerate if info.samplerate > 0 else 0.0
    declared = info.format == "FLAC" and info.frames > 0
    if size > len(head) and not declared:  # only the header and the first frames were read: scale by size
        seconds *= size / len(head)
    check_format(uri, info.samplerate, info.channels, seconds, max_call_minutes)


def frame_levels_db(x: np.ndarray, rate: int) -> np.ndarray:
    """RMS level of each 20 ms frame in dBFS."""
    size = max(1, int(FRAME_S * rate))
    n = len(x) // size
    frames = x[: n * size].reshape(n, size).astype(np.float64)
    power = np.einsum("ij,ij->i", frames, frames) / size
    return 10.0 * np.log10(power + 1e-12)


def _runs(active: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) frame indices of each run of True."""
    edges = np.diff(np.concatenate(([0], active.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def speech_intervals(levels_db: np.ndarray, merge_gap_s: float = MERGE_GAP_S) -> list[Interval]:
    """Stretches of speech (seconds) from frame levels: adaptive threshold, then merge and prune.

    ``merge_gap_s``: pauses up to this long stay inside a stretch (talk time ignores breaths
    between words; turn edges use a finer gap).
    """
    if len(levels_db) == 0:
        return []
    floor = float(np.percentile(levels_db, FLOOR_PERCENTILE))
    threshold = max(floor + ABOVE_FLOOR_DB, MIN_THRESHOLD_DB)
    merged: list[list[int]] = []
    gap = round(merge_gap_s / FRAME_S)
    for start, stop in _runs(levels_db > threshold):
        if merged and start - merged[-1][1] <= gap:
            merged[-1][1] = stop
        else:
            merged.append([start, stop])
    min_frames = round(MIN_SPEECH_S / FRAME_S)
    return [(s * FRAME_S, e * FRAME_S) for s, e in merged if e - s >= min_frames]


def loudness_score(levels_db: np.ndarray, intervals: list[Interval]) -> float | None:
    """Mean loudness 0-100 over the frames inside ``intervals`` (None when nobody spoke)."""
    if not intervals:
        return None
    idx = np.concatenate([np.arange(round(b / FRAME_S), round(e / FRAME_S)) for b, e in intervals])
    idx = idx[idx < len(levels_db)]
    if len(idx) == 0:
        return None
    scores = np.clip((levels_db[idx] - LOUDNESS_FLOOR_DB) / -LOUDNESS_FLOOR_DB * 100.0, 0.0, 100.0)
    return round(float(scores.mean()), 2)
