"""Contact attributes from contact flows: the CTR's Attributes map -> table contact_attributes -> columns of
v_call_contacts named in AFTERCALL_CTR_ATTRIBUTES (names and values are data, never SQL)."""

from __future__ import annotations

from datetime import date

import pytest

from pipeline.adapters.duckdb_engine import query
from pipeline.steps.run import commit_day, discover_day, process_recordings
from pipeline.settings import SAMPLES_DIR, Settings
from pipeline.analytics.sql import attribute_columns, view_definitions

DAY = date(2026, 11, 22)


@pytest.fixture
def lake(tmp_path, source, monkeypatch):
    settings = Settings(source=str(source), lake=str(tmp_path / "lake"), ctr_source=str(SAMPLES_DIR / "ctr"),
                        transcribe=False, workers=1)
    commit_day(settings, process_recordings(settings, discover_day(settings, DAY), day=DAY))
    return tmp_path / "lake"


def test_attributes_land_in_their_own_table(lake):
    columns, rows = query("select contact_id, name, value from contact_attributes order by contact_id, name", lake)
    got = [(c[:8], n, v) for c, n, v in rows]
    assert ("3f1c9a52", "customerTier", "gold") in got and ("c4e5f607", "intent", "cancel") in got
    assert not [r for r in got if r[0] == "d9a8b7c6"]  # the call without a CTR has none


def test_named_attributes_become_columns_of_v_call_contacts(lake, monkeypatch):
    monkeypatch.setenv("AFTERCALL_CTR_ATTRIBUTES", "intent,customerTier,ivrChoice")
    columns, rows = query("select contact_id, attr_intent, attr_customertier, attr_ivrchoice from v_call_contacts "
                          "order by contact_id", lake)
    assert [(c[:8], i, t, v) for c, i, t, v in rows] == [
        ("3f1c9a52", "billing_question", "gold", "2"), ("8b2d4e61", "outage", "standard", "3"),
        ("c4e5f607", "cancel", "standard", None), ("d9a8b7c6", None, None, None)]


def test_without_the_setting_the_view_is_unchanged_and_one_row_per_call(lake):
    columns, rows = query("select * from v_call_contacts", lake)
    assert len(rows) == 4 and not [c for c in columns if c.startswith("attr_")]


def test_attribute_names_are_quoted_never_spliced():
    hostile = "x' then value end) as pwned from calls --"
    assert attribute_columns(f"intent, {hostile}, intent") == [("intent", "attr_intent"),
                                                                (hostile, "attr_x_then_value_end_as_pwned_from_calls")]
    sql = view_definitions(f"intent,{hostile}")["v_call_contacts"]
    assert "name = 'x'' then value end) as pwned from calls --' then value end" in sql
    assert sql.count("pwned") == 3  # once inside the quoted literal, twice as the sanitised column name
    from pipeline.analytics.sql import athena_to_duckdb

    athena_to_duckdb(f"create or replace view v_call_contacts as {sql}")  # still one valid statement
