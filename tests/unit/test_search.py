"""`aftercall search` finds exactly what a SQL `like` finds: whole words, any case and punctuation.

The reference queries here normalise text with their own expression (ASCII letters and digits) and read the
base tables (turns, contacts, call_categories), not the view the search uses, so a mistake in either shows.
The search runs as a user runs it: the installed CLI, in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
import unicodedata
from datetime import date
from pathlib import Path

import pytest
import sqlglot

from pipeline.adapters.duckdb_engine import query
from pipeline.exceptions import ConfigurationError
from pipeline.lake.tables import LocalLake
from pipeline.steps.run import DayResult, commit_day
from pipeline.analytics.search import SearchQuery, search_sql
from pipeline.settings import Settings

CLI = Path(sys.executable).parent / "aftercall"

# (day, contact id, agent or None for no contact record, [(participant, begin_s, text)])
CALLS = [
    ("2026-11-20", "c1", "ann", [("AGENT", 1.0, "Good afternoon, ACME Telecom!"),
                                 ("CUSTOMER", 4.0, "I want to CANCEL my contract."),
                                 ("AGENT", 9.0, "I'm sorry to hear that.")]),
    ("2026-11-20", "c2", "bob", [("AGENT", 1.0, "Would you like to cancel-my-contract now?"),
                                 ("CUSTOMER", 5.0, "No; cancellation isn't what I want.")]),
    ("2026-11-22", "c3", None, [("CUSTOMER", 2.0, "cancel my contracts"),
                                ("AGENT", 6.0, "It's O'Brien's plan: 50% off_the_price")]),
    ("2026-11-22", "c4", "ann", [("CUSTOMER", 1.0, "Cancel  my\ncontract, please"),
                                 ("AGENT", 4.0, "'; drop table turns; --"),
                                 ("CUSTOMER", 8.0, "thank you")]),
    ("2026-11-23", "c5", "<script>alert(1)</script>", [("CUSTOMER", 3.0, "안녕하세요 cancel my contract"),
                                                         ("AGENT", 7.0, "Thank you, bye.")]),
]


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("search") / "lake"
    settings = Settings(lake=str(root))
    for day in sorted({c[0] for c in CALLS}):
        calls, turns, contacts = [], [], []
        for _, cid, agent, said in (c for c in CALLS if c[0] == day):
            calls.append({"contact_id": cid, "duration_s": 30.0, "pipeline_version": "t"})
            turns += [{"contact_id": cid, "turn_index": i, "participant": who, "begin_s": at, "end_s": at + 2,
                       "text": text, "sentiment": "NEUTRAL", "is_interruption": False}
                      for i, (who, at, text) in enumerate(said)]
            if agent:
                contacts.append({"contact_id": cid, "agent_username": agent, "queue_name": "q"})
        LocalLake(root).write_partition("contacts", day, contacts)
        commit_day(settings, DayResult(date.fromisoformat(day), calls=calls, turns=turns))
    return root


def _search(lake: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLI), "search", *args, "--lake", str(lake)], capture_output=True, text=True,
                          timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(lake.parent)})


def _found(lake: Path, *args: str) -> set[tuple[str, str, int]]:
    done = _search(lake, *args, "--format", "json")
    assert done.returncode == 0, done.stderr
    return {(r["dt"], r["contact_id"], r["turn_index"]) for r in json.loads(done.stdout)}


CHURN = (" and exists (select 1 from call_categories as g where g.dt = t.dt and g.contact_id = t.contact_id "
         "and g.category = 'churn_risk')")


def _like(lake: Path, phrase: str, where: str = "") -> set[tuple[str, str, int]]:
    """The reference: a SQL like over the base tables, with its own normalisation."""
    sql = ("select t.dt, t.contact_id, t.turn_index from turns as t "
           "left join contacts as k on k.dt = t.dt and k.contact_id = t.contact_id "
           "where ' ' || regexp_replace(lower(t.text), '[^a-z0-9]+', ' ') || ' ' "
           f"like '% {phrase} %'{where}")
    _, rows = query(sql, lake)
    return {(str(dt), cid, int(i)) for dt, cid, i in rows}


@pytest.mark.parametrize(("phrase", "typed"), [
    ("cancel my contract", "cancel my contract"),
    ("cancel my contract", "Cancel, MY contract!"),  # case and punctuation do not matter
    ("cancel", "cancel"),  # whole words: not "cancellation"
    ("thank you", "THANK-YOU"),
    ("o brien s plan", "O'Brien's plan"),
    ("50", "50%"),
    ("drop table turns", "drop table turns"),
])
def test_search_finds_what_like_finds(lake, phrase, typed):
    expected = _like(lake, phrase)
    assert expected  # every phrase here is said somewhere
    assert _found(lake, typed) == expected


def test_a_decomposed_phrase_finds_the_composed_words(lake):
    """Hangul typed as jamo (NFD, as macOS file names and some input methods give it) is the same phrase."""
    decomposed = unicodedata.normalize("NFD", "안녕하세요")
    assert decomposed != "안녕하세요"
    assert _found(lake, decomposed) == _found(lake, "안녕하세요") == {("2026-11-23", "c5", 0)}


def test_each_filter_narrows_as_sql_does(lake):
    phrase = "cancel my contract"
    assert _found(lake, phrase, "--from", "2026-11-21") == _like(lake, phrase, " and t.dt >= '2026-11-21'")
    assert _found(lake, phrase, "--to", "2026-11-20") == _like(lake, phrase, " and t.dt <= '2026-11-20'")
    assert _found(lake, phrase, "--from", "2026-11-22", "--to", "2026-11-22") == \
        _like(lake, phrase, " and t.dt = '2026-11-22'")
    assert _found(lake, phrase, "--participant", "agent") == _like(lake, phrase, " and t.participant = 'AGENT'")
    assert _found(lake, phrase, "--participant", "CUSTOMER") == \
        _like(lake, phrase, " and t.participant = 'CUSTOMER'")
    assert _found(lake, phrase, "--agent", "ann") == _like(lake, phrase, " and k.agent_username = 'ann'")
    assert _found(lake, phrase, "--agent", "<script>alert(1)</script>") == {("2026-11-23", "c5", 0)}
    assert _found(lake, "cancel my contracts", "--agent", "(no contact record)") == \
        _like(lake, "cancel my contracts", " and k.contact_id is null")
    assert _found(lake, "thank you", "--category", "churn_risk") == _like(lake, "thank you", CHURN)
    assert _found(lake, phrase, "--category", "churn_risk") == _like(lake, phrase, CHURN)
    assert _found(lake, phrase, "--category", "no_such_category") == set()
    assert _found(lake, phrase, "--agent", "ann' or '1'='1") == set()  # a value, never SQL


def test_the_table_shows_the_turn_its_time_and_context(lake):
    done = _search(lake, "cancel my contract", "--from", "2026-11-20", "--to", "2026-11-20")
    assert done.returncode == 0, done.stderr
    assert "I want to CANCEL my contract." in done.stdout and "0:04" in done.stdout
    assert "Good afternoon, ACME Telecom!" in done.stdout and "I'm sorry to hear that." in done.stdout  # context
    assert "2 turn(s) in 2 call(s)" in done.stdout
    csv_out = _search(lake, "thank you", "--format", "csv")
    assert csv_out.returncode == 0 and csv_out.stdout.splitlines()[0].startswith("dt,contact_id,")
    none = _search(lake, "never said anywhere")
    assert none.returncode == 0 and "no turn matches" in none.stdout


def test_a_limit_says_what_it_left_out(lake):
    done = _search(lake, "cancel my contract", "--limit", "2", "--format", "json")
    assert done.returncode == 0 and len(json.loads(done.stdout)) == 2
    assert "more than 2 matching turns" in done.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["!!!"], "no letters or digits"),
    (["x" * 501], "at most 500"),
    (["hello", "--participant", "supervisor"], "expected agent or customer"),
    (["hello", "--from", "2026-11-23", "--to", "2026-11-20"], "is before --from"),
    (["hello", "--from", "yesterday"], "is not a date"),
    (["hello", "--format", "xml"], "expected table, csv or json"),
    (["hello", "--limit", "0"], "--limit 0: at least 1"),
    (["hello", "--limit", "-1"], "--limit -1: at least 1"),
    (["hello", "--limit", "99999999999999999999"], "at most 1000000"),
    (["hello", "--limit", "9223372036854775807"], "at most 1000000"),
    (["hel\udcfflo"], "not UTF-8 text"),  # the byte 0xff in argv: DuckDB said std::bad_cast
    (["hello", "--agent", "\udcff"], "not UTF-8 text"),
    (["hello", "--category", "x\udcfe"], "not UTF-8 text"),
])
def test_bad_searches_are_one_line_errors(lake, args, message):
    done = _search(lake, *args)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_the_query_is_athena_sql_with_values_as_literals():
    q = SearchQuery("it's 50% 'off'", date(2026, 11, 1), date(2026, 11, 30), "agent", "o'neil", "churn_risk", 10)
    sql = search_sql(q)
    sqlglot.parse_one(sql, read="athena")  # raises on invalid Athena SQL
    assert "'o''neil'" in sql and "'it''s 50% ''off'''" in sql
    with pytest.raises(ConfigurationError, match="NUL"):
        search_sql(SearchQuery("a\x00b"))


def test_on_the_sample_lake_search_finds_what_like_finds(transcribed_lake):
    """The sample day through real Whisper: whatever it heard, the search and the SQL agree, filter by filter."""
    lake, _ = transcribed_lake
    day = " and t.dt = '2026-11-22'"
    for phrase in ("thank you", "cancel", "help", "account", "my name is"):
        assert _found(lake, phrase) == _like(lake, phrase)
        assert _found(lake, phrase, "--from", "2026-11-22", "--to", "2026-11-22") == _like(lake, phrase, day)
        assert _found(lake, phrase, "--participant", "customer") == \
            _like(lake, phrase, " and t.participant = 'CUSTOMER'")
        assert _found(lake, phrase, "--agent", "(no contact record)") == \
            _like(lake, phrase, " and k.contact_id is null")
        assert _found(lake, phrase, "--category", "churn_risk") == _like(lake, phrase, CHURN)
    assert _like(lake, "thank you")  # the agents thank every caller: the comparison is not of empty sets
    assert _found(lake, "thank you", "--from", "2026-11-23") == set()
