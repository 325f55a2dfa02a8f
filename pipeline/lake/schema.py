"""The lake's tables, written once for both engines.

Every table is partitioned by ``dt`` (``YYYY-MM-DD``, a string as Athena types Hive
partitions); ``dt`` lives in the partition path, not in the files. Timestamps are UTC
without a zone (Athena's ``timestamp``), except ``calls.call_started_local``: the wall-clock time in
the zone ``calls.timezone`` (``AFTERCALL_TIMEZONE``), which is also the zone of ``dt``, a local day.
"""

from __future__ import annotations

import pyarrow as pa

from pipeline.lake.table_names import LATER_COLUMNS, PARTITION, TABLE_NAMES

__all__ = ["PARTITION", "TABLES", "athena_type"]

_TS = pa.timestamp("us")

_CALLS = pa.schema(
    [
        ("contact_id", pa.string()),
        ("recording_uri", pa.string()),
        ("call_started_at", _TS),
        ("call_started_local", _TS),  # call_started_at in the centre's zone (wall-clock time there)
        ("timezone", pa.string()),  # that zone (AFTERCALL_TIMEZONE), the zone of dt; null in rows from before zones: UTC
        ("duration_s", pa.float64()),
        ("sample_rate_hz", pa.int32()),
        ("file_size_bytes", pa.int64()),
        ("agent_channel", pa.int32()),
        ("agent_talk_s", pa.float64()),
        ("customer_talk_s", pa.float64()),
        ("non_talk_s", pa.float64()),
        ("overlap_s", pa.float64()),
        ("agent_interruptions", pa.int32()),
        ("customer_interruptions", pa.int32()),
        ("agent_loudness", pa.float64()),
        ("customer_loudness", pa.float64()),
        ("agent_wpm", pa.float64()),
        ("customer_wpm", pa.float64()),
        ("agent_sentiment", pa.float64()),
        ("customer_sentiment", pa.float64()),
        ("agent_sentiment_q1", pa.float64()),
        ("agent_sentiment_q2", pa.float64()),
        ("agent_sentiment_q3", pa.float64()),
        ("agent_sentiment_q4", pa.float64()),
        ("customer_sentiment_q1", pa.float64()),
        ("customer_sentiment_q2", pa.float64()),
        ("customer_sentiment_q3", pa.float64()),
        ("customer_sentiment_q4", pa.float64()),
        ("customer_sentiment_start", pa.float64()),
        ("customer_sentiment_end", pa.float64()),
        ("agent_sentiment_shift", pa.float64()),
        ("customer_sentiment_shift", pa.float64()),
        ("language_code", pa.string()),
        ("transcriber", pa.string()),
        ("sentiment_engine", pa.string()),
        ("transcript_word_count", pa.int32()),
        ("transcribe_minutes", pa.float64()),
        ("comprehend_units", pa.int32()),
        ("est_cost_usd", pa.float64()),
        ("processed_at", _TS),
        ("pipeline_version", pa.string()),
        # Appended last: files written before it read it as NULL (lake._conform; Glue adds the column).
        ("summary", pa.string()),  # the engine's summary of the call (Call Analytics / Contact Lens), PII redacted
    ]
)

_TURNS = pa.schema(
    [
        ("contact_id", pa.string()),
        ("turn_index", pa.int32()),
        ("participant", pa.string()),
        ("begin_s", pa.float64()),
        ("end_s", pa.float64()),
        ("text", pa.string()),
        ("word_count", pa.int32()),
        ("confidence", pa.float64()),
        ("sentiment", pa.string()),
        ("sentiment_positive", pa.float64()),
        ("sentiment_negative", pa.float64()),
        ("sentiment_neutral", pa.float64()),
        ("sentiment_mixed", pa.float64()),
        ("loudness", pa.float64()),
        ("is_interruption", pa.bool_()),
    ]
)

_FAILURES = pa.schema(
    [
        ("recording_uri", pa.string()),
        ("contact_id", pa.string()),
        ("stage", pa.string()),
        ("error", pa.string()),
        ("failed_at", _TS),
        ("pipeline_version", pa.string()),
    ]
)

_CALL_CATEGORIES = pa.schema(
    [
        ("contact_id", pa.string()),
        ("category", pa.string()),
        ("first_match_s", pa.float64()),
        ("match_count", pa.int32()),
        ("rules_version", pa.int32()),
    ]
)

# The words as spoken, before PII redaction: a table of its own so it can be permissioned apart.
_TURNS_RAW = pa.schema(
    [
        ("contact_id", pa.string()),
        ("turn_index", pa.int32()),
        ("participant", pa.string()),
        ("text", pa.string()),
    ]
)

# Amazon Connect contact trace records, one row per contact (the latest record wins).
_CONTACTS = pa.schema(
    [
        ("contact_id", pa.string()),
        ("agent_username", pa.string()),
        ("agent_arn", pa.string()),
        ("queue_name", pa.string()),
        ("channel", pa.string()),
        ("initiation_method", pa.string()),
        ("initiation_at", _TS),
        ("disconnect_at", _TS),
        ("agent_connected_at", _TS),
        ("recording_location", pa.string()),
        ("ctr_uri", pa.string()),
    ]
)

# Contact attributes set in contact flows (the CTR's Attributes map), one row per contact and name.
_CONTACT_ATTRIBUTES = pa.schema(
    [
        ("contact_id", pa.string()),
        ("name", pa.string()),
        ("value", pa.string()),
    ]
)

# One row per attempt to commit the day (append-only): what it saw and how it ended.
# A failed or refused attempt's row is the only thing it writes; the day's other tables keep the last committed run.
_RUNS = pa.schema(
    [
        ("run_id", pa.string()),  # the caller's (Airflow run id, cli__<time>__<random>); retries share it
        ("status", pa.string()),  # started | committed | failed | refused (another writer held the day) | interrupted
        ("recordings", pa.int32()),
        ("processed", pa.int32()),
        ("quarantined", pa.int32()),
        ("error", pa.string()),
        ("finished_at", _TS),
        ("pipeline_version", pa.string()),
        ("attempt_id", pa.string()),  # one per attempt, unique: each attempt is its own row
        ("started_at", _TS),
        ("ctr_skipped", pa.int32()),  # contact trace records that failed validation
    ]
)

# Automated evaluations (evaluations/*.yaml): one row per call, form and question, with its evidence.
# The form's scoring settings ride along on every row (Parquet stores a repeated value for next to nothing),
# so the views score a call from this table alone, whichever version of the form scored it.
_EVALUATIONS = pa.schema(
    [
        ("contact_id", pa.string()),
        ("form", pa.string()),
        ("form_version", pa.int32()),
        ("section_id", pa.string()),
        ("question_id", pa.string()),
        ("question_type", pa.string()),  # SINGLESELECT | NUMERIC (Amazon Connect's question types)
        ("answer", pa.string()),  # the option's id, a numeric option's range "min..max", or NOT_APPLICABLE / UNANSWERED
        ("value", pa.float64()),  # a numeric question's measured value (NULL for yes/no questions)
        ("points", pa.int32()),
        ("max_points", pa.int32()),
        ("weight", pa.float64()),  # the question's share of this call's score in percent (0 when not applicable)
        ("not_applicable", pa.bool_()),
        ("automatic_fail", pa.bool_()),
        ("pass_score", pa.float64()),
        ("needs_improvement_below", pa.float64()),
        ("exceeds_expectations_from", pa.float64()),
        ("evidence_turn", pa.int32()),  # turns.turn_index of the matching turn, if a turn is the evidence
        ("evidence", pa.string()),  # what was found: the phrase and when, the category's match, the metric's value
    ]
)

TABLES: dict[str, pa.Schema] = {
    "calls": _CALLS,
    "turns": _TURNS,
    "failures": _FAILURES,
    "call_categories": _CALL_CATEGORIES,
    "turns_raw": _TURNS_RAW,
    "contacts": _CONTACTS,
    "contact_attributes": _CONTACT_ATTRIBUTES,
    "runs": _RUNS,
    "evaluations": _EVALUATIONS,
}
assert tuple(TABLES) == TABLE_NAMES, "pipeline/lake/table_names.py lists the tables of TABLES, in order"
_DUCKDB = {"VARCHAR": pa.string(), "TIMESTAMP": pa.timestamp("us")}
assert all(TABLES[t].field(c).type == _DUCKDB[kind] for t, cols in LATER_COLUMNS.items() for c, kind in cols.items()), \
    "LATER_COLUMNS are columns of their tables, with the DuckDB types of their arrow types"

_ATHENA = {
    pa.string(): "string",
    pa.float64(): "double",
    pa.int32(): "int",
    pa.int64(): "bigint",
    pa.bool_(): "boolean",
    _TS: "timestamp",
}


def athena_type(arrow_type: pa.DataType) -> str:
    """The Glue/Athena column type for an arrow type used in :data:`TABLES`."""
    return _ATHENA[arrow_type]
