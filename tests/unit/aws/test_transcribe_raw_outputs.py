"""Raw Transcribe outputs do not outlive their purpose: PII_RAW=drop deletes unredacted ones once read, and an
output gone (dropped, or expired by the lifecycle rule) is transcribed again instead of quarantining the call."""

from __future__ import annotations

import pytest

from pipeline.steps.audio import decode_call
from pipeline.aws.transcribe import TranscribeTranscriber
from pipeline.wiring import aws_client, build_source
from tests.aws_support import LAKE_BUCKET, all_objects, aws_settings, samples_with_transcripts

DAY = __import__("datetime").date(2026, 11, 22)


@pytest.fixture
def bucket(aws):
    s3, outputs = samples_with_transcripts(aws)
    # A (re)started job gets its own output, as the service writes it; a job left COMPLETED keeps what it had.
    aws.events.register("provide-client-params.transcribe.StartTranscriptionJob",
                        lambda params, **_: outputs.written.discard(params["TranscriptionJobName"]))
    return s3, outputs


def _transcribe_all(settings):
    t = TranscribeTranscriber(aws_client(settings, "transcribe"), aws_client(settings, "s3"), settings,
                              sleep=lambda s: None)
    source = build_source(settings)
    recordings = source.discover(DAY)
    t.prepare(recordings)
    words = [t.transcribe(r, decode_call(source.read(r), r.uri, 1)).words for r in recordings]
    return t, recordings, words


def _outputs(s3) -> list[str]:
    return [k for k in all_objects(s3, LAKE_BUCKET) if k.startswith("aftercall/_transcripts/aftercall-")]


def _jobs(settings) -> list[str]:
    client = aws_client(settings, "transcribe")
    return [j["TranscriptionJobName"] for j in client.list_transcription_jobs()["TranscriptionJobSummaries"]]


@pytest.mark.parametrize("language", ["ko-KR", "es-MX"])  # Transcribe redacts neither
def test_drop_deletes_unredacted_outputs_and_their_jobs_once_read(bucket, language):
    s3, _ = bucket
    settings = aws_settings(language_code=language, redact_pii=True, pii_raw="drop")
    t, recordings, words = _transcribe_all(settings)
    assert t.drop_raw_output and t.jobs_started == 4 and all(len(w) == 13 for w in words)
    assert _outputs(s3) == [] and _jobs(settings) == []  # no raw text left, and the names are free again

    again, _, words_again = _transcribe_all(settings)
    assert again.jobs_started == 4 and words_again == words  # the price of drop: a rerun transcribes again
    assert _outputs(s3) == []


def test_drop_without_redaction_still_deletes_the_raw_text(bucket):
    s3, _ = bucket
    t, _, _ = _transcribe_all(aws_settings(pii_raw="drop"))
    assert t.drop_raw_output and _outputs(s3) == []


def test_an_output_transcribe_redacted_stays_as_the_cache_even_with_drop(bucket):
    s3, _ = bucket
    settings = aws_settings(language_code="en-US", redact_pii=True, pii_raw="drop")
    t, _, _ = _transcribe_all(settings)
    assert t.service_redaction and not t.drop_raw_output
    assert len(_outputs(s3)) == 4
    again, _, _ = _transcribe_all(settings)
    assert again.jobs_started == 0  # never pays twice


def test_separate_keeps_the_cache(bucket):
    s3, _ = bucket
    settings = aws_settings(language_code="ko-KR", redact_pii=True, pii_raw="separate")
    _transcribe_all(settings)
    assert len(_outputs(s3)) == 4
    assert _transcribe_all(settings)[0].jobs_started == 0


def test_an_expired_output_is_transcribed_again_not_quarantined(bucket):
    """The lifecycle rule expires outputs after AFTERCALL_RAW_TRANSCRIPT_DAYS; Transcribe keeps the job 90 days."""
    s3, _ = bucket
    settings = aws_settings()
    _transcribe_all(settings)
    expired = _outputs(s3)
    for key in expired:
        s3.delete_object(Bucket=LAKE_BUCKET, Key=key)
    again, _, words = _transcribe_all(settings)
    assert again.jobs_started == 4 and all(len(w) == 13 for w in words)
    assert sorted(_outputs(s3)) == sorted(expired)  # same deterministic names
