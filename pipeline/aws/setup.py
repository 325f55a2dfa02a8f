"""``aftercall setup``: create or check what the AWS engine needs. Safe to run any number of times.

* the Glue database;
* an Athena workgroup whose results are SSE-KMS encrypted (and enforced for its queries);
* default SSE-KMS encryption on the lake's bucket (and the results bucket, if another one);
* lifecycle rules, on aftercall's own prefixes only: recordings to Glacier after
  ``recordings_glacier_days`` (on the recordings' prefix; a bucket-root source is not archived, with a
  warning), and raw Transcribe outputs expiring after ``raw_transcript_days`` (the job outputs
  ``<transcripts prefix>/aftercall-*``; the ``_sentiment/`` cache beside them holds no text and stays).
  Lifecycle configuration is one document per bucket: rules of others are kept, ours are replaced by id.

* with ``AFTERCALL_VOCABULARY`` on the AWS engine, the Transcribe custom vocabulary every job names
  (:func:`_vocabulary`): created, or updated, then waited for until READY.

It never changes a bucket that already encrypts with another KMS key; it reports it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from pipeline.aws._helpers import split_uri
from pipeline.exceptions import ConfigurationError
from pipeline.settings import Settings

__all__ = ["LIFECYCLE_RULE_ID", "RAW_TRANSCRIPTS_RULE_ID", "VOCABULARY_WAIT_S", "SetupReport", "iam_policy", "setup"]

log = logging.getLogger(__name__)

LIFECYCLE_RULE_ID = "aftercall-recordings-to-glacier"
RAW_TRANSCRIPTS_RULE_ID = "aftercall-raw-transcripts-expire"
VOCABULARY_WAIT_S = 1800.0  # a custom vocabulary is usually READY within minutes
VOCABULARY_POLL_S = 10.0


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


def _under(bucket: str, prefix: str, root_bucket: str, root_prefix: str) -> bool:
    """True when ``s3://bucket/prefix`` lies inside ``s3://root_bucket/root_prefix`` (folder-wise)."""
    return bucket == root_bucket and _dir(prefix).startswith(_dir(root_prefix))


def _lifecycle_rules(settings: Settings, report: SetupReport) -> dict[str, dict[str, dict | None]]:
    """Per bucket, our rules by ID: the rule to have, or None for a rule of ours to remove.

    * recordings to Glacier, on the recordings' prefix only: never on a bucket root (the lake, the
      transcripts or anything else in the bucket would go to Glacier with them, where Athena and
      Transcribe cannot read), never over the lake; skipped with a warning instead;
    * raw Transcribe outputs expire: ``<transcripts prefix>/aftercall-*`` (the job outputs), which leaves the
      ``_sentiment/`` cache beside them alone (scores only, no text).
    """
    wanted: dict[str, dict[str, dict | None]] = {}
    if settings.source_is_s3:
        bucket, prefix = split_uri(settings.source)
        wanted.setdefault(bucket, {})[LIFECYCLE_RULE_ID] = None
        overlaps = [uri for uri in (settings.lake, settings.transcripts_prefix, settings.athena_results)
                    if uri.startswith("s3://") and _under(*split_uri(uri), bucket, prefix)]
        if not _dir(prefix):
            report.warnings.append(f"recordings are not archived: AFTERCALL_SOURCE={settings.source} is a bucket root, "
                                   "and a Glacier rule there would archive everything in the bucket; set "
                                   "AFTERCALL_SOURCE to the recordings' prefix (s3://bucket/connect) to archive them")
        elif overlaps:
            report.warnings.append(f"recordings are not archived: {', '.join(overlaps)} lies under "
                                   f"AFTERCALL_SOURCE={settings.source}, and Glacier would take it too")
        else:
            wanted[bucket][LIFECYCLE_RULE_ID] = {
                "ID": LIFECYCLE_RULE_ID, "Status": "Enabled", "Filter": {"Prefix": _dir(prefix)},
                "Transitions": [{"Days": settings.recordings_glacier_days, "StorageClass": "GLACIER"}]}
    if settings.transcripts_prefix.startswith("s3://"):
        bucket, prefix = split_uri(settings.transcripts_prefix)
        wanted.setdefault(bucket, {})[RAW_TRANSCRIPTS_RULE_ID] = {
            "ID": RAW_TRANSCRIPTS_RULE_ID, "Status": "Enabled", "Filter": {"Prefix": _dir(prefix) + "aftercall-"},
            "Expiration": {"Days": settings.raw_transcript_days}}
    return wanted


def _describe(rule: dict) -> str:
    where = rule["Filter"]["Prefix"]
    if "Transitions" in rule:
        return f"recordings under {where} move to Glacier after {rule['Transitions'][0]['Days']} days"
    return f"raw Transcribe outputs {where}* expire after {rule['Expiration']['Days']} days"


_COMPARED = ("Status", "Filter", "Transitions", "Expiration")


def _lifecycle(s3: Any, settings: Settings, report: SetupReport) -> None:
    """Lifecycle configuration is one document per bucket: others' rules are kept, ours replaced by ID."""
    for bucket, ours in sorted(_lifecycle_rules(settings, report).items()):
        try:
            rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        except s3.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] != "NoSuchLifecycleConfiguration":
                raise
            rules = []
        current = {r.get("ID"): r for r in rules}
        changes = []
        for rule_id, rule in ours.items():
            have = current.get(rule_id)
            if rule is None:
                if have is not None:
                    changes.append(f"removed lifecycle rule {rule_id} from s3://{bucket} (it applied to "
                                   f"'{have.get('Filter', {}).get('Prefix', '')}')")
            elif have is not None and all(have.get(k) == rule.get(k) for k in _COMPARED):
                report.unchanged.append(f"lifecycle rule {rule_id} on s3://{bucket}")
            else:
                changes.append(f"s3://{bucket}: {_describe(rule)} (lifecycle rule {rule_id})")
        if not changes:
            continue
        kept = [r for r in rules if r.get("ID") not in ours]
        new = [*kept, *(rule for rule in ours.values() if rule is not None)]
        if new:
            s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": new})
        else:
            s3.delete_bucket_lifecycle(Bucket=bucket)
        report.done.extend(changes)


def _missing(transcribe: Any, exc: Exception) -> bool:
    """Transcribe answers an unknown vocabulary with NotFoundException, or BadRequestException "couldn't be found"."""
    if isinstance(exc, transcribe.exceptions.NotFoundException):
        return True
    return "couldn't be found" in str(exc) or "not found" in str(exc).lower()


def _vocabulary(transcribe: Any, settings: Settings, report: SetupReport, sleep: Callable[[float], None],
                clock: Callable[[], float]) -> None:
    """Create or update the Transcribe custom vocabulary of AFTERCALL_VOCABULARY, then wait until it is READY.

    Phrases in Transcribe's list format (``Phrases``: words joined by hyphens). The default name carries a
    hash of the language and the phrases, so a vocabulary of that name already holds these phrases: it is
    created once and left alone after. A name given by AFTERCALL_TRANSCRIBE_VOCABULARY_NAME may hold older
    phrases: it is updated on every run (Transcribe shows its content only through a download link).
    """
    name, vocabulary = settings.transcribe_vocabulary, settings.vocabulary_phrases
    if not name or vocabulary is None:
        return
    phrases = vocabulary.transcribe_phrases(settings.language_code)  # refused characters stop here, naming the line
    request = {"VocabularyName": name, "LanguageCode": settings.language_code, "Phrases": phrases}
    try:
        current = transcribe.get_vocabulary(VocabularyName=name)
    except (transcribe.exceptions.NotFoundException, transcribe.exceptions.BadRequestException) as exc:
        if not _missing(transcribe, exc):
            raise
        current = None
    if current is None:
        transcribe.create_vocabulary(**request)
        action = f"created Transcribe custom vocabulary {name} ({len(phrases)} phrases, {settings.language_code})"
    elif (not settings.transcribe_vocabulary_name and current.get("LanguageCode") == settings.language_code
          and current.get("VocabularyState") in ("READY", "PENDING")):
        action = None  # the name is the content's hash: nothing to change (PENDING: an earlier setup's, waited for)
    else:
        transcribe.update_vocabulary(**request)
        action = f"updated Transcribe custom vocabulary {name} ({len(phrases)} phrases, {settings.language_code})"
    deadline = clock() + VOCABULARY_WAIT_S
    while True:
        state = transcribe.get_vocabulary(VocabularyName=name)
        if state.get("VocabularyState") == "READY":
            break
        if state.get("VocabularyState") == "FAILED":
            raise ConfigurationError(f"Amazon Transcribe refused the custom vocabulary {name} made from "
                                     f"{vocabulary.path}: {state.get('FailureReason') or 'no reason given'}")
        if clock() > deadline:
            raise ConfigurationError(f"the Transcribe custom vocabulary {name} is not READY after "
                                     f"{VOCABULARY_WAIT_S:.0f} s: run aftercall setup again later")
        sleep(VOCABULARY_POLL_S)
    if action:
        report.done.append(action + ", READY")
    else:
        report.unchanged.append(f"Transcribe custom vocabulary {name}")


def setup(settings: Settings, *, glue: Any, athena: Any, s3: Any, transcribe: Any = None,
          sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> SetupReport:
    """Create or check the Glue database, Athena workgroup, bucket encryption, lifecycle rules and, with
    AFTERCALL_VOCABULARY on the AWS engine, the Transcribe custom vocabulary (``transcribe``: its client)."""
    report = SetupReport()
    if settings.engine == "aws" and settings.vocabulary and transcribe is None:
        raise ConfigurationError("AFTERCALL_VOCABULARY on the AWS engine: setup needs a Transcribe client")
    _database(glue, settings, report)
    _workgroup(athena, settings, report)
    buckets = {split_uri(settings.lake)[0], split_uri(settings.athena_results)[0],
               split_uri(settings.transcripts_prefix)[0]}
    for bucket in sorted(buckets):
        _bucket_encryption(s3, bucket, settings, report)
    _lifecycle(s3, settings, report)
    if settings.engine == "aws" and settings.vocabulary:  # last: it may wait minutes for READY
        _vocabulary(transcribe, settings, report, sleep, clock)
    return report


def _dir(prefix: str) -> str:
    return prefix.strip("/") + "/" if prefix.strip("/") else ""


def _pii_detector_used(settings: Settings) -> bool:
    """Comprehend's DetectPiiEntities runs where Transcribe can't redact (as pipeline.wiring.build_components)."""
    from pipeline.aws.comprehend import PII_LANGUAGES, comprehend_language
    from pipeline.aws.transcribe import REDACTION_LANGUAGES
    from pipeline.exceptions import ConfigurationError

    if not settings.redact_pii or settings.language_code in REDACTION_LANGUAGES:
        return False
    try:
        return comprehend_language(settings.language_code) in PII_LANGUAGES
    except ConfigurationError:
        return False


def _statements(settings: Settings) -> set[str]:
    """The Sids of the template the settings need. Nothing on S3 (the defaults): the template, every statement."""
    if not settings.source_is_s3 and not settings.lake_is_s3:
        return {"*"}
    aws = settings.engine == "aws"
    call_analytics = settings.transcribe_mode == "call-analytics"
    needed = {"EncryptWithTheProjectKey"}
    if settings.source_is_s3:
        needed |= {"ListRecordings", "ReadRecordingsNeverWrite"}
    if (settings.ctr_source or "").startswith("s3://"):
        needed |= {"ListContactTraceRecords", "ReadContactTraceRecordsNeverWrite"}
    lake = split_uri(settings.lake) if settings.lake_is_s3 else None
    if lake:
        needed |= {"LakeTranscriptsAthenaResults", "ListLake", "GlueTablesAndPartitions", "AthenaInTheProjectWorkgroup"}
        if not _under(*split_uri(settings.athena_results), *lake):
            needed |= {"AthenaResultsOutsideTheLake", "ListAthenaResults"}
    if aws:
        needed |= {"TranscribeCallAnalyticsOwnJobsOnly", "PassTheDataAccessRoleToTranscribeOnly"} if call_analytics \
            else {"TranscribeOwnJobsOnly"}
        if settings.vocabulary:
            needed.add("UseTheCustomVocabulary")
        needed.add("Sentiment")
        if _pii_detector_used(settings):
            needed.add("PiiDetection")
        if not lake or not _under(*split_uri(settings.transcripts_prefix), *lake):
            needed |= {"TranscriptsOutsideTheLake", "ListTranscripts"}
    return needed


def iam_policy(settings: Settings, account_id: str = "<account-id>", region: str = "<region>") -> dict:
    """The least-privilege policy the pipeline's role needs, derived from ``settings``.

    Only what the settings use: the recordings, the contact trace records (AFTERCALL_CTR_SOURCE on S3),
    the lake, transcripts and Athena results (also where they live outside the lake), the KMS key,
    Transcribe's standard or Call Analytics jobs (with ``iam:PassRole`` of AFTERCALL_TRANSCRIBE_ROLE_ARN
    to Transcribe only), the custom vocabulary they name (AFTERCALL_VOCABULARY: read its state, use it), Comprehend sentiment and, where Transcribe can't redact, DetectPiiEntities.
    With nothing on S3 (the defaults) it is the template with every statement and placeholders
    (docs/iam-policy.json). ``aftercall setup`` itself needs more (creating the database, workgroup,
    encryption and lifecycle rules): it is run by an administrator, not by this role.
    """
    text = resources.files("pipeline.aws").joinpath("iam-policy.json").read_text()

    def place(uri: str | None, on_s3: bool, bucket: str, prefix: str) -> tuple[str, str]:
        if uri and on_s3:
            b, p = split_uri(uri)
            return b, _dir(p)
        return bucket, _dir(prefix)

    src = place(settings.source, settings.source_is_s3, "<recordings-bucket>", "<recordings-prefix>")
    ctr = place(settings.ctr_source, (settings.ctr_source or "").startswith("s3://"), "<ctr-bucket>", "<ctr-prefix>")
    lake = place(settings.lake, settings.lake_is_s3, "<lake-bucket>", "<lake-prefix>")
    out = place(settings.transcripts_prefix, settings.transcripts_prefix.startswith("s3://"), "<transcripts-bucket>",
                "<transcripts-prefix>")
    results = place(settings.athena_results, settings.athena_results.startswith("s3://"), "<results-bucket>",
                    "<results-prefix>")
    values = {
        "SOURCE_BUCKET": src[0], "SOURCE_PREFIX": src[1], "CTR_BUCKET": ctr[0], "CTR_PREFIX": ctr[1],
        "LAKE_BUCKET": lake[0], "LAKE_PREFIX": lake[1], "TRANSCRIPTS_BUCKET": out[0], "TRANSCRIPTS_PREFIX": out[1],
        "RESULTS_BUCKET": results[0], "RESULTS_PREFIX": results[1],
        "KMS_KEY": settings.kms_key_id or "<kms-key-arn>",
        "TRANSCRIBE_ROLE": settings.transcribe_role_arn or "<transcribe-data-access-role-arn>",
        "DATABASE": settings.glue_database, "WORKGROUP": settings.athena_workgroup,
        "VOCABULARY": settings.transcribe_vocabulary or "<vocabulary-name>",
        "ACCOUNT": account_id, "REGION": region,
    }
    for key, value in values.items():
        text = text.replace("${" + key + "}", value)
    policy = json.loads(text)
    needed = _statements(settings)
    if needed != {"*"}:
        policy["Statement"] = [st for st in policy["Statement"] if st["Sid"] in needed]
    return policy
