"""Each rule type matching and not matching, windows, negation, and recategorize."""

from __future__ import annotations

from datetime import date

import pytest

from pipeline.analytics.categories import RuleSet, categorize, load_rules
from pipeline.exceptions import ConfigurationError


def turn(i, who, begin, end, text="", sentiment="NEUTRAL", cut=False):
    return {"contact_id": "c1", "turn_index": i, "participant": who, "begin_s": begin, "end_s": end, "text": text,
            "sentiment": sentiment, "is_interruption": cut}


CALL = {"contact_id": "c1", "duration_s": 100.0}


def rules(*conditions, match="all") -> RuleSet:
    return RuleSet.model_validate({"version": 7, "categories": [
        {"name": "rule", "match": match, "conditions": list(conditions)}]})


def matches(rule_set, turns):
    return categorize(rule_set, CALL, turns)


def test_phrase_whole_words_case_and_punctuation_insensitive_by_participant():
    r = rules({"type": "phrase", "participant": "CUSTOMER", "phrases": ["cancel my account"]})
    hit = matches(r, [turn(0, "AGENT", 0, 5, "Hello"), turn(1, "CUSTOMER", 6, 9, "I want to CANCEL my account!"),
                      turn(2, "CUSTOMER", 20, 25, "cancel my account, please")])
    assert hit == [{"contact_id": "c1", "category": "rule", "first_match_s": 6, "match_count": 2, "rules_version": 7}]
    assert matches(r, [turn(0, "AGENT", 0, 5, "cancel my account")]) == []  # wrong participant
    assert matches(r, [turn(0, "CUSTOMER", 0, 5, "cancel my accounting")]) == []  # not a whole word


def test_windows_absolute_and_relative():
    early = rules({"type": "phrase", "phrases": ["hello"], "window": {"first_s": 10}})
    late = rules({"type": "phrase", "phrases": ["bye"], "window": {"last_pct": 10}})
    between = rules({"type": "phrase", "phrases": ["refund"], "window": {"from_s": 30, "to_s": 60}})
    turns = [turn(0, "AGENT", 2, 4, "hello"), turn(1, "AGENT", 40, 42, "refund"), turn(2, "AGENT", 95, 97, "bye")]
    assert matches(early, turns) and matches(late, turns) and matches(between, turns)
    moved = [turn(0, "AGENT", 12, 14, "hello"), turn(1, "AGENT", 70, 72, "refund"), turn(2, "AGENT", 80, 82, "bye")]
    assert not matches(early, moved) and not matches(late, moved) and not matches(between, moved)


def test_sentiment_needs_at_least_half_of_the_window_turns():
    r = rules({"type": "sentiment", "participant": "CUSTOMER", "sentiment": "NEGATIVE", "window": {"last_pct": 50}})
    half = [turn(0, "CUSTOMER", 60, 62, sentiment="NEGATIVE"), turn(1, "CUSTOMER", 70, 72, sentiment="NEUTRAL"),
            turn(2, "CUSTOMER", 10, 12, sentiment="POSITIVE")]
    assert matches(r, half)[0]["first_match_s"] == 60
    third = half + [turn(3, "CUSTOMER", 80, 82, sentiment="POSITIVE")]
    assert matches(r, third) == []
    assert matches(r, []) == []  # no turns at all is not "mostly negative"


def test_interruptions_by_participant_at_least_n():
    r = rules({"type": "interruptions", "by": "AGENT", "at_least": 3})
    cuts = [turn(i, "AGENT", 10 * i, 10 * i + 2, cut=True) for i in range(3)]
    # the evidence is the FIRST cut-in (0 s), not the third, where the threshold was reached
    assert matches(r, cuts)[0] | {} == {"contact_id": "c1", "category": "rule", "first_match_s": 0,
                                        "match_count": 3, "rules_version": 7}
    assert matches(r, cuts[:2] + [turn(5, "CUSTOMER", 50, 52, cut=True)]) == []


def test_non_talk_finds_mutual_silence_including_the_end():
    r = rules({"type": "non_talk", "min_s": 10})
    assert matches(r, [turn(0, "AGENT", 0, 30), turn(1, "CUSTOMER", 25, 50), turn(2, "AGENT", 62, 95)])[0][
        "first_match_s"] == 50
    assert matches(r, [turn(0, "AGENT", 0, 30), turn(1, "CUSTOMER", 35, 88)])[0]["first_match_s"] == 88
    assert matches(r, [turn(0, "AGENT", 0, 50), turn(1, "CUSTOMER", 55, 95)]) == []


def test_negation_and_any():
    greeting = rules({"type": "phrase", "participant": "AGENT", "phrases": ["thank you for calling"],
                      "window": {"first_s": 30}, "negate": True})
    assert matches(greeting, [turn(0, "AGENT", 1, 4, "Hi")])[0]["first_match_s"] == 0.0
    assert matches(greeting, [turn(0, "AGENT", 1, 4, "Thank you for calling Acme")]) == []
    either = rules({"type": "phrase", "phrases": ["manager"]}, {"type": "interruptions", "by": "CUSTOMER"},
                   match="any")
    assert matches(either, [turn(0, "CUSTOMER", 5, 6, "let me speak to a manager")])
    assert not matches(either, [turn(0, "CUSTOMER", 5, 6, "thanks")])


def test_shipped_rules_load_and_bad_rules_are_refused(tmp_path):
    shipped = load_rules()
    names = {c.name for c in shipped.categories}
    assert {"churn_risk", "escalation_request", "missing_greeting", "long_silence",
            "agent_interrupts_customer"} <= names
    bad = tmp_path / "rules.yaml"
    bad.write_text("version: 1\ncategories:\n  - name: x\n    conditions:\n      - type: sentiment\n")
    with pytest.raises(ConfigurationError, match="sentiment condition needs"):
        load_rules(str(bad))


def test_recategorize_rewrites_categories_from_stored_turns_only(tmp_path):
    from pipeline.analytics.categories import recategorize
    from pipeline.lake.tables import LocalLake
    from pipeline.settings import Settings

    lake = LocalLake(tmp_path / "lake")
    day = date(2026, 11, 22)
    lake.write_partition("calls", day, [{"contact_id": "c1", "duration_s": 100.0}])
    lake.write_partition("turns", day, [turn(0, "CUSTOMER", 5, 9, "I will take my business elsewhere")])
    turns_file = lake.partition_dir("turns", day) / lake.pointer(day)["tables"]["turns"]
    before = turns_file.stat().st_mtime_ns
    first = recategorize(Settings(lake=str(tmp_path / "lake")), day, day)
    assert first == {"2026-11-22": 3}  # churn_risk, missing_greeting (no agent turn), long_silence (9 s..100 s)
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text("version: 2\ncategories:\n  - name: business_elsewhere\n    conditions:\n"
                          "      - type: phrase\n        phrases: [business elsewhere]\n")
    recategorize(Settings(lake=str(tmp_path / "lake"), categories=str(rules_file)), day, date(2026, 11, 24))
    rows = lake.read_partition("call_categories", day).to_pylist()
    assert rows == [{"contact_id": "c1", "category": "business_elsewhere", "first_match_s": 5.0, "match_count": 1,
                     "rules_version": 2}]
    assert turns_file.stat().st_mtime_ns == before
    assert not lake.partition_dir("call_categories", date(2026, 11, 23)).exists()


def test_rules_applied_with_recategorize_persist_through_the_next_run(tmp_path, caplog):
    """A rerun of the day with the configured (older) rules says so and keeps the applied ones."""
    from pipeline.analytics.categories import effective_rules, recategorize
    from pipeline.lake.tables import LocalLake
    from pipeline.steps.run import DayResult, commit_day
    from pipeline.settings import Settings

    day = date(2026, 11, 22)
    lake_dir = tmp_path / "lake"
    call = {"contact_id": "c1", "duration_s": 100.0}
    turns = [turn(0, "CUSTOMER", 5, 9, "I will take my business elsewhere")]
    commit_day(Settings(lake=str(lake_dir)), DayResult(day, calls=[call], turns=turns))
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text("version: 99\ncategories:\n  - name: business_elsewhere\n    conditions:\n"
                          "      - type: phrase\n        phrases: [business elsewhere]\n")
    recategorize(Settings(lake=str(lake_dir), categories=str(rules_file)), day, day)
    rules_file.unlink()  # the user's file is gone: the lake keeps what was applied
    commit_day(Settings(lake=str(lake_dir)), DayResult(day, calls=[call], turns=turns))
    rows = LocalLake(lake_dir).read_partition("call_categories", day).to_pylist()
    assert [(r["category"], r["rules_version"]) for r in rows] == [("business_elsewhere", 99)]
    assert "newer than the configured" in caplog.text
    assert effective_rules(Settings(lake=str(lake_dir))).version == 99
