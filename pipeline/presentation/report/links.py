"""Where a reviewer plays a call's recording from the report: a link made when the report is written.

* A local recording (the local engine's source folder): its path relative to the report's folder, as a
  URL path (every character but ``/`` percent-encoded, so ``T09:12`` in a file name is never read as a URL
  scheme and nothing in a path can break out of the attribute). The report and the recordings folder move
  together.
* A recording on S3 (``s3://bucket/key``): a presigned GET URL from the injected S3 client (in Airflow the
  provider's S3 hook's client, from the CLI the AWS chain's), valid ``AFTERCALL_REPORT_LINK_EXPIRY_S`` seconds
  from the moment the report is written; the call's page says when it expires. Nothing is requested from
  S3: presigning is local (the client's credentials sign the URL).
* Anything else (a local file that is not there when the report is written, another scheme, no URI): no
  link, and the page says so.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

__all__ = ["RecordingLink", "RecordingLinks", "presigning_client"]


def presigning_client(session: Any, region: str | None = None) -> Any:
    """An S3 client of ``session`` (boto3's, or an Airflow S3 hook's ``get_session()``) that presigns with SigV4
    on the region's virtual-hosted endpoint: botocore's default for some regions is the legacy SigV2 query
    string, which newer regions refuse."""
    from botocore.config import Config

    return session.client("s3", region_name=region, config=Config(signature_version="s3v4",
                                                                  s3={"addressing_style": "virtual"}))


@dataclass(frozen=True, slots=True)
class RecordingLink:
    href: str  # a URL (to be HTML-escaped where it is written)
    expires_at: datetime | None = None  # a presigned URL's end; None for a local file


class RecordingLinks:
    """``links(recording_uri)`` -> a :class:`RecordingLink` or None.

    ``s3_client``: a callable returning a boto3 S3 client, called once and only when a recording is on S3.
    """

    def __init__(self, report_dir: Path | str, expiry_s: int = 3600, s3_client: Callable[[], Any] | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.report_dir = Path(report_dir).resolve()
        self.expiry_s = int(expiry_s)
        self._make_client = s3_client
        self._client: Any = None
        self._now = now

    def __call__(self, uri: str | None) -> RecordingLink | None:
        if not uri:
            return None
        if uri.startswith("s3://"):
            return self._presigned(uri)
        if "://" in uri:
            return None  # http(s) or another store: not a recording this report can vouch for
        path = Path(uri)
        path = path if path.is_absolute() else Path.cwd() / path
        if not path.is_file():
            return None  # moved or deleted since the call was processed: no link that leads nowhere
        try:
            relative = os.path.relpath(path, self.report_dir)
        except ValueError:  # another drive (Windows): only an absolute file URL reaches it
            return RecordingLink(path.as_uri())
        href = quote(relative.replace(os.sep, "/"), safe="/")  # ':' too: never read as a scheme
        return RecordingLink(href if href.startswith("../") else "./" + href)

    def _presigned(self, uri: str) -> RecordingLink | None:
        bucket, _, key = uri[len("s3://"):].partition("/")
        if not bucket or not key or self._make_client is None:
            return None
        if self._client is None:
            self._client = self._make_client()
        signed_at = self._now()
        url = self._client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key},
                                                  ExpiresIn=self.expiry_s)
        return RecordingLink(url, signed_at + timedelta(seconds=self.expiry_s))
