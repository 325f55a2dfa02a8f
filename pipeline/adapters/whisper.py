"""The local transcriber: faster-whisper over a call's speech, both channels packed into full windows.

Whisper's encoder costs the same for every 30 s window, full or nearly empty, and a phone
channel is silent about half the time (the other side is talking). So a call is transcribed
as one batch:

1. the level-based speech detector of the metrics finds each channel's speech pieces;
2. the pieces of both channels are laid end to end, :data:`PIECE_GAP_S` of silence apart,
   in a synthetic stream, and cut into windows of at most 30 s;
3. the windows are decoded together (faster-whisper's batched pipeline, word timestamps on);
4. each word is mapped back to its channel and its time in the recording, within its piece.

A call's windows depend on nothing but the call, so a call gets the same transcript whichever
batch, worker or run processed it. Memory does not grow with the call's length: each channel is
resampled a block at a time (once to find its speech, once more to cut the pieces out), and the
windows go to Whisper :data:`GROUP_WINDOWS` at a time, each group a stream of its own starting
at 0 (a call of up to about half an hour of speech is one group, decoded exactly as one stream). Pieces never straddle a silence of
:data:`VAD_MIN_SILENCE_MS`, so pauses between pieces are exact in the output rather than
Whisper's estimate, and nothing is transcribed in silence.
"""

from __future__ import annotations

import bisect
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache

import av
import numpy as np

from pipeline.adapters.whisper_models import is_english_only, model_label, resolve_model
from pipeline.steps.audio import FRAME_S, CallAudio, LevelMeter, Participant, frame_levels_db, speech_intervals
from pipeline.steps.discovery import Recording
from pipeline.exceptions import ConfigurationError
from pipeline.ports import Transcriber, Transcript, Word

__all__ = ["GROUP_WINDOWS", "WHISPER_RATE", "Piece", "SpeechStream", "WhisperTranscriber", "drop_loops", "pack",
           "pack_streams", "piece_audio", "resample", "resample_blocks"]

log = logging.getLogger(__name__)

WHISPER_RATE = 16000  # Whisper assumes 16 kHz mono float32; 8 kHz input gives garbage
WINDOW_S = 30.0  # Whisper's fixed input length
PIECE_GAP_S = 0.4  # silence between packed pieces: enough for Whisper to hear a boundary
VAD_MIN_SILENCE_MS = 300  # a pause this long splits a piece (the turn rule's reply pause is 0.3 s)
VAD_PAD_MS = 150
BATCH_SIZE = 8
# Windows per Whisper call: its features (~1 MB a window) and the group's audio (~2 MB a window) are held
# together, so 64 windows cost ~0.2 GB whatever the call's length; a multiple of BATCH_SIZE keeps batches
# as they would be in one stream. Up to 64 windows (about half an hour of speech) a call is one group.
GROUP_WINDOWS = 64
LOOP_COMPRESSION_RATIO = 2.4  # Whisper's own threshold for "this text repeats itself"
NO_SPEECH_PROB = 0.6  # Whisper's rule: no speech if no_speech_prob > 0.6 and avg_logprob < -1
NO_SPEECH_LOGPROB = -1.0
LOOP_MIN_REPEATS = 3  # "1, 1, 1" or "thank you thank you thank you": keep the first only


def resample_blocks(blocks: Iterable[np.ndarray], rate: int, target: int = WHISPER_RATE) -> Iterator[np.ndarray]:
    """:func:`resample` of a signal given in blocks: FFmpeg's resampler keeps its state between blocks, so
    the concatenated output equals resampling the whole signal at once (checked in the unit tests)."""
    if rate == target:
        for block in blocks:
            yield block.astype(np.float32, copy=False)
        return
    resampler = av.AudioResampler(format="flt", layout="mono", rate=target)
    for block in blocks:
        if not len(block):
            continue
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block, dtype=np.float32).reshape(1, -1),
                                           format="flt", layout="mono")
        frame.sample_rate = rate
        for out in resampler.resample(frame):
            yield out.to_ndarray().reshape(-1)
    for out in resampler.resample(None):
        yield out.to_ndarray().reshape(-1)


def resample(x: np.ndarray, rate: int, target: int = WHISPER_RATE) -> np.ndarray:
    """Mono float32 at ``target`` Hz, with FFmpeg's resampler (the one faster-whisper itself uses)."""
    if rate == target:
        return x.astype(np.float32, copy=False)
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(x, dtype=np.float32).reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="flt", layout="mono", rate=target)
    chunks = [f.to_ndarray() for f in resampler.resample(frame)] + [f.to_ndarray() for f in resampler.resample(None)]
    return np.concatenate(chunks, axis=1).reshape(-1) if chunks else np.zeros(0, np.float32)


@dataclass(frozen=True, slots=True)
class Piece:
    """A stretch of one participant's speech: where it sits in the stream and in the recording (seconds)."""

    participant: Participant
    stream_s: float
    begin_s: float
    end_s: float

    @property
    def stream_end_s(self) -> float:
        return self.stream_s + self.end_s - self.begin_s


@dataclass(slots=True)
class SpeechStream:
    samples: np.ndarray
    pieces: list[Piece]
    windows: list[tuple[float, float]]  # (start, end) in stream seconds, each at most WINDOW_S
    starts: list[float] = field(init=False)  # pieces' stream starts, for place(): built once, not per word

    def __post_init__(self) -> None:
        self.starts = [p.stream_s for p in self.pieces]

    def owner(self, begin: float, end: float) -> int:
        """The index of the piece a word's stream times belong to (its middle's; in a gap, the nearer piece's)."""
        middle = (begin + end) / 2
        i = max(0, bisect.bisect_right(self.starts, middle) - 1)
        # In the gap after piece i: the nearer piece owns the word.
        if i + 1 < len(self.pieces) and middle - self.pieces[i].stream_end_s > self.pieces[i + 1].stream_s - middle:
            i += 1
        return i

    def place(self, begin: float, end: float) -> tuple[Participant, float, float]:
        """A word's stream times -> (participant, begin, end) in the recording, clamped to its piece."""
        piece = self.pieces[self.owner(begin, end)]
        shift = piece.begin_s - piece.stream_s
        b = min(max(begin + shift, piece.begin_s), piece.end_s)
        e = min(max(end + shift, b), piece.end_s)
        return piece.participant, b, e


def pack_streams(speech: dict[Participant, list[tuple[int, int]]], piece_audio: Iterable[np.ndarray],
                 rate: int = WHISPER_RATE, max_windows: int | None = GROUP_WINDOWS) -> Iterator[SpeechStream]:
    """Lay every speech piece end to end and cut the stream into windows; a new stream every ``max_windows``.

    ``speech``: sample ranges per participant; ``piece_audio``: each range's samples, agent's first, in
    order. Each stream starts at 0 with the piece that opens its first window, so the first stream of
    a call is exactly what one stream of the whole call would begin with. The windows are planned
    from the ranges alone; each stream's samples are then filled in one array, piece by piece, so
    one group's audio is held once (not as pieces and their concatenation).
    """
    gap = int(PIECE_GAP_S * rate)
    groups: list[tuple[list[Piece], list[int], list[list[float]], int]] = []
    pieces: list[Piece] = []
    lengths: list[int] = []  # each piece's samples
    windows: list[list[float]] = []
    at = 0
    for participant in ("AGENT", "CUSTOMER"):
        for start, end in speech.get(participant, []):  # type: ignore[call-overload]
            stream_s, length_s = at / rate, (end - start) / rate
            if windows and stream_s + length_s - windows[-1][0] <= WINDOW_S:
                windows[-1][1] = stream_s + length_s
            else:  # pieces are at most WINDOW_S long (the VAD splits longer speech)
                if max_windows and len(windows) == max_windows:  # this group is full: the next starts at 0
                    groups.append((pieces, lengths, windows, at))
                    pieces, lengths, windows, at = [], [], [], 0
                    stream_s = 0.0
                windows.append([stream_s, stream_s + min(length_s, WINDOW_S)])
            pieces.append(Piece(participant, stream_s, start / rate, end / rate))  # type: ignore[arg-type]
            lengths.append(end - start)
            at += end - start + gap
    if pieces:
        groups.append((pieces, lengths, windows, at))
    audio_of = iter(piece_audio)
    for pieces, lengths, windows, size in groups:
        samples = np.zeros(size, np.float32)  # the gaps stay silent
        at = 0
        for length in lengths:
            audio = next(audio_of)
            samples[at:at + len(audio)] = audio[:length]
            at += length + gap
        yield SpeechStream(samples, pieces, [(round(s, 4), round(e, 4)) for s, e in windows])


def pack(speech: dict[Participant, list[tuple[int, int]]], channels: dict[Participant, np.ndarray],
         rate: int = WHISPER_RATE) -> SpeechStream:
    """The whole call as one stream (:func:`pack_streams` without groups), from channels held in memory."""
    audio = (channels[p][start:end] for p in ("AGENT", "CUSTOMER") for start, end in speech.get(p, []))  # type: ignore[index]
    return next(pack_streams(speech, audio, rate, max_windows=None), None) or SpeechStream(np.zeros(0, np.float32), [], [])


def piece_audio(audio: CallAudio, speech: dict[Participant, list[tuple[int, int]]],
                rate: int = WHISPER_RATE) -> Iterator[np.ndarray]:
    """Each speech range's samples at ``rate``, agent's ranges first, each channel resampled once, block by block.

    Ranges start in order within a channel (neighbours may overlap by their padding); what lies
    before the current range's start is dropped as the channel is read, so only about a block and
    a piece are held at a time.
    """
    for participant in ("AGENT", "CUSTOMER"):
        ranges = speech.get(participant, [])  # type: ignore[call-overload]
        if not ranges:
            continue
        blocks = resample_blocks(audio.blocks(participant), audio.sample_rate, rate)  # type: ignore[arg-type]
        try:
            held, held_at = np.zeros(0, np.float32), 0  # samples [held_at, held_at + len(held)) of the channel
            for start, end in ranges:
                while held_at + len(held) < end:
                    block = next(blocks, None)
                    if block is None:
                        break
                    if held_at + len(held) + len(block) <= start:  # silence before the range: never kept
                        held, held_at = np.zeros(0, np.float32), held_at + len(held) + len(block)
                        continue
                    held = np.concatenate([held, block])
                    if start > held_at:
                        held, held_at = held[start - held_at:], start
                if start > held_at:
                    held, held_at = held[start - held_at:], start
                yield held[start - held_at:end - held_at].copy()
        finally:
            blocks.close()  # the recording is read one pass at a time: this channel's pass ends here


def _split(levels: np.ndarray, first: int, stop: int, most: int) -> list[tuple[int, int]]:
    """Frame ranges of at most ``most`` frames, cut at the quietest frame of the middle half."""
    if stop - first <= most:
        return [(first, stop)]
    quarter = (stop - first) // 4
    cut = first + quarter + int(np.argmin(levels[first + quarter:stop - quarter]))
    return _split(levels, first, cut, most) + _split(levels, cut, stop, most)


def _norm(word: str) -> str:
    return re.sub(r"[^\w]", "", word.lower())


def drop_loops(texts: list[str]) -> list[int]:
    """Indexes of the words to keep: an n-gram (n <= 4) repeated LOOP_MIN_REPEATS+ times in a row keeps its first."""
    keys = [_norm(t) for t in texts]
    keep = [True] * len(keys)
    i = 0
    while i < len(keys):
        skipped = False
        for n in range(1, 5):
            gram = keys[i:i + n]
            if len(gram) < n or not all(gram):
                continue
            repeats = 1
            while keys[i + repeats * n:i + (repeats + 1) * n] == gram:
                repeats += 1
            if repeats >= LOOP_MIN_REPEATS:
                for j in range(i + n, i + repeats * n):
                    keep[j] = False
                i += repeats * n
                skipped = True
                break
        if not skipped:
            i += 1
    return [i for i, k in enumerate(keep) if k]


@lru_cache(maxsize=8)
def _phrase_index(phrases: tuple[str, ...]) -> dict[str, list[tuple[str, ...]]]:
    """The phrases' normalised words by their first word, longest first (built once per vocabulary, not per
    window: a check per position then looks at the phrases starting with that word only)."""
    index: dict[str, list[tuple[str, ...]]] = {}
    grams = {tuple(k for k in (_norm(w) for w in phrase.split()) if k) for phrase in phrases} - {()}
    for gram in sorted(grams, key=len, reverse=True):
        index.setdefault(gram[0], []).append(gram)
    return index


def _phrases_at(keys: list[str], i: int, index: dict[str, list[tuple[str, ...]]]) -> list[tuple[str, ...]]:
    """The phrases (normalised) that the words ``keys`` hold from position ``i``, longest first."""
    return [g for g in index.get(keys[i], ()) if tuple(keys[i:i + len(g)]) == g]


PROMPT_RUN = 3  # vocabulary phrases close together that read as the prompt copied, not speech
PROMPT_GAP = 1  # ...with at most this many other words between two of them (a misheard name of the list)


def copies_prompt(texts: list[str], phrases: Iterable[str]) -> bool:
    """Whether words read as the custom vocabulary copied instead of heard.

    Where the audio is unclear, Whisper primed with the vocabulary writes the prompt out: one phrase twice in a
    row ("Northfield Credit Union, Northfield Credit Union") or :data:`PROMPT_RUN`+ phrases with at most
    :data:`PROMPT_GAP` other word between them ("Northfield Credit Union, Nippon, Priya, Westmoor Building
    Society"). Two phrases together are speech ("Acme Telecom, Sarah speaking").
    """
    keys = [_norm(t) for t in texts]
    index = _phrase_index(tuple(phrases))
    run, gap, last, i = 0, 0, None, 0
    while i < len(keys):
        gram = next(iter(_phrases_at(keys, i, index)), None)
        if gram is None:
            gap, i = gap + 1, i + 1
            if gap > PROMPT_GAP:
                run, last = 0, None
            continue
        if gram == last and gap == 0:
            return True
        run = run + 1 if run and gap <= PROMPT_GAP else 1
        gap, last, i = 0, gram, i + len(gram)
        if run >= PROMPT_RUN:
            return True
    return False


def named(texts: list[str], phrases: Iterable[str]) -> list[bool]:
    """For each word, whether it is part of one of the vocabulary's phrases (case and punctuation aside)."""
    keys = [_norm(t) for t in texts]
    index = _phrase_index(tuple(phrases))
    inside = [False] * len(keys)
    for i in range(len(keys)):
        for g in _phrases_at(keys, i, index):
            inside[i:i + len(g)] = [True] * len(g)
    return inside


Decoded = list[tuple[float, float, str, float]]


def merge_heard(prompted: Decoded, plain: Decoded, phrases: Iterable[str]) -> Decoded:
    """The words decoded without the vocabulary, with the vocabulary's names taken from the prompted decode.

    Primed with the vocabulary Whisper hears its names, and also guesses differently elsewhere ("Hurry to hear
    that" read as "Harbour to hear, Matt"). The two decodes are aligned word by word; where they differ, the
    prompted words are kept only if they hold a phrase of the vocabulary (or part of one), else the plain ones.
    """
    inside = named([w[2] for w in prompted], phrases)
    matcher = SequenceMatcher(a=[_norm(w[2]) for w in prompted], b=[_norm(w[2]) for w in plain], autojunk=False)
    out: Decoded = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":  # the same words: the plain decode's, but a name's as the prompted decode wrote it
            out += [prompted[i] if inside[i] else plain[j] for i, j in zip(range(i1, i2), range(j1, j2))]
        else:
            out += prompted[i1:i2] if any(inside[i1:i2]) else plain[j1:j2]
    return out


class WhisperTranscriber(Transcriber):
    """One model per process, loaded once; a call's speech decoded as one batch of windows."""

    name = "faster-whisper"
    group_windows = GROUP_WINDOWS  # windows per Whisper call (memory), see GROUP_WINDOWS
    prompt: str | None = None  # the custom vocabulary as Whisper's initial prompt (AFTERCALL_VOCABULARY)

    def __init__(self, model: str = "tiny.en", *, language_code: str = "en-US", beam_size: int = 1,
                 cpu_threads: int = 1, prompt: str | None = None) -> None:
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        self.language = language_code.split("-")[0].lower()
        self.language_code = language_code
        if is_english_only(model) and self.language != "en":
            raise ConfigurationError(f"the Whisper model {model_label(model)!r} is English-only; language is "
                                     f"{language_code}: use AFTERCALL_WHISPER_MODEL=base (multilingual)")
        self.beam_size = beam_size
        self.model = WhisperModel(resolve_model(model), device="cpu", compute_type="int8", cpu_threads=cpu_threads)
        self.pipeline = BatchedInferencePipeline(self.model)
        self.name = f"faster-whisper:{model_label(model)}"
        # The custom vocabulary (AFTERCALL_VOCABULARY) as Whisper's initial prompt, read before every window of every
        # decode: packed groups and the piece-by-piece re-decode of looping windows alike (both go through
        # _segments). The batched pipeline never conditions on earlier text, so every window gets exactly this.
        # initial_prompt rather than hotwords: measured better on the sample and held-out calls (docs/speech.md).
        self.prompt = prompt or None
        if self.prompt:
            budget = self.model.max_length // 2 - 1  # faster-whisper keeps the last this many tokens of a prompt
            used = len(self.model.hf_tokenizer.encode(self.prompt, add_special_tokens=False).ids)
            if used > budget:
                log.warning("the custom vocabulary is %d tokens long; Whisper reads its last %d only: the phrases "
                            "at the start of the file are not used locally", used, budget)

    @staticmethod
    def speech(samples: np.ndarray, rate: int = WHISPER_RATE) -> list[tuple[int, int]]:
        """Sample ranges of speech in one channel held in memory (:meth:`speech_ranges` of its levels)."""
        return WhisperTranscriber.speech_ranges(frame_levels_db(samples, rate), len(samples), rate)

    @staticmethod
    def channel_speech(audio: CallAudio, participant: Participant, rate: int = WHISPER_RATE) -> list[tuple[int, int]]:
        """:meth:`speech` of a participant's channel resampled to ``rate``, measured block by block."""
        meter = LevelMeter(rate)
        for block in resample_blocks(audio.blocks(participant), audio.sample_rate, rate):
            meter.feed(block)
        return WhisperTranscriber.speech_ranges(meter.levels(), meter.samples, rate)

    @staticmethod
    def speech_ranges(levels: np.ndarray, samples: int, rate: int = WHISPER_RATE) -> list[tuple[int, int]]:
        """Sample ranges of speech in one channel: the stretches talk time counts, padded, at most a window long.

        The same level-based detector as the metrics (so what is transcribed is what is counted as
        talk), with pauses over VAD_MIN_SILENCE_MS kept apart. Silero VAD was tried first: it misses
        whole sentences of some synthetic and band-limited voices that Whisper reads well.
        ``levels``: the channel's 20 ms frame levels at ``rate``; ``samples``: its length at ``rate``.
        """
        frame = round(FRAME_S * rate)
        pad = round(VAD_PAD_MS / 1000 * rate)
        ranges: list[tuple[int, int]] = []
        for begin, end in speech_intervals(levels, VAD_MIN_SILENCE_MS / 1000):
            first, stop = round(begin / FRAME_S), round(end / FRAME_S)
            for a, b in _split(levels, first, stop, round((WINDOW_S - 1) / FRAME_S)):
                ranges.append((max(0, a * frame - pad), min(samples, b * frame + pad)))
        return ranges

    def decode(self, stream: SpeechStream) -> list[tuple[float, float, str, float]]:
        """(begin_s, end_s, word, probability) in stream time, hallucinations dropped.

        A window whose text repeats itself (Whisper fell into a loop, which eats the rest of the
        window) is decoded again piece by piece: shorter inputs rarely loop, and the outcome is as
        deterministic as the first pass. What still repeats keeps its first occurrence. With a custom
        vocabulary each window is decoded with it and without it (:func:`merge_heard`).
        """
        phrases = self.prompt.split(", ") if self.prompt else []

        def pieces_of(window: tuple[float, float]) -> list[tuple[float, float]]:
            return [(p.stream_s, p.stream_end_s) for p in stream.pieces if window[0] <= p.stream_s < window[1]]

        def windows(prompt: object) -> dict[tuple[float, float], Decoded]:
            """Each window's words; a window that loops is decoded again piece by piece."""
            out: dict[tuple[float, float], Decoded] = {}
            looping: dict[tuple[float, float], None] = {}  # ordered, once each
            for window, segment in self._segments(stream.samples, stream.windows, prompt):
                if segment.compression_ratio > LOOP_COMPRESSION_RATIO:
                    log.info("window at %.1f s repeats itself (compression ratio %.1f): decoding it piece by piece",
                             window[0], segment.compression_ratio)
                    looping[window] = None
                    continue
                out.setdefault(window, []).extend(self._words(segment))
            for window in looping:
                out[window] = [w for _, segment in self._segments(stream.samples, pieces_of(window), prompt)
                               for w in self._words(segment)]
            return out

        heard = windows(self._PROMPT)
        if not phrases:
            return self._unskipped(stream, [w for words in heard.values() for w in words])
        # With a vocabulary every window is also decoded without it, and the names are taken from the prompted
        # decode (merge_heard): primed with the vocabulary, Whisper also guesses differently where no name is
        # said, skips whole pieces of real speech (a caller's every turn of a sample call), and where the audio is
        # unclear writes the vocabulary out instead of hearing it (copies_prompt).
        plain = windows(None)
        words: Decoded = []
        for window in stream.windows:
            prompted, without = heard.get(window, []), plain.get(window, [])
            if copies_prompt([w[2] for w in prompted], phrases):
                log.info("window at %.1f s copies the custom vocabulary: its decode without it is kept", window[0])
                words += without
            else:
                words += merge_heard(prompted, without, phrases)
        return self._unskipped(stream, words)

    def _unskipped(self, stream: SpeechStream, words: Decoded) -> Decoded:
        """``words`` sorted, with the speech Whisper skipped decoded again, without a prompt.

        Whisper sometimes returns nothing for a whole window of real speech (on the bench corpus, the angry
        caller of a sample call lost every turn in 4 of 25 noisy variants). The voice activity found speech in
        each piece, so pieces left without a word are decoded again: neighbours together in clips of at most
        half a window (each clip costs a window's encoding), then any piece still without a word alone. A
        piece's words are those place() gives it: a word Whisper starts early, in the gap before its piece, is
        still the piece's.
        """
        alone: set[tuple[float, float]] = set()  # pieces already decoded on their own
        for grouped in (True, False):
            worded = {stream.owner(w[0], w[1]) for w in words} if stream.pieces else set()
            bare = [(p.stream_s, p.stream_end_s) for i, p in enumerate(stream.pieces)
                    if i not in worded and (p.stream_s, p.stream_end_s) not in alone]
            if not bare:
                break
            clips: list[tuple[float, float]] = []
            for begin, end in bare:
                near = clips and end - clips[-1][0] <= WINDOW_S / 2 and begin - clips[-1][1] <= 2 * PIECE_GAP_S
                if grouped and near:
                    clips[-1] = (clips[-1][0], end)
                else:
                    clips.append((begin, end))
            alone |= set(clips) & set(bare)
            log.info("%d piece(s) of speech got no words: decoding them again in %d clip(s)", len(bare), len(clips))
            for _, segment in self._segments(stream.samples, clips, None):
                words = words + self._words(segment)
        return sorted(words)

    _PROMPT = object()  # _segments' default: the custom vocabulary, if any

    def _segments(self, samples: np.ndarray, clips: list[tuple[float, float]], prompt: object = _PROMPT):
        """(clip, segment) for each decoded clip, skipping those Whisper judges silent."""
        if not clips:
            return
        segments, _ = self.pipeline.transcribe(
            samples,
            language=self.language,
            beam_size=self.beam_size,
            clip_timestamps=[{"start": s, "end": e} for s, e in clips],
            vad_filter=False,  # speech was found already, per channel
            word_timestamps=True,
            batch_size=BATCH_SIZE,
            initial_prompt=self.prompt if prompt is WhisperTranscriber._PROMPT else prompt,
            # Greedy/beam decoding only: sampling would make a backfill differ from the night it replaces.
            temperature=0.0,
        )
        for segment in segments:
            clip = next((c for c in clips if c[0] - 0.01 <= segment.start < c[1]), clips[-1])
            if segment.no_speech_prob > NO_SPEECH_PROB and segment.avg_logprob < NO_SPEECH_LOGPROB:
                log.info("dropped the clip at %.1f s judged silent (no-speech %.2f, %d characters)",
                         clip[0], segment.no_speech_prob, len(segment.text))
                continue
            yield clip, segment

    @staticmethod
    def _words(segment) -> list[tuple[float, float, str, float]]:
        own = [(w.start, w.end, w.word.strip(), w.probability) for w in (segment.words or []) if w.word.strip()]
        if segment.compression_ratio > LOOP_COMPRESSION_RATIO:
            kept = drop_loops([w[2] for w in own])
            log.info("dropped %d repeated words at %.1f s", len(own) - len(kept), segment.start)
            own = [own[i] for i in kept]
        return own

    def transcribe(self, recording: Recording, audio: CallAudio) -> Transcript:
        speech = {p: self.channel_speech(audio, p) for p in ("AGENT", "CUSTOMER")}  # type: ignore[arg-type]
        per: dict[str, list[Word]] = {"AGENT": [], "CUSTOMER": []}
        for stream in pack_streams(speech, piece_audio(audio, speech), max_windows=self.group_windows):  # type: ignore[arg-type]
            for begin, end, text, prob in self.decode(stream):
                participant, b, e = stream.place(begin, end)
                own = per[participant]
                if own and not any(ch.isalnum() for ch in text):
                    # A lone mark ("-", "..."): glue it to the word before, as Transcribe's punctuation items are.
                    own[-1] = own[-1].glued(text)
                    continue
                # Plain floats: numpy's round() differs from Python's at the last digit, and both engines must agree.
                own.append(Word(participant, round(float(b), 3), round(float(e), 3), text, round(float(prob), 4)))
        words = [w for p in ("AGENT", "CUSTOMER") for w in sorted(per[p], key=lambda w: w.begin_s)]
        return Transcript(words=words, language_code=self.language_code, engine=self.name)
