"""One writer per day: a lock that every entry point takes before it changes a day of the lake.

Two runs of one day (a nightly run and a backfill, two CLI runs, an import during a run) would
otherwise interleave their partition switches and leave a day that is neither one's. A second
writer waits up to ``AFTERCALL_LOCK_WAIT_S`` seconds, then stops with :class:`DayLocked`, which
names the holder (run id, host, process, since when).

- Local lake: ``<lake>/_locks/dt=DAY.lock`` held with ``fcntl.flock``. The kernel releases it
  when the holder's process ends, however it ends (kill -9 included), so it never needs expiry.
  (flock on NFS is advisory and unreliable: keep a shared local lake on one machine.)
- S3 lake: ``<lake>/_locks/dt=DAY.lock``, an object created with a conditional put
  (``If-None-Match: *``), which S3 refuses with 412 while it exists, so every machine respects
  it. It carries an owner token and an expiry (``AFTERCALL_LOCK_TTL_S``): a holder that died is
  taken over once the lock expired (a put conditional on its ETag, so of two waiters only one
  takes it over). A writer checks it still holds the lock before it switches anything
  (:meth:`S3DayLock.verify`). The expiry is written by the holder's clock and not renewed (no
  heartbeat): keep machines on NTP and the TTL well above one commit's length.

Locks are re-entrant within a thread: ``commit_day`` holds the day while the lake's
``write_partitions`` takes it again. Another thread of the same process waits like any writer.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.exceptions import DayLocked, LakeError

__all__ = ["LOCKS", "S3DayLock", "local_day_lock", "owner_record"]

log = logging.getLogger(__name__)

LOCKS = "_locks"
POLL_S = 0.25

# (lake root, day, thread) -> depth, for re-entry by the thread that holds the day; another thread of the
# process is a writer like any other and waits (flock on its own descriptor, or the S3 object).
_HELD: dict[tuple[str, str, int], int] = {}
_HELD_GUARD = threading.Lock()


def owner_record(run_id: str | None, ttl_s: float | None = None) -> dict[str, Any]:
    """Who holds a day: enough for the on-call engineer to find the process."""
    now = datetime.now(UTC)
    record = {"run_id": run_id or "?", "host": socket.gethostname(), "pid": os.getpid(),
              "token": uuid.uuid4().hex, "since": now.isoformat(timespec="seconds")}
    if ttl_s is not None:
        record["expires_at"] = (now + timedelta(seconds=ttl_s)).isoformat(timespec="seconds")
    return record


def describe(record: dict[str, Any] | None) -> str:
    if not record:
        return "another process (it has not written its name yet)"
    text = f"run {record.get('run_id', '?')} (host {record.get('host', '?')}, pid {record.get('pid', '?')}, " \
           f"since {record.get('since', '?')}"
    return text + (f", lock expires {record['expires_at']})" if record.get("expires_at") else ")")


@contextmanager
def _reentry(root: str, day: str) -> Iterator[bool]:
    """Yields True when this thread already holds the day (the caller must not lock again)."""
    key = (root, day, threading.get_ident())
    with _HELD_GUARD:
        depth = _HELD.get(key, 0)
        _HELD[key] = depth + 1
    try:
        yield depth > 0
    finally:
        with _HELD_GUARD:
            _HELD[key] -= 1
            if not _HELD[key]:
                del _HELD[key]


@contextmanager
def local_day_lock(root: Path, day: str, run_id: str | None, wait_s: float) -> Iterator[None]:
    key = str(root.resolve())
    with _reentry(key, day) as nested:
        if nested:
            yield
            return
        folder = root / LOCKS
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"dt={day}.lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o640)  # no symlink, no FIFO wait
        except OSError as exc:
            raise LakeError("*", day, f"cannot open the day's lock file {path}: {exc.strerror} (it must be a plain "
                                      "file aftercall creates; remove what is there)") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise LakeError("*", day, f"the day's lock {path} is not a plain file: remove it")
        try:
            deadline = time.monotonic() + wait_s
            announced = False
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                        raise
                    holder = _read_json(path)
                    if time.monotonic() >= deadline:
                        for _ in range(20):  # a holder writes its name just after it takes the lock: give it a moment
                            if holder:
                                break
                            time.sleep(0.05)
                            holder = _read_json(path)
                        raise DayLocked(day, describe(holder), wait_s) from None
                    if not announced:
                        log.warning("%s is being written by %s; waiting up to %.0f s", day, describe(holder), wait_s)
                        announced = True
                    time.sleep(POLL_S)
            data = json.dumps(owner_record(run_id)).encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
            try:
                yield
            finally:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text() or "null")
    except (OSError, ValueError):
        return None


class S3DayLock:
    """The S3 lock object of one day; see the module docstring."""

    def __init__(self, s3: Any, bucket: str, key: str, day: str, run_id: str | None, *, wait_s: float, ttl_s: float,
                 kms_key_id: str | None) -> None:
        self.s3, self.bucket, self.key, self.day = s3, bucket, key, day
        self.run_id, self.wait_s, self.ttl_s, self.kms_key_id = run_id, wait_s, ttl_s, kms_key_id
        self.record: dict[str, Any] | None = None
        self.etag: str | None = None

    def _code(self, exc: Exception) -> str:
        return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))

    def acquire(self) -> None:
        from pipeline.aws._helpers import sse_kwargs

        deadline = time.monotonic() + self.wait_s
        announced = False
        condition: dict[str, str] = {"IfNoneMatch": "*"}
        while True:
            record = owner_record(self.run_id, self.ttl_s)
            try:
                put = self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=json.dumps(record).encode(),
                                         ContentType="application/json", **condition, **sse_kwargs(self.kms_key_id))
                self.record, self.etag = record, put.get("ETag")
                return
            except self.s3.exceptions.ClientError as exc:
                if self._code(exc) not in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409", "NoSuchKey",
                                           "404"):
                    raise
            condition = {"IfNoneMatch": "*"}
            holder, etag = self._current()
            if holder is not None and _expired(holder) and etag:
                # Take over with one put conditional on the dead holder's ETag: of two waiters, one wins.
                log.warning("%s: taking over the expired lock of %s", self.day, describe(holder))
                condition = {"IfMatch": etag}
                continue
            if time.monotonic() >= deadline:
                raise DayLocked(self.day, describe(holder), self.wait_s)
            if holder is not None and not announced:
                log.warning("%s is being written by %s; waiting up to %.0f s", self.day, describe(holder), self.wait_s)
                announced = True
            time.sleep(POLL_S if holder is None else POLL_S * 4)

    def _current(self) -> tuple[dict[str, Any] | None, str | None]:
        try:
            got = self.s3.get_object(Bucket=self.bucket, Key=self.key)
        except self.s3.exceptions.NoSuchKey:
            return None, None
        try:
            record = json.loads(got["Body"].read())
        except ValueError:
            record = None
        if not isinstance(record, dict):  # junk (not ours): treat as expired
            record = {"run_id": "?", "expires_at": "1970-01-01T00:00:00+00:00"}
        return record, got.get("ETag")

    def verify(self) -> None:
        """Raise :class:`LakeError` unless this writer still holds the day (it may have expired and been taken)."""
        holder, _ = self._current()
        if not holder or not self.record or holder.get("token") != self.record["token"]:
            raise LakeError("*", self.day, f"lost the day's lock (now held by {describe(holder)}); switched nothing")
        if _expired(holder):
            raise LakeError("*", self.day, "the day's lock expired before the switch (raise AFTERCALL_LOCK_TTL_S); "
                                           "switched nothing")

    def release(self) -> None:
        if self.etag is None:
            return
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=self.key, IfMatch=self.etag)
        except self.s3.exceptions.ClientError as exc:  # someone took over an expired lock: theirs now
            log.warning("%s: lock not released (%s)", self.day, self._code(exc))
        self.etag = None


def _expired(record: dict[str, Any]) -> bool:
    try:
        return datetime.fromisoformat(record["expires_at"]) <= datetime.now(UTC)
    except (KeyError, TypeError, ValueError):
        return True
