"""Quota settings from the environment: nan, inf, zero, negative, absurdly small: one readable line, exit 2."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.exceptions import ConfigurationError
from pipeline.settings import load_settings

runner = CliRunner()


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("AFTERCALL_TRANSCRIBE_QUOTA_TPS", "nan", "AFTERCALL_TRANSCRIBE_QUOTA_TPS: Input should be a finite number"),
    ("AFTERCALL_TRANSCRIBE_QUOTA_TPS", "-inf", "AFTERCALL_TRANSCRIBE_QUOTA_TPS: Input should be a finite number"),
    ("AFTERCALL_TRANSCRIBE_QUOTA_TPS", "0", "AFTERCALL_TRANSCRIBE_QUOTA_TPS: Input should be greater than 0"),
    ("AFTERCALL_AWS_TASKS", "0", "AFTERCALL_AWS_TASKS: Input should be greater than or equal to 1"),
    ("AFTERCALL_AWS_TASKS", "nan", "AFTERCALL_AWS_TASKS: Input should be a valid integer"),
    ("AFTERCALL_THROTTLE_WAIT_S", "nan", "AFTERCALL_THROTTLE_WAIT_S: Input should be a finite number"),
    ("AFTERCALL_TRANSCRIBE_QUOTA_JOBS", "3", "AFTERCALL_AWS_TASKS=5 tasks cannot share 3 concurrent jobs"),
    # Before: accepted; the run then slept 1 / (1e-320 / 5) = inf s between starts (OverflowError mid-run),
    # or 1e-6 a week between calls (a silent hang).
    ("AFTERCALL_TRANSCRIBE_QUOTA_TPS", "1e-320", "AFTERCALL_TRANSCRIBE_QUOTA_TPS=9.99989e-321 / AFTERCALL_AWS_TASKS=5 "
     "is 2e-321 calls per second per task: at least one call every 600 s"),
    ("AFTERCALL_TRANSCRIBE_START_TPS", "0.000001", "AFTERCALL_TRANSCRIBE_START_TPS=1e-06 is 1e-06 calls per second"),
    ("AFTERCALL_COMPREHEND_QUOTA_TPS", "1e-300", "AFTERCALL_COMPREHEND_QUOTA_TPS=1e-300 / AFTERCALL_AWS_TASKS=5"),
])
def test_a_bad_quota_is_one_line_naming_the_variable(monkeypatch, tmp_path, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=message.replace(".", r"\.").replace("+", r"\+")):
        load_settings()
    (tmp_path / "lake").mkdir()
    result = runner.invoke(app, ["summary", "--lake", str(tmp_path / "lake")])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.output


def test_the_slowest_accepted_rates_still_load(monkeypatch):
    monkeypatch.setenv("AFTERCALL_COMPREHEND_QUOTA_TPS", str(5 / 600))  # 5 tasks, one call every 600 s each
    monkeypatch.setenv("AFTERCALL_TRANSCRIBE_START_TPS", "0.002")
    settings = load_settings()
    assert settings.task_comprehend_tps == pytest.approx(1 / 600) and settings.task_transcribe_tps == 0.002
