"""Generate the bundled sample calls with real speech synthesis.

Run at development time only (needs Debian's ``festival``, ``festvox-us-slt-hts``, ``flite``
and ``sox``; ``--espeak`` needs ``espeak-ng`` instead)::

    python scripts/make_sample_calls.py [--espeak] [--out DIR]

Each call is a script of turns. Every utterance is spoken (agent: Festival's HTS voice
``cmu_us_slt_arctic_hts``; customer: Flite's ``rms``), trimmed of leading and trailing silence
with sox, resampled to 8 kHz and placed on its participant's channel: Amazon Connect's layout,
customer on the left (channel 0), agent on the right (channel 1). Each channel then goes through
a telephone band-pass (sox ``sinc 300-3400``) and gets a faint noise floor. The exact placement of
every turn is written to ``pipeline/samples/truth.json`` so tests can check metrics and
transcripts against what was really said. sox runs without dither: two runs give byte-identical
files. Voices and licences: ``pipeline/samples/README.md``.

``--espeak`` voices the day as it was until 2026-12 (espeak-ng, no band-pass), for comparison
(``scripts/measure_sample_wer.py``); ``speak`` keeps espeak-ng for the fixture scripts
(``make_holdout_calls.py``, ``make_korean_call.py``).

Timing of a turn is either ``gap`` seconds after the previous turn ended, or
``cut_in`` seconds after the previous turn *started* (an interruption: the
previous speaker keeps talking underneath).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "pipeline" / "samples"
DAY_DIR = OUT / "connect" / "acme-demo" / "CallRecordings" / "2026" / "11" / "22"
RATE = 8000
# The bundled day: Festival's HTS voice for the agent (Sarah), Flite's rms for the customer.
VOICES = {"AGENT": ("festival:cmu_us_slt_arctic_hts", 1.0), "CUSTOMER": ("flite:rms", 1.0)}
# What the day was voiced with until 2026-12 (``--espeak``): espeak-ng, kept for comparison.
ESPEAK_VOICES = {"AGENT": ("en-us+f3", 165), "CUSTOMER": ("en-gb-x-rp+m3", 155)}
SENTENCE_PAUSE_S = 0.3  # between the sentences of one festival turn
BAND = "300-3400"  # telephone pass band, Hz
NOISE_STD = 0.0015  # line noise floor (full scale = 1.0)
CHANNEL = {"CUSTOMER": 0, "AGENT": 1}

A, C = "AGENT", "CUSTOMER"

CALLS: list[dict] = [
    {
        "contact_id": "3f1c9a52-7d4e-4b8a-9c61-2a7e5d0b1c01",
        "started": "20261122T09:12",
        "lead_in": 0.6,
        "tail": 1.5,
        "turns": [
            (A, "Thank you for calling Acme Telecom. My name is Sarah. How can I help you today?", 0),
            (C, "Hi Sarah. I have a question about my latest bill. There is a charge I do not recognise.", 0.7),
            (A, "I can help with that. Could you give me your account number please?", 0.6),
            (C, "Yes, it is four five six seven, eight one two three.", 0.8),
            (A, "Thank you. Let me pull up your account. One moment please.", 0.6),
            (A, "Okay, I see it. The charge is for international roaming on the twelfth of November.", 4.5),
            (C, "Oh, right. I was in France that week. I forgot about that.", 0.9),
            (A, "No problem. Would you like me to add a travel pass for your next trip? It is cheaper.", 0.6),
            (C, "Yes please, that sounds good. Thank you for explaining.", 0.8),
            (A, "You are welcome. Is there anything else I can help you with today?", 0.6),
            (C, "No, that is all. Have a nice day.", 0.7),
        ],
    },
    {
        "contact_id": "8b2d4e61-1a3f-4c7d-b5e9-6f0a2c3d4e02",
        "started": "20261122T10:47",
        "lead_in": 0.5,
        "tail": 1.2,
        "turns": [
            (A, "Acme Telecom, this is Sarah speaking. How may I help you?", 0),
            (C, "My internet has been down for three days. This is terrible service and I am really angry.", 0.6),
            (A, "I am very sorry to hear that. Let me check the line in your area right now, it should only take a moment.", 0.5),
            (C, "I have called twice already and nobody fixed anything. This is useless.", ("cut_in", 2.4)),
            (A, "I understand, and I apologise. I can see an outage that was fixed this morning. I will reset your connection now.", 0.7),
            (C, "Fine. Let me check.", 0.8),
            (C, "Oh, it works now. The internet is back. That is great, thank you so much.", 4.0),
            (A, "Wonderful. I have also added a credit of twenty dollars to your account for the trouble.", 0.6),
            (C, "That is excellent, I really appreciate your help. You have been wonderful.", 0.7),
            (A, "Thank you for your patience. Have a great day.", 0.6),
        ],
    },
    {
        "contact_id": "c4e5f607-2b1a-4d3c-8e9f-0a1b2c3d4e03",
        "started": "20261122T13:05",
        "lead_in": 0.7,
        "tail": 1.0,
        "turns": [
            (A, "Good afternoon, Acme Telecom, Sarah speaking.", 0),
            (C, "Hello. I would like to cancel my contract because I am moving abroad next month and I will not need the phone line any more.", 0.6),
            (A, "Before you go, we have an international plan.", ("cut_in", 3.0)),
            (C, "No, thank you. I just want to cancel please.", 0.5),
            (A, "Of course. I have scheduled the cancellation for the end of the month. You will receive a confirmation email.", 0.8),
            (C, "Okay. Do I need to return the router?", 0.7),
            (A, "Yes, please send the router back within thirty days. We will email you a free postage label.", 0.6),
            (C, "Alright, I will do that. Thank you.", 0.7),
            (A, "Thank you for being our customer. Goodbye.", 0.6),
        ],
    },
    {
        "contact_id": "d9a8b7c6-5e4f-4a3b-9c2d-1e0f9a8b7c04",
        "started": "20261122T16:38",
        "lead_in": 0.5,
        "tail": 1.0,
        "turns": [
            (A, "Thank you for calling Acme Telecom. This is Sarah. How can I help?", 0),
            (C, "Hi. I would like to know the opening hours of your shop in the city centre.", 0.6),
            (A, "The city centre shop is open from nine in the morning until six in the evening, Monday to Saturday.", 0.7),
            (C, "Great. And is it open on Sunday?", 0.6),
            (A, "On Sunday it opens from ten until four.", 0.6),
            (C, "Perfect. Can I also pick up a new SIM card there?", 0.6),
            (A, "Yes, bring a photo identity document and the shop will give you a new SIM card on the spot.", 0.7),
            (C, "Perfect, thank you very much.", 0.6),
            (A, "You are welcome. Goodbye.", 0.5),
        ],
    },
]


def _trim_to_8k(raw: Path, trimmed: Path) -> np.ndarray:
    subprocess.run(
        ["sox", str(raw), "-r", str(RATE), "-b", "16", str(trimmed),
         "silence", "1", "0.02", "-50d", "reverse", "silence", "1", "0.02", "-50d", "reverse"],
        check=True,
    )
    audio, rate = sf.read(trimmed, dtype="float32")
    assert rate == RATE
    return audio


def speak(text: str, voice: str, speed: float, tmp: Path) -> np.ndarray:
    """Synthesise ``text`` and return it trimmed of silence, mono float at 8 kHz.

    ``voice`` names the synthesiser: ``festival:<voice>`` (Festival's ``text2wave``; ``speed`` is a
    duration stretch, 1.0 = the voice's own pace), ``flite:<voice>`` (Flite; same stretch), or an
    espeak-ng voice (``speed`` in words per minute), which the robustness fixtures keep.
    """
    raw, trimmed = tmp / "raw.wav", tmp / "trim.wav"
    if voice.startswith("festival:"):
        # Festival pads every sentence with 0.4-0.6 s of silence, about the 0.5 s pause the talk-time
        # detector still counts as talk; a sentence at a time, joined SENTENCE_PAUSE_S apart, makes a
        # turn's span its talk (and sounds like a person reading on, not a list of announcements).
        pause = np.zeros(round(SENTENCE_PAUSE_S * RATE), dtype="float32")
        pieces = []
        for i, sentence in enumerate(re.split(r"(?<=[.?!])\s+", text.strip())):
            script = tmp / "say.txt"
            script.write_text(sentence + "\n")
            subprocess.run(["text2wave", "-eval", f"(voice_{voice.split(':', 1)[1]})",
                            "-eval", f"(Parameter.set 'Duration_Stretch {speed})", str(script), "-o", str(raw)],
                           check=True, capture_output=True)
            pieces += ([pause] if i else []) + [_trim_to_8k(raw, trimmed)]
        return np.concatenate(pieces)
    if voice.startswith("flite:"):
        subprocess.run(["flite", "-voice", voice.split(":", 1)[1], "--setf", f"duration_stretch={speed}",
                        "-t", text, "-o", str(raw)], check=True)
    else:
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text], check=True)
    return _trim_to_8k(raw, trimmed)


def place(call: dict, tmp: Path, voices: dict = VOICES) -> tuple[list[dict], np.ndarray]:
    """Speak every turn of ``call`` and mix it onto its channel.

    Returns the turns as written to truth.json and the clean stereo float mix (no noise yet).
    """
    placed = []
    prev_begin = prev_end = None
    t = call["lead_in"]
    for participant, text, timing in call["turns"]:
        voice, speed = voices[participant]
        audio = speak(text, voice, speed, tmp)
        if prev_end is None:
            begin = t
        elif isinstance(timing, tuple):
            begin = prev_begin + timing[1]
        else:
            begin = prev_end + timing
        begin = round(begin * RATE) / RATE
        end = begin + len(audio) / RATE
        placed.append({"participant": participant, "begin_s": round(begin, 4), "end_s": round(end, 4),
                       "text": text, "interrupts": isinstance(timing, tuple), "audio": audio})
        prev_begin, prev_end = begin, max(end, prev_end or 0)
    duration = max(p["end_s"] for p in placed) + call["tail"]
    stereo = np.zeros((int(np.ceil(duration * RATE)), 2), dtype="float32")
    for p in placed:
        start = round(p["begin_s"] * RATE)
        stereo[start:start + len(p["audio"]), CHANNEL[p["participant"]]] += p.pop("audio")
    return placed, stereo


def save(call: dict, stereo: np.ndarray, placed: list[dict], day_dir: Path = DAY_DIR) -> dict:
    """Write the call as Connect names it; its truth.json entry."""
    name = f"{call['contact_id']}_{call['started']}_UTC.wav"
    sf.write(day_dir / name, np.clip(stereo, -1, 1), RATE, subtype="PCM_16")
    return {"contact_id": call["contact_id"], "file": name, "duration_s": len(stereo) / RATE, "turns": placed}


def write_all(calls: list[dict], build, day_dir: Path = DAY_DIR, out: Path = OUT) -> None:
    """Build every call into ``day_dir`` and their placements into ``out``/truth.json."""
    day_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as d:
        truth = [build(call, Path(d)) for call in calls]
    (out / "truth.json").write_text(json.dumps(truth, indent=1, ensure_ascii=False) + "\n")
    for t in truth:
        print(f"{t['file']}: {t['duration_s']:.1f} s, {len(t['turns'])} turns")


def phone_line(mono: np.ndarray) -> np.ndarray:
    """Band-limit one channel to the telephone band with sox (raw float in and out: no dither)."""
    raw = ["-t", "f32", "-L", "-r", str(RATE), "-c", "1"]
    done = subprocess.run(["sox", "-D", *raw, "-", *raw, "-", "sinc", BAND],
                          input=mono.astype("<f4").tobytes(), capture_output=True, check=True)
    out = np.frombuffer(done.stdout, dtype="<f4")
    assert len(out) == len(mono)
    return out


def build(call: dict, tmp: Path, voices: dict = VOICES, day_dir: Path = DAY_DIR, band: bool = True) -> dict:
    placed, stereo = place(call, tmp, voices)
    if band:  # a phone line carries 300-3400 Hz; HTS and Flite voices have energy well outside it
        for ch in range(stereo.shape[1]):
            stereo[:, ch] = phone_line(stereo[:, ch])
    # a faint noise floor, as on a real line, so voice activity is not trivially "non-zero"
    rng = np.random.default_rng(int(call["contact_id"][:8], 16))
    stereo += rng.normal(0, NOISE_STD, stereo.shape).astype("float32")
    return save(call, stereo, placed, day_dir)


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--espeak", action="store_true", help="voice with espeak-ng as before 2026-12 (no band-pass)")
    parser.add_argument("--out", type=Path, default=OUT, help="samples folder to write (default: pipeline/samples)")
    args = parser.parse_args()
    os.environ["SOX_OPTS"] = "-D"  # no dither: the files are the same run after run
    day_dir = args.out / DAY_DIR.relative_to(OUT)
    voices = ESPEAK_VOICES if args.espeak else VOICES
    write_all(CALLS, lambda call, tmp: build(call, tmp, voices, day_dir, band=not args.espeak), day_dir, args.out)


if __name__ == "__main__":
    main()
