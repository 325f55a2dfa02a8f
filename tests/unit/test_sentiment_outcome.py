"""One definition of how a call ended and moved: Python (pipeline.steps.sentiment.outcome), the views (v_call_summary,
v_sentiment_daily, v_call_contacts), the category customer_ends_negative and recategorize agree on every call,
the sample day's and calls that improve but end negative (the QA lead's: -4.1 -> -3.2, -3.4 -> -2.3)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from pipeline.adapters.duckdb_engine import query
from pipeline.analytics.categories import categorize, load_rules
from pipeline.lake.tables import LocalLake
from pipeline.steps.sentiment import ENDED_NEGATIVE_AT, ENDED_POSITIVE_AT, MOVED_AT, outcome

DAY = "2026-11-22"

# (contact id, start, end): the sample day's four calls as the local engine scores them, the QA lead's three,
# and the edges of every band.
CALLS = [
    ("3f1c9a52", 0.0, 2.555), ("8b2d4e61", -4.608, 4.636), ("c4e5f607", -2.917, 3.331), ("d9a8b7c6", 0.0, 4.021),
    ("qa-manager", -4.1, -3.2), ("qa-cancel", -3.4, -2.3), ("qa-happy", -1.5, 0.4),
    ("edge-neg", 0.0, -1.0), ("edge-neutral-low", 0.0, -0.999), ("edge-pos", 0.0, 1.0), ("edge-neutral-high", 0.5, 0.999),
    ("edge-rose", -1.0, 0.0), ("edge-flat", -0.999, 0.0), ("edge-fell", 1.0, 0.0), ("fell-to-positive", 4.0, 1.5),
    ("no-end", -2.0, None), ("no-start", None, -2.0),
]


def _call(cid, start, end):
    shift = None if start is None or end is None else round(end - start, 3)
    return dict(contact_id=cid, recording_uri=f"/x/{cid}.wav", call_started_at=datetime(2026, 11, 22, 9),
                duration_s=100.0, sample_rate_hz=8000, agent_channel=1, agent_talk_s=40.0, customer_talk_s=30.0,
                non_talk_s=10.0, overlap_s=0.0, agent_interruptions=0, customer_interruptions=0, transcriber="w",
                customer_sentiment_start=start, customer_sentiment_end=end, customer_sentiment_shift=shift,
                processed_at=datetime(2026, 11, 23), pipeline_version="t")


def _turns(cid):
    return [dict(contact_id=cid, turn_index=0, participant="CUSTOMER", begin_s=10.0, end_s=20.0, text="hello",
                 sentiment="NEUTRAL", is_interruption=False),
            dict(contact_id=cid, turn_index=1, participant="CUSTOMER", begin_s=70.0, end_s=80.0, text="I want a manager",
                 sentiment="NEGATIVE", is_interruption=False),
            dict(contact_id=cid, turn_index=2, participant="CUSTOMER", begin_s=82.0, end_s=90.0, text="fine",
                 sentiment="NEUTRAL", is_interruption=False)]


@pytest.fixture
def lake(tmp_path):
    calls = [_call(*c) for c in CALLS]
    LocalLake(tmp_path).write_partitions(DAY, {"calls": calls, "turns": [t for c in CALLS for t in _turns(c[0])],
                                               "failures": [], "turns_raw": [], "call_categories": [],
                                               "contacts": [], "contact_attributes": []})
    return tmp_path


def test_the_thresholds_are_the_documented_ones():
    assert (ENDED_NEGATIVE_AT, ENDED_POSITIVE_AT, MOVED_AT) == (-1.0, 1.0, 1.0)
    assert outcome(-3.2, 0.9) == outcome(-3.2, 0.9)  # frozen, comparable
    qa = outcome(-3.2, 0.9), outcome(-2.3, 1.1)
    assert [(o.ended, o.moved, o.happier) for o in qa] == [("NEGATIVE", "FLAT", False), ("NEGATIVE", "ROSE", False)]
    assert outcome(0.4, 1.9).happier and not outcome(2.5, -1.5).happier and outcome(None, None).tags == ("no-sentiment",)
    assert outcome(-2.3, 1.1).tags == ("ended-negative", "rose")
    assert outcome(0.4, 1.9).tags == ("ended-neutral", "rose", "happier")


def test_python_views_and_category_agree_call_by_call(lake):
    cols, rows = query("select contact_id, customer_sentiment_end, customer_sentiment_shift, customer_ended, "
                       "customer_moved, customer_ended_happier from v_call_summary", lake)
    assert len(rows) == len(CALLS)
    rules = load_rules()
    negative_by_category = set()
    for cid, end, shift, ended, moved, happier in rows:
        expected = outcome(end, shift)
        assert (ended, moved, bool(happier)) == (expected.ended, expected.moved, expected.happier), cid
        call = {"contact_id": cid, "duration_s": 100.0, "customer_sentiment_end": end, "customer_sentiment_shift": shift}
        if any(m["category"] == "customer_ends_negative" for m in categorize(rules, call, _turns(cid))):
            negative_by_category.add(cid)
    by_view = {r[0] for r in rows if r[3] == "NEGATIVE"}
    assert by_view == negative_by_category == {"qa-manager", "qa-cancel", "edge-neg", "no-start"}
    _, contacts = query("select contact_id, customer_ended, customer_moved, customer_ended_happier from v_call_contacts",
                        lake)
    assert sorted(contacts) == sorted((r[0], r[3], r[4], r[5]) for r in rows)  # the report reads these

    cols, daily = query("select * from v_sentiment_daily", lake)
    day = dict(zip(cols, daily[0], strict=True))
    assert day["calls_ended_negative"] == len(negative_by_category) == 4
    assert day["calls_ended_happier"] == sum(outcome(r[1], r[2]).happier for r in rows)
    assert day["calls_ended_happier"] == 7  # the sample day's 4, qa-happy, edge-rose, edge-pos; not the QA lead's two
    assert day["calls_with_sentiment"] == len(CALLS) - 1
    assert day["calls_ended_negative"] + day["calls_ended_neutral"] + day["calls_ended_positive"] == \
        day["calls_with_sentiment"]


def test_the_category_matches_at_the_customers_first_turn_of_the_last_quarter():
    call = {"contact_id": "qa-cancel", "duration_s": 100.0, "customer_sentiment_end": -2.3,
            "customer_sentiment_shift": 1.1}
    (match,) = [m for m in categorize(load_rules(), call, _turns("qa-cancel")) if m["category"] == "customer_ends_negative"]
    assert match["first_match_s"] == 70.0 and match["match_count"] == 1


def test_recategorize_applies_the_same_outcome_to_stored_calls(lake):
    from pipeline.analytics.categories import recategorize
    from pipeline.settings import Settings

    recategorize(Settings(lake=str(lake)), date(2026, 11, 22), date(2026, 11, 22))
    _, matched = query("select contact_id from call_categories where category = 'customer_ends_negative'", lake)
    _, ended = query("select contact_id from v_call_summary where customer_ended = 'NEGATIVE'", lake)
    assert sorted(matched) == sorted(ended) and len(ended) == 4


def test_a_sentiment_outcome_condition_needs_a_value_and_no_window():
    from pydantic import ValidationError

    from pipeline.analytics.categories import Condition

    with pytest.raises(ValidationError):
        Condition(type="sentiment_outcome")
    with pytest.raises(ValidationError):
        Condition(type="sentiment_outcome", ended="NEGATIVE", window={"first_s": 10})
    with pytest.raises(ValidationError):
        Condition(type="phrase", phrases=("x",), ended="NEGATIVE")
    assert Condition(type="sentiment_outcome", moved="FELL").moved == "FELL"
