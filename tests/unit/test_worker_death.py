"""A recording that kills its worker costs one retry, not the night.

The fault-injection hook ``AFTERCALL_FAULT_KILL_WORKER_ON`` (pipeline.steps.run, inert unless set) makes a
pool worker SIGKILL itself on one contact id, as the kernel's OOM killer would. The first attempt
fails with WorkerLost and remembers the recordings in flight; the retry processes the others as usual
and each suspect alone, quarantines the one whose worker dies again and commits every other call.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pipeline.steps.discovery import Recording
from pipeline.exceptions import WorkerLost
from pipeline.lake.tables import LocalLake
from pipeline.steps.run import FAULT_KILL_WORKER_ON, discover_day, process_recordings, run_day
from pipeline.steps.suspects import REASON
from tests.conftest import DAY_DIR, DEMO_DAY, make_settings


@pytest.fixture
def eight_calls(source: Path) -> Path:
    """The four sample calls and a copy of each under another contact id: more calls than a pool holds in flight."""
    folder = source / DAY_DIR
    for f in sorted(folder.glob("*.wav")):
        shutil.copy(f, folder / f"copy{f.name}")
    return source


def _suspect_files(lake: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((lake / "_suspects" / f"dt={DEMO_DAY}").glob("*.json"))]


def test_a_recording_that_kills_its_worker_is_quarantined_on_the_retry(eight_calls, tmp_path, monkeypatch):
    lake = tmp_path / "lake"
    settings = make_settings(eight_calls, lake, transcribe=False, workers=2)
    recordings = discover_day(settings, DEMO_DAY)
    assert len(recordings) == 8
    killer = recordings[0]
    monkeypatch.setenv(FAULT_KILL_WORKER_ON, killer.contact_id)

    with pytest.raises(WorkerLost) as lost:  # first attempt: the batch fails, as before
        run_day(settings, DEMO_DAY)
    assert killer.uri in lost.value.in_flight and len(lost.value.in_flight) < len(recordings)
    suspects = _suspect_files(lake)
    assert {s["uri"] for s in suspects} == set(lost.value.in_flight) and all(s["deaths"] == 1 for s in suspects)
    assert not (lake / "calls").exists() or not LocalLake(lake).read_partition("calls", DEMO_DAY).num_rows

    result = run_day(settings, DEMO_DAY)  # the retry: every other call commits, the killer is set aside
    assert sorted(c["contact_id"] for c in result.calls) == sorted(r.contact_id for r in recordings[1:])
    assert [(f["contact_id"], f["stage"], f["error"]) for f in result.failures] == [(killer.contact_id, "worker", REASON)]
    committed = LocalLake(lake)
    assert committed.read_partition("calls", DEMO_DAY).num_rows == 7
    assert committed.read_partition("failures", DEMO_DAY).to_pylist()[0]["error"] == REASON
    # the innocent ones were cleared; the killer's record stays (it died twice) for later reruns
    assert [(s["uri"], s["deaths"]) for s in _suspect_files(lake)] == [(killer.uri, 2)]

    monkeypatch.delenv(FAULT_KILL_WORKER_ON)  # fixed (more memory, a patched decoder): a rerun takes it alone
    again = run_day(settings, DEMO_DAY)
    assert len(again.calls) == 8 and not again.failures and not _suspect_files(lake)


def test_suspects_are_isolated_even_when_the_batch_would_run_in_process(source, tmp_path, monkeypatch):
    """A one-recording batch (or workers=1) runs in-process, where a killer would kill the run itself."""
    lake = tmp_path / "lake"
    settings = make_settings(source, lake, transcribe=False, workers=2)
    killer = discover_day(settings, DEMO_DAY)[0]
    monkeypatch.setenv(FAULT_KILL_WORKER_ON, killer.contact_id)
    with pytest.raises(WorkerLost):
        process_recordings(settings, discover_day(settings, DEMO_DAY))
    for batch in ([killer], discover_day(settings, DEMO_DAY)):
        one_worker = make_settings(source, lake, transcribe=False, workers=1)
        result = process_recordings(one_worker, batch)  # the parent survives: the suspect died in its own pool
        assert [f["contact_id"] for f in result.failures] == [killer.contact_id]
        assert len(result.calls) == len(batch) - 1


def test_a_worker_that_cannot_start_quarantines_no_suspect(source, tmp_path, monkeypatch):
    """The machine's fault (a model that cannot load): WorkerLost again, the suspects stay suspects."""
    lake = tmp_path / "lake"
    good = make_settings(source, lake, transcribe=False, workers=2)
    recordings = discover_day(good, DEMO_DAY)
    monkeypatch.setenv(FAULT_KILL_WORKER_ON, recordings[0].contact_id)
    with pytest.raises(WorkerLost):
        process_recordings(good, recordings)
    monkeypatch.delenv(FAULT_KILL_WORKER_ON)
    before = _suspect_files(lake)
    broken = make_settings(source, lake, transcribe=True, workers=2, whisper_model=str(tmp_path / "no-such-model"))
    with pytest.raises(WorkerLost):
        process_recordings(broken, [r for r in recordings if r.uri in {s["uri"] for s in before}])
    assert _suspect_files(lake) == before


def test_the_fault_hook_is_inert_unless_set(source, tmp_path):
    settings = make_settings(source, tmp_path / "lake", transcribe=False, workers=2)
    result = process_recordings(settings, discover_day(settings, DEMO_DAY))
    assert len(result.calls) == 4 and not result.failures
    assert not (tmp_path / "lake" / "_suspects").exists()


def test_suspect_records_are_per_recording_objects(tmp_path, source):
    """One object per recording: two batches of a day dying at once never overwrite each other's."""
    from pipeline.steps import suspects

    settings = make_settings(source, tmp_path / "lake", transcribe=False)
    recs = discover_day(settings, DEMO_DAY)
    suspects.remember(settings, recs[:2])
    suspects.remember(settings, recs[2:3])
    assert set(suspects.load(settings, recs)) == {r.uri for r in recs[:3]}
    suspects.clear(settings, recs[0])
    assert set(suspects.load(settings, recs)) == {r.uri for r in recs[1:3]}
    other_day = Recording(uri=recs[1].uri, contact_id="x", dt=DEMO_DAY.replace(day=23), call_started_at=None,
                          size_bytes=1)
    assert suspects.load(settings, [other_day]) == {}


def test_a_call_over_the_workers_memory_cap_is_quarantined_and_the_batch_completes(source, tmp_path):
    """AFTERCALL_WORKER_MEMORY_MB (RLIMIT_AS): MemoryError inside the worker is that recording's, at once.

    Calls are decoded a minute at a time, so a worker's memory grows with the sample rate, not the length
    (an hour at 8 kHz passes under 600 MB: tests/unit/test_long_calls.py). Measured here: acoustic-only
    workers process the 8 kHz sample calls under 256 MB; a 192 kHz call (a minute's block is 24 times
    larger) needs more than 350 MB and passes under 400 MB. With Whisper base a worker needs ~2 GB of
    address space to load and run, so the cap is off by default.
    """
    import numpy as np
    import soundfile as sf

    folder = source / DAY_DIR
    noise = np.random.default_rng(1).normal(0, 0.1, (192_000 * 70, 2)).astype(np.float32)
    sf.write(folder / "hirate01_20261122T20:00_UTC.wav", noise, 192_000, subtype="PCM_16")
    settings = make_settings(source, tmp_path / "lake", transcribe=False, workers=2, worker_memory_mb=300)
    result = process_recordings(settings, discover_day(settings, DEMO_DAY))
    assert len(result.calls) == 4
    [failure] = result.failures
    assert failure["contact_id"] == "hirate01" and failure["stage"] == "memory"
    assert "ran out of memory" in failure["error"] and "AFTERCALL_WORKER_MEMORY_MB" in failure["error"]


def test_a_pool_that_breaks_while_a_worker_starts_is_a_lost_worker(source, tmp_path, monkeypatch):
    """A submit racing a worker's death can start a worker on the pool's closed queue (CPython 3.11):
    that OSError is the same broken pool, so the batch fails with WorkerLost for Airflow to retry."""
    from concurrent.futures import ProcessPoolExecutor

    settings = make_settings(source, tmp_path / "lake", transcribe=False, workers=2)
    recordings = discover_day(settings, DEMO_DAY)
    spawn = ProcessPoolExecutor._spawn_process
    started: list[int] = []

    def second_spawn_fails(self):
        if started:
            raise OSError("handle is closed")
        started.append(1)
        spawn(self)

    monkeypatch.setattr(ProcessPoolExecutor, "_spawn_process", second_spawn_fails)
    with pytest.raises(WorkerLost) as lost:
        process_recordings(settings, recordings)
    assert lost.value.in_flight == [recordings[0].uri]  # only the one a worker had taken
