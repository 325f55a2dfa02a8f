"""The S3/Glue lake, Athena views and ``aftercall setup`` on moto."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest

from pipeline.aws.athena import create_views, run_query
from pipeline.aws.setup import LIFECYCLE_RULE_ID, RAW_TRANSCRIPTS_RULE_ID, iam_policy, setup
from pipeline.exceptions import LakeError
from pipeline.analytics.sql import view_definitions
from pipeline.wiring import aws_client, build_lake, build_source
from tests.aws_support import KMS_KEY, LAKE_BUCKET, SOURCE_BUCKET, all_objects, aws_settings, upload_samples

DAY = date(2026, 11, 22)


def call_row(contact_id: str, talk: float = 10.0) -> dict:
    return {"contact_id": contact_id, "recording_uri": f"s3://x/{contact_id}.wav", "duration_s": 60.0,
            "agent_talk_s": talk, "agent_channel": 1}


def test_partition_written_run_scoped_then_switched_never_duplicated(aws):
    lake = build_lake(aws_settings())
    first = lake.write_partition("calls", DAY, [call_row("a"), call_row("b")])
    assert "/calls/dt=2026-11-22/run=" in first
    assert lake.current_location("calls", DAY) == first
    second = lake.write_partition("calls", DAY, [call_row("a", 20.0), call_row("b"), call_row("c")])
    assert lake.current_location("calls", DAY) == second != first
    rows = lake.read_partition("calls", DAY).to_pylist()
    assert sorted(r["contact_id"] for r in rows) == ["a", "b", "c"]
    assert {r["contact_id"]: r["agent_talk_s"] for r in rows}["a"] == 20.0
    keys = all_objects(aws.client("s3"), LAKE_BUCKET)
    assert sorted(k for k in keys if "/calls/" in k) == sorted(  # the replaced prefix waits out its grace period
        loc.split(f"{LAKE_BUCKET}/")[1] + "part-00000.snappy.parquet" for loc in (first, second))
    table = aws.client("glue").get_table(DatabaseName="aftercall", Name="calls")["Table"]
    assert [k["Name"] for k in table["PartitionKeys"]] == ["dt"]
    assert {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}["call_started_at"] == "timestamp"


def test_a_failed_switch_leaves_the_previous_day_visible_and_the_next_run_cleans_up(aws, monkeypatch):
    lake = build_lake(aws_settings())
    good = lake.write_partition("calls", DAY, [call_row("a")])

    def broken(*args, **kwargs):
        raise RuntimeError("Glue is down")

    monkeypatch.setattr(lake, "_point_partition", broken)
    with pytest.raises(LakeError, match="Glue is down"):
        lake.write_partition("calls", DAY, [call_row("x"), call_row("y")])
    assert lake.current_location("calls", DAY) == good
    assert [r["contact_id"] for r in lake.read_partition("calls", DAY).to_pylist()] == ["a"]
    monkeypatch.undo()
    assert len([k for k in all_objects(aws.client("s3"), LAKE_BUCKET) if "/calls/" in k]) == 1  # rolled back
    latest = lake.write_partition("calls", DAY, [call_row("z")])
    keys = sorted(f"s3://{LAKE_BUCKET}/{k}" for k in all_objects(aws.client("s3"), LAKE_BUCKET) if "/calls/" in k)
    assert [k.rsplit("/", 1)[0] + "/" for k in keys] == sorted([good, latest])  # the replaced one waits its grace


def test_schema_evolution_adds_columns_and_keeps_partitions(aws):
    import awswrangler as wr

    settings = aws_settings()
    wr.catalog.create_parquet_table(database="aftercall", table="calls", path=f"s3://{LAKE_BUCKET}/aftercall/calls/",
                                    columns_types={"contact_id": "string", "duration_s": "double"},
                                    partitions_types={"dt": "string"}, boto3_session=aws)
    lake = build_lake(settings)
    lake.write_partition("calls", "2026-11-21", [call_row("old")])
    lake.write_partition("calls", DAY, [call_row("new")])
    glue = aws.client("glue")
    columns = [c["Name"] for c in glue.get_table(DatabaseName="aftercall", Name="calls")["Table"]
               ["StorageDescriptor"]["Columns"]]
    assert {"est_cost_usd", "customer_sentiment_end", "agent_talk_s"} <= set(columns)
    values = sorted(p["Values"][0] for p in glue.get_partitions(DatabaseName="aftercall", TableName="calls")["Partitions"])
    assert values == ["2026-11-21", "2026-11-22"]


def test_every_object_aftercall_writes_is_sse_kms(aws):
    settings = aws_settings()
    lake = build_lake(settings)
    for table in ("calls", "turns", "failures"):
        lake.write_partition(table, DAY, [call_row("a")] if table == "calls" else [])
    from pipeline.lake.storage import S3Store

    S3Store(aws.client("s3"), KMS_KEY).write_bytes(f"s3://{LAKE_BUCKET}/aftercall/_staging/x/manifest.json", b"[]")
    s3 = aws.client("s3")
    keys = all_objects(s3, LAKE_BUCKET)
    assert len(keys) == 3  # the calls file, the day's commit pointer, the manifest (the lock object is gone)
    for key in keys:
        head = s3.head_object(Bucket=LAKE_BUCKET, Key=key)
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", KMS_KEY), key


def test_views_ddl_issued_once_per_view_in_dependency_order(aws):
    from moto.athena.models import athena_backends

    settings = aws_settings()
    setup(settings, glue=aws.client("glue"), athena=aws.client("athena"), s3=aws.client("s3"))
    names = create_views(aws_client(settings, "athena"), settings)
    executions = athena_backends["123456789012"]["eu-west-1"].executions.values()
    ddl = [e.query for e in executions if e.query.startswith("create or replace view")]
    assert [q.split()[4] for q in ddl] == names == list(view_definitions())
    assert len(set(names)) == len(names) >= 5 and "v_cost_daily" in names
    assert all(e.workgroup.name == "aftercall" if hasattr(e.workgroup, "name") else e.workgroup == "aftercall"
               for e in executions)
    # the SQL outside comments and string literals (v_transcript_search's regular expression has brackets)
    code = [re.sub(r"'(?:[^']|'')*'", "''", re.sub(r"--.*", "", q)).lower() for q in ddl]
    assert not any(re.search(r"\barray\b|array_agg|\[", c) for c in code)  # QuickSight skips array columns


def test_query_runs_in_the_workgroup_and_returns_rows(aws):
    from moto.athena.models import QueryResults, athena_backends

    settings = aws_settings()
    setup(settings, glue=aws.client("glue"), athena=aws.client("athena"), s3=aws.client("s3"))
    backend = athena_backends["123456789012"]["eu-west-1"]
    backend.query_results_queue.append(QueryResults(rows=[
        {"Data": [{"VarCharValue": "dt"}, {"VarCharValue": "calls"}]},
        {"Data": [{"VarCharValue": "2026-11-22"}, {"VarCharValue": "4"}]}],
        column_info=[{"Name": "dt", "Type": "varchar"}, {"Name": "calls", "Type": "bigint"}]))
    columns, rows = run_query(aws_client(settings, "athena"), "select dt, calls from v_daily_overview", settings)
    assert columns == ["dt", "calls"] and rows == [("2026-11-22", "4")]


def test_setup_is_idempotent_keeps_other_lifecycle_rules_and_encrypts(aws):
    settings = aws_settings(recordings_glacier_days=180)
    s3 = aws.client("s3")
    s3.put_bucket_lifecycle_configuration(Bucket=SOURCE_BUCKET, LifecycleConfiguration={"Rules": [
        {"ID": "connect-own-rule", "Status": "Enabled", "Filter": {"Prefix": "exports/"},
         "Expiration": {"Days": 30}}]})
    clients = dict(glue=aws.client("glue"), athena=aws.client("athena"), s3=s3)
    first = setup(settings, **clients)
    # workgroup, lake bucket SSE, two lifecycle rules (database existed)
    assert len(first.done) == 4 and not first.warnings, first.done
    again = setup(settings, **clients)
    assert again.done == [] and len(again.unchanged) == 5
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=SOURCE_BUCKET)["Rules"]}
    assert set(rules) == {"connect-own-rule", LIFECYCLE_RULE_ID}
    assert rules[LIFECYCLE_RULE_ID]["Transitions"] == [{"Days": 180, "StorageClass": "GLACIER"}]
    assert rules[LIFECYCLE_RULE_ID]["Filter"] == {"Prefix": "connect/"}
    enc = s3.get_bucket_encryption(Bucket=LAKE_BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert enc["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KMS_KEY}
    wg = aws.client("athena").get_work_group(WorkGroup="aftercall")["WorkGroup"]["Configuration"]
    assert wg["ResultConfiguration"]["EncryptionConfiguration"] == {"EncryptionOption": "SSE_KMS", "KmsKey": KMS_KEY}
    assert wg["EnforceWorkGroupConfiguration"] is True
    changed = setup(aws_settings(recordings_glacier_days=365), **clients)
    assert any("365 days" in line for line in changed.done)


def test_iam_policy_in_the_docs_is_the_one_setup_prints():
    from pipeline.settings import Settings

    committed = json.loads((Path(__file__).parents[3] / "docs" / "iam-policy.json").read_text())
    assert committed == iam_policy(Settings())
    filled = json.dumps(iam_policy(aws_settings(), account_id="123456789012", region="eu-west-1"))
    assert f"arn:aws:s3:::{SOURCE_BUCKET}/connect/*" in filled and KMS_KEY in filled
    assert "s3:PutObject" not in json.dumps(iam_policy(aws_settings())["Statement"][1])  # recordings: read only


def _rules(s3, bucket: str) -> dict[str, dict]:
    try:
        return {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    except s3.exceptions.ClientError:
        return {}


def test_raw_transcripts_expire_but_not_the_sentiment_cache_beside_them(aws):
    s3 = aws.client("s3")
    clients = dict(glue=aws.client("glue"), athena=aws.client("athena"), s3=s3)
    setup(aws_settings(raw_transcript_days=14), **clients)
    rule = _rules(s3, LAKE_BUCKET)[RAW_TRANSCRIPTS_RULE_ID]
    assert rule["Expiration"] == {"Days": 14} and rule["Status"] == "Enabled"
    prefix = rule["Filter"]["Prefix"]
    assert prefix == "aftercall/_transcripts/aftercall-"  # Transcribe's job outputs, <prefix>/<job name>.json
    assert not "aftercall/_transcripts/_sentiment/amazon-comprehend/en-US/x.json".startswith(prefix)
    for table in ("aftercall/calls/", "aftercall/turns/", "aftercall/_commits/"):  # the lake itself never expires
        assert not table.startswith(prefix)
    assert LIFECYCLE_RULE_ID not in _rules(s3, LAKE_BUCKET)  # Glacier only on the recordings' bucket and prefix
    changed = setup(aws_settings(raw_transcript_days=45), **clients)
    assert any("expire after 45 days" in line for line in changed.done)


@pytest.mark.parametrize("root", [f"s3://{SOURCE_BUCKET}", f"s3://{SOURCE_BUCKET}/"])
def test_a_bucket_root_source_is_never_archived_and_an_old_bucket_wide_rule_is_removed(aws, root):
    """Glacier on a bucket root would take the lake too (Athena can't read Glacier): skipped, with one warning."""
    s3 = aws.client("s3")
    s3.put_bucket_lifecycle_configuration(Bucket=SOURCE_BUCKET, LifecycleConfiguration={"Rules": [
        {"ID": LIFECYCLE_RULE_ID, "Status": "Enabled", "Filter": {"Prefix": ""},  # what an older setup put there
         "Transitions": [{"Days": 180, "StorageClass": "GLACIER"}]},
        {"ID": "connect-own-rule", "Status": "Enabled", "Filter": {"Prefix": "exports/"}, "Expiration": {"Days": 30}}]})
    report = setup(aws_settings(source=root, lake=f"s3://{SOURCE_BUCKET}/aftercall"), glue=aws.client("glue"),
                   athena=aws.client("athena"), s3=s3)
    assert len(report.warnings) == 1 and "recordings are not archived" in report.warnings[0]
    assert "is a bucket root" in report.warnings[0]
    rules = _rules(s3, SOURCE_BUCKET)
    assert set(rules) == {"connect-own-rule", RAW_TRANSCRIPTS_RULE_ID}
    assert any(f"removed lifecycle rule {LIFECYCLE_RULE_ID}" in line for line in report.done)
    assert all(r.get("Filter", {}).get("Prefix") for r in rules.values())  # no rule on the whole bucket


def test_a_lake_under_the_recordings_prefix_is_never_archived(aws):
    s3 = aws.client("s3")
    report = setup(aws_settings(lake=f"s3://{SOURCE_BUCKET}/connect/lake"), glue=aws.client("glue"),
                   athena=aws.client("athena"), s3=s3)
    assert len(report.warnings) == 1 and "lies under AFTERCALL_SOURCE" in report.warnings[0]
    assert LIFECYCLE_RULE_ID not in _rules(s3, SOURCE_BUCKET)


def test_the_only_rule_removed_leaves_no_lifecycle_document(aws):
    s3 = aws.client("s3")
    s3.put_bucket_lifecycle_configuration(Bucket=SOURCE_BUCKET, LifecycleConfiguration={"Rules": [
        {"ID": LIFECYCLE_RULE_ID, "Status": "Enabled", "Filter": {"Prefix": ""},
         "Transitions": [{"Days": 180, "StorageClass": "GLACIER"}]}]})
    setup(aws_settings(source=f"s3://{SOURCE_BUCKET}"), glue=aws.client("glue"), athena=aws.client("athena"), s3=s3)
    assert _rules(s3, SOURCE_BUCKET) == {}


def _sids(policy: dict) -> set[str]:
    return {st["Sid"] for st in policy["Statement"]}


def _allows(policy: dict, action: str) -> list[dict]:
    return [st for st in policy["Statement"]
            if action in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])]


def test_the_policy_reads_the_ctr_bucket_when_ctrs_come_from_s3():
    policy = iam_policy(aws_settings(ctr_source="s3://acme-ctr/firehose/ctr/"), "123456789012", "eu-west-1")
    assert {"ListContactTraceRecords", "ReadContactTraceRecordsNeverWrite"} <= _sids(policy)
    reads = [st["Resource"] for st in _allows(policy, "s3:GetObject")]
    assert "arn:aws:s3:::acme-ctr/firehose/ctr/*" in reads
    listing = [st for st in _allows(policy, "s3:ListBucket") if st["Resource"] == "arn:aws:s3:::acme-ctr"]
    assert listing[0]["Condition"] == {"StringLike": {"s3:prefix": ["firehose/ctr/*"]}}
    assert not any(a != "s3:GetObject" for st in policy["Statement"] if "acme-ctr/" in json.dumps(st["Resource"])
                   for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"]))  # read only
    assert "acme-ctr" not in json.dumps(iam_policy(aws_settings(ctr_source="/srv/ctr")))


@pytest.mark.parametrize(("language", "redact", "detects"), [
    ("es-MX", True, True), ("en-US", True, False), ("es-MX", False, False), ("ko-KR", True, False)])
def test_the_policy_allows_detect_pii_entities_exactly_when_the_pipeline_calls_it(language, redact, detects):
    """As pipeline.wiring.build_components: Comprehend's detector where Transcribe can't redact and Comprehend can."""
    from pipeline.wiring import build_components

    settings = aws_settings(language_code=language, redact_pii=redact)
    assert ("PiiDetection" in _sids(iam_policy(settings))) is detects
    assert (build_components(settings).pii_detector is not None) is detects


def test_call_analytics_passes_only_its_data_access_role_and_only_to_transcribe():
    role = "arn:aws:iam::123456789012:role/aftercall-transcribe-data-access"
    policy = iam_policy(aws_settings(transcribe_mode="call-analytics", transcribe_role_arn=role))
    passes = _allows(policy, "iam:PassRole")
    assert [st["Resource"] for st in passes] == [role]
    assert passes[0]["Condition"] == {"StringEquals": {"iam:PassedToService": "transcribe.amazonaws.com"}}
    assert _allows(policy, "transcribe:StartCallAnalyticsJob") and not _allows(policy, "transcribe:StartTranscriptionJob")
    standard = iam_policy(aws_settings())
    assert not _allows(standard, "iam:PassRole") and not _allows(standard, "transcribe:StartCallAnalyticsJob")


def test_transcripts_and_results_outside_the_lake_are_covered_and_a_local_engine_needs_no_transcribe():
    policy = iam_policy(aws_settings(transcribe_output="s3://acme-transcripts/tx/",
                                     athena_output="s3://acme-athena/results/"))
    writes = {st["Resource"] for st in _allows(policy, "s3:PutObject")}
    assert {"arn:aws:s3:::acme-transcripts/tx/*", "arn:aws:s3:::acme-athena/results/*"} <= writes
    lists = {st["Resource"] for st in _allows(policy, "s3:ListBucket")}
    assert {"arn:aws:s3:::acme-transcripts", "arn:aws:s3:::acme-athena"} <= lists  # a missing key is 404, not 403
    local = iam_policy(aws_settings(engine="local", source="/srv/connect"))
    assert not [st for st in local["Statement"] if "transcribe" in json.dumps(st) or "comprehend" in json.dumps(st)]
    assert not _allows(local, "s3:GetObject")[0]["Resource"].startswith(f"arn:aws:s3:::{SOURCE_BUCKET}")


def test_the_template_in_the_docs_has_every_statement():
    from pipeline.settings import Settings

    template = json.loads((Path(__file__).parents[3] / "pipeline" / "aws" / "iam-policy.json").read_text())
    assert _sids(iam_policy(Settings())) == {st["Sid"] for st in template["Statement"]}
    assert "${" not in json.dumps(iam_policy(Settings()))


def test_source_lists_only_the_day_asked_for(aws):
    s3 = aws.client("s3")
    upload_samples(s3)
    s3.put_object(Bucket=SOURCE_BUCKET, Key="connect/acme/CallRecordings/2026/11/21/old_20261121T10:00_UTC.wav", Body=b"x")
    s3.put_object(Bucket=SOURCE_BUCKET, Key="connect/acme/CallRecordings/2026/11/22/notes.txt", Body=b"x")
    s3.put_object(Bucket=SOURCE_BUCKET, Key="connect/other/Reports/2026/11/22/r.wav", Body=b"x")
    prefixes: list[str] = []
    aws.events.register("provide-client-params.s3.ListObjectsV2", lambda params, **_: prefixes.append(params["Prefix"]))
    found = build_source(aws_settings()).discover(DAY)
    assert [r.contact_id[:8] for r in found] == ["3f1c9a52", "8b2d4e61", "c4e5f607", "d9a8b7c6"]
    assert found[0].etag and found[0].size_bytes > 0 and found[0].call_started_at.hour == 9
    assert "connect/acme/CallRecordings/2026/11/22/" in prefixes
    assert not any("2026/11/21" in p for p in prefixes) and all(p.startswith("connect/") for p in prefixes)
