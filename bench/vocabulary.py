"""The custom vocabulary's effect (docs/speech.md, "Custom vocabulary"): with and without, on the sample calls
and on the held-out calls. Part of ``make bench``; alone: ``python bench/vocabulary.py [none|prompt|hotwords ...]``.

For each mode (no vocabulary; the sample vocabulary as faster-whisper ``initial_prompt``, as the pipeline
sends it; the same phrases as ``hotwords``, kept here only to compare) the pipeline runs over both sets in one process (one worker,
one CPU thread, so decode times compare): word error rate per side against the scripts, the vocabulary
phrases' occurrences in the scripts and how many the transcript has, and the speech-to-text time.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from pipeline.discovery import discover_local  # noqa: E402
from pipeline.run import process_recordings  # noqa: E402
from pipeline.settings import SAMPLES_DIR, Settings  # noqa: E402
from pipeline.vocabulary import load_vocabulary  # noqa: E402
from tests.wer import normalise, phrase_hits, wer  # noqa: E402

SAMPLE_VOCABULARY = ROOT / "vocabulary" / "sample.txt"
SETS = {"sample calls": (SAMPLES_DIR, date(2026, 11, 22)),
        "held-out calls": (ROOT / "tests" / "fixtures" / "holdout", date(2026, 11, 19))}
MODES = ("none", "prompt", "hotwords")


def _as_hotwords() -> None:
    """Send the vocabulary as ``hotwords`` instead of ``initial_prompt`` (this process only: one worker)."""
    from faster_whisper import BatchedInferencePipeline

    original = BatchedInferencePipeline.transcribe

    def transcribe(self, audio, *args, initial_prompt=None, **kwargs):
        return original(self, audio, *args, hotwords=initial_prompt, **kwargs)

    BatchedInferencePipeline.transcribe = transcribe


def measure(mode: str, model: str = "base", beam: int = 1, vocabulary: Path = SAMPLE_VOCABULARY,
            counted: Path = SAMPLE_VOCABULARY) -> dict:
    """One mode over both sets: ``vocabulary`` is sent to Whisper, the phrases of ``counted`` are counted."""
    if mode == "hotwords":
        _as_hotwords()
    phrases = load_vocabulary(counted).phrases
    out = {"mode": mode, "model": model, "beam": beam, "sets": {}}
    for name, (source, day) in SETS.items():
        settings = Settings(source=str(source), lake=str(HERE / "vocabulary-lake"), whisper_model=model,
                            whisper_beam_size=beam, workers=1,
                            vocabulary=None if mode == "none" else str(vocabulary))
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
        out["sets"][name] = row
    return out


def table(runs: list[dict]) -> str:
    lines = ["| set | vocabulary | WER agent | WER customer | vocabulary phrases heard | their error rate | "
             "speech-to-text time |", "|---|---|---|---|---|---|---|"]
    label = {"none": "none", "prompt": "sample, as `initial_prompt` ← used",
             "hotwords": "sample, as `hotwords` (compared, not used)"}
    for name in SETS:
        for run in runs:
            r = run["sets"][name]
            rate = f"{1 - r['phrases_heard'] / r['phrases_said']:.2f}" if r["phrases_said"] else "— (none said)"
            lines.append(f"| {name} | {label[run['mode']]} | {r['wer_agent']:.3f} | {r['wer_customer']:.3f} | "
                         f"{r['phrases_heard']} of {r['phrases_said']} | {rate} | {r['seconds']:.1f} s |")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "one":
        print(json.dumps(measure(sys.argv[2], *sys.argv[3:4])))
    else:
        import subprocess

        runs = []
        for mode in sys.argv[1:] or MODES:
            done = subprocess.run([sys.executable, __file__, "one", mode], check=True, capture_output=True, text=True)
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(table(runs))
