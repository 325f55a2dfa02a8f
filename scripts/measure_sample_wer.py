"""Word error rate of the default local engine on synthetic voices and on a human voice, measured alike.

Run at development time only (needs Debian's ``espeak-ng``, ``sox``, and for the human set
``asterisk-core-sounds-en-wav`` + ``asterisk-core-sounds-en``)::

    python scripts/measure_sample_wer.py [--sets espeak,festival,holdout,human]

Every set goes through ``run_day`` with default settings (Whisper base, beam 1, two workers) and
is scored with ``tests/wer.py`` against its scripts, pooled over the set's words per side:

- ``espeak``: the sample day's scripts voiced with espeak-ng as the bundled samples were until
  2026-12 (``make_sample_calls.py --espeak``, written to a temporary folder);
- ``festival``: the bundled sample day (Festival HTS slt + Flite rms, telephone band-pass);
- ``holdout``: ``tests/fixtures/holdout`` (espeak-ng voices, band-pass, line noise, level changes);
- ``human``: Allison Smith's recorded Asterisk prompts (a professional voice recorded for phone
  lines, 8 kHz; CC BY-SA 3.0), the prompts of six or more words in file order laid out as four
  calls of alternating turns on the two channels, band-pass and noise floor as the samples. A
  read prompt is cleaner than a spontaneous caller: this is a floor for human speech, not a call centre.

Nothing here is committed audio; the Asterisk recordings are read from the installed package.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import sys
import tempfile
from datetime import date
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]
import make_sample_calls as msc  # noqa: E402

from pipeline.adapters.duckdb_engine import query  # noqa: E402
from pipeline.steps.run import run_day  # noqa: E402
from pipeline.settings import SAMPLES_DIR, Settings  # noqa: E402
from tests.wer import normalise, wer  # noqa: E402

ASTERISK_WAV = Path("/usr/share/asterisk/sounds/en")
ASTERISK_TEXT = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
HUMAN_DAY = date(2026, 11, 21)


def espeak_day(out: Path) -> tuple[Path, date]:
    day_dir = out / msc.DAY_DIR.relative_to(msc.OUT)
    msc.write_all(msc.CALLS, lambda c, t: msc.build(c, t, msc.ESPEAK_VOICES, day_dir, band=False), day_dir, out)
    return out, date(2026, 11, 22)


def human_day(out: Path) -> tuple[Path, date]:
    """Four calls of recorded prompts, alternating channels, 0.6 s apart."""
    prompts = {}
    for line in gzip.open(ASTERISK_TEXT, "rt", encoding="utf-8", errors="replace"):
        name, _, text = line.partition(":")
        text = text.strip()
        if (ASTERISK_WAV / f"{name.strip()}.wav").exists() and "[" not in text and len(text.split()) >= 6:
            prompts[text] = ASTERISK_WAV / f"{name.strip()}.wav"
    texts = list(prompts)[:96]

    def speak(text, voice, speed, tmp):  # the recording, trimmed of its leading and trailing silence
        return msc._trim_to_8k(prompts[text], tmp / "trim.wav")

    msc.speak = speak  # place() voices each turn through the module's speak()
    calls = []
    for i in range(4):
        chunk = texts[i::4]
        calls.append({"contact_id": f"00000000-0000-4000-8000-00000000000{i}", "started": f"20261121T1{i}:00",
                      "lead_in": 0.5, "tail": 1.0,
                      "turns": [("AGENT" if j % 2 == 0 else "CUSTOMER", t, 0.6) for j, t in enumerate(chunk)]})
    day_dir = out / "connect" / "human" / "CallRecordings" / "2026" / "11" / "21"
    recorded = {"AGENT": ("asterisk", 0), "CUSTOMER": ("asterisk", 0)}  # read by the speak() above
    msc.write_all(calls, lambda c, t: msc.build(c, t, recorded, day_dir), day_dir, out)
    return out, HUMAN_DAY


def score(source: Path, day: date) -> dict:
    truth = json.loads((source / "truth.json").read_text())
    lake = Path(tempfile.mkdtemp(prefix="wer-lake-"))
    result = run_day(Settings(source=str(source), lake=str(lake), workers=2), day)
    assert not result.failures, result.failures
    cols, rows = query("select contact_id, participant, begin_s, end_s, text from turns order by contact_id, begin_s",
                       lake)
    turns = [dict(zip(cols, r, strict=True)) for r in rows]
    out = {"minutes": sum(c["duration_s"] for c in truth) / 60}
    for side in ("AGENT", "CUSTOMER"):
        errors = words = 0.0
        for call in truth:
            ref = " ".join(t["text"] for t in call["turns"] if t["participant"] == side)
            hyp = " ".join(t["text"] for t in turns
                           if t["contact_id"] == call["contact_id"] and t["participant"] == side)
            n = len(normalise(ref))
            errors += wer(ref, hyp) * n
            words += n
        out[side] = (errors / words, int(words))
    scripted = [(c["contact_id"], s) for c in truth for s in c["turns"]]
    out["edges"] = (sum(any(t["contact_id"] == cid and t["participant"] == s["participant"]
                            and abs(t["begin_s"] - s["begin_s"]) <= 0.3 and abs(t["end_s"] - s["end_s"]) <= 0.3
                            for t in turns) for cid, s in scripted), len(scripted))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="espeak,festival,holdout,human")
    args = parser.parse_args()
    os.environ["SOX_OPTS"] = "-D"
    print("| set | voices | minutes | WER agent (words) | WER customer (words) | turns with both edges within 0.3 s |")
    print("|---|---|---|---|---|---|")
    for name in args.sets.split(","):
        with tempfile.TemporaryDirectory() as d:
            source, day, voices = {
                "espeak": lambda: (*espeak_day(Path(d)), "espeak-ng en-us+f3 / en-gb-x-rp+m3"),
                "festival": lambda: (SAMPLES_DIR, date(2026, 11, 22), "Festival HTS slt / Flite rms"),
                "holdout": lambda: (ROOT / "tests" / "fixtures" / "holdout", date(2026, 11, 19), "espeak-ng, 8 voices"),
                "human": lambda: (*human_day(Path(d)), "recorded human (Asterisk prompts)"),
            }[name]()
            r = score(source, day)
            print(f"| {name} | {voices} | {r['minutes']:.1f} | {r['AGENT'][0]:.3f} ({r['AGENT'][1]}) | "
                  f"{r['CUSTOMER'][0]:.3f} ({r['CUSTOMER'][1]}) | {r['edges'][0]} of {r['edges'][1]} |", flush=True)


if __name__ == "__main__":
    main()
