"""Full runs of the DAG with dag.test(): tasks run in this process, on a real (SQLite) Airflow."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from pipeline.adapters.duckdb_engine import query
from tests.badinput import write_bad_recordings
from tests.conftest import DAY_DIR

pytestmark = pytest.mark.slow


def _dag():
    from airflow.dag_processing.dagbag import DagBag

    from tests.dags.conftest import DAGS

    return DagBag(dag_folder=str(DAGS)).dags["post_call_analytics"]


def _run(day: date):
    """A run with logical date ``day`` 00:00 UTC, as the nightly run and ``airflow dags test … DAY`` have."""
    return _dag().test(logical_date=datetime(day.year, day.month, day.day, tzinfo=timezone.utc))


@pytest.fixture
def env(monkeypatch, source, tmp_path, airflow_db):
    lake = tmp_path / "lake"
    monkeypatch.setenv("AFTERCALL_SOURCE", str(source))
    monkeypatch.setenv("AFTERCALL_LAKE", str(lake))
    monkeypatch.setenv("AFTERCALL_TRANSCRIBE", "false")
    monkeypatch.setenv("AFTERCALL_BATCH_SIZE", "2")  # two mapped batches; workers: the default (CPU count)
    monkeypatch.setenv("AFTERCALL_RETRY_DELAY_S", "1")  # dag.test() waits out retry delays
    return source, lake


def _rows(lake, sql):
    return query(sql, lake)[1]


def test_a_day_runs_end_to_end_in_batches(env):
    source, lake = env
    run = _run(date(2026, 11, 22))
    assert run.state == "success"
    assert _rows(lake, "select dt, calls, quarantined from v_daily_overview") == [("2026-11-22", 4, 0)]
    assert not (lake / "_staging" / "dt=2026-11-22").exists() or not any((lake / "_staging" / "dt=2026-11-22").iterdir())


def test_two_days_two_partitions_and_reruns_do_not_duplicate(env):
    import shutil

    source, lake = env
    shutil.copytree(source / DAY_DIR, source / DAY_DIR.parent / "23")
    for _ in range(2):
        assert _run(date(2026, 11, 22)).state == "success"
    assert _run(date(2026, 11, 23)).state == "success"
    assert _rows(lake, "select dt, count(*) from calls group by dt order by dt") == [("2026-11-22", 4), ("2026-11-23", 4)]


def test_one_bad_recording_does_not_fail_the_run(env):
    source, lake = env
    good = sorted((source / DAY_DIR).glob("*.wav"))[0]
    write_bad_recordings(source / DAY_DIR, good)
    assert _run(date(2026, 11, 22)).state == "success"
    calls, quarantined = _rows(lake, "select calls, quarantined from v_daily_overview")[0]
    assert quarantined == 10 and calls == 4 + 6  # tests.badinput.EXPECTED: 10 bad, 6 unusual but good


def test_a_day_whose_recordings_all_turned_unreadable_fails_and_changes_nothing(env, monkeypatch):
    source, lake = env
    assert _run(date(2026, 11, 22)).state == "success"
    tables = ("calls", "turns", "failures", "call_categories", "contacts")
    def snapshot():
        return {t: sorted(_rows(lake, f"select * from {t}"), key=repr) for t in tables}

    before = snapshot()
    assert before["calls"] and before["call_categories"]
    for wav in (source / DAY_DIR).glob("*.wav"):
        wav.write_bytes(b"RIFF not audio any more")
    assert _run(date(2026, 11, 22)).state == "failed"
    assert snapshot() == before
    runs = _rows(lake, "select status, recordings, processed, quarantined, error, run_id from runs order by finished_at")
    assert [r[0] for r in runs] == ["committed", "failed", "failed"]  # commit_lake and its one retry: two attempts
    assert runs[1][5] == runs[2][5] != runs[0][5]  # one run id, one row per attempt
    assert runs[1][1:4] == (4, 0, 4) and "all 4 recordings failed" in runs[1][4] and "not a readable" in runs[1][4]
    # staging is kept for the retry (which fails with the same reason), never committed
    assert list((lake / "_staging" / "dt=2026-11-22").iterdir())


def test_the_day_parameter_overrides_the_data_interval(env):
    _, lake = env
    run = _dag().test(logical_date=datetime(2026, 3, 1, tzinfo=timezone.utc), run_conf={"day": "2026-11-22"})
    assert run.state == "success"
    assert _rows(lake, "select dt, count(*) from calls group by dt") == [("2026-11-22", 4)]


def test_an_empty_day_succeeds(env):
    _, lake = env
    assert _run(date(2026, 11, 24)).state == "success"
    assert _rows(lake, "select count(*) from calls where dt = '2026-11-24'") == [(0,)]



def test_a_worker_that_dies_fails_the_batch_and_airflow_retries_it(env, monkeypatch, tmp_path):
    """Infrastructure, not the recording: nothing is quarantined, the retried batch processes every call."""
    import pipeline.steps.run

    from tests.fakes import work_but_die_once

    _, lake = env
    marker = tmp_path / "worker-died"
    monkeypatch.setenv("AFTERCALL_TEST_DIE_MARKER", str(marker))
    monkeypatch.setenv("AFTERCALL_WORKERS", "2")
    monkeypatch.setattr(pipeline.steps.run, "_work", work_but_die_once)
    run = _run(date(2026, 11, 22))
    assert marker.exists(), "the fake never killed a worker"
    assert run.state == "success"
    assert _rows(lake, "select dt, calls, quarantined from v_daily_overview") == [("2026-11-22", 4, 0)]
    assert _rows(lake, "select count(*) from failures") == [(0,)]


def test_a_seoul_day_straddling_utc_midnight_is_processed_whole_once(env, monkeypatch, tmp_path, sample_files):
    """AFTERCALL_TIMEZONE=Asia/Seoul: the run of the local midnight 2026-11-23 00:00 KST takes the calls of both UTC
    folders that started that Seoul day, into dt=2026-11-23; a rerun replaces them."""
    from zoneinfo import ZoneInfo

    from tests.zones import SEOUL, straddling_source

    _, lake = env
    source = straddling_source(tmp_path / "seoul", sample_files)
    monkeypatch.setenv("AFTERCALL_SOURCE", str(source))
    monkeypatch.setenv("AFTERCALL_TIMEZONE", SEOUL)
    for _ in range(2):
        assert _dag().test(logical_date=datetime(2026, 11, 23, tzinfo=ZoneInfo(SEOUL))).state == "success"
    assert _rows(lake, "select dt, count(*), count(distinct contact_id) from calls group by dt") == [
        ("2026-11-23", 4, 4)]
    assert _rows(lake, "select distinct timezone from v_call_summary") == [(SEOUL,)]
