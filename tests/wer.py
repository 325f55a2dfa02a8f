"""Word error rate for tests: Levenshtein distance over normalised words."""

from __future__ import annotations

import re

_DIGITS = dict(enumerate("zero one two three four five six seven eight nine".split()))


def normalise(text: str) -> list[str]:
    text = text.lower().replace("'", "")
    text = re.sub(r"\d", lambda m: f" {_DIGITS[int(m.group())]} ", text)
    return re.findall(r"[a-z]+", text)


def wer(reference: str, hypothesis: str) -> float:
    ref, hyp = normalise(reference), normalise(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1] / max(1, len(ref))
