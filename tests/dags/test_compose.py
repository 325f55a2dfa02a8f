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


SECRETS = ("AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY", "POSTGRES_PASSWORD")
VARIANTS = [["docker-compose.yml"], ["docker-compose.yml", "docker-compose.celery.yml"]]


def _compose_config(files: list[str], tmp_path: Path, **env: str) -> "subprocess.CompletedProcess":
    """`docker-compose config` with Debian's docker-compose 1.29 (no Docker engine needed), nothing but ``env``.

    An empty --env-file keeps a developer's own `.env` (which compose reads by default) out of the test.
    """
    import subprocess

    empty = tmp_path / "empty.env"
    empty.write_text("")
    args = [a for f in files for a in ("-f", f)]
    return subprocess.run(["docker-compose", "--env-file", str(empty), *args, "config"], cwd=ROOT,
                          capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "COMPOSE_PROFILES": "celery", **env})


def _secrets() -> dict[str, str]:
    import base64
    import secrets

    return {"AIRFLOW_FERNET_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "AIRFLOW_JWT_SECRET": secrets.token_urlsafe(48), "AIRFLOW_API_SECRET_KEY": secrets.token_urlsafe(48),
            "POSTGRES_PASSWORD": secrets.token_urlsafe(24)}


@pytest.mark.parametrize("files", VARIANTS)
def test_compose_config_is_valid(files, tmp_path):
    """`docker compose config` of each variant, with its secrets given, and every secret reaches its setting."""
    given = _secrets()
    done = _compose_config(files, tmp_path, **given)
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load(done.stdout)
    executor = "CeleryExecutor" if len(files) == 2 else "LocalExecutor"
    for name in AIRFLOW_SERVICES | {"airflow-worker"}:
        env = config["services"][name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == executor, name
        assert env["AIRFLOW__CORE__FERNET_KEY"] == given["AIRFLOW_FERNET_KEY"], name
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == given["AIRFLOW_JWT_SECRET"], name
        assert env["AIRFLOW__API__SECRET_KEY"] == given["AIRFLOW_API_SECRET_KEY"], name
        assert f":{given['POSTGRES_PASSWORD']}@postgres/" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], name
    assert config["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] == given["POSTGRES_PASSWORD"]
    if len(files) == 2:
        worker = config["services"]["airflow-worker"]
        assert worker["command"] == ["celery", "worker"] or worker["command"] == "celery worker"
        scheduler = config["services"]["airflow-scheduler"]
        assert scheduler["environment"]["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
        assert f":{given['POSTGRES_PASSWORD']}@postgres/" in scheduler["environment"]["AIRFLOW__CELERY__RESULT_BACKEND"]
        assert "redis" in scheduler["depends_on"]


@pytest.mark.parametrize("files", VARIANTS)
def test_compose_refuses_to_start_without_its_secrets_and_names_them(files, tmp_path):
    """No public fallback: without any secret config fails naming all of them; each one missing (or empty) is named."""
    none = _compose_config(files, tmp_path)
    assert none.returncode != 0
    assert all(name in none.stderr for name in SECRETS), none.stderr
    assert "docker-compose.yml's header" in none.stderr  # where the line that generates them is
    for missing in SECRETS:
        for value in (None, ""):  # unset, or set empty (an empty Fernet key stores passwords in plain text)
            env = {k: v for k, v in _secrets().items() if k != missing}
            if value is not None:
                env[missing] = value
            done = _compose_config(files, tmp_path, **env)
            assert done.returncode != 0, f"config passed without {missing}"
            assert f"{missing} is not set" in done.stderr, done.stderr


def test_no_secret_has_a_default_in_the_compose_files():
    """A secret in git is a public one: every secret setting is a required variable, nothing else."""
    text = "\n".join((ROOT / f).read_text() for f in ("docker-compose.yml", "docker-compose.celery.yml"))
    assert "change-me" not in text and "airflow:airflow@" not in text
    for setting in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY",
                    "POSTGRES_PASSWORD"):
        values = re.findall(rf"^\s+{setting}: (.*)$", text, re.M)
        assert values and all(re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", v) for v in values), (setting, values)


def test_the_documented_line_generates_secrets_compose_accepts(tmp_path):
    """The one line in docker-compose.yml's header (also in docs/airflow.md) writes a `.env` compose accepts."""
    import shutil
    import subprocess

    line = next(l for l in (ROOT / "docker-compose.yml").read_text().splitlines() if l.startswith("#   python3 -c"))
    command = line.removeprefix("#   ")
    assert command in (ROOT / "docs" / "airflow.md").read_text()
    work = tmp_path / "project"
    work.mkdir()
    for name in ("docker-compose.yml", "docker-compose.celery.yml"):
        shutil.copy(ROOT / name, work / name)
    subprocess.run(["bash", "-c", command], cwd=work, check=True)
    assert (work / ".env").stat().st_mode & 0o077 == 0
    values = dict(l.split("=", 1) for l in (work / ".env").read_text().splitlines())
    assert set(values) == set(SECRETS) and all(len(v) >= 32 for v in values.values())
    from cryptography.fernet import Fernet

    Fernet(values["AIRFLOW_FERNET_KEY"].encode())  # a valid Fernet key
    done = subprocess.run(["docker-compose", "-f", "docker-compose.yml", "-f", "docker-compose.celery.yml", "config"],
                          cwd=work, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr


def test_image_build_copies_everything_the_wheel_force_includes():
    import tomllib

    forced = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"][
        "force-include"]
    copied = {line.split()[1] for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("COPY")}
    assert set(forced) <= copied, set(forced) - copied
