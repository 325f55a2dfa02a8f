"""Decode a stereo call, split it into participants, and find where each one speaks.

Voice activity is an energy detector on 20 ms frames, with a threshold that adapts to
the line's noise floor. It is deliberately simple: it runs at thousands of times real
time and on telephone audio it agrees with the scripted turn timings to a few percent
(``tests/unit/test_metrics_on_samples.py``).
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterator
from typing import BinaryIO, Literal

import numpy as np
import soundfile as sf

from pipeline.exceptions import BadRecording

__all__ = [
    "CallAudio",
    "LevelMeter",
    "MAX_CALL_MINUTES",
    "MAX_RATE_HZ",
    "MIN_RATE_HZ",
    "check_format",
    "check_header",
    "Interval",
    "Participant",
    "block_frames",
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


BLOCK_FRAMES_OF_20MS = 3000  # a decoding block is 60 s of audio: a few MB at telephone rates, whatever the call's length


def block_frames(rate: int) -> int:
    """Frames per decoding block: whole 20 ms level frames, so block-wise levels equal whole-call levels."""
    return max(1, int(FRAME_S * rate)) * BLOCK_FRAMES_OF_20MS


class LevelMeter:
    """:func:`frame_levels_db` of a signal fed in blocks of any length: the same values as on the whole signal.

    The tail that does not fill a 20 ms frame is carried to the next block (and dropped at the end, as
    the whole-signal function drops it).
    """

    __slots__ = ("rate", "_size", "_tail", "_parts", "samples")

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._size = max(1, int(FRAME_S * rate))
        self._tail = np.zeros(0, np.float32)
        self._parts: list[np.ndarray] = []
        self.samples = 0  # fed so far

    def feed(self, block: np.ndarray) -> None:
        self.samples += len(block)
        if len(self._tail):
            block = np.concatenate([self._tail, block])
        whole = len(block) // self._size * self._size
        if whole:
            self._parts.append(frame_levels_db(block[:whole], self.rate))
        self._tail = block[whole:].copy()

    def levels(self) -> np.ndarray:
        return np.concatenate(self._parts) if self._parts else np.zeros(0, np.float64)


Opener = Callable[[], sf.SoundFile]


class CallAudio:
    """A stereo call: one participant's float32 samples at a time, at the file's own rate.

    Either held in memory (``agent`` and ``customer`` arrays), or, as :func:`decode_call` returns it,
    read again from the recording block by block (:meth:`blocks`) whenever a step needs the samples:
    a 4-hour call never has both channels (0.9 GB as float32 at 8 kHz) in memory at once. The 20 ms
    frame levels the metrics use are measured once, while decoding checks the file.
    """

    __slots__ = ("agent", "customer", "sample_rate", "agent_channel", "frames", "_open", "_levels")

    def __init__(self, agent: np.ndarray | None = None, customer: np.ndarray | None = None, *, sample_rate: int,
                 agent_channel: int, frames: int | None = None, opener: Opener | None = None,
                 levels: dict[Participant, np.ndarray] | None = None) -> None:
        if opener is None and (agent is None or customer is None):
            raise ValueError("a CallAudio needs both channels' samples, or an opener to read them from")
        self.agent, self.customer = agent, customer
        self.sample_rate, self.agent_channel = int(sample_rate), agent_channel
        self.frames = len(agent) if frames is None and agent is not None else int(frames or 0)
        self._open = opener
        self._levels: dict[Participant, np.ndarray] = dict(levels or {})

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    def blocks(self, participant: Participant, frames: int | None = None) -> Iterator[np.ndarray]:
        """The participant's samples in order, ``frames`` at a time (default :func:`block_frames`)."""
        size = frames or block_frames(self.sample_rate)
        held = self.agent if participant == "AGENT" else self.customer
        if held is not None:
            for start in range(0, len(held), size):
                yield held[start:start + size]
            return
        assert self._open is not None
        column = self.agent_channel if participant == "AGENT" else 1 - self.agent_channel
        with self._open() as f:
            read = 0
            while read < self.frames:  # what the checking pass counted (a truncated file's real length)
                block = f.read(min(size, self.frames - read), dtype="float32", always_2d=True)
                if not len(block):
                    break
                read += len(block)
                yield np.ascontiguousarray(block[:, column])

    def channel(self, participant: Participant) -> np.ndarray:
        """The participant's whole channel in memory (for short clips and tests: steps read :meth:`blocks`)."""
        held = self.agent if participant == "AGENT" else self.customer
        if held is not None:
            return held
        parts = list(self.blocks(participant))
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    def levels(self, participant: Participant) -> np.ndarray:
        """RMS level of each 20 ms frame in dBFS (:func:`frame_levels_db`), measured once."""
        if participant not in self._levels:
            meter = LevelMeter(self.sample_rate)
            for block in self.blocks(participant):
                meter.feed(block)
            self._levels[participant] = meter.levels()
        return self._levels[participant]


def _opener(data: BinaryIO | str | os.PathLike) -> Opener:
    """A function opening the recording afresh at its start, for each pass over its samples."""
    if isinstance(data, (str, os.PathLike)):
        return lambda: sf.SoundFile(data)

    def reopen() -> sf.SoundFile:
        data.seek(0)  # one pass at a time: the same handle serves every pass (a deleted file stays readable)
        return sf.SoundFile(data)  # a file object is never closed by soundfile: the caller owns it

    return reopen


def decode_call(data: bytes | BinaryIO | str | os.PathLike, uri: str, agent_channel: int,
                max_call_minutes: float = MAX_CALL_MINUTES) -> CallAudio:
    """Check a recording and measure its frame levels in one pass; later steps read its samples again in blocks.

    Reads anything libsndfile reads (WAV, FLAC, OGG...) at any rate; refuses what is not a two-party call.
    The header is judged first (:func:`check_format`): a damaged or hostile one (a sample rate of
    1 Hz, billions of frames) is refused before a single sample is decoded or allocated. The file
    is then decoded :func:`block_frames` at a time, so memory does not grow with the call's length;
    ``data`` (bytes, a seekable binary file or a path) must stay readable while the audio is used.
    """
    if isinstance(data, bytes):
        data = io.BytesIO(data)
    empty = os.path.getsize(data) == 0 if isinstance(data, (str, os.PathLike)) else data.seek(0, io.SEEK_END) == 0
    if empty:
        raise BadRecording(uri, "decode", "empty file (0 bytes)")
    opener = _opener(data)
    meters: list[LevelMeter] = []
    try:
        with opener() as f:
            rate = f.samplerate
            check_format(uri, rate, f.channels, f.frames / rate if rate > 0 else 0.0, max_call_minutes)
            channels, size = f.channels, block_frames(rate)
            meters = [LevelMeter(rate) for _ in range(channels)]
            frames, finite = 0, True
            while True:
                block = f.read(size, dtype="float32", always_2d=True)
                if not len(block):
                    break
                frames += len(block)
                finite = finite and bool(np.isfinite(block).all())
                for column, meter in enumerate(meters):
                    meter.feed(np.ascontiguousarray(block[:, column]))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, EOFError) as exc:
        raise BadRecording(uri, "decode", f"not a readable audio file ({_reason(exc)})") from None
    _check_layout(uri, channels, frames / rate)  # what was really there (a truncated file has less)
    if not finite:
        raise BadRecording(uri, "audio", "samples are not finite numbers (corrupt data)")
    levels: dict[Participant, np.ndarray] = {"AGENT": meters[agent_channel].levels(),
                                             "CUSTOMER": meters[1 - agent_channel].levels()}
    return CallAudio(sample_rate=int(rate), agent_channel=agent_channel, frames=frames, opener=opener, levels=levels)


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
