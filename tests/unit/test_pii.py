"""Every PII kind, in English and Korean, written and spoken; and nothing left in turns.text."""

from __future__ import annotations

import pytest

from pipeline.pii import luhn_ok, redact

CASES = [
    ("My card is 4111 1111 1111 1111, expiry next May.", "My card is [CREDIT_DEBIT_NUMBER], expiry next May."),
    ("card four one one one one one one one one one one one one one one one", "card [CREDIT_DEBIT_NUMBER]"),
    ("Call me back at (555) 867-5309 tonight.", "Call me back at ([PHONE] tonight."),
    ("my number is five five five eight six seven five three oh nine", "my number is [PHONE]"),
    ("Write to john.smith@example.com please", "Write to [EMAIL] please"),
    ("it's john dot smith at example dot com", "it's [EMAIL]"),
    ("My account number is 4 .6. 8123.", "My account number is [ACCOUNT_NUMBER]."),
    ("the last digits are four five six seven", "the last digits are [ACCOUNT_NUMBER]"),
    ("double five seven two one nine", "[ACCOUNT_NUMBER]"),
    ("카드 번호는 4111-1111-1111-1111 입니다", "카드 번호는 [CREDIT_DEBIT_NUMBER] 입니다"),
    ("제 주민등록번호는 900101-1234567 이에요", "제 주민등록번호는 [KR_RRN] 이에요"),
    ("휴대폰 010-1234-5678 로 연락 주세요", "휴대폰 [PHONE] 로 연락 주세요"),
    ("사무실은 02-123-4567 입니다", "사무실은 [PHONE] 입니다"),
    ("전화번호는 공일공 일이삼사 오육칠팔 이에요", "전화번호는 [PHONE] 이에요"),
    ("해외에서는 +82 10-1234-5678 로 걸어 주세요", "해외에서는 [PHONE] 로 걸어 주세요"),
    ("이메일은 minsu.kim@example.co.kr 입니다", "이메일은 [EMAIL] 입니다"),
    ("계좌번호 110-234-567890 으로 보내 주세요", "계좌번호 [ACCOUNT_NUMBER] 으로 보내 주세요"),
]

CLEAN = [
    "Oh, right. I paid 25 dollars on the 12th of November.",
    "In 2026 we handled 300 calls.",
    "이 일은 정말 힘들어요. 오늘 구매한 상품이에요.",
    "My order 25 never arrived, it's been 3 weeks.",
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_each_kind_is_redacted(text, expected):
    assert redact(text)[0] == expected


@pytest.mark.parametrize("text", CLEAN)
def test_ordinary_numbers_are_left_alone(text):
    assert redact(text) == (text, [])


def test_mask_pii_hides_the_type():
    assert redact("card 4111 1111 1111 1111", mask="pii")[0] == "card [PII]"


def test_luhn():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")


def test_pipeline_turns_hold_no_pii_and_raw_text_goes_apart_or_nowhere(tmp_path, sample_files):
    """A whole call through process_recording with redaction on: turns.text clean, turns_raw separate."""
    from pipeline.adapters.local_source import LocalSource
    from pipeline.adapters.vader import VaderSentiment
    from pipeline.discovery import discover_local
    from pipeline.ports import Transcriber, Transcript, Word
    from pipeline.process import process_recording
    from pipeline.settings import SAMPLES_DIR
    from pipeline.wiring import Components

    said = [("AGENT", "Can I have your card number please?"),
            ("CUSTOMER", "Sure, it's four one one one one one one one one one one one one one one one."),
            ("AGENT", "And a phone number?"), ("CUSTOMER", "010-1234-5678, or email me at kim@example.com")]

    class Scripted(Transcriber):
        name = "scripted"

        def transcribe(self, recording, audio):
            words, t = [], 0.5
            for who, line in said:
                for token in line.split():
                    words.append(Word(who, t, t + 0.3, token, 0.9))
                    t += 0.35
                t += 1.5
            return Transcript(words, "en-US", "scripted")

    rec = discover_local(SAMPLES_DIR, __import__("datetime").date(2026, 11, 22))[0]
    kept = process_recording(rec, Components(LocalSource(SAMPLES_DIR), Scripted(), VaderSentiment(), "type", True), 1)
    texts = [t["text"] for t in kept.turns]
    assert texts[1] == "Sure, it's [CREDIT_DEBIT_NUMBER]." and texts[3] == "[PHONE], or email me at [EMAIL]"
    assert not any(ch.isdigit() for t in texts for ch in t) and "@" not in " ".join(texts)
    assert [r["text"] for r in kept.turns_raw][3] == "010-1234-5678, or email me at kim@example.com"
    dropped = process_recording(rec, Components(LocalSource(SAMPLES_DIR), Scripted(), VaderSentiment(), "pii", False), 1)
    assert dropped.turns_raw == [] and dropped.turns[1]["text"] == "Sure, it's [PII]."
