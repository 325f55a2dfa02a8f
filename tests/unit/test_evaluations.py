"""Automated evaluations: forms as code, answers with evidence, scores and the weekly scorecard, re-scoring
history, the Amazon Connect export, and forms that are refused."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pipeline.adapters.duckdb_engine import query
from pipeline.analytics.categories import load_rules
from pipeline.analytics.evaluation_export import export_form, validation_report
from pipeline.analytics.evaluations import FORMS_DIR, evaluate, evaluate_call, load_form, load_scores
from pipeline.exceptions import ConfigurationError, FormError
from pipeline.lake.tables import LocalLake
from pipeline.steps.run import DayResult, commit_day
from pipeline.settings import SAMPLES_DIR, Settings
from tests.conftest import DEMO_DAY

DEFAULT = FORMS_DIR / "default.yaml"
QUESTIONS = ["greeting", "closing", "no_escalation", "agent_interruptions", "talk_speed", "non_talk_share",
             "customer_sentiment_end"]


def _rows(lake, sql):
    columns, rows = query(sql, lake)
    return [dict(zip(columns, r, strict=True)) for r in rows]


def _words(text: str) -> str:
    return " " + " ".join(re.findall(r"[\w']+", text.lower())) + " "


def _evidence_is_the_turn(rows, turns_by_key) -> None:
    """Every answer names its evidence: a turn that says the quoted phrase, or a metric and its value."""
    for row in rows:
        assert row["evidence"], row
        if row["question_type"] == "NUMERIC":
            assert row["evidence_turn"] is None
            if row["answer"] != "NOT_APPLICABLE":  # the metric's name and the value the answer was chosen by
                assert re.fullmatch(r"[a-z_]+ = " + re.escape(f"{row['value']:g}"), row["evidence"]), row
        elif row["evidence_turn"] is not None:
            turn = turns_by_key[(row["contact_id"], row["evidence_turn"])]
            quoted = re.search(r"said '([^']+)'", row["evidence"])
            if quoted:  # a phrase question: the turn says the phrase, and the evidence says when
                assert _words(quoted.group(1)) in _words(turn["text"]) and f"{turn['begin_s']:.1f} s" in row["evidence"]
            else:  # a category question: the turn where the category first matched
                assert row["evidence"].startswith("category ")


# --- the shipped form ---
def test_the_default_form_loads_and_its_weights_add_up():
    form = load_form(DEFAULT)
    assert form.name == "default" and form.scoring.mode == "QUESTION_ONLY"
    assert [q.id for _, q in form.questions()] == QUESTIONS
    assert sum(q.weight for _, q in form.questions()) == 100


@pytest.mark.slow
def test_the_nightly_run_scores_every_call_of_the_sample_day(transcribed_lake):
    """The real pipeline (Whisper, VADER) over the sample day: the day's commit carries its evaluations."""
    lake, result = transcribed_lake
    rows = LocalLake(lake).read_partition("evaluations", DEMO_DAY).to_pylist()
    calls = sorted(c["contact_id"] for c in result.calls)
    assert len(calls) == 4
    assert sorted({r["contact_id"] for r in rows}) == calls
    for cid in calls:
        assert [r["question_id"] for r in rows if r["contact_id"] == cid] == QUESTIONS
    turns = {(t["contact_id"], t["turn_index"]): t for t in LocalLake(lake).read_partition("turns", DEMO_DAY).to_pylist()}
    _evidence_is_the_turn(rows, turns)
    # Every sample call opens with a greeting in its first seconds and nobody asks for a manager. Whisper decodes
    # differently on different CPUs (docs/speech.md): one greeting may be misheard, never most of them.
    assert {r["answer"] for r in rows if r["question_id"] == "no_escalation"} == {"yes"}
    greetings = [(r["answer"], r["evidence_turn"]) for r in rows if r["question_id"] == "greeting"]
    assert greetings.count(("yes", 0)) >= 3 and set(greetings) <= {("yes", 0), ("no", None)}
    scores = load_scores(lake, DEMO_DAY, DEMO_DAY)
    assert sorted(s["contact_id"] for s in scores) == calls
    assert all(s["score_pct"] is not None and 0 <= s["score_pct"] <= 100 for s in scores)


# --- a second day, made from the sample calls' scripts ---
TRUTH = {c["contact_id"]: c for c in json.loads((SAMPLES_DIR / "truth.json").read_text())}
DAY2 = date(2026, 11, 23)


def _scripted_day(day: date = DAY2) -> DayResult:
    """The sample calls as their scripts say (turns, talk, silence, interruptions), as another day's rows."""
    calls, turns = [], []
    for cid, call in sorted(TRUTH.items()):
        own = [{"contact_id": cid, "turn_index": i, "participant": t["participant"], "begin_s": t["begin_s"],
                "end_s": t["end_s"], "text": t["text"], "word_count": len(t["text"].split()),
                "sentiment": "NEUTRAL", "is_interruption": t["interrupts"]} for i, t in enumerate(call["turns"])]
        agent = [t for t in own if t["participant"] == "AGENT"]
        spans = sorted((t["begin_s"], t["end_s"]) for t in own)
        gaps, cursor = 0.0, 0.0
        for begin, end in spans + [(call["duration_s"], call["duration_s"])]:
            if begin - cursor > 3:
                gaps += begin - cursor
            cursor = max(cursor, end)
        calls.append({"contact_id": cid, "recording_uri": f"/x/{cid}.wav", "call_started_at": datetime(2026, 11, 23, 9),
                      "duration_s": call["duration_s"], "non_talk_s": round(gaps, 3),
                      "agent_talk_s": sum(t["end_s"] - t["begin_s"] for t in agent),
                      "customer_talk_s": sum(t["end_s"] - t["begin_s"] for t in own if t["participant"] == "CUSTOMER"),
                      "agent_interruptions": sum(t["is_interruption"] for t in agent),
                      "customer_interruptions": sum(t["is_interruption"] for t in own if t["participant"] == "CUSTOMER"),
                      "agent_wpm": round(60 * sum(t["word_count"] for t in agent)
                                         / sum(t["end_s"] - t["begin_s"] for t in agent), 1),
                      "customer_sentiment_end": {"8b2d": 3.4, "3f1c": 1.2, "c4e5": 0.3}.get(cid[:4]),
                      "processed_at": datetime(2026, 11, 24), "pipeline_version": "t"})
        turns += own
    return DayResult(day, calls=calls, turns=turns)


def test_a_second_day_is_scored_in_its_commit_with_evidence(tmp_path):
    settings = Settings(lake=str(tmp_path / "lake"))
    day = _scripted_day()
    commit_day(settings, day)
    lake = LocalLake(tmp_path / "lake")
    assert "evaluations" in lake.pointer(DAY2)["tables"]  # one switch with the day's other tables
    rows = lake.read_partition("evaluations", DAY2).to_pylist()
    assert len(rows) == 4 * len(QUESTIONS)
    _evidence_is_the_turn(rows, {(t["contact_id"], t["turn_index"]): t for t in day.turns})
    got = {(r["contact_id"][:4], r["question_id"]): r for r in rows}
    assert got["3f1c", "greeting"]["evidence_turn"] == 0
    assert got["3f1c", "greeting"]["evidence"] == "AGENT said 'thank you for calling' at 0.6 s (the first 15 s)"
    assert got["8b2d", "closing"]["answer"] == "yes" and got["8b2d", "closing"]["evidence_turn"] == 9
    assert got["c4e5", "agent_interruptions"]["answer"] == "0..1" and got["c4e5", "agent_interruptions"]["value"] == 1
    assert got["c4e5", "agent_interruptions"]["evidence"] == "agent_interruptions = 1"
    assert got["d9a8", "customer_sentiment_end"]["answer"] == "NOT_APPLICABLE"  # not measured: weight 0
    assert got["d9a8", "customer_sentiment_end"]["weight"] == 0
    assert sum(r["weight"] for r in rows if r["contact_id"].startswith("d9a8")) == pytest.approx(100)
    assert got["3f1c", "no_escalation"]["evidence"] == "category escalation_request not matched"
    scores = {s["contact_id"][:4]: s for s in load_scores(tmp_path / "lake", DAY2, DAY2)}
    assert set(scores) == {"3f1c", "8b2d", "c4e5", "d9a8"}
    # 3f1c: every question at its best except sentiment at the end, 1.2 -> 1..5 (10 points): all 100
    assert scores["3f1c"]["score_pct"] == 100.0 and scores["3f1c"]["passed"]
    # c4e5: sentiment 0.3 rounds to 0 (5 of 10 points, weight 15): 100 - 7.5
    assert scores["c4e5"]["score_pct"] == 92.5 and scores["c4e5"]["performance_category"] == "EXCEEDS_EXPECTATIONS"


def test_a_category_answer_points_at_the_turn_where_it_matched():
    form = load_form(DEFAULT)
    call = {"contact_id": "c1", "duration_s": 60.0}
    turns = [{"contact_id": "c1", "turn_index": 0, "participant": "AGENT", "begin_s": 0.5, "end_s": 3.0,
              "text": "Good morning", "sentiment": "NEUTRAL", "is_interruption": False},
             {"contact_id": "c1", "turn_index": 1, "participant": "CUSTOMER", "begin_s": 4.0, "end_s": 8.0,
              "text": "Let me speak to a manager", "sentiment": "NEGATIVE", "is_interruption": False}]
    matches = [{"contact_id": "c1", "category": "escalation_request", "first_match_s": 4.0, "match_count": 1,
                "rules_version": 1}]
    got = {r["question_id"]: r for r in evaluate_call(form, call, turns, matches)}
    assert got["no_escalation"]["answer"] == "no" and got["no_escalation"]["points"] == 0
    assert got["no_escalation"]["evidence_turn"] == 1
    assert got["no_escalation"]["evidence"] == "category escalation_request matched at 4.0 s (1 matches, rules v1)"
    assert got["agent_interruptions"]["answer"] == "UNANSWERED"  # not measured and not applicable is not allowed


# --- the weekly scorecard, counted by hand ---
HAND_FORM = """
name: handcount
version: 3
title: Hand count
scoring: {mode: QUESTION_ONLY, pass_score: 70, needs_improvement_below: 50, exceeds_expectations_from: 90}
sections:
  - id: main
    title: Main
    questions:
      - id: greet
        title: Hello in the first 10 s
        weight: 50
        answer: {phrase: {participant: AGENT, window: {first_s: 10}, phrases: [hello]}}
        options:
          - {id: "yes", text: "Yes", score: 10, when: present}
          - {id: "no", text: "No", score: 0, when: absent}
      - id: calm
        title: No escalation
        weight: 30
        answer: {category: escalation_request}
        options:
          - {id: "yes", text: "Yes", score: 10, when: absent}
          - {id: "no", text: "No", score: 0, when: present, automatic_fail: true}
      - id: pace
        title: Talk speed
        weight: 20
        not_applicable: true
        answer: {metric: agent_wpm}
        range: [0, 400]
        options:
          - {min: 0, max: 119, score: 5}
          - {min: 120, max: 400, score: 10}
"""

# (day, contact, agent or None, hello at (s) or None, asks for a manager, agent_wpm)
HAND_CALLS = [
    ("2026-11-20", "a1", "ann", 2.0, False, 150.0),  # 50 + 30 + 20          = 100  pass, exceeds
    ("2026-11-22", "a2", "ann", None, False, 100.0),  # 0 + 30 + 20 * 5/10   = 40   fail, needs improvement
    ("2026-11-23", "a3", "ann", 2.0, True, 150.0),  # automatic fail         = 0    fail, needs improvement
    ("2026-11-22", "b1", "bob", 2.0, False, None),  # pace N/A: (50 + 30) / 80 = 100 pass, exceeds
    ("2026-11-23", "b2", "bob", 12.0, False, 130.0),  # hello too late: 0 + 30 + 20 = 50 fail, meets
    ("2026-11-23", "b3", "bob", 2.0, False, 110.0),  # 50 + 30 + 10          = 90   pass, exceeds
    ("2026-11-23", "u1", None, 2.0, False, 200.0),  # no trace record        = 100  pass, exceeds (no contact record)
]


def _hand_lake(tmp_path) -> tuple[Settings, Path]:
    lake_dir = tmp_path / "lake"
    settings = Settings(lake=str(lake_dir))
    lake = LocalLake(lake_dir)
    for day in sorted({c[0] for c in HAND_CALLS}):
        calls, turns, contacts = [], [], []
        for _, cid, agent, hello, manager, wpm in (c for c in HAND_CALLS if c[0] == day):
            calls.append({"contact_id": cid, "duration_s": 60.0, "agent_wpm": wpm, "non_talk_s": 5.0,
                          "agent_interruptions": 0, "pipeline_version": "t"})
            said = [("AGENT", hello, "hello there") if hello is not None else ("AGENT", 1.0, "yes"),
                    ("CUSTOMER", 20.0, "I want to speak to a manager" if manager else "fine thanks")]
            turns += [{"contact_id": cid, "turn_index": i, "participant": who, "begin_s": at, "end_s": at + 3,
                       "text": text, "sentiment": "NEUTRAL", "is_interruption": False}
                      for i, (who, at, text) in enumerate(said)]
            if agent:
                contacts.append({"contact_id": cid, "agent_username": agent, "queue_name": "q"})
        lake.write_partition("contacts", day, contacts)
        commit_day(settings, DayResult(date.fromisoformat(day), calls=calls, turns=turns))
    return settings, lake_dir


def test_the_weekly_scorecard_matches_a_hand_count(tmp_path):
    settings, lake_dir = _hand_lake(tmp_path)
    form = tmp_path / "handcount.yaml"
    form.write_text(HAND_FORM)
    done = evaluate(settings, date(2026, 11, 16), date(2026, 11, 29), form=str(form))
    assert done == {"2026-11-20": 3, "2026-11-22": 6, "2026-11-23": 12}  # 3 questions a call
    calls = {r["contact_id"]: (r["agent_username"], r["score_pct"], r["passed"], r["automatic_fail"],
                               r["performance_category"])
             for r in _rows(lake_dir, "select * from v_evaluation_scores where form = 'handcount'")}
    assert calls == {
        "a1": ("ann", 100.0, True, False, "EXCEEDS_EXPECTATIONS"),
        "a2": ("ann", 40.0, False, False, "NEEDS_IMPROVEMENT"),
        "a3": ("ann", 0.0, False, True, "NEEDS_IMPROVEMENT"),
        "b1": ("bob", 100.0, True, False, "EXCEEDS_EXPECTATIONS"),
        "b2": ("bob", 50.0, False, False, "MEETS_EXPECTATIONS"),
        "b3": ("bob", 90.0, True, False, "EXCEEDS_EXPECTATIONS"),
        "u1": ("(no contact record)", 100.0, True, False, "EXCEEDS_EXPECTATIONS"),
    }
    weekly = _rows(lake_dir, "select * from v_agent_scorecard_weekly where form = 'handcount' "
                             "order by week_start, agent_username")
    got = [(str(r["week_start"]), r["agent_username"], r["form_version"], r["calls_evaluated"], r["avg_score_pct"],
            r["min_score_pct"], r["max_score_pct"], r["calls_passed"], r["pass_rate"], r["automatic_fails"],
            r["needs_improvement"], r["exceeds_expectations"]) for r in weekly]
    assert got == [
        # week of Monday 16 November: Friday 20th and Sunday 22nd
        ("2026-11-16", "ann", 3, 2, 70.0, 40.0, 100.0, 1, 0.5, 0, 1, 1),
        ("2026-11-16", "bob", 3, 1, 100.0, 100.0, 100.0, 1, 1.0, 0, 0, 1),
        # week of Monday 23 November
        ("2026-11-23", "(no contact record)", 3, 1, 100.0, 100.0, 100.0, 1, 1.0, 0, 0, 1),
        ("2026-11-23", "ann", 3, 1, 0.0, 0.0, 0.0, 0, 0.0, 1, 1, 0),
        ("2026-11-23", "bob", 3, 2, 70.0, 50.0, 90.0, 1, 0.5, 0, 0, 1),
    ]
    # the default form scored the same calls in their commits and is still there, untouched
    assert {r["form"] for r in _rows(lake_dir, "select distinct form from evaluations")} == {"default", "handcount"}
    # the applied form is kept in the lake: a rerun of a day scores it too
    assert (lake_dir / "_forms" / "handcount.yaml").read_text() == HAND_FORM
    commit_day(settings, DayResult(date(2026, 11, 20), calls=[{"contact_id": "a1", "duration_s": 60.0,
                                                               "agent_wpm": 150.0}], turns=[]))
    again = _rows(lake_dir, "select form, score_pct from v_evaluation_scores where dt = '2026-11-20' order by form")
    assert [r["form"] for r in again] == ["default", "handcount"]
    assert again[1]["score_pct"] == 50.0  # no hello any more: 0 + 30 + 20


def _files(lake_dir: Path) -> dict[str, str]:
    return {str(p.relative_to(lake_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(lake_dir.rglob("*.parquet"))}


def test_evaluate_over_a_range_rewrites_only_evaluations_and_never_duplicates(tmp_path):
    settings, lake_dir = _hand_lake(tmp_path)
    before = _files(lake_dir)
    first = evaluate(settings, date(2026, 11, 20), date(2026, 11, 30))
    assert first == {"2026-11-20": 7, "2026-11-22": 14, "2026-11-23": 28}  # the default form's 7 questions
    after = _files(lake_dir)
    others = {k: v for k, v in before.items() if not k.startswith("evaluations/")}
    assert {k: after[k] for k in others} == others  # every other table's committed file, byte for byte
    assert not (lake_dir / "evaluations" / "dt=2026-11-30").exists()  # no calls, no partition
    rows = _rows(lake_dir, "select count(*) as n, count(distinct contact_id) as calls from evaluations")[0]
    evaluate(settings, date(2026, 11, 20), date(2026, 11, 30))
    assert _rows(lake_dir, "select count(*) as n, count(distinct contact_id) as calls from evaluations")[0] == rows
    assert rows == {"n": 7 * 7, "calls": 7}


# --- export to Amazon Connect ---
def _botocore_errors(request: dict) -> str:
    """Validated here with botocore directly, not through the module under test."""
    import botocore.session
    from botocore.validate import ParamValidator

    shape = botocore.session.get_session().get_service_model("connect").operation_model(
        "CreateEvaluationForm").input_shape
    report = ParamValidator().validate(request, shape)
    return report.generate_report() if report.has_errors() else ""


def test_the_export_is_a_valid_create_evaluation_form_request():
    request = export_form(load_form(DEFAULT), "11111111-2222-3333-4444-555555555555")
    assert _botocore_errors(request) == ""
    assert request["ScoringStrategy"] == {"Mode": "QUESTION_ONLY", "Status": "ENABLED", "ScoreThresholds": [
        {"PerformanceCategory": "NEEDS_IMPROVEMENT", "MinScorePercentage": 0.0, "MaxScorePercentage": 60},
        {"PerformanceCategory": "EXCEEDS_EXPECTATIONS", "MinScorePercentage": 90, "MaxScorePercentage": 100.0}]}
    questions = {q["Question"]["RefId"]: q["Question"] for s in request["Items"] for q in s["Section"]["Items"]}
    assert list(questions) == QUESTIONS and sum(q["Weight"] for q in questions.values()) == 100
    escalation = questions["no_escalation"]["QuestionTypeProperties"]["SingleSelect"]
    assert escalation["Automation"] == {"Options": [{"RuleCategory": {
        "Category": "escalation_request", "Condition": "PRESENT", "OptionRefId": "no"}}], "DefaultOptionRefId": "yes"}
    interruptions = questions["agent_interruptions"]["QuestionTypeProperties"]["Numeric"]
    assert interruptions["Automation"] == {"PropertyValue": {"Label": "NUMBER_OF_INTERRUPTIONS"}}
    assert interruptions["Options"][-1] == {"MinValue": 5, "MaxValue": 1000, "Score": 0, "AutomaticFail": True}
    assert questions["talk_speed"]["NotApplicableEnabled"] is True
    # the validator does refuse what Connect's API would: it is not a test that cannot fail
    broken = json.loads(json.dumps(request))
    del broken["Items"][0]["Section"]["RefId"]
    broken["Items"][1]["Section"]["Items"][0]["Question"]["QuestionType"] = 7
    assert "RefId" in _botocore_errors(broken) and "QuestionType" in _botocore_errors(broken)
    assert validation_report(broken)
    with pytest.raises(FormError, match="InstanceId"):
        export_form(load_form(DEFAULT), "")  # InstanceId has a minimum length of 1


@pytest.mark.parametrize("scoring", [
    {"mode": "SECTION_ONLY", "weighted": False},
    {"mode": "QUESTION_ONLY", "weighted": False},
    {"mode": "POINTS_BASED", "weighted": True},
])
def test_other_scoring_modes_export_valid_requests_and_score(tmp_path, scoring):
    raw = yaml.safe_load(DEFAULT.read_text())
    raw["scoring"].update(scoring)
    for section in raw["sections"]:
        for q in section["questions"]:
            q.pop("weight")
    path = tmp_path / "form.yaml"
    path.write_text(yaml.safe_dump(raw))
    form = load_form(path)
    request = export_form(form, "i-1")
    assert _botocore_errors(request) == "" and request["ScoringStrategy"]["Mode"] == scoring["mode"]
    call = {"contact_id": "c", "duration_s": 60.0, "non_talk_s": 30.0, "agent_interruptions": 0, "agent_wpm": 150.0}
    rows = evaluate_call(form, call, [])
    assert sum(r["weight"] for r in rows) == pytest.approx(100)
    # no greeting, no closing (0 of 10 each), no escalation, no interruptions, pace (10 each), 50 % silence (0),
    # sentiment not measured (N/A)
    earned = sum(r["weight"] * r["points"] / r["max_points"] for r in rows)
    expected = {"SECTION_ONLY": 100 / 3,  # three sections of equal weight: 0 %, 100 %, 0 % (sentiment N/A)
                "QUESTION_ONLY": 100 * 3 / 6,  # six applicable questions of equal weight, three at their best
                "POINTS_BASED": 100 * 30 / 60}  # 30 of the applicable questions' 60 points
    assert earned == pytest.approx(expected[scoring["mode"]])


# --- forms that are refused ---
def _variant(tmp_path, change, text: str | None = None) -> Path:
    raw = yaml.safe_load(DEFAULT.read_text())
    if change:
        change(raw)
    path = tmp_path / "broken.yaml"
    path.write_text(text if text is not None else yaml.safe_dump(raw, allow_unicode=True))
    return path


def _q(raw, qid):
    return next(q for s in raw["sections"] for q in s["questions"] if q["id"] == qid)


BROKEN = [
    ("unknown category", lambda r: _q(r, "no_escalation")["answer"].update(category="angry_bird"),
     "no_escalation", "unknown category 'angry_bird'"),
    ("unknown metric", lambda r: _q(r, "talk_speed")["answer"].update(metric="agent_charisma"),
     "talk_speed", "unknown metric 'agent_charisma'"),
    ("two windows", lambda r: _q(r, "greeting")["answer"]["phrase"]["window"].update(last_s=30),
     "greeting", "a window is one of"),
    ("window backwards", lambda r: _q(r, "greeting")["answer"]["phrase"].update(window={"from_s": 30, "to_s": 10}),
     "greeting", "must be before its to_s"),
    ("window unknown key", lambda r: _q(r, "greeting")["answer"]["phrase"].update(window={"first_minutes": 1}),
     "greeting", "Extra inputs are not permitted"),
    ("negative window", lambda r: _q(r, "closing")["answer"]["phrase"].update(window={"last_s": -5}),
     "closing", "cannot be negative"),
    ("weights not 100", lambda r: _q(r, "greeting").update(weight=25), None, "add up to 105, not 100"),
    ("numeric overlap", lambda r: _q(r, "agent_interruptions")["options"][1].update(min=1),
     "agent_interruptions", "options overlap: 0..1 and 1..2"),
    ("numeric gap", lambda r: _q(r, "non_talk_share")["options"][1].update(min=17),
     "non_talk_share", "gap between 15 and 17"),
    ("yes/no twice present", lambda r: _q(r, "closing")["options"][1].update(when="present"),
     "closing", "options overlap or leave an answer out"),
    ("duplicate question id", lambda r: _q(r, "closing").update(id="greeting"), "greeting", "duplicate question id"),
    ("score over 10", lambda r: _q(r, "greeting")["options"][0].update(score=11), "greeting", "0..10"),
    ("no points at all", lambda r: _q(r, "closing")["options"][0].update(score=0), "closing", "no option scores"),
    ("two sources", lambda r: _q(r, "closing")["answer"].update(category="churn_risk"), "closing", "exactly one of"),
    ("terminal escape in a title", lambda r: _q(r, "greeting").update(title="Hi \x1b[31mred"), "greeting",
     "should match pattern"),
    ("path in an id", lambda r: _q(r, "greeting").update(id="../../etc/passwd"), "../../etc/passwd",
     "should match pattern"),
    ("thousands of phrases", lambda r: _q(r, "greeting")["answer"]["phrase"].update(phrases=["hi"] * 5000),
     "greeting", "at most 200"),
    ("a phrase with no word", lambda r: _q(r, "greeting")["answer"]["phrase"].update(phrases=["!!!"]),
     "greeting", "at least one word"),
]


@pytest.mark.parametrize(("change", "question", "reason"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_a_broken_form_is_refused_naming_file_question_and_reason(tmp_path, change, question, reason):
    path = _variant(tmp_path, change)
    with pytest.raises(FormError) as caught:
        load_form(path)
    error = caught.value
    assert error.file == str(path) and error.question == question and reason in error.reason, str(error)
    assert str(path) in str(error) and isinstance(error, ConfigurationError)


@pytest.mark.parametrize(("text", "reason"), [
    ("a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n", "aliases"),
    ("- just\n- a list\n", "a form is a YAML mapping"),
    ("name: [unclosed\n", "not valid YAML"),
    ("[" * 5000 + "]" * 5000, "not valid YAML"),
])
def test_hostile_yaml_is_refused(tmp_path, text, reason):
    with pytest.raises(FormError, match=re.escape(reason)):
        load_form(_variant(tmp_path, None, text))


def test_oversized_and_binary_files_are_refused_before_parsing(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text(DEFAULT.read_text() + "#" * (300 * 1024))
    with pytest.raises(FormError, match="over the 256 KiB"):
        load_form(big)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00name: x")
    with pytest.raises(FormError, match="not UTF-8"):
        load_form(binary)


def test_a_form_checked_against_the_rules_in_effect(tmp_path):
    """A category the lake's rules no longer have is refused, even if the shipped rules have it."""
    rules = load_rules().model_copy(update={"categories": tuple(c for c in load_rules().categories
                                                                if c.name != "escalation_request")})
    with pytest.raises(FormError, match="unknown category 'escalation_request'"):
        load_form(DEFAULT, rules)


# --- the command line ---
runner = CliRunner()


def test_cli_exports_a_form_and_refuses_a_broken_one(tmp_path):
    from pipeline.cli import app

    out = tmp_path / "form.json"
    result = runner.invoke(app, ["evaluate", "--export", "default", "--instance-id", "i-123", "--out", str(out)])
    assert result.exit_code == 0, result.output
    request = json.loads(out.read_text())
    assert request["InstanceId"] == "i-123" and _botocore_errors(request) == ""
    broken = _variant(tmp_path, lambda r: _q(r, "talk_speed")["answer"].update(metric="nope"))
    settings, lake_dir = _hand_lake(tmp_path)
    before = _files(lake_dir)
    result = runner.invoke(app, ["evaluate", "--from", "2026-11-20", "--to", "2026-11-23", "--form", str(broken),
                                 "--lake", str(lake_dir)])
    assert result.exit_code == 2
    assert "broken.yaml" in result.output and "'talk_speed'" in result.output and "unknown metric" in result.output
    assert _files(lake_dir) == before  # refused before any day was touched
    result = runner.invoke(app, ["evaluate", "--from", "2026-11-20", "--to", "2026-11-23", "--lake", str(lake_dir)])
    assert result.exit_code == 0 and "dt=2026-11-23: 28 evaluation answers" in result.output
    result = runner.invoke(app, ["evaluate", "--lake", str(lake_dir)])
    assert result.exit_code == 2 and "--from and --to" in result.output
    result = runner.invoke(app, ["evaluate", "--export", "default", "--from", "2026-11-20"])
    assert result.exit_code == 2 and "without --from" in result.output
    result = runner.invoke(app, ["evaluate", "--export", "no_such_form"])
    assert result.exit_code == 2 and "no evaluation form named 'no_such_form' (shipped: default)" in result.output


def test_a_form_the_rules_in_effect_cannot_answer_is_left_out_of_nightly_scoring(tmp_path, caplog):
    """Rules replaced with recategorize --rules may lack a category the shipped form reads: runs go on
    without that form (and say so) instead of failing every night; naming the form explicitly refuses it."""
    from pipeline.analytics.evaluations import effective_forms

    rules = load_rules().model_copy(update={"categories": tuple(c for c in load_rules().categories
                                                                if c.name != "escalation_request")})
    settings = Settings(lake=str(tmp_path / "lake"))
    assert effective_forms(settings, rules) == []
    assert "question 'no_escalation': unknown category 'escalation_request'" in caplog.text
    assert [f.name for f in effective_forms(settings, load_rules())] == ["default"]


def test_a_staged_day_s_columnar_turns_score_as_rows_do():
    """The DAG's commit hands over the day's turns as one arrow table (a busy day's turns as Python rows would
    be gigabytes): the answers are the same as from rows, in any order, with turns of no stored call ignored."""
    import pyarrow as pa

    from pipeline.analytics.evaluations import evaluate_day
    from pipeline.lake.schema import TABLES

    day = _scripted_day()
    form = load_form(DEFAULT)
    stray = dict(day.turns[0], contact_id="zzz-not-a-call")
    calls = pa.Table.from_pylist([{k: c.get(k) for k in TABLES["calls"].names} for c in reversed(day.calls)],
                                 schema=TABLES["calls"])
    turns = pa.Table.from_pylist([{k: t.get(k) for k in TABLES["turns"].names} for t in [stray, *reversed(day.turns)]],
                                 schema=TABLES["turns"])
    as_rows = evaluate_day([form], day.calls, day.turns, [])
    assert evaluate_day([form], calls, turns, []) == as_rows
    assert len(as_rows) == 4 * len(QUESTIONS) and {r["contact_id"] for r in as_rows} == set(TRUTH)


def test_the_s3_lake_scores_in_its_commit_and_re_scores_with_an_applied_form(aws, tmp_path):
    """The AWS engine's lake (S3 + Glue, on moto): the same commit, the same re-scoring, the form kept on S3."""
    from pipeline.wiring import build_lake
    from tests.aws_support import LAKE_BUCKET, all_objects, aws_settings

    settings = aws_settings()
    commit_day(settings, _scripted_day())
    lake = build_lake(settings)
    assert len(lake.read_partition("evaluations", DAY2).to_pylist()) == 4 * len(QUESTIONS)
    columns = aws.client("glue").get_table(DatabaseName="aftercall", Name="evaluations")["Table"][
        "StorageDescriptor"]["Columns"]
    assert {c["Name"]: c["Type"] for c in columns}["automatic_fail"] == "boolean"
    form = tmp_path / "handcount.yaml"
    form.write_text(HAND_FORM)
    assert evaluate(settings, DAY2, DAY2, form=str(form)) == {"2026-11-23": 4 * 3}
    rows = lake.read_partition("evaluations", DAY2).to_pylist()
    assert sorted({(r["form"], r["form_version"]) for r in rows}) == [("default", 1), ("handcount", 3)]
    assert len(rows) == 4 * len(QUESTIONS) + 4 * 3
    assert any(k.endswith("/_forms/handcount.yaml") for k in all_objects(aws.client("s3"), LAKE_BUCKET))


def test_a_broken_shipped_form_stops_a_run_before_anything_is_transcribed(tmp_path, monkeypatch):
    from pipeline.analytics import evaluations
    from pipeline.steps import run
    from pipeline.steps.orchestration import plan_day

    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "default.yaml").write_text(DEFAULT.read_text().replace("metric: agent_wpm", "metric: agent_wmp"))
    monkeypatch.setattr(evaluations, "FORMS_DIR", forms)

    def never(*args, **kwargs):
        raise AssertionError("discovered recordings despite a broken form")

    monkeypatch.setattr(run, "discover_day", never)
    monkeypatch.setattr("pipeline.steps.orchestration.discover_day", never)
    settings = Settings(source=str(SAMPLES_DIR), lake=str(tmp_path / "lake"))
    for start in (lambda: run.run_day(settings, DEMO_DAY), lambda: plan_day(settings, DEMO_DAY, "r1")):
        with pytest.raises(FormError, match="question 'talk_speed': unknown metric 'agent_wmp'"):
            start()
    assert not (tmp_path / "lake").exists()


def test_two_shipped_forms_of_one_name_are_refused_and_unmeasurable_metrics_are_not_applicable(tmp_path, monkeypatch):
    from pipeline.analytics import evaluations
    from pipeline.analytics.evaluations import effective_forms

    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "a.yaml").write_text(DEFAULT.read_text())
    (forms / "b.yaml").write_text(DEFAULT.read_text().replace("version: 1", "version: 2"))
    monkeypatch.setattr(evaluations, "FORMS_DIR", forms)
    with pytest.raises(FormError, match="b.yaml: form: the form name 'default' is also .*a.yaml's"):
        effective_forms(Settings(lake=str(tmp_path / "lake")), load_rules())
    call = {"contact_id": "c", "duration_s": 0.0, "non_talk_s": 0.0, "agent_interruptions": 0,
            "agent_wpm": float("inf"), "customer_sentiment_end": float("nan")}
    got = {r["question_id"]: r["answer"] for r in evaluate_call(load_form(DEFAULT), call, [])}
    assert (got["talk_speed"], got["customer_sentiment_end"]) == ("NOT_APPLICABLE", "NOT_APPLICABLE")
    assert got["non_talk_share"] == "UNANSWERED"  # a call of no length has no share of silence
