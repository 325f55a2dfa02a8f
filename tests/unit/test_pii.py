"""Every PII kind, in English and Korean, written and spoken; and nothing left in turns.text (nor in
contact attribute values)."""

from __future__ import annotations

import pytest

from pipeline.analytics.pii import luhn_ok, mask_for, redact, redact_attribute, redact_turns

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
    # security codes: 3-4 digits, only near their words
    ("the security code is 4 5 6", "the security code is [CREDIT_DEBIT_CVV]"),
    ("CVV 123", "CVV [CREDIT_DEBIT_CVV]"),
    ("three digit code on the back is 7, 8, 9", "three digit code on the back is [CREDIT_DEBIT_CVV]"),
    ("The CVV2 is one two three.", "The CVV2 is [CREDIT_DEBIT_CVV]."),
    ("the c.v.c. is oh one two", "the c.v.c. is [CREDIT_DEBIT_CVV]"),
    ("4 5 6, that's the security code", "[CREDIT_DEBIT_CVV], that's the security code"),
    ("보안코드는 456 입니다", "보안코드는 [CREDIT_DEBIT_CVV] 입니다"),
    # expiry dates
    ("expires 09/27", "expires [CREDIT_DEBIT_EXPIRY]"),
    ("expiry oh nine twenty seven", "expiry [CREDIT_DEBIT_EXPIRY]"),
    ("valid through 12/2028", "valid through [CREDIT_DEBIT_EXPIRY]"),
    ("The expiration date is September 2027.", "The expiration date is [CREDIT_DEBIT_EXPIRY]."),
    ("it expires on oh nine slash two seven", "it expires on [CREDIT_DEBIT_EXPIRY]"),
    ("유효기간은 09/27 입니다", "유효기간은 [CREDIT_DEBIT_EXPIRY] 입니다"),
    # PINs
    ("my PIN is 4 4 1 2", "my PIN is [PIN]"),
    ("My pin number is 9876.", "My pin number is [PIN]."),
    ("1234 is my PIN", "[PIN] is my PIN"),
    ("비밀번호는 1234 예요", "비밀번호는 [PIN] 예요"),
    ("account number 4567 please", "account number [ACCOUNT_NUMBER] please"),
    # e-mail addresses, written and spoken as Whisper writes them
    ("mail first.middle.last-name+tag@sub.example.co.uk now", "mail [EMAIL] now"),
    ("It's john.smith at gmail.com.", "It's [EMAIL]."),
    ("j underscore kim at example dot co dot uk", "[EMAIL]"),
    ("anna at sign example dot org thanks", "[EMAIL] thanks"),
    # digits one by one as Whisper writes them, misheard words between them
    ("It's in 1, 2, 3, 4, 5.", "It's in [ACCOUNT_NUMBER]."),
    ("4. I'm 6. And 1. 8. 1. 2. 3.", "[ACCOUNT_NUMBER]."),
    ("Yes, it is 4, 5, 6, 7. 8, 1, 2, 3.", "Yes, it is [ACCOUNT_NUMBER]."),
    # numbers said in words with tens, hundreds and thousands: card groups, security codes, PINs, phones
    ("forty one eleven, eleven eleven, eleven eleven, eleven eleven", "[CREDIT_DEBIT_NUMBER]"),
    ("four thousand one hundred eleven, one thousand one hundred eleven, one thousand one hundred eleven, "
     "one thousand one hundred eleven", "[CREDIT_DEBIT_NUMBER]"),
    ("it's four thousand one hundred eleven, eleven eleven, eleven eleven, eleven eleven.",
     "it's [CREDIT_DEBIT_NUMBER]."),
    ("the cvv is a hundred and twenty three", "the cvv is [CREDIT_DEBIT_CVV]"),
    ("cvv: seven forty two", "cvv: [CREDIT_DEBIT_CVV]"),
    ("the PIN is twelve thirty four", "the PIN is [PIN]"),
    ("five five five, eight six seven, fifty three oh nine", "[PHONE]"),
    ("my account number is twelve thirty four fifty six", "my account number is [ACCOUNT_NUMBER]"),
    # a bank number is an account number even when it has a phone number's shape
    ("routing number 021000021", "routing number [ACCOUNT_NUMBER]"),
    ("the routing number is oh two one, oh oh oh, oh two one", "the routing number is [ACCOUNT_NUMBER]"),
    # e-mail addresses as ASR and people write them; only the address goes, not "me at"
    ("jsmith @ example . com", "[EMAIL]"),
    ("john.smith(at)example.com", "[EMAIL]"),
    ("Send it to j.smith [at] example [dot] com", "Send it to [EMAIL]"),
    ("write to jsmith\uff20example.com", "write to [EMAIL]"),  # full-width commercial at
    ("j o h n at gmail dot com", "[EMAIL]"),
    ("it's j o h n dot s m i t h at gmail dot com", "it's [EMAIL]"),
    ("email me at x@y.com", "email me at [EMAIL]"),
    ("email me at x at y dot com", "email me at [EMAIL]"),
    ("write me at john.smith at gmail.com", "write me at [EMAIL]"),
    # A counting rhyme stays redacted: five digits said one by one are read as an account number, as
    # in "It's in 1, 2, 3, 4, 5." above; no rule tells the rhyme from an account read out safely.
    ("one two three four five, here I come", "[ACCOUNT_NUMBER], here I come"),
    # several kinds in one turn
    ("My card is 4111 1111 1111 1111, expiry 09/27 and the CVV 123",
     "My card is [CREDIT_DEBIT_NUMBER], expiry [CREDIT_DEBIT_EXPIRY] and the CVV [CREDIT_DEBIT_CVV]"),
]

CLEAN = [
    "Oh, right. I paid 25 dollars on the 12th of November.",
    "In 2026 we handled 300 calls.",
    "이 일은 정말 힘들어요. 오늘 구매한 상품이에요.",
    "My order 25 never arrived, it's been 3 weeks.",
    # short numbers away from CVV / PIN / expiry words stay
    "I have 2 kids and we live in room 101.",
    "Let's talk at 9 30 tomorrow, it cost 125 dollars.",
    "I've been a customer for 10 years, since 2015.",
    "Press 1, 2 or 3.",
    "I have 3 kids. And 2 dogs. Also 4 cats.",
    "I need 2, maybe 3 tickets for the 4th.",
    "Oh, one more thing.",
    "In 2024 my PIN stopped working.",
    "Your pin is being reset in 24 hours.",
    "The security code on the website is broken since 2 weeks.",
    "My card expires next May.",
    "The offer expires in 30 days.",
    "I was at home. Look at it. Com is not a word.",
    "We met at noon at the cafe on 5th street.",
    # amounts with thousands separators and calendar dates are not account numbers
    "I paid 1,250,000 won",
    "1,250,000원을 냈어요",
    "The call was on 2026-11-22, the letter came 2026.11.25, the refund on 11/30/2026.",
    # numbers said in words as amounts, years and times, not digits said in groups
    "In two thousand twenty six we moved, twenty twenty six was a long year.",
    "I paid a hundred and twenty three dollars, twelve hundred in total, two hundred thousand won.",
    "We open at nine thirty and close at seven forty five, it costs twenty five ninety nine.",
    "A thousand and one nights, a hundred and one dalmatians.",
    "Your PIN will be reset in twenty four hours.",
    # "@" in a time or a place is not an address
    "Meet me @ 9.30, I'm @ home. Then we talk.",
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
    from pipeline.steps.discovery import discover_local
    from pipeline.ports import Transcriber, Transcript, Word
    from pipeline.steps.process import process_recording
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


def test_context_words_in_the_previous_turn_count():
    """The agent asks, the customer answers in a turn of their own."""
    said = ["Could you read me the three digit code on the back?", "Sure, 7, 8, 9.",
            "And the expiry date?", "Oh nine, twenty seven.", "Thank you. I have 2 more questions.", "Room 101."]
    assert redact_turns(said) == [said[0], "Sure, [CREDIT_DEBIT_CVV].", said[2], "[CREDIT_DEBIT_EXPIRY].",
                                  said[4], "Room 101."]
    assert redact("7, 8, 9.", context="What's your PIN?")[0] == "7, 8, 9."  # a PIN has 4 digits or more
    assert redact("4 4 1 2", "pii", context="What's your PIN?") == ("[PII]", redact("4 4 1 2", context="PIN")[1])


@pytest.mark.parametrize(("asked", "answer", "expected"), [
    ("And the security code?", "Seven forty two.", "[CREDIT_DEBIT_CVV]."),
    ("The three numbers on the back?", "They are 7 4 2.", "They are [CREDIT_DEBIT_CVV]."),
    ("What is your PIN?", "Twelve thirty four.", "[PIN]."),
    ("And the security code?", "Sorry, I will call back in ten minutes.", "Sorry, I will call back in ten minutes."),
])
def test_numbers_said_in_words_answer_the_previous_turn(asked, answer, expected):
    assert redact_turns([asked, answer]) == [asked, expected]


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("cardNumber", "4111111111111111", "[CREDIT_DEBIT_NUMBER]"),
    ("cvv", "123", "[CREDIT_DEBIT_CVV]"),
    ("card_security_code", "0123", "[CREDIT_DEBIT_CVV]"),
    ("cardExpiry", "09/27", "[CREDIT_DEBIT_EXPIRY]"),
    ("ExpirationDate", "0927", "[CREDIT_DEBIT_EXPIRY]"),
    ("customerPIN", "4412", "[PIN]"),
    ("email", "kim@example.com", "[EMAIL]"),
    ("callback", "+1 555 867 5309", "[PHONE]"),
    ("note", "customer said card 4111 1111 1111 1111 exp 12/28", "customer said card [CREDIT_DEBIT_NUMBER] exp "
                                                                "[CREDIT_DEBIT_EXPIRY]"),
    ("ivrChoice", "2", "2"), ("customerTier", "gold", "gold"), ("queueMinutes", "123", "123"),
])
def test_attribute_values_are_redacted_with_their_name_as_context(name, value, expected):
    assert redact_attribute(name, value) == expected


def test_contact_attribute_rows_are_redacted_only_when_redaction_is_on():
    from pipeline.analytics.ctr import attribute_rows
    from pipeline.settings import Settings

    contacts = [{"contact_id": "c1", "_attributes": {"cardNumber": "4111111111111111", "cvv": 123, "intent": "pay",
                                                     "empty": None, "lambda": {"card": "4111 1111 1111 1111"}}}]
    plain = attribute_rows(contacts)
    assert [r["value"] for r in plain] == ["4111111111111111", "123", None, "pay", '{"card": "4111 1111 1111 1111"}']
    assert mask_for(Settings()) is None and mask_for(Settings(redact_pii=True, pii_mask="pii")) == "pii"
    rows = attribute_rows(contacts, pii_mask=mask_for(Settings(redact_pii=True)))
    assert [(r["name"], r["value"]) for r in rows] == [
        ("cardNumber", "[CREDIT_DEBIT_NUMBER]"), ("cvv", "[CREDIT_DEBIT_CVV]"), ("empty", None), ("intent", "pay"),
        ("lambda", '{"card": "[CREDIT_DEBIT_NUMBER]"}')]
    assert not any("4111" in str(r["value"]) for r in attribute_rows(contacts, pii_mask="pii"))


def test_long_hostile_text_is_redacted_in_linear_time():
    import time

    for text in ("a dot " * 4000, "a." * 8000, "PIN 1 " * 3000, "1. Hm. " * 3000, "expires " + "one two " * 3000,
                 "a b " * 5000, "x @ y . " * 3000, "a (at) b (dot) " * 2000, "me at " * 4000,
                 "cvv forty one a hundred and " * 1000, "1,000," * 4000, "2026-11-22-" * 2000):
        started = time.perf_counter()
        redact(text)
        assert time.perf_counter() - started < 2.0
