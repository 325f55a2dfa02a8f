"""Generate the Korean (ko-KR) test call with espeak-ng's Korean voice and sox.

Run at development time only (needs Debian's ``espeak-ng`` and ``sox``)::

    python scripts/make_korean_call.py

One short billing call in Korean, laid out as Amazon Connect records it (customer left, agent
right, 8 kHz), in ``tests/fixtures/korean/``, with its script in ``truth.json``. The tests use it
to check that ``AFTERCALL_LANGUAGE_CODE=ko-KR`` runs offline with the multilingual model and
leaves sentiment empty rather than scoring Korean with an English lexicon.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_sample_calls import place, save, write_all  # noqa: E402

os.environ["SOX_OPTS"] = "-D"  # no dither: the file is the same run after run
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "korean"
DAY_DIR = OUT / "connect" / "kr-demo" / "CallRecordings" / "2026" / "11" / "18"
A, C = "AGENT", "CUSTOMER"
VOICES = {A: ("ko", 150), C: ("ko+m3", 140)}
CALL = {
    "contact_id": "7b0c3d21-9e4f-4a56-8b7c-1d2e3f4a5b06",
    "started": "20261118T10:20",
    "lead_in": 0.5,
    "tail": 1.0,
    "turns": [
        (A, "안녕하세요, 에이스 통신 고객센터 김민지입니다. 무엇을 도와드릴까요?", 0),
        (C, "안녕하세요. 이번 달 요금이 너무 많이 나와서 전화했어요.", 0.7),
        (A, "불편을 드려 죄송합니다. 요금 내역을 확인해 보겠습니다. 잠시만 기다려 주세요.", 0.6),
        (C, "네, 알겠습니다.", 0.8),
        (A, "해외 로밍 요금이 추가되었습니다. 다음 달 요금에서 할인해 드리겠습니다.", 3.0),
        (C, "정말요? 감사합니다. 좋은 하루 보내세요.", 0.7),
    ],
}


def build(call: dict, tmp: Path) -> dict:
    placed, stereo = place(call, tmp, VOICES)
    stereo += np.random.default_rng(2026).normal(0, 0.0015, stereo.shape).astype("float32")
    return save(call, stereo, placed, DAY_DIR)


def main() -> None:
    write_all([CALL], build, DAY_DIR, OUT)


if __name__ == "__main__":
    main()
