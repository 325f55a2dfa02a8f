"""The one place that turns settings into adapters: local (offline) or AWS."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, Protocol

from pipeline.ports import RecordingSource, SentimentAnalyzer, Transcriber
from pipeline.settings import Settings
from pipeline.lake.storage import LocalStore, S3Store, Store

log = logging.getLogger(__name__)

__all__ = ["Components", "Lake", "aws_client", "build_components", "build_lake", "build_sentiment", "build_source", "build_store"]


@dataclass(frozen=True, slots=True)
class Components:
    source: RecordingSource
    transcriber: Transcriber | None
    sentiment: SentimentAnalyzer | None
    pii_mask: Literal["type", "pii"] | None = None  # None: no redaction
    keep_raw_text: bool = True
    pii_detector: Callable[[str], list] | None = None  # a service's detector, on top of pipeline.analytics.pii


class Lake(Protocol):
    def day_lock(self, dt: Any, run_id: str | None = None) -> Any: ...
    def write_partition(self, table: str, dt: Any, rows: Any) -> Any: ...
    def write_partitions(self, dt: Any, tables: Any, run_id: str | None = None, attempt_id: str | None = None) -> Any: ...
    def read_partition(self, table: str, dt: Any) -> Any: ...
    def append_run(self, dt: Any, attempt: str, row: Any) -> Any: ...
    def committed_attempt(self, dt: Any) -> str | None: ...
    def recover_pending(self) -> list[str]: ...


@lru_cache(maxsize=4)
def _session(settings: Settings):
    """Inside Airflow with AFTERCALL_AWS_CONN_ID: the connection's session (the provider's S3Hook)."""
    if settings.aws_conn_id:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(aws_conn_id=settings.aws_conn_id, region_name=settings.aws_region).get_session()
    from pipeline.aws._helpers import session

    return session(settings)


def aws_client(settings: Settings, service: str):
    from pipeline.aws._helpers import client

    return client(_session(settings), service, settings)


def build_source(settings: Settings) -> RecordingSource:
    if settings.source_is_s3:
        from pipeline.aws.s3_source import S3Source

        return S3Source(aws_client(settings, "s3"), settings.source, timezone=settings.timezone)
    from pipeline.adapters.local_source import LocalSource

    return LocalSource(settings.require_local_source(), settings.timezone)


def build_lake(settings: Settings) -> Lake:
    if settings.lake_is_s3:
        from pipeline.aws.lake import S3Lake

        return S3Lake(settings, _session(settings), aws_client(settings, "glue"), aws_client(settings, "s3"))
    from pipeline.lake.tables import LocalLake

    return LocalLake(settings.lake, lock_wait_s=settings.lock_wait_s)


def build_store(settings: Settings, root: str | None = None) -> Store:
    """The store of the lake (staging), or of any other ``root`` (a folder or an s3:// prefix)."""
    on_s3 = (root or settings.lake).startswith("s3://")
    return S3Store(aws_client(settings, "s3"), settings.kms_key_id) if on_s3 else LocalStore()


def build_sentiment(settings: Settings) -> SentimentAnalyzer:
    if settings.engine == "aws":
        from pipeline.aws.comprehend import ComprehendSentiment
        from pipeline.steps.sentiment_cache import CachedSentiment

        comprehend = ComprehendSentiment(aws_client(settings, "comprehend"), price_per_unit=settings.price_comprehend_unit,
                                         max_tps=settings.task_comprehend_tps, throttle_wait_s=settings.throttle_wait_s)
        prefix = f"{settings.transcripts_prefix.rstrip('/')}/_sentiment"
        return CachedSentiment(comprehend, build_store(settings, prefix), prefix)
    if not settings.language_code.lower().startswith("en"):
        from pipeline.adapters.no_sentiment import NoSentiment

        log.warning("no local sentiment engine reads %s: sentiment is left empty (sentiment_engine 'none')",
                    settings.language_code)
        return NoSentiment()
    from pipeline.adapters.vader import VaderSentiment

    return VaderSentiment()


def build_components(settings: Settings, *, cpu_threads: int = 1) -> Components:
    """Source, transcriber and sentiment engine for ``settings`` (models and clients are made here, once)."""
    source = build_source(settings)
    if not settings.transcribe:
        return Components(source, None, None)
    # Redaction runs on both engines, after Transcribe's own where it has one: ko-KR has none.
    pii = {"pii_mask": settings.pii_mask if settings.redact_pii else None,
           "keep_raw_text": settings.pii_raw == "separate"}
    if settings.engine == "aws":
        from pipeline.aws.comprehend import PII_LANGUAGES, ComprehendPiiDetector, comprehend_language
        from pipeline.aws.transcribe import REDACTION_LANGUAGES, TranscribeTranscriber

        if settings.redact_pii and settings.language_code not in REDACTION_LANGUAGES \
                and comprehend_language(settings.language_code) in PII_LANGUAGES:
            pii["pii_detector"] = ComprehendPiiDetector(aws_client(settings, "comprehend"), settings.language_code)
        return Components(
            source,
            TranscribeTranscriber(aws_client(settings, "transcribe"), aws_client(settings, "s3"), settings),
            build_sentiment(settings),
            **pii,
        )
    from pipeline.adapters.whisper import WhisperTranscriber

    transcriber = WhisperTranscriber(
        settings.whisper_model,
        language_code=settings.language_code,
        beam_size=settings.whisper_beam_size,
        cpu_threads=cpu_threads,
        prompt=settings.vocabulary_phrases.prompt if settings.vocabulary_phrases else None,
    )
    return Components(source, transcriber, build_sentiment(settings), **pii)
