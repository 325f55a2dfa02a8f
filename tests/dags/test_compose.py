"""docker-compose.yml and the Dockerfile it builds: parses, the expected services, every path exists.

No Docker engine runs in CI, so this checks what can go wrong before `docker compose up`:
a renamed folder, a service dropped, the image not installing the pinned constraints.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_SERVICES = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-init"}
CELERY_SERVICES = {"redis", "airflow-worker"}  # profile `celery`, switched on by docker-compose.celery.yml


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _host_path(spec: str) -> str | None:
    """The host side of a `host:container[:mode]` mount, with `${VAR:-default}` resolved to its default."""
    source = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", spec).split(":")[0]
    return source if source.startswith((".", "/")) else None  # otherwise a named volume


def test_services_are_airflow_3_components_with_postgres(compose):
    assert set(compose["services"]) == {"postgres", *AIRFLOW_SERVICES, *CELERY_SERVICES}
    assert all(compose["services"][name]["profiles"] == ["celery"] for name in CELERY_SERVICES)
    commands = {name: compose["services"][name].get("command") for name in AIRFLOW_SERVICES - {"airflow-init"}}
    assert commands == {"airflow-apiserver": "api-server", "airflow-scheduler": "scheduler",
                        "airflow-dag-processor": "dag-processor", "airflow-triggerer": "triggerer"}


def test_airflow_services_share_one_image_and_settings(compose):
    for name in AIRFLOW_SERVICES:
        service = compose["services"][name]
        env = service["environment"]
        assert service["build"] == {"context": ".", "dockerfile": "Dockerfile"}, name
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/aftercall/dags"
        assert {"AFTERCALL_SOURCE", "AFTERCALL_LAKE", "AFTERCALL_ENGINE"} <= set(env)
        # AWS settings pass through from the host; a value here would be a credential in git.
        for key in ("AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            assert key in env and env[key] is None, key
        if name != "airflow-init":
            assert service["depends_on"]["airflow-init"] == {"condition": "service_completed_successfully"}
            assert service["depends_on"]["postgres"] == {"condition": "service_healthy"}


def test_every_mounted_and_built_path_exists(compose):
    checked = []
    for name, service in compose["services"].items():
        for spec in service.get("volumes", []):
            host = _host_path(spec)
            if host is None:
                assert spec.split(":")[0] in compose["volumes"], f"{name}: undeclared volume {spec}"
                continue
            assert (ROOT / host).exists(), f"{name} mounts {host}, which does not exist"
            checked.append(host)
        if "build" in service:
            assert (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
    assert {"./dags", "./pipeline/samples"} <= set(checked)
    # The default recordings mount is a Connect-layout tree the DAG can discover.
    assert list((ROOT / "pipeline/samples").glob("*/*/CallRecordings/*/*/*/*.wav"))


def test_dockerfile_installs_the_pinned_project():
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = [src for line in dockerfile.splitlines() if line.startswith("COPY")
              for src in line.split()[1:-1]]
    assert copied, "no COPY lines"
    for src in copied:
        assert (ROOT / src).exists(), f"Dockerfile copies {src}, which does not exist"
    assert "-c constraints.txt" in dockerfile
    assert "--require-hashes -r requirements/models.txt" in dockerfile
    assert re.search(r"\.\[[a-z,]*postgres[a-z,]*\]", dockerfile), "the image needs the postgres driver"
    assert re.search(r"\.\[[a-z,]*celery[a-z,]*\]", dockerfile), "the image needs the Celery provider"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and "lake" in ignored


def test_postgres_driver_is_pinned():
    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    assert "psycopg2-binary" in pins and "asyncpg" in pins
    # provider 3.26 fails to import with celery 5.7 (`cannot import name 'retry'`)
    assert pins["apache-airflow-providers-celery"] == "3.26.0" and pins["celery"].startswith("5.6.")


@pytest.mark.parametrize("files", [["docker-compose.yml"], ["docker-compose.yml", "docker-compose.celery.yml"]])
def test_compose_config_is_valid(files):
    """`docker compose config` of each variant, with Debian's docker-compose (no Docker engine needed)."""
    import subprocess

    args = [a for f in files for a in ("-f", f)]
    done = subprocess.run(["docker-compose", *args, "config"], cwd=ROOT, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "COMPOSE_PROFILES": "celery"})
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load(done.stdout)
    executor = "CeleryExecutor" if len(files) == 2 else "LocalExecutor"
    for name in AIRFLOW_SERVICES | {"airflow-worker"}:
        assert config["services"][name]["environment"]["AIRFLOW__CORE__EXECUTOR"] == executor, name
    if len(files) == 2:
        worker = config["services"]["airflow-worker"]
        assert worker["command"] == ["celery", "worker"] or worker["command"] == "celery worker"
        assert config["services"]["airflow-scheduler"]["environment"]["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
        assert "redis" in config["services"]["airflow-scheduler"]["depends_on"]


def test_image_build_copies_everything_the_wheel_force_includes():
    import tomllib

    forced = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"][
        "force-include"]
    copied = {line.split()[1] for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("COPY")}
    assert set(forced) <= copied, set(forced) - copied
