"""A full day on the AWS engine (moto), through the same steps the DAG runs, against the local engine.

The local engine transcribes the sample calls with the real Whisper model; the same words, in
Amazon Transcribe's output format, are what the moto-backed Transcribe "returns", and
Comprehend answers with VADER's scores. Both engines must then give the same rows.
"""

from __future__ import annotations

from datetime import date

import pytest

from pipeline.adapters.local_source import LocalSource
from pipeline.adapters.vader import VaderSentiment
from pipeline.adapters.whisper import WhisperTranscriber
from pipeline.aws.transcript_format import render_transcribe
from pipeline.steps.discovery import discover_local
from pipeline.steps.orchestration import commit_day_staged, plan_day, process_batch, refresh_views
from pipeline.steps.process import process_recording
from pipeline.settings import SAMPLES_DIR
from pipeline.wiring import Components, build_lake
from tests.aws_support import KMS_KEY, LAKE_BUCKET, all_objects, aws_settings, upload_samples
from tests.aws_fakes import ComprehendByVader, TranscribeOutputs

pytestmark = pytest.mark.slow
DAY = date(2026, 11, 22)
ENGINE_COLUMNS = {"recording_uri", "processed_at", "transcriber", "sentiment_engine", "transcribe_minutes",
                  "comprehend_units", "est_cost_usd", "pipeline_version"}


@pytest.fixture(scope="module")
def local_day():
    """Each sample call through the local engine; keeps the Whisper transcript of each call."""
    whisper = WhisperTranscriber("bundled", cpu_threads=2)
    transcripts = {}

    class Keeping(WhisperTranscriber):
        def __init__(self):
            self.name = whisper.name

        def transcribe(self, recording, audio):
            transcripts[recording.contact_id] = whisper.transcribe(recording, audio)
            return transcripts[recording.contact_id]

    components = Components(LocalSource(SAMPLES_DIR), Keeping(), VaderSentiment())
    outcomes = [process_recording(r, components, 1) for r in discover_local(SAMPLES_DIR, DAY)]
    assert all(o.failure is None for o in outcomes)
    return outcomes, transcripts


def _run(settings, run_id):
    batches = plan_day(settings, DAY, run_id, batch_size=3)
    for batch in batches:
        process_batch(settings, batch)
    summary = commit_day_staged(settings, DAY, run_id)
    return batches, summary


def _without(row: dict, columns: set[str]) -> dict:
    return {k: v for k, v in row.items() if k not in columns and k != "dt"}


def test_full_day_from_s3_to_glue_matches_the_local_engine_and_reruns_pay_nothing(aws, local_day):
    from moto.athena.models import athena_backends

    outcomes, transcripts = local_day
    s3 = aws.client("s3")
    upload_samples(s3)
    contact_of = {}
    outputs = TranscribeOutputs(s3, lambda uri, job: render_transcribe(
        transcripts[contact_of.setdefault(uri, uri.rsplit("/", 1)[1].split("_")[0])].words, job))
    outputs.attach(aws.events)
    comprehend = ComprehendByVader()
    comprehend.attach(aws.events)
    settings = aws_settings()

    batches, summary = _run(settings, "scheduled__2026-11-23T00:30:00+00:00")
    assert len(batches) == 2 and summary.items() >= {"day": "2026-11-22", "recordings": 4, "processed": 4,
                                                     "quarantined": 0,
                                                     "turns": sum(len(o.turns) for o in outcomes)}.items()
    assert len(outputs.started) == 4  # one job per stereo call
    assert comprehend.batches and all(b <= 25 for b in comprehend.batches)

    lake = build_lake(settings)
    calls = sorted(lake.read_partition("calls", DAY).to_pylist(), key=lambda r: r["contact_id"])
    turns = sorted(lake.read_partition("turns", DAY).to_pylist(), key=lambda r: (r["contact_id"], r["turn_index"]))
    local_calls = sorted((o.call for o in outcomes), key=lambda r: r["contact_id"])
    local_turns = sorted((t for o in outcomes for t in o.turns), key=lambda r: (r["contact_id"], r["turn_index"]))
    for aws_row, local_row in zip(calls, local_calls, strict=True):
        differ = {k: (aws_row.get(k), v) for k, v in _without(local_row, ENGINE_COLUMNS).items() if aws_row.get(k) != v}
        assert not differ, (local_row["contact_id"], differ)
    assert [_without(r, set()) for r in turns] == [_without(r, set()) for r in local_turns]
    assert {r["transcriber"] for r in calls} == {"amazon-transcribe"}
    assert all(r["transcribe_minutes"] > 0 and r["comprehend_units"] >= 3 and r["est_cost_usd"] > 0 for r in calls)

    # A backfill of the same day: the cached transcripts and sentiment are reused (nothing sent to Transcribe or
    # Comprehend), the day is replaced, not appended to.
    analysed = len(comprehend.batches)
    _run(settings, "backfill__2026-11-23T00:30:00+00:00")
    assert len(outputs.started) == 4
    assert len(comprehend.batches) == analysed
    assert [k for k in all_objects(s3, LAKE_BUCKET) if "/_transcripts/_sentiment/amazon-comprehend/en-US/" in k]
    assert len(lake.read_partition("calls", DAY)) == 4
    assert len(lake.read_partition("turns", DAY)) == len(local_turns)

    keys = all_objects(s3, LAKE_BUCKET)
    assert not [k for k in keys if "/_staging/" in k]
    for key in keys:
        head = s3.head_object(Bucket=LAKE_BUCKET, Key=key)
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", KMS_KEY), key
    glue = aws.client("glue")
    for table in ("calls", "turns", "failures"):
        parts = glue.get_partitions(DatabaseName="aftercall", TableName=table)["Partitions"]
        assert [p["Values"] for p in parts] == [["2026-11-22"]]

    from pipeline.aws.setup import setup

    setup(settings, glue=glue, athena=aws.client("athena"), s3=s3)
    refresh_views(settings, DAY)
    ddl = [e.query for e in athena_backends["123456789012"]["eu-west-1"].executions.values()
           if e.query.startswith("create or replace view")]
    assert len(ddl) == len(set(ddl)) >= 5
