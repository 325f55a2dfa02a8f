"""Word error rate for tests and the benchmark: Levenshtein distance over normalised words.

Normalisation, as speech-recognition evaluations do it (cf. Whisper's English normaliser), so
that spelling choices are not counted as errors: lower case, no punctuation or apostrophes,
British/American -ise/-ize and -our/-or alike, and numerals spoken the way the scripts write
them. Whisper prints "42", "£42.15", "12th" and "1,240" where a speaker says "forty two",
"forty two pounds fifteen", "twelfth", "one thousand two hundred and forty". Numbers of four
or more digits without separators (account numbers, card endings) are read digit by digit.
"""

from __future__ import annotations

import re

_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen " \
        "seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ORDINAL = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth", "nine": "ninth",
            "twelve": "twelfth", "twenty": "twentieth", "thirty": "thirtieth"}
_CURRENCY = {"$": ("dollars", "cents"), "£": ("pounds", ""), "€": ("euros", "cents")}


def _cardinal(n: int) -> list[str]:
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10]] + ([_ONES[n % 10]] if n % 10 else [])
    if n < 1000:
        rest = _cardinal(n % 100) if n % 100 else []
        return [_ONES[n // 100], "hundred"] + (["and", *rest] if rest else [])
    if n < 1_000_000:
        rest = _cardinal(n % 1000) if n % 1000 else []
        return _cardinal(n // 1000) + ["thousand"] + ((["and"] if n % 1000 < 100 else []) + rest if rest else [])
    return [_ONES[int(d)] for d in str(n)]


def _ordinal(n: int) -> list[str]:
    words = _cardinal(n)
    last = words[-1]
    words[-1] = _ORDINAL.get(last, last + "th")
    return words


def _number(match: re.Match) -> str:
    symbol, digits, decimals, suffix = match.group(1), match.group(2), match.group(3), match.group(4)
    grouped = "," in digits
    plain = digits.replace(",", "")
    if suffix:
        return " ".join(_ordinal(int(plain)))
    if len(plain) >= 4 and not grouped:
        words = [_ONES[int(d)] for d in plain]
    else:
        words = _cardinal(int(plain))
    if symbol:
        unit, cents = _CURRENCY[symbol]
        words.append(unit)
        if decimals:
            words += _cardinal(int(decimals[1:])) + ([cents] if cents else [])
    elif decimals:
        words += ["point", *(_ONES[int(d)] for d in decimals[1:])]
    return f" {' '.join(words)} "


def normalise(text: str) -> list[str]:
    text = text.lower().replace("'", "").replace("’", "")
    text = re.sub(r"([$£€]?)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(st|nd|rd|th)?\b", _number, text)
    text = re.sub(r"is(e|ed|es|ing|ation)\b", r"iz\1", text)
    text = re.sub(r"(\w{3,})our\b", r"\1or", text)
    return re.findall(r"[a-z]+", text)


def wer(reference: str, hypothesis: str) -> float:
    ref = normalise(reference)
    return edit_distance(ref, normalise(hypothesis)) / max(1, len(ref))


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance between two token lists (words, or characters for Korean)."""
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1]


def phrase_hits(reference: str, hypothesis: str, phrases: list[str] | tuple[str, ...]) -> tuple[int, int]:
    """(occurrences of the phrases in the reference, how many of them the hypothesis has), normalised as :func:`wer`.

    Counted per phrase: a phrase said twice and heard once is one of two. Where a phrase lies
    inside another (``plan`` in ``international plan``) each counts on its own. This is the
    vocabulary words' recognition; 1 minus its ratio is their error rate.
    """
    ref, hyp = normalise(reference), normalise(hypothesis)
    said = heard = 0
    for phrase in phrases:
        words = normalise(phrase)
        if not words:
            continue
        n = len(words)
        in_ref = sum(ref[i:i + n] == words for i in range(len(ref) - n + 1))
        in_hyp = sum(hyp[i:i + n] == words for i in range(len(hyp) - n + 1))
        said += in_ref
        heard += min(in_ref, in_hyp)
    return said, heard
