"""One writer per day on the local lake: the flock, its holder's name, release on kill -9, safe run keys."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date

import pytest

from pipeline.exceptions import DayLocked
from pipeline.lake.tables import LocalLake
from pipeline.steps.orchestration import _run_key

DAY = date(2026, 11, 22)
HOLD = """
import sys, time
from pipeline.lake.tables import LocalLake
with LocalLake(sys.argv[1]).day_lock("2026-11-22", "manual__holder"):
    print("held", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def holder(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "lake")], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    yield proc
    proc.kill()
    proc.wait()


def test_a_second_writer_waits_then_stops_naming_the_holder(tmp_path, holder):
    lake = LocalLake(tmp_path / "lake", lock_wait_s=0.5)
    started = time.monotonic()
    with pytest.raises(DayLocked, match=rf"manual__holder \(host \S+, pid {holder.pid}, since "):
        lake.write_partition("calls", DAY, [{"contact_id": "b"}])
    assert time.monotonic() - started >= 0.5
    assert not (tmp_path / "lake" / "calls").exists()  # nothing written while refused


def test_a_lock_holder_killed_with_sigkill_releases_the_day(tmp_path, holder):
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    lake = LocalLake(tmp_path / "lake", lock_wait_s=0)
    lake.write_partition("calls", DAY, [{"contact_id": "b"}])
    assert [r["contact_id"] for r in lake.read_partition("calls", DAY).to_pylist()] == ["b"]


def test_a_waiting_writer_goes_on_when_the_holder_finishes(tmp_path, holder):
    lake = LocalLake(tmp_path / "lake", lock_wait_s=30)
    subprocess.Popen(["sh", "-c", f"sleep 1; kill {holder.pid}"])
    lake.write_partition("calls", DAY, [{"contact_id": "b"}])
    assert holder.wait(5) != 0


def test_the_lock_is_reentrant_within_a_process(tmp_path):
    lake = LocalLake(tmp_path / "lake", lock_wait_s=0)
    with lake.day_lock(DAY, "outer"):
        lake.write_partitions(DAY, {"calls": [{"contact_id": "a"}]})
        LocalLake(tmp_path / "lake", lock_wait_s=0).write_partition("turns", DAY, [])


@pytest.mark.parametrize("run_id", [".", "..", "", "/", "../../etc", "manual__2026-11-22T00:00:00+00:00"])
def test_run_keys_are_one_safe_path_segment_and_distinct(run_id):
    key = _run_key(run_id)
    assert key not in (".", "..", "") and "/" not in key and not key.startswith(".")
    assert key != _run_key(run_id + "x")
    assert _run_key(".") != _run_key("..") != _run_key("_")
