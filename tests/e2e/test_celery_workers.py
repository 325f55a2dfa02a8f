"""Airflow's CeleryExecutor with two workers on this machine (tests/celery_support.py): a day of 12 calls in
batches of 2 (6 mapped ``process_calls`` tasks) with the default settings; both workers must have run some
of them, and the lake must equal what ``aftercall run`` writes for the same day.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pipeline.adapters.duckdb_engine import query
from tests.airflow_support import AIRFLOW
from tests.celery_support import celery_airflow, day_of_calls, process_calls_hosts, run_day, servers

pytestmark = pytest.mark.slow

DAY = "2026-11-22"


def test_two_celery_workers_share_a_day_and_write_what_the_cli_writes(tmp_path):
    source, lake = day_of_calls(tmp_path / "recordings", copies=3), tmp_path / "lake"
    settings = {"AFTERCALL_SOURCE": str(source), "AFTERCALL_LAKE": str(lake), "AFTERCALL_BATCH_SIZE": "2"}
    with servers() as urls, celery_airflow(urls, tmp_path / "airflow", 2, settings, tmp_path / "logs") as env:
        run, seconds = run_day(env, DAY, "celery_two_workers", tmp_path / "logs")
        assert run["state"] == "success", (tmp_path / "logs" / "worker-2.log").read_text()[-3000:]
        hosts = process_calls_hosts(urls["db"], "celery_two_workers")
    print(f"process_calls instances per worker: {hosts} ({seconds:.0f} s)")
    assert set(hosts) == {"worker-1", "worker-2"} and sum(hosts.values()) == 6, hosts

    reference = tmp_path / "cli-lake"
    done = subprocess.run([str(Path(AIRFLOW).parent / "aftercall"), "run", "--date", DAY, "--source", str(source),
                           "--lake", str(reference)], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    for table in ("calls", "turns", "call_categories", "failures"):
        assert _rows(lake, table) == _rows(reference, table), table
    assert len(_rows(lake, "calls")) == 12


def _rows(lake: Path, table: str) -> list[tuple]:
    columns, data = query(f"select * from {table}", lake)
    keep = [i for i, c in enumerate(columns) if c not in ("processed_at", "failed_at")]
    return sorted((tuple(r[i] for i in keep) for r in data), key=repr)
