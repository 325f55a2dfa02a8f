"""Recordings in S3, in Amazon Connect's layout, behind the RecordingSource port.

Listing never walks the whole bucket: from ``s3://bucket/prefix`` it descends with ``/`` as
delimiter (at most :data:`MAX_DEPTH` levels) to every ``CallRecordings/`` folder, then lists
only the ``CallRecordings/YYYY/MM/DD/`` folders (UTC days) that the local day asked for overlaps
(``AFTERCALL_TIMEZONE``; :mod:`pipeline.steps.days`), with the ``list_objects_v2`` paginator. Each object is read once, with ``IfMatch`` on the ETag seen at discovery, so the
audio measured is the audio whose transcript is cached.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from datetime import date
from pathlib import PurePosixPath
from typing import Any, BinaryIO

from pipeline.aws._helpers import split_uri
from pipeline.steps.days import utc_folders
from pipeline.steps.discovery import AUDIO_SUFFIXES, Recording, in_day
from pipeline.exceptions import BadRecording
from pipeline.ports import RecordingSource

__all__ = ["MAX_DEPTH", "S3Source"]

log = logging.getLogger(__name__)

MAX_DEPTH = 4  # connect/<instance>/CallRecordings/ is three levels below a bucket's root
SPOOL_BYTES = 64 * 2**20  # a recording larger than this is read from a temporary file, not from memory


class S3Source(RecordingSource):
    """``s3`` is an injected boto3 S3 client (in Airflow: ``S3Hook(aws_conn_id).get_conn()``)."""

    def __init__(self, s3: Any, root: str, spool_bytes: int = SPOOL_BYTES, timezone: str = "UTC") -> None:
        self.s3, self.spool_bytes, self.timezone = s3, spool_bytes, timezone
        self.bucket, prefix = split_uri(root)
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""

    def _recording_roots(self) -> list[str]:
        found: list[str] = []
        level = [self.prefix]
        for _ in range(MAX_DEPTH + 1):
            below: list[str] = []
            for prefix in level:
                if prefix.rstrip("/").rsplit("/", 1)[-1] == "CallRecordings":
                    found.append(prefix)
                    continue
                for page in self.s3.get_paginator("list_objects_v2").paginate(
                        Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
                    below += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
            level = sorted(below)
            if not level:
                break
        return found

    def discover(self, day: date) -> list[Recording]:
        recordings = []
        for root in self._recording_roots():
            for folder_day in utc_folders(day, self.timezone):
                for page in self.s3.get_paginator("list_objects_v2").paginate(
                        Bucket=self.bucket, Prefix=f"{root}{folder_day:%Y/%m/%d}/"):
                    for obj in page.get("Contents", []):
                        name = PurePosixPath(obj["Key"]).name
                        if name.startswith(".") or PurePosixPath(name).suffix.lower() not in AUDIO_SUFFIXES:
                            continue
                        found = in_day(name, folder_day, day, self.timezone)
                        if found is None:
                            continue
                        recordings.append(Recording(f"s3://{self.bucket}/{obj['Key']}", found[0], day, found[1],
                                                    obj["Size"], obj["ETag"].strip('"'), timezone=self.timezone))
        log.info("%s: %d recordings under s3://%s/%s", day, len(recordings), self.bucket, self.prefix)
        return sorted(recordings, key=lambda r: (r.contact_id, r.uri))

    def read(self, recording: Recording) -> bytes:
        return self._body(recording).read()

    def open(self, recording: Recording) -> BinaryIO:
        """The object spooled to a temporary file beyond :data:`SPOOL_BYTES` (a 4-hour call is ~460 MB): the
        decoder then reads it a block at a time, never the whole call from memory."""
        spool = tempfile.SpooledTemporaryFile(max_size=self.spool_bytes)  # noqa: SIM115 - the caller closes it
        try:
            shutil.copyfileobj(self._body(recording), spool, 1 << 20)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return spool  # type: ignore[return-value]

    def _body(self, recording: Recording) -> Any:
        bucket, key = split_uri(recording.uri)
        extra = {"IfMatch": f'"{recording.etag}"'} if recording.etag else {}
        try:
            return self.s3.get_object(Bucket=bucket, Key=key, **extra)["Body"]
        except self.s3.exceptions.NoSuchKey:
            raise BadRecording(recording.uri, "read", "the object was deleted after discovery") from None
        except self.s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412"):
                raise BadRecording(recording.uri, "read", "the object changed after discovery; "
                                   "the next run picks up the new version") from None
            raise
