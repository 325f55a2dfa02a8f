"""What keeps the local engine cheap over a long lake (bench/scale_lake.py measures it; nothing here is timed):
a query names only the days it needs and DuckDB reads only their files, the report reads only the listed
calls' days and their turns a batch at a time without loading pyarrow, and recategorize streams a day's turns.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import date, datetime, timedelta

import pyarrow as pa
import pytest

from pipeline.analytics import categories
from pipeline.adapters.duckdb_engine import connect
from pipeline.analytics.categories import categorize_day, categorize_table, load_rules
from pipeline.presentation.dashboard import load_dashboard
from pipeline.lake.tables import LocalLake, commit_id
from pipeline.presentation.report.calls import call_pages, load_calls
from pipeline.lake.schema import TABLES
from pipeline.analytics.sql import VIEWS_DIR, athena_to_duckdb

DAYS = ["2026-06-01", "2026-06-02", "2026-06-03"]
VIEWS = sorted(p.stem for p in VIEWS_DIR.glob("*.sql"))


def _day_rows(day: str, n: int = 4) -> dict[str, list[dict]]:
    start = datetime.fromisoformat(f"{day}T09:00")
    calls, turns, cats, contacts, attrs = [], [], [], [], []
    for k in range(n):
        cid = f"{day}-c{k}"
        calls.append(dict(contact_id=cid, recording_uri=f"/x/{cid}.wav", call_started_at=start + timedelta(minutes=k),
                          duration_s=60.0, agent_talk_s=20.0, customer_talk_s=20.0, non_talk_s=5.0,
                          agent_interruptions=1, customer_interruptions=0, customer_sentiment_start=-1.0,
                          customer_sentiment_end=1.0, customer_sentiment_shift=2.0, transcriber="w"))
        turns += [dict(contact_id=cid, turn_index=i, participant="AGENT" if i % 2 == 0 else "CUSTOMER",
                       begin_s=i * 5.0, end_s=i * 5.0 + 4, text="thank you for calling" if i == 0 else "I want to cancel",
                       sentiment="NEUTRAL", sentiment_positive=0.1, sentiment_negative=0.1, is_interruption=False)
                  for i in range(3)]
        cats.append(dict(contact_id=cid, category="churn_risk", first_match_s=5.0, match_count=1, rules_version=1))
        contacts.append(dict(contact_id=cid, agent_username="agent0" if k < 3 else "agent1", queue_name="Billing"))
        attrs.append(dict(contact_id=cid, name="intent", value="cancel"))
    evaluations = [dict(contact_id=c["contact_id"], form="default", form_version=1, section_id="s", question_id="q",
                        question_type="NUMERIC", answer="0..1", value=1.0, points=10, max_points=10, weight=100.0,
                        not_applicable=False, automatic_fail=False, pass_score=70.0, evidence="agent_interruptions = 1")
                   for c in calls]
    return {"calls": calls, "turns": turns, "call_categories": cats, "contacts": contacts,
            "contact_attributes": attrs, "turns_raw": [], "failures": [], "evaluations": evaluations}


@pytest.fixture
def lake(tmp_path):
    root = tmp_path / "lake"
    lake = LocalLake(root)
    for day in DAYS:
        lake.write_partitions(day, _day_rows(day))
        attempt = commit_id()
        lake.append_run(day, attempt, {"run_id": "t", "status": "committed", "attempt_id": attempt})
    return root


def _files_read(con, sql: str, profile) -> list[str]:
    """The Parquet files DuckDB's scans opened for ``sql`` (its JSON profile names them)."""
    con.execute("pragma enable_profiling = 'json'")
    con.execute(f"pragma profiling_output = '{profile}'")
    con.execute("pragma profiling_mode = 'detailed'")
    con.execute(athena_to_duckdb(sql)).fetchall()
    con.execute("pragma disable_profiling")
    found: list[str] = []

    def walk(node):
        info = node.get("extra_info") or {}
        if node.get("type") == "TABLE_SCAN" and info.get("Function") == "READ_PARQUET":
            names = info.get("Filename(s)")
            assert names, f"a scan of {sql!r} does not name its files: {info}"
            found.extend(n.strip() for n in str(names).split(","))
        for child in node.get("children", []):
            walk(child)

    for node in json.loads(profile.read_text()).get("operator", []):
        walk(node)
    return found


def _days_of(files: list[str]) -> set[str]:
    return {f.split("dt=", 1)[1].split("/", 1)[0] for f in files}


# Rolled up by week, without a dt column: a week's filter is on an aggregate, so it reads every day (docs/evaluations.md).
WEEKLY = ["v_agent_scorecard_weekly"]


def test_only_the_weekly_views_have_no_day(lake):
    con = connect(lake)
    without_dt = [v for v in VIEWS if "dt" not in {r[0] for r in con.execute(f"describe {v}").fetchall()}]
    assert without_dt == WEEKLY


@pytest.mark.parametrize("view", [v for v in VIEWS if v not in WEEKLY])
@pytest.mark.parametrize("where", ["dt = '2026-06-02'", "dt >= '2026-06-02' and dt <= '2026-06-02'"])
def test_a_one_day_query_of_every_view_reads_only_that_days_files(lake, tmp_path, view, where):
    con = connect(lake)
    files = _files_read(con, f"select * from {view} where {where}", tmp_path / "profile.json")
    assert files and _days_of(files) == {"2026-06-02"}


@pytest.mark.parametrize("view", ["v_agent_daily", "v_queue_daily"])
def test_agent_and_queue_figures_read_only_calls_and_contacts(lake, tmp_path, view):
    """Not v_call_contacts: over months it aggregated every call's categories (and attributes) for nothing."""
    con = connect(lake, "intent")
    files = _files_read(con, f"select * from {view}", tmp_path / "profile.json")
    assert {f.split("/dt=")[0].rsplit("/", 1)[1] for f in files} == {"calls", "contacts"}


def test_the_agent_and_queue_views_count_as_before(lake):
    con = connect(lake)
    agents = con.execute("select agent_username, sum(calls), round(avg(avg_customer_sentiment_shift), 2) "
                         "from v_agent_daily group by 1 order by 1").fetchall()
    assert agents == [("agent0", 9, 2.0), ("agent1", 3, 2.0)]
    queues = con.execute("select dt, queue_name, calls, contacts, non_talk_ratio from v_queue_daily order by dt").fetchall()
    assert queues == [(d, "Billing", 4, 4, round(5 / 60, 4)) for d in DAYS]


def _recording_query(lake, tmp_path):
    """The report's query function, recording the days of the files each query read."""
    con = connect(lake)
    seen: list[tuple[str, set[str]]] = []

    def run(sql: str):
        days = _days_of(_files_read(con, sql, tmp_path / "profile.json"))
        seen.append((sql, days))
        cursor = con.execute(athena_to_duckdb(sql))
        return [d[0] for d in cursor.description], cursor.fetchall()

    return run, seen


def test_the_reports_calls_read_only_their_own_days(lake, tmp_path):
    """The latest calls of a long range are chosen from calls alone; then their rows, categories, attributes
    and turns come from their days' files only (before: every query of them re-read every day)."""
    run, seen = _recording_query(lake, tmp_path)
    data = load_calls(run, f" where dt >= '{DAYS[0]}' and dt <= '{DAYS[-1]}'", "intent", limit=3)
    assert [c["contact_id"] for c in data.rows] == [f"{DAYS[-1]}-c{k}" for k in (1, 2, 3)]

    def check() -> None:
        for sql, days in seen:
            if sql.startswith("select dt, count(*) from calls"):
                continue  # counting the range per day (the files' metadata)
            assert days <= {DAYS[-1]}, sql

    check()
    pages = "".join(call_pages(load_dashboard(), data, run))
    assert pages.count('class="turn ') == 9
    check()


def test_call_pages_read_turns_a_batch_at_a_time(lake, tmp_path):
    run, seen = _recording_query(lake, tmp_path)
    data = load_calls(run, "", "", limit=10)
    whole = "".join(call_pages(load_dashboard(), data, run, batch=100))
    seen.clear()
    batched = "".join(call_pages(load_dashboard(), data, run, batch=3))
    assert batched == whole and 'id="call-2026-06-01-c2"' in whole
    assert 'id="call-2026-06-01-c1"' not in whole  # the latest 10: not the first day's first two
    turn_queries = [sql for sql, _ in seen if " from v_turns" in sql]
    assert len(turn_queries) == 4 and data.turns == {}  # 10 calls, 3 at a time; nothing kept after


def test_the_report_never_loads_pyarrow(lake, tmp_path):
    """pyarrow is ~40 MB resident: readers that only take a snapshot and query DuckDB do without it
    (a lake where a table has no file at all still loads it, for that table's empty schema)."""
    code = ("import sys\nfrom pipeline.presentation.report import write_report\n"
            f"write_report({str(lake)!r}, {str(tmp_path / 'r.html')!r})\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pyarrow', 'numpy', 'pandas')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert 'id="call-2026-06-03-c0"' in (tmp_path / "r.html").read_text()


def test_write_partitions_takes_arrow_tables(tmp_path):
    lake = LocalLake(tmp_path / "lake")
    calls = pa.table({"contact_id": ["a", "b"], "duration_s": [1.5, 2.0]})  # other columns: null
    lake.write_partitions("2026-06-01", {"calls": calls, "turns": [{"contact_id": "a", "turn_index": 0}]})
    read = lake.read_partition("calls", "2026-06-01")
    assert read.schema == TABLES["calls"] and read.column("duration_s").to_pylist() == [1.5, 2.0]
    assert lake.read_partition("turns", "2026-06-01").num_rows == 1
    with pytest.raises(ValueError, match="not in the table's schema"):
        lake.write_partitions("2026-06-01", {"calls": pa.table({"contact_id": ["a"], "colour": ["red"]})})


def test_recategorize_streams_turns_and_matches_as_before(monkeypatch):
    """The day's turns become Python rows a batch at a time (a call's turns may straddle two batches),
    with the rows categorize_day gives over whole lists: calls without turns, turns without a call, any order."""
    rng = random.Random(7)
    lines = ["thank you for calling", "I want to cancel my account", "can I speak to a manager", "okay", "sure"]
    calls = [{"contact_id": f"c{k:02d}", "duration_s": 90.0} for k in range(12)]
    turns = []
    for k in [*range(10), 40]:  # c10, c11 have no turns; c40 is no stored call
        t = 0.0
        for i in range(rng.randint(1, 7)):
            begin = t + rng.choice([0.5, 1.0, 12.0])
            turns.append({"contact_id": f"c{k:02d}", "turn_index": i, "participant": rng.choice(["AGENT", "CUSTOMER"]),
                          "begin_s": begin, "end_s": begin + 3, "text": rng.choice(lines),
                          "sentiment": rng.choice(["NEGATIVE", "POSITIVE", "NEUTRAL"]),
                          "is_interruption": rng.random() < 0.4, "confidence": 0.9})
            t = begin + 3
    rng.shuffle(turns)
    rng.shuffle(calls)
    rules = load_rules()
    expected = categorize_day(rules, calls, turns)
    monkeypatch.setattr(categories, "TURN_BATCH", 4)
    got = categorize_table(rules, pa.Table.from_pylist(calls, TABLES["calls"]),
                           pa.Table.from_pylist(turns, TABLES["turns"]))
    assert got == expected and {r["contact_id"] for r in got} >= {"c10", "c11"}
    assert "c40" not in {r["contact_id"] for r in got}


def test_recategorize_never_makes_a_days_turns_python_rows_at_once(tmp_path, monkeypatch):
    """Python memory (tracemalloc: the rows as dicts, not Arrow's buffers) stays a batch's worth, far below
    the day's turns as one list of dicts, as recategorize made them before."""
    import tracemalloc

    from pipeline.analytics.categories import TURN_COLUMNS, recategorize
    from pipeline.settings import Settings

    lake = LocalLake(tmp_path / "lake")
    day = date(2026, 6, 1)
    rows = _day_rows(day.isoformat(), n=300)
    rows["turns"] = [dict(t, turn_index=i, text=f"turn {i} of the call {t['contact_id']}")
                     for t in rows["turns"] for i in range(t["turn_index"] * 4, t["turn_index"] * 4 + 4)]
    lake.write_partitions(day, rows)  # 300 calls, 3,600 turns
    rules = tmp_path / "rules.yaml"  # one rule that never matches: the output stays empty
    rules.write_text("version: 5\ncategories:\n  - name: never\n    conditions:\n"
                     "      - type: phrase\n        phrases: [no one says this]\n")
    settings = Settings(lake=str(tmp_path / "lake"), categories=str(rules))
    turns = lake.read_partition("turns", day, columns=TURN_COLUMNS)
    tracemalloc.start()
    whole = turns.to_pylist()
    as_list = tracemalloc.get_traced_memory()[0]
    del whole
    tracemalloc.stop()
    monkeypatch.setattr(categories, "TURN_BATCH", 100)
    tracemalloc.start()
    done = recategorize(settings, day, day)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert done == {"2026-06-01": 0}
    assert peak < as_list / 4, (peak, as_list)


def test_the_reports_per_day_views_are_computed_a_few_days_at_a_time_with_the_same_rows(lake, tmp_path, monkeypatch):
    """Over a long range the charts read copies of the per-day views made PER_DAY_CHUNK days at a time
    (DuckDB joins a week of calls, not months); the page is the one the views give directly."""
    import re

    from pipeline.presentation import report
    from pipeline.presentation.report import _per_day, render_report, write_report

    monkeypatch.setattr(report, "PER_DAY_CHUNK", 2)  # 3 days: two chunks
    con = connect(lake)
    relations = _per_day(con, ["v_agent_daily", "v_call_contacts", "v_daily_overview"], DAYS)
    assert relations == {"v_agent_daily": "report_v_agent_daily", "v_daily_overview": "report_v_daily_overview"}
    for view, table in relations.items():
        assert (sorted(con.execute(f"select * from {table}").fetchall(), key=str)
                == sorted(con.execute(f"select * from {view}").fetchall(), key=str))

    def run(sql: str):
        cursor = con.execute(athena_to_duckdb(sql))
        return [d[0] for d in cursor.description], cursor.fetchall()

    direct = render_report(run, attributes="intent")  # no copies: every chart straight from its view
    copied = write_report(str(lake), tmp_path / "r.html", attributes="intent").path.read_text()
    assert "report_v_" not in direct
    footer = re.compile(r"generated [^<]* UTC")
    assert footer.sub("", copied) == footer.sub("", direct)


def test_the_quality_section_reads_a_few_days_at_a_time_with_the_same_numbers(lake, tmp_path, monkeypatch):
    """Issue 23: the Quality section's sums over the range, a chunk of days per query; each query reads only its
    chunk's files, and the numbers are those of the whole range at once."""
    from pipeline.presentation.report import quality as report_quality
    from pipeline.presentation.report.quality import load_quality

    whole = load_quality(_recording_query(lake, tmp_path)[0], DAYS)
    monkeypatch.setattr(report_quality, "CHUNK_DAYS", 1)
    run, seen = _recording_query(lake, tmp_path)
    daily = load_quality(run, DAYS)
    assert len(seen) == 4 * len(DAYS)
    for (sql, days), day in zip(seen, [d for d in DAYS for _ in range(4)], strict=True):
        assert days <= {day}, sql
    assert daily == whole
    score = whole.agents["default"]["agent0"]
    assert (score.calls, score.avg_score, score.pass_rate) == (9, 100.0, 1.0)
    assert whole.categories == {("agent0", "churn_risk"): 9, ("agent1", "churn_risk"): 3}
