"""
### Post-call analytics, nightly

Processes one day of stereo call recordings (Amazon Connect layout,
`*/CallRecordings/YYYY/MM/DD/`) from `AFTERCALL_SOURCE` into the lake at `AFTERCALL_LAKE`:
per-call talk time, silence, interruptions, transcripts and sentiment.

* **Which day**: the run's logical date names it, never "now": a day in the contact centre's
  zone, `AFTERCALL_TIMEZONE` (default UTC; the schedule runs in it too). The nightly run for day D
  has logical date D 00:00 (local) and starts once D has ended (plus `AFTERCALL_LANDING_DELAY_MIN`,
  default 30, for late uploads). `airflow dags test post_call_analytics D`,
  `airflow backfill create --from-date D1 --to-date D2` (both days included) and a UI trigger
  with a logical date process those days; a trigger without a logical date processes yesterday
  (local). The `day` param overrides all of these. A local day reads every UTC folder of Connect
  recordings it overlaps and keeps the calls that started in it.
* **Safe to re-run**: a day's partitions are replaced, never appended to.
* **Bad recordings** are quarantined in the `failures` table. A worker that dies, a model that
  can't load, a service that stays down fail the batch task, and Airflow retries it.
* **A failed run changes nothing**: when every recording of a non-empty day failed, or the commit
  failed, the day keeps its last committed rows; the attempt is recorded in the `runs` table.
* **QuickSight**: with `AFTERCALL_QUICKSIGHT_IMPORT_MODE=SPICE`, every dataset is refreshed
  after the views (one mapped ingestion per dataset); otherwise that step is skipped.
* **AWS quotas are per account**: on the AWS engine, `process_calls` runs in the pool `aftercall_aws`
  (`AFTERCALL_AWS_POOL`), whose slots must equal `AFTERCALL_AWS_TASKS` (default 5); each task takes
  1/slots of the account's Transcribe and Comprehend quotas, so all workers together stay within them.
  Create it once: `airflow pools set aftercall_aws 5 "aftercall AWS quota share"` (`make airflow` and
  the compose file's init do it).
* Settings: the `AFTERCALL_*` environment variables of the workers (see docs/settings.md).
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.providers.amazon.aws.operators.quicksight import QuickSightCreateIngestionOperator
from airflow.sdk import Asset, CronDataIntervalTimetable, Param, dag, get_current_context, task

SCHEDULE = os.environ.get("AFTERCALL_SCHEDULE", "0 0 * * *")  # one interval per local day: logical date = the day
# The contact centre's zone (IANA name): the schedule's midnight, the logical date's day and the lake's dt are days
# there. Read from the environment at parse time (no I/O); pipeline.settings validates it in every task.
TIMEZONE = os.environ.get("AFTERCALL_TIMEZONE", "UTC").strip() or "UTC"
LANDING_DELAY_MIN = float(os.environ.get("AFTERCALL_LANDING_DELAY_MIN", "30"))  # the day's last uploads
RETRY_DELAY = timedelta(seconds=float(os.environ.get("AFTERCALL_RETRY_DELAY_S", "60")))
# AWS engine: every process_calls task runs in this pool, whose slots (AFTERCALL_AWS_TASKS, default 5) cap how many
# call Transcribe and Comprehend at once across all workers; each task uses 1/slots of the account's quotas.
# Create it once: airflow pools set aftercall_aws 5 "aftercall: tasks sharing the AWS account's quotas"
AWS_POOL = os.environ.get("AFTERCALL_AWS_POOL", "aftercall_aws") if os.environ.get("AFTERCALL_ENGINE") == "aws" else None
LAKE_TABLES = [Asset(name=f"aftercall_{t}", uri=f"aftercall://lake/{t}") for t in ("calls", "turns", "failures")]


def _day_and_settings():
    """The run's day (see the DAG's doc), logged first in every task, and the workers' settings."""
    import logging

    from pipeline.steps.orchestration import check_schedule_zone, day_of_run
    from pipeline.settings import load_settings

    context = get_current_context()
    settings = load_settings()
    day = day_of_run(context["params"].get("day"), context.get("logical_date"), context["dag_run"].run_after,
                     settings.timezone)
    if (SCHEDULE == "0 0 * * *" and not context["params"].get("day")
            and str(getattr(context["dag_run"], "run_type", "")).lower().endswith(("scheduled", "backfill"))):
        # the schedule's logical dates come from the scheduler's parse: its zone must be this worker's
        check_schedule_zone(day, settings.timezone, context.get("logical_date"))
    logging.getLogger("aftercall").info("aftercall day %s %s (run %s)", day, settings.timezone, context["run_id"])
    return day, context["run_id"], settings


@dag(
    dag_id="post_call_analytics",
    schedule=CronDataIntervalTimetable(SCHEDULE, timezone=TIMEZONE),
    start_date=pendulum.datetime(2026, 1, 1, tz=TIMEZONE),
    catchup=False,
    max_active_runs=4,
    doc_md=__doc__,
    tags=["aftercall", "post-call-analytics"],
    params={"day": Param(None, type=["null", "string"], format="date",
                         description="Process this day (YYYY-MM-DD) instead of the logical date's")},
    default_args={
        "owner": "aftercall",
        "retries": 3,
        "retry_delay": RETRY_DELAY,
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
    },
)
def post_call_analytics():
    @task.sensor(poke_interval=300, timeout=timedelta(hours=26).total_seconds(), mode="reschedule")
    def wait_for_day_end() -> bool:
        """Wait until the day has ended and its last uploads have landed (at once for past days)."""
        from pipeline.steps.orchestration import day_has_landed

        day, _, settings = _day_and_settings()
        return day_has_landed(day, LANDING_DELAY_MIN, tz=settings.timezone)

    @task
    def discover() -> list[dict]:
        """Find the day's recordings; one small descriptor (manifest path, index range) per batch."""
        from pipeline.steps.orchestration import plan_day

        day, run_id, settings = _day_and_settings()
        return plan_day(settings, day, run_id, batch_size=int(os.environ.get("AFTERCALL_BATCH_SIZE", "50")))

    @task(map_index_template="{{ batch_label }}", execution_timeout=timedelta(hours=6), pool=AWS_POOL)
    def process_calls(batch: dict) -> str:
        """Split, measure, transcribe and score one batch of calls; stage its rows."""
        from pipeline.steps.orchestration import process_batch

        get_current_context()["batch_label"] = batch["label"]
        _, _, settings = _day_and_settings()
        return process_batch(settings, batch)

    @task(trigger_rule="none_failed", outlets=LAKE_TABLES, retries=1)
    def commit_lake() -> dict:
        """Switch the day's partitions to the staged rows (an empty day writes empty partitions)."""
        from pipeline.steps.orchestration import commit_day_staged

        day, run_id, settings = _day_and_settings()
        return commit_day_staged(settings, day, run_id)

    @task
    def refresh_views() -> None:
        """On Athena, create or replace every view; then check the day's overview answers."""
        from pipeline.steps.orchestration import refresh_views as refresh

        day, _, settings = _day_and_settings()
        refresh(settings, day)

    @task
    def spice_ingestions() -> list[dict]:
        """The SPICE refreshes to start: one per dataset, or none when datasets are queried directly."""
        from pipeline.presentation.quicksight import spice_ingestions as plan

        _, run_id, settings = _day_and_settings()
        return plan(settings, run_id)

    batches = discover()
    wait_for_day_end() >> batches
    processed = process_calls.expand(batch=batches)
    committed = commit_lake()
    ingestions = spice_ingestions()
    refresh_spice = QuickSightCreateIngestionOperator.partial(
        task_id="refresh_spice", aws_conn_id=os.environ.get("AFTERCALL_AWS_CONN_ID", "aws_default"),
        wait_for_completion=True, retries=2,
    ).expand_kwargs(ingestions)
    batches >> processed >> committed >> refresh_views() >> ingestions >> refresh_spice


post_call_analytics()
