"""Amazon Comprehend behind the SentimentAnalyzer port.

``batch_detect_sentiment`` takes at most 25 texts a call, each at most 5,000 bytes of UTF-8.
Longer turns are split at word boundaries and their chunks' scores combined, weighted by
each chunk's length; the label is then the highest combined score. Items listed in the
response's ``ErrorList`` are retried with backoff. Calls are paced at this task's share of the
account's rate (``AFTERCALL_COMPREHEND_QUOTA_TPS`` / ``AFTERCALL_AWS_TASKS``); throttling of a call is
retried by botocore's adaptive mode (see :func:`pipeline.aws._helpers.client`), then waited out
(``AFTERCALL_THROTTLE_WAIT_S``). What still fails raises :class:`SentimentError`, and the call is
quarantined.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

from pipeline.exceptions import ConfigurationError, SentimentError
from pipeline.ports import SentimentAnalyzer, SentimentResult

__all__ = ["MAX_BATCH", "MAX_BYTES", "PII_LANGUAGES", "ComprehendPiiDetector", "ComprehendSentiment",
           "comprehend_language", "split_text"]

log = logging.getLogger(__name__)

MAX_BATCH = 25
MAX_BYTES = 5000
UNIT_CHARS, MIN_UNITS = 100, 3  # billed per 100 characters, at least 3 units per text
PII_LANGUAGES = frozenset({"en", "es"})  # DetectPiiEntities: "en | es" (API reference)
_THROTTLED = frozenset({"ThrottlingException", "TooManyRequestsException", "LimitExceededException"})
_SUPPORTED = frozenset({"en", "es", "fr", "de", "it", "pt", "ar", "hi", "ja", "ko", "zh", "zh-TW"})


def comprehend_language(language_code: str) -> str:
    """Transcribe's ``en-US`` / ``ko-KR`` ... to Comprehend's ``en`` / ``ko`` ..."""
    code = "zh-TW" if language_code in ("zh-TW", "zh-HK") else language_code.split("-")[0].lower()
    if code not in _SUPPORTED:
        raise ConfigurationError(f"Comprehend has no sentiment model for {language_code}")
    return code


def split_text(text: str, limit: int = MAX_BYTES) -> list[str]:
    """Chunks of at most ``limit`` UTF-8 bytes, cut between words where possible."""
    if len(text.encode()) <= limit:
        return [text]
    chunks: list[str] = []
    current = ""
    for word in text.split():
        while len(word.encode()) > limit:  # one "word" longer than the limit: cut it at a character boundary
            head = word.encode()[:limit].decode(errors="ignore")
            if current:
                chunks.append(current)
                current = ""
            chunks.append(head)
            word = word[len(head):]
        candidate = f"{current} {word}" if current else word
        if len(candidate.encode()) > limit:
            chunks.append(current)
            current = word
        else:
            current = candidate
    if current:
        chunks.append(current)
    return chunks


def _result(item: dict[str, Any]) -> SentimentResult:
    s = item["SentimentScore"]
    return SentimentResult(item["Sentiment"], round(s["Positive"], 4), round(s["Negative"], 4),
                           round(s["Neutral"], 4), round(s["Mixed"], 4))


def _combine(parts: list[tuple[SentimentResult, int]]) -> SentimentResult:
    if len(parts) == 1:
        return parts[0][0]
    total = sum(w for _, w in parts) or 1
    scores = {k: round(sum(getattr(r, k) * w for r, w in parts) / total, 4)
              for k in ("positive", "negative", "neutral", "mixed")}
    label = max(scores, key=scores.__getitem__).upper()
    return SentimentResult(label, **scores)  # type: ignore[arg-type]


class ComprehendSentiment(SentimentAnalyzer):
    name = "amazon-comprehend"

    def __init__(self, client: Any, *, price_per_unit: float = 0.0001, item_attempts: int = 4,
                 backoff_s: float = 0.5, max_tps: float | None = None, throttle_wait_s: float = 3600.0,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.price_per_unit = price_per_unit
        self.item_attempts = item_attempts
        self.backoff_s = backoff_s
        # This task's share of the account's BatchDetectSentiment rate (Settings.task_comprehend_tps).
        self._interval = 1.0 / max_tps if max_tps else 0.0
        self.throttle_wait_s = throttle_wait_s
        self._sleep, self._clock = sleep, clock
        self._last_call: float | None = None
        self.calls = 0
        self.throttled = 0

    def _batch(self, texts: list[str], language: str) -> dict[str, Any]:
        """One BatchDetectSentiment call at this task's rate; throttling that outlasts botocore's retries waits."""
        waited = 0.0
        while True:
            if self._last_call is not None and self._interval:
                gap = self._last_call + self._interval - self._clock()
                if gap > 0:
                    self._sleep(gap)
            self._last_call = self._clock()
            self.calls += 1
            try:
                return self.client.batch_detect_sentiment(TextList=texts, LanguageCode=language)
            except self.client.exceptions.ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code not in _THROTTLED or waited >= self.throttle_wait_s:
                    raise
                self.throttled += 1
                pause = min(60.0, 2.0 ** min(self.throttled, 6))
                log.warning("Comprehend is throttling (%s): trying again in %.0f s", code, pause)
                self._sleep(pause)
                waited += pause

    def analyze(self, texts: list[str], language_code: str) -> list[SentimentResult]:
        language = comprehend_language(language_code)
        chunks: list[tuple[int, str]] = [(i, c) for i, t in enumerate(texts) if t.strip() for c in split_text(t)]
        scored = self._detect([c for _, c in chunks], language)
        parts: dict[int, list[tuple[SentimentResult, int]]] = {}
        for (index, chunk), result in zip(chunks, scored, strict=True):
            parts.setdefault(index, []).append((result, len(chunk.encode())))
        neutral = SentimentResult("NEUTRAL", 0.0, 0.0, 1.0, 0.0)  # Comprehend refuses empty text
        return [_combine(parts[i]) if i in parts else neutral for i in range(len(texts))]

    def _detect(self, docs: list[str], language: str) -> list[SentimentResult]:
        out: list[SentimentResult | None] = [None] * len(docs)
        for offset in range(0, len(docs), MAX_BATCH):
            todo = list(range(offset, min(offset + MAX_BATCH, len(docs))))
            for attempt in range(self.item_attempts):
                response = self._batch([docs[i] for i in todo], language)
                for item in response["ResultList"]:
                    out[todo[item["Index"]]] = _result(item)
                errors = response.get("ErrorList") or []
                if not errors:
                    break
                log.warning("Comprehend refused %d of %d texts (%s); retrying", len(errors), len(todo),
                            ", ".join(sorted({e["ErrorCode"] for e in errors})))
                failed = [todo[e["Index"]] for e in errors]
                if attempt == self.item_attempts - 1:
                    first = errors[0]
                    raise SentimentError(f"{len(failed)} texts failed after {self.item_attempts} attempts: "
                                         f"{first['ErrorCode']}: {first.get('ErrorMessage', '')}")
                todo = failed
                self._sleep(self.backoff_s * 2**attempt)
        return out  # type: ignore[return-value]

    def cost(self, texts: list[str]) -> tuple[int, float]:
        units = sum(max(MIN_UNITS, math.ceil(len(c) / UNIT_CHARS)) for t in texts if t.strip() for c in split_text(t))
        return units, round(units * self.price_per_unit, 6)


class ComprehendPiiDetector:
    """``detect_pii_entities`` as a detector for :func:`pipeline.analytics.pii.redact` (English and Spanish only)."""

    def __init__(self, client: Any, language_code: str, min_score: float = 0.5) -> None:
        self.client = client
        self.language = comprehend_language(language_code)
        if self.language not in PII_LANGUAGES:
            raise ConfigurationError(f"Comprehend detects PII in English and Spanish only, not {language_code}")
        self.min_score = min_score

    def __call__(self, text: str) -> list:
        from pipeline.analytics.pii import Finding

        if not text.strip():
            return []
        found = []
        offset = 0
        for chunk in split_text(text, MAX_BYTES):  # character offsets are per chunk
            start = text.index(chunk, offset)
            entities = self.client.detect_pii_entities(Text=chunk, LanguageCode=self.language)["Entities"]
            found += [Finding(e["Type"], start + e["BeginOffset"], start + e["EndOffset"])
                      for e in entities if e.get("Score", 1.0) >= self.min_score]
            offset = start + len(chunk)
        return found
