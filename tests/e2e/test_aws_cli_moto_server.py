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
    monkeypatch.setattr(ComprehendResponse, "batch_detect_sentiment", batch_detect_sentiment, raising=False)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield endpoint, s3, counts
    finally:
        server.stop()


def _run(endpoint: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AFTERCALL_", "AWS_"))}
    env.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION=REGION, AFTERCALL_KMS_KEY_ID=KMS, AFTERCALL_AWS_REGION=REGION,
               AFTERCALL_TRANSCRIBE_POLL_S="0", AFTERCALL_ENGINE="aws")
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
    assert re.search(rf"processed\s*│\s*{usable}\b", first.stdout) and re.search(r"quarantined\s*│\s*7\b", first.stdout)
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
