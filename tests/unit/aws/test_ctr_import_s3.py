"""Contact trace records and importable outputs read from S3 (moto)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from pipeline.analytics.ctr import read_contacts
from pipeline.analytics.importers import import_paths
from pipeline.lake.tables import LocalLake
from pipeline.settings import SAMPLES_DIR, Settings
from tests.aws_support import KMS_KEY, LAKE_BUCKET, SOURCE_BUCKET

FIXTURES = Path(__file__).parent / "fixtures"


def test_ctrs_from_the_firehose_prefix_on_s3(aws):
    s3 = aws.client("s3")
    for f in (SAMPLES_DIR / "ctr").rglob("*-demo"):
        s3.upload_file(str(f), SOURCE_BUCKET, "ctr/" + str(f.relative_to(SAMPLES_DIR / "ctr")))
    settings = Settings(ctr_source=f"s3://{SOURCE_BUCKET}/ctr", kms_key_id=KMS_KEY)
    rows = read_contacts(settings, date(2026, 11, 22))
    assert [(r["contact_id"][:8], r["agent_username"]) for r in rows] == [
        ("3f1c9a52", "sarah.k"), ("8b2d4e61", "sarah.k"), ("c4e5f607", "mike.t")]
    assert rows[0]["ctr_uri"].startswith(f"s3://{SOURCE_BUCKET}/ctr/2026/11/22/10/")


def test_import_from_an_s3_prefix(aws, tmp_path):
    s3 = aws.client("s3")
    s3.upload_file(str(FIXTURES / "call_analytics.json"), LAKE_BUCKET, "exports/ca-1_20261122T08:00_UTC.json")
    s3.upload_file(str(FIXTURES / "transcribe_channels.json"), LAKE_BUCKET, "exports/tx-2_20261122T08:30_UTC.json")
    settings = Settings(lake=str(tmp_path / "lake"), kms_key_id=KMS_KEY)
    summary = import_paths(settings, [f"s3://{LAKE_BUCKET}/exports/"])
    assert summary.imported == {"2026-11-22": 2} and not summary.failed
    calls = LocalLake(settings.lake).read_partition("calls", date(2026, 11, 22)).to_pylist()
    assert {c["contact_id"]: c["transcriber"] for c in calls} == {
        "ca-1": "transcribe-call-analytics (imported)", "tx-2": "amazon-transcribe (imported)"}
    shutil.rmtree(tmp_path / "lake")
