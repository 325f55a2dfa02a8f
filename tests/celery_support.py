"""Airflow on CeleryExecutor on this machine, as a multi-host deployment runs it (the Celery test and
bench/celery_scaling.py): Debian's redis-server as the broker, PostgreSQL for the metadata, the
scheduler, DAG processor and API server (scripts/airflow_local.py), and N ``airflow celery worker``
processes, each in its own UTS namespace with its own hostname, as N machines would report.

Every server listens on 127.0.0.1 only, keeps its data in a temporary folder and is stopped by PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pipeline.settings import SAMPLES_DIR

from tests.airflow_support import AIRFLOW, DAG_ID, ROOT, cli, free_port, list_runs, stop_all, wait_for, wait_until_up

__all__ = ["celery_airflow", "day_of_calls", "process_calls_hosts", "run_day", "servers"]


def _pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is not installed: `make test` installs Debian's postgresql")
    return str(found[-1])


def _stop(pid: int, sig: int = signal.SIGTERM, grace: float = 30) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _accepting(proc: subprocess.Popen, port: int, timeout: float = 30) -> None:
    """Until something listens on 127.0.0.1:port (a worker started before its broker would give up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode} before listening on port {port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{proc.args[0]} is not listening on 127.0.0.1:{port} after {timeout:.0f} s")


@contextmanager
def servers() -> Iterator[dict]:
    """redis-server and PostgreSQL on loopback ports, data in a temporary folder; yields their URLs."""
    base = Path(tempfile.mkdtemp(prefix="aftercall-celery-"))
    base.chmod(0o755)
    redis_port, pg_port = free_port(), free_port()
    # The broker keeps the real clock: redis-server (jemalloc) cannot start under libfaketime, which
    # `faketime '+30 days' make test` preloads everywhere; no day logic reads the broker's clock.
    real_clock = {k: v for k, v in os.environ.items() if not k.startswith(("FAKETIME", "DONT_FAKE"))}
    if "faketime" in real_clock.get("LD_PRELOAD", ""):
        real_clock.pop("LD_PRELOAD")
    redis = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "",
                              "--appendonly", "no", "--dir", str(base)],
                             env=real_clock, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    data = base / "pg"
    data.mkdir()
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []  # PostgreSQL refuses root
    if as_postgres:
        shutil.chown(data, "postgres", "postgres")
    postmaster = None
    try:
        _accepting(redis, redis_port)
        subprocess.run([*as_postgres, _pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                        "-E", "UTF8"], check=True, capture_output=True)
        subprocess.run([*as_postgres, _pg_bin("pg_ctl"), "-D", str(data), "-w", "-l", str(data / "server.log"),
                        "-o", f"-p {pg_port} -c listen_addresses=127.0.0.1 -k {data}", "start"],
                       check=True, capture_output=True)
        postmaster = int((data / "postmaster.pid").read_text().split()[0])
        subprocess.run([*as_postgres, _pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(pg_port), "-U", "postgres",
                        "airflow"], check=True, capture_output=True)
        yield {"db": f"postgresql+psycopg2://postgres@127.0.0.1:{pg_port}/airflow",
               "broker": f"redis://127.0.0.1:{redis_port}/0"}
    finally:
        if postmaster:
            _stop(postmaster, signal.SIGINT)  # PostgreSQL's fast shutdown
        _stop(redis.pid)
        shutil.rmtree(base, ignore_errors=True)


def day_of_calls(root: Path, copies: int, day: str = "2026/11/22") -> Path:
    """The sample calls ``copies`` times over (new contact ids) in one day folder under ``root``."""
    folder = root / "connect" / "acme" / "CallRecordings" / day
    folder.mkdir(parents=True)
    for copy in range(copies):
        for f in sorted(SAMPLES_DIR.rglob("*.wav")):
            contact, rest = f.name.split("_", 1)
            shutil.copy(f, folder / f"{contact[:-2]}{copy:02d}_{rest}")
    return root


@contextmanager
def celery_airflow(urls: dict, home: Path, workers: int, env_extra: dict, logs: Path) -> Iterator[dict]:
    """Airflow's components and ``workers`` Celery workers (hostnames worker-1...); yields the CLI environment."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AFTERCALL_", "AIRFLOW"))}
    env.update(
        AIRFLOW_HOME=str(home), AIRFLOW_PORT=str(port),
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=urls["db"],
        AIRFLOW__CELERY__BROKER_URL=urls["broker"],
        AIRFLOW__CELERY__RESULT_BACKEND=f"db+{urls['db']}",
        AIRFLOW__CELERY__WORKER_CONCURRENCY="1",  # one batch per worker at a time; a batch uses AFTERCALL_WORKERS cores
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"), AIRFLOW__CORE__LOAD_EXAMPLES="False",
        **env_extra,
    )
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "airflow.log", "wb") as out:
        airflow = subprocess.Popen([str(Path(AIRFLOW).parent / "python"), str(ROOT / "scripts" / "airflow_local.py")],
                                   env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    started: list[subprocess.Popen] = []
    try:
        wait_until_up("make airflow (CeleryExecutor)", env, port, logs / "airflow.log", airflow, timeout=240)
        for n in range(1, workers + 1):
            with open(logs / f"worker-{n}.log", "wb") as out:
                started.append(subprocess.Popen(
                    ["unshare", "--uts", "sh", "-c", f'hostname worker-{n} && exec "$0" "$@"', AIRFLOW, "celery",
                     "worker", "--celery-hostname", f"worker-{n}@%h", "--skip-serve-logs"],
                    env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
        env["_WORKER_PIDS"] = ",".join(str(p.pid) for p in started)
        yield env
    finally:
        for w in started:
            stop_all(w, home)
        stop_all(airflow, home)


def run_day(env: dict, day: str, run_id: str, logs: Path, timeout: float = 900) -> tuple[dict, float]:
    """Trigger the DAG for ``day`` and wait for the run to end; (the run, seconds from trigger to end)."""
    assert cli(env, "dags", "unpause", DAG_ID).returncode == 0
    started = time.monotonic()
    trigger = cli(env, "dags", "trigger", DAG_ID, "--logical-date", f"{day}T00:00:00+00:00", "--run-id", run_id)
    assert trigger.returncode == 0, trigger.stdout + trigger.stderr
    pids = [int(p) for p in env["_WORKER_PIDS"].split(",")]

    def finished():
        for pid in pids:
            if not Path(f"/proc/{pid}").exists():
                raise AssertionError(f"Celery worker {pid} exited: see {logs}")
        run = next((r for r in list_runs(env) if r["run_id"] == run_id), None)
        return run if run and run["state"] in ("success", "failed") else None

    try:
        run = wait_for(f"run {run_id} on Celery workers", finished, timeout, logs / "worker-1.log", every=2)
    except pytest.fail.Exception as exc:  # say where the run stood: never created, queued, or tasks stuck
        state = next((r for r in list_runs(env) if r["run_id"] == run_id), "no such run")
        paused = cli(env, "dags", "details", DAG_ID, "-o", "plain").stdout
        tasks = cli(env, "tasks", "states-for-dag-run", DAG_ID, run_id, "-o", "plain").stdout
        pytest.fail(f"{exc}\n--- run ---\n{state}\n--- tasks ---\n{tasks[-2000:]}\n--- dag ---\n"
                    f"{[line for line in paused.splitlines() if 'paused' in line]}")
    return run, time.monotonic() - started


def process_calls_hosts(db: str, run_id: str) -> dict[str, int]:
    """Successful ``process_calls`` instances of the run, per worker hostname."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(db)
    with engine.connect() as conn:
        rows = conn.execute(sqlalchemy.text(
            "select hostname, count(*) from task_instance where dag_id = :d and run_id = :r "
            "and task_id = 'process_calls' and state = 'success' group by hostname"), {"d": DAG_ID, "r": run_id}).all()
    engine.dispose()
    return {h: n for h, n in rows}
