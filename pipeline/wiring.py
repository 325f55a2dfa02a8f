"""The one place that turns settings into adapters."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.exceptions import ConfigurationError
from pipeline.ports import RecordingSource, SentimentAnalyzer, Transcriber
from pipeline.settings import Settings

__all__ = ["Components", "build_components", "build_source"]


@dataclass(frozen=True, slots=True)
class Components:
    source: RecordingSource
    transcriber: Transcriber | None
    sentiment: SentimentAnalyzer | None


def build_source(settings: Settings) -> RecordingSource:
    if settings.source_is_s3:
        raise ConfigurationError("AFTERCALL_SOURCE on S3 needs the AWS backend, which is not built yet")
    from pipeline.adapters.local_source import LocalSource

    return LocalSource(settings.require_local_source())


def build_components(settings: Settings, *, cpu_threads: int = 1) -> Components:
    """Source, transcriber and sentiment engine for ``settings`` (models are loaded here, once)."""
    if settings.engine == "aws":
        raise ConfigurationError("AFTERCALL_ENGINE=aws is not built yet; use 'local'")
    source = build_source(settings)
    if not settings.transcribe:
        return Components(source, None, None)
    from pipeline.adapters.vader import VaderSentiment
    from pipeline.adapters.whisper import WhisperTranscriber

    transcriber = WhisperTranscriber(
        settings.whisper_model,
        language_code=settings.language_code,
        beam_size=settings.whisper_beam_size,
        cpu_threads=cpu_threads,
    )
    return Components(source, transcriber, VaderSentiment())
