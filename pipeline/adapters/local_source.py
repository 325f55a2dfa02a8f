"""Recordings in a local folder laid out as Amazon Connect lays out S3."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import BinaryIO

from pipeline.steps.discovery import Recording, discover_local
from pipeline.exceptions import BadRecording
from pipeline.ports import RecordingSource

__all__ = ["LocalSource"]


class LocalSource(RecordingSource):
    def __init__(self, root: Path, timezone: str = "UTC") -> None:
        self.root, self.timezone = root, timezone

    def discover(self, day: date) -> list[Recording]:
        """The recordings of ``day`` in the centre's zone: from every UTC day folder it overlaps."""
        return discover_local(self.root, day, self.timezone)

    def read(self, recording: Recording) -> bytes:
        try:
            with open(recording.uri, "rb") as fh:  # read-only: the source is never touched
                return fh.read()
        except FileNotFoundError:
            raise BadRecording(recording.uri, "read", "the file was deleted after discovery") from None

    def open(self, recording: Recording) -> BinaryIO:
        """The file itself, never its bytes in memory: a 4-hour call is decoded a block at a time."""
        try:
            return open(recording.uri, "rb")  # noqa: SIM115 - the caller closes it
        except FileNotFoundError:
            raise BadRecording(recording.uri, "read", "the file was deleted after discovery") from None
