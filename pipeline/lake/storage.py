"""Where batches stage their rows between Airflow tasks: a folder, or an S3 prefix (SSE-KMS).

Tasks may run on different machines, so staging lives beside the lake: ``<lake>/_staging/``.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["FILE_MODE", "LocalStore", "S3Store", "Store", "write_atomically"]

FILE_MODE = 0o640  # lake files hold what customers said: not world-readable


def write_atomically(target: Path, write: Callable[[Path], None], *, tmp_name: str | None = None) -> None:
    """Whole or not at all: ``write`` fills a temporary file beside ``target`` (flushed to disk, mode 0640),
    which is then renamed over it, so a reader never sees half a file under a trusted name.

    The temporary name carries its writer (``.tmp-<pid>-<random>.partial`` unless ``tmp_name``), so whoever
    cleans up can tell a dead writer's leftovers from a live one's.
    """
    tmp = target.parent / (tmp_name or f".tmp-{os.getpid()}-{uuid.uuid4().hex}.partial")
    try:
        write(tmp)
        os.chmod(tmp, FILE_MODE)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class Store(ABC):
    @abstractmethod
    def write_bytes(self, path: str, data: bytes) -> None: ...

    @abstractmethod
    def read_bytes(self, path: str) -> bytes: ...

    @abstractmethod
    def read_if_exists(self, path: str) -> bytes | None:
        """The object's bytes, or None when there is no such object."""

    @abstractmethod
    def list(self, prefix: str) -> list[str]:
        """Every object (file) path below ``prefix``, sorted."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> None: ...


class LocalStore(Store):
    def read_if_exists(self, path: str) -> bytes | None:
        try:
            return self.read_bytes(path)
        except FileNotFoundError:
            return None

    def write_bytes(self, path: str, data: bytes) -> None:
        """Whole or not at all (a temporary file renamed over the target): a reader never sees half of it."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, lambda tmp: tmp.write_bytes(data))

    def read_bytes(self, path: str) -> bytes:
        """A regular file's bytes; anything else (a FIFO would block forever, /dev/zero never end) is an OSError."""
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # non-blocking: opening a FIFO returns at once
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise OSError(errno.EINVAL, "not a regular file", path)
        with os.fdopen(fd, "rb") as f:
            return f.read()

    def list(self, prefix: str) -> list[str]:
        root = Path(prefix)
        return sorted(str(p) for p in root.rglob("*") if p.is_file()) if root.is_dir() else []

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(prefix, ignore_errors=True)
        try:  # the day's folder too, once no other run stages there
            Path(prefix).parent.rmdir()
        except OSError:
            pass


class S3Store(Store):
    def __init__(self, s3: Any, kms_key_id: str | None) -> None:
        self.s3 = s3
        self.kms_key_id = kms_key_id

    def write_bytes(self, path: str, data: bytes) -> None:
        from pipeline.aws._helpers import split_uri, sse_kwargs

        bucket, key = split_uri(path)
        self.s3.put_object(Bucket=bucket, Key=key, Body=data, **sse_kwargs(self.kms_key_id))

    def read_bytes(self, path: str) -> bytes:
        from pipeline.aws._helpers import split_uri

        bucket, key = split_uri(path)
        return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def read_if_exists(self, path: str) -> bytes | None:
        try:
            return self.read_bytes(path)
        except self.s3.exceptions.NoSuchKey:
            return None

    def list(self, prefix: str) -> list[str]:
        from pipeline.aws._helpers import split_uri

        bucket, key = split_uri(prefix)
        found = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key.rstrip("/") + "/"):
            found += [f"s3://{bucket}/{o['Key']}" for o in page.get("Contents", [])]
        return sorted(found)

    def delete_prefix(self, prefix: str) -> None:
        self.delete(self.list(prefix))

    def delete(self, paths: list[str]) -> None:
        """Delete these objects (s3:// URIs of one bucket), 1,000 per request."""
        from pipeline.aws._helpers import split_uri

        if not paths:
            return
        bucket = split_uri(paths[0])[0]
        keys = [{"Key": split_uri(p)[1]} for p in paths]
        for i in range(0, len(keys), 1000):
            self.s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[i:i + 1000], "Quiet": True})
