"""`make airflow`: Airflow's standalone set-up (scheduler, DAG processor, triggerer, API server; LocalExecutor,
SQLite, simple auth) with every listening socket on loopback unless you open it up, sized to this machine.

`airflow standalone` cannot do that: its scheduler and triggerer start log servers on all interfaces
(ports 8793 and 8794; the host is not configurable) and its API server listens on 0.0.0.0. Here the
API server binds ``AIRFLOW_HOST`` (default 127.0.0.1) and the log servers are not started, which is
safe because every component runs on this machine: the UI reads task logs from local files.

    AIRFLOW_HOST=0.0.0.0 make airflow   # open the UI to the network (then log servers run too)
    AIRFLOW_PORT=8081 make airflow      # another port

* **Secrets per install**: the JWT secret (signs API tokens), the Fernet key (encrypts connections and
  variables) and the API secret key are generated once into ``$AIRFLOW_HOME/aftercall-secrets.json``
  (mode 0600) and reused by every start; a value already in the environment wins.
* **Sized to the machine**: ``[core] parallelism`` and the LocalExecutor's worker processes default to
  the CPU count (Airflow's default starts 32 workers whatever the machine); set
  ``AIRFLOW__CORE__PARALLELISM`` to choose.
* **Stops everything**: each component runs in its own session (process group); Ctrl-C or SIGTERM to
  this launcher sends SIGTERM to every group, then SIGKILL to what is left after a grace period
  (``AIRFLOW_STOP_GRACE_S``, default 20 s), so no ``airflow worker`` outlives it.
"""

from __future__ import annotations

import base64
import configparser
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

AIRFLOW = str(Path(sys.executable).parent / "airflow")
SECRETS_FILE = "aftercall-secrets.json"
# setting in the environment -> key in the secrets file
SECRET_SETTINGS = {"AIRFLOW__API_AUTH__JWT_SECRET": "jwt_secret", "AIRFLOW__CORE__FERNET_KEY": "fernet_key",
                   "AIRFLOW__API__SECRET_KEY": "api_secret_key"}


def _fernet_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()  # what cryptography's Fernet.generate_key() returns


def _configured_fernet_key(home: Path) -> str | None:
    """An existing install's Fernet key (airflow.cfg), kept so the connections it encrypted stay readable."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(home / "airflow.cfg")
        return parser.get("core", "fernet_key", fallback="").strip() or None
    except configparser.Error:
        return None


def install_secrets(home: Path) -> dict[str, str]:
    """The install's secrets: read from ``home/aftercall-secrets.json``, or generated once into it (0600)."""
    path = home / SECRETS_FILE
    if path.exists():
        stored = json.loads(path.read_text())
        if all(stored.get(key) for key in SECRET_SETTINGS.values()):
            os.chmod(path, 0o600)
            return stored
    stored = {"jwt_secret": secrets.token_urlsafe(48), "fernet_key": _configured_fernet_key(home) or _fernet_key(),
              "api_secret_key": secrets.token_urlsafe(48)}
    tmp = path.with_name(f".{SECRETS_FILE}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(stored, out, indent=1)
    os.replace(tmp, path)
    print(f"airflow-local: generated this install's secrets in {path} (mode 0600)", flush=True)
    return stored


def sized_env(env: dict[str, str]) -> dict[str, str]:
    """Parallelism and LocalExecutor workers from the CPU count, unless set (Airflow's default is 32)."""
    cpus = os.cpu_count() or 1
    parallelism = env.get("AIRFLOW__CORE__PARALLELISM") or str(cpus)
    return {"AIRFLOW__CORE__PARALLELISM": parallelism,
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": env.get("AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG", parallelism)}


def stop_groups(procs: dict[str, subprocess.Popen], grace: float) -> None:
    """SIGTERM to every component's process group, then SIGKILL to any group still alive after ``grace``."""
    def signal_group(p: subprocess.Popen, sig: int) -> None:
        try:
            os.killpg(p.pid, sig)  # each component leads its own session: its pid is its group id
        except (ProcessLookupError, PermissionError):
            pass

    for p in procs.values():
        signal_group(p, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for p in procs.values():
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    while time.monotonic() < deadline and any(_group_alive(p.pid) for p in procs.values()):
        time.sleep(0.2)  # the leader exited; its workers may still be finishing
    for name, p in procs.items():
        if _group_alive(p.pid):
            print(f"airflow-local: {name} did not stop within {grace:.0f} s: killing its process group",
                  file=sys.stderr, flush=True)
            signal_group(p, signal.SIGKILL)
        if p.poll() is None:
            p.wait(5)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def main() -> int:
    host = os.environ.get("AIRFLOW_HOST", "127.0.0.1")
    port = os.environ.get("AIRFLOW_PORT", "8080")
    grace = float(os.environ.get("AIRFLOW_STOP_GRACE_S", "20"))
    loopback = host in ("127.0.0.1", "localhost", "::1")
    skip_logs = ["--skip-serve-logs"] if loopback else []
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    home = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
    home.mkdir(parents=True, exist_ok=True)
    stored = install_secrets(home)
    env = {
        **os.environ,
        **{setting: os.environ.get(setting) or stored[key] for setting, key in SECRET_SETTINGS.items()},
        **sized_env(dict(os.environ)),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__EXECUTOR": os.environ.get("AIRFLOW__CORE__EXECUTOR", "LocalExecutor"),
        # Dates typed in the UI and `airflow backfill create` are days in the centre's zone (AFTERCALL_TIMEZONE).
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": os.environ.get("AIRFLOW__CORE__DEFAULT_TIMEZONE",
                                                          os.environ.get("AFTERCALL_TIMEZONE", "UTC")),
        "AIRFLOW__API__HOST": host,
        "AIRFLOW__API__PORT": port,
        "AIRFLOW__API__BASE_URL": os.environ.get("AIRFLOW__API__BASE_URL", url),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": os.environ.get("AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
                                                                  f"{url}/execution/"),
    }
    stopping: list[int] = []

    def stop(signum, _frame):
        stopping.append(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"airflow-local: migrating the metadata database in {home}", flush=True)
    migrate = subprocess.Popen([AIRFLOW, "db", "migrate"], env=env, stdout=subprocess.DEVNULL, start_new_session=True)
    while migrate.poll() is None and not stopping:
        time.sleep(0.2)
    if stopping:
        stop_groups({"db migrate": migrate}, grace)
        return 130
    if migrate.returncode:
        print(f"airflow-local: airflow db migrate failed ({migrate.returncode})", file=sys.stderr)
        return migrate.returncode
    # The pool that shares the AWS account's quotas between process_calls tasks (AWS engine; unused locally).
    pool = [AIRFLOW, "pools", "set", env.get("AFTERCALL_AWS_POOL", "aftercall_aws"), env.get("AFTERCALL_AWS_TASKS", "5"),
            "aftercall: tasks sharing the AWS account quotas"]
    if subprocess.run(pool, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True).returncode:
        print("airflow-local: could not create the pool aftercall_aws (AWS engine tasks would not run)", file=sys.stderr)
    commands = {
        "scheduler": ["scheduler", *skip_logs],
        "dag-processor": ["dag-processor"],
        "triggerer": ["triggerer", *skip_logs],
        "api-server": ["api-server", "--host", host, "--port", port],
    }
    procs: dict[str, subprocess.Popen] = {}
    code = 0
    try:
        for name, args in commands.items():
            # Its own session: a Ctrl-C on the terminal reaches only this launcher, which stops each group whole.
            procs[name] = subprocess.Popen([AIRFLOW, *args], env=env, start_new_session=True)
        print(f"airflow-local: UI and API on {url} (user admin, password in "
              f"{home / 'simple_auth_manager_passwords.json.generated'}); parallelism "
              f"{env['AIRFLOW__CORE__PARALLELISM']} on {os.cpu_count()} CPUs; Ctrl-C stops everything", flush=True)
        while not stopping:
            died = {name: p.returncode for name, p in procs.items() if p.poll() is not None}
            if died:
                print(f"airflow-local: {', '.join(died)} exited ({died}); stopping the others", file=sys.stderr)
                code = 1
                break
            time.sleep(0.5)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        stop_groups(procs, grace)
    return code


if __name__ == "__main__":
    sys.exit(main())
