from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.exceptions import ConfigurationError
from pipeline.settings import load_settings
from tests.aws_support import KMS_KEY, LAKE_BUCKET, SOURCE_BUCKET

runner = CliRunner()


@pytest.mark.parametrize(("overrides", "message"), [
    ({"engine": "aws"}, "AFTERCALL_SOURCE must be s3://"),
    ({"engine": "aws", "source": "s3://b/p", "lake": "s3://l/x"}, "AFTERCALL_KMS_KEY_ID"),
    ({"lake": "s3://l/x"}, "AFTERCALL_KMS_KEY_ID"),
    ({"engine": "aws", "source": "s3://b/p", "lake": "/tmp/lake", "kms_key_id": "k"}, "AFTERCALL_TRANSCRIBE_OUTPUT"),
    ({"engine": "aws", "source": "s3://b/p", "lake": "s3://l/x", "kms_key_id": "k",
      "transcribe_mode": "call-analytics"}, "AFTERCALL_TRANSCRIBE_ROLE_ARN"),
    ({"transcribe_start_tps": 100}, "AFTERCALL_TRANSCRIBE_START_TPS"),
    # The old per-worker default (100 jobs) × 5 tasks would ask the account for 500 of its 250 jobs.
    ({"transcribe_max_concurrent": 100}, "AFTERCALL_TRANSCRIBE_MAX_CONCURRENT=100 jobs per task × AFTERCALL_AWS_TASKS=5"),
    ({"aws_tasks": 8, "transcribe_start_tps": 5}, "exceeds the account's 25 starts per second"),
    ({"aws_tasks": 200, "transcribe_mode": "call-analytics", "transcribe_role_arn": "arn:aws:iam::1:role/r"},
     "AFTERCALL_AWS_TASKS=200 tasks cannot share 100"),
])
def test_aws_settings_refused_with_the_variable_to_fix(overrides, message):
    with pytest.raises(ConfigurationError, match=message):
        load_settings(**overrides)


def test_setup_command_creates_then_reports_unchanged_and_prints_the_policy(aws, monkeypatch):
    for key, value in {"AFTERCALL_ENGINE": "aws", "AFTERCALL_SOURCE": f"s3://{SOURCE_BUCKET}/connect",
                       "AFTERCALL_LAKE": f"s3://{LAKE_BUCKET}/aftercall", "AFTERCALL_KMS_KEY_ID": KMS_KEY,
                       "AFTERCALL_AWS_REGION": "eu-west-1"}.items():
        monkeypatch.setenv(key, value)
    first = runner.invoke(app, ["setup"])
    assert first.exit_code == 0, first.output
    assert "created Athena workgroup aftercall" in first.output and "Glacier after 180 days" in first.output
    policy = json.loads(first.output[first.output.index("{"):])
    assert policy["Statement"][1]["Resource"] == f"arn:aws:s3:::{SOURCE_BUCKET}/connect/*"
    assert "arn:aws:athena:eu-west-1:123456789012:workgroup/aftercall" in json.dumps(policy)
    again = runner.invoke(app, ["setup"])
    assert again.exit_code == 0 and "done" not in again.output.split("IAM policy")[0]


def test_setup_refuses_a_local_lake():
    result = runner.invoke(app, ["setup"])
    assert result.exit_code == 2 and "must be s3://" in result.output
