"""Fakes that must be importable by name: pool workers are spawned processes and unpickle them by reference."""

from __future__ import annotations

import os
from pathlib import Path


def work_but_die_once(recording):
    """A worker's job that kills its process (as a native crash or the OOM killer would) the first time only.

    ``AFTERCALL_TEST_DIE_MARKER`` names a file: absent, it is created and the process exits at once.
    """
    marker = Path(os.environ["AFTERCALL_TEST_DIE_MARKER"])
    try:
        marker.touch(exist_ok=False)
    except FileExistsError:
        from pipeline.steps.run import _work

        return _work(recording)
    os._exit(17)
