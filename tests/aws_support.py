from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from pipeline import wiring
from pipeline.settings import SAMPLES_DIR, Settings
from tests.aws_fakes import KMS_KEY, REGION, TranscribeOutputs

SOURCE_BUCKET, LAKE_BUCKET = "acme-connect-recordings", "acme-analytics"


@pytest.fixture
def aws(monkeypatch):
    """moto in-process, fake credentials, two buckets and the Glue database; every client from one session."""
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        s3 = session.client("s3")
        for bucket in (SOURCE_BUCKET, LAKE_BUCKET):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        session.client("glue").create_database(DatabaseInput={"Name": "aftercall"})
        monkeypatch.setattr(wiring, "_session", lambda settings: session)
        yield session


def upload_samples(s3, day_folder: str = "2026/11/22") -> list[str]:
    """The bundled sample calls at s3://<recordings>/connect/acme/CallRecordings/..., as Connect stores them."""
    keys = []
    for f in sorted((SAMPLES_DIR / "connect" / "acme-demo" / "CallRecordings" / day_folder).glob("*.wav")):
        key = f"connect/acme/CallRecordings/{day_folder}/{f.name}"
        s3.upload_file(str(f), SOURCE_BUCKET, key)
        keys.append(key)
    return keys


TRANSCRIBE_FIXTURE = json.loads((Path(__file__).parent / "unit" / "aws" / "fixtures" / "transcribe_channels.json")
                                .read_text())


def samples_with_transcripts(aws) -> tuple[object, TranscribeOutputs]:
    """The sample calls uploaded, and every Transcribe job's output written (the channel fixture), as the service
    would: the S3 client and the outputs' recorder."""
    s3 = aws.client("s3")
    upload_samples(s3)
    outputs = TranscribeOutputs(s3, lambda uri, job: TRANSCRIBE_FIXTURE)
    outputs.attach(aws.events)
    return s3, outputs


def aws_settings(**kw) -> Settings:
    base = dict(engine="aws", source=f"s3://{SOURCE_BUCKET}/connect", lake=f"s3://{LAKE_BUCKET}/aftercall",
                kms_key_id=KMS_KEY, aws_region=REGION, transcribe_poll_s=0, workers=1)
    return Settings(**{**base, **kw})


def all_objects(s3, bucket: str) -> list[str]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


__all__ = ["KMS_KEY", "LAKE_BUCKET", "REGION", "SOURCE_BUCKET", "TRANSCRIBE_FIXTURE", "all_objects", "aws", "aws_settings",
           "samples_with_transcripts", "upload_samples"]
