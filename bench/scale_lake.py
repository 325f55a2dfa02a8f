"""make bench-scale, part 3: the local engine over a big lake (default 90 days x 10,000 calls, ~30 M turns).

1. Builds a synthetic lake of ``--days`` x ``--calls`` (or reuses the one already at ``--lake`` with the
   same parameters: each finished day is recorded in ``<lake>/_bench_scale.json``, so an interrupted build
   resumes). Every table of ``pipeline/lake/schema.py`` gets rows shaped like the pipeline's (agents, queues,
   durations, sentiments, turns from a small vocabulary, categories, contact attributes, failures, a runs
   row), generated column-wise with numpy/pyarrow and written through ``LocalLake.write_partitions``, so
   the day pointers, file names and modes are the lake's own.
2. Measures, each in a fresh child process (so its peak RSS is its own, read with ``os.wait4``):
   every view of ``sql/views`` for one day (``select * ... where dt = D``, fetched as arrow) and over the
   whole range (one aggregate), with the files and bytes DuckDB's scans read (its profiler); then
   ``aftercall report`` for one day and for every day, and ``aftercall recategorize`` for every day,
   both the installed CLI.
3. Writes the results as markdown to ``bench/scale/lake.md`` (with the command, the machine and its load
   average at start) and the raw numbers to ``bench/scale/lake.json``, and prints the markdown.
   ``--before FILE`` adds a column of an earlier run's numbers (the run before a fix).

Usage: .venv/bin/python bench/scale_lake.py [--days 90] [--calls 10000] [--lake PATH] [--before FILE]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from pipeline.lake.tables import LocalLake, commit_id  # noqa: E402
from pipeline.lake.schema import TABLES  # noqa: E402

log = logging.getLogger(__name__)

GENERATOR = 2  # bump when the generated rows change: a lake built by another version is rebuilt
FIRST_DAY = date(2026, 6, 1)
OUT_MD = HERE / "scale" / "lake.md"
OUT_JSON = HERE / "scale" / "lake.json"
TARGETS = {"view_day_s": 2.0, "report_s": 60.0, "report_range_rss_mb": 100.0}

AGENTS = [f"{first}.{last}" for first in ("sarah", "james", "li", "maria", "omar", "anna", "tom", "priya", "kenji",
                                          "fatima") for last in ("k", "m", "o", "r", "t", "w")]  # 60 agents
QUEUES = ["Billing", "Support", "Sales", "Retention", "Technical", "General"]
INTENTS = ["billing", "cancel", "upgrade", "outage", "address_change", "complaint", "new_line"]
TIERS = ["gold", "silver", "bronze"]
CATEGORIES = ["churn_risk", "escalation_request", "missing_greeting", "long_silence", "agent_interrupts_customer",
              "customer_ends_negative", "recovered_customer"]
CATEGORY_P = [0.04, 0.03, 0.08, 0.12, 0.05, 0.10, 0.02]
SENTIMENTS = ["POSITIVE", "NEUTRAL", "NEGATIVE", "MIXED"]
SENTIMENT_P = [0.25, 0.55, 0.15, 0.05]
GREETINGS = ["Thank you for calling, this is {a}, how can I help you today?",
             "Good morning, welcome to customer care, how may I help?",
             "Good afternoon, thanks for calling, you are speaking with {a}."]
AGENT_LINES = [
    "Can I have your account number please?", "Let me pull up your account.", "I can see the charge on your bill.",
    "I am sorry to hear that.", "Let me check that for you.", "One moment please while I look into this.",
    "I have applied a credit to your account.", "Is there anything else I can help you with?",
    "I understand your frustration.", "Your new plan starts on the first of the month.",
    "I will send you a confirmation by email.", "Can you confirm the address on the account?",
    "The technician can come on Tuesday morning.", "I have reset the line from our side.",
    "That fee is charged when the contract ends early.", "Thanks for your patience.",
    "Could you restart the router for me?", "I can offer you a discount for the next six months.",
    "Your card number is [CREDIT_DEBIT_NUMBER] is that right?", "I will note that on your account.",
    "The outage in your area should be fixed by tonight.", "Have a great day, goodbye.",
]
CUSTOMER_LINES = [
    "Hi, I have a question about my bill.", "Yes, it is [PII].", "Why was I charged twice this month?",
    "My internet keeps dropping every evening.", "Okay, thank you.", "That is not what I was told last time.",
    "I want to cancel my account.", "Can I speak to a manager please?", "I have been waiting for a week.",
    "Sure, one second.", "That sounds good.", "No, that is everything, thanks.", "I moved to a new address.",
    "The router lights are all blinking.", "I am thinking of switching providers.", "Great, that works for me.",
    "My number is [PHONE].", "This is the third time I am calling about this.", "Alright, I will try that.",
    "I would like to upgrade my plan.", "Can you explain this fee?", "Thanks, bye.",
]


# --- building the lake ---------------------------------------------------------------------------------------

def _manifest_path(lake: Path) -> Path:
    return lake / "_bench_scale.json"


def _params(days: int, calls: int, turns: int) -> dict:
    return {"generator": GENERATOR, "days": days, "calls": calls, "turns_per_call": turns,
            "first_day": FIRST_DAY.isoformat()}


def build_lake(lake_root: Path, days: int, calls: int, turns: int) -> dict:
    """Generate every day the manifest does not list as done (all of them for new parameters)."""
    lake_root.mkdir(parents=True, exist_ok=True)
    manifest_file = _manifest_path(lake_root)
    params = _params(days, calls, turns)
    manifest = json.loads(manifest_file.read_text()) if manifest_file.is_file() else {}
    if manifest.get("params") != params:
        if manifest or any(lake_root.iterdir()):
            raise SystemExit(f"{lake_root} holds a lake built with other parameters ({manifest.get('params')}): "
                             "give another --lake or remove it")
        manifest = {"params": params, "done": []}
    lake = LocalLake(lake_root)
    started = time.perf_counter()
    made = 0
    for i in range(days):
        day = (FIRST_DAY + timedelta(days=i)).isoformat()
        if day in manifest["done"]:
            continue
        t0 = time.perf_counter()
        tables = day_tables(day, i, calls, turns)
        lake.write_partitions(day, tables, run_id="bench-scale")
        attempt = commit_id()
        lake.append_run(day, attempt, {"run_id": "bench-scale", "status": "committed", "recordings": calls,
                                       "processed": calls - tables["failures"].num_rows,
                                       "quarantined": tables["failures"].num_rows, "attempt_id": attempt,
                                       "started_at": datetime.now(), "finished_at": datetime.now(),
                                       "pipeline_version": "bench-scale", "ctr_skipped": 0})
        manifest["done"].append(day)
        manifest_file.write_text(json.dumps(manifest, indent=1))  # after each day: a killed build resumes
        made += 1
        print(f"  {day}: {tables['calls'].num_rows} calls, {tables['turns'].num_rows} turns "
              f"({time.perf_counter() - t0:.1f} s)", flush=True)
    build_s = time.perf_counter() - started
    if made:
        manifest["build_s"] = round(build_s + manifest.get("build_s", 0.0), 1)
        manifest_file.write_text(json.dumps(manifest, indent=1))
    return {"days_generated": made, "build_s": manifest.get("build_s"), "reused": made == 0}


def _pick(rng: np.random.Generator, values: list[str], n: int, p: list[float] | None = None) -> pa.Array:
    return pa.array(values).take(pa.array(rng.choice(len(values), size=n, p=p)))


def day_tables(day: str, seed: int, n_calls: int, mean_turns: int) -> dict[str, pa.Table]:
    """One day of every table, column-wise. Deterministic per day (the day's index seeds it)."""
    rng = np.random.default_rng(1000 + seed)
    d = date.fromisoformat(day)
    ids = [f"{d:%Y%m%d}-{seed:04d}-4{k // 65536:03x}-a{k % 65536:04x}-{(k * 2654435761) % 16**12:012x}"
           for k in range(n_calls)]
    contact_id = pa.array(ids)

    # turns: per call a Poisson count, alternating speakers, talk spells and gaps (now and then a long silence)
    n_turns = np.clip(rng.poisson(mean_turns, n_calls), 4, None)
    total = int(n_turns.sum())
    call_of = np.repeat(np.arange(n_calls), n_turns)
    first = np.concatenate([[0], np.cumsum(n_turns)[:-1]])
    index = np.arange(total) - np.repeat(first, n_turns)
    agent = (index % 2) == 0
    spell = rng.gamma(2.0, 2.2, total) + 0.4
    gap = np.where(rng.random(total) < 0.03, rng.uniform(10, 25, total), rng.normal(0.6, 0.5, total))
    interrupt = (gap < 0) & (index > 0)
    step = spell + gap
    ends_before = np.cumsum(step) - step  # per call: restart the running sum at each call's first turn
    begin = ends_before - np.repeat(ends_before[first], n_turns) + 1.0
    begin = np.maximum(begin, 0.0)
    end = begin + spell
    line = np.where(agent, rng.integers(0, len(AGENT_LINES), total),
                    len(AGENT_LINES) + rng.integers(0, len(CUSTOMER_LINES), total))
    greeting = len(AGENT_LINES) + len(CUSTOMER_LINES) + rng.integers(0, len(GREETINGS), total)
    line = np.where((index == 0) & (rng.random(total) < 0.92), greeting, line)
    vocab = AGENT_LINES + CUSTOMER_LINES + [g.format(a="Sarah") for g in GREETINGS]
    text = pa.array(vocab).take(pa.array(line))
    words = np.array([len(v.split()) for v in vocab], dtype=np.int32)[line]
    sentiment = rng.choice(len(SENTIMENTS), size=total, p=SENTIMENT_P)
    pos = np.where(sentiment == 0, rng.uniform(0.5, 0.95, total), rng.uniform(0, 0.15, total))
    neg = np.where(sentiment == 2, rng.uniform(0.5, 0.95, total), rng.uniform(0, 0.15, total))
    mixed = np.where(sentiment == 3, rng.uniform(0.3, 0.6, total), 0.0)
    neutral = np.clip(1 - pos - neg - mixed, 0, 1)
    participant = pa.array(["AGENT", "CUSTOMER"]).take(pa.array((~agent).astype(np.int8)))
    turn_contact = contact_id.take(pa.array(call_of))
    turns = pa.table({
        "contact_id": turn_contact, "turn_index": pa.array(index.astype(np.int32)), "participant": participant,
        "begin_s": pa.array(np.round(begin, 2)), "end_s": pa.array(np.round(end, 2)), "text": text,
        "word_count": pa.array(words), "confidence": pa.array(np.round(rng.uniform(0.6, 0.99, total), 3)),
        "sentiment": pa.array(SENTIMENTS).take(pa.array(sentiment)),
        "sentiment_positive": pa.array(np.round(pos, 4)), "sentiment_negative": pa.array(np.round(neg, 4)),
        "sentiment_neutral": pa.array(np.round(neutral, 4)), "sentiment_mixed": pa.array(np.round(mixed, 4)),
        "loudness": pa.array(np.round(rng.normal(55, 10, total), 1)), "is_interruption": pa.array(interrupt),
    })
    turns_raw = pa.table({"contact_id": turn_contact, "turn_index": turns["turn_index"],
                          "participant": participant, "text": text})

    # calls: their figures follow from their turns
    duration = np.bincount(call_of, weights=step, minlength=n_calls) + rng.uniform(2, 8, n_calls)
    agent_talk = np.bincount(call_of, weights=np.where(agent, spell, 0.0), minlength=n_calls)
    customer_talk = np.bincount(call_of, weights=np.where(agent, 0.0, spell), minlength=n_calls)
    overlap = np.bincount(call_of, weights=np.where(interrupt, -gap, 0.0), minlength=n_calls)
    non_talk = np.bincount(call_of, weights=np.where(gap > 3, gap, 0.0), minlength=n_calls)
    agent_cuts = np.bincount(call_of, weights=(interrupt & agent), minlength=n_calls).astype(np.int32)
    customer_cuts = np.bincount(call_of, weights=(interrupt & ~agent), minlength=n_calls).astype(np.int32)
    agent_words = np.bincount(call_of, weights=np.where(agent, words, 0), minlength=n_calls)
    customer_words = np.bincount(call_of, weights=np.where(agent, 0, words), minlength=n_calls)
    hour = np.clip(rng.normal(13.5, 3.0, n_calls), 7, 21.9)  # office hours, busiest after lunch
    started = np.datetime64(day) + (hour * 3_600_000_000).astype("timedelta64[us]")
    started = np.sort(started)
    quarters = {f"{who}_sentiment_q{q}": np.round(np.clip(rng.normal(0.4 if who == "agent" else 0.0, 1.6, n_calls),
                                                          -5, 5), 2)
                for who in ("agent", "customer") for q in range(1, 5)}
    c_start, c_end = quarters["customer_sentiment_q1"], quarters["customer_sentiment_q4"]
    a_start, a_end = quarters["agent_sentiment_q1"], quarters["agent_sentiment_q4"]
    minutes = duration / 60
    calls = pa.table({
        "contact_id": contact_id,
        "recording_uri": pa.array([f"s3://connect-bench/connect/bench/CallRecordings/{d:%Y/%m/%d}/{c}_{d:%Y%m%d}.wav"
                                   for c in ids]),
        "call_started_at": pa.array(started, pa.timestamp("us")),
        "duration_s": pa.array(np.round(duration, 2)),
        "sample_rate_hz": pa.array(np.full(n_calls, 8000, np.int32)),
        "file_size_bytes": pa.array((duration * 32000).astype(np.int64)),
        "agent_channel": pa.array(np.ones(n_calls, np.int32)),
        "agent_talk_s": pa.array(np.round(agent_talk, 2)), "customer_talk_s": pa.array(np.round(customer_talk, 2)),
        "non_talk_s": pa.array(np.round(non_talk, 2)), "overlap_s": pa.array(np.round(overlap, 2)),
        "agent_interruptions": pa.array(agent_cuts), "customer_interruptions": pa.array(customer_cuts),
        "agent_loudness": pa.array(np.round(rng.normal(58, 6, n_calls), 1)),
        "customer_loudness": pa.array(np.round(rng.normal(52, 8, n_calls), 1)),
        "agent_wpm": pa.array(np.round(agent_words / np.maximum(agent_talk / 60, 0.1), 1)),
        "customer_wpm": pa.array(np.round(customer_words / np.maximum(customer_talk / 60, 0.1), 1)),
        "agent_sentiment": pa.array(np.round((a_start + a_end) / 2, 2)),
        "customer_sentiment": pa.array(np.round((c_start + c_end) / 2, 2)),
        **{k: pa.array(v) for k, v in quarters.items()},
        "customer_sentiment_start": pa.array(c_start), "customer_sentiment_end": pa.array(c_end),
        "agent_sentiment_shift": pa.array(np.round(a_end - a_start, 2)),
        "customer_sentiment_shift": pa.array(np.round(c_end - c_start, 2)),
        "language_code": pa.array(["en-US"] * n_calls), "transcriber": pa.array(["whisper:base"] * n_calls),
        "sentiment_engine": pa.array(["vader"] * n_calls),
        "transcript_word_count": pa.array((agent_words + customer_words).astype(np.int32)),
        "transcribe_minutes": pa.array(np.zeros(n_calls)), "comprehend_units": pa.array(np.zeros(n_calls, np.int32)),
        "est_cost_usd": pa.array(np.zeros(n_calls)),
        "processed_at": pa.array(np.full(n_calls, np.datetime64(day, "us") + np.timedelta64(1, "D")), pa.timestamp("us")),
        "pipeline_version": pa.array(["bench-scale"] * n_calls),
    })

    agent_of = rng.integers(0, len(AGENTS), n_calls)
    queue_of = rng.integers(0, len(QUEUES), n_calls)
    has_ctr = rng.random(n_calls) < 0.97  # a few calls have no contact trace record: '(no contact record)' agent and queue
    ctr_rows = np.flatnonzero(has_ctr)
    connected = started[ctr_rows] - (rng.uniform(5, 90, len(ctr_rows)) * 1e6).astype("timedelta64[us]")
    contacts = pa.table({
        "contact_id": contact_id.take(pa.array(ctr_rows)),
        "agent_username": pa.array(AGENTS).take(pa.array(agent_of[ctr_rows])),
        "agent_arn": pa.array([f"arn:aws:connect:eu-west-1:123456789012:instance/bench/agent/{a:04d}"
                               for a in agent_of[ctr_rows]]),
        "queue_name": pa.array(QUEUES).take(pa.array(queue_of[ctr_rows])),
        "channel": pa.array(["VOICE"] * len(ctr_rows)), "initiation_method": pa.array(["INBOUND"] * len(ctr_rows)),
        "initiation_at": pa.array(connected - np.timedelta64(20, "s"), pa.timestamp("us")),
        "disconnect_at": pa.array(started[ctr_rows] + (duration[ctr_rows] * 1e6).astype("timedelta64[us]"),
                                  pa.timestamp("us")),
        "agent_connected_at": pa.array(connected, pa.timestamp("us")),
        "recording_location": calls["recording_uri"].take(pa.array(ctr_rows)),
        "ctr_uri": pa.array([f"s3://connect-bench/ctr/{d:%Y/%m/%d}/ctr-{i // 500:04d}.json" for i in ctr_rows]),
    })
    attributes = pa.table({
        "contact_id": pa.concat_arrays([contact_id.take(pa.array(ctr_rows))] * 2),
        "name": pa.array(["intent"] * len(ctr_rows) + ["customerTier"] * len(ctr_rows)),
        "value": pa.concat_arrays([_pick(rng, INTENTS, len(ctr_rows)), _pick(rng, TIERS, len(ctr_rows))]),
    })

    hit = rng.random((n_calls, len(CATEGORIES))) < np.array(CATEGORY_P)
    call_idx, cat_idx = np.nonzero(hit)
    categories = pa.table({
        "contact_id": contact_id.take(pa.array(call_idx)),
        "category": pa.array(CATEGORIES).take(pa.array(cat_idx)),
        "first_match_s": pa.array(np.round(rng.uniform(0, 1, len(call_idx)) * duration[call_idx], 2)),
        "match_count": pa.array(rng.integers(1, 4, len(call_idx)).astype(np.int32)),
        "rules_version": pa.array(np.ones(len(call_idx), np.int32)),
    })
    n_failed = max(1, n_calls // 500)
    failures = pa.table({
        "recording_uri": pa.array([f"s3://connect-bench/connect/bench/CallRecordings/{d:%Y/%m/%d}/bad-{k}.wav"
                                   for k in range(n_failed)]),
        "contact_id": pa.array([f"bad-{d:%Y%m%d}-{k}" for k in range(n_failed)]),
        "stage": _pick(rng, ["decode", "transcribe", "read"], n_failed),
        "error": _pick(rng, ["empty file", "not a RIFF file", "audio shorter than 500 ms"], n_failed),
        "failed_at": pa.array(np.full(n_failed, np.datetime64(day, "us") + np.timedelta64(23, "h")), pa.timestamp("us")),
        "pipeline_version": pa.array(["bench-scale"] * n_failed),
    })
    return {"calls": calls, "turns": turns, "turns_raw": turns_raw, "failures": failures,
            "call_categories": categories, "contacts": contacts, "contact_attributes": attributes}


# --- measuring ---------------------------------------------------------------------------------------------

def _run_child(cmd: list[str], env: dict | None = None, timeout_s: float = 3600) -> dict:
    """Run ``cmd``; wall time, its own peak RSS (os.wait4's rusage is this child's alone), exit code, output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=ROOT)
        deadline = t0 + timeout_s
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {"wall_s": round(wall, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "rc": proc.returncode,
                "stdout": out.read().decode(errors="replace"), "stderr": err.read().decode(errors="replace")}


def _scan_stats(profile: dict) -> dict:
    """Files, rows and bytes DuckDB's Parquet scans read (its JSON profile), and which tables' files."""
    files = rows = 0
    scans: list[str] = []

    def walk(node: dict) -> None:
        nonlocal files, rows
        info = node.get("extra_info") or {}
        if node.get("type") == "TABLE_SCAN" and "Total Files Read" in info:
            files += int(info["Total Files Read"])
            rows += int(node.get("rows_scanned") or 0)
            names = info.get("Filename(s)") or ""
            table = Path(str(names).split(",")[0].strip()).parent.parent.name if names else "?"
            scans.append(f"{table} {info.get('Scanning Files', info['Total Files Read'])}")
        for child in node.get("children", []):
            walk(child)

    for node in profile.get("operator", []):
        walk(node)
    return {"files_read": files, "rows_scanned": rows, "scans": scans,
            "bytes_read": int(profile.get("io", {}).get("total_bytes_read", 0))}


def view_child(lake: str, view: str, scope: str, day: str) -> None:
    """In the child: connect as the report does, run one view's query, print its numbers as one JSON line."""
    from pipeline.adapters.duckdb_engine import connect
    from pipeline.analytics.sql import athena_to_duckdb

    t0 = time.perf_counter()
    con = connect(lake)
    connect_s = time.perf_counter() - t0
    sql = view_query(view, scope, day)
    profile_file = Path(tempfile.mkdtemp()) / "profile.json"
    con.execute("pragma enable_profiling = 'json'")
    con.execute(f"pragma profiling_output = '{profile_file}'")
    con.execute("pragma profiling_mode = 'detailed'")
    t1 = time.perf_counter()
    result = con.sql(athena_to_duckdb(sql)).to_arrow_table()
    query_s = time.perf_counter() - t1
    con.execute("pragma disable_profiling")
    stats = _scan_stats(json.loads(profile_file.read_text())) if profile_file.is_file() else {}
    print(json.dumps({"connect_s": round(connect_s, 3), "query_s": round(query_s, 3), "rows": result.num_rows,
                      "sql": sql, **stats}))


def view_query(view: str, scope: str, day: str) -> str:
    """One day: every row and column of the day. All days: one aggregate over the whole view."""
    if scope == "day":
        return f"select * from {view} where dt = '{day}'"
    return f"select dt, count(*) as n from {view} group by dt order by dt"


def _views() -> list[str]:
    from pipeline.analytics.sql import VIEWS_DIR

    return sorted(p.stem for p in VIEWS_DIR.glob("*.sql"))


def measure(lake: Path, days: int, skip: set[str]) -> dict:
    last = (FIRST_DAY + timedelta(days=days - 1)).isoformat()
    first = FIRST_DAY.isoformat()
    day = (FIRST_DAY + timedelta(days=days // 2)).isoformat()  # a day in the middle: neither end is special
    results: dict = {"day": day, "first": first, "last": last, "views": {}, "cli": {}}
    python = sys.executable
    if "views" not in skip:
        for view in _views():
            for scope in ("day", "all"):
                child = _run_child([python, __file__, "--_view", view, "--_scope", scope, "--_day", day,
                                    "--lake", str(lake)])
                numbers = json.loads(child["stdout"].strip().splitlines()[-1]) if child["rc"] == 0 else \
                    {"error": child["stderr"].strip().splitlines()[-1:]}
                numbers.update(wall_s=child["wall_s"], peak_rss_mb=child["peak_rss_mb"])
                results["views"][f"{view}:{scope}"] = numbers
                print(f"  {view} {scope}: {numbers.get('query_s')} s query, {numbers.get('files_read')} files, "
                      f"{numbers['peak_rss_mb']} MB", flush=True)
    cli = str(Path(sys.executable).parent / "aftercall")
    # PYTHONPATH: the CLI runs this checkout's code (a copy of an older commit measures "before")
    env = {**os.environ, "AFTERCALL_LAKE": str(lake), "PYTHONPATH": str(ROOT)}
    out = lake.parent / "report-out"  # beside the lake, outside the repository
    out.mkdir(parents=True, exist_ok=True)
    commands = {
        "report_day": [cli, "report", "--lake", str(lake), "--out", str(out / "day.html"), "--from", day, "--to", day],
        "report_range": [cli, "report", "--lake", str(lake), "--out", str(out / "range.html"),
                         "--from", first, "--to", last],
        "recategorize_range": [cli, "recategorize", "--lake", str(lake), "--from", first, "--to", last],
    }
    for name, cmd in commands.items():
        if name.split("_")[0] in skip:
            continue
        child = _run_child(cmd, env=env)
        entry = {k: child[k] for k in ("wall_s", "peak_rss_mb", "rc")}
        entry["command"] = " ".join(shlex.quote(c) for c in cmd).replace(str(Path(sys.executable).parent) + "/", ".venv/bin/")
        if child["rc"]:
            entry["error"] = (child["stderr"] or child["stdout"]).strip().splitlines()[-3:]
        html = out / f"{name.split('_')[1]}.html"
        if name.startswith("report") and html.is_file():
            entry["html_mb"] = round(html.stat().st_size / 2**20, 1)
            entry["stdout"] = child["stdout"].strip()[-300:]
        results["cli"][name] = entry
        print(f"  {name}: {entry['wall_s']} s, {entry['peak_rss_mb']} MB, rc {entry['rc']}", flush=True)
    return results


# --- writing the results -----------------------------------------------------------------------------------

def _machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"nproc": os.cpu_count(), "cpu": cpu, "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(), "duckdb": __import__("duckdb").__version__}


def _lake_size(lake: Path) -> dict:
    files = [p for p in lake.rglob("*.parquet")]
    by_table: dict[str, int] = {}
    for p in files:
        table = p.relative_to(lake).parts[0]
        by_table[table] = by_table.get(table, 0) + p.stat().st_size
    return {"parquet_files": len(files), "mb": round(sum(by_table.values()) / 2**20, 1),
            "mb_by_table": {t: round(b / 2**20, 1) for t, b in sorted(by_table.items())}}


def _fmt(value: object, unit: str = "") -> str:
    if value is None:
        return "–"
    return f"{value:,}{unit}" if isinstance(value, int) else f"{value}{unit}"


def markdown(doc: dict, before: dict | None) -> str:
    m, p, r = doc["machine"], doc["params"], doc["results"]
    old_views = (before or {}).get("results", {}).get("views", {})
    old_cli = (before or {}).get("results", {}).get("cli", {})
    lines = [
        "## The local engine over a 90-day lake (bench/scale_lake.py)", "",
        f"Command: `{doc['command']}`  ",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), load average at start {' / '.join(map(str, m['loadavg_at_start']))} "
        f"(shared: other work may have been running); Python {m['python']}, DuckDB {m['duckdb']}; {doc['finished_at']}.  ",
        f"Lake: {p['days']} days x {p['calls']:,} calls ({doc['rows']['calls']:,} calls, {doc['rows']['turns']:,} turns), "
        f"{doc['size']['parquet_files']:,} Parquet files, {doc['size']['mb']:,} MB "
        f"({', '.join(f'{t} {mb}' for t, mb in doc['size']['mb_by_table'].items())} MB); "
        f"{'reused' if doc['build']['reused'] else 'generated'} (generation took {doc['build']['build_s']} s).", "",
        f"### Views: one day (`select * from v where dt = '{r['day']}'`, fetched as Arrow) and all days "
        "(`select dt, count(*) from v group by dt`)", "",
        "Each query in a fresh process that connects as `aftercall report` does (`connect`: the lake's snapshot and "
        "the views). *files*: Parquet files DuckDB's scans read (its profiler); *MB read*: bytes they read (its profiler). Target for one day: ≤ 2 s.", "",
        "| view | scope | rows | query s | connect s | files | MB read | peak RSS MB |"
        + (" before: query s / files / RSS MB |" if before else ""),
        "|---|---|--:|--:|--:|--:|--:|--:|" + ("--:|" if before else ""),
    ]
    for key, v in r["views"].items():
        view, scope = key.split(":")
        row = (f"| {view} | {'one day' if scope == 'day' else 'all days'} | {_fmt(v.get('rows'))} | "
               f"{_fmt(v.get('query_s'))} | {_fmt(v.get('connect_s'))} | {_fmt(v.get('files_read'))} | "
               f"{_fmt(round(v['bytes_read'] / 2**20, 1) if 'bytes_read' in v else None)} | {_fmt(v.get('peak_rss_mb'))} |")
        if before:
            o = old_views.get(key, {})
            row += f" {_fmt(o.get('query_s'))} / {_fmt(o.get('files_read'))} / {_fmt(o.get('peak_rss_mb'))} |"
        lines.append(row)
    lines += ["", "### The CLI (installed `aftercall`, a child process; wall time and its own peak RSS)", "",
              "Targets: report ≤ 60 s for one day and for every day, the all-days report ≤ 100 MB peak RSS.", "",
              "| command | wall s | peak RSS MB | HTML MB | exit |" + (" before: wall s / RSS MB |" if before else ""),
              "|---|--:|--:|--:|--:|" + ("--:|" if before else "")]
    for name, c in r["cli"].items():
        row = f"| `{c['command']}` | {c['wall_s']} | {c['peak_rss_mb']} | {_fmt(c.get('html_mb'))} | {c['rc']} |"
        if before:
            o = old_cli.get(name, {})
            row += f" {_fmt(o.get('wall_s'))} / {_fmt(o.get('peak_rss_mb'))} |"
        lines.append(row)
    if doc.get("notes"):
        lines += ["", *doc["notes"]]
    return "\n".join(lines) + "\n"


def _rows(lake: Path) -> dict:
    import pyarrow.parquet as pq

    snap = LocalLake(lake).snapshot(["calls", "turns"])
    return {t: sum(pq.ParquetFile(f).metadata.num_rows for f in files) for t, files in snap.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--calls", type=int, default=10_000, help="calls per day")
    parser.add_argument("--turns", type=int, default=33, help="mean turns per call")
    parser.add_argument("--lake", help="default /tmp/aftercall-scale/lake-<days>x<calls> (never inside the repo)")
    parser.add_argument("--before", help="an earlier lake.json: its numbers become the 'before' column")
    parser.add_argument("--skip", default="", help="comma-separated: views, report, recategorize")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--note", action="append", default=[], help="a line added under the tables")
    parser.add_argument("--out", default=str(OUT_MD), help="the markdown file (the .json beside it)")
    parser.add_argument("--rerender", action="store_true",
                        help="measure nothing: write the markdown again from the .json (with --before, --note)")
    parser.add_argument("--_view", help=argparse.SUPPRESS)
    parser.add_argument("--_scope", help=argparse.SUPPRESS)
    parser.add_argument("--_day", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    lake = Path(args.lake or f"/tmp/aftercall-scale/lake-{args.days}x{args.calls}").expanduser().resolve()
    if args._view:
        view_child(str(lake), args._view, args._scope, args._day)
        return
    if args.rerender:
        doc = json.loads(Path(args.out).with_suffix(".json").read_text())
        doc["notes"] = doc.get("notes", []) + args.note
        before = json.loads(Path(args.before).read_text()) if args.before else None
        if before:
            doc["before"] = {"file": args.before, "results": before.get("results")}
        Path(args.out).write_text(markdown(doc, before))
        Path(args.out).with_suffix(".json").write_text(json.dumps(doc, indent=1, default=str))
        print(markdown(doc, before))
        return
    if ROOT in lake.parents:
        raise SystemExit(f"--lake {lake} is inside the repository: give a folder outside it")
    command = "python bench/scale_lake.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    machine = _machine()  # before building: the load average is the machine's, not ours
    print(f"lake {lake}: {args.days} days x {args.calls} calls", flush=True)
    build = build_lake(lake, args.days, args.calls, args.turns)
    if args.build_only:
        return
    results = measure(lake, args.days, {s.strip() for s in args.skip.split(",") if s.strip()})
    doc = {"command": command, "machine": machine, "params": _params(args.days, args.calls, args.turns),
           "lake": str(lake), "build": build, "size": _lake_size(lake), "rows": _rows(lake),
           "finished_at": f"{datetime.now():%Y-%m-%d %H:%M}", "results": results, "notes": args.note}
    before = json.loads(Path(args.before).read_text()) if args.before else None
    if before:
        doc["before"] = {"file": args.before, "results": before.get("results")}
    section = markdown(doc, before)
    out_md = Path(args.out)
    out_md.parent.mkdir(parents=True, exist_ok=True)
    out_md.write_text(section)
    out_md.with_suffix(".json").write_text(json.dumps(doc, indent=1, default=str))
    print(section)


if __name__ == "__main__":
    main()
