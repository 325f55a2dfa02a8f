"""The DAG on the AWS engine: dag.test() runs its tasks in this process, where moto serves S3, Glue,
Athena and Transcribe (with real-format transcripts put where the service would) and Comprehend is
answered in its format."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from pipeline.aws.setup import setup
from tests.aws_fakes import ComprehendByVader, TranscribeOutputs
from tests.aws_support import KMS_KEY, LAKE_BUCKET, REGION, SOURCE_BUCKET, all_objects, aws_settings, upload_samples
from tests.dags.test_dag_run import _run

pytestmark = pytest.mark.slow
FIXTURE = json.loads((Path(__file__).parents[1] / "unit" / "aws" / "fixtures" / "transcribe_channels.json").read_text())


def test_a_day_on_aws_through_the_dag(aws, monkeypatch, airflow_db):
    from moto.athena.models import athena_backends

    s3 = aws.client("s3")
    upload_samples(s3)
    outputs = TranscribeOutputs(s3, lambda uri, job: FIXTURE)
    outputs.attach(aws.events)
    ComprehendByVader().attach(aws.events)
    setup(aws_settings(), glue=aws.client("glue"), athena=aws.client("athena"), s3=s3)
    for key, value in {"AFTERCALL_ENGINE": "aws", "AFTERCALL_SOURCE": f"s3://{SOURCE_BUCKET}/connect",
                       "AFTERCALL_LAKE": f"s3://{LAKE_BUCKET}/aftercall", "AFTERCALL_KMS_KEY_ID": KMS_KEY,
                       "AFTERCALL_AWS_REGION": REGION, "AFTERCALL_TRANSCRIBE_POLL_S": "0",
                       "AFTERCALL_BATCH_SIZE": "2", "AFTERCALL_WORKERS": "1"}.items():
        monkeypatch.setenv(key, value)

    for _ in range(2):  # a re-run of the day pays for no new job and duplicates nothing
        assert _run(date(2026, 11, 22)).state == "success"
    assert len(outputs.started) == 4

    glue = aws.client("glue")
    for table in ("calls", "turns", "failures", "call_categories", "contacts", "turns_raw"):
        parts = glue.get_partitions(DatabaseName="aftercall", TableName=table)["Partitions"]
        assert [p["Values"] for p in parts] == [["2026-11-22"]], table
    from pipeline.wiring import build_lake

    calls = build_lake(aws_settings()).read_partition("calls", "2026-11-22").to_pylist()
    assert len(calls) == 4 and {c["transcriber"] for c in calls} == {"amazon-transcribe"}
    keys = all_objects(s3, LAKE_BUCKET)
    assert not [k for k in keys if "/_staging/" in k]
    assert all(s3.head_object(Bucket=LAKE_BUCKET, Key=k)["ServerSideEncryption"] == "aws:kms" for k in keys)
    queries = [e.query for e in athena_backends["123456789012"][REGION].executions.values()]
    assert sum(q.startswith("create or replace view v_daily_overview") for q in queries) == 2  # once per run
    assert any(q.startswith("select * from v_daily_overview where dt = '2026-11-22'") for q in queries)
