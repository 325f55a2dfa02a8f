"""Airflow's CeleryExecutor on this machine, as a multi-host deployment runs it: Debian's redis-server as the
broker, PostgreSQL for the metadata, the scheduler, DAG processor and API server, and two
``airflow celery worker`` processes, each in its own UTS namespace with its own hostname (what two
machines would report). A day of 12 calls in batches of 2 (6 mapped ``process_calls`` tasks) runs
with the default settings; both workers must have run some of them, and the lake must equal what
``aftercall run`` writes for the same day.

Every server listens on 127.0.0.1 only, keeps its data in a temporary folder and is stopped by PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from pipeline.adapters.duckdb_engine import query
from pipeline.settings import SAMPLES_DIR
from tests.airflow_support import AIRFLOW, DAG_ID, ROOT, cli, free_port, list_runs, stop_all, wait_for, wait_until_up

pytestmark = pytest.mark.slow

DAY = "2026-11-22"
COPIES = 3  # 4 sample calls x 3 = 12 calls


def _pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not found:
        pytest.fail(f"PostgreSQL's {name} is not installed: `make test` installs Debian's postgresql")
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


@pytest.fixture(scope="module")
def servers():
    """redis-server and PostgreSQL on loopback ports, data in a temporary folder; yields their URLs."""
    base = Path(tempfile.mkdtemp(prefix="aftercall-celery-"))
    base.chmod(0o755)
    redis_port, pg_port = free_port(), free_port()
    redis = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "",
                              "--appendonly", "no", "--dir", str(base)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    data = base / "pg"
    data.mkdir()
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_postgres:
        shutil.chown(data, "postgres", "postgres")
    subprocess.run([*as_postgres, _pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True)
    subprocess.run([*as_postgres, _pg_bin("pg_ctl"), "-D", str(data), "-w", "-l", str(data / "server.log"), "-o",
                    f"-p {pg_port} -c listen_addresses=127.0.0.1 -k {data}", "start"], check=True, capture_output=True)
    postmaster = int((data / "postmaster.pid").read_text().split()[0])
    try:
        subprocess.run([*as_postgres, _pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(pg_port), "-U", "postgres",
                        "airflow"], check=True, capture_output=True)
        db = f"postgresql+psycopg2://postgres@127.0.0.1:{pg_port}/airflow"
        yield {"db": db, "broker": f"redis://127.0.0.1:{redis_port}/0", "base": base}
    finally:
        _stop(postmaster, signal.SIGINT)  # PostgreSQL's fast shutdown
        _stop(redis.pid)
        shutil.rmtree(base, ignore_errors=True)


def _day_of_12_calls(root: Path) -> Path:
    folder = root / "connect" / "acme" / "CallRecordings" / "2026" / "11" / "22"
    folder.mkdir(parents=True)
    for copy in range(COPIES):
        for f in sorted(SAMPLES_DIR.rglob("*.wav")):
            contact, rest = f.name.split("_", 1)
            shutil.copy(f, folder / f"{contact[:-2]}{copy:02d}_{rest}")
    return root


def test_two_celery_workers_share_a_day_and_write_what_the_cli_writes(servers, tmp_path):
    source = _day_of_12_calls(tmp_path / "recordings")
    home, lake, port = tmp_path / "airflow", tmp_path / "lake", free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AFTERCALL_", "AIRFLOW"))}
    env.update(
        AIRFLOW_HOME=str(home), AIRFLOW_PORT=str(port),
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=servers["db"],
        AIRFLOW__CELERY__BROKER_URL=servers["broker"],
        AIRFLOW__CELERY__RESULT_BACKEND=f"db+{servers['db']}",
        AIRFLOW__CELERY__WORKER_CONCURRENCY="1",  # one batch per worker at a time; the batch uses every core
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"), AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AFTERCALL_SOURCE=str(source), AFTERCALL_LAKE=str(lake), AFTERCALL_BATCH_SIZE="2",
    )
    log = tmp_path / "airflow.log"
    with open(log, "wb") as out:
        airflow = subprocess.Popen([str(Path(AIRFLOW).parent / "python"), str(ROOT / "scripts" / "airflow_local.py")],
                                   env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    workers = []
    try:
        wait_until_up("make airflow (CeleryExecutor)", env, port, log, airflow, timeout=240)
        for name in ("worker-a", "worker-b"):
            with open(tmp_path / f"{name}.log", "wb") as out:
                workers.append(subprocess.Popen(
                    ["unshare", "--uts", "sh", "-c", f'hostname {name} && exec "$0" "$@"', AIRFLOW, "celery",
                     "worker", "--celery-hostname", f"{name}@%h", "--skip-serve-logs"],
                    env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
        assert cli(env, "dags", "unpause", DAG_ID).returncode == 0
        trigger = cli(env, "dags", "trigger", DAG_ID, "--logical-date", f"{DAY}T00:00:00+00:00", "--run-id",
                      "celery_two_workers")
        assert trigger.returncode == 0, trigger.stdout + trigger.stderr

        def finished():
            for w in workers:
                if w.poll() is not None:
                    pytest.fail(f"a worker exited with {w.returncode}:\n"
                                f"{(tmp_path / 'worker-a.log').read_text()[-3000:]}")
            run = next((r for r in list_runs(env) if r["run_id"] == "celery_two_workers"), None)
            return run if run and run["state"] in ("success", "failed") else None

        run = wait_for("the run on two Celery workers", finished, 900, tmp_path / "worker-a.log", every=5)
        assert run["state"] == "success", (tmp_path / "worker-b.log").read_text()[-3000:]
        hosts = _hosts(servers["db"])
        print(f"process_calls instances per worker: {hosts}")
        assert set(hosts) == {"worker-a", "worker-b"} and sum(hosts.values()) == 6, hosts
    finally:
        for w in workers:
            stop_all(w, home)
        stop_all(airflow, home)

    reference = tmp_path / "cli-lake"
    done = subprocess.run([str(Path(AIRFLOW).parent / "aftercall"), "run", "--date", DAY, "--source", str(source),
                           "--lake", str(reference)], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    for table in ("calls", "turns", "call_categories", "failures"):
        assert _rows(lake, table) == _rows(reference, table), table
    assert len(_rows(lake, "calls")) == 12


def _hosts(db: str) -> dict[str, int]:
    import sqlalchemy

    engine = sqlalchemy.create_engine(db)
    with engine.connect() as conn:
        rows = conn.execute(sqlalchemy.text(
            "select hostname, count(*) from task_instance where dag_id = :d and task_id = 'process_calls' "
            "and state = 'success' group by hostname"), {"d": DAG_ID}).all()
    engine.dispose()
    return {h: n for h, n in rows}


def _rows(lake: Path, table: str) -> list[tuple]:
    columns, data = query(f"select * from {table}", lake)
    keep = [i for i, c in enumerate(columns) if c not in ("processed_at", "failed_at")]
    return sorted((tuple(r[i] for i in keep) for r in data), key=repr)
