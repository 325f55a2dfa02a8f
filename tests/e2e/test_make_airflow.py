"""`make airflow` as a newcomer runs it: every socket on loopback, and a triggered run processes its day."""

from __future__ import annotations

import json
import os
import subprocess

import psutil
import pytest

from pipeline.adapters.duckdb_engine import query
from tests.airflow_support import DAG_ID, ROOT, cli, free_port, list_runs, stop_all, wait_for, wait_until_up

pytestmark = pytest.mark.slow


@pytest.fixture
def make_airflow(tmp_path, source):
    home, lake, port = tmp_path / "airflow", tmp_path / "lake", free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AFTERCALL_", "MAKE", "MFLAGS"))},
        "AIRFLOW_HOME": str(home),
        "AIRFLOW_PORT": str(port),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AFTERCALL_SOURCE": str(source),
        "AFTERCALL_LAKE": str(lake),
    }
    log = tmp_path / "make-airflow.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(["make", "-C", str(ROOT), "airflow"], env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        yield env, lake, port, log, proc
    finally:
        stop_all(proc, home, grace=40)


def _listening(root_pid: int) -> list[tuple[str, int]]:
    try:
        tree = [psutil.Process(root_pid), *psutil.Process(root_pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
    pids = {p.pid for p in tree}
    return sorted({(c.laddr.ip, c.laddr.port) for c in psutil.net_connections(kind="inet")
                   if c.status == psutil.CONN_LISTEN and c.pid in pids})


def test_make_airflow_listens_on_loopback_only_and_runs_a_day(make_airflow):
    env, lake, port, log, proc = make_airflow

    wait_until_up("make airflow", env, port, log, proc, 240)
    sockets = _listening(proc.pid)
    assert ("127.0.0.1", port) in sockets, sockets
    assert all(ip == "127.0.0.1" for ip, _ in sockets), f"listening beyond loopback: {sockets}"

    assert cli(env, "dags", "unpause", DAG_ID).returncode == 0
    triggered = cli(env, "dags", "trigger", DAG_ID, "-c", json.dumps({"day": "2026-11-22"}), "-o", "json")
    assert triggered.returncode == 0, triggered.stderr[-3000:]
    run_id = json.loads([line for line in triggered.stdout.splitlines() if line.startswith("[")][-1])[0]["dag_run_id"]

    def finished():
        run = [r for r in list_runs(env) if r["run_id"] == run_id]
        return run if run and run[0]["state"] in ("success", "failed") else None

    run = wait_for("the triggered run to finish", finished, 600, log, every=5)[0]
    assert run["state"] == "success", log.read_text(errors="replace")[-4000:]
    assert query("select calls, quarantined from v_daily_overview where dt = '2026-11-22'", lake)[1] == [(4, 0)]
    assert query("select count(*) from failures", lake)[1] == [(0,)]
