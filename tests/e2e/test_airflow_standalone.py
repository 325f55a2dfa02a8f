"""A real Airflow: `airflow standalone` on loopback with the project's default settings (worker pool of
CPU-count processes, Whisper and VADER): a CLI backfill of two days, then a trigger through the REST API
with a logical date as the UI sends it. Every run succeeds and every good recording is processed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.adapters.duckdb_engine import query
from tests.airflow_support import (AIRFLOW, DAG_ID, ROOT, cli, free_port, list_runs, stop_all, trigger_like_the_ui,
                                   wait_for, wait_until_up)
from tests.conftest import DAY_DIR

pytestmark = pytest.mark.slow

@pytest.fixture
def standalone(tmp_path, source):
    home, lake, port = tmp_path / "airflow", tmp_path / "lake", free_port()
    home.mkdir()
    shutil.copytree(source / DAY_DIR, source / DAY_DIR.parent / "23")
    env = {
        # Nothing of another Airflow's configuration (the DAG tests' SQLite, say): this one is its own.
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AFTERCALL_"))},
        "PATH": f"{Path(AIRFLOW).parent}{os.pathsep}{os.environ.get('PATH', '')}",  # standalone spawns `airflow`
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "5",
        "AFTERCALL_SOURCE": str(source),
        "AFTERCALL_LAKE": str(lake),
        # Everything else as a user has it: AFTERCALL_WORKERS = CPU count, transcription on.
    }
    log = tmp_path / "standalone.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([AIRFLOW, "standalone"], env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        yield env, lake, port, log, proc
    finally:
        stop_all(proc, home)


def _trigger_like_the_ui(env: dict, port: int, logical_date: str) -> str | None:
    return trigger_like_the_ui(env, port, logical_date, lambda r: r["logical_date"].startswith(logical_date[:10])
                               and not r["run_id"].startswith(("backfill__", "scheduled__")))


def test_backfill_two_days_on_a_real_scheduler(standalone):
    env, lake, port, log, proc = standalone

    wait_until_up("airflow standalone", env, port, log, proc, 180)

    # The days as users type them: both are processed (logical dates are 00:00 of each day).
    backfill = ("backfill", "create", "--dag-id", DAG_ID, "--from-date", "2026-11-22", "--to-date", "2026-11-23")

    def created():
        # SQLite allows one writer: the CLI can lose the lock to the scheduler; the create is one
        # transaction, so retrying is safe, and runs already present mean an earlier try landed.
        result = cli(env, *backfill)
        if result.returncode == 0 or list_runs(env):
            return True
        if "database is locked" not in result.stderr:
            pytest.fail(f"backfill create failed:\n{result.stderr[-3000:]}")
        return False

    wait_for("the backfill to be created", created, 120, log, every=3)
    # Like the UI's "unpause on trigger": the scheduler leaves a paused DAG's backfill runs queued.
    # Unpausing also makes the scheduler add its own run for the latest complete day (whatever today
    # is); that run is not this test's business, so only the runs started here are awaited.
    unpaused = cli(env, "dags", "unpause", DAG_ID)
    assert unpaused.returncode == 0, unpaused.stderr
    ui_run = wait_for("the API to accept a trigger", lambda: _trigger_like_the_ui(env, port, "2026-11-21T00:00:00Z"),
                   120, log, every=3)

    def finished():
        ours = [r for r in list_runs(env) if r["run_id"].startswith("backfill__") or r["run_id"] == ui_run]
        done = [r for r in ours if r["state"] in ("success", "failed")]
        return ours if len(ours) >= 3 and len(done) == len(ours) else None

    runs = wait_for("the backfill and the triggered run to finish", finished, 900, log, every=5)
    assert sorted((r["logical_date"][:10], r["state"]) for r in runs) == [
        ("2026-11-21", "success"), ("2026-11-22", "success"), ("2026-11-23", "success")], runs
    assert not list((lake / "_staging").glob("dt=2026-11-2[123]/*")), "staging left behind"
    columns, rows = query("select dt, calls, quarantined from v_daily_overview where dt >= '2026-11-21' "
                          "and dt <= '2026-11-23' order by dt", lake)
    assert rows == [("2026-11-22", 4, 0), ("2026-11-23", 4, 0)]  # the 21st has no recordings: no calls
    assert query("select count(*) from failures", lake)[1] == [(0,)]  # above all, no stage 'worker'
    transcribed = query("select dt, count(*) from calls where transcript_word_count > 40 group by dt order by dt", lake)
    assert transcribed[1] == [("2026-11-22", 4), ("2026-11-23", 4)]
    days = query("select dt, run_id, status from runs where dt <= '2026-11-23' order by dt", lake)[1]
    assert [(d, s) for d, _, s in days] == [("2026-11-21", "committed"), ("2026-11-22", "committed"),
                                            ("2026-11-23", "committed")]
    assert days[0][1] == ui_run
