"""`make airflow`: Airflow's standalone set-up (scheduler, DAG processor, triggerer, API server; LocalExecutor,
SQLite, simple auth) with every listening socket on loopback unless you open it up.

`airflow standalone` cannot do that: its scheduler and triggerer start log servers on all interfaces
(ports 8793 and 8794; the host is not configurable) and its API server listens on 0.0.0.0. Here the
API server binds ``AIRFLOW_HOST`` (default 127.0.0.1) and the log servers are not started, which is
safe because every component runs on this machine: the UI reads task logs from local files.

    AIRFLOW_HOST=0.0.0.0 make airflow   # open the UI to the network (then log servers run too)
    AIRFLOW_PORT=8081 make airflow      # another port

Stop with Ctrl-C (or SIGTERM): every component is stopped with it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

AIRFLOW = str(Path(sys.executable).parent / "airflow")


def main() -> int:
    host = os.environ.get("AIRFLOW_HOST", "127.0.0.1")
    port = os.environ.get("AIRFLOW_PORT", "8080")
    loopback = host in ("127.0.0.1", "localhost", "::1")
    skip_logs = ["--skip-serve-logs"] if loopback else []
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    env = {
        **os.environ,
        "AIRFLOW__CORE__EXECUTOR": os.environ.get("AIRFLOW__CORE__EXECUTOR", "LocalExecutor"),
        "AIRFLOW__API__HOST": host,
        "AIRFLOW__API__PORT": port,
        "AIRFLOW__API__BASE_URL": os.environ.get("AIRFLOW__API__BASE_URL", url),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": os.environ.get("AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
                                                                  f"{url}/execution/"),
    }
    home = Path(env.get("AIRFLOW_HOME", Path.home() / "airflow"))
    home.mkdir(parents=True, exist_ok=True)
    print(f"airflow-local: migrating the metadata database in {home}", flush=True)
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    commands = {
        "scheduler": ["scheduler", *skip_logs],
        "dag-processor": ["dag-processor"],
        "triggerer": ["triggerer", *skip_logs],
        "api-server": ["api-server", "--host", host, "--port", port],
    }
    procs = {name: subprocess.Popen([AIRFLOW, *args], env=env) for name, args in commands.items()}
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"airflow-local: UI and API on {url} (user admin, password in "
          f"{home / 'simple_auth_manager_passwords.json.generated'}); Ctrl-C stops everything", flush=True)
    code = 0
    while not stopping:
        died = {name: p.returncode for name, p in procs.items() if p.poll() is not None}
        if died:
            print(f"airflow-local: {', '.join(died)} exited ({died}); stopping the others", file=sys.stderr)
            code = 1
            break
        time.sleep(0.5)
    for p in procs.values():
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + 30
    for p in procs.values():
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
    return code


if __name__ == "__main__":
    sys.exit(main())
