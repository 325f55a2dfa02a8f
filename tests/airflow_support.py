"""A real Airflow started by a test (`airflow standalone`, `make airflow`): wait for it, talk to it, stop it.

Shared by the e2e tests that run Airflow as users do; each starts its own processes with a
temporary AIRFLOW_HOME and stops them (the whole process group, then strays) whatever happens.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW = str(Path(sys.executable).parent / "airflow")
DAG_ID = "post_call_analytics"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: str, check, timeout: float, log: Path, every: float = 2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-60:]) if log.exists() else ""
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n--- log ---\n{tail}")


def _descendants(root: int) -> list[tuple[int, str]]:
    """Every process below ``root`` as (pid, start time): taken before stopping, because a child that made its own
    session (``airflow standalone``'s api-server) is outside the group, and once orphaned it is no one's child, and
    Airflow's process titles blank /proc/<pid>/environ, so no marker finds it either."""
    parents: dict[int, tuple[int, str]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = (int(fields[1]), fields[19])  # ppid, starttime
        except (OSError, ValueError, IndexError):
            continue
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, started) in parents.items():
            if ppid == parent:
                found.append((pid, started))
                frontier.append(pid)
    return found


def _kill_if_same(pid: int, started: str) -> None:
    try:
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19] == started:  # not a reused pid
            os.kill(pid, signal.SIGKILL)
    except (OSError, IndexError):
        pass


def stop_all(proc: subprocess.Popen, home: Path, grace: float = 30) -> None:
    """Stop a started Airflow: its whole process group (SIGTERM, then SIGKILL), then any stray process."""
    tree = _descendants(proc.pid)
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
    tree += [d for d in _descendants(proc.pid) if d not in tree]
    for pid, started in tree:
        _kill_if_same(pid, started)
    _kill_strays(home)
    _kill_writers_into(home.parent)


def _kill_writers_into(folder: Path) -> None:
    """Kill any process whose output goes into ``folder`` (the test's own temporary folder): an orphaned
    ``airflow api_server`` carries no marker in its environment (its process title blanks it)."""
    keep = {os.getpid(), os.getppid()}
    prefix = str(folder.resolve()) + os.sep
    for proc_dir in Path("/proc").glob("[0-9]*"):
        pid = int(proc_dir.name)
        if pid in keep:
            continue
        for fd in ("1", "2"):
            try:
                target = os.readlink(proc_dir / "fd" / fd).removesuffix(" (deleted)")
            except OSError:
                continue
            if target.startswith(prefix):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
                break


def _kill_strays(home: Path) -> None:
    """Kill any process still carrying this AIRFLOW_HOME (Airflow rewrites process titles, so match the environment)."""
    marker = f"AIRFLOW_HOME={home}".encode()
    for proc_dir in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (proc_dir / "environ").read_bytes().split(b"\0"):
                os.kill(int(proc_dir.name), signal.SIGKILL)
        except (OSError, ValueError):
            continue


def cli(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=120)


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5) as r:
            body = json.load(r)
        return body.get("scheduler", {}).get("status") == "healthy"
    except OSError:
        return False


def list_runs(env) -> list[dict]:
    result = cli(env, "dags", "list-runs", DAG_ID, "-o", "json")
    # Airflow prints warnings (graphviz) on stdout before the JSON.
    lines = [line for line in result.stdout.splitlines() if line.startswith("[")]
    return json.loads(lines[-1]) if result.returncode == 0 and lines else []


def wait_until_up(what: str, env: dict, port: int, log: Path, proc: subprocess.Popen, timeout: float) -> None:
    """Until the API server and scheduler are healthy and the DAG is parsed; fails at once if ``proc`` exits."""
    def up():
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        return healthy(port)

    wait_for("the API server and scheduler", up, timeout, log)
    wait_for("the DAG to be parsed", lambda: DAG_ID in cli(env, "dags", "list", "-o", "plain").stdout, 120, log)


def api_token(home: Path, port: int) -> str:
    """A bearer token of the simple auth manager's admin, as the UI gets one."""
    users = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())
    request = urllib.request.Request(f"http://127.0.0.1:{port}/auth/token", method="POST",
                                     data=json.dumps({"username": "admin", "password": users["admin"]}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.load(r)["access_token"]


def trigger_like_the_ui(env: dict, port: int, logical_date: str, landed: Callable[[dict], bool]) -> str | None:
    """POST a run as the UI does; None when SQLite was locked (a 500: nothing was written, try again).
    On a 409 an earlier try landed after all: its run is the one ``landed`` picks from the DAG's runs."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v2/dags/{DAG_ID}/dagRuns", method="POST",
        data=json.dumps({"logical_date": logical_date, "conf": {}}).encode(),
        headers={"Content-Type": "application/json",
                 "Authorization": f"Bearer {api_token(Path(env['AIRFLOW_HOME']), port)}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return json.load(r)["dag_run_id"]
    except urllib.error.HTTPError as exc:
        if exc.code == 409:
            return next(r["run_id"] for r in list_runs(env) if landed(r))
        if exc.code >= 500:
            return None
        raise
