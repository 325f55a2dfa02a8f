"""Other languages offline: a Korean call through the installed CLI with the multilingual model.

VADER reads English only, so a Korean call's sentiment is empty (``sentiment_engine = 'none'``),
never English-lexicon scores on Korean text. The transcript is checked against the script within
wide tolerances (espeak-ng's Korean voice is rough, and int8 decoding differs between CPUs).
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


def test_korean_transcript_is_korean_and_close_to_the_script(korean_lake):
    script = json.loads((KOREAN / "truth.json").read_text())[0]["turns"]
    turns = _rows(korean_lake, "select participant, text from turns order by turn_index")
    for side in ("AGENT", "CUSTOMER"):
        said = "".join(HANGUL.findall(" ".join(t["text"] for t in turns if t["participant"] == side)))
        truth = "".join(HANGUL.findall(" ".join(t["text"] for t in script if t["participant"] == side)))
        letters = re.findall(r"\w", " ".join(t["text"] for t in turns if t["participant"] == side))
        assert len(said) >= 0.8 * len([c for c in letters if not c.isdigit()]), side  # Hangul, not romanised
        rate = edit_distance(list(truth), list(said)) / len(truth)
        print(f"{side} character error rate {rate:.2f}")
        assert rate < 0.8, (side, rate, said)
