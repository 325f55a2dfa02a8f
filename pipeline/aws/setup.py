"""``aftercall setup``: create or check what the AWS engine needs. Safe to run any number of times.

* the Glue database;
* an Athena workgroup whose results are SSE-KMS encrypted (and enforced for its queries);
* default SSE-KMS encryption on the lake's bucket (and the results bucket, if another one);
* a lifecycle rule moving recordings to Glacier after ``recordings_glacier_days``. Lifecycle
  configuration is one document per bucket: rules of others are kept, ours is replaced by id.

It never changes a bucket that already encrypts with another KMS key; it reports it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from pipeline.aws._helpers import split_uri
from pipeline.settings import Settings

__all__ = ["LIFECYCLE_RULE_ID", "SetupReport", "iam_policy", "setup"]

log = logging.getLogger(__name__)

LIFECYCLE_RULE_ID = "aftercall-recordings-to-glacier"


@dataclass
class SetupReport:
    done: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _database(glue: Any, settings: Settings, report: SetupReport) -> None:
    try:
        glue.get_database(Name=settings.glue_database)
        report.unchanged.append(f"Glue database {settings.glue_database}")
    except glue.exceptions.EntityNotFoundException:
        glue.create_database(DatabaseInput={"Name": settings.glue_database,
                                            "Description": "aftercall post-call analytics"})
        report.done.append(f"created Glue database {settings.glue_database}")


def _workgroup(athena: Any, settings: Settings, report: SetupReport) -> None:
    config = {
        "ResultConfiguration": {"OutputLocation": settings.athena_results,
                                "EncryptionConfiguration": {"EncryptionOption": "SSE_KMS",
                                                            "KmsKey": settings.kms_key_id}},
        "EnforceWorkGroupConfiguration": True,
        "PublishCloudWatchMetricsEnabled": True,
    }
    try:
        current = athena.get_work_group(WorkGroup=settings.athena_workgroup).get("WorkGroup", {}).get("Configuration")
    except athena.exceptions.InvalidRequestException:  # AWS's answer for an unknown workgroup
        current = None
    if current is None:
        athena.create_work_group(Name=settings.athena_workgroup, Configuration=config,
                                 Description="aftercall: encrypted results")
        report.done.append(f"created Athena workgroup {settings.athena_workgroup}")
        return
    if current.get("ResultConfiguration") == config["ResultConfiguration"] and current.get("EnforceWorkGroupConfiguration"):
        report.unchanged.append(f"Athena workgroup {settings.athena_workgroup}")
        return
    athena.update_work_group(WorkGroup=settings.athena_workgroup, ConfigurationUpdates={
        "ResultConfigurationUpdates": config["ResultConfiguration"],
        "EnforceWorkGroupConfiguration": True})
    report.done.append(f"set encrypted results on Athena workgroup {settings.athena_workgroup}")


def _bucket_encryption(s3: Any, bucket: str, settings: Settings, report: SetupReport) -> None:
    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        default = rules[0]["ApplyServerSideEncryptionByDefault"]
    except s3.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] != "ServerSideEncryptionConfigurationNotFoundError":
            raise
        default = {}
    if default.get("SSEAlgorithm") == "aws:kms" and default.get("KMSMasterKeyID"):
        if default["KMSMasterKeyID"] != settings.kms_key_id:
            report.warnings.append(f"s3://{bucket} encrypts with another KMS key ({default['KMSMasterKeyID']}); "
                                   "left as is (aftercall's own writes name its key explicitly)")
        else:
            report.unchanged.append(f"default SSE-KMS on s3://{bucket}")
        return
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": settings.kms_key_id},
        "BucketKeyEnabled": True}]})
    report.done.append(f"set default SSE-KMS on s3://{bucket}")


def _lifecycle(s3: Any, settings: Settings, report: SetupReport) -> None:
    bucket, prefix = split_uri(settings.source)
    rule = {"ID": LIFECYCLE_RULE_ID, "Status": "Enabled", "Filter": {"Prefix": prefix.strip("/") + "/" if prefix else ""},
            "Transitions": [{"Days": settings.recordings_glacier_days, "StorageClass": "GLACIER"}]}
    try:
        rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    except s3.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchLifecycleConfiguration":
            raise
        rules = []
    ours = [r for r in rules if r.get("ID") == LIFECYCLE_RULE_ID]
    if ours and ours[0].get("Transitions") == rule["Transitions"] and ours[0].get("Filter") == rule["Filter"] \
            and ours[0].get("Status") == "Enabled":
        report.unchanged.append(f"lifecycle rule {LIFECYCLE_RULE_ID} on s3://{bucket}")
        return
    others = [r for r in rules if r.get("ID") != LIFECYCLE_RULE_ID]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [*others, rule]})
    report.done.append(f"recordings under s3://{bucket}/{rule['Filter']['Prefix']} move to Glacier after "
                       f"{settings.recordings_glacier_days} days")


def setup(settings: Settings, *, glue: Any, athena: Any, s3: Any) -> SetupReport:
    """Create or check the Glue database, Athena workgroup, bucket encryption and lifecycle rule."""
    report = SetupReport()
    _database(glue, settings, report)
    _workgroup(athena, settings, report)
    buckets = {split_uri(settings.lake)[0], split_uri(settings.athena_results)[0],
               split_uri(settings.transcripts_prefix)[0]}
    for bucket in sorted(buckets):
        _bucket_encryption(s3, bucket, settings, report)
    if settings.source_is_s3:
        _lifecycle(s3, settings, report)
    return report


def _dir(prefix: str) -> str:
    return prefix.strip("/") + "/" if prefix.strip("/") else ""


def iam_policy(settings: Settings, account_id: str = "<account-id>", region: str = "<region>") -> dict:
    """The least-privilege policy the pipeline's role needs, filled in from ``settings``."""
    text = resources.files("pipeline.aws").joinpath("iam-policy.json").read_text()
    src_bucket, src_prefix = split_uri(settings.source) if settings.source_is_s3 else ("<recordings-bucket>",
                                                                                      "<recordings-prefix>")
    lake_bucket, lake_prefix = split_uri(settings.lake) if settings.lake_is_s3 else ("<lake-bucket>", "<lake-prefix>")
    values = {
        "SOURCE_BUCKET": src_bucket, "SOURCE_PREFIX": _dir(src_prefix), "LAKE_BUCKET": lake_bucket,
        "LAKE_PREFIX": _dir(lake_prefix), "KMS_KEY": settings.kms_key_id or "<kms-key-arn>",
        "DATABASE": settings.glue_database, "WORKGROUP": settings.athena_workgroup,
        "ACCOUNT": account_id, "REGION": region,
    }
    for key, value in values.items():
        text = text.replace("${" + key + "}", value)
    return json.loads(text)
