"""The CLI never fails silently: each mistake is one line naming the flag or variable as typed, and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app

runner = CliRunner()
CLI = Path(sys.executable).parent / "aftercall"


@pytest.fixture
def places(tmp_path):
    (tmp_path / "lake").mkdir()
    (tmp_path / "a-file").write_text("not a lake")
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "call.wav").write_bytes(b"RIFF")
    return tmp_path


CASES = [
    (["query", "", "--lake", "{t}/lake"], "the query is empty"),
    (["query", "select * from calls where", "--lake", "{t}/lake"],
     "the SQL does not parse: incomplete or invalid statement at line 1, column 25 (near 'where')"),
    (["query", "select 1", "--lake", "{t}/nope"], "--lake {t}/nope: no lake at {t}/nope"),
    (["summary", "--lake", "{t}/a-file"], "--lake {t}/a-file: {t}/a-file is a file, not a lake folder"),
    (["report", "--lake", "{t}/nope", "--out", "{t}/r.html"], "--lake {t}/nope: no lake at {t}/nope"),
    (["report", "--from", "2026-13-01", "--lake", "{t}/lake"], "--from '2026-13-01' is not a date"),
    (["report", "--from", "2026-11-23", "--to", "2026-11-22", "--lake", "{t}/lake"],
     "--to 2026-11-22 is before --from 2026-11-23"),
    (["run", "--date", "2026-11-22", "--source", "/nope", "--lake", "{t}/lake"], "--source /nope is not an existing folder"),
    (["run", "--date", "2026-11-22", "--source", "{t}/flat", "--lake", "{t}/lake"],
     "--source {t}/flat: no */CallRecordings/YYYY/MM/DD/ folder below it; expected Amazon Connect's layout"),
    (["recategorize", "--from", "2026-11-22", "--to", "2026-11-3x", "--lake", "{t}/lake"], "--to '2026-11-3x' is not a date"),
    (["query", "select attr_intent from v_call_contacts", "--lake", "{t}/lake"],
     "attr_<name> columns of v_call_contacts are the names in AFTERCALL_CTR_ATTRIBUTES"),
]


@pytest.mark.parametrize(("args", "message"), CASES)
def test_each_mistake_is_one_clear_line_and_exit_2(places, args, message):
    result = runner.invoke(app, [a.format(t=places) for a in args])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message.format(t=places) in lines[0], result.output
    assert not (places / "r.html").exists()  # report writes nothing when it cannot read the lake


def test_the_installed_cli_names_the_variable_the_user_set(places):
    env = {"PATH": "/usr/bin:/bin", "AFTERCALL_LAKE": str(places / "nowhere"), "HOME": str(places)}
    done = subprocess.run([str(CLI), "summary"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"error: AFTERCALL_LAKE={places}/nowhere: no lake at {places}/nowhere "
                                   "(`aftercall run` or `make demo` writes one)")


def test_an_empty_day_succeeds_and_says_where_it_looked(source, tmp_path):
    result = runner.invoke(app, ["run", "--date", "2026-11-25", "--source", str(source), "--lake", str(tmp_path / "l"),
                                 "--no-transcribe"])
    assert result.exit_code == 0, result.output
    assert f"no recordings under {source} for 2026-11-25 (…/CallRecordings/2026/11/25/)" in result.output


def test_switches_show_no_value_in_help():
    for command in (["run", "--help"], ["--help"], ["setup", "--help"], ["quicksight", "deploy", "--help"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 0 and "<bool>" not in result.output, command


def test_a_report_of_an_empty_range_says_so(places):
    result = runner.invoke(app, ["report", "--lake", str(places / "lake"), "--out", str(places / "r.html")])
    assert result.exit_code == 0, result.output
    assert "no calls in this range" in result.output and (places / "r.html").exists()


# --- AWS without credentials, unexpected errors: still one line, never a traceback ------------------------------

def _no_aws_env(home: Path, **extra: str) -> dict[str, str]:
    """The installed CLI with no AWS credentials anywhere: no variables, no ~/.aws, no instance metadata."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(home / "no-config"), "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
            "AFTERCALL_KMS_KEY_ID": "arn:aws:kms:eu-west-1:123456789012:key/k", **extra}


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLI), *args], env=env, capture_output=True, text=True, timeout=120, cwd=env["HOME"])


def _error_lines(stderr: str) -> list[str]:
    """stderr without a progress bar's last frame (rich leaves it when the run stops)."""
    return [line for line in stderr.splitlines() if line.strip() and "━" not in line]


NO_CREDENTIALS = "error: no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
AWS_COMMANDS = [
    ["quicksight", "deploy", "--dry-run"],
    ["quicksight", "deploy"],
    ["setup", "--lake", "s3://acme-lake/aftercall", "--source", "s3://acme-rec/connect"],
    ["query", "select 1", "--lake", "s3://acme-lake/aftercall"],
    ["summary", "--lake", "s3://acme-lake/aftercall"],
    ["run", "--date", "2026-11-22", "--engine", "aws", "--source", "s3://acme-rec/connect",
     "--lake", "s3://acme-lake/aftercall", "--workers", "1"],
    ["import", "s3://acme-rec/transcripts/x.json", "--date", "2026-11-22", "--lake", "s3://acme-lake/aftercall"],
    ["recategorize", "--from", "2026-11-22", "--to", "2026-11-22", "--lake", "s3://acme-lake/aftercall"],
]


@pytest.mark.parametrize("args", AWS_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_aws_commands_without_credentials_end_in_one_line(tmp_path, args):
    done = _cli(_no_aws_env(tmp_path, AWS_DEFAULT_REGION="eu-west-1"), *args)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and done.stdout == "", done.stdout + done.stderr
    assert [line[:len(NO_CREDENTIALS)] for line in _error_lines(done.stderr)] == [NO_CREDENTIALS], done.stderr


def test_quicksight_deploy_without_a_region_names_the_variables(tmp_path):
    done = _cli(_no_aws_env(tmp_path, AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="x",
                            AFTERCALL_QUICKSIGHT_ACCOUNT_ID="123456789012"), "quicksight", "deploy", "--dry-run")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip() == "error: no AWS region: set AFTERCALL_AWS_REGION or AWS_DEFAULT_REGION"


def test_an_unreachable_aws_endpoint_is_one_line(tmp_path):
    done = _cli(_no_aws_env(tmp_path, AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="x",
                            AWS_DEFAULT_REGION="eu-west-1", AWS_ENDPOINT_URL="http://127.0.0.1:9",
                            AFTERCALL_AWS_MAX_ATTEMPTS="1"), "quicksight", "deploy", "--dry-run")
    assert done.returncode == 1 and done.stdout == "" and "Traceback" not in done.stderr
    assert _error_lines(done.stderr) == ['error: EndpointConnectionError: Could not connect to the endpoint URL: '
                                         '"http://127.0.0.1:9/"'], done.stderr


def test_setup_policy_only_writes_only_json_to_stdout(tmp_path):
    """`aftercall setup --policy-only > policy.json` is a valid policy; the header goes to stderr."""
    env = _no_aws_env(tmp_path, AFTERCALL_SOURCE="s3://acme-rec/connect", AFTERCALL_LAKE="s3://acme-lake/aftercall")
    done = subprocess.run(f"{CLI} setup --policy-only > policy.json", shell=True, env=env, capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    policy = json.loads((tmp_path / "policy.json").read_text())
    assert policy["Version"] == "2012-10-17" and policy["Statement"]
    assert "IAM policy" in done.stderr and "Traceback" not in done.stderr


def test_an_unexpected_error_is_one_line_and_verbose_adds_the_traceback(places, monkeypatch):
    import pipeline.presentation.report

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(pipeline.presentation.report, "write_report", broken)
    args = ["report", "--lake", str(places / "lake"), "--out", str(places / "r.html")]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert [line for line in result.output.splitlines() if line.strip()] == [
        "error: RuntimeError: disk on fire second line"], result.output
    verbose = runner.invoke(app, ["-v", *args])
    assert verbose.exit_code == 1 and "Traceback" in verbose.output and "disk on fire" in verbose.output
