"""Generate the held-out re-voiced calls used only to measure speech-to-text word error rate.

Run at development time only (needs Debian's ``espeak-ng`` and ``sox``)::

    python scripts/make_holdout_calls.py

Nobody tunes on these calls: they exist so a WER figure is measured on speech the model
and its settings were never fitted to. They are built like the bundled samples
(``scripts/make_sample_calls.py``: same turn timing, same channel layout, same truth.json
format) but are written fresh (retail-bank and card-services calls), use voices and speeds
the samples never use, and go through a simulated phone line on each channel: a per-turn
level change (the caller moves the handset), a telephone band-pass (``sox sinc 300-3400``)
and a low noise floor. All randomness is seeded and sox runs without dither, so two runs
give byte-identical files.

Output: ``tests/fixtures/holdout/connect/bank-demo/CallRecordings/2026/11/19/*.wav`` and
``tests/fixtures/holdout/truth.json``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_sample_calls import CHANNEL, RATE, place, save, write_all  # noqa: E402

# sox dithers with a random seed whenever it reduces bit depth (the trim step in ``speak``
# writes 16-bit); without this, runs differ by a couple of LSBs and the fixture is not
# reproducible. SOX_OPTS is read by every sox invocation, including those inside ``speak``.
os.environ["SOX_OPTS"] = "-D"

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "holdout"
DAY_DIR = OUT / "connect" / "bank-demo" / "CallRecordings" / "2026" / "11" / "19"
BAND = "300-3400"  # telephone pass band, Hz
NOISE_STD = 0.003  # line noise floor (full scale = 1.0)
TURN_GAIN = (0.6, 1.0)  # per-turn level range

A, C = "AGENT", "CUSTOMER"

CALLS: list[dict] = [
    {   # lost debit card; the agent cuts in on a long customer turn
        "contact_id": "5e7a1c39-4b2d-4f86-a1c3-9d0e2b4f6a11",
        "started": "20261119T08:41",
        "voices": {A: ("en-us+f2", 170), C: ("en-gb-scotland+m1", 155)},
        "lead_in": 0.5,
        "tail": 0.8,
        "turns": [
            (A, "Harbour Bank card services, Megan speaking. How can I help?", 0),
            (C, "Morning Megan. I think I've lost my debit card. I had it at the shops on Saturday.", 0.6),
            (A, "Sorry to hear that. Can I take your name and date of birth?", 0.5),
            (C, "It's Callum Fraser, born the third of March, nineteen eighty six.", 0.7),
            (A, "Thanks, Callum. And the last four digits of the card?", 0.5),
            (C, "I think it ends in two nine one seven.", 0.8),
            (A, "Right. I've blocked that card, so nobody can use it.", 0.6),
            (C, "Great. Has anyone spent anything on it since Saturday? Because I'd be really worried if someone had used it at a cash machine or bought something online before I noticed it was gone.", 0.5),
            (A, "I can check that for you.", ("cut_in", 5.2)),
            (A, "The last payment was forty two pounds fifteen on Saturday afternoon. Nothing since.", 0.9),
            (C, "Oh, that's a relief.", 0.5),
            (A, "I'll order a replacement. It should arrive within five working days at fourteen Kelvin Road.", 0.5),
            (C, "Brilliant, thanks for your help, Megan.", 0.6),
            (A, "You're welcome. Have a lovely day.", 0.4),
        ],
    },
    {   # disputed card transaction
        "contact_id": "a93f0d27-6c18-4e5b-8f2a-37b1c9e04d22",
        "started": "20261119T11:26",
        "voices": {A: ("en+f4", 160), C: ("en-us+m2", 172)},
        "lead_in": 0.6,
        "tail": 0.8,
        "turns": [
            (A, "Northfield Credit Union, this is Priya. Who am I speaking with?", 0),
            (C, "Hi Priya, it's Marcus Delgado. There's a charge on my credit card that I didn't make.", 0.6),
            (A, "Sorry about that, Marcus. Can you confirm your zip code and date of birth?", 0.5),
            (C, "Sure, six oh six one four, and July twenty second, nineteen ninety.", 0.7),
            (A, "Thanks, you're verified. Which transaction is it?", 0.5),
            (C, "One hundred and eighty nine dollars and ninety nine cents, to Brightline Electronics, on November the fourth.", 0.6),
            (A, "I see it. An online purchase. Do you still have your card?", 0.7),
            (C, "Yes, it's in my wallet. I've never heard of that store.", 0.5),
            (A, "Okay. I'm opening a dispute and giving you a temporary credit while we investigate.", 0.6),
            (C, "How long does the investigation usually take?", 0.6),
            (A, "Up to ten business days. We'll write to you with the outcome and replace your card.", 0.5),
            (C, "That works. Thanks so much.", 0.6),
            (A, "My pleasure, Marcus. Take care.", 0.5),
        ],
    },
    {   # mortgage payment date; the customer is put on hold
        "contact_id": "2c6e8b14-f0a7-4d39-9b5e-c41a7f2d8e33",
        "started": "20261119T14:03",
        "voices": {A: ("en-gb-x-gbclan+f5", 165), C: ("en-us-nyc+m4", 150)},
        "lead_in": 0.5,
        "tail": 0.8,
        "turns": [
            (A, "Westmoor Building Society, mortgages, Fiona speaking.", 0),
            (C, "Hi Fiona, it's Robert Okafor. Can I move my mortgage payment date?", 0.6),
            (A, "Of course. What's your mortgage account number?", 0.5),
            (C, "Yes, it's seven seven three zero, five five eight one.", 0.9),
            (A, "Your payment of one thousand two hundred and forty pounds goes out on the first. Which date suits you?", 0.6),
            (C, "The twenty eighth, please. That's when I get paid.", 0.6),
            (A, "Let me check with the team. Bear with me.", 0.5),
            (A, "Thanks for holding. Yes, the twenty eighth is fine, from January.", 6.5),
            (C, "Great. Does December's payment still go out?", 0.6),
            (A, "Yes, December the first stays the same.", 0.5),
            (C, "Okay, that makes sense.", 0.6),
            (A, "I'll post you a confirmation. Anything else?", 0.5),
            (C, "No, that's all. Thanks, Fiona.", 0.6),
        ],
    },
    {   # fraud alert, account locked; the agent cuts in on a long worried turn
        "contact_id": "e1d47a80-3b9c-4a62-b7f5-0c8e6d1a9f44",
        "started": "20261119T17:52",
        "voices": {A: ("en-us+m2", 158), C: ("en-gb+f1", 168)},
        "lead_in": 0.5,
        "tail": 0.8,
        "turns": [
            (A, "Crestview Bank fraud team, Tom speaking.", 0),
            (C, "Hello Tom. I got a text saying my account is locked, and my card keeps getting declined.", 0.6),
            (A, "Sorry about that. Your name and postcode, please?", 0.5),
            (C, "Helen Whitaker, and the postcode is B fifteen, two T T.", 0.7),
            (A, "Thanks, Helen. We locked it after two overseas payments at three in the morning.", 0.6),
            (C, "Three in the morning? That wasn't me.", 0.5),
            (A, "Understood. I'll cancel both. That's fifty six pounds and twelve pounds fifty.", 0.6),
            (C, "Good. But is the rest of my money safe? I had nearly two thousand pounds in there and I need to pay the rent on Friday, so if anything else has gone I really need to know now.", 0.6),
            (A, "Your balance is safe.", ("cut_in", 6.0)),
            (A, "Nothing else has gone. I've unlocked the account, and a new card arrives Wednesday.", 0.8),
            (C, "Thanks. Should I change my password too?", 0.5),
            (A, "Yes, please. We never ask for your PIN by text.", 0.5),
            (C, "Right. Thanks, Tom.", 0.6),
            (A, "You're welcome, Helen. Goodbye.", 0.4),
        ],
    },
]


def phone_line(mono: np.ndarray) -> np.ndarray:
    """Band-limit one channel to the telephone band with sox (raw float in and out: no dither)."""
    raw = ["-t", "f32", "-L", "-r", str(RATE), "-c", "1"]
    done = subprocess.run(["sox", "-D", *raw, "-", *raw, "-", "sinc", BAND],
                          input=mono.astype("<f4").tobytes(), capture_output=True, check=True)
    out = np.frombuffer(done.stdout, dtype="<f4")
    assert len(out) == len(mono)
    return out


def build(call: dict, tmp: Path) -> dict:
    placed, stereo = place(call, tmp, call["voices"])
    rng = np.random.default_rng(uuid.UUID(call["contact_id"]).int)
    for turn in placed:  # each utterance at its own level, as when a caller shifts the handset
        start = round(turn["begin_s"] * RATE)
        stop = start + round((turn["end_s"] - turn["begin_s"]) * RATE)
        stereo[start:stop, CHANNEL[turn["participant"]]] *= rng.uniform(*TURN_GAIN)
    for ch in range(stereo.shape[1]):
        stereo[:, ch] = phone_line(stereo[:, ch])
    stereo += rng.normal(0, NOISE_STD, stereo.shape).astype("float32")
    return save(call, stereo, placed, DAY_DIR)


def main() -> None:
    write_all(CALLS, build, DAY_DIR, OUT)


if __name__ == "__main__":
    main()
