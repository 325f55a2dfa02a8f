"""The installed CLI against AWS stand-ins over HTTP: a moto server, reached through ``AWS_ENDPOINT_URL``.

A day of 4 good sample calls and 13 unusual files (7 unusable) in S3, run with ``--engine aws`` twice.
moto's server completes Transcribe jobs without writing their transcript and has no
``batch_detect_sentiment``; the server runs in this process, so those two are filled in here, in the
services' real formats (the transcript rendered from each call's script, sentiment from VADER), and
every request for them is counted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import re
from pathlib import Path

import boto3
import pytest

from pipeline.adapters.vader import VaderSentiment
from pipeline.aws.transcript_format import render_transcribe
from pipeline.ports import Word
from pipeline.settings import SAMPLES_DIR
from tests.airflow_support import free_port
from tests.badinput import EXPECTED, write_bad_recordings

pytestmark = pytest.mark.slow

CLI = Path(sys.executable).parent / "aftercall"
REGION, KMS = "eu-west-1", "arn:aws:kms:eu-west-1:123456789012:key/aftercall-test"
SOURCE, LAKE = "acme-connect-recordings", "acme-analytics"
SCRIPTS = {c["contact_id"]: c["turns"] for c in json.loads((SAMPLES_DIR / "truth.json").read_text())}


def _script_words(contact_id: str) -> list[Word]:
    """The call's scripted words, spread over each scripted turn (the sample calls say exactly these)."""
    words = []
    for turn in SCRIPTS.get(contact_id, []):
        tokens = turn["text"].split()
        step = (turn["end_s"] - turn["begin_s"]) / len(tokens)
        words += [Word(turn["participant"], round(turn["begin_s"] + i * step, 3),
                       round(turn["begin_s"] + (i + 0.8) * step, 3), t, 0.99) for i, t in enumerate(tokens)]
    return words


@pytest.fixture
def moto_server(monkeypatch):
    from moto.comprehend.responses import ComprehendResponse
    from moto.server import ThreadedMotoServer
    from moto.transcribe.models import TranscribeBackend

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    counts = {"StartTranscriptionJob": 0, "BatchDetectSentiment": 0}
    written: set[str] = set()
    start, get = TranscribeBackend.start_transcription_job, TranscribeBackend.get_transcription_job
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="testing",
                      aws_secret_access_key="testing")

    def counting_start(self, *args, **kwargs):
        counts["StartTranscriptionJob"] += 1
        written.discard(kwargs.get("transcription_job_name") or args[0])  # a (re)started job gets its own output
        return start(self, *args, **kwargs)

    def get_and_write(self, transcription_job_name):
        response = get(self, transcription_job_name)
        job = response.get("TranscriptionJob", response)
        if job["TranscriptionJobStatus"] == "COMPLETED" and transcription_job_name not in written:
            bucket, key = job["Transcript"]["TranscriptFileUri"].split(".amazonaws.com/", 1)[1].split("/", 1)
            contact = job["Media"]["MediaFileUri"].rsplit("/", 1)[1].split("_")[0]
            doc = render_transcribe(_script_words(contact), transcription_job_name)
            s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(doc).encode(), ServerSideEncryption="aws:kms",
                          SSEKMSKeyId=job.get("OutputEncryptionKMSKeyId") or KMS)
            written.add(transcription_job_name)
        return response

    vader = VaderSentiment()

    def batch_detect_sentiment(self):
        counts["BatchDetectSentiment"] += 1
        texts = json.loads(self.body)["TextList"]
        return json.dumps({"ResultList": [
            {"Index": i, "Sentiment": r.label, "SentimentScore": {"Positive": r.positive, "Negative": r.negative,
                                                                   "Neutral": r.neutral, "Mixed": r.mixed}}
            for i, r in enumerate(vader.analyze(texts, "en-US"))], "ErrorList": []})

    monkeypatch.setattr(TranscribeBackend, "start_transcription_job", counting_start)
    monkeypatch.setattr(TranscribeBackend, "get_transcription_job", get_and_write)
    def detect_pii_entities(self):  # moto answers English only, with canned offsets; Comprehend reads en and es
        params = json.loads(self.body)
        assert params["LanguageCode"] in ("en", "es") and len(params["Text"].encode()) <= 100_000
        return json.dumps({"Entities": []})

    monkeypatch.setattr(ComprehendResponse, "batch_detect_sentiment", batch_detect_sentiment, raising=False)
    monkeypatch.setattr(ComprehendResponse, "detect_pii_entities", detect_pii_entities)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    import urllib.request

    # moto's backends live in this process: start every test from an empty account
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()
    try:
        yield endpoint, s3, counts
    finally:
        server.stop()


def _run(endpoint: str, *args: str, **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AFTERCALL_", "AWS_"))}
    env.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION=REGION, AFTERCALL_KMS_KEY_ID=KMS, AFTERCALL_AWS_REGION=REGION,
               AFTERCALL_TRANSCRIBE_POLL_S="0", AFTERCALL_ENGINE="aws")
    env.update(extra)
    return subprocess.run([str(CLI), *args], env=env, capture_output=True, text=True, timeout=600)


def test_cli_on_a_moto_server_pays_only_for_usable_audio_and_never_twice(moto_server, tmp_path):
    endpoint, s3, counts = moto_server
    for bucket in (SOURCE, LAKE):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    boto3.client("glue", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_database(DatabaseInput={"Name": "aftercall"})
    day = "connect/acme/CallRecordings/2026/11/22"
    samples = sorted(SAMPLES_DIR.rglob("*.wav"))
    for f in samples:
        s3.upload_file(str(f), SOURCE, f"{day}/{f.name}")
    write_bad_recordings(tmp_path, samples[0])
    for f in tmp_path.iterdir():
        s3.upload_file(str(f), SOURCE, f"{day}/{f.name}")
    usable = len(samples) + sum(v == "ok" for v in EXPECTED.values())
    args = ("run", "--date", "2026-11-22", "--source", f"s3://{SOURCE}/connect", "--lake", f"s3://{LAKE}/aftercall",
            "--workers", "1")

    first = _run(endpoint, *args)
    assert first.returncode == 0, first.stdout + first.stderr
    assert re.search(rf"processed\s*│\s*{usable}\b", first.stdout) and re.search(rf"quarantined\s*│\s*{len(EXPECTED) + len(samples) - usable}\b", first.stdout)
    assert counts["StartTranscriptionJob"] == usable  # none for the 7 unusable files
    assert counts["BatchDetectSentiment"] > 0
    assert f"s3://{LAKE}/aftercall" in first.stdout and "s3:/acme" not in first.stdout.replace("s3://", "")

    before = dict(counts)
    again = _run(endpoint, *args)
    assert again.returncode == 0, again.stdout + again.stderr
    assert counts == before  # the rerun sent nothing to Transcribe or Comprehend

    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=LAKE)
            for o in page.get("Contents", [])]
    assert any(k.startswith("aftercall/calls/") for k in keys) and any("/_sentiment/" in k for k in keys)
    for key in keys:
        head = s3.head_object(Bucket=LAKE, Key=key)
        assert (head.get("ServerSideEncryption"), head.get("SSEKMSKeyId")) == ("aws:kms", KMS), key


# --- every AWS action the CLI makes is allowed by the policy `aftercall setup --policy-only` prints --------------

RECORDER = Path(__file__).parent / "aws_calls"  # a sitecustomize that logs each botocore call (tests only)
ACCOUNT, CTR = "123456789012", "acme-contact-trace-records"
# S3 operations -> the IAM action that authorises them (S3's action names differ from its operations).
S3_ACTIONS = {"ListObjectsV2": "ListBucket", "ListObjects": "ListBucket", "HeadObject": "GetObject",
              "GetObject": "GetObject", "PutObject": "PutObject", "CreateMultipartUpload": "PutObject",
              "UploadPart": "PutObject", "CompleteMultipartUpload": "PutObject",
              "AbortMultipartUpload": "AbortMultipartUpload", "DeleteObject": "DeleteObject",
              "DeleteObjects": "DeleteObject", "GetBucketLocation": "GetBucketLocation", "HeadBucket": "ListBucket"}
NO_PERMISSION = {("sts", "GetCallerIdentity")}  # answered for any caller


def _requests(call: dict) -> list[tuple[str, list[str], str | None]]:
    """(IAM action, the resource ARNs it needs, the s3:prefix of a listing) for one recorded API call."""
    service, op, params = call["service"], call["operation"], call["params"]
    if service == "s3":
        action = f"s3:{S3_ACTIONS[op]}"
        bucket = params["Bucket"]
        if op in ("ListObjectsV2", "ListObjects", "GetBucketLocation", "HeadBucket"):
            return [(action, [f"arn:aws:s3:::{bucket}"], params.get("Prefix", "") if "List" in op else None)]
        keys = [o["Key"] for o in params["Delete"]["Objects"]] if op == "DeleteObjects" else [params["Key"]]
        return [(action, [f"arn:aws:s3:::{bucket}/{key}" for key in keys], None)]
    if service == "transcribe":
        name = params.get("TranscriptionJobName") or params.get("CallAnalyticsJobName")
        kind = "transcription-job" if "TranscriptionJobName" in params else "analytics-job"
        arn = [f"arn:aws:transcribe:{REGION}:{ACCOUNT}:{kind}/{name}"]
        tags = [("transcribe:TagResource", arn, None)] if params.get("Tags") else []
        return [(f"transcribe:{op}", arn, None), *tags]
    if service == "glue":
        db = params.get("DatabaseName") or params.get("DatabaseInput", {}).get("Name")
        arns = [f"arn:aws:glue:{REGION}:{ACCOUNT}:catalog"]
        if db:
            arns.append(f"arn:aws:glue:{REGION}:{ACCOUNT}:database/{db}")
            table = params.get("TableName") or params.get("Name") or params.get("TableInput", {}).get("Name")
            arns.append(f"arn:aws:glue:{REGION}:{ACCOUNT}:table/{db}/{table or '*'}")
        return [(f"glue:{op}", arns, None)]
    if service == "athena":
        return [(f"athena:{op}", [f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/{params.get('WorkGroup', 'aftercall')}"],
                 None)]
    return [(f"{service}:{op}", ["*"], None)]


def _allowed(policy: dict, action: str, resource: str, prefix: str | None) -> bool:
    from fnmatch import fnmatchcase

    for st in policy["Statement"]:
        actions = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
        resources = [st["Resource"]] if isinstance(st["Resource"], str) else st["Resource"]
        if st["Effect"] != "Allow" or not any(fnmatchcase(action, a) for a in actions):
            continue
        if not any(fnmatchcase(resource, r) for r in resources):
            continue
        like = st.get("Condition", {}).get("StringLike", {}).get("s3:prefix")
        if like is not None and not any(fnmatchcase(prefix or "", p) for p in like):
            continue
        return True
    return False


def _denied(policy: dict, calls: list[dict]) -> list[str]:
    denied = set()
    for call in calls:
        if (call["service"], call["operation"]) in NO_PERMISSION:
            continue
        for action, arns, prefix in _requests(call):
            denied |= {f"{action} {arn}" + (f" prefix={prefix!r}" if prefix is not None else "")
                       for arn in arns if not _allowed(policy, action, arn, prefix)}
    return sorted(denied)


def test_every_aws_action_of_the_cli_is_allowed_by_the_generated_policy(moto_server, tmp_path):
    """Recordings, a separate CTR bucket, es-MX with redaction (Comprehend's DetectPiiEntities: Transcribe can't
    redact es-MX) and PII_RAW=drop (raw outputs and jobs deleted), run twice, then query and recategorize: every
    call the installed CLI makes is recorded and must be allowed, resource and prefix included, by the policy
    `aftercall setup --policy-only` prints for the same settings; the policy of settings without the CTR bucket
    and the detector must refuse some."""
    endpoint, s3, counts = moto_server
    for bucket in (SOURCE, LAKE, CTR):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    for f in sorted(SAMPLES_DIR.rglob("*.wav")):
        s3.upload_file(str(f), SOURCE, f"connect/acme/CallRecordings/2026/11/22/{f.name}")
    ctr_root = SAMPLES_DIR / "ctr"
    for f in sorted(p for p in ctr_root.rglob("*") if p.is_file()):
        s3.upload_file(str(f), CTR, f"ctr/{f.relative_to(ctr_root)}")
    settings = dict(AFTERCALL_SOURCE=f"s3://{SOURCE}/connect", AFTERCALL_LAKE=f"s3://{LAKE}/aftercall",
                    AFTERCALL_CTR_SOURCE=f"s3://{CTR}/ctr", AFTERCALL_LANGUAGE_CODE="es-MX",
                    AFTERCALL_REDACT_PII="true", AFTERCALL_PII_RAW="drop", AFTERCALL_WORKERS="1")
    admin = _run(endpoint, "setup", **settings)  # an administrator's command: not the pipeline role's
    assert admin.returncode == 0, admin.stderr
    printed = _run(endpoint, "setup", "--policy-only", **settings)
    assert printed.returncode == 0, printed.stderr
    policy = json.loads(printed.stdout.replace("<account-id>", ACCOUNT))

    log = tmp_path / "aws-calls.jsonl"
    recording = dict(settings, PYTHONPATH=str(RECORDER), AFTERCALL_TEST_AWS_CALLS=str(log))
    for args in (("run", "--date", "2026-11-22"), ("run", "--date", "2026-11-22"),
                 ("query", "select * from v_daily_overview"),
                 ("recategorize", "--from", "2026-11-22", "--to", "2026-11-22")):
        done = _run(endpoint, *args, **recording)
        assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
        assert re.search(r"processed\s*│\s*4\b", done.stdout) or args[0] != "run", done.stdout
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    made = {f"{c['service']}:{c['operation']}" for c in calls}
    assert {"comprehend:DetectPiiEntities", "comprehend:BatchDetectSentiment", "transcribe:StartTranscriptionJob",
            "transcribe:DeleteTranscriptionJob", "s3:DeleteObject", "glue:UpdatePartition",
            "athena:StartQueryExecution"} <= made, made
    assert any(c["service"] == "s3" and c["params"].get("Bucket") == CTR for c in calls)  # CTRs read from S3
    assert counts["StartTranscriptionJob"] == 8  # drop: the rerun transcribes again (no raw text was kept)
    assert not [k for page in s3.get_paginator("list_objects_v2").paginate(Bucket=LAKE, Prefix="aftercall/_transcripts/aftercall-")
                for k in page.get("Contents", [])]  # no raw es-MX transcript left behind

    print("AWS actions made:", " ".join(sorted(made)))
    assert _denied(policy, calls) == []
    narrower = _run(endpoint, "setup", "--policy-only", **dict(settings, AFTERCALL_CTR_SOURCE="",
                                                               AFTERCALL_LANGUAGE_CODE="en-US"))
    missing = _denied(json.loads(narrower.stdout.replace("<account-id>", ACCOUNT)), calls)
    assert any(d.startswith("comprehend:DetectPiiEntities") for d in missing), missing
    assert any(f"arn:aws:s3:::{CTR}" in d for d in missing), missing
