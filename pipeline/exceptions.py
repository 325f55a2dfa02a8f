"""Typed errors. Each carries what an on-call engineer needs: which recording or job, and why."""

from __future__ import annotations

__all__ = ["AftercallError", "BadRecording", "ConfigurationError", "LakeError", "SentimentError", "TranscriptionError"]


class AftercallError(Exception):
    """Base class of every error aftercall raises on purpose."""


class ConfigurationError(AftercallError):
    """Settings that make a run impossible (unknown engine, missing source, bad date)."""


class BadRecording(AftercallError):
    """A recording that cannot be processed; it is quarantined, the night goes on.

    ``stage`` names the step that refused it (``decode``, ``audio``, ``transcribe``...),
    ``reason`` is one human sentence that lands in the ``failures`` table.
    """

    def __init__(self, uri: str, stage: str, reason: str) -> None:
        super().__init__(f"{uri}: {stage}: {reason}")
        self.uri = uri
        self.stage = stage
        self.reason = reason


class TranscriptionError(AftercallError):
    """A speech-to-text job failed. ``job_id`` is the engine's job name, if it has one."""

    def __init__(self, job_id: str | None, reason: str) -> None:
        super().__init__(f"{job_id or 'transcription'}: {reason}")
        self.job_id = job_id
        self.reason = reason


class LakeError(AftercallError):
    """Writing or switching a lake partition failed; the previous version stays visible."""

    def __init__(self, table: str, dt: str, reason: str) -> None:
        super().__init__(f"{table}/dt={dt}: {reason}")
        self.table = table
        self.dt = dt
        self.reason = reason


class SentimentError(AftercallError):
    """The sentiment engine refused texts even after retries; the call is quarantined."""
