"""make bench: aftercall end to end against bare faster-whisper, on the same audio and model settings.

Builds a corpus of at least 20 minutes of stereo 8 kHz calls (variants of the bundled
sample calls: each gets its own gain, noise and contact id), then measures

1. the pipeline (discover, read, decode, voice activity, metrics, Whisper on both
   channels, turns, VADER) with ``--workers`` = CPU count;
2. bare faster-whisper transcribing the same channels with the same model settings,
   in the same number of worker processes, one model per worker;
3. the pipeline without speech-to-text, for the non-speech stages alone.

Prints a markdown table (paste it into the README) and writes it to bench/results.md.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np
import soundfile as sf

from pipeline.discovery import discover_local
from pipeline.run import process_recordings
from pipeline.settings import SAMPLES_DIR, Settings

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
DAY = date(2026, 11, 20)
MIN_AUDIO_S = 20 * 60
NON_SPEECH = ("read", "decode", "acoustics", "turns", "sentiment")


def build_corpus() -> float:
    """Variants of the sample calls until the corpus holds MIN_AUDIO_S of audio; returns its length."""
    folder = CORPUS / "connect" / "bench" / "CallRecordings" / f"{DAY:%Y/%m/%d}"
    shutil.rmtree(CORPUS, ignore_errors=True)
    folder.mkdir(parents=True)
    samples = sorted(SAMPLES_DIR.rglob("*.wav"))
    rng = np.random.default_rng(2026)
    total, n = 0.0, 0
    while total < MIN_AUDIO_S:
        audio, rate = sf.read(samples[n % len(samples)], dtype="float32", always_2d=True)
        audio = audio * rng.uniform(0.6, 1.3, size=(1, 2)) + rng.normal(0, 0.002, audio.shape)
        name = f"bench{n:04d}-0000-4000-8000-000000000000_{DAY:%Y%m%d}T{8 + n // 60:02d}:{n % 60:02d}_UTC.wav"
        sf.write(folder / name, np.clip(audio, -1, 1), rate, subtype="PCM_16")
        total += len(audio) / rate
        n += 1
    return total


# --- bare engine: what a hand-written script around faster-whisper would do -------------
_model = None


def _bare_init(model_path: str, beam_size: int) -> None:
    global _model
    from faster_whisper import WhisperModel

    _model = (WhisperModel(model_path, device="cpu", compute_type="int8", cpu_threads=1), beam_size)


def _bare_one(path: str) -> int:
    from faster_whisper.audio import decode_audio

    model, beam = _model
    words = 0
    for channel in decode_audio(path, sampling_rate=16000, split_stereo=True):
        segments, _ = model.transcribe(channel, language="en", beam_size=beam, vad_filter=True,
                                       word_timestamps=True, condition_on_previous_text=False)
        words += sum(len(s.words or []) for s in segments)
    return words


def bare(paths: list[str], workers: int, beam_size: int) -> float:
    from pipeline.adapters.whisper import resolve_model

    started = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_bare_init,
                             initargs=(resolve_model("bundled"), beam_size)) as pool:
        list(pool.map(_bare_one, paths))
    return time.perf_counter() - started


def main() -> None:
    workers = os.cpu_count() or 1
    audio_s = build_corpus()
    settings = Settings(source=str(CORPUS), lake=str(HERE / "corpus-lake"), workers=workers)
    recordings = discover_local(CORPUS, DAY)
    print(f"corpus: {len(recordings)} calls, {audio_s / 60:.1f} min of stereo 8 kHz audio, {workers} workers",
          file=sys.stderr)

    started = time.perf_counter()
    result = process_recordings(settings, recordings, day=DAY)
    pipeline_wall = time.perf_counter() - started
    assert not result.failures, result.failures
    peak_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    bare_wall = bare([r.uri for r in recordings], workers, settings.whisper_beam_size)

    acoustic = process_recordings(settings.model_copy(update={"transcribe": False, "workers": 1}), recordings, day=DAY)
    non_speech_s = sum(result.timings.get(s, 0.0) for s in NON_SPEECH)

    rows = [
        ("corpus", f"{len(recordings)} calls, {audio_s / 60:.1f} min stereo 8 kHz"),
        ("workers", str(workers)),
        ("pipeline wall time", f"{pipeline_wall:.1f} s"),
        ("pipeline audio ÷ wall", f"{audio_s / pipeline_wall:.1f}× real time (target ≥ 20×)"),
        ("bare faster-whisper wall time", f"{bare_wall:.1f} s ({audio_s / bare_wall:.1f}× real time)"),
        ("pipeline ÷ bare engine", f"{pipeline_wall / bare_wall:.3f} (target ≤ 1.10)"),
        *[(f"stage: {stage}", f"{seconds:.2f} s summed over workers")
          for stage, seconds in sorted(result.timings.items(), key=lambda kv: -kv[1])],
        ("non-speech stages, in the full run", f"{audio_s / non_speech_s:.0f}× real time (target ≥ 500×)"),
        ("non-speech stages alone, 1 process", f"{audio_s / acoustic.wall_s:.0f}× real time ({acoustic.wall_s:.2f} s)"),
        ("peak RSS per worker", f"{peak_rss_mb:.0f} MB (target ≤ 1536 MB)"),
    ]
    table = "| measure | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)
    (HERE / "results.md").write_text(table + "\n")
    print(table)
    shutil.rmtree(HERE / "corpus-lake", ignore_errors=True)


if __name__ == "__main__":
    main()
