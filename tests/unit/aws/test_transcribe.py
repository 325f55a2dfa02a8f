"""Amazon Transcribe adapter on moto, with real-format transcripts put where the service would."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from botocore.stub import Stubber

from pipeline.steps.audio import decode_call
from pipeline.aws.transcribe import TranscribeTranscriber, billed_minutes
from pipeline.exceptions import BadRecording
from pipeline.wiring import aws_client, build_source
from tests.aws_support import KMS_KEY, aws_settings, samples_with_transcripts

DAY = __import__("datetime").date(2026, 11, 22)


@pytest.fixture
def day(aws):
    _, outputs = samples_with_transcripts(aws)
    settings = aws_settings()
    recordings = build_source(settings).discover(DAY)
    return settings, recordings, outputs


def transcriber(settings, sleeps=None):
    return TranscribeTranscriber(aws_client(settings, "transcribe"), aws_client(settings, "s3"), settings,
                                 sleep=(sleeps.append if sleeps is not None else lambda s: None))


def test_one_channel_identification_job_per_stereo_call_encrypted_to_the_project_bucket(day):
    settings, recordings, outputs = day
    t = transcriber(settings)
    t.prepare(recordings)
    assert len(outputs.started) == len(recordings) == 4
    for params, rec in zip(outputs.started, recordings, strict=True):
        assert params["Settings"] == {"ChannelIdentification": True}
        assert params["Media"] == {"MediaFileUri": rec.uri}
        assert params["OutputEncryptionKMSKeyId"] == KMS_KEY
        assert params["OutputBucketName"] == "acme-analytics"
        assert params["OutputKey"] == f"aftercall/_transcripts/{params['TranscriptionJobName']}.json"
        assert params["LanguageCode"] == "en-US" and "ContentRedaction" not in params


def test_job_names_are_deterministic_and_change_only_with_content_or_transcript_settings(day):
    settings, recordings, _ = day
    rec = recordings[0]
    a, b = transcriber(settings), transcriber(aws_settings())
    assert a.job_name(rec) == b.job_name(rec)
    assert a.job_name(rec).startswith("aftercall-") and len(a.job_name(rec)) <= 200
    assert a.job_name(replace(rec, etag="0" * 32)) != a.job_name(rec)  # new content
    assert a.job_name(replace(rec, uri=rec.uri + ".copy")) == a.job_name(rec)  # same content, elsewhere: reuse
    assert transcriber(aws_settings(language_code="en-GB")).job_name(rec) != a.job_name(rec)
    assert transcriber(aws_settings(redact_pii=True)).job_name(rec) != a.job_name(rec)
    assert transcriber(aws_settings(agent_channel=0)).job_name(rec) == a.job_name(rec)  # roles applied at parse


def test_rerun_reuses_the_cache_and_pays_nothing(day):
    settings, recordings, outputs = day
    audio = decode_call(build_source(settings).read(recordings[0]), recordings[0].uri, 1)
    first = transcriber(settings)
    first.prepare(recordings)
    words = first.transcribe(recordings[0], audio).words
    again = transcriber(settings)
    again.prepare(recordings)
    transcript = again.transcribe(recordings[0], audio)
    assert again.jobs_started == 0 and len(outputs.started) == 4
    assert transcript.words == words and len(words) == 13
    assert transcript.billed_minutes == billed_minutes(audio.duration_s)
    assert transcript.cost_usd == pytest.approx(transcript.billed_minutes * 0.024, abs=1e-6)


def test_a_retry_reattaches_to_a_running_job_instead_of_starting_another(day):
    settings, recordings, outputs = day
    t = transcriber(settings)
    name = t.job_name(recordings[0])
    t._start(recordings[0], name)  # an earlier attempt started it, then its worker died
    retry = transcriber(settings)
    retry.prepare(recordings[:1])
    assert retry.jobs_started == 0 and len(outputs.started) == 1
    assert retry._cached(name) is not None


def test_start_rate_and_concurrency_stay_within_the_configured_quota(day):
    _, recordings, outputs = day
    settings = aws_settings(transcribe_max_concurrent=2, transcribe_start_tps=4, transcribe_poll_s=7)
    in_flight: list[int] = []
    t = transcriber(settings, sleeps=(sleeps := []))
    original = t._start

    def counting_start(rec, name):
        original(rec, name)
        in_flight.append(len(outputs.started) - len(outputs.written))

    t._start = counting_start
    t.prepare(recordings)
    assert max(in_flight) <= 2 and len(outputs.started) == 4
    assert 0.25 in sleeps and 7 in sleeps  # 1 / TPS between starts, the poll delay between polls


REASON = "The media format provided does not match the detected media format."


def _failed_jobs(client, names: set[str]):
    """Transcribe answers FAILED for these job names (moto's jobs always complete); other names go to moto."""
    from botocore.awsrequest import AWSResponse

    def on_get(params, **_):
        name = json.loads(params["body"])["TranscriptionJobName"]
        if name in names:
            return AWSResponse(None, 200, {}, None), {"TranscriptionJob": {
                "TranscriptionJobName": name, "TranscriptionJobStatus": "FAILED", "FailureReason": REASON}}
        return None

    client.meta.events.register("before-call.transcribe.GetTranscriptionJob", on_get)


def test_a_job_that_failed_in_an_earlier_run_is_retried_under_a_new_attempt_name(day):
    settings, recordings, outputs = day
    t = transcriber(settings)
    first = t.job_name(recordings[0])
    _failed_jobs(t.client, {first})
    t.prepare(recordings[:1])
    assert [p["TranscriptionJobName"] for p in outputs.started] == [f"{first}-a2"]
    audio = decode_call(build_source(settings).read(recordings[0]), recordings[0].uri, 1)
    assert t.transcribe(recordings[0], audio).words
    again = transcriber(settings)  # a later run finds the second attempt's transcript: no new job
    _failed_jobs(again.client, {first})  # the service keeps the failed job's record
    again.prepare(recordings[:1])
    assert again.jobs_started == 0, [p["TranscriptionJobName"] for p in outputs.started]
    assert again.transcribe(recordings[0], audio).words


def test_a_job_that_fails_every_attempt_quarantines_the_call_with_the_service_reason(day):
    settings, recordings, outputs = day
    t = transcriber(settings)
    _failed_jobs(t.client, set(t.attempt_names(recordings[0])))
    t.prepare(recordings[:1])
    assert outputs.started == [] and len(t.attempt_names(recordings[0])) == settings.transcribe_max_attempts == 3
    audio = decode_call(build_source(settings).read(recordings[0]), recordings[0].uri, 1)
    with pytest.raises(BadRecording, match="3 attempts failed, the last: The media format") as info:
        t.transcribe(recordings[0], audio)
    assert info.value.stage == "transcribe"


def test_redaction_requested_where_transcribe_has_it_and_left_to_aftercall_where_not(day):
    settings, recordings, outputs = day
    transcriber(aws_settings(redact_pii=True)).prepare(recordings[:1])
    assert outputs.started[-1]["ContentRedaction"] == {"RedactionType": "PII", "RedactionOutput": "redacted"}
    korean = transcriber(aws_settings(redact_pii=True, language_code="ko-KR"))
    korean.prepare(recordings[1:2])
    assert "ContentRedaction" not in outputs.started[-1] and outputs.started[-1]["LanguageCode"] == "ko-KR"
    assert not korean.service_redaction


def test_call_analytics_mode_defines_channels_and_imports_its_output(day):
    """moto has no Call Analytics: botocore's Stubber checks the request the service would get."""
    _, recordings, _ = day
    settings = aws_settings(transcribe_mode="call-analytics",
                            transcribe_role_arn="arn:aws:iam::123456789012:role/aftercall-transcribe")
    t = transcriber(settings)
    rec = recordings[0]
    name = t.job_name(rec)
    doc = json.loads((Path(__file__).parent / "fixtures" / "call_analytics.json").read_text())
    stub = Stubber(t.client)
    stub.add_client_error("get_call_analytics_job", "BadRequestException",
                          "The requested job couldn't be found. Check the job name and try again.")
    stub.add_response("start_call_analytics_job", {"CallAnalyticsJob": {"CallAnalyticsJobName": name,
                                                                        "CallAnalyticsJobStatus": "IN_PROGRESS"}}, {
        "CallAnalyticsJobName": name, "Media": {"MediaFileUri": rec.uri},
        "OutputLocation": f"s3://acme-analytics/aftercall/_transcripts/{name}.json",
        "OutputEncryptionKMSKeyId": KMS_KEY, "DataAccessRoleArn": settings.transcribe_role_arn,
        "ChannelDefinitions": [{"ChannelId": 1, "ParticipantRole": "AGENT"},
                               {"ChannelId": 0, "ParticipantRole": "CUSTOMER"}],
        "Settings": {"LanguageOptions": ["en-US"]}})
    stub.add_response("get_call_analytics_job", {"CallAnalyticsJob": {"CallAnalyticsJobName": name,
                                                                      "CallAnalyticsJobStatus": "COMPLETED"}},
                      {"CallAnalyticsJobName": name})
    with stub:
        t.prepare([rec])
        stub.assert_no_pending_responses()
    t.s3.put_object(Bucket="acme-analytics", Key=t.output_key(name), Body=json.dumps(doc).encode(),
                    ServerSideEncryption="aws:kms", SSEKMSKeyId=KMS_KEY)
    audio = decode_call(build_source(settings).read(rec), rec.uri, 1)
    transcript = t.transcribe(rec, audio)
    assert transcript.engine == "amazon-transcribe-call-analytics"
    assert [w.text for w in transcript.words if w.participant == "CUSTOMER"] == ["It", "broke", "again."]


def test_no_job_for_a_recording_whose_header_shows_unusable_audio(day, tmp_path, aws):
    """Jobs = usable stereo calls: mono, 4-channel, 0.3 s, empty, corrupt and text files cost nothing."""
    from pipeline.steps.run import process_recordings
    from tests.aws_support import SOURCE_BUCKET
    from tests.aws_fakes import ComprehendByVader
    from tests.badinput import EXPECTED, write_bad_recordings
    from pipeline.settings import SAMPLES_DIR

    settings, samples, outputs = day
    ComprehendByVader().attach(aws.events)
    write_bad_recordings(tmp_path, sorted(SAMPLES_DIR.rglob("*.wav"))[0])
    s3 = aws_client(settings, "s3")
    for f in tmp_path.iterdir():
        s3.upload_file(str(f), SOURCE_BUCKET, f"connect/acme/CallRecordings/2026/11/22/{f.name}")
    recordings = build_source(settings).discover(DAY)
    usable = len(samples) + sum(v == "ok" for v in EXPECTED.values())
    result = process_recordings(settings, recordings, day=DAY)
    assert len(outputs.started) == usable == len(result.calls)
    refused = {f["recording_uri"].rsplit("/", 1)[1]: f for f in result.failures}
    assert set(refused) == {name for name, v in EXPECTED.items() if v != "ok"}
    for name, (stage, words) in ((n, v) for n, v in EXPECTED.items() if v != "ok"):
        assert refused[name]["stage"] == stage and words in refused[name]["error"], refused[name]
        assert "0x" not in refused[name]["error"]  # the same file gives the same reason, run after run


def test_throttling_past_the_retries_fails_the_batch_instead_of_quarantining_calls(day):
    """The service's fault: the batch task fails and Airflow retries it; no call becomes a failures row."""
    from botocore.awsrequest import AWSResponse
    from botocore.exceptions import ClientError

    from pipeline.steps.run import process_recordings

    settings, recordings, _ = day
    client = aws_client(settings, "transcribe")

    def throttled(**_):
        return AWSResponse(None, 400, {}, None), {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}

    client.meta.events.register("before-call.transcribe.StartTranscriptionJob", throttled)
    import pipeline.wiring as wiring

    original = wiring.aws_client
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(wiring, "aws_client", lambda s, service: client if service == "transcribe" else original(s, service))
        with pytest.raises(ClientError, match="ThrottlingException"):
            process_recordings(settings, recordings)


def test_each_task_takes_its_share_of_the_account_quotas():
    """250 jobs and 25 starts a second for the account, 5 tasks at once (the pool's slots): 50 jobs, 5 starts a second."""
    settings = aws_settings()
    assert (settings.task_transcribe_jobs, settings.task_transcribe_tps, settings.task_comprehend_tps) == (50, 5.0, 2.0)
    ca = aws_settings(transcribe_mode="call-analytics", transcribe_role_arn="arn:aws:iam::1:role/r", aws_tasks=4)
    assert ca.task_transcribe_jobs == 25  # Call Analytics has its own quota: 100
    assert aws_settings(transcribe_quota_jobs=50, transcribe_quota_tps=5, aws_tasks=2).task_transcribe_jobs == 25


def test_limit_exceeded_past_botocore_retries_waits_and_starts_again_never_failing_a_call(day):
    """The account at its quota (another tool's jobs, a lower quota than configured): the start waits, backing off."""
    settings, recordings, outputs = day
    now = [1000.0]
    sleeps: list[float] = []

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    t = TranscribeTranscriber(aws_client(settings, "transcribe"), aws_client(settings, "s3"), settings,
                              sleep=sleep, clock=lambda: now[0])
    original, refusals = t._start, [3]

    def busy_account(rec, name):
        if refusals[0]:
            refusals[0] -= 1
            raise t.client.exceptions.LimitExceededException(
                {"Error": {"Code": "LimitExceededException", "Message": "concurrent jobs"}}, "StartTranscriptionJob")
        original(rec, name)

    t._start = busy_account
    t.prepare(recordings)
    assert len(outputs.started) == 4 and t.jobs_throttled == 3 and not t._failed
    assert [s for s in sleeps if s >= 1] == [1.0, 2.0, 4.0]  # 1 s doubling (polls are 0 s here)
    audio = decode_call(build_source(settings).read(recordings[0]), recordings[0].uri, 1)
    assert t.transcribe(recordings[0], audio).words


def test_an_account_that_never_frees_a_slot_fails_the_batch_after_throttle_wait_not_the_calls(day):
    from pipeline.exceptions import TranscriptionError

    settings, recordings, _ = day
    settings = settings.model_copy(update={"throttle_wait_s": 30.0})
    now = [0.0]
    t = TranscribeTranscriber(aws_client(settings, "transcribe"), aws_client(settings, "s3"), settings,
                              sleep=lambda s: now.__setitem__(0, now[0] + s), clock=lambda: now[0])

    def never(rec, name):
        raise t.client.exceptions.LimitExceededException(
            {"Error": {"Code": "LimitExceededException", "Message": "concurrent jobs"}}, "StartTranscriptionJob")

    t._start = never
    with pytest.raises(TranscriptionError, match="LimitExceededException"):
        t.prepare(recordings)  # the task fails and Airflow retries it later; no call is quarantined
    assert not t._failed
