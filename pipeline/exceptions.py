"""Typed errors. Each carries what an on-call engineer needs: which recording or job, and why."""

from __future__ import annotations

__all__ = ["AftercallError", "BadRecording", "ConfigurationError", "DayFailed", "DayLocked", "FormError", "InfrastructureError", "LakeError",
           "LakeZoneMismatch",
           "SentimentError", "TranscriptionError", "WorkerLost"]


class AftercallError(Exception):
    """Base class of every error aftercall raises on purpose."""


class ConfigurationError(AftercallError):
    """Settings that make a run impossible (unknown engine, missing source, bad date)."""


class FormError(ConfigurationError):
    """An evaluation form that cannot be used: ``file`` names it, ``question`` the question at fault (None for the
    form as a whole), ``reason`` says what is wrong in one sentence. Nothing is scored with a refused form."""

    def __init__(self, file: object, question: str | None, reason: str) -> None:
        where = f"question {question!r}" if question else "form"
        super().__init__(f"evaluation form {file}: {where}: {reason}")
        self.file = str(file)
        self.question = question
        self.reason = reason


class LakeZoneMismatch(ConfigurationError):
    """``AFTERCALL_TIMEZONE`` differs from the zone the lake's days were cut in: its ``dt`` partitions are days in
    ``lake_zone``, and mixing in days of ``zone`` would file calls under two different days. Nothing is written."""

    def __init__(self, lake: str, lake_zone: str, zone: str, how: str) -> None:
        super().__init__(
            f"the lake {lake} holds days in {lake_zone} ({how}), but AFTERCALL_TIMEZONE={zone}: refusing to mix "
            f"days of two zones in one lake. Either set AFTERCALL_TIMEZONE={lake_zone} again, or start a new lake "
            f"for {zone} (AFTERCALL_LAKE=<a new folder or s3:// prefix>) and rerun or backfill the days you need "
            f"there from the recordings, which are never changed; aftercall has no in-place re-partitioning")
        self.lake = lake
        self.lake_zone = lake_zone
        self.zone = zone


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


class InfrastructureError(AftercallError):
    """Not the recording's fault: a service, an engine or a worker failed. The task fails and is retried;
    nothing is quarantined. ``stage`` names the step, ``uri`` the recording being worked on (if any)."""

    def __init__(self, stage: str, reason: str, uri: str | None = None) -> None:
        super().__init__(f"{stage}: {reason}" + (f" (while on {uri})" if uri else ""))
        self.stage = stage
        self.reason = reason
        self.uri = uri


class WorkerLost(InfrastructureError):
    """A worker process died (native crash, OOM killer, a model that could not load)."""

    def __init__(self, in_flight: list[str]) -> None:
        super().__init__("worker", f"a worker process died with {len(in_flight)} recording(s) in flight; "
                                   "the batch fails so the orchestrator retries it")
        self.in_flight = in_flight


class DayFailed(AftercallError):
    """The day cannot be committed (e.g. every recording of a non-empty day failed); the lake is unchanged."""

    def __init__(self, day, reason: str) -> None:
        super().__init__(f"{day}: {reason}; the committed day was left unchanged")
        self.day = day
        self.reason = reason


class DayLocked(AftercallError):
    """Another writer holds the day; this one waited ``waited_s`` seconds and changed nothing."""

    def __init__(self, day, holder: str, waited_s: float) -> None:
        super().__init__(f"{day} is being written by {holder}; waited {waited_s:.0f} s "
                         "(AFTERCALL_LOCK_WAIT_S) and changed nothing")
        self.day = day
        self.holder = holder
        self.waited_s = waited_s
