"""Accuracy on calls nobody tuned on: four re-voiced bank calls (other voices, a telephone band-pass,
line noise), made by scripts/make_holdout_calls.py, run through the installed CLI with default settings.

The bars are regression guards at the level measured with the default model (see docs/speech.md for
the numbers and for the issue's stricter goal, which the offline models do not reach on these voices).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.adapters.duckdb_engine import query
from tests.wer import normalise, wer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
HOLDOUT = ROOT / "tests" / "fixtures" / "holdout"
CLI = Path(sys.executable).parent / "aftercall"
WER_MAX = {"AGENT": 0.48, "CUSTOMER": 0.62}  # measured 0.39 / 0.52 with base, beam 1 (2026-11-25)
EDGES_WITHIN_0_3_S = 0.85  # measured 52 of 54 scripted turns with both edges within 0.3 s


@pytest.fixture(scope="module")
def holdout_lake(tmp_path_factory):
    lake = tmp_path_factory.mktemp("holdout-lake")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCALL_")}
    done = subprocess.run([str(CLI), "run", "--date", "2026-11-19", "--source", str(HOLDOUT), "--lake", str(lake)],
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    return lake


def _turns(lake):
    cols, rows = query("select contact_id, participant, begin_s, end_s, text from turns order by contact_id, begin_s",
                       lake)
    return [dict(zip(cols, r, strict=True)) for r in rows]


def test_word_error_rate_per_side_on_calls_outside_the_sample_set(holdout_lake):
    truth = json.loads((HOLDOUT / "truth.json").read_text())
    turns = _turns(holdout_lake)
    for side in ("AGENT", "CUSTOMER"):
        errors = words = 0.0
        for call in truth:
            reference = " ".join(t["text"] for t in call["turns"] if t["participant"] == side)
            said = " ".join(t["text"] for t in turns if t["contact_id"] == call["contact_id"] and t["participant"] == side)
            errors += wer(reference, said) * len(normalise(reference))
            words += len(normalise(reference))
        print(f"held-out word error rate, {side}: {errors / words:.3f}")
        assert errors / words <= WER_MAX[side], side


def test_turn_edges_on_calls_outside_the_sample_set(holdout_lake):
    truth = json.loads((HOLDOUT / "truth.json").read_text())
    turns = _turns(holdout_lake)
    scripted = [(c["contact_id"], t) for c in truth for t in c["turns"]]
    near = [s for cid, s in scripted if any(
        t["contact_id"] == cid and t["participant"] == s["participant"]
        and abs(t["begin_s"] - s["begin_s"]) <= 0.3 and abs(t["end_s"] - s["end_s"]) <= 0.3 for t in turns)]
    print(f"held-out turns with both edges within 0.3 s: {len(near)} of {len(scripted)}")
    assert len(near) >= EDGES_WITHIN_0_3_S * len(scripted)
