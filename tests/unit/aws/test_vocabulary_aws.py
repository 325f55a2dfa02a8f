"""The custom vocabulary on AWS: ``aftercall setup`` makes it (moto; Stubber where moto has no UpdateVocabulary),
every job names it (standard on moto, Call Analytics on Stubber), the policy lets the role use it."""

from __future__ import annotations

import json

import pytest
from botocore.stub import Stubber

from pipeline.aws.setup import iam_policy, setup
from pipeline.aws.transcribe import TranscribeTranscriber
from pipeline.exceptions import ConfigurationError
from pipeline.wiring import aws_client, build_source
from tests.aws_support import KMS_KEY, aws_settings, samples_with_transcripts

DAY = __import__("datetime").date(2026, 11, 22)
ROLE = "arn:aws:iam::123456789012:role/aftercall-transcribe"


@pytest.fixture
def vocab(tmp_path):
    path = tmp_path / "vocabulary.txt"
    path.write_text("# brand\nAcme Telecom\nSarah\ntravel pass\n")
    return str(path)


def _setup(settings, aws, transcribe=None, sleeps=None):
    return setup(settings, glue=aws.client("glue"), athena=aws.client("athena"), s3=aws.client("s3"),
                 transcribe=transcribe or aws_client(settings, "transcribe"),
                 sleep=(sleeps.append if sleeps is not None else lambda s: None))


def _transcriber(settings, client=None):
    return TranscribeTranscriber(client or aws_client(settings, "transcribe"), aws_client(settings, "s3"), settings,
                                 sleep=lambda s: None)


def test_setup_creates_the_vocabulary_waits_for_ready_and_every_job_names_it(aws, vocab):
    _, outputs = samples_with_transcripts(aws)
    settings = aws_settings(vocabulary=vocab)
    name = settings.transcribe_vocabulary
    assert name.startswith("aftercall-vocab-") and len(name) == len("aftercall-vocab-") + 16
    sleeps: list[float] = []
    report = _setup(settings, aws, sleeps=sleeps)
    assert any(line.startswith(f"created Transcribe custom vocabulary {name} (3 phrases, en-US)") and
               line.endswith("READY") for line in report.done)
    transcribe = aws_client(settings, "transcribe")
    made = transcribe.get_vocabulary(VocabularyName=name)
    assert made["VocabularyState"] == "READY" and made["LanguageCode"] == "en-US"
    from moto.transcribe.models import transcribe_backends
    backend = transcribe_backends["123456789012"][settings.aws_region]
    assert backend.vocabularies[name].phrases == ["Acme-Telecom", "Sarah", "travel-pass"]  # list format: hyphens

    again = _setup(settings, aws)  # safe to repeat: the name is the phrases' hash, nothing to change
    assert f"Transcribe custom vocabulary {name}" in again.unchanged and not any("vocabulary" in d for d in again.done)

    recordings = build_source(settings).discover(DAY)
    _transcriber(settings).prepare(recordings)
    assert len(outputs.started) == len(recordings) == 4
    for params in outputs.started:  # moto refuses a job naming a vocabulary it does not have
        assert params["Settings"] == {"ChannelIdentification": True, "VocabularyName": name}
    for job in transcribe.list_transcription_jobs()["TranscriptionJobSummaries"]:
        assert transcribe.get_transcription_job(TranscriptionJobName=job["TranscriptionJobName"])[
            "TranscriptionJob"]["Settings"]["VocabularyName"] == name


def test_without_the_vocabulary_no_job_starts_and_the_task_fails_naming_setup(aws, vocab):
    _, outputs = samples_with_transcripts(aws)
    settings = aws_settings(vocabulary=vocab)
    with pytest.raises(ConfigurationError, match=r"custom vocabulary aftercall-vocab-\w+ .* run aftercall setup"):
        _transcriber(settings).prepare(build_source(settings).discover(DAY))
    assert outputs.started == []


def test_job_names_change_with_the_vocabulary_and_stay_as_they_were_without_one(aws, vocab, tmp_path):
    samples_with_transcripts(aws)
    rec = build_source(aws_settings()).discover(DAY)[0]
    other = tmp_path / "other.txt"
    other.write_text("Acme Telecom\nSarah\n")
    plain = _transcriber(aws_settings()).job_name(rec)
    with_vocab = _transcriber(aws_settings(vocabulary=vocab)).job_name(rec)
    assert len({plain, with_vocab, _transcriber(aws_settings(vocabulary=str(other))).job_name(rec)}) == 3
    assert aws_settings(vocabulary=vocab).transcribe_vocabulary != aws_settings(vocabulary=str(other)).transcribe_vocabulary
    assert aws_settings(vocabulary=vocab).transcribe_vocabulary != \
        aws_settings(vocabulary=vocab, language_code="en-GB").transcribe_vocabulary


def test_a_named_vocabulary_is_updated_and_a_refused_one_stops_setup_with_transcribes_reason(aws, vocab):
    """moto has no UpdateVocabulary: botocore's Stubber checks the requests."""
    settings = aws_settings(vocabulary=vocab, transcribe_vocabulary_name="acme-brands")
    assert settings.transcribe_vocabulary == "acme-brands"
    client = aws_client(settings, "transcribe")
    request = {"VocabularyName": "acme-brands", "LanguageCode": "en-US",
               "Phrases": ["Acme-Telecom", "Sarah", "travel-pass"]}
    with Stubber(client) as stub:
        stub.add_response("get_vocabulary", {"VocabularyName": "acme-brands", "LanguageCode": "en-US",
                                             "VocabularyState": "READY"}, {"VocabularyName": "acme-brands"})
        stub.add_response("update_vocabulary", {"VocabularyName": "acme-brands", "VocabularyState": "PENDING"},
                          request)
        stub.add_response("get_vocabulary", {"VocabularyState": "PENDING"}, {"VocabularyName": "acme-brands"})
        stub.add_response("get_vocabulary", {"VocabularyState": "READY"}, {"VocabularyName": "acme-brands"})
        sleeps: list[float] = []
        report = _setup(settings, aws, transcribe=client, sleeps=sleeps)
        stub.assert_no_pending_responses()
    assert "updated Transcribe custom vocabulary acme-brands (3 phrases, en-US), READY" in report.done
    assert len(sleeps) == 1
    with Stubber(client) as stub:
        stub.add_client_error("get_vocabulary", "BadRequestException",
                              "The requested vocabulary couldn't be found. Check the vocabulary name and try again.")
        stub.add_response("create_vocabulary", {"VocabularyState": "PENDING"}, request)
        stub.add_response("get_vocabulary", {"VocabularyState": "FAILED",
                                             "FailureReason": "Invalid character in phrase"},
                          {"VocabularyName": "acme-brands"})
        with pytest.raises(ConfigurationError, match="refused the custom vocabulary acme-brands .*Invalid character"):
            _setup(settings, aws, transcribe=client)
        stub.assert_no_pending_responses()


def test_setup_refuses_characters_transcribe_refuses_before_calling_it(aws, tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("Acme\nCafé Crème\n")
    settings = aws_settings(vocabulary=str(path))
    client = aws_client(settings, "transcribe")
    with Stubber(client), pytest.raises(ConfigurationError, match=r"v.txt line 2: 'Café Crème'"):
        _setup(settings, aws, transcribe=client)  # the stubber has no response: any call would fail differently


def test_call_analytics_jobs_name_the_vocabulary_in_their_settings(aws, vocab):
    """moto has no Call Analytics: botocore's Stubber checks the request the service would get."""
    samples_with_transcripts(aws)
    settings = aws_settings(vocabulary=vocab, transcribe_mode="call-analytics", transcribe_role_arn=ROLE)
    rec = build_source(settings).discover(DAY)[0]
    t = _transcriber(settings)
    name, vocabulary = t.job_name(rec), settings.transcribe_vocabulary
    stub = Stubber(t.client)
    stub.add_client_error("get_call_analytics_job", "BadRequestException",
                          "The requested job couldn't be found. Check the job name and try again.")
    stub.add_response("get_vocabulary", {"VocabularyName": vocabulary, "LanguageCode": "en-US",
                                         "VocabularyState": "READY"}, {"VocabularyName": vocabulary})
    stub.add_response("start_call_analytics_job", {"CallAnalyticsJob": {"CallAnalyticsJobName": name,
                                                                        "CallAnalyticsJobStatus": "IN_PROGRESS"}}, {
        "CallAnalyticsJobName": name, "Media": {"MediaFileUri": rec.uri},
        "OutputLocation": f"s3://acme-analytics/aftercall/_transcripts/{name}.json",
        "OutputEncryptionKMSKeyId": KMS_KEY, "DataAccessRoleArn": ROLE,
        "ChannelDefinitions": [{"ChannelId": 1, "ParticipantRole": "AGENT"},
                               {"ChannelId": 0, "ParticipantRole": "CUSTOMER"}],
        "Settings": {"LanguageOptions": ["en-US"], "VocabularyName": vocabulary}})
    stub.add_response("get_call_analytics_job", {"CallAnalyticsJob": {"CallAnalyticsJobName": name,
                                                                      "CallAnalyticsJobStatus": "COMPLETED"}},
                      {"CallAnalyticsJobName": name})
    with stub:
        t.prepare([rec])
        stub.assert_no_pending_responses()


def test_a_vocabulary_still_pending_or_of_another_language_fails_the_task(aws, vocab):
    settings = aws_settings(vocabulary=vocab)
    t = _transcriber(settings)
    for answer, says in [({"VocabularyState": "PENDING", "LanguageCode": "en-US"}, "is PENDING"),
                         ({"VocabularyState": "READY", "LanguageCode": "en-GB"}, "is en-GB; the calls are en-US")]:
        with Stubber(t.client) as stub:
            stub.add_response("get_vocabulary", answer, {"VocabularyName": settings.transcribe_vocabulary})
            with pytest.raises(ConfigurationError, match=says):
                t.check_vocabulary()


def _vocabulary_statement(policy: dict) -> list[dict]:
    return [st for st in policy["Statement"] if st["Sid"] == "UseTheCustomVocabulary"]


def test_the_policy_lets_the_role_use_the_vocabulary_exactly_when_jobs_name_it(vocab):
    filled = iam_policy(aws_settings(vocabulary=vocab), account_id="123456789012", region="eu-west-1")
    name = aws_settings(vocabulary=vocab).transcribe_vocabulary
    [statement] = _vocabulary_statement(filled)
    assert statement["Resource"] == f"arn:aws:transcribe:eu-west-1:123456789012:vocabulary/{name}"
    assert "transcribe:GetVocabulary" in statement["Action"] and "transcribe:StartTranscriptionJob" in statement["Action"]
    assert not any(a.startswith(("transcribe:CreateVocabulary", "transcribe:UpdateVocabulary"))
                   for st in filled["Statement"] for a in ([st["Action"]] if isinstance(st["Action"], str)
                                                           else st["Action"]))  # setup's, an administrator's
    assert _vocabulary_statement(iam_policy(aws_settings())) == []
    ca = iam_policy(aws_settings(vocabulary=vocab, transcribe_mode="call-analytics", transcribe_role_arn=ROLE))
    assert "transcribe:StartCallAnalyticsJob" in _vocabulary_statement(ca)[0]["Action"]
    json.dumps(filled)


def test_the_installed_cli_prints_the_vocabulary_statement_and_refuses_a_bad_file_in_one_line(tmp_path, vocab):
    from tests.unit.test_cli_errors import _cli, _error_lines, _no_aws_env

    env = _no_aws_env(tmp_path, AFTERCALL_ENGINE="aws", AFTERCALL_SOURCE="s3://acme-rec/connect",
                      AFTERCALL_LAKE="s3://acme-lake/aftercall", AFTERCALL_VOCABULARY=vocab)
    done = _cli(env, "setup", "--policy-only")
    assert done.returncode == 0, done.stderr
    name = aws_settings(vocabulary=vocab).transcribe_vocabulary
    [statement] = _vocabulary_statement(json.loads(done.stdout))
    assert statement["Resource"].endswith(f":vocabulary/{name}")
    bad = tmp_path / "bad.txt"
    bad.write_text("Acme Telecom\nPlan 5G\n")
    done = _cli({**env, "AFTERCALL_VOCABULARY": str(bad)}, "setup", "--policy-only")
    assert done.returncode == 2 and done.stdout == "" and "Traceback" not in done.stderr
    assert _error_lines(done.stderr) == [f"error: AFTERCALL_VOCABULARY: {bad} line 2: 'Plan 5G': digits are refused "
                                         "(Amazon Transcribe's rule): spell numbers out, e.g. 'five G'"], done.stderr
