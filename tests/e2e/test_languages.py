"""Other languages offline: a Korean call through the installed CLI with the multilingual model.

VADER reads English only, so a Korean call's sentiment is empty (``sentiment_engine = 'none'``),
never English-lexicon scores on Korean text. The transcript is checked for what holds on every CPU:
it is Hangul (not English, not romanised), both channels speak in the script's turns at the script's
times, and it is close to the script by error rates with margin.

Why these bounds (measured on the espeak-ng call; int8 decoding differs between CPUs and GEMM
backends, so one machine's exact transcript is never asserted). Intel Xeon with MKL (the default
there), oneDNN (what CTranslate2 uses on AMD: ``CT2_USE_MKL=0``) and the AVX, AVX2 and AVX-512
kernels (``CT2_FORCE_CPU_ISA``) read it at syllable error 0.68-0.80 (AMD EPYC machines: 0.76-0.80)
and jamo (letter) error 0.47-0.55. Syllable error is a poor judge of Korean this rough: unrelated
Korean of the same length already scores 0.8 against the script. Jamo error (initial consonant,
vowel, final consonant) tells a near-homophone from another sentence: unrelated script text scores
0.76-0.85. So: jamo error < 0.70 (0.15 above the worst reading, below any unrelated text) and a
syllable error < 0.90 guard (0.10 above the worst). English output (the language setting ignored)
has no Hangul at all and fails every one of them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.adapters.duckdb_engine import query
from tests.wer import edit_distance

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
KOREAN = ROOT / "tests" / "fixtures" / "korean"
CLI = Path(sys.executable).parent / "aftercall"
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def _rows(lake, sql):
    cols, rows = query(sql, lake)
    return [dict(zip(cols, r, strict=True)) for r in rows]


@pytest.fixture(scope="module")
def korean_lake(tmp_path_factory):
    lake = tmp_path_factory.mktemp("ko-lake")
    env = {**os.environ, "AFTERCALL_LANGUAGE_CODE": "ko-KR", "AFTERCALL_WORKERS": "2"}
    env.pop("AFTERCALL_WHISPER_MODEL", None)  # the default model
    done = subprocess.run([str(CLI), "run", "--date", "2026-11-18", "--source", str(KOREAN), "--lake", str(lake)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return lake


def test_korean_runs_offline_with_the_multilingual_model_and_no_english_sentiment(korean_lake):
    call = _rows(korean_lake, "select * from calls")[0]
    assert call["language_code"] == "ko-KR" and call["transcriber"] == "faster-whisper:base"
    assert call["sentiment_engine"] == "none"
    assert call["customer_sentiment"] is None and call["customer_sentiment_start"] is None
    assert call["agent_sentiment"] is None
    turns = _rows(korean_lake, "select * from turns order by turn_index")
    assert turns and all(t["sentiment"] is None and t["sentiment_positive"] is None for t in turns)


def _jamo(syllables: str) -> list[int]:
    """Hangul syllables as their letters: initial consonant, vowel and (if any) final consonant."""
    letters = []
    for c in syllables:
        index = ord(c) - 0xAC00
        letters += [index // 588, 100 + index % 588 // 28] + ([200 + index % 28] if index % 28 else [])
    return letters


def _script():
    return json.loads((KOREAN / "truth.json").read_text())[0]["turns"]


def test_korean_transcript_is_korean_and_close_to_the_script(korean_lake):
    script = _script()
    turns = _rows(korean_lake, "select participant, text from turns order by turn_index")
    for side in ("AGENT", "CUSTOMER"):
        text = " ".join(t["text"] for t in turns if t["participant"] == side)
        said = "".join(HANGUL.findall(text))
        truth = "".join(HANGUL.findall(" ".join(t["text"] for t in script if t["participant"] == side)))
        letters = [c for c in re.findall(r"\w", text) if not c.isdigit()]
        assert letters and len(said) >= 0.8 * len(letters), (side, text)  # Hangul, not English or romanised
        assert 0.6 * len(truth) <= len(said) <= 1.5 * len(truth), (side, len(said), len(truth), said)
        syllable_error = edit_distance(list(truth), list(said)) / len(truth)
        jamo_error = edit_distance(_jamo(truth), _jamo(said)) / len(_jamo(truth))
        print(f"{side} syllable error {syllable_error:.2f}, jamo error {jamo_error:.2f}")
        assert jamo_error < 0.70, (side, jamo_error, said)
        assert syllable_error < 0.90, (side, syllable_error, said)


def test_korean_turns_follow_the_script_on_both_channels(korean_lake):
    """Who speaks when comes from each channel's measured speech: the same on every CPU."""
    script = _script()
    turns = _rows(korean_lake, "select participant, begin_s, end_s, text from turns order by begin_s, turn_index")
    assert {t["participant"] for t in turns} == {"AGENT", "CUSTOMER"}
    assert all(t["text"].strip() and t["end_s"] > t["begin_s"] for t in turns)
    for expected in script:  # every scripted turn starts where it was spoken, on its own channel
        starts = [t["begin_s"] for t in turns if t["participant"] == expected["participant"]]
        assert min(abs(s - expected["begin_s"]) for s in starts) <= 0.5, (expected, starts)
    for turn in turns:  # and nothing is heard outside the scripted turns of that side
        assert any(s["participant"] == turn["participant"] and s["begin_s"] - 0.5 <= turn["begin_s"]
                   and turn["end_s"] <= s["end_s"] + 0.5 for s in script), turn
    speakers = [t["participant"] for t in turns]
    alternation = [p for i, p in enumerate(speakers) if i == 0 or p != speakers[i - 1]]
    assert alternation == [t["participant"] for t in script]
