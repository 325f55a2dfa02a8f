"""Settings from the environment and flags, and the CLI's exit codes and outputs."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.exceptions import ConfigurationError
from pipeline.settings import load_settings

runner = CliRunner()


def test_environment_then_flags(monkeypatch, tmp_path):
    monkeypatch.setenv("AFTERCALL_SOURCE", str(tmp_path))
    monkeypatch.setenv("AFTERCALL_LAKE", "/data/lake")
    monkeypatch.setenv("AFTERCALL_AGENT_CHANNEL", "0")
    settings = load_settings()
    assert (settings.source, settings.lake, settings.agent_channel) == (str(tmp_path), "/data/lake", 0)
    assert load_settings(lake="/elsewhere", agent_channel=None).lake == "/elsewhere"


@pytest.mark.parametrize(
    ("env", "value", "message"),
    [
        ("AFTERCALL_ENGINE", "gcp", "AFTERCALL_ENGINE"),
        ("AFTERCALL_AGENT_CHANNEL", "2", "AFTERCALL_AGENT_CHANNEL: Input should be less than or equal to 1"),
        ("AFTERCALL_WORKERS", "0", "AFTERCALL_WORKERS"),
    ],
)
def test_bad_values_name_the_variable(monkeypatch, env, value, message):
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigurationError, match=message):
        load_settings()


def test_run_with_a_bad_date_is_a_one_line_error(tmp_path):
    result = runner.invoke(app, ["run", "--date", "2026-13-01", "--lake", str(tmp_path)])
    assert result.exit_code == 2
    assert "not a date" in result.output and "Traceback" not in result.output


def test_run_with_a_missing_source_is_a_one_line_error(tmp_path):
    result = runner.invoke(app, ["run", "--date", "2026-11-22", "--source", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "is not an existing folder" in result.output


def test_run_with_unknown_engine(monkeypatch, tmp_path):
    monkeypatch.setenv("AFTERCALL_ENGINE", "nope")
    result = runner.invoke(app, ["run", "--date", "2026-11-22"])
    assert result.exit_code == 2 and "AFTERCALL_ENGINE" in result.output


def test_run_then_query_in_every_format(source, tmp_path):
    lake = str(tmp_path / "lake")
    result = runner.invoke(app, ["run", "--date", "2026-11-22", "--source", str(source), "--lake", lake,
                                 "--no-transcribe", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "processed" in result.output and "audio hours" in result.output and "wall time" in result.output
    result = runner.invoke(app, ["query", "select dt, calls, quarantined from v_daily_overview", "--lake", lake,
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [{"dt": "2026-11-22", "calls": 4, "quarantined": 0}]
    result = runner.invoke(app, ["query", "select count(*) as n from calls", "--lake", lake, "--format", "csv"])
    assert result.output.split() == ["n", "4"]
    result = runner.invoke(app, ["query", "select * from v_daily_overview", "--lake", lake])
    assert result.exit_code == 0 and "2026-11-22" in result.output


def test_bad_sql_is_a_one_line_error(tmp_path):
    result = runner.invoke(app, ["query", "select * from no_such_view", "--lake", str(tmp_path)])
    assert result.exit_code == 2 and "query failed" in result.output
