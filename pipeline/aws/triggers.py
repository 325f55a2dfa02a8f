"""A deferrable wait on one Transcribe job, for Airflow's triggerer (importable from the package).

The DAG's ``process_calls`` task waits with batched polling inside
:meth:`pipeline.aws.transcribe.TranscribeTranscriber.prepare` (one loop for the whole batch);
an operator that starts a single long job can ``self.defer(trigger=TranscriptionJobCompletedTrigger(...))``
instead and free its worker slot. It wraps botocore's own ``TranscriptionJobCompleted`` waiter.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsGenericHook
from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger

__all__ = ["TranscribeHook", "TranscriptionJobCompletedTrigger"]


class TranscribeHook(AwsGenericHook):
    """The provider has no Transcribe hook: a generic one with ``client_type="transcribe"``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "transcribe"
        super().__init__(*args, **kwargs)


class TranscriptionJobCompletedTrigger(AwsBaseWaiterTrigger):
    aws_hook_class = TranscribeHook

    def __init__(self, *, job_name: str, waiter_delay: int = 30, waiter_max_attempts: int = 480,
                 aws_conn_id: str | None = "aws_default", region_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(
            serialized_fields={"job_name": job_name},
            waiter_name="transcription_job_completed",  # botocore's TranscriptionJobCompleted
            waiter_args={"TranscriptionJobName": job_name},
            failure_message=f"Transcribe job {job_name} failed",
            status_message=f"Transcribe job {job_name} is",
            status_queries=["TranscriptionJob.TranscriptionJobStatus", "TranscriptionJob.FailureReason"],
            return_key="job_name",
            return_value=job_name,
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            **kwargs,
        )
