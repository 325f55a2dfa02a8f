"""Offline PII redaction for transcripts in English and Korean.

Finds, and replaces with ``[TYPE]`` (or ``[PII]``):

* ``CREDIT_DEBIT_NUMBER``: 13-19 digits that pass the Luhn check;
* ``KR_RRN``: a Korean resident registration number, ``YYMMDD-GNNNNNN`` with a valid date;
* ``PHONE``: North American numbers (10 digits, or 11 from 1), Korean mobile and landline
  numbers (``010-1234-5678``, ``02-123-4567``), anything written after ``+``;
* ``EMAIL``: written (``a.b@example.com``, ``a @ example . com``, ``a(at)example.com``, full-width ``＠``)
  or spoken (``a dot b at example dot com``, ``a at example.com``, spelled ``j o h n at gmail dot com``);
  "email me at ..." loses only the address;
* ``CREDIT_DEBIT_CVV``: 3-4 digits shortly after a security-code word ("CVV", "security code",
  "three digit code on the back", "the three numbers on the back", "보안코드");
* ``CREDIT_DEBIT_EXPIRY``: a month and year shortly after an expiry word ("expires 09/27",
  "expiry oh nine twenty seven", "valid through 12/2028", "유효기간");
* ``PIN``: 4-8 digits shortly after "PIN", "passcode", "password" ("비밀번호");
* ``ACCOUNT_NUMBER``: any other ID-like number of 6 digits or more, 4 or more digits said one
  by one ("four five six seven", Whisper's "1, 2, 3, 4", or "4. I'm 6. And 1. 8." where a word
  or two it misheard sit between the digits), or 4-5 digits shortly after "account number"; a number
  shaped like a phone number shortly after "account number", "routing number" (not one written with ``+``).

Digits may be written (``4567``), spoken as English words (``four five six seven``, ``oh``
for zero, ``double five``; in groups with tens, hundreds and thousands: ``seven forty two`` is 742,
``forty one eleven`` 4111, ``a hundred and twenty three`` 123) or as Sino-Korean syllables
(``공일공 일이삼사``), in groups separated by spaces, hyphens, dots or commas. A run of number tokens
is read as one number. One value said in words ("two thousand twenty six", "twelve hundred") and
an amount with thousands separators ("1,250,000") are quantities: PII only near context words ("my
PIN is 1,234") or as a Luhn-valid card number. A calendar date ("2026-11-22", "11/22/2026") is no ID.
"Shortly after" is within six words; "1234 is my PIN" counts too. Short numbers anywhere
else ("2 kids", "room 101", "9 30", "25 dollars") are left alone.

A turn's context words may sit in the previous turn ("What's the security code?" / "4 5 6"),
and an attribute's in its name (``cvv`` = ``123``): :func:`redact` takes that text as
``context``, and :func:`redact_turns` / :func:`redact_attribute` pass it.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pipeline.settings import Settings

__all__ = ["Finding", "find_pii", "luhn_ok", "mask_for", "redact", "redact_attribute", "redact_turns"]

Mask = Literal["type", "pii"]

_EN = {"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
       "six": "6", "seven": "7", "eight": "8", "nine": "9"}
_KO = {"공": "0", "영": "0", "일": "1", "이": "2", "삼": "3", "사": "4", "오": "5", "육": "6", "륙": "6",
       "칠": "7", "팔": "8", "구": "9"}
_TEEN = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
         "seventeen": 17, "eighteen": 18, "nineteen": 19}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}
_UNIT_WORDS = "zero|oh|one|two|three|four|five|six|seven|eight|nine"
_NUMBER_WORDS = "|".join([_UNIT_WORDS, *_TEEN, *_TENS])
_TOKEN = re.compile(
    r"(?P<amount>(?<![\d,])\d{1,3}(?:,\d{3})+(?!,?\d))"  # "1,250,000": a quantity, a number of its own
    r"|(?P<plus>\+)?(?P<digits>\d+)"
    r"|(?P<double>\b(?:double|triple)\b)"
    rf"|(?P<word>\b(?:{_UNIT_WORDS})\b)"
    rf"|(?P<teen>\b(?:{'|'.join(_TEEN)})\b)"
    rf"|(?P<tens>\b(?:{'|'.join(_TENS)})\b)"
    r"|(?P<scale>\b(?:hundred|thousand)\b)"
    r"|(?P<a>\ba(?=\s+(?:hundred|thousand)\b))"  # "a hundred and twenty three"
    rf"|(?P<conj>\band(?=\s+(?:{_NUMBER_WORDS})\b))"  # only after hundred / thousand, else it ends the run
    r"|(?P<ko>[공영일이삼사오육륙칠팔구]{2,})(?![가-힣])",
    re.IGNORECASE,
)
# A calendar date is not an ID: "2026-11-22", "2026.11.22", "11/22/2026", "22.11.2026" (checked with datetime.date).
_DATE = re.compile(
    r"(?<![\d\-/.])(?:(?P<y>(?:19|20)\d\d)(?P<s1>[-/.])(?P<m>\d{1,2})(?P=s1)(?P<d>\d{1,2})"
    r"|(?P<a>\d{1,2})(?P<s2>[-/.])(?P<b>\d{1,2})(?P=s2)(?P<y2>(?:19|20)\d\d))(?!\d|[-/.]\d)")
_GAP = re.compile(r"^[\s\-.,/()]*$")
# Whisper writing digits said one by one, a misheard word or two between them: "4. I'm 6. And 1."
_BRIDGE = re.compile(r"^[.,]\s+(?:[^\W\d_]{1,5}(?:'[^\W\d_]{1,2})?[.,]?\s+){1,2}$")
# "@" may be spaced ("jsmith @ example . com"), full-width ("＠") or written "(at)"; a dot likewise
# ("．", "(dot)"), spaced only on both sides, so "I'm @ home. Then" stays.
_AT = r"(?:\s?[@＠]\s?|\s?[(\[]\s?at\s?[)\]]\s?)"
_DOT = r"(?:[.．]|\s[.．]\s|\s?[(\[]\s?dot\s?[)\]]\s?)"
_EMAIL = re.compile(rf"[\w.+-]{{1,64}}{_AT}[\w-]+(?:{_DOT}[\w-]+)+\b",  # bounded: linear on long runs of dots
                    re.IGNORECASE)
# A spoken local part is a word, or letters spelled one by one ("j o h n"), not a pronoun or verb
# before "at" ("email me at ...", "write me at ...": only the address goes).
_NOT_LOCAL = (r"(?!(?:me|us|him|her|them|you|it|i|we|they|home|back|here|there|look|email|e-mail|mail|write"
              r"|call|reach|text|message|contact|ping)\s+at\b)")
_LOCAL_PART = r"(?:[a-z0-9](?:\s[a-z0-9]\b){1,39}|[a-z0-9]{1,40})"
_SPOKEN_EMAIL = re.compile(
    rf"(?<!['’])\b{_NOT_LOCAL}{_LOCAL_PART}(?:(?:\s+(?:dot|underscore|dash|hyphen)\s+|[._-]){_LOCAL_PART}){{0,8}}"
    r"\s+at(?:\s+(?:sign|symbol))?\s+"
    r"[a-z0-9]+(?:-[a-z0-9]+)*(?:(?:\s+dot\s+|\.)(?:[a-z0-9]+(?:-[a-z0-9]+)*))*(?:\s+dot\s+|\.)[a-z]{2,}\b",
    re.IGNORECASE)

# Context words: short numbers count as PII only shortly after one of these (or just before: "123 is my CVV").
_CONTEXT = {
    "CREDIT_DEBIT_CVV": re.compile(
        r"\bc\.?\s?v\.?\s?(?:v\.?\s?2?|c|2)\b\.?|\bcsc\b|\bsecurity\s+(?:code|number|digits)"
        r"|\b(?:card\s+)?verification\s+(?:code|number|value)"
        r"|\b(?:three|3|four|4)[\s-]*digits?\s+(?:security\s+)?(?:code|number)"
        r"|\b(?:code|numbers?|digits?)\s+on\s+the\s+back|보안\s*코드|씨브이씨|cvc\s*번호",
        re.IGNORECASE),
    "CREDIT_DEBIT_EXPIRY": re.compile(
        r"\bexp(?:iry|iration|ires?|ired|iring)?\b\.?|\b(?:valid|good)\s+(?:thru|through|until|till|to)\b"
        r"|유효\s*기간|만료",
        re.IGNORECASE),
    "PIN": re.compile(
        r"\bp\.?\s?i\.?\s?n\b(?:\s+(?:number|code))?|\bpass\s?(?:code|word)\b|\bpersonal\s+identification\s+number"
        r"|비밀\s*번호|핀\s*번호",
        re.IGNORECASE),
    "ACCOUNT_NUMBER": re.compile(
        r"\b(?:account|routing|aba|transit)\s+(?:number|no\b\.?|#)|\bacct\b\.?|계좌\s*번호", re.IGNORECASE),
}
_CONTEXT_DIGITS = {"CREDIT_DEBIT_CVV": (3, 4), "PIN": (4, 8), "ACCOUNT_NUMBER": (4, 5)}
_WINDOW_WORDS, _WINDOW_CHARS = 6, 160
_WORD = re.compile(r"[^\W\d_]+")
_BACK = re.compile(r"[\s,.]*(?:is|was|are|that's|that is|it's|it is)\s+(?:my|the|your|our)\s+",
                   re.IGNORECASE)
_LEAD_OH = re.compile(r"\boh[\s,.\-]*$", re.IGNORECASE)
_OH_BEFORE = re.compile(r"\boh[\s\-]+$", re.IGNORECASE)
_TLD = re.compile(r"[^\W\d_][\w-]*$")  # an address ends with a label that has a letter
_NUMW = (r"(?:\d{1,4}(?![\w])|(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen"
         r"|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy"
         r"|eighty|ninety|hundred|thousand)\b)")
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
          r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b")
_EXPIRY_VALUE = re.compile(
    rf"\b(?:(?:{_MONTH}|{_NUMW})(?:(?:\s*[/\-.,]\s*|\s+(?:slash\s+|of\s+)?|년\s*|월\s*)(?:{_NUMW})){{1,5}}"
    r"|\d{3,4}(?![\w]))",
    re.IGNORECASE)

Kind = Literal["CREDIT_DEBIT_NUMBER", "CREDIT_DEBIT_CVV", "CREDIT_DEBIT_EXPIRY", "PIN", "KR_RRN", "PHONE", "EMAIL",
               "ACCOUNT_NUMBER"]


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


def _classify(digits: str, raw: str, plus: bool, spoken: bool, quantity: bool = False) -> Kind | None:
    """``spoken``: said one digit at a time; ``quantity``: one number said in words ("two thousand twenty six",
    "a hundred and twenty three"), an amount or a year rather than an ID."""
    n = len(digits)
    if _rrn(digits, raw):
        return "KR_RRN"
    if 13 <= n <= 19 and luhn_ok(digits):
        return "CREDIT_DEBIT_NUMBER"
    if quantity:
        return None
    if plus or (n == 10 and digits[0] != "0") or (n == 11 and digits[0] == "1") \
            or (digits.startswith("01") and n in (10, 11)) or (digits.startswith("0") and 9 <= n <= 11):
        return "PHONE"
    if n >= 6 or (spoken and n >= 4):
        return "ACCOUNT_NUMBER"
    return None


def _is(m: re.Match, group: str, word: str | None = None) -> bool:
    return bool(m[group]) and (word is None or m[group].lower() == word)


def _small(run: Sequence[re.Match], i: int) -> tuple[int, int, bool] | None:
    """(value, next index, compound) of 0-99 said in words at ``run[i]``: "seven", "eleven", "forty one"."""
    if i >= len(run):
        return None
    m = run[i]
    if m["word"]:
        return int(_EN[m["word"].lower()]), i + 1, False
    if m["teen"]:
        return _TEEN[m["teen"].lower()], i + 1, True
    if m["tens"]:
        value = _TENS[m["tens"].lower()]
        if i + 1 < len(run) and run[i + 1]["word"] and _EN[run[i + 1]["word"].lower()] != "0":
            return value + int(_EN[run[i + 1]["word"].lower()]), i + 2, True
        return value, i + 1, True
    return None


def _group(run: Sequence[re.Match], i: int) -> tuple[int, int, bool] | None:
    """A number below a thousand said in words at ``run[i]`` ("a hundred and twenty three"; "twelve hundred")."""
    if i < len(run) and run[i]["a"]:
        if not (i + 1 < len(run) and run[i + 1]["scale"]):
            return None
        value, j, compound = 1, i + 1, True
    else:
        small = _small(run, i)
        if small is None:
            return None
        value, j, compound = small
    if j < len(run) and _is(run[j], "scale", "hundred"):
        value, j, compound = value * 100, j + 1, True
        k = j + 1 if j < len(run) and run[j]["conj"] else j
        rest = _small(run, k)
        if rest:
            value, j = value + rest[0], rest[1]
    return value, j, compound


def _cardinal(run: Sequence[re.Match], i: int) -> tuple[int, int, bool] | None:
    """(value, next index, compound) of a number said in words at ``run[i]``, up to thousands:
    "four thousand one hundred eleven" is 4111; "seven" (not compound) a digit said on its own."""
    group = _group(run, i)
    if group is None:
        return None
    value, j, compound = group
    if value < 1000 and j < len(run) and _is(run[j], "scale", "thousand"):
        value, j, compound = value * 1000, j + 1, True
        k = j + 1 if j < len(run) and run[j]["conj"] else j
        rest = _group(run, k)
        if rest and rest[0] < 1000:
            value, j = value + rest[0], rest[1]
    return value, j, compound


def _read(run: Sequence[re.Match]) -> Iterator[list]:
    """[begin, end, digits, plus, one_by_one, quantity] of each number in a run of tokens.

    Number words are read as a person says a number: "seven forty two" is 742 (7, 42), "forty one
    eleven" 4111, "a hundred and twenty three" 123. A token that cannot go on (a "hundred" or "and"
    on its own) ends the number before it. ``quantity``: the whole number is one value said with
    tens, hundreds or thousands ("two thousand twenty six"), not digits said in groups.
    """
    parts: list[tuple[int, int, str, bool, bool]] = []  # (begin, end, digits, compound, one digit) of each value
    spoken = False  # a digit said as a word, or Korean syllables

    def number() -> Iterator[list]:
        if parts:
            compound = any(p[3] for p in parts)
            one_by_one = (spoken or all(p[4] for p in parts)) and not compound
            yield [parts[0][0], parts[-1][1], "".join(p[2] for p in parts),
                   bool(run_plus), one_by_one, compound and len(parts) == 1]
        parts.clear()

    i, repeat, begin, run_plus = 0, 1, None, False
    while i < len(run):
        m = run[i]
        if m["double"]:
            repeat = 2 if m["double"].lower() == "double" else 3
            begin = m.start() if begin is None else begin
            i += 1
            continue
        if m["digits"]:
            part, compound, one, j = m["digits"], False, len(m["digits"]) == 1, i + 1
        elif m["ko"]:
            part, compound, one, j = "".join(_KO[c] for c in m["ko"]), False, False, i + 1
            spoken = True
        else:
            said = _cardinal(run, i)
            if said is None:  # "hundred", "and" or "a" that goes with no number: the number ends here
                yield from number()
                spoken, repeat, begin = False, 1, None
                i += 1
                continue
            (value, j, compound), one = said, not said[2]
            part, spoken = str(value), spoken or one
        if repeat > 1:
            part = part[0] * (repeat - 1) + part
        if not parts:
            run_plus = bool(m["digits"] and m["plus"])
        parts.append((m.start() if begin is None else begin, run[j - 1].end(), part, compound, one))
        repeat, begin, i = 1, None, j
    yield from number()


def _number_runs(text: str, skip: Sequence[tuple[int, int]] = ()) -> Iterator[tuple[int, int, str, bool, bool, bool]]:
    """(begin, end, digits, plus, one_by_one, quantity) of each run of number tokens, none inside ``skip``.

    ``one_by_one``: every digit was said (or written by Whisper) on its own: "four five", "4, 5".
    ``quantity``: one value said in words ("two thousand twenty six"): see :func:`_read`.
    """
    spans: list[list[int]] = []
    for b, e in sorted(skip):
        if spans and b <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], e)
        else:
            spans.append([b, e])
    skip_starts, skip_ends = [b for b, _ in spans], [e for _, e in spans]
    runs: list[list] = []  # [begin, end, digits, plus, one_by_one, quantity]
    run: list[re.Match] = []

    def flush() -> None:
        if run:
            runs.extend(_read(run))

    for m in _TOKEN.finditer(text):
        at = bisect.bisect_right(skip_starts, m.start()) - 1
        if at >= 0 and m.start() < skip_ends[at]:
            flush()
            run = []
            continue
        if m["word"] and m["word"].lower() in ("oh", "o") and not run:
            continue  # "oh" starts a sentence far more often than a number
        if m["amount"]:  # an amount: only context words ("my PIN is 1,234") make it PII
            flush()
            run = []
            runs.append([m.start(), m.end(), m["amount"].replace(",", ""), False, False, True])
            continue
        if run and not _GAP.match(text[run[-1].end():m.start()]):
            flush()
            run = []
        run.append(m)
    flush()
    merged: list[list] = []
    for r in runs:
        prev = merged[-1] if merged else None
        if prev and prev[4] and r[4] and not prev[3] and not r[3] and _BRIDGE.match(text[prev[1]:r[0]]):
            prev[1], prev[2] = r[1], prev[2] + r[2]
        else:
            merged.append(r)
    for begin, end, digits, plus, one_by_one, quantity in merged:
        yield begin, end, digits, plus, one_by_one, quantity


def _context(text: str, keywords: list[tuple[str, int, int]], starts: list[int], begin: int, end: int,
             digits: str) -> list[tuple[str, int, int]]:
    """(kind, begin, number of digits) the number at ``begin:end`` may be read as, from the context words
    around it (a leading "oh" counted: a second reading, one digit longer).

    ``keywords``: (kind, begin, end) of every context word in ``text`` that takes short numbers, in
    order; ``starts``: their begins.
    """
    candidates: list[tuple[str, int, int]] = []
    i = bisect.bisect_right(starts, begin) - 1
    while i >= 0 and keywords[i][2] > begin:
        i -= 1
    if i >= 0:
        kind, _, kw_end = keywords[i]
        lead = _LEAD_OH.search(text, max(kw_end, begin - 12), begin)
        stop = lead.start() if lead else begin
        if stop - kw_end <= _WINDOW_CHARS and len(_WORD.findall(text, kw_end, stop)) <= _WINDOW_WORDS:
            candidates += [(kind, lead.start(), len(digits) + 1)] if lead else []
            candidates.append((kind, begin, len(digits)))
    back = _BACK.match(text, end, end + 60)
    if back:
        at = bisect.bisect_left(starts, back.end())  # "is my PIN", "that's the card security code"
        if at < len(starts) and starts[at] - back.end() < 20 and len(_WORD.findall(text, back.end(), starts[at])) <= 1:
            candidates.append((keywords[at][0], begin, len(digits)))
    return candidates


def _context_kind(candidates: list[tuple[str, int, int]]) -> tuple[str, int] | None:
    """The first of the :func:`_context` readings whose kind takes that many digits, and where it begins."""
    for kind, start, n in candidates:
        low, high = _CONTEXT_DIGITS[kind]
        if low <= n <= high:
            return kind, start
    return None


def _is_date(m: re.Match) -> bool:
    """A :data:`_DATE` match that is a real date (year-month-day, or month/day or day/month then year)."""
    if m["y"]:
        readings = [(int(m["y"]), int(m["m"]), int(m["d"]))]
    else:
        readings = [(int(m["y2"]), int(m["a"]), int(m["b"])), (int(m["y2"]), int(m["b"]), int(m["a"]))]
    for y, mo, d in readings:
        try:
            date(y, mo, d)
            return True
        except ValueError:
            pass
    return False


def _merge(findings: list[Finding]) -> list[Finding]:
    """Overlapping findings as one (the first one's kind), covering them all."""
    merged: list[Finding] = []
    for f in sorted(findings, key=lambda f: (f.begin, -f.end)):
        if merged and f.begin < merged[-1].end:
            if f.end > merged[-1].end:
                merged[-1] = Finding(merged[-1].kind, merged[-1].begin, f.end)
            continue
        merged.append(f)
    return merged


def find_pii(text: str, context: str = "") -> list[Finding]:
    """PII in ``text``. ``context``: text said just before (a previous turn, an attribute's name)
    whose context words apply to the start of ``text``; nothing in it is reported."""
    if context:
        sep = "\n|\n"  # breaks runs of numbers and e-mail addresses
        shift = len(context) + len(sep)
        return [Finding(f.kind, max(f.begin, shift) - shift, f.end - shift)
                for f in find_pii(context + sep + text) if f.end > shift]
    findings = [Finding("EMAIL", m.start(), m.end()) for m in _EMAIL.finditer(text)
                if _TLD.search(m[0])]  # "meet me @ 9.30" is a time
    findings += [Finding("EMAIL", m.start(), m.end()) for m in _SPOKEN_EMAIL.finditer(text)]
    keywords = sorted(((kind, m.start(), m.end()) for kind, rx in _CONTEXT.items() for m in rx.finditer(text)),
                      key=lambda k: k[1])
    for kind, _, kw_end in keywords:
        if kind == "CREDIT_DEBIT_EXPIRY":
            for m in _EXPIRY_VALUE.finditer(text, kw_end, min(len(text), kw_end + _WINDOW_CHARS)):
                if len(_WORD.findall(text[kw_end:m.start()])) <= _WINDOW_WORDS:
                    findings.append(Finding(kind, m.start(), m.end()))
                break
    skip = [(f.begin, f.end) for f in findings] + [(b, e) for _, b, e in keywords]
    skip += [m.span() for m in _DATE.finditer(text) if _is_date(m)]
    short = [k for k in keywords if k[0] in _CONTEXT_DIGITS]
    starts = [b for _, b, _ in short]
    for begin, end, digits, plus, one_by_one, quantity in _number_runs(text, skip):
        context = _context(text, short, starts, begin, end, digits) if short else []
        near = _context_kind(context)
        if near:
            findings.append(Finding(near[0], near[1], end))
            continue
        kind = _classify(digits, text[begin:end], plus, one_by_one, quantity)
        lead = _OH_BEFORE.search(text, max(0, begin - 8), begin) if one_by_one and not quantity else None
        if lead and _classify("0" + digits, text[lead.start():end], plus, one_by_one):
            # "oh two one, oh oh oh, ...": the "oh" that starts a spoken number is its first digit
            begin, kind = lead.start(), _classify("0" + digits, text[lead.start():end], plus, one_by_one)
        if kind == "PHONE" and not plus and any(c[0] == "ACCOUNT_NUMBER" for c in context):
            kind = "ACCOUNT_NUMBER"  # "routing number 021000021", "account number 0123456789"
        if kind:
            findings.append(Finding(kind, begin, end))
    return _merge(findings)


def redact(text: str, mask: Mask = "type", detector: Callable[[str], list[Finding]] | None = None,
           context: str = "") -> tuple[str, list[Finding]]:
    """``text`` with every finding replaced by ``[TYPE]`` (or ``[PII]``), and the findings.

    ``detector`` adds a service's findings (Comprehend's ``detect_pii_entities``) to this module's.
    ``context``: the text said just before (see :func:`find_pii`).
    """
    findings = find_pii(text, context)
    if detector is not None:
        findings = _merge(findings + detector(text))
    out = text
    for f in reversed(findings):
        out = out[:f.begin] + (f"[{f.kind}]" if mask == "type" else "[PII]") + out[f.end:]
    return out, findings


def redact_turns(texts: Sequence[str], mask: Mask = "type",
                 detector: Callable[[str], list[Finding]] | None = None) -> list[str]:
    """Each turn redacted with the turn before it as context ("The security code?" / "4 5 6.")."""
    return [redact(t, mask, detector, texts[i - 1] if i else "")[0] for i, t in enumerate(texts)]


def redact_attribute(name: str, value: str, mask: Mask = "type") -> str:
    """A contact attribute's value, redacted with its name as context (``cvv`` = ``123``, ``cardExpiry``)."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|[_\-.:]+", " ", name)
    return redact(value, mask, context=words)[0]


def mask_for(settings: Settings) -> Mask | None:
    """The mask redaction uses under ``settings``; None when ``AFTERCALL_REDACT_PII`` is off."""
    return settings.pii_mask if settings.redact_pii else None
