"""Sentiment results cached by what decides them, so a rerun or a backfill never pays a paid engine twice.

The key is the SHA-256 of (engine, language, the call's turn texts in order): the same transcript
analysed by the same engine in the same language is answered from the cache; a changed text
(another transcript, redaction switched on), engine or language is analysed again. One object per
call, ``<prefix>/<engine>/<language>/<hash>.json``, beside the transcript cache and encrypted like
everything else the store writes.
"""

from __future__ import annotations

import hashlib
import json
import logging

from pipeline.ports import SentimentAnalyzer, SentimentResult
from pipeline.lake.storage import Store

__all__ = ["CachedSentiment"]

log = logging.getLogger(__name__)


class CachedSentiment(SentimentAnalyzer):
    """Wraps an engine; ``store`` and ``prefix`` say where results are kept (an s3:// prefix on AWS)."""

    def __init__(self, inner: SentimentAnalyzer, store: Store, prefix: str) -> None:
        self.inner, self.store, self.prefix = inner, store, prefix.rstrip("/")
        self.name = inner.name
        self.hits = self.misses = 0

    def key(self, texts: list[str], language_code: str) -> str:
        digest = hashlib.sha256(json.dumps([self.name, language_code, texts], ensure_ascii=False).encode()).hexdigest()
        return f"{self.prefix}/{self.name}/{language_code}/{digest}.json"

    def analyze(self, texts: list[str], language_code: str) -> list[SentimentResult]:
        key = self.key(texts, language_code)
        cached = self.store.read_if_exists(key)
        if cached is not None:
            self.hits += 1
            return [SentimentResult(*row) for row in json.loads(cached)]
        self.misses += 1
        results = self.inner.analyze(texts, language_code)
        self.store.write_bytes(key, json.dumps([[r.label, r.positive, r.negative, r.neutral, r.mixed]
                                                for r in results]).encode())
        return results

    def cost(self, texts: list[str]) -> tuple[int, float]:
        """What the call's analysis cost when it was made (cached or not: the call's cost, like its minutes)."""
        return self.inner.cost(texts)
