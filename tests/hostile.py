"""A lake whose every text column that reaches the report holds markup that would run script if unescaped.

Each payload names its column and, if it ever ran, sets ``window.__xss`` and opens an alert: the
browser test asserts neither happens and that every payload reads as text.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import yaml

from pipeline.lake.tables import LocalLake

DAY = "2026-11-22"


def payload(column: str) -> str:
    """Markup for element content, double- and single-quoted attributes and a script block, all at once."""
    return (f"{column}<img src=x onerror=\"window.__xss='{column}';alert(1)\">\"'><svg onload=window.__xss=1>"
            f"</script><script>window.__xss='{column}';alert(2)</script>")


PAYLOADS = {c: payload(c) for c in ("contact_id", "agent_username", "queue_name", "attribute_name", "attribute_value",
                                     "category", "turn_text", "participant", "language_code", "transcriber",
                                     # evaluations: a form's text (a team's YAML) and what the lake holds
                                     "form_title", "question_text", "option_text", "form", "answer", "evidence",
                                     # the engine's summary of the call (Call Analytics), shown on its page
                                     "summary")}
GOOD_ID = "plain-1"


def _call(cid: str, **kw: object) -> dict:
    row = dict(contact_id=cid, recording_uri=f"/x/{cid}.wav", call_started_at=datetime.fromisoformat(f"{DAY}T09:30"),
               duration_s=60.0, sample_rate_hz=8000, agent_channel=1, agent_talk_s=20.0, customer_talk_s=20.0,
               non_talk_s=10.0, overlap_s=1.0, agent_interruptions=0, customer_interruptions=1,
               customer_sentiment_start=-1.0, customer_sentiment_end=1.0, customer_sentiment_shift=2.0,
               customer_sentiment_q1=-1.0, customer_sentiment_q2=0.0, customer_sentiment_q3=0.5, customer_sentiment_q4=1.0,
               transcriber="t", language_code="en-US", processed_at=datetime(2026, 11, 25), pipeline_version="t")
    row.update(kw)
    return row


def _turn(cid: str, i: int, who: object, begin: float, end: float, text: object) -> dict:
    return dict(contact_id=cid, turn_index=i, participant=who, begin_s=begin, end_s=end, text=text,
                word_count=3, confidence=0.9, sentiment="NEUTRAL", sentiment_positive=0.0, sentiment_negative=0.0,
                sentiment_neutral=1.0, sentiment_mixed=0.0, loudness=50.0, is_interruption=i == 1)


HOSTILE_FORM = "hostile"  # a form applied to the lake (<lake>/_forms/hostile.yaml) whose every text is markup


def _form_yaml() -> str:
    p = PAYLOADS
    return yaml.safe_dump({
        "name": HOSTILE_FORM, "version": 1, "title": p["form_title"],
        "scoring": {"mode": "QUESTION_ONLY", "pass_score": 70},
        "sections": [{"id": "main", "title": "Main", "questions": [
            {"id": "greet", "title": p["question_text"], "weight": 60,
             "answer": {"phrase": {"participant": "AGENT", "phrases": ["hello"]}},
             "options": [{"id": "yes", "text": p["option_text"], "score": 10, "when": "present"},
                         {"id": "no", "text": "No", "score": 0, "when": "absent"}]},
            {"id": "odd", "title": "Odd", "weight": 40, "answer": {"category": "billing"},
             "options": [{"id": "yes", "text": "Yes", "score": 10, "when": "present"},
                         {"id": "no", "text": "No", "score": 0, "when": "absent"}]}]}]})


def _evaluation(cid: str, form: str, qid: str, answer: str, points: int, evidence: str, turn: int | None) -> dict:
    return dict(contact_id=cid, form=form, form_version=1, section_id="main", question_id=qid,
                question_type="SINGLESELECT", answer=answer, value=None, points=points, max_points=10, weight=50.0,
                not_applicable=False, automatic_fail=False, pass_score=70.0, needs_improvement_below=None,
                exceeds_expectations_from=None, evidence_turn=turn, evidence=evidence)


def write_hostile_lake(root: Path) -> Path:
    """One call with hostile values everywhere (and a turn without participant or text), one plain call."""
    p = PAYLOADS
    bad = p["contact_id"]
    LocalLake(root).write_partitions(DAY, {
        "calls": [_call(bad, language_code=p["language_code"], transcriber=p["transcriber"], summary=p["summary"]),
                  _call(GOOD_ID)],
        "turns": [
            _turn(bad, 0, "AGENT", 1.0, 5.0, "Hello, how can I help?"),
            _turn(bad, 1, p["participant"], 4.5, 12.0, p["turn_text"]),
            _turn(bad, 2, None, 13.0, 15.0, None),  # what an old import let in: no participant, no text
            _turn(bad, 3, "CUSTOMER", 16.0, 20.0, "Thanks, bye."),
            _turn(GOOD_ID, 0, "AGENT", 1.0, 3.0, "Good morning."),
        ],
        "failures": [],
        "turns_raw": [],
        "call_categories": [dict(contact_id=bad, category=p["category"], first_match_s=6.0, match_count=1,
                                 rules_version=1),
                            dict(contact_id=GOOD_ID, category="billing", first_match_s=1.5, match_count=1,
                                 rules_version=1)],
        "contacts": [dict(contact_id=bad, agent_username=p["agent_username"], queue_name=p["queue_name"]),
                     dict(contact_id=GOOD_ID, agent_username="sarah.k", queue_name="Billing")],
        "contact_attributes": [dict(contact_id=bad, name=p["attribute_name"], value=p["attribute_value"]),
                               dict(contact_id=GOOD_ID, name=p["attribute_name"], value="plain value")],
        "evaluations": [_evaluation(bad, HOSTILE_FORM, "greet", "yes", 10, p["evidence"], 0),
                        _evaluation(bad, HOSTILE_FORM, "odd", p["answer"], 0, "category billing not matched", None),
                        _evaluation(bad, p["form"], "greet", "yes", 10, "said hello", 0),
                        _evaluation(GOOD_ID, HOSTILE_FORM, "greet", "yes", 10, "said 'good morning'", 0)],
    })
    (root / "_forms").mkdir(parents=True, exist_ok=True)
    (root / "_forms" / f"{HOSTILE_FORM}.yaml").write_text(_form_yaml())
    return root
