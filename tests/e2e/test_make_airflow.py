"""`make airflow` as a newcomer runs it: every socket on loopback, and a triggered run processes its day."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from pipeline.adapters.duckdb_engine import query
from tests.airflow_support import DAG_ID, ROOT, cli, free_port, list_runs, stop_all, wait_for, wait_until_up

pytestmark = pytest.mark.slow


def _start(env: dict, log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(["make", "-C", str(ROOT), "airflow"], env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


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
    proc = _start(env, log)
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


def _tree(root_pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(root_pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _launcher(make_pid: int) -> psutil.Process:
    """scripts/airflow_local.py: make's child (the recipe execs it)."""
    found = [p for p in _tree(make_pid) if any("airflow_local.py" in part for part in p.cmdline())]
    assert len(found) == 1, [p.cmdline() for p in _tree(make_pid)]
    return found[0]


def _local_executor_workers(root_pid: int) -> list[psutil.Process]:
    workers = []
    for p in _tree(root_pid):
        try:
            if " ".join(p.cmdline()).startswith("airflow worker -- LocalExecutor"):
                workers.append(p)
        except psutil.NoSuchProcess:
            continue
    return workers


def _carrying_home(home: Path) -> list[int]:
    """Every process with this AIRFLOW_HOME in its environment (Airflow rewrites titles; the environment stays)."""
    marker = f"AIRFLOW_HOME={home}".encode()
    pids = []
    for proc_dir in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (proc_dir / "environ").read_bytes().split(b"\0"):
                pids.append(int(proc_dir.name))
        except (OSError, ValueError):
            continue
    return pids


def _stop_and_check_nothing_survives(proc: subprocess.Popen, home: Path, sig: int) -> None:
    launcher = _launcher(proc.pid)
    tree = {p.pid: p for p in _tree(proc.pid)}
    assert len(tree) >= 6, "make, the launcher and four components at least"
    launcher.send_signal(sig)
    proc.wait(90)  # grace 20 s, then SIGKILL: well within
    deadline = time.monotonic() + 10
    alive = []
    while time.monotonic() < deadline:
        alive = [p for p in tree.values() if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        if not alive and not _carrying_home(home):
            break
        time.sleep(0.5)
    assert not alive, [(p.pid, p.cmdline()) for p in alive if p.is_running()]
    assert not _carrying_home(home)


def test_make_airflow_is_sized_to_the_machine_keeps_its_secrets_and_stops_every_child(make_airflow):
    """Workers bounded by the CPU count; per-install secrets 0600, stable across restarts; SIGINT or SIGTERM to
    the launcher leaves no process of the tree (no orphan `airflow worker`)."""
    env, _, port, log, proc = make_airflow
    home = Path(env["AIRFLOW_HOME"])
    wait_until_up("make airflow", env, port, log, proc, 240)

    workers = _local_executor_workers(proc.pid)
    assert 1 <= len(workers) <= (os.cpu_count() or 1), [w.cmdline() for w in workers]
    launcher_env = _launcher(proc.pid).environ()
    assert launcher_env.get("AIRFLOW__CORE__PARALLELISM") is None  # the launcher sizes it for its children
    scheduler_env = next(p for p in _tree(proc.pid) if "scheduler" in " ".join(p.cmdline())).environ()
    assert scheduler_env["AIRFLOW__CORE__PARALLELISM"] == str(os.cpu_count())

    secrets_file = home / "aftercall-secrets.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    first = json.loads(secrets_file.read_text())
    assert len(first["jwt_secret"]) >= 32 and len(first["api_secret_key"]) >= 32
    from cryptography.fernet import Fernet

    Fernet(first["fernet_key"].encode())
    assert scheduler_env["AIRFLOW__API_AUTH__JWT_SECRET"] == first["jwt_secret"]
    assert scheduler_env["AIRFLOW__CORE__FERNET_KEY"] == first["fernet_key"]

    _stop_and_check_nothing_survives(proc, home, signal.SIGINT)

    again = _start(env, log)
    try:
        wait_until_up("make airflow (restarted)", env, port, log, again, 240)
        assert json.loads(secrets_file.read_text()) == first  # reused, not regenerated
        assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
        _stop_and_check_nothing_survives(again, home, signal.SIGTERM)
    finally:
        stop_all(again, home, grace=40)
