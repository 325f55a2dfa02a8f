"""An S3 recording is decoded from a spooled file, never held whole in memory (a 4-hour call is ~460 MB)."""

from __future__ import annotations

from datetime import date

import pytest

from pipeline.steps.audio import decode_call
from pipeline.aws.s3_source import S3Source
from pipeline.exceptions import BadRecording
from tests.aws_support import SOURCE_BUCKET, upload_samples

DAY = date(2026, 11, 22)


def test_a_recording_larger_than_the_spool_limit_is_read_from_a_temporary_file(aws):
    s3 = aws.client("s3")
    upload_samples(s3)
    source = S3Source(s3, f"s3://{SOURCE_BUCKET}/connect", spool_bytes=64 * 1024)
    recording = source.discover(DAY)[0]
    with source.open(recording) as f:
        assert f._rolled  # on disk: the sample call (over 1 MB) is beyond 64 KB  # noqa: SLF001
        assert f.read() == source.read(recording)
    with source.open(recording) as f:
        from_file = decode_call(f, recording.uri, 1)
        assert from_file.duration_s == pytest.approx(decode_call(source.read(recording), recording.uri, 1).duration_s)


def test_an_object_changed_after_discovery_is_refused_when_opened_too(aws):
    s3 = aws.client("s3")
    keys = upload_samples(s3)
    source = S3Source(s3, f"s3://{SOURCE_BUCKET}/connect")
    recording = source.discover(DAY)[0]
    s3.put_object(Bucket=SOURCE_BUCKET, Key=keys[0], Body=b"RIFF changed")
    with pytest.raises(BadRecording, match="changed after discovery"):
        source.open(recording)

