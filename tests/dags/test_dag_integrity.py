"""DagBag integrity: the DAG imports with no errors, no I/O, and the promised shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dags.conftest import DAGS


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "post_call_analytics" in dagbag.dags


def test_shape_tags_retries_schedule(dagbag):
    dag = dagbag.dags["post_call_analytics"]
    assert set(dag.tags) >= {"aftercall"}
    assert dag.doc_md and "backfill" in dag.doc_md.lower()
    assert dag.catchup is False
    assert dag.start_date.tzinfo is not None
    assert dag.timetable.expression == "0 0 * * *" and str(dag.timetable.timezone) in ("UTC", "Timezone('UTC')")
    assert [t.task_id for t in dag.topological_sort()] == ["wait_for_day_end", "discover", "process_calls", "commit_lake", "refresh_views",
                                                          "spice_ingestions", "refresh_spice"]
    for t in dag.tasks:
        assert t.retries >= 1, t.task_id
    process = dag.get_task("process_calls")
    assert process.retry_exponential_backoff
    assert process.map_index_template == "{{ batch_label }}"
    assert dag.get_task("commit_lake").trigger_rule == "none_failed"
    assert {o.name for o in dag.get_task("commit_lake").outlets} == {"aftercall_calls", "aftercall_turns",
                                                                     "aftercall_failures"}
    spice = dag.get_task("refresh_spice")
    assert spice.operator_name == "QuickSightCreateIngestionOperator" or "QuickSightCreateIngestion" in str(type(spice))
    assert spice.partial_kwargs["wait_for_completion"] is True


def test_dag_file_is_thin_and_does_no_io_at_import():
    source = (DAGS / "post_call_analytics.py").read_text()
    assert "from airflow.sdk import" in source
    top_level = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert not any("pipeline" in line for line in top_level)  # pipeline is imported inside tasks only
    for forbidden in ("open(", "Path(", "boto3", "requests"):
        assert forbidden not in source


def test_the_schedule_and_start_date_follow_the_centres_zone(monkeypatch):
    """AFTERCALL_TIMEZONE, read from the environment when the file is parsed: a Seoul night, local midnights."""
    from datetime import UTC, datetime

    from airflow.dag_processing.dagbag import DagBag
    from airflow.timetables.base import TimeRestriction
    from airflow.timetables.interval import CronDataIntervalTimetable

    monkeypatch.setenv("AFTERCALL_TIMEZONE", "Asia/Seoul")
    dag = DagBag(dag_folder=str(DAGS)).dags["post_call_analytics"]
    assert dag.timetable.expression == "0 0 * * *" and "Asia/Seoul" in str(dag.timetable.timezone)
    assert dag.start_date.tzinfo is not None
    assert dag.start_date == datetime(2025, 12, 31, 15, tzinfo=UTC)  # 2026-01-01 00:00 in Seoul
    # the interval after a Seoul midnight runs from that midnight to the next: 15:00 UTC to 15:00 UTC
    # (the scheduler's own timetable class, built as the scheduler builds it from the DAG's)
    scheduler_timetable = CronDataIntervalTimetable(dag.timetable.expression, dag.timetable.timezone)
    info = scheduler_timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(datetime(2026, 11, 22, 15, tzinfo=UTC), None, catchup=True))
    assert info.data_interval.start == datetime(2026, 11, 22, 15, tzinfo=UTC)
    assert info.data_interval.end == datetime(2026, 11, 23, 15, tzinfo=UTC)
