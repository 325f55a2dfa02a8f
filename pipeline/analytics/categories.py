"""Categories: rules over a call's turns and metrics, with Contact Lens' semantics.

Rules live in a versioned YAML file (``categories/rules.yaml``; ``AFTERCALL_CATEGORIES``
names another). A category matches when all (or, with ``match: any``, any) of its conditions
hold. Conditions look only at the stored ``turns`` and ``calls`` rows, so history can be
re-categorised without transcribing again:

* ``phrase``: a turn of the participant in the window contains one of the phrases as whole
  words, ignoring case and punctuation. It matches at the first such turn; every matching
  turn counts.
* ``sentiment``: at least half of the participant's turns in the window have the sentiment
  (Contact Lens' rule), and there is at least one such turn.
* ``interruptions``: the participant (``by``) cut in at least ``at_least`` times in the window.
* ``non_talk``: a period of at least ``min_s`` seconds in the window in which nobody speaks.
* ``sentiment_outcome``: the customer's outcome (:func:`pipeline.steps.sentiment.outcome`, the one definition the
  views, the KPI and the report use) is ``ended`` (NEGATIVE / NEUTRAL / POSITIVE) and/or ``moved``
  (ROSE / FELL / FLAT), from the call's ``customer_sentiment_end`` and ``customer_sentiment_shift``. It
  matches at the customer's first turn in the last quarter (where the end score is measured).
* ``window``: ``first_s``/``last_s`` seconds, ``from_s``..``to_s``, or ``first_pct``/``last_pct``
  of the call's duration; a turn is in the window when it starts in it.
* ``negate: true`` inverts a condition (it then has no match time).

``first_match_s`` is the earliest match time of the category's conditions (0 when only
negated conditions made it match): each condition's time is its FIRST piece of evidence (the first
phrase, the first turn with the sentiment, the first cut-in even when ``at_least`` asks for three, the
first long silence); ``match_count`` sums their match counts (at least 1).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipeline.exceptions import ConfigurationError
from pipeline.steps.sentiment import outcome

__all__ = ["RULES_FILE", "Category", "Condition", "RuleSet", "Window", "applied_rules", "categorize", "categorize_day",
           "categorize_table", "effective_rules", "load_rules", "phrase_turns", "recategorize"]

log = logging.getLogger(__name__)


def _rules_file() -> Path:
    here = Path(__file__).resolve().parents[1]  # pipeline/: the wheel puts the data folders there
    installed = here / "_categories" / "rules.yaml"  # a wheel carries categories/ inside the package
    return installed if installed.exists() else here.parent / "categories" / "rules.yaml"


RULES_FILE = _rules_file()
Participant = Literal["AGENT", "CUSTOMER"]


class Window(BaseModel):
    # finite bounds only: a window of .nan matched nothing and .inf read "the first inf s", both silently
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    first_s: float | None = None
    last_s: float | None = None
    from_s: float | None = None
    to_s: float | None = None
    first_pct: float | None = Field(default=None, gt=0, le=100)
    last_pct: float | None = Field(default=None, gt=0, le=100)

    def bounds(self, duration_s: float) -> tuple[float, float]:
        if self.first_s is not None:
            return 0.0, self.first_s
        if self.last_s is not None:
            return max(0.0, duration_s - self.last_s), duration_s
        if self.first_pct is not None:
            return 0.0, duration_s * self.first_pct / 100
        if self.last_pct is not None:
            return duration_s * (1 - self.last_pct / 100), duration_s
        return self.from_s or 0.0, self.to_s if self.to_s is not None else duration_s


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["phrase", "sentiment", "interruptions", "non_talk", "sentiment_outcome"]
    participant: Participant | None = None
    by: Participant | None = None
    phrases: tuple[str, ...] = ()
    sentiment: Literal["POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED"] | None = None
    at_least: int = Field(default=1, ge=1)
    min_s: float = Field(default=3.0, gt=0)
    window: Window = Window()
    negate: bool = False
    ended: Literal["NEGATIVE", "NEUTRAL", "POSITIVE"] | None = None  # sentiment_outcome
    moved: Literal["ROSE", "FELL", "FLAT"] | None = None  # sentiment_outcome

    @model_validator(mode="after")
    def _complete(self) -> Condition:
        if self.type == "phrase" and not self.phrases:
            raise ValueError("a phrase condition needs phrases")
        if self.type == "sentiment" and (self.sentiment is None or self.participant is None):
            raise ValueError("a sentiment condition needs participant and sentiment")
        if self.type == "interruptions" and self.by is None:
            raise ValueError("an interruptions condition needs by: AGENT or CUSTOMER")
        if self.type == "sentiment_outcome":
            if self.ended is None and self.moved is None:
                raise ValueError("a sentiment_outcome condition needs ended and/or moved")
            if self.participant not in (None, "CUSTOMER") or self.window != Window():
                raise ValueError("a sentiment_outcome condition is the customer's, over the whole call: "
                                 "no participant other than CUSTOMER, no window")
        elif self.ended is not None or self.moved is not None:
            raise ValueError("ended and moved belong to sentiment_outcome conditions")
        return self


class Category(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = ""
    match: Literal["all", "any"] = "all"
    conditions: tuple[Condition, ...] = Field(min_length=1)


class RuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int
    categories: tuple[Category, ...]


def _parse_rules(read: Any, where: object) -> RuleSet:
    """``read()``'s YAML as a validated rule set; any problem is one ConfigurationError naming ``where``."""
    try:
        return RuleSet.model_validate(yaml.safe_load(read()))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigurationError(f"category rules {where}: {exc}") from None


@cache
def load_rules(path: str | None = None) -> RuleSet:
    """The rule set at ``path`` (default: the shipped ``categories/rules.yaml``), validated."""
    file = Path(path) if path else RULES_FILE
    return _parse_rules(file.read_text, file)


@dataclass(frozen=True, slots=True)
class _Hit:
    matched: bool
    first_s: float | None = None
    count: int = 0


def _words(text: str) -> str:
    return " " + " ".join(re.findall(r"[\w']+", text.lower())) + " "


@cache
def _phrases(phrases: tuple[str, ...]) -> list[str]:
    return [_words(p) for p in phrases]


def _in_window(turns: Sequence[Mapping[str, Any]], cond: Condition, duration_s: float,
               participant: str | None) -> list[Mapping[str, Any]]:
    lo, hi = cond.window.bounds(duration_s)
    return [t for t in turns if lo <= t["begin_s"] <= hi and (participant is None or t["participant"] == participant)]


def phrase_turns(cond: Condition, call: Mapping[str, Any],
                 turns: Sequence[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], str]]:
    """The turns a phrase condition matches, in order, each with the first of its phrases it says: the same
    matching as the rules' (whole words, window, participant), for callers that must name their evidence."""
    duration = float(call.get("duration_s") or max((t["end_s"] for t in turns), default=0.0))
    hits = []
    for t in _in_window(turns, cond, duration, cond.participant):
        said = _words(t["text"] or "")
        phrase = next((p for p, w in zip(cond.phrases, _phrases(cond.phrases), strict=True) if w in said), None)
        if phrase is not None:
            hits.append((t, phrase))
    return hits


def _evaluate(cond: Condition, call: Mapping[str, Any], turns: Sequence[Mapping[str, Any]],
              words: Mapping[int, str] | None = None) -> _Hit:
    """``words``: each turn's normalised text by ``id(turn)``, made once per call (not once per phrase rule)."""
    duration = float(call.get("duration_s") or max((t["end_s"] for t in turns), default=0.0))
    if cond.type == "phrase":
        wanted = _phrases(cond.phrases)
        said = (lambda t: words[id(t)]) if words is not None else (lambda t: _words(t["text"] or ""))
        hits = [t for t in _in_window(turns, cond, duration, cond.participant)
                if any(w in said(t) for w in wanted)]
        return _Hit(bool(hits), hits[0]["begin_s"] if hits else None, len(hits))
    if cond.type == "sentiment":
        own = _in_window(turns, cond, duration, cond.participant)
        with_it = [t for t in own if t.get("sentiment") == cond.sentiment]
        ok = bool(own) and len(with_it) * 2 >= len(own) and bool(with_it)
        return _Hit(ok, with_it[0]["begin_s"] if ok else None, len(with_it) if ok else 0)
    if cond.type == "interruptions":
        cuts = [t for t in _in_window(turns, cond, duration, cond.by) if t.get("is_interruption")]
        ok = len(cuts) >= cond.at_least
        return _Hit(ok, cuts[0]["begin_s"] if ok else None, len(cuts) if ok else 0)  # evidence: the first cut-in
    if cond.type == "sentiment_outcome":
        found = outcome(call.get("customer_sentiment_end"), call.get("customer_sentiment_shift"))
        ok = found.ended is not None and (cond.ended is None or found.ended == cond.ended) and \
            (cond.moved is None or found.moved == cond.moved)
        last_quarter = duration * 0.75
        first = next((t["begin_s"] for t in turns if t["participant"] == "CUSTOMER" and t["end_s"] > last_quarter),
                     round(last_quarter, 3))
        return _Hit(ok, first if ok else None, 1 if ok else 0)
    lo, hi = cond.window.bounds(duration)  # non_talk: mutual silences from the turns' spans
    cursor, found = lo, []
    for t in sorted(turns, key=lambda t: t["begin_s"]):
        if t["end_s"] < lo or t["begin_s"] > hi:
            continue
        if t["begin_s"] - cursor >= cond.min_s:
            found.append(cursor)
        cursor = max(cursor, t["end_s"])
    if hi - cursor >= cond.min_s:
        found.append(cursor)
    return _Hit(bool(found), found[0] if found else None, len(found))


def categorize(rules: RuleSet, call: Mapping[str, Any], turns: Sequence[Mapping[str, Any]]) -> list[dict]:
    """The categories one call matches: rows of ``call_categories`` (without ``dt``)."""
    turns = sorted(turns, key=lambda t: t["turn_index"])
    words = {id(t): _words(t["text"] or "") for t in turns}
    rows = []
    for category in rules.categories:
        hits = [_evaluate(c, call, turns, words) for c in category.conditions]
        truths = [h.matched != c.negate for h, c in zip(hits, category.conditions, strict=True)]
        if not (all(truths) if category.match == "all" else any(truths)):
            continue
        positive = [h for h, c, ok in zip(hits, category.conditions, truths, strict=True) if ok and not c.negate]
        times = [h.first_s for h in positive if h.first_s is not None]
        rows.append({"contact_id": call["contact_id"], "category": category.name,
                     "first_match_s": round(min(times), 3) if times else 0.0,
                     "match_count": max(1, sum(h.count for h in positive)), "rules_version": rules.version})
    return rows


# The columns the rules read (see _evaluate): recategorize reads no others.
CALL_COLUMNS = ["contact_id", "duration_s", "customer_sentiment_end", "customer_sentiment_shift"]
TURN_COLUMNS = ["contact_id", "turn_index", "participant", "begin_s", "end_s", "text", "sentiment", "is_interruption"]
TURN_BATCH = 20_000  # turns turned into Python rows at a time (a day of 10,000 calls holds ~330,000)


def _turns_by_call(turns: Any) -> Iterator[tuple[str, list[dict]]]:
    """(contact_id, its turns) from an arrow table, in contact_id then turn_index order, a batch of rows at
    a time (sorted by index, batch by batch: no sorted copy of the whole day)."""
    import pyarrow.compute as pc

    order = pc.sort_indices(turns, sort_keys=[("contact_id", "ascending"), ("turn_index", "ascending")])
    current, bucket = None, []
    for start in range(0, len(order), TURN_BATCH):
        for turn in turns.take(order[start:start + TURN_BATCH]).to_pylist():
            if turn["contact_id"] != current:
                if bucket:
                    yield current, bucket
                current, bucket = turn["contact_id"], []
            bucket.append(turn)
    if bucket:
        yield current, bucket


def categorize_table(rules: RuleSet, calls: Any, turns: Any) -> list[dict]:
    """:func:`categorize_day` over a day's arrow tables, with the same rows, holding only one batch of
    turns as Python rows at a time (a day's turns as dicts: ~1 KB each, hundreds of MB for a busy day)."""
    calls = calls.select([c for c in CALL_COLUMNS if c in calls.column_names])
    if calls["contact_id"].null_count:
        calls = calls.filter(calls["contact_id"].is_valid())
    turns = turns.select(TURN_COLUMNS)
    if turns["contact_id"].null_count:
        turns = turns.filter(turns["contact_id"].is_valid())
    groups = _turns_by_call(turns)
    group: tuple[str, list[dict]] | None = next(groups, None)
    rows: list[dict] = []
    for call in calls.sort_by("contact_id").to_pylist():  # two columns: small
        cid = call["contact_id"]
        while group is not None and group[0] < cid:  # turns of no stored call: nothing to categorise
            group = next(groups, None)
        own = group[1] if group is not None and group[0] == cid else []
        rows += categorize(rules, call, own)
    return rows


def categorize_day(rules: RuleSet, calls: Iterable[Mapping[str, Any]], turns: Iterable[Mapping[str, Any]]) -> list[dict]:
    by_call: dict[str, list[Mapping[str, Any]]] = {}
    for t in turns:
        by_call.setdefault(t["contact_id"], []).append(t)
    return [row for call in sorted(calls, key=lambda c: c["contact_id"])
            for row in categorize(rules, call, by_call.get(call["contact_id"], []))]


RULES_FOLDER = "_rules"


def _applied_rules_path(settings: Any) -> str:
    return f"{settings.lake.rstrip('/')}/{RULES_FOLDER}/current.yaml"


def applied_rules(settings: Any) -> RuleSet | None:
    """The rules last applied to the lake with ``recategorize --rules`` (kept in ``<lake>/_rules/``), if any."""
    from pipeline.wiring import build_store

    path = _applied_rules_path(settings)
    data = build_store(settings).read_if_exists(path)
    return None if data is None else _parse_rules(lambda: data.decode("utf-8"), path)


def effective_rules(settings: Any, lake: Any = None, day: Any = None) -> RuleSet:
    """The configured rules, unless the lake carries newer ones (applied with ``recategorize --rules``):
    a run with older rules than the lake's says so and keeps the newer, so a rerun never undoes them."""
    configured = load_rules(settings.categories)
    applied = applied_rules(settings)
    if applied is not None and applied.version > configured.version:
        log.warning("category rules: the lake's v%d (applied with recategorize --rules) is newer than the configured "
                    "v%d (%s); using v%d. Point AFTERCALL_CATEGORIES at rules with a higher version to change them",
                    applied.version, configured.version, settings.categories or "the shipped rules", applied.version)
        return applied
    if lake is not None and day is not None:
        seen = [r["rules_version"] for r in lake.read_partition("call_categories", day).to_pylist()
                if r.get("rules_version") is not None]
        if seen and max(seen) > configured.version:
            log.warning("%s: its categories came from rules v%d, newer than the configured v%d (%s); they are "
                        "replaced by v%d's", day, max(seen), configured.version,
                        settings.categories or "the shipped rules", configured.version)
    return configured


def _read(lake: Any, table: str, day: Any, columns: list[str]) -> Any:
    """Only the columns the rules read, where the lake can (the local one); the S3 lake reads whole days."""
    from pipeline.lake.tables import LocalLake

    if isinstance(lake, LocalLake):
        return lake.read_partition(table, day, columns=columns)
    return lake.read_partition(table, day).select(columns)


def days_in_range(lake: Any, start: Any, end: Any) -> Iterator[Any]:
    """The days ``start``..``end`` to look at: a local lake's own days in the range (--from 0001-01-01 --to
    9999-12-31 read 3.65 million empty days, minutes of CPU), else each day of the range."""
    from datetime import date, timedelta

    if hasattr(lake, "days"):
        yield from (d for d in map(date.fromisoformat, lake.days("calls")) if start <= d <= end)
        return
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def recategorize(settings: Any, start: Any, end: Any) -> dict[str, int]:
    """Re-apply the current rules to stored turns, day by day; only ``call_categories`` is rewritten.

    Rules given explicitly (``AFTERCALL_CATEGORIES`` / ``--rules``) are kept in the lake
    (``<lake>/_rules/current.yaml``), so later runs of these days apply them too. Each day is
    changed under its lock. Returns matches per day; days with no calls are left alone.
    """
    from pipeline.wiring import build_lake, build_store

    rules = load_rules(settings.categories)
    lake = build_lake(settings)
    done: dict[str, int] = {}
    for day in days_in_range(lake, start, end):  # one day at a time, read column-wise: memory is one day's
        if lake.read_partition("calls", day).num_rows:  # a day without calls is neither locked nor written
            with lake.day_lock(day, "recategorize"):
                rows = categorize_table(rules, _read(lake, "calls", day, CALL_COLUMNS),
                                        _read(lake, "turns", day, TURN_COLUMNS))
                lake.write_partitions(day, {"call_categories": rows}, run_id="recategorize")
                done[str(day)] = len(rows)
                log.info("dt=%s: %d category matches", day, len(rows))
    if settings.categories:  # applied to every day asked for: now the lake's rules (a refused day changed nothing)
        build_store(settings).write_bytes(_applied_rules_path(settings), Path(settings.categories).read_bytes())
    return done
