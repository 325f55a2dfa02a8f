"""Configuration from ``AFTERCALL_*`` environment variables (pydantic-settings), overridable by CLI flags."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.exceptions import ConfigurationError

__all__ = ["Settings", "load_settings", "SAMPLES_DIR", "ROOT_VOCABULARY_EXAMPLE"]

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
MAX_CALL_GAP_S = 600.0  # the slowest per-task rate of AWS calls a run accepts: one call every 10 minutes
ROOT_VOCABULARY_EXAMPLE = Path(__file__).resolve().parent.parent / "vocabulary" / "sample.txt"  # for the samples


class Settings(BaseSettings):
    """Every knob of a run. Defaults give the embedded, offline pipeline over the bundled samples."""

    # No inf or nan anywhere: workers receive the settings as JSON, which has neither (inf arrived as null).
    model_config = SettingsConfigDict(env_prefix="AFTERCALL_", extra="ignore", frozen=True, allow_inf_nan=False)

    source: str = Field(default=str(SAMPLES_DIR), description="Recordings root (local folder or s3://bucket/prefix)")
    lake: str = Field(default="lake", description="Lake root (local folder or s3://bucket/prefix)")
    engine: Literal["local", "aws"] = "local"
    timezone: str = Field(default="UTC", description="The contact centre's IANA time zone (Asia/Seoul, ...): a run's "
                          "day, the lake's dt partitions and the DAG's schedule are days in this zone")
    agent_channel: int = Field(default=1, ge=0, le=1, description="0 = left, 1 = right (Amazon Connect: agent right)")
    transcribe: bool = Field(default=True, description="False: acoustic metrics only, no speech-to-text")
    whisper_model: str = Field(default="base", description="base (multilingual), tiny.en or a CTranslate2 model folder")
    whisper_beam_size: int = Field(default=1, ge=1, le=10)
    language_code: str = "en-US"
    vocabulary: str | None = Field(default=None, description="Custom vocabulary file: brand, product, plan and agent "
                                   "names, one a line (pipeline/steps/vocabulary.py); off by default")
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1, le=64)
    max_call_minutes: float = Field(default=240.0, gt=0, le=24 * 60, description="Longer recordings (by their "
                                    "header) are quarantined before decoding or a Transcribe job")
    worker_memory_mb: int | None = Field(default=None, ge=256, description="Address-space cap of each worker "
                                         "process (RLIMIT_AS, MB): a call needing more is quarantined; off by default")
    lock_wait_s: float = Field(default=600.0, ge=0, description="A second writer of a day waits this long for the "
                                                                "first, then stops naming it (one writer per day)")
    lock_ttl_s: float = Field(default=3600.0, ge=60, description="S3 lake: a day's lock expires after this long, so a "
                                                                 "dead holder never blocks the next night")

    # --- AWS engine (AFTERCALL_ENGINE=aws); credentials come from the usual AWS chain, never from here ---
    aws_conn_id: str | None = Field(default=None, description="Inside Airflow: the AWS connection to use")
    aws_region: str | None = Field(default=None, description="Region of every AWS call (default: the AWS chain's)")
    kms_key_id: str | None = Field(default=None, description="KMS key (id, ARN or alias) for everything written to S3")
    glue_database: str = Field(default="aftercall", pattern=r"^[a-z0-9_]{1,255}$")
    athena_workgroup: str = Field(default="aftercall", pattern=r"^[A-Za-z0-9._-]{1,128}$")
    athena_output: str | None = Field(default=None, description="s3:// prefix for Athena results (default <lake>/_athena/)")
    transcribe_output: str | None = Field(default=None,
                                          description="s3:// prefix for transcripts, the cache (default <lake>/_transcripts/)")
    transcribe_mode: Literal["standard", "call-analytics"] = "standard"
    transcribe_role_arn: str | None = Field(default=None, description="DataAccessRoleArn, needed by Call Analytics jobs")
    call_summary: bool = Field(default=False, description="Call Analytics jobs also generate a summary of the call "
                                                          "(calls.summary); needs AFTERCALL_TRANSCRIBE_MODE=call-analytics")
    transcribe_vocabulary_name: str | None = Field(default=None, pattern=r"^[0-9a-zA-Z._-]{1,200}$", description=(
        "Name of the Transcribe custom vocabulary made from AFTERCALL_VOCABULARY (default: aftercall-vocab-<hash of "
        "language and phrases>, a new name whenever the phrases change)"))
    redact_pii: bool = Field(default=False, description="Redact PII in turns.text (and Transcribe ContentRedaction where it exists)")
    pii_mask: Literal["type", "pii"] = Field(default="type", description="[CREDIT_DEBIT_NUMBER]... or [PII]")
    pii_raw: Literal["separate", "drop"] = Field(default="separate",
                                                 description="Raw text in table turns_raw, or not stored at all")
    categories: str | None = Field(default=None, description="Category rules YAML (default: the shipped rules)")
    ctr_source: str | None = Field(default=None, description="Contact trace records root: folder or s3:// (YYYY/MM/DD/...)")
    ctr_attributes: str = Field(default="", description="Contact attributes (CTR Attributes) shown as columns of "
                                                        "v_call_contacts, comma-separated: intent,customerTier")
    # Quotas are per AWS account and region, not per task: every task that calls a service at once gets an equal
    # share, and no more than ``aws_tasks`` tasks run at once (the Airflow pool AFTERCALL_AWS_POOL has that many
    # slots), so all workers together, on any number of machines, stay within the account's quotas.
    aws_tasks: int = Field(default=5, ge=1, le=250, description="AWS engine: tasks calling Transcribe and Comprehend "
                           "at once across all workers (the slots of the Airflow pool AFTERCALL_AWS_POOL); each gets "
                           "1/N of every account quota")
    transcribe_quota_jobs: int = Field(default=250, ge=1, description="Account quota: concurrent batch transcription "
                                                                      "jobs (Service Quotas, Amazon Transcribe)")
    call_analytics_quota_jobs: int = Field(default=100, ge=1, description="Account quota: concurrent Call Analytics "
                                                                          "batch jobs")
    transcribe_quota_tps: float = Field(default=25.0, gt=0, description="Account quota: StartTranscriptionJob / "
                                                                        "StartCallAnalyticsJob calls per second")
    comprehend_quota_tps: float = Field(default=10.0, gt=0, description="Account quota: BatchDetectSentiment calls "
                                                                        "per second")
    transcribe_max_concurrent: int | None = Field(default=None, ge=1, description="Jobs in flight per task (default: "
                                                  "the jobs quota / AWS_TASKS)")
    transcribe_start_tps: float | None = Field(default=None, gt=0, description="Job starts per second per task "
                                               "(default: the start quota / AWS_TASKS)")
    throttle_wait_s: float = Field(default=3600.0, gt=0, description="A call the service keeps throttling "
                                   "(LimitExceededException, ThrottlingException) waits up to this long, then fails")
    transcribe_poll_s: float = Field(default=15.0, ge=0)
    transcribe_max_attempts: int = Field(default=3, ge=1, le=10,
                                         description="Jobs per recording in all: a FAILED job is retried on later runs")
    transcribe_max_wait_s: float = Field(default=4 * 3600.0, gt=0, description="Give up on a job after this long")
    aws_max_attempts: int = Field(default=8, ge=1, le=20, description="Attempts in all per AWS call (botocore adaptive retries)")
    recordings_glacier_days: int = Field(default=180, ge=1, description="Lifecycle: recordings to Glacier after N days")
    raw_transcript_days: int = Field(default=30, ge=1, description="Lifecycle: raw Transcribe outputs (the transcript "
                                                                   "cache) expire after N days")
    quicksight_account_id: str | None = Field(default=None, description="QuickSight account (default: the caller's)")
    quicksight_principal_arn: str | None = Field(default=None, description="User or group ARN granted the assets")
    quicksight_import_mode: Literal["DIRECT_QUERY", "SPICE"] = "DIRECT_QUERY"
    quicksight_prefix: str = Field(default="aftercall", pattern=r"^[A-Za-z0-9_-]{1,40}$")
    report_link_expiry_s: int = Field(default=3600, ge=60, le=604800, description="aftercall report: recordings on "
                                      "S3 play through presigned URLs valid this long from when the report is written")
    # Prices in USD (us-east-1 list prices; see docs/aws.md, "Costs", for source and date).
    price_transcribe_minute: float = Field(default=0.024, ge=0)
    price_call_analytics_minute: float = Field(default=0.015, ge=0)
    price_comprehend_unit: float = Field(default=0.0001, ge=0)

    @field_validator("source", "lake")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from pipeline.steps.days import zone

        zone(value)  # ValueError naming the zone when the system's tz database has no such zone
        return value

    @field_validator("vocabulary")
    @classmethod
    def _vocabulary_file(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from pipeline.steps.vocabulary import load_vocabulary

        try:
            load_vocabulary(value.strip())  # a bad file stops the run here, naming the file and the line
        except ConfigurationError as exc:
            raise ValueError(str(exc).removeprefix("AFTERCALL_VOCABULARY ")) from None
        return value.strip()

    @model_validator(mode="after")
    def _aws_needs(self) -> Settings:
        writes_s3 = self.lake_is_s3 or self.engine == "aws"
        if self.engine == "aws" and not self.source_is_s3:
            raise ValueError("engine 'aws' transcribes recordings in S3: AFTERCALL_SOURCE must be s3://bucket/prefix")
        if self.engine == "aws" and not self.transcripts_prefix.startswith("s3://"):
            raise ValueError("engine 'aws' writes transcripts to S3: set AFTERCALL_TRANSCRIBE_OUTPUT or an s3:// lake")
        if writes_s3 and not self.kms_key_id:
            raise ValueError("everything written to S3 is SSE-KMS encrypted: set AFTERCALL_KMS_KEY_ID")
        if self.transcribe_mode == "call-analytics" and not self.transcribe_role_arn:
            raise ValueError("Call Analytics jobs need AFTERCALL_TRANSCRIBE_ROLE_ARN (their DataAccessRoleArn)")
        if self.call_summary and (self.engine != "aws" or self.transcribe_mode != "call-analytics"):
            raise ValueError("AFTERCALL_CALL_SUMMARY asks Transcribe Call Analytics for the summary: it needs "
                             "AFTERCALL_ENGINE=aws and AFTERCALL_TRANSCRIBE_MODE=call-analytics")
        quota = self.call_analytics_quota_jobs if self.transcribe_mode == "call-analytics" else self.transcribe_quota_jobs
        if self.transcribe_max_concurrent and self.transcribe_max_concurrent * self.aws_tasks > quota:
            raise ValueError(f"AFTERCALL_TRANSCRIBE_MAX_CONCURRENT={self.transcribe_max_concurrent} jobs per task × "
                             f"AFTERCALL_AWS_TASKS={self.aws_tasks} tasks exceeds the account's {quota} concurrent jobs")
        if self.transcribe_start_tps and self.transcribe_start_tps * self.aws_tasks > self.transcribe_quota_tps:
            raise ValueError(f"AFTERCALL_TRANSCRIBE_START_TPS={self.transcribe_start_tps:g} per task × "
                             f"AFTERCALL_AWS_TASKS={self.aws_tasks} tasks exceeds the account's "
                             f"{self.transcribe_quota_tps:g} starts per second")
        # A rate so low that a task waits longer than MAX_CALL_GAP_S between calls is a typo (0.00001 for 0.1, 1e-9),
        # not a quota: refused here, not found as a hang, or as the OverflowError of sleep(1 / 1e-320) mid-run.
        for variable, value, per_task in (
                ("AFTERCALL_TRANSCRIBE_START_TPS", self.transcribe_start_tps, self.task_transcribe_tps)
                if self.transcribe_start_tps else
                ("AFTERCALL_TRANSCRIBE_QUOTA_TPS", self.transcribe_quota_tps, self.task_transcribe_tps),
                ("AFTERCALL_COMPREHEND_QUOTA_TPS", self.comprehend_quota_tps, self.task_comprehend_tps)):
            if per_task * MAX_CALL_GAP_S < 1 - 1e-9:  # (rounding: exactly one call every 600 s is fine)
                share = "" if variable.endswith("START_TPS") else f" / AFTERCALL_AWS_TASKS={self.aws_tasks}"
                raise ValueError(f"{variable}={value:g}{share} is {per_task:.3g} calls per second per task: "
                                 f"at least one call every {MAX_CALL_GAP_S:.0f} s ({1 / MAX_CALL_GAP_S:.3g} per "
                                 "second) per task is needed")
        if quota < self.aws_tasks:
            raise ValueError(f"AFTERCALL_AWS_TASKS={self.aws_tasks} tasks cannot share {quota} concurrent jobs: "
                             "lower AFTERCALL_AWS_TASKS (and the pool's slots)")
        return self

    # --- each task's share of the account's quotas ---
    @property
    def task_transcribe_jobs(self) -> int:
        """Transcribe jobs one task may have in flight."""
        quota = self.call_analytics_quota_jobs if self.transcribe_mode == "call-analytics" else self.transcribe_quota_jobs
        return self.transcribe_max_concurrent or max(1, quota // self.aws_tasks)

    @property
    def task_transcribe_tps(self) -> float:
        """Transcribe job starts per second for one task."""
        return self.transcribe_start_tps or self.transcribe_quota_tps / self.aws_tasks

    @property
    def task_comprehend_tps(self) -> float:
        """BatchDetectSentiment calls per second for one task."""
        return self.comprehend_quota_tps / self.aws_tasks

    @property
    def vocabulary_phrases(self):
        """The checked :class:`pipeline.steps.vocabulary.Vocabulary` of AFTERCALL_VOCABULARY, or None (read once)."""
        if not self.vocabulary:
            return None
        from pipeline.steps.vocabulary import load_vocabulary

        return load_vocabulary(self.vocabulary)

    @property
    def transcribe_vocabulary(self) -> str | None:
        """The Transcribe custom vocabulary's name, or None without AFTERCALL_VOCABULARY."""
        vocabulary = self.vocabulary_phrases
        if vocabulary is None:
            return None
        if self.transcribe_vocabulary_name:
            return self.transcribe_vocabulary_name
        import hashlib

        digest = hashlib.sha256(f"{self.language_code}\n{vocabulary.digest}".encode()).hexdigest()[:16]
        return f"aftercall-vocab-{digest}"

    @property
    def source_is_s3(self) -> bool:
        return self.source.startswith("s3://")

    @property
    def lake_is_s3(self) -> bool:
        return self.lake.startswith("s3://")

    @property
    def transcripts_prefix(self) -> str:
        return self.transcribe_output or f"{self.lake.rstrip('/')}/_transcripts/"

    @property
    def athena_results(self) -> str:
        return self.athena_output or f"{self.lake.rstrip('/')}/_athena/"

    def require_local_source(self) -> Path:
        """The source folder, or a ConfigurationError an operator can act on."""
        path = Path(self.source).expanduser()
        if not path.is_dir():
            raise ConfigurationError(f"AFTERCALL_SOURCE={self.source!r} is not an existing folder")
        return path


def load_settings(**overrides: object) -> Settings:
    """Environment first, then the non-None ``overrides`` (CLI flags); errors become ConfigurationError."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        problems = "; ".join(
            (f"AFTERCALL_{'_'.join(str(p) for p in err['loc']).upper()}: " if err["loc"] else "")
            + err["msg"].removeprefix("Value error, ")
            for err in exc.errors()
        )
        raise ConfigurationError(problems) from None
