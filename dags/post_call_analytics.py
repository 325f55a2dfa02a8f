"""
### Post-call analytics, nightly

Processes one day of stereo call recordings (Amazon Connect layout,
`*/CallRecordings/YYYY/MM/DD/`) from `AFTERCALL_SOURCE` into the lake at `AFTERCALL_LAKE`:
per-call talk time, silence, interruptions, transcripts and sentiment.

* **Which day**: the day on which the run's data interval starts (UTC), never "now" — so any
  past day can be backfilled, from the UI (*Trigger ▸ Backfill*) or `airflow backfill create`.
  The scheduled run at 00:30 UTC on the 23rd covers the 22nd. A manual trigger covers the
  interval that ended last before its logical date, unless its `day` parameter names a day.
* **Safe to re-run**: a day's partitions are replaced, never appended to.
* **Bad recordings** are quarantined in the `failures` table; the run fails only when every
  recording of a non-empty day failed, or when the lake commit fails.
* **QuickSight**: with `AFTERCALL_QUICKSIGHT_IMPORT_MODE=SPICE`, every dataset is refreshed
  after the views (one mapped ingestion per dataset); otherwise that step is skipped.
* Settings: the `AFTERCALL_*` environment variables of the workers (see the README).
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.providers.amazon.aws.operators.quicksight import QuickSightCreateIngestionOperator
from airflow.sdk import Asset, CronDataIntervalTimetable, Param, dag, get_current_context, task

SCHEDULE = os.environ.get("AFTERCALL_SCHEDULE", "30 0 * * *")  # 00:30 UTC: the day's last calls have landed
LAKE_TABLES = [Asset(name=f"aftercall_{t}", uri=f"aftercall://lake/{t}") for t in ("calls", "turns", "failures")]


def _day_and_settings():
    """The data interval's day and the workers' settings (imports stay out of DAG parsing)."""
    from pipeline.settings import load_settings

    from datetime import date

    context = get_current_context()
    chosen = context["params"].get("day")
    day = date.fromisoformat(chosen) if chosen else context["data_interval_start"].in_timezone("UTC").date()
    return day, context["run_id"], load_settings()


@dag(
    dag_id="post_call_analytics",
    schedule=CronDataIntervalTimetable(SCHEDULE, timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=4,
    doc_md=__doc__,
    tags=["aftercall", "post-call-analytics"],
    params={"day": Param(None, type=["null", "string"], format="date",
                         description="Process this day (YYYY-MM-DD) instead of the data interval's")},
    default_args={
        "owner": "aftercall",
        "retries": 3,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
    },
)
def post_call_analytics():
    @task
    def discover() -> list[dict]:
        """Find the day's recordings; one small descriptor (manifest path, index range) per batch."""
        from pipeline.orchestration import plan_day

        day, run_id, settings = _day_and_settings()
        return plan_day(settings, day, run_id, batch_size=int(os.environ.get("AFTERCALL_BATCH_SIZE", "50")))

    @task(map_index_template="{{ batch_label }}", execution_timeout=timedelta(hours=6))
    def process_calls(batch: dict) -> str:
        """Split, measure, transcribe and score one batch of calls; stage its rows."""
        from pipeline.orchestration import process_batch

        get_current_context()["batch_label"] = batch["label"]
        _, _, settings = _day_and_settings()
        return process_batch(settings, batch)

    @task(trigger_rule="none_failed", outlets=LAKE_TABLES, retries=1)
    def commit_lake() -> dict:
        """Switch the day's partitions to the staged rows (an empty day writes empty partitions)."""
        from pipeline.orchestration import commit_day_staged

        day, run_id, settings = _day_and_settings()
        return commit_day_staged(settings, day, run_id)

    @task
    def refresh_views() -> None:
        """On Athena, create or replace every view; then check the day's overview answers."""
        from pipeline.orchestration import refresh_views as refresh

        day, _, settings = _day_and_settings()
        refresh(settings, day)

    @task
    def spice_ingestions() -> list[dict]:
        """The SPICE refreshes to start: one per dataset, or none when datasets are queried directly."""
        from pipeline.quicksight import spice_ingestions as plan

        _, run_id, settings = _day_and_settings()
        return plan(settings, run_id)

    batches = discover()
    processed = process_calls.expand(batch=batches)
    committed = commit_lake()
    ingestions = spice_ingestions()
    refresh_spice = QuickSightCreateIngestionOperator.partial(
        task_id="refresh_spice", aws_conn_id=os.environ.get("AFTERCALL_AWS_CONN_ID", "aws_default"),
        wait_for_completion=True, retries=2,
    ).expand_kwargs(ingestions)
    batches >> processed >> committed >> refresh_views() >> ingestions >> refresh_spice


post_call_analytics()
