"""make bench: accuracy and speed of every offline model setting, and the pipeline against bare faster-whisper.

Builds a corpus of at least 20 minutes of stereo 8 kHz calls (variants of the bundled
sample calls: each gets its own gain, noise and contact id; their words are the samples'
scripts), then, each in a fresh process so peak memory is its own:

1. for each model x beam setting, the whole pipeline (discover, read, decode, acoustics,
   speech-to-text on both channels, turns, VADER) with ``workers`` = CPU count: word error
   rate per side against the scripts, x real time (corpus audio / wall time), peak RSS of a worker;
2. bare faster-whisper, a hand-written loop (each channel through ``model.transcribe`` with
   VAD and word timestamps) with the default model and beam in as many worker processes;
3. the pipeline without speech-to-text, for the non-speech stages alone;
4. the custom vocabulary (``bench/vocabulary.py``): the sample calls and the held-out calls without one,
   with ``vocabulary/sample.txt`` as the pipeline uses it (names from ``initial_prompt``) and with ``hotwords``:
   word error rates, the vocabulary phrases heard, speech-to-text time.

Prints markdown tables (docs/development.md shows them) and writes them to bench/results.md.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from pipeline.steps.discovery import discover_local  # noqa: E402
from pipeline.steps.run import process_recordings  # noqa: E402
from pipeline.settings import SAMPLES_DIR, Settings  # noqa: E402
from tests.wer import normalise, wer  # noqa: E402

sys.path.insert(0, str(HERE))
import vocabulary  # noqa: E402  (bench/vocabulary.py)

CORPUS = HERE / "corpus"
DAY = date(2026, 11, 20)
MIN_AUDIO_S = 20 * 60
NON_SPEECH = ("read", "decode", "acoustics", "turns", "sentiment")
SETTINGS = [("tiny.en", 1), ("tiny.en", 5), ("base", 1), ("base", 5)]
TARGET_X_RT = 25.0


def build_corpus() -> None:
    """Variants of the sample calls until the corpus holds MIN_AUDIO_S; truth.json maps each to its script."""
    folder = CORPUS / "connect" / "bench" / "CallRecordings" / f"{DAY:%Y/%m/%d}"
    shutil.rmtree(CORPUS, ignore_errors=True)
    folder.mkdir(parents=True)
    scripts = {c["file"]: c for c in json.loads((SAMPLES_DIR / "truth.json").read_text())}
    samples = sorted(SAMPLES_DIR.rglob("*.wav"))
    rng = np.random.default_rng(2026)
    total, n, truth = 0.0, 0, {}
    while total < MIN_AUDIO_S:
        audio, rate = sf.read(samples[n % len(samples)], dtype="float32", always_2d=True)
        audio = audio * rng.uniform(0.6, 1.3, size=(1, 2)) + rng.normal(0, 0.002, audio.shape)
        cid = f"bench{n:04d}-0000-4000-8000-000000000000"
        sf.write(folder / f"{cid}_{DAY:%Y%m%d}T{8 + n // 60:02d}:{n % 60:02d}_UTC.wav", np.clip(audio, -1, 1), rate,
                 subtype="PCM_16")
        truth[cid] = scripts[samples[n % len(samples)].name]["turns"]
        total += len(audio) / rate
        n += 1
    (CORPUS / "truth.json").write_text(json.dumps({"audio_s": total, "calls": truth}))


def word_error_rates(turns: list[dict], truth: dict) -> dict[str, float]:
    """Word error rate per side over the whole corpus (errors / reference words)."""
    rates = {}
    for side in ("AGENT", "CUSTOMER"):
        errors = words = 0.0
        for cid, script in truth.items():
            reference = " ".join(t["text"] for t in script if t["participant"] == side)
            said = " ".join(t["text"] for t in sorted(turns, key=lambda t: t["turn_index"])
                            if t["contact_id"] == cid and t["participant"] == side)
            n = len(normalise(reference))
            errors += wer(reference, said) * n
            words += n
        rates[side] = errors / words
    return rates


def one_setting(model: str, beam: int) -> dict:
    """The pipeline over the corpus with one model setting (run in its own process)."""
    truth = json.loads((CORPUS / "truth.json").read_text())
    settings = Settings(source=str(CORPUS), lake=str(HERE / "corpus-lake"), whisper_model=model,
                        whisper_beam_size=beam)
    recordings = discover_local(CORPUS, DAY)
    started = time.perf_counter()
    result = process_recordings(settings, recordings, day=DAY)
    wall = time.perf_counter() - started
    assert not result.failures, result.failures
    rates = word_error_rates(result.turns, truth["calls"])
    return {"model": model, "beam": beam, "wer_agent": rates["AGENT"], "wer_customer": rates["CUSTOMER"],
            "wall_s": wall, "x_rt": truth["audio_s"] / wall, "workers": settings.workers,
            "rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "timings": result.timings, "calls": len(recordings)}


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
                                       word_timestamps=True, condition_on_previous_text=False, temperature=0.0)
        words += sum(len(s.words or []) for s in segments)
    return words


def bare(model: str, beam: int) -> dict:
    from pipeline.adapters.whisper_models import resolve_model

    truth = json.loads((CORPUS / "truth.json").read_text())
    paths = [r.uri for r in discover_local(CORPUS, DAY)]
    workers = os.cpu_count() or 1
    started = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_bare_init,
                             initargs=(resolve_model(model), beam)) as pool:
        list(pool.map(_bare_one, paths))
    wall = time.perf_counter() - started
    return {"wall_s": wall, "x_rt": truth["audio_s"] / wall}


def non_speech() -> dict:
    settings = Settings(source=str(CORPUS), lake=str(HERE / "corpus-lake"), transcribe=False, workers=1)
    result = process_recordings(settings, discover_local(CORPUS, DAY), day=DAY)
    return {"wall_s": result.wall_s}


def _in_child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from pipeline.settings import Settings as S

    build_corpus()
    truth = json.loads((CORPUS / "truth.json").read_text())
    audio_s = truth["audio_s"]
    print(f"corpus: {len(truth['calls'])} calls, {audio_s / 60:.1f} min of stereo 8 kHz audio", file=sys.stderr)
    runs = []
    for model, beam in SETTINGS:
        print(f"  pipeline, {model} beam {beam} ...", file=sys.stderr, flush=True)
        runs.append(_in_child("one", model, str(beam)))
    default = S()
    print(f"  bare faster-whisper, {default.whisper_model} beam {default.whisper_beam_size} ...", file=sys.stderr)
    bare_run = _in_child("bare", default.whisper_model, str(default.whisper_beam_size))
    acoustic = _in_child("non-speech")
    shutil.rmtree(HERE / "corpus-lake", ignore_errors=True)
    print("  custom vocabulary: none, initial_prompt, hotwords ...", file=sys.stderr, flush=True)
    vocabulary_text = vocabulary.run_all()
    shutil.rmtree(HERE / "vocabulary-lake", ignore_errors=True)

    fast_enough = [r for r in runs if r["x_rt"] >= TARGET_X_RT]
    best = min(fast_enough, key=lambda r: r["wer_agent"] + r["wer_customer"]) if fast_enough else None
    table = ["| model | beam | WER agent | WER customer | × real time | peak RSS per worker |", "|---|---|---|---|---|---|"]
    for r in runs:
        mark = " **(most accurate ≥ 25×)**" if r is best else ""
        mark += " ← default" if (r["model"], r["beam"]) == (default.whisper_model, default.whisper_beam_size) else ""
        table.append(f"| {r['model']}{mark} | {r['beam']} | {r['wer_agent']:.3f} | {r['wer_customer']:.3f} | "
                     f"{r['x_rt']:.1f}× | {r['rss_mb']:.0f} MB |")
    mine = next(r for r in runs if (r["model"], r["beam"]) == (default.whisper_model, default.whisper_beam_size))
    non_speech_s = sum(mine["timings"].get(s, 0.0) for s in NON_SPEECH)
    rows = [
        ("corpus", f"{mine['calls']} calls, {audio_s / 60:.1f} min stereo 8 kHz (sample-call variants)"),
        ("workers", str(mine["workers"])),
        ("default setting", f"{default.whisper_model}, beam {default.whisper_beam_size}"),
        ("pipeline wall time", f"{mine['wall_s']:.1f} s ({mine['x_rt']:.1f}× real time, target ≥ {TARGET_X_RT:.0f}×)"),
        ("bare faster-whisper loop, same model and beam", f"{bare_run['wall_s']:.1f} s ({bare_run['x_rt']:.1f}× real time)"),
        ("pipeline throughput ÷ bare loop's", f"{mine['x_rt'] / bare_run['x_rt']:.2f} (target ≥ 1.00)"),
        *[(f"stage: {stage}", f"{seconds:.2f} s summed over workers")
          for stage, seconds in sorted(mine["timings"].items(), key=lambda kv: -kv[1])],
        ("non-speech stages, in the full run", f"{audio_s / non_speech_s:.0f}× real time (target ≥ 500×)"),
        ("non-speech stages alone, 1 process", f"{audio_s / acoustic['wall_s']:.0f}× real time"),
    ]
    text = ("### Accuracy and speed of each setting\n\n" + "\n".join(table)
            + "\n\n### The default setting in detail\n\n| measure | value |\n|---|---|\n"
            + "\n".join(f"| {k} | {v} |" for k, v in rows) + "\n"
            + "\n### Custom vocabulary (`vocabulary/sample.txt`), base, beam 1, one worker\n\n"
            + vocabulary_text + "\n")
    (HERE / "results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "one":
        print(json.dumps(one_setting(sys.argv[2], int(sys.argv[3]))))
    elif len(sys.argv) > 1 and sys.argv[1] == "bare":
        print(json.dumps(bare(sys.argv[2], int(sys.argv[3]))))
    elif len(sys.argv) > 1 and sys.argv[1] == "non-speech":
        print(json.dumps(non_speech()))
    else:
        main()
