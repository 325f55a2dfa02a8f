"""A real Airflow: `airflow standalone` on loopback with the project's default settings (worker pool of
CPU-count processes, Whisper and VADER): a CLI backfill of two days, then a trigger through the REST API
with a logical date as the UI sends it. Every run succeeds and every good recording is processed.

Starts its own processes with a temporary AIRFLOW_HOME and stops them (the whole process
group) when done, whatever happens.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from pipeline.adapters.duckdb_engine import query
from tests.conftest import DAY_DIR

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).parent / "airflow")
DAG_ID = "post_call_analytics"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(what: str, check, timeout: float, log: Path, every: float = 2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-60:]) if log.exists() else ""
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n--- standalone log ---\n{tail}")


@pytest.fixture
def standalone(tmp_path, source):
    home, lake, port = tmp_path / "airflow", tmp_path / "lake", _free_port()
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


def stop_all(proc: subprocess.Popen, home: Path, grace: float = 30) -> None:
    """Stop a started Airflow: its whole process group (SIGTERM, then SIGKILL), then any stray process."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue
    _kill_strays(home)


def _kill_strays(home: Path) -> None:
    """Kill any process still carrying this AIRFLOW_HOME (Airflow rewrites process titles, so match the environment)."""
    marker = f"AIRFLOW_HOME={home}".encode()
    for proc_dir in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (proc_dir / "environ").read_bytes().split(b"\0"):
                os.kill(int(proc_dir.name), signal.SIGKILL)
        except (OSError, ValueError):
            continue


def _cli(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=120)


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5) as r:
            body = json.load(r)
        return body.get("scheduler", {}).get("status") == "healthy"
    except OSError:
        return False


def _runs(env) -> list[dict]:
    result = _cli(env, "dags", "list-runs", DAG_ID, "-o", "json")
    # Airflow prints warnings (graphviz) on stdout before the JSON.
    lines = [line for line in result.stdout.splitlines() if line.startswith("[")]
    return json.loads(lines[-1]) if result.returncode == 0 and lines else []


def wait_until_up(what: str, env: dict, port: int, log: Path, proc: subprocess.Popen, timeout: float) -> None:
    """Until the API server and scheduler are healthy and the DAG is parsed; fails at once if ``proc`` exits."""
    def up():
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        return _healthy(port)

    _wait("the API server and scheduler", up, timeout, log)
    _wait("the DAG to be parsed", lambda: DAG_ID in _cli(env, "dags", "list", "-o", "plain").stdout, 120, log)


def _token(home: Path, port: int) -> str:
    users = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())
    request = urllib.request.Request(f"http://127.0.0.1:{port}/auth/token", method="POST",
                                     data=json.dumps({"username": "admin", "password": users["admin"]}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.load(r)["access_token"]


def _trigger_like_the_ui(env: dict, port: int, logical_date: str) -> str | None:
    """POST a run as the UI does; None when SQLite was locked (a 500: nothing was written, try again)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v2/dags/{DAG_ID}/dagRuns", method="POST",
        data=json.dumps({"logical_date": logical_date, "conf": {}}).encode(),
        headers={"Content-Type": "application/json",
                 "Authorization": f"Bearer {_token(Path(env['AIRFLOW_HOME']), port)}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return json.load(r)["dag_run_id"]
    except urllib.error.HTTPError as exc:
        if exc.code == 409:  # an earlier try landed after all
            return next(r["run_id"] for r in _runs(env) if r["logical_date"].startswith(logical_date[:10])
                        and not r["run_id"].startswith(("backfill__", "scheduled__")))
        if exc.code >= 500:
            return None
        raise


def test_backfill_two_days_on_a_real_scheduler(standalone):
    env, lake, port, log, proc = standalone

    wait_until_up("airflow standalone", env, port, log, proc, 180)

    # The days as users type them: both are processed (logical dates are 00:00 of each day).
    backfill = ("backfill", "create", "--dag-id", DAG_ID, "--from-date", "2026-11-22", "--to-date", "2026-11-23")

    def created():
        # SQLite allows one writer: the CLI can lose the lock to the scheduler; the create is one
        # transaction, so retrying is safe, and runs already present mean an earlier try landed.
        result = _cli(env, *backfill)
        if result.returncode == 0 or _runs(env):
            return True
        if "database is locked" not in result.stderr:
            pytest.fail(f"backfill create failed:\n{result.stderr[-3000:]}")
        return False

    _wait("the backfill to be created", created, 120, log, every=3)
    # Like the UI's "unpause on trigger": the scheduler leaves a paused DAG's backfill runs queued.
    # Unpausing also makes the scheduler add its own run for the latest complete day (whatever today
    # is); that run is not this test's business, so only the runs started here are awaited.
    unpaused = _cli(env, "dags", "unpause", DAG_ID)
    assert unpaused.returncode == 0, unpaused.stderr
    ui_run = _wait("the API to accept a trigger", lambda: _trigger_like_the_ui(env, port, "2026-11-21T00:00:00Z"),
                   120, log, every=3)

    def finished():
        ours = [r for r in _runs(env) if r["run_id"].startswith("backfill__") or r["run_id"] == ui_run]
        done = [r for r in ours if r["state"] in ("success", "failed")]
        return ours if len(ours) >= 3 and len(done) == len(ours) else None

    runs = _wait("the backfill and the triggered run to finish", finished, 900, log, every=5)
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
