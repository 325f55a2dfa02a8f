"""Generate the bundled sample calls with real speech synthesis.

Run at development time only (needs Debian's ``espeak-ng`` and ``sox``)::

    python scripts/make_sample_calls.py

Each call is a script of turns. Every utterance is spoken by espeak-ng, trimmed of
leading and trailing silence with sox, resampled to 8 kHz and placed on its
participant's channel: Amazon Connect's layout, customer on the left (channel 0),
agent on the right (channel 1). The exact placement of every turn is written to
``pipeline/samples/truth.json`` so tests can check metrics and transcripts
against what was really said.

Timing of a turn is either ``gap`` seconds after the previous turn ended, or
``cut_in`` seconds after the previous turn *started* (an interruption: the
previous speaker keeps talking underneath).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "pipeline" / "samples"
DAY_DIR = OUT / "connect" / "acme-demo" / "CallRecordings" / "2026" / "11" / "22"
RATE = 8000
VOICES = {"AGENT": ("en-us+f3", 165), "CUSTOMER": ("en-gb-x-rp+m3", 155)}
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


def speak(text: str, voice: str, speed: int, tmp: Path) -> np.ndarray:
    """Synthesise ``text`` and return it trimmed of silence, mono float at 8 kHz."""
    raw, trimmed = tmp / "raw.wav", tmp / "trim.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text], check=True)
    subprocess.run(
        ["sox", str(raw), "-r", str(RATE), "-b", "16", str(trimmed),
         "silence", "1", "0.02", "-50d", "reverse", "silence", "1", "0.02", "-50d", "reverse"],
        check=True,
    )
    audio, rate = sf.read(trimmed, dtype="float32")
    assert rate == RATE
    return audio


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


def build(call: dict, tmp: Path) -> dict:
    placed, stereo = place(call, tmp)
    # a faint noise floor, as on a real line, so voice activity is not trivially "non-zero"
    rng = np.random.default_rng(int(call["contact_id"][:8], 16))
    stereo += rng.normal(0, 0.0015, stereo.shape).astype("float32")
    return save(call, stereo, placed)


def main() -> None:
    write_all(CALLS, build)


if __name__ == "__main__":
    main()
