"""Every view parses as Athena SQL and returns the expected numbers on DuckDB."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlglot

from pipeline.adapters.duckdb_engine import connect, query
from pipeline.lake.tables import LocalLake
from pipeline.analytics.sql import VIEWS_DIR, athena_to_duckdb, view_definitions

VIEWS = sorted(p.stem for p in VIEWS_DIR.glob("*.sql"))


def test_the_views_exist():
    assert {"v_call_summary", "v_daily_overview", "v_turns", "v_sentiment_daily"} <= set(VIEWS)


@pytest.mark.parametrize("name", VIEWS)
def test_view_is_valid_athena_sql_in_house_style(name):
    sql = (VIEWS_DIR / f"{name}.sql").read_text()
    tree = sqlglot.parse_one(sql, read="athena", error_level=sqlglot.ErrorLevel.RAISE)
    assert isinstance(tree, sqlglot.exp.Select)
    assert "-- grain:" in sql
    assert sql.rstrip().endswith("select * from final")
    assert "SELECT" not in sql and "FROM" not in sql  # lowercase keywords
    athena_to_duckdb(sql)


def _call(cid, **kw):
    row = dict(contact_id=cid, recording_uri=f"/x/{cid}.wav", call_started_at=datetime(2026, 11, 22, 9),
               duration_s=100.0, sample_rate_hz=8000, agent_channel=1, agent_talk_s=40.0, customer_talk_s=30.0,
               non_talk_s=10.0, overlap_s=2.0, agent_interruptions=1, customer_interruptions=0,
               processed_at=datetime(2026, 11, 23), pipeline_version="t")
    row.update(kw)
    return row


@pytest.fixture
def lake(tmp_path):
    lake = LocalLake(tmp_path)
    lake.write_partition("calls", "2026-11-22", [
        _call("a", transcriber="w", customer_sentiment=2.0, customer_sentiment_start=-1.0, customer_sentiment_end=3.0,
              customer_sentiment_shift=4.0, customer_wpm=150.0),
        _call("b", duration_s=260.0, agent_talk_s=100.0, customer_talk_s=120.0, non_talk_s=30.0,
              agent_interruptions=2, customer_interruptions=3, transcriber="w", customer_sentiment=-1.0,
              customer_sentiment_start=1.0, customer_sentiment_end=-2.0, customer_sentiment_shift=-3.0,
              customer_wpm=170.0),
    ])
    lake.write_partition("failures", "2026-11-22", [
        dict(recording_uri="/x/bad.wav", contact_id="bad", stage="decode", error="empty file",
             failed_at=datetime(2026, 11, 23), pipeline_version="t")])
    lake.write_partition("calls", "2026-11-23", [_call("c")])
    lake.write_partition("turns", "2026-11-22", [
        dict(contact_id="a", turn_index=0, participant="AGENT", begin_s=1.5, end_s=4.0, text="hello",
             word_count=1, confidence=0.9, sentiment="POSITIVE", sentiment_positive=0.8, sentiment_negative=0.0,
             sentiment_neutral=0.2, sentiment_mixed=0.0, loudness=60.0, is_interruption=False)])
    return tmp_path


def test_daily_overview_numbers(lake):
    cols, rows = query("select * from v_daily_overview order by dt", lake)
    day = dict(zip(cols, rows[0], strict=True))
    assert day["dt"] == "2026-11-22"
    assert day["calls"] == 2 and day["quarantined"] == 1
    assert day["audio_hours"] == pytest.approx(0.1)
    assert day["agent_talk_ratio"] == pytest.approx(140 / 360, abs=1e-4)
    assert day["non_talk_ratio"] == pytest.approx(40 / 360, abs=1e-4)
    assert day["agent_interruptions"] == 3 and day["customer_interruptions"] == 3
    assert day["avg_customer_sentiment"] == pytest.approx(0.5)
    assert dict(zip(cols, rows[1], strict=True))["calls"] == 1


def test_call_summary_ratios(lake):
    cols, rows = query("select contact_id, agent_talk_ratio, non_talk_ratio from v_call_summary "
                       "where dt = '2026-11-22' order by contact_id", lake)
    assert rows == [("a", 0.4, 0.1), ("b", round(100 / 260, 4), round(30 / 260, 4))]


def test_sentiment_daily_counts_improved_and_worsened(lake):
    cols, rows = query("select * from v_sentiment_daily", lake)
    day = dict(zip(cols, rows[0], strict=True))
    assert len(rows) == 1  # the day without transcripts has no sentiment row
    assert day["calls_customer_rose"] == 1 and day["calls_customer_fell"] == 1 and day["calls_customer_flat"] == 0
    assert day["calls_ended_happier"] == 1 and day["calls_ended_negative"] == 1 and day["calls_with_sentiment"] == 2
    assert day["avg_customer_sentiment_start"] == 0.0 and day["avg_customer_sentiment_end"] == 0.5


def test_turns_view_is_flat_and_timestamps_each_turn(lake):
    con = connect(lake)
    types = {r[0]: r[1] for r in con.execute("describe v_turns").fetchall()}
    assert not any("[]" in t or "STRUCT" in t or "MAP" in t for t in types.values())
    spoken_at, score = con.execute("select spoken_at, sentiment_score from v_turns").fetchone()
    assert spoken_at == datetime(2026, 11, 22, 9, 0, 1, 500000) and score == pytest.approx(0.8)


def test_partition_column_is_a_string_as_athena_types_it(lake):
    types = {r[0]: r[1] for r in connect(lake).execute("describe calls").fetchall()}
    assert types["dt"] == "VARCHAR"
    assert types["call_started_at"] == "TIMESTAMP"


def test_an_empty_lake_answers_every_view(tmp_path):
    for name in view_definitions():
        assert query(f"select * from {name}", tmp_path)[1] == []
