"""Full runs of the DAG with dag.test(): tasks run in this process, on a real (SQLite) Airflow."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

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
    """A manual run at 00:30 UTC the next day: its data interval starts on ``day``, as the scheduled run's does."""
    return _dag().test(logical_date=datetime(day.year, day.month, day.day, 0, 30, tzinfo=timezone.utc) + timedelta(days=1))


@pytest.fixture
def env(monkeypatch, source, tmp_path, airflow_db):
    lake = tmp_path / "lake"
    monkeypatch.setenv("AFTERCALL_SOURCE", str(source))
    monkeypatch.setenv("AFTERCALL_LAKE", str(lake))
    monkeypatch.setenv("AFTERCALL_TRANSCRIBE", "false")
    monkeypatch.setenv("AFTERCALL_WORKERS", "1")
    monkeypatch.setenv("AFTERCALL_BATCH_SIZE", "2")
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
    assert quarantined == 7 and calls == 4 + 6


def test_a_day_where_everything_failed_fails_the_run(env, tmp_path, monkeypatch):
    broken = tmp_path / "broken"
    (broken / DAY_DIR).mkdir(parents=True)
    (broken / DAY_DIR / "x_20261122T10:00_UTC.wav").write_text("not audio")
    monkeypatch.setenv("AFTERCALL_SOURCE", str(broken))
    assert _run(date(2026, 11, 22)).state == "failed"
    _, lake = env
    assert _rows(lake, "select stage, error from failures")[0][0] == "decode"  # the reason is still recorded


def test_the_day_parameter_overrides_the_data_interval(env):
    _, lake = env
    run = _dag().test(logical_date=datetime(2026, 3, 1, tzinfo=timezone.utc), run_conf={"day": "2026-11-22"})
    assert run.state == "success"
    assert _rows(lake, "select dt, count(*) from calls group by dt") == [("2026-11-22", 4)]


def test_an_empty_day_succeeds(env):
    _, lake = env
    assert _run(date(2026, 11, 24)).state == "success"
    assert _rows(lake, "select count(*) from calls where dt = '2026-11-24'") == [(0,)]
