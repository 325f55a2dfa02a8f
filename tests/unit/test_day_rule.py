"""Which day a run processes, for every way of starting one (the DAG's tasks call day_of_run)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from pipeline.steps.orchestration import day_has_landed, day_of_run

NIGHT = datetime(2026, 11, 23, 0, 0, 5, tzinfo=UTC)  # when the scheduler starts the 22nd's run


def test_the_nightly_run_processes_the_day_that_ended():
    # CronDataIntervalTimetable("0 0 * * *"): the run after the 22nd ends has logical date 22nd 00:00
    assert day_of_run(None, datetime(2026, 11, 22, tzinfo=UTC), NIGHT) == date(2026, 11, 22)


def test_dags_test_backfill_and_ui_trigger_with_a_logical_date_process_that_date():
    for logical in (datetime(2026, 11, 21, tzinfo=UTC), datetime(2026, 11, 21, 17, 45, tzinfo=UTC)):
        assert day_of_run(None, logical, NIGHT + timedelta(days=30)) == date(2026, 11, 21)


def test_a_logical_date_in_another_timezone_is_read_in_utc():
    tokyo = timezone(timedelta(hours=9))
    assert day_of_run(None, datetime(2026, 11, 22, 3, 0, tzinfo=tokyo), NIGHT) == date(2026, 11, 21)


def test_a_trigger_without_a_logical_date_processes_yesterday_utc():
    assert day_of_run(None, None, datetime(2026, 11, 25, 20, 37, tzinfo=UTC)) == date(2026, 11, 24)
    assert day_of_run(None, None, datetime(2026, 11, 25, 0, 10, tzinfo=UTC)) == date(2026, 11, 24)


def test_the_day_param_overrides_everything():
    assert day_of_run("2026-03-01", datetime(2026, 11, 21, tzinfo=UTC), NIGHT) == date(2026, 3, 1)
    assert day_of_run("2026-03-01", None, NIGHT) == date(2026, 3, 1)


def test_a_day_has_landed_once_it_ended_plus_the_delay():
    day = date(2026, 11, 22)
    assert not day_has_landed(day, 30, datetime(2026, 11, 22, 23, 59, tzinfo=UTC))
    assert not day_has_landed(day, 30, datetime(2026, 11, 23, 0, 29, tzinfo=UTC))
    assert day_has_landed(day, 30, datetime(2026, 11, 23, 0, 30, tzinfo=UTC))
    assert day_has_landed(day, 0, datetime(2026, 11, 23, 0, 0, tzinfo=UTC))
