"""A contact centre in Seoul under a real Airflow scheduler (`airflow standalone`, LocalExecutor).

With ``AFTERCALL_TIMEZONE=Asia/Seoul`` the DAG runs on Seoul midnights. The Seoul day 2026-11-23 runs
from 2026-11-22 15:00 UTC to 2026-11-23 15:00 UTC, so Amazon Connect files its calls under two UTC
folders, some on either side of UTC midnight. A run triggered for that day (as the nightly run, at the
day's local midnight), then a CLI backfill of that day and the next (dates typed as users type them, with
Airflow's ``default_timezone`` set to the centre's zone) take each call whole and once, into ``dt`` = its
Seoul day, and never a call of the day before or after.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import datetime
from zoneinfo import ZoneInfo
from pathlib import Path

import pytest

from pipeline.adapters.duckdb_engine import query
from tests.airflow_support import (AIRFLOW, DAG_ID, ROOT, cli, free_port, list_runs, stop_all, trigger_like_the_ui,
                                   wait_for, wait_until_up)
from tests.conftest import DAY_DIR

pytestmark = pytest.mark.slow

SEOUL = "Asia/Seoul"
# UTC folder day, UTC start stamp, Seoul day it belongs to. Contact ids name their Seoul day.
CALLS = [
    ("22", "20261122T14:50_UTC", "2026-11-22"),  # 23:50 KST on the 22nd: the day before
    ("22", "20261122T15:05_UTC", "2026-11-23"),  # 00:05 KST
    ("22", "20261122T23:58_UTC", "2026-11-23"),  # 08:58 KST: straddles UTC midnight with the next one
    ("23", "20261123T00:02_UTC", "2026-11-23"),  # 09:02 KST
    ("23", "20261123T14:55_UTC", "2026-11-23"),  # 23:55 KST
    ("23", "20261123T15:10_UTC", "2026-11-24"),  # 00:10 KST on the 24th
    ("24", "20261124T01:00_UTC", "2026-11-24"),  # 10:00 KST
]


def _seoul_source(root: Path, sample_files: list[Path]) -> dict[str, list[str]]:
    """The sample wavs copied under the Connect names of :data:`CALLS`; returns contact ids per Seoul day."""
    expected: dict[str, list[str]] = {}
    for i, (folder, stamp, seoul_day) in enumerate(CALLS):
        contact = f"kst{seoul_day[-2:]}-{i}"
        target = root / DAY_DIR.parent / folder
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(sample_files[i % len(sample_files)], target / f"{contact}_{stamp}.wav")
        expected.setdefault(seoul_day, []).append(contact)
    return expected


@pytest.fixture
def seoul_standalone(tmp_path, sample_files):
    home, lake, port = tmp_path / "airflow", tmp_path / "lake", free_port()
    home.mkdir()
    expected = _seoul_source(tmp_path / "source", sample_files)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AFTERCALL_"))},
        "PATH": f"{Path(AIRFLOW).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        # As docs/airflow.md advises: dates typed in the CLI and the UI are then Seoul dates too.
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": SEOUL,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "5",
        "AFTERCALL_SOURCE": str(tmp_path / "source"),
        "AFTERCALL_LAKE": str(lake),
        "AFTERCALL_TIMEZONE": SEOUL,
        "AFTERCALL_TRANSCRIBE": "false",  # which call lands in which day is the point here, not the words
        "AFTERCALL_BATCH_SIZE": "2",  # several mapped batches per day
    }
    log = tmp_path / "standalone.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([AIRFLOW, "standalone"], env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        yield env, lake, port, log, proc, expected
    finally:
        stop_all(proc, home)


def _at(run: dict) -> datetime:
    return datetime.fromisoformat(run["logical_date"].replace("Z", "+00:00"))


def _trigger(env: dict, port: int, logical_date: str) -> str | None:
    return trigger_like_the_ui(env, port, logical_date, lambda r: _at(r) == datetime.fromisoformat(logical_date)
                               and r["run_id"].startswith("manual__"))


def test_a_seoul_day_straddling_utc_midnight_is_processed_whole_and_once(seoul_standalone):
    env, lake, port, log, proc, expected = seoul_standalone
    wait_until_up("airflow standalone", env, port, log, proc, 180)
    assert cli(env, "dags", "unpause", DAG_ID).returncode == 0

    # The run of the Seoul day 2026-11-23, at its local midnight, as the nightly run has it.
    midnight = "2026-11-23T00:00:00+09:00"
    nightly = wait_for("the API to accept a trigger", lambda: _trigger(env, port, midnight), 120, log, every=3)

    def finished(run_id):
        def check():
            runs = [r for r in list_runs(env) if r["run_id"] == run_id]
            return runs if runs and runs[0]["state"] in ("success", "failed") else None
        return check

    runs = wait_for("the Seoul day's run to finish", finished(nightly), 600, log, every=5)
    assert [r["state"] for r in runs] == ["success"], log.read_text(errors="replace")[-4000:]
    calls = "select dt, contact_id from calls where dt between '2026-11-21' and '2026-11-25' order by dt, contact_id"
    assert query(calls, lake)[1] == [("2026-11-23", c) for c in expected["2026-11-23"]]

    # A backfill of the 23rd (again) and the 24th, the dates typed as plain Seoul dates; both are included.
    backfill = ("backfill", "create", "--dag-id", DAG_ID, "--from-date", "2026-11-23", "--to-date", "2026-11-24",
                "--reprocess-behavior", "completed")

    def created():
        result = cli(env, *backfill)
        if result.returncode == 0 or any(r["run_id"].startswith("backfill__") for r in list_runs(env)):
            return True
        if "database is locked" not in result.stderr and "Another backfill" not in result.stderr:
            pytest.fail(f"backfill create failed:\n{result.stderr[-3000:]}")
        return False

    wait_for("the backfill to be created", created, 120, log, every=3)

    # Airflow reruns the day that already has a run (the run above, cleared: same run id) and adds a backfill run
    # for the 24th. Done when the lake shows both commits of the 23rd and the 24th's, and both runs have finished.
    seoul_midnights = {datetime(2026, 11, 23, tzinfo=ZoneInfo(SEOUL)), datetime(2026, 11, 24, tzinfo=ZoneInfo(SEOUL))}
    committed_sql = ("select dt, count(*) from runs where status = 'committed' and dt between '2026-11-22' and "
                     "'2026-11-24' group by dt order by dt")

    def backfill_done():
        if query(committed_sql, lake)[1] != [("2026-11-23", 2), ("2026-11-24", 1)]:
            return None
        runs = [r for r in list_runs(env) if _at(r) in seoul_midnights]
        return runs if len(runs) == 2 and all(r["state"] in ("success", "failed") for r in runs) else None

    runs = wait_for("the backfill to finish", backfill_done, 900, log, every=5)
    assert sorted((_at(r).astimezone(ZoneInfo(SEOUL)).isoformat(), r["state"]) for r in runs) == [
        ("2026-11-23T00:00:00+09:00", "success"), ("2026-11-24T00:00:00+09:00", "success")], runs
    assert any(r["run_id"].startswith("backfill__") for r in runs) and nightly in {r["run_id"] for r in runs}

    # Each call once, in its Seoul day; the day before keeps none of them (no run of the 22nd took place).
    assert query(calls, lake)[1] == [(d, c) for d in ("2026-11-23", "2026-11-24") for c in expected[d]]
    assert query("select count(*), count(distinct contact_id) from calls where dt = '2026-11-23'", lake)[1] == [
        (4, 4)]
    assert query("select count(*) from calls where contact_id like 'kst22-%'", lake)[1] == [(0,)]
    assert query("select count(*) from failures", lake)[1] == [(0,)]
    assert query("select distinct timezone from v_call_summary", lake)[1] == [(SEOUL,)]
    started = query("select contact_id, call_started_local from v_call_summary where dt = '2026-11-23' "
                    "order by call_started_local", lake)[1]
    assert [str(t) for _, t in started] == ["2026-11-23 00:05:00", "2026-11-23 08:58:00", "2026-11-23 09:02:00",
                                            "2026-11-23 23:55:00"]
    # the 23rd: the run and its backfill rerun, the second replacing the first's rows
    assert query(committed_sql, lake)[1] == [("2026-11-23", 2), ("2026-11-24", 1)]
    assert json.loads((lake / "_aftercall.json").read_text())["timezone"] == SEOUL
    assert not list((lake / "_staging").glob("dt=2026-11-2[34]/*")), "staging left behind"
