"""Offline PII redaction for transcripts in English and Korean.

Finds, and replaces with ``[TYPE]`` (or ``[PII]``):

* ``CREDIT_DEBIT_NUMBER``: 13-19 digits that pass the Luhn check;
* ``KR_RRN``: a Korean resident registration number, ``YYMMDD-GNNNNNN`` with a valid date;
* ``PHONE``: North American numbers (10 digits, or 11 from 1), Korean mobile and landline
  numbers (``010-1234-5678``, ``02-123-4567``), anything written after ``+``;
* ``EMAIL``: written (``a.b@example.com``) or spoken (``a dot b at example dot com``);
* ``ACCOUNT_NUMBER``: any other ID-like number of 6 digits or more, or 4 or more digits
  spoken one by one ("four five six seven").

Digits may be written (``4567``), spoken as English words (``four five six seven``, ``oh``
for zero, ``double five``) or as Sino-Korean syllables (``공일공 일이삼사``), in groups
separated by spaces, hyphens, dots or commas. A run of number tokens is read as one number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from collections.abc import Callable
from typing import Literal

__all__ = ["Finding", "find_pii", "luhn_ok", "redact"]

_EN = {"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
       "six": "6", "seven": "7", "eight": "8", "nine": "9"}
_KO = {"공": "0", "영": "0", "일": "1", "이": "2", "삼": "3", "사": "4", "오": "5", "육": "6", "륙": "6",
       "칠": "7", "팔": "8", "구": "9"}
_TOKEN = re.compile(
    r"(?P<plus>\+)?(?P<digits>\d+)"
    r"|(?P<double>\b(?:double|triple)\b)"
    r"|(?P<word>\b(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)\b)"
    r"|(?P<ko>[공영일이삼사오육륙칠팔구]{2,})(?![가-힣])",
    re.IGNORECASE,
)
_GAP = re.compile(r"^[\s\-.,/()]*$")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_SPOKEN_EMAIL = re.compile(
    r"\b[a-z0-9]+(?:\s+(?:dot|underscore)\s+[a-z0-9]+)*\s+at\s+[a-z0-9]+(?:\s+dot\s+[a-z]{2,})+\b", re.IGNORECASE)

Kind = Literal["CREDIT_DEBIT_NUMBER", "KR_RRN", "PHONE", "EMAIL", "ACCOUNT_NUMBER"]


@dataclass(frozen=True, slots=True)
class Finding:
    kind: Kind | str  # a service may name other kinds (Comprehend: NAME, ADDRESS, ...)
    begin: int
    end: int


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _rrn(digits: str, raw: str) -> bool:
    if len(digits) != 13 or digits[6] not in "12345678":
        return False
    century = 1900 if digits[6] in "1256" else 2000
    try:
        date(century + int(digits[:2]), int(digits[2:4]), int(digits[4:6]))
    except ValueError:
        return False
    return re.search(r"\d{6}\s*-\s*\d{7}", raw) is not None or not luhn_ok(digits)


def _classify(digits: str, raw: str, plus: bool, spoken: bool) -> Kind | None:
    n = len(digits)
    if _rrn(digits, raw):
        return "KR_RRN"
    if 13 <= n <= 19 and luhn_ok(digits):
        return "CREDIT_DEBIT_NUMBER"
    if plus or (n == 10 and digits[0] != "0") or (n == 11 and digits[0] == "1") \
            or (digits.startswith("01") and n in (10, 11)) or (digits.startswith("0") and 9 <= n <= 11):
        return "PHONE"
    if n >= 6 or (spoken and n >= 4):
        return "ACCOUNT_NUMBER"
    return None


def _number_runs(text: str):
    """(begin, end, digits, plus, spoken) of each run of number tokens."""
    run: list[re.Match] = []

    def flush():
        if not run:
            return None
        digits, repeat, spoken = "", 1, False
        for m in run:
            if m["double"]:
                repeat = 2 if m["double"].lower() == "double" else 3
                continue
            if m["digits"]:
                part = m["digits"]
            elif m["word"]:
                part, spoken = _EN[m["word"].lower()], True
            else:
                part, spoken = "".join(_KO[c] for c in m["ko"]), True
            digits += part[0] * (repeat - 1) + part if repeat > 1 else part
            repeat = 1
        return run[0].start(), run[-1].end(), digits, bool(run[0]["plus"]), spoken

    for m in _TOKEN.finditer(text):
        if m["word"] and m["word"].lower() in ("oh", "o") and not run:
            continue  # "oh" starts a sentence far more often than a number
        if run and not _GAP.match(text[run[-1].end():m.start()]):
            found = flush()
            if found:
                yield found
            run = []
        run.append(m)
    found = flush()
    if found:
        yield found


def find_pii(text: str) -> list[Finding]:
    findings = [Finding("EMAIL", m.start(), m.end()) for m in _EMAIL.finditer(text)]
    findings += [Finding("EMAIL", m.start(), m.end()) for m in _SPOKEN_EMAIL.finditer(text)]
    for begin, end, digits, plus, spoken in _number_runs(text):
        if any(f.begin <= begin < f.end for f in findings):
            continue
        kind = _classify(digits, text[begin:end], plus, spoken)
        if kind:
            findings.append(Finding(kind, begin, end))
    merged: list[Finding] = []
    for f in sorted(findings, key=lambda f: (f.begin, -f.end)):
        if merged and f.begin < merged[-1].end:
            continue
        merged.append(f)
    return merged


def redact(text: str, mask: Literal["type", "pii"] = "type",
           detector: Callable[[str], list[Finding]] | None = None) -> tuple[str, list[Finding]]:
    """``text`` with every finding replaced by ``[TYPE]`` (or ``[PII]``), and the findings.

    ``detector`` adds a service's findings (Comprehend's ``detect_pii_entities``) to this module's.
    """
    findings = find_pii(text)
    if detector is not None:
        merged: list[Finding] = []
        for f in sorted(findings + detector(text), key=lambda f: (f.begin, -f.end)):
            if merged and f.begin < merged[-1].end:
                if f.end > merged[-1].end:
                    merged[-1] = Finding(merged[-1].kind, merged[-1].begin, f.end)
                continue
            merged.append(f)
        findings = merged
    out = text
    for f in reversed(findings):
        out = out[:f.begin] + (f"[{f.kind}]" if mask == "type" else "[PII]") + out[f.end:]
    return out, findings
