"""The custom vocabulary's effect (docs/speech.md, "Custom vocabulary"): with and without, on the sample calls
and on the held-out calls. Part of ``make bench``; alone: ``python bench/vocabulary.py [none|prompt|hotwords ...]``.

For each mode (no vocabulary; the vocabulary as the pipeline uses it: each window decoded with the phrases as
faster-whisper's ``initial_prompt`` and without, the phrases' words taken from the first; the same with
``hotwords`` in the prompted decode, kept here only to compare) the pipeline runs over the sets in one process
(one worker, one CPU thread): the sample calls with ``vocabulary/sample.txt``; the held-out calls with that
same file (names they never say: the harm a vocabulary does to other speech) and with their own names
(``tests/fixtures/holdout/vocabulary.txt``). Measured for each: word error rate per side against the
scripts, the counted phrases' occurrences in the scripts and how many the transcript has, and the
speech-to-text time (wall; see docs/speech.md for CPU time, steadier on a shared machine).
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from pipeline.steps.discovery import discover_local  # noqa: E402
from pipeline.steps.run import process_recordings  # noqa: E402
from pipeline.settings import SAMPLES_DIR, Settings  # noqa: E402
from pipeline.steps.vocabulary import load_vocabulary  # noqa: E402
from tests.wer import normalise, phrase_hits, wer  # noqa: E402

SAMPLE_VOCABULARY = ROOT / "vocabulary" / "sample.txt"
HOLDOUT = ROOT / "tests" / "fixtures" / "holdout"
HOLDOUT_VOCABULARY = HOLDOUT / "vocabulary.txt"  # the held-out calls' own brands and agents
# set: (recordings, day, the vocabulary sent to Whisper, the vocabulary whose phrases are counted)
SETS = {"sample calls": (SAMPLES_DIR, date(2026, 11, 22), SAMPLE_VOCABULARY, SAMPLE_VOCABULARY),
        "held-out calls, sample vocabulary": (HOLDOUT, date(2026, 11, 19), SAMPLE_VOCABULARY, HOLDOUT_VOCABULARY),
        "held-out calls, their own names": (HOLDOUT, date(2026, 11, 19), HOLDOUT_VOCABULARY, HOLDOUT_VOCABULARY)}
MODES = ("none", "prompt", "hotwords")


def _as_hotwords() -> None:
    """Send the vocabulary as ``hotwords`` instead of ``initial_prompt`` (this process only: one worker)."""
    from faster_whisper import BatchedInferencePipeline

    original = BatchedInferencePipeline.transcribe

    def transcribe(self, audio, *args, initial_prompt=None, **kwargs):
        return original(self, audio, *args, hotwords=initial_prompt, **kwargs)

    BatchedInferencePipeline.transcribe = transcribe


def measure(mode: str, model: str = "base", beam: int = 1, sets: dict | None = None) -> dict:
    """One mode over the sets (default :data:`SETS`). Without a vocabulary, sets of the same recordings
    counting the same phrases are one decode."""
    if mode == "hotwords":
        _as_hotwords()
    out = {"mode": mode, "model": model, "beam": beam, "sets": {}}
    done: dict = {}
    for name, (source, day, vocabulary, counted) in (sets or SETS).items():
        phrases = load_vocabulary(counted).phrases
        settings = Settings(source=str(source), lake=str(HERE / "vocabulary-lake"), whisper_model=model,
                            whisper_beam_size=beam, workers=1,
                            vocabulary=None if mode == "none" else str(vocabulary))
        if mode == "none" and (source, counted) in done:
            out["sets"][name] = done[(source, counted)]
            continue
        truth = {c["contact_id"]: c["turns"] for c in json.loads((source / "truth.json").read_text())}
        result = process_recordings(settings, discover_local(source, day), day=day)
        assert not result.failures, result.failures
        row: dict = {"seconds": result.timings.get("transcribe", 0.0), "audio_s": 0.0}
        said = heard = 0
        for side in ("AGENT", "CUSTOMER"):
            errors = words = 0.0
            for cid, script in truth.items():
                reference = " ".join(t["text"] for t in script if t["participant"] == side)
                hypothesis = " ".join(t["text"] for t in sorted(result.turns, key=lambda t: t["turn_index"])
                                      if t["contact_id"] == cid and t["participant"] == side)
                n = len(normalise(reference))
                errors += wer(reference, hypothesis) * n
                words += n
                s, h = phrase_hits(reference, hypothesis, phrases)
                said, heard = said + s, heard + h
            row[f"wer_{side.lower()}"] = errors / words
        row["phrases_said"], row["phrases_heard"] = said, heard
        row["audio_s"] = sum(c["duration_s"] for c in json.loads((source / "truth.json").read_text()))
        out["sets"][name] = done[(source, counted)] = row
    return out


ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds/en")  # Debian: asterisk-core-sounds-en-wav (CC BY-SA 3.0)
ASTERISK_TEXTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")  # asterisk-core-sounds-en
HUMAN_PROMPTS = 96


def human(mode: str, prompts: int = HUMAN_PROMPTS) -> dict | None:
    """Real human speech: Asterisk's recorded 8 kHz prompts (one professional voice) with their texts, read 12 to a
    channel 0.8 s apart (the other channel silent), through the pipeline's transcriber; None without the packages.

    The first ``prompts`` prompts by name that have at least six words and no digits in their text. CPU time of
    the speech-to-text is measured (steadier than wall time on a shared machine).
    """
    import gzip
    import re
    import time

    import numpy as np
    import soundfile as sf

    from pipeline.adapters.whisper import WhisperTranscriber
    from pipeline.steps.audio import CallAudio

    if not (ASTERISK_SOUNDS.is_dir() and ASTERISK_TEXTS.is_file()):
        return None
    if mode == "hotwords":
        _as_hotwords()
    texts = {}
    for line in gzip.open(ASTERISK_TEXTS, "rt"):
        key, _, text = line.partition(":")
        text = text.strip()
        if line.startswith(";") or not text or "[" in text or "/" in key or re.search(r"\d", text):
            continue
        if len(normalise(text)) >= 6 and (ASTERISK_SOUNDS / f"{key}.wav").exists():
            texts[key] = text
    keys = sorted(texts)[:prompts]
    whisper = WhisperTranscriber("base", cpu_threads=1,
                                 prompt=None if mode == "none" else load_vocabulary(SAMPLE_VOCABULARY).prompt)
    errors = words = 0.0
    cpu = 0.0
    for i in range(0, len(keys), 12):
        group = keys[i:i + 12]
        parts = []
        for key in group:
            audio, rate = sf.read(ASTERISK_SOUNDS / f"{key}.wav", dtype="float32", always_2d=True)
            assert rate == 8000, (key, rate)
            parts += [audio[:, 0], np.zeros(int(0.8 * rate), np.float32)]
        agent = np.concatenate(parts)
        call = CallAudio(agent, np.zeros_like(agent), sample_rate=8000, agent_channel=1)
        started = time.process_time()
        transcript = whisper.transcribe(None, call)  # type: ignore[arg-type]
        cpu += time.process_time() - started
        reference = " ".join(texts[k] for k in group)
        n = len(normalise(reference))
        errors += wer(reference, " ".join(w.text for w in transcript.words if w.participant == "AGENT")) * n
        words += n
    return {"mode": mode, "prompts": len(keys), "words": int(words), "wer": errors / words, "cpu_s": cpu}


def human_table(runs: list[dict | None]) -> str:
    label = {"none": "none", "prompt": "names from `initial_prompt` ← used",
             "hotwords": "names from `hotwords` (compared, not used)"}
    if not runs or runs[0] is None:
        return ("Real human speech: not measured (needs Debian's asterisk-core-sounds-en-wav and "
                "asterisk-core-sounds-en).")
    lines = [f"Real human speech, {runs[0]['prompts']} Asterisk prompts ({runs[0]['words']} words), sample vocabulary:",
             "", "| vocabulary | WER | speech-to-text CPU time |", "|---|---|---|"]
    lines += [f"| {label[r['mode']]} | {r['wer']:.3f} | {r['cpu_s']:.1f} s |" for r in runs if r]
    return "\n".join(lines)


def table(runs: list[dict]) -> str:
    lines = ["| set | vocabulary | WER agent | WER customer | vocabulary phrases heard | their error rate | "
             "speech-to-text time |", "|---|---|---|---|---|---|---|"]
    label = {"none": "none", "prompt": "names from `initial_prompt` ← used",
             "hotwords": "names from `hotwords` (compared, not used)"}
    for name in SETS:
        for run in runs:
            r = run["sets"][name]
            rate = f"{1 - r['phrases_heard'] / r['phrases_said']:.2f}" if r["phrases_said"] else "— (none said)"
            lines.append(f"| {name} | {label[run['mode']]} | {r['wer_agent']:.3f} | {r['wer_customer']:.3f} | "
                         f"{r['phrases_heard']} of {r['phrases_said']} | {rate} | {r['seconds']:.1f} s |")
    return "\n".join(lines)


def run_all(modes=MODES) -> str:
    """Each mode in a fresh process (a monkeypatch for ``hotwords`` stays in its process): the two tables."""
    import subprocess

    def child(*args: str):
        done = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
        return json.loads(done.stdout.strip().splitlines()[-1])

    runs = [child("one", mode) for mode in modes]
    people = [child("human", mode) for mode in modes]
    return table(runs) + "\n\n" + human_table(people)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "one":
        print(json.dumps(measure(sys.argv[2], *sys.argv[3:4])))
    elif len(sys.argv) > 2 and sys.argv[1] == "human":
        print(json.dumps(human(sys.argv[2])))
    else:
        print(run_all(sys.argv[1:] or MODES))
