"""Amazon Transcribe behind the Transcriber port: one job per stereo call, never paid for twice.

* **One job per call** with ``ChannelIdentification``: both channels in one job cost one
  audio duration, where two mono jobs would cost two.
* **Deterministic job names**: ``aftercall-<hash>`` of the recording's content (S3 ETag and
  size) and of the settings that change the transcript (language, redaction, mode, channel
  roles). A retried task or a backfill finds its job, or its transcript, instead of paying again.
* **The transcript cache is the job's output**: ``<transcripts prefix>/<job name>.json``,
  written by Transcribe with the project's KMS key. It is looked up before any job starts.
  It does not live forever: ``aftercall setup`` expires it after ``AFTERCALL_RAW_TRANSCRIPT_DAYS``,
  and with ``AFTERCALL_PII_RAW=drop`` an output Transcribe did not redact (redaction off, or a
  language without it: ko-KR, es-MX) is deleted, with its job, as soon as the call's words are read.
  A job whose output is gone (expired or dropped) is deleted and started again under its name.
* **No job for unusable audio**: before a job starts, a ranged GET of the object's header is
  checked by the local decoder's rules (``pipeline.steps.audio.check_format``: container, sample rate,
  channels, duration up to ``AFTERCALL_MAX_CALL_MINUTES``): mono, 3-channel, too short, too long,
  a 1 Hz header, empty or non-audio files cost nothing and are quarantined by decoding.
* **Batched, within the account's quotas**: :meth:`prepare` starts a batch's jobs at this task's
  share of the account's quotas (:attr:`Settings.task_transcribe_jobs`, :attr:`Settings.task_transcribe_tps`:
  the quota divided by ``AFTERCALL_AWS_TASKS``, the slots of the Airflow pool every task runs in) and polls
  them all in one loop, so a worker waits once per batch, not once per call. A ``LimitExceededException``
  that outlasts botocore's retries (the account busy with other work) waits and starts again; it never
  fails a call. Inside Airflow a deferrable trigger can replace the loop (:mod:`pipeline.aws.triggers`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from pipeline.steps.audio import CallAudio, check_header
from pipeline.aws._helpers import split_uri
from pipeline.aws.transcript_format import call_summary, parse_call_analytics, parse_transcribe
from pipeline.steps.discovery import Recording
from pipeline.exceptions import BadRecording, ConfigurationError, TranscriptionError
from pipeline.ports import Transcriber, Transcript
from pipeline.settings import Settings

__all__ = ["REDACTION_LANGUAGES", "TranscribeTranscriber", "billed_minutes"]

log = logging.getLogger(__name__)

# Batch PII redaction (Transcribe developer guide, "Redacting PII"); ko-KR is not among them.
REDACTION_LANGUAGES = frozenset({"en-AU", "en-GB", "en-IN", "en-IE", "en-AB", "en-NZ", "en-US", "en-WL", "en-ZA",
                                 "es-ES", "es-US", "fr-CA", "fr-FR", "de-DE", "de-CH", "it-IT", "pt-BR", "pt-PT"})
MIN_BILLED_S = 15.0  # Transcribe bills per second with a 15-second minimum per job
HEADER_BYTES = 65536  # enough for any WAV/FLAC header and the first frames


def billed_minutes(duration_s: float) -> float:
    return round(max(duration_s, MIN_BILLED_S) / 60.0, 4)


class TranscribeTranscriber(Transcriber):
    """Standard or Call Analytics jobs; ``transcribe`` and ``s3`` are injected boto3 clients."""

    def __init__(self, transcribe: Any, s3: Any, settings: Settings, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        # Where Transcribe can't redact (ko-KR), the pipeline's own detector still does (pipeline.analytics.pii).
        self.service_redaction = settings.redact_pii and settings.language_code in REDACTION_LANGUAGES
        if settings.redact_pii and not self.service_redaction:
            log.info("Transcribe has no PII redaction for %s: aftercall's detector redacts alone",
                     settings.language_code)
        self.client, self.s3, self.settings = transcribe, s3, settings
        self.call_analytics = settings.transcribe_mode == "call-analytics"
        self.summarize = self.call_analytics and settings.call_summary  # Call Analytics' generative summary
        # PII_RAW=drop: unredacted text must not persist, not even as the cache (a rerun pays again).
        self.drop_raw_output = settings.pii_raw == "drop" and not self.service_redaction
        self.name = "amazon-transcribe-call-analytics" if self.call_analytics else "amazon-transcribe"
        self._out_bucket, self._out_prefix = split_uri(settings.transcripts_prefix)
        self._sleep, self._clock = sleep, clock
        self.vocabulary = settings.transcribe_vocabulary  # AFTERCALL_VOCABULARY's custom vocabulary, made by setup
        self._vocabulary_ready = False
        self._failed: dict[str, str] = {}
        self._current: dict[str, str] = {}  # recording URI -> the job name of this run's attempt
        self.jobs_started = 0
        self.jobs_refused = 0
        self.jobs_throttled = 0  # LimitExceededException answers that botocore's retries did not absorb
        self._throttle_waits = 0
        self._throttle_since: float | None = None

    # --- names and cache -------------------------------------------------------------------
    def job_name(self, recording: Recording) -> str:
        content = f"{recording.etag}:{recording.size_bytes}" if recording.etag else recording.uri
        signature: dict[str, Any] = {"content": content, "language": self.settings.language_code,
                                     "redact": self.service_redaction, "mode": self.settings.transcribe_mode}
        if self.call_analytics:  # channel roles are part of the job itself
            signature["agent_channel"] = self.settings.agent_channel
        if self.summarize:  # a job without the summary is not this job (names without it stay as they were)
            signature["summary"] = True
        if self.vocabulary:  # a changed vocabulary changes the transcript (no key at all without one: names kept)
            signature["vocabulary"] = [self.vocabulary, self.settings.vocabulary_phrases.digest]
        digest = hashlib.sha256(json.dumps(signature, sort_keys=True).encode()).hexdigest()[:40]
        return f"aftercall-{digest}"

    def attempt_names(self, recording: Recording) -> list[str]:
        """The job names a recording may have: the first attempt, then one per retry of a FAILED job."""
        first = self.job_name(recording)
        return [first] + [f"{first}-a{n}" for n in range(2, self.settings.transcribe_max_attempts + 1)]

    def output_key(self, job_name: str) -> str:
        return f"{self._out_prefix.rstrip('/')}/{job_name}.json".lstrip("/")

    def _cached(self, job_name: str) -> dict | None:
        try:
            body = self.s3.get_object(Bucket=self._out_bucket, Key=self.output_key(job_name))["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None
        return json.loads(body)

    def _drop(self, job_name: str) -> None:
        """Delete a job's raw output and the job (so its name can run again): AFTERCALL_PII_RAW=drop."""
        try:
            self.s3.delete_object(Bucket=self._out_bucket, Key=self.output_key(job_name))
        except self.s3.exceptions.ClientError as exc:  # the lifecycle rule expires it anyway
            log.warning("could not delete the raw Transcribe output of %s (it expires with the lifecycle rule): %s",
                        job_name, exc)
            return
        self._delete_job(job_name)
        log.info("deleted the raw Transcribe output of %s (AFTERCALL_PII_RAW=drop)", job_name)

    def _delete_job(self, job_name: str) -> None:
        try:
            if self.call_analytics:
                self.client.delete_call_analytics_job(CallAnalyticsJobName=job_name)
            else:
                self.client.delete_transcription_job(TranscriptionJobName=job_name)
        except (self.client.exceptions.NotFoundException, self.client.exceptions.BadRequestException):
            pass

    # --- jobs --------------------------------------------------------------------------------
    def _status(self, job_name: str) -> tuple[str, str | None] | None:
        """(status, failure reason) of the job, or None if there is no such job."""
        try:
            if self.call_analytics:
                job = self.client.get_call_analytics_job(CallAnalyticsJobName=job_name)["CallAnalyticsJob"]
                return job["CallAnalyticsJobStatus"], job.get("FailureReason")
            job = self.client.get_transcription_job(TranscriptionJobName=job_name)["TranscriptionJob"]
            return job["TranscriptionJobStatus"], job.get("FailureReason")
        except self.client.exceptions.NotFoundException:
            return None
        except self.client.exceptions.BadRequestException as exc:  # some regions answer this for unknown names
            if "couldn't be found" in str(exc) or "not found" in str(exc).lower():
                return None
            raise

    def _start(self, recording: Recording, job_name: str) -> None:
        s = self.settings
        redaction = {"RedactionType": "PII", "RedactionOutput": "redacted"} if self.service_redaction else None
        if self.call_analytics:
            settings: dict[str, Any] = {"LanguageOptions": [s.language_code]}
            if self.vocabulary:
                settings["VocabularyName"] = self.vocabulary
            if redaction:
                settings["ContentRedaction"] = redaction
            if self.summarize:
                settings["Summarization"] = {"GenerateAbstractiveSummary": True}
            self.client.start_call_analytics_job(
                CallAnalyticsJobName=job_name, Media={"MediaFileUri": recording.uri},
                OutputLocation=f"s3://{self._out_bucket}/{self.output_key(job_name)}",
                OutputEncryptionKMSKeyId=s.kms_key_id, DataAccessRoleArn=s.transcribe_role_arn,
                ChannelDefinitions=[{"ChannelId": s.agent_channel, "ParticipantRole": "AGENT"},
                                    {"ChannelId": 1 - s.agent_channel, "ParticipantRole": "CUSTOMER"}],
                Settings=settings)
        else:
            kwargs: dict[str, Any] = {"ContentRedaction": redaction} if redaction else {}
            job_settings: dict[str, Any] = {"ChannelIdentification": True}
            if self.vocabulary:
                job_settings["VocabularyName"] = self.vocabulary
            self.client.start_transcription_job(
                TranscriptionJobName=job_name, LanguageCode=s.language_code, Media={"MediaFileUri": recording.uri},
                OutputBucketName=self._out_bucket, OutputKey=self.output_key(job_name),
                OutputEncryptionKMSKeyId=s.kms_key_id, Settings=job_settings,
                Tags=[{"Key": "aftercall:recording", "Value": recording.uri[-256:]}], **kwargs)
        self.jobs_started += 1
        log.info("started %s for %s", job_name, recording.uri)

    def prepare(self, recordings: Sequence[Recording]) -> None:
        """Make sure every recording has a transcript: reuse cache or running jobs, start the rest, wait.

        A job that FAILED in an earlier run is retried under the next attempt name (``-a2``, ``-a3``...),
        at most ``transcribe_max_attempts`` jobs in all; one that fails during this run quarantines the
        call until the next run.
        """
        to_start: list[tuple[str, Recording]] = []
        pending: dict[str, Recording] = {}
        for rec in recordings:
            name, state = self._locate(rec)
            if state == "start":
                self.check_vocabulary()  # before the first job: a missing vocabulary fails the task, not the calls
            self._current[rec.uri] = name
            if state == "start" and not self._refused(rec, name):
                to_start.append((name, rec))
            elif state == "pending":
                pending[name] = rec  # a job started by an earlier attempt: re-attach (the next poll settles it)
        deadline = self._clock() + self.settings.transcribe_max_wait_s
        limit, interval = self.settings.task_transcribe_jobs, 1.0 / self.settings.task_transcribe_tps
        throttled_until = 0.0  # the service said LimitExceeded: no start before this time
        while to_start or pending:
            while to_start and len(pending) < limit and self._clock() >= throttled_until:
                name, rec = to_start[0]
                try:
                    self._start(rec, name)
                except self.client.exceptions.ConflictException:
                    log.info("%s already exists (another worker started it): waiting for it", name)
                except self.client.exceptions.LimitExceededException:
                    # The account is at its quota anyway (other tasks, other tools, a lower quota than configured)
                    # and botocore's own retries are spent: wait for running jobs to finish, then start again.
                    throttled_until = self._throttled(name)
                    break
                except self.client.exceptions.BadRequestException as exc:
                    to_start.pop(0)
                    self._failed[name] = f"Transcribe refused the job: {exc}"
                    continue
                to_start.pop(0)
                self._throttle_waits = 0
                pending[name] = rec
                if to_start:
                    self._sleep(interval)
            self._poll(pending)
            if pending or to_start:
                if self._clock() > deadline:
                    for name in [*pending, *(n for n, _ in to_start)]:
                        self._failed[name] = f"not finished after {self.settings.transcribe_max_wait_s:.0f} s"
                    break
                pause = self.settings.transcribe_poll_s if pending else max(0.0, throttled_until - self._clock())
                self._sleep(pause)

    def check_vocabulary(self) -> None:
        """The custom vocabulary the jobs name exists and is READY; else a ConfigurationError (run ``aftercall setup``).

        Without it every job would be refused and every call quarantined; this fails the task instead.
        """
        if not self.vocabulary or self._vocabulary_ready:
            return
        try:
            state = self.client.get_vocabulary(VocabularyName=self.vocabulary)
        except (self.client.exceptions.NotFoundException, self.client.exceptions.BadRequestException) as exc:
            raise ConfigurationError(f"the Transcribe custom vocabulary {self.vocabulary} (AFTERCALL_VOCABULARY="
                                     f"{self.settings.vocabulary}) does not exist in this region: run aftercall "
                                     f"setup ({exc})") from None
        if state.get("LanguageCode") and state["LanguageCode"] != self.settings.language_code:
            raise ConfigurationError(f"the Transcribe custom vocabulary {self.vocabulary} is {state['LanguageCode']}; "
                                     f"the calls are {self.settings.language_code}: run aftercall setup")
        if state.get("VocabularyState") != "READY":
            raise ConfigurationError(f"the Transcribe custom vocabulary {self.vocabulary} is "
                                     f"{state.get('VocabularyState')} ({state.get('FailureReason') or 'not ready'}): "
                                     "run aftercall setup, which waits until it is READY")
        self._vocabulary_ready = True

    def _throttled(self, name: str) -> float:
        """Back off after a LimitExceededException (1 s doubling to 60 s); past ``throttle_wait_s`` in a row, raise."""
        self.jobs_throttled += 1
        self._throttle_waits += 1
        if self._throttle_since is None or self._throttle_waits == 1:
            self._throttle_since = self._clock()
        if self._clock() - self._throttle_since > self.settings.throttle_wait_s:
            raise TranscriptionError(name, f"Transcribe kept refusing new jobs (LimitExceededException) for "
                                           f"{self.settings.throttle_wait_s:.0f} s")
        pause = min(60.0, 2.0 ** min(self._throttle_waits - 1, 6))
        log.warning("Transcribe is at the account's job or start quota (LimitExceededException): starting %s and "
                    "the rest again in %.0f s", name, pause)
        return self._clock() + pause

    def _locate(self, recording: Recording) -> tuple[str, str]:
        """(job name, state): ``done`` (transcript cached, or given up), ``pending``, or ``start`` that name."""
        names = self.attempt_names(recording)
        reason = None
        for name in names:
            if name in self._failed:
                return name, "done"
            if self._cached(name) is not None:
                return name, "done"
            status = self._status(name)
            if status is None:
                return name, "start"
            if status[0] == "COMPLETED":
                if self._cached(name) is not None:  # written between the two looks
                    return name, "done"
                # Its output expired (AFTERCALL_RAW_TRANSCRIPT_DAYS) or was dropped (PII_RAW=drop) while
                # Transcribe still keeps the job (90 days): free the name and transcribe again.
                log.info("%s completed but its output is gone (expired or dropped): transcribing again", name)
                self._delete_job(name)
                return name, "start"
            if status[0] != "FAILED":
                return name, "pending"
            reason = status[1] or "job failed"
            log.info("%s FAILED in an earlier run (%s)", name, reason)
        self._failed[names[-1]] = f"{len(names)} attempts failed, the last: {reason}"
        return names[-1], "done"

    def _refused(self, recording: Recording, job_name: str) -> bool:
        """True when the object's header shows audio the pipeline refuses: no job, nothing billed.

        One ranged GET of the first HEADER_BYTES (``IfMatch`` the ETag seen at discovery). The call
        is quarantined later by decoding, with the same stage and reason.
        """
        bucket, key = split_uri(recording.uri)
        extra = {"IfMatch": f'"{recording.etag}"'} if recording.etag else {}
        try:
            head = self.s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{HEADER_BYTES - 1}", **extra)["Body"].read()
        except self.s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":  # an empty object has no byte 0
                head = b""
            else:
                raise
        try:
            check_header(head, recording.size_bytes or len(head), recording.uri, self.settings.max_call_minutes)
        except BadRecording as exc:
            log.warning("no Transcribe job for %s: %s", recording.uri, exc.reason)
            self._failed[job_name] = f"{exc.stage}: {exc.reason}"
            self.jobs_refused += 1
            return True
        return False

    def _poll(self, pending: dict[str, Recording]) -> None:
        for name in list(pending):
            try:
                status = self._status(name)
            except self.client.exceptions.LimitExceededException:  # polled too fast for the account: next round
                log.warning("Transcribe throttled status requests: polling the rest next round")
                return
            if status is None:
                raise TranscriptionError(name, "job vanished while waiting for it")
            if status[0] == "COMPLETED":
                del pending[name]
            elif status[0] == "FAILED":
                self._failed[name] = status[1] or "job failed"
                del pending[name]

    def transcribe(self, recording: Recording, audio: CallAudio) -> Transcript:
        if recording.uri not in self._current:
            self.prepare([recording])
        name = self._current[recording.uri]
        doc = self._cached(name)
        if doc is None:
            reason = self._failed.get(name, "job completed but wrote no transcript")
            raise BadRecording(recording.uri, "transcribe", f"{name}: {reason}")
        words = parse_call_analytics(doc) if self.call_analytics else parse_transcribe(doc, self.settings.agent_channel)
        summary = call_summary(doc) if self.summarize else None
        if self.drop_raw_output:
            self._drop(name)
        price = self.settings.price_call_analytics_minute if self.call_analytics else self.settings.price_transcribe_minute
        minutes = billed_minutes(audio.duration_s)
        return Transcript(words=words, language_code=self.settings.language_code, engine=self.name,
                          billed_minutes=minutes, cost_usd=round(minutes * price, 6), summary=summary)
