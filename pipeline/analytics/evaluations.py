"""Automated agent evaluations: weighted QA forms as code, answered from what the lake knows.

A form (``evaluations/*.yaml``) has the shape of an Amazon Connect evaluation form: sections of
questions, answer options with scores, weights, automatic fail, not applicable and performance
thresholds, so it can be exported as a ``CreateEvaluationForm`` request (:mod:`pipeline.analytics.evaluation_export`).
Every question is answered from the stored ``calls``, ``turns`` and ``call_categories`` rows:

* ``phrase``: a turn of the participant in the window says one of the phrases (the category
  rules' matching, :func:`pipeline.analytics.categories.phrase_turns`); the evidence is that turn;
* ``category``: a category of the rules is present or absent; the evidence is its first match;
* ``metric``: a number of the call (:data:`METRICS`), matched to the option whose integer range
  holds it (rounded half away from zero, Connect's ranges are integers); the evidence is its value.

Scoring (docs/evaluations.md): a question earns its option's score out of the best option's;
each call's rows carry the question's weight in percent of that call's score, already
redistributed over the applicable questions (or sections), so the view ``v_evaluation_scores``
scores a call as ``Σ weight · points / max_points``, 0 on an automatic fail.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.analytics.categories import Condition, RuleSet, Window, days_in_range, phrase_turns
from pipeline.exceptions import ConfigurationError, FormError

__all__ = ["FORMS_DIR", "METRICS", "Form", "applied_forms", "effective_forms", "evaluate", "evaluate_call",
           "evaluate_day", "load_form", "load_scores", "resolve_form"]

log = logging.getLogger(__name__)


def _forms_dir() -> Path:
    here = Path(__file__).resolve().parents[1]  # pipeline/: the wheel puts the data folders there
    installed = here / "_evaluations"  # a wheel carries evaluations/ inside the package
    return installed if installed.is_dir() else here.parent / "evaluations"


FORMS_DIR = _forms_dir()
FORMS_FOLDER = "_forms"  # forms applied with `aftercall evaluate --form FILE`, kept in the lake
MAX_FORM_BYTES = 256 * 1024  # a form is a page of YAML; anything far larger is a mistake or an attack
# libyaml when present: linear, and refuses nesting deeper than 1000. PyYAML's own scanner is quadratic in
# nesting depth: 100 KB of "[" (well under MAX_FORM_BYTES) kept it busy for half an hour.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _FormLoader(_LOADER):  # type: ignore[misc,valid-type]
    """The safe loader, refusing a key given twice in one mapping (YAML's rule; PyYAML keeps the last silently,
    so a second ``weight:`` or ``when:`` would quietly replace the first)."""

    def construct_mapping(self, node, deep=False):  # noqa: ANN001, ANN201 - PyYAML's signature
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) or key is None:
                if key in seen:
                    raise yaml.constructor.ConstructorError("while constructing a mapping", node.start_mark,
                                                            f"found the key {key!r} twice", key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep)

_ID = r"^[a-z][a-z0-9_]{0,63}$"
# Printable text only: titles and phrases end up in JSON for Connect, in the lake and in terminals.
_TEXT = r"^[^\x00-\x08\x0b-\x1f\x7f]*$"


def _num(call: Mapping[str, Any], key: str) -> float | None:
    """The call's number, or None when it was not measured (NULL, NaN, or an infinity no range can hold)."""
    value = call.get(key)
    return None if value is None or not math.isfinite(float(value)) else float(value)


def _share(part: float | None, whole: float | None) -> float | None:
    return None if part is None or not whole else 100.0 * part / whole  # no length (or no talk): not measured


# name -> (value from a calls row, Contact Lens' NumericQuestionPropertyAutomationLabel or None)
METRICS: dict[str, tuple[Any, str | None]] = {
    "duration_s": (lambda c: _num(c, "duration_s"), "CONTACT_DURATION"),
    "non_talk_s": (lambda c: _num(c, "non_talk_s"), "NON_TALK_TIME"),
    "non_talk_pct": (lambda c: _share(_num(c, "non_talk_s"), _num(c, "duration_s")), "NON_TALK_TIME_PERCENTAGE"),
    "agent_talk_pct": (lambda c: _share(_num(c, "agent_talk_s"),
                                        (_num(c, "agent_talk_s") or 0) + (_num(c, "customer_talk_s") or 0)), None),
    # Contact Lens counts the agent's interruptions of the customer as the contact's interruptions.
    "agent_interruptions": (lambda c: _num(c, "agent_interruptions"), "NUMBER_OF_INTERRUPTIONS"),
    "customer_interruptions": (lambda c: _num(c, "customer_interruptions"), None),
    "agent_wpm": (lambda c: _num(c, "agent_wpm"), None),
    "customer_wpm": (lambda c: _num(c, "customer_wpm"), None),
    "customer_sentiment": (lambda c: _num(c, "customer_sentiment"), "OVERALL_CUSTOMER_SENTIMENT_SCORE"),
    "agent_sentiment": (lambda c: _num(c, "agent_sentiment"), "OVERALL_AGENT_SENTIMENT_SCORE"),
    "customer_sentiment_start": (lambda c: _num(c, "customer_sentiment_start"), None),
    "customer_sentiment_end": (lambda c: _num(c, "customer_sentiment_end"), None),
    "customer_sentiment_shift": (lambda c: _num(c, "customer_sentiment_shift"), None),
}
CALL_COLUMNS = ["contact_id", "duration_s", "non_talk_s", "agent_talk_s", "customer_talk_s", "agent_interruptions",
                "customer_interruptions", "agent_wpm", "customer_wpm", "agent_sentiment", "customer_sentiment",
                "customer_sentiment_start", "customer_sentiment_end", "customer_sentiment_shift"]


# --- the form ---
class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PhraseSource(_Model):
    participant: Literal["AGENT", "CUSTOMER"] | None = None
    phrases: tuple[str, ...] = Field(min_length=1, max_length=200)
    window: Window = Window()


class AnswerSource(_Model):
    phrase: PhraseSource | None = None
    category: str | None = Field(default=None, max_length=64)
    metric: str | None = Field(default=None, max_length=64)


class Option(_Model):
    id: str | None = Field(default=None, pattern=_ID)
    text: str | None = Field(default=None, max_length=200, pattern=_TEXT)
    score: int
    when: Literal["present", "absent"] | None = None
    min: int | None = None
    max: int | None = None
    automatic_fail: bool = False


class Question(_Model):
    id: str = Field(pattern=_ID)
    title: str = Field(min_length=1, max_length=500, pattern=_TEXT)
    instructions: str = Field(default="", max_length=2000, pattern=_TEXT)
    weight: float | None = Field(default=None, ge=0, le=100)
    not_applicable: bool = False
    answer: AnswerSource
    range: tuple[int, int] | None = None
    options: tuple[Option, ...] = Field(min_length=2, max_length=20)

    @property
    def kind(self) -> Literal["SINGLESELECT", "NUMERIC"]:
        return "NUMERIC" if self.answer.metric is not None else "SINGLESELECT"

    @property
    def max_points(self) -> int:
        return max(o.score for o in self.options)


class Section(_Model):
    id: str = Field(pattern=_ID)
    title: str = Field(min_length=1, max_length=500, pattern=_TEXT)
    instructions: str = Field(default="", max_length=2000, pattern=_TEXT)
    weight: float | None = Field(default=None, ge=0, le=100)
    questions: tuple[Question, ...] = Field(min_length=1, max_length=100)


class Scoring(_Model):
    mode: Literal["QUESTION_ONLY", "SECTION_ONLY", "POINTS_BASED"] = "QUESTION_ONLY"
    weighted: bool = True
    pass_score: float = Field(default=70.0, ge=0, le=100)
    needs_improvement_below: float | None = Field(default=None, ge=0, le=100)
    exceeds_expectations_from: float | None = Field(default=None, ge=0, le=100)


class Form(_Model):
    name: str = Field(pattern=_ID)
    version: int = Field(ge=1, le=1_000_000)
    title: str = Field(min_length=1, max_length=500, pattern=_TEXT)
    description: str = Field(default="", max_length=2000, pattern=_TEXT)
    scoring: Scoring = Scoring()
    sections: tuple[Section, ...] = Field(min_length=1, max_length=50)

    def questions(self) -> Iterator[tuple[Section, Question]]:
        for section in self.sections:
            for question in section.questions:
                yield section, question


# --- loading and checking ---
def _question_at(raw: Any, loc: Sequence[Any]) -> str | None:
    """The id (or position) of the question an error's location points into, read from the raw YAML."""
    if len(loc) >= 4 and loc[0] == "sections" and loc[2] == "questions":
        try:
            qid = raw["sections"][loc[1]]["questions"][loc[3]].get("id")
        except (KeyError, IndexError, TypeError, AttributeError):
            qid = None
        return str(qid)[:64] if isinstance(qid, str) else f"sections[{loc[1]}].questions[{loc[3]}]"
    if len(loc) >= 2 and loc[0] == "sections":
        return f"sections[{loc[1]}]"
    return None


def _window_problem(window: Window) -> str | None:
    given = {k: v for k, v in window.model_dump().items() if v is not None}
    if not given:
        return None
    if any(v < 0 for v in given.values()):
        return "a window's bounds cannot be negative"
    kinds = {"first_s", "last_s", "first_pct", "last_pct"} & set(given)
    if len(kinds) > 1 or (kinds and {"from_s", "to_s"} & set(given)):
        return f"a window is one of first_s, last_s, first_pct, last_pct or from_s..to_s, not {sorted(given)}"
    if "from_s" in given and "to_s" in given and given["from_s"] >= given["to_s"]:
        return f"the window's from_s ({given['from_s']}) must be before its to_s ({given['to_s']})"
    if any(v == 0 for k, v in given.items() if k != "from_s"):
        return "a window of zero length matches nothing"
    return None


def _check_question(form: Form, q: Question, rules: RuleSet | None) -> str | None:
    """Why the question cannot be answered or scored as written, or None."""
    sources = [s for s in ("phrase", "category", "metric") if getattr(q.answer, s) is not None]
    if len(sources) != 1:
        return f"the answer needs exactly one of phrase, category or metric (got {sources or 'none'})"
    top = 100 if form.scoring.mode == "POINTS_BASED" else 10
    if any(not 0 <= o.score <= top for o in q.options):
        return f"option scores must be 0..{top} in {form.scoring.mode} mode"
    if q.max_points <= 0:
        return "no option scores any points: the question could never count"
    if rules is not None and q.answer.category is not None and q.answer.category not in {c.name for c in rules.categories}:
        return f"unknown category {q.answer.category!r} (rules v{rules.version} have: " \
               f"{', '.join(sorted(c.name for c in rules.categories))})"
    if q.answer.metric is not None and q.answer.metric not in METRICS:
        return f"unknown metric {q.answer.metric!r} (known: {', '.join(sorted(METRICS))})"
    if q.answer.phrase is not None:
        if problem := _window_problem(q.answer.phrase.window):
            return problem
        if any(not 0 < len(p) <= 200 or not re.fullmatch(_TEXT, p) or not re.search(r"\w", p)
               for p in q.answer.phrase.phrases):
            return "every phrase must be 1..200 printable characters with at least one word"
    if q.kind == "SINGLESELECT":
        if q.range is not None or any(o.min is not None or o.max is not None for o in q.options):
            return "a yes/no question (phrase or category) takes no range and no min/max on its options"
        if any(o.id is None or o.text is None or o.when is None for o in q.options):
            return "every option of a yes/no question needs id, text and when (present or absent)"
        ids = [o.id for o in q.options]
        if len(set(ids)) != len(ids):
            return f"duplicate option ids {sorted({i for i in ids if ids.count(i) > 1})}"
        whens = sorted(o.when or "" for o in q.options)
        if whens != ["absent", "present"]:
            return f"options overlap or leave an answer out: need exactly one `when: present` and one " \
                   f"`when: absent`, got {whens}"
        return None
    if any(o.when is not None or o.id is not None for o in q.options):
        return "a numeric question's options take min, max and score (no id or when)"
    if q.range is None or q.range[0] >= q.range[1]:
        return "a numeric question needs range: [min, max] with min < max"
    if any(o.min is None or o.max is None or o.min > o.max for o in q.options):
        return "every numeric option needs min <= max"
    ordered = sorted(q.options, key=lambda o: o.min or 0)
    for a, b in zip(ordered, ordered[1:], strict=False):
        if b.min <= a.max:  # type: ignore[operator]
            return f"options overlap: {a.min}..{a.max} and {b.min}..{b.max}"
        if b.min != a.max + 1:  # type: ignore[operator]
            return f"options leave a gap between {a.max} and {b.min}"
    if ordered[0].min != q.range[0] or ordered[-1].max != q.range[1]:
        return f"options must cover the range {q.range[0]}..{q.range[1]} (they cover {ordered[0].min}..{ordered[-1].max})"
    return None


def _check(form: Form, rules: RuleSet | None, where: object) -> Form:
    """Every check of the form; its categories only against ``rules`` (None: not checked)."""
    ids: dict[str, str] = {}
    for section in form.sections:
        if section.id in ids:
            raise FormError(where, None, f"duplicate id {section.id!r} (sections and questions share one namespace, "
                                         "as Connect's RefIds do)")
        ids[section.id] = "section"
        for q in section.questions:
            if q.id in ids:
                raise FormError(where, q.id, f"duplicate question id {q.id!r}")
            ids[q.id] = "question"
            if problem := _check_question(form, q, rules):
                raise FormError(where, q.id, problem)
    mode, weighted = form.scoring.mode, form.scoring.weighted
    questions = [q for _, q in form.questions()]
    if mode == "QUESTION_ONLY" and weighted:
        if any(s.weight is not None for s in form.sections):
            raise FormError(where, None, "section weights are for SECTION_ONLY mode; in QUESTION_ONLY weigh questions")
        missing = [q.id for q in questions if q.weight is None]
        if missing:
            raise FormError(where, missing[0], "every question needs a weight in weighted QUESTION_ONLY mode")
        total = sum(q.weight or 0 for q in questions)
        if abs(total - 100) > 0.01:
            raise FormError(where, None, f"question weights add up to {total:g}, not 100")
    elif mode == "SECTION_ONLY" and weighted:
        if any(q.weight is not None for q in questions):
            raise FormError(where, next(q.id for q in questions if q.weight is not None),
                            "question weights are for QUESTION_ONLY mode; in SECTION_ONLY weigh sections")
        if any(s.weight is None for s in form.sections):
            raise FormError(where, None, "every section needs a weight in weighted SECTION_ONLY mode")
        total = sum(s.weight or 0 for s in form.sections)
        if abs(total - 100) > 0.01:
            raise FormError(where, None, f"section weights add up to {total:g}, not 100")
    elif any(q.weight is not None for q in questions) or any(s.weight is not None for s in form.sections):
        raise FormError(where, None, "weights are only for weighted QUESTION_ONLY or SECTION_ONLY forms "
                                     f"(this one is {mode}, weighted: {str(weighted).lower()})")
    low, high = form.scoring.needs_improvement_below, form.scoring.exceeds_expectations_from
    if low is not None and high is not None and low > high:
        raise FormError(where, None, f"needs_improvement_below ({low:g}) is above exceeds_expectations_from ({high:g})")
    return form


def _parse(text: str, where: object, rules: RuleSet | None) -> Form:
    """``text`` as a checked form; any problem is one FormError naming ``where`` (and the question)."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FORM_BYTES:
        raise FormError(where, None, f"over {MAX_FORM_BYTES // 1024} KiB: not a form")
    try:
        # Anchors and aliases would let a small file expand into a huge one (a "billion laughs"): forms have none.
        if any(isinstance(e, yaml.AliasEvent) for e in yaml.parse(text, Loader=_LOADER)):
            raise FormError(where, None, "YAML aliases (*name) are not allowed in a form")
        raw = yaml.load(text, Loader=_FormLoader)  # noqa: S506 - a safe loader (C or Python)
    except (yaml.YAMLError, RecursionError) as exc:
        raise FormError(where, None, f"not valid YAML: {' '.join(str(exc).split())[:300]}") from None
    if not isinstance(raw, dict):
        raise FormError(where, None, "a form is a YAML mapping (name, version, title, scoring, sections)")
    try:
        form = Form.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(p) for p in first["loc"]]
        field = ".".join(loc[4:] if len(loc) >= 4 and loc[2] == "questions" else loc)
        raise FormError(where, _question_at(raw, first["loc"]),
                        f"{field or 'form'}: {first['msg']}"[:400]) from None
    return _check(form, rules, where)


def load_form(path: str | Path, rules: RuleSet | None = None, *, check_categories: bool = True) -> Form:
    """The form in the YAML file ``path``, checked against ``rules`` (default: the shipped category rules)."""
    from pipeline.analytics.categories import load_rules

    file = Path(path)
    try:
        if file.stat().st_size > MAX_FORM_BYTES:
            raise FormError(file, None, f"{file.stat().st_size} bytes, over the {MAX_FORM_BYTES // 1024} KiB a form "
                                        "may have")
        with file.open("rb") as f:  # at most one byte past the limit: /proc files say 0 bytes and may never end
            data = f.read(MAX_FORM_BYTES + 1)
        if len(data) > MAX_FORM_BYTES:
            raise FormError(file, None, f"over the {MAX_FORM_BYTES // 1024} KiB a form may have")
        text = data.decode("utf-8")
    except OSError as exc:
        raise FormError(file, None, f"cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise FormError(file, None, "not UTF-8 text") from None
    return _parse(text, file, (rules or load_rules()) if check_categories else None)


def resolve_form(name_or_path: str) -> Path:
    """A shipped form's name (``default``) or a YAML file's path, as the file to load."""
    if re.fullmatch(_ID, name_or_path):
        path = FORMS_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            shipped = ", ".join(p.stem for p in sorted(FORMS_DIR.glob("*.yaml"))) or "none"
            raise ConfigurationError(f"no evaluation form named {name_or_path!r} (shipped: {shipped}); "
                                     "or give a YAML file's path")
        return path
    path = Path(name_or_path).expanduser()
    if not path.is_file():  # a directory, FIFO or device is not "no such file": say which
        what = "not a regular file" if path.exists() else "no such file"
        raise ConfigurationError(f"evaluation form {name_or_path}: {what}")
    return path


def _applied_dir(settings: Any) -> str:
    return f"{settings.lake.rstrip('/')}/{FORMS_FOLDER}"


def applied_forms(settings: Any, rules: RuleSet | None = None) -> list[Form]:
    """Forms applied to the lake with ``aftercall evaluate --form FILE`` (kept in ``<lake>/_forms/``)."""
    from pipeline.wiring import build_store

    store = build_store(settings)
    forms = []
    for path in store.list(_applied_dir(settings)):
        if path.endswith(".yaml"):
            data = store.read_bytes(path)
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise FormError(path, None, "not UTF-8 text") from None
            forms.append(_parse(text, path, rules))
    return forms


def effective_forms(settings: Any, rules: RuleSet | None = None) -> list[Form]:
    """Every shipped form, and the forms applied to the lake; of two with one name, the higher version.

    Checked against ``rules`` (default: the category rules in effect), so a broken form stops a run
    before it pays for any transcription.
    """
    from pipeline.analytics.categories import effective_rules

    rules = rules or effective_rules(settings)
    # Categories are checked apart: a form written for other rules is left out with a warning rather than
    # stopping every run (e.g. the shipped form in a lake whose rules were replaced with recategorize --rules).
    forms: dict[str, tuple[Form, object]] = {}
    for path in sorted(FORMS_DIR.glob("*.yaml")):
        form = _load_unchecked(path)
        if form.name in forms:  # two files, one name: which one scores would depend on their order
            raise FormError(path, None, f"the form name {form.name!r} is also {forms[form.name][1]}'s")
        forms[form.name] = (form, path)
    for form in applied_forms(settings):
        if form.name not in forms or form.version > forms[form.name][0].version:
            forms[form.name] = (form, f"{_applied_dir(settings)}/{form.name}.yaml")
    usable = []
    for name in sorted(forms):
        form, where = forms[name]
        try:
            usable.append(_check(form, rules, where))
        except FormError as exc:
            log.warning("%s; the form is left out of scoring until the category rules in effect have its "
                        "categories", exc)
    return usable


def _load_unchecked(path: Path) -> Form:
    """A form checked in everything but its categories."""
    return load_form(path, None, check_categories=False)


# --- answering ---
@dataclass(frozen=True, slots=True)
class _Answer:
    answer: str
    points: int
    not_applicable: bool = False
    automatic_fail: bool = False
    value: float | None = None
    evidence_turn: int | None = None
    evidence: str = ""


def _nearest(value: float) -> int:
    """Half away from zero: -0.5 is -1 and 0.5 is 1, the same either side of zero (Python's round() is not)."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def _window_text(window: Window) -> str:
    w = window
    if w.first_s is not None:
        return f"the first {w.first_s:g} s"
    if w.last_s is not None:
        return f"the last {w.last_s:g} s"
    if w.first_pct is not None:
        return f"the first {w.first_pct:g}% of the call"
    if w.last_pct is not None:
        return f"the last {w.last_pct:g}% of the call"
    if w.from_s is not None or w.to_s is not None:
        return f"{w.from_s or 0:g} s..{'the end' if w.to_s is None else f'{w.to_s:g} s'}"
    return "the whole call"


def _answer(q: Question, call: Mapping[str, Any], turns: Sequence[Mapping[str, Any]],
            categories: Mapping[str, Mapping[str, Any]]) -> _Answer:
    if q.answer.metric is not None:
        value = METRICS[q.answer.metric][0](call)
        if value is None:
            if q.not_applicable:
                return _Answer("NOT_APPLICABLE", 0, not_applicable=True,
                               evidence=f"{q.answer.metric} not measured for this call")
            return _Answer("UNANSWERED", 0, evidence=f"{q.answer.metric} not measured for this call")
        low, high = q.range  # type: ignore[misc]
        key = min(max(_nearest(value), low), high)
        option = next(o for o in q.options if o.min <= key <= o.max)  # type: ignore[operator]  # checked: no gaps
        stored = round(value, 4)
        return _Answer(f"{option.min}..{option.max}", option.score, automatic_fail=option.automatic_fail,
                       value=stored, evidence=f"{q.answer.metric} = {stored:g}")
    turn, evidence = None, ""
    if q.answer.phrase is not None:
        source = q.answer.phrase
        cond = Condition(type="phrase", participant=source.participant, phrases=source.phrases, window=source.window)
        hits = phrase_turns(cond, call, turns)
        present = bool(hits)
        who = source.participant or "anyone"
        if hits:
            turn = hits[0][0]
            evidence = f"{who} said {hits[0][1]!r} at {turn['begin_s']:.1f} s ({_window_text(source.window)})"
        else:
            evidence = f"no turn of {who} in {_window_text(source.window)} says any of the {len(source.phrases)} phrases"
    else:
        name = q.answer.category
        match = categories.get(name)  # type: ignore[arg-type]
        present = match is not None
        if match is not None:
            at = match.get("first_match_s")
            turn = next((t for t in turns if at is not None and round(float(t["begin_s"]), 3) == round(at, 3)), None)
            evidence = f"category {name} matched at {at or 0:.1f} s ({match.get('match_count') or 1} matches, " \
                       f"rules v{match.get('rules_version')})"
        else:
            evidence = f"category {name} not matched"
    option = next(o for o in q.options if o.when == ("present" if present else "absent"))
    return _Answer(option.id or "", option.score, automatic_fail=option.automatic_fail,
                   evidence_turn=None if turn is None else int(turn["turn_index"]), evidence=evidence)


def _weights(form: Form, answers: Sequence[tuple[Section, Question, _Answer]]) -> list[float]:
    """Each question's share of this call's score in percent: its weight (or its section's, split evenly over
    the section's applicable questions; or its points), spread over the applicable questions to total 100."""
    mode, weighted = form.scoring.mode, form.scoring.weighted
    if mode == "SECTION_ONLY":
        applicable: dict[str, int] = {}
        for s, _, a in answers:
            applicable[s.id] = applicable.get(s.id, 0) + (not a.not_applicable)
        section_w = {s.id: (s.weight if weighted else 1.0) for s in form.sections if applicable.get(s.id)}
        base = [0.0 if a.not_applicable else (section_w[s.id] or 0.0) / applicable[s.id] for s, _, a in answers]
    elif mode == "POINTS_BASED":
        base = [0.0 if a.not_applicable else float(q.max_points) for _, q, a in answers]
    else:
        base = [0.0 if a.not_applicable else (q.weight if weighted else 1.0) or 0.0 for _, q, a in answers]
    total = sum(base)
    return [round(100.0 * b / total, 6) if total else 0.0 for b in base]


def evaluate_call(form: Form, call: Mapping[str, Any], turns: Sequence[Mapping[str, Any]],
                  categories: Iterable[Mapping[str, Any]] = ()) -> list[dict]:
    """One call's ``evaluations`` rows (without ``dt``) for ``form``; ``categories``: its ``call_categories`` rows."""
    turns = sorted(turns, key=lambda t: t["turn_index"])
    matched = {c["category"]: c for c in categories}
    answers = [(s, q, _answer(q, call, turns, matched)) for s, q in form.questions()]
    scoring = form.scoring
    return [{"contact_id": call["contact_id"], "form": form.name, "form_version": form.version, "section_id": s.id,
             "question_id": q.id, "question_type": q.kind, "answer": a.answer, "value": a.value,
             "points": 0 if a.not_applicable else a.points, "max_points": q.max_points, "weight": w,
             "not_applicable": a.not_applicable, "automatic_fail": a.automatic_fail, "pass_score": scoring.pass_score,
             "needs_improvement_below": scoring.needs_improvement_below,
             "exceeds_expectations_from": scoring.exceeds_expectations_from, "evidence_turn": a.evidence_turn,
             "evidence": a.evidence}
            for (s, q, a), w in zip(answers, _weights(form, answers), strict=True)]


def _calls_with_turns(calls: Any, turns: Any) -> Iterator[tuple[dict, list[dict]]]:
    """(call, its turns) in contact_id order, from rows or arrow tables (a busy day's turns stay columnar:
    only one batch of them is ever Python rows, as in :func:`pipeline.analytics.categories.categorize_table`)."""
    from pipeline.analytics.categories import TURN_COLUMNS, _turns_by_call

    if hasattr(calls, "to_pylist"):
        calls = calls.select([c for c in CALL_COLUMNS if c in calls.column_names]).to_pylist()
    rows = sorted((c for c in calls if c.get("contact_id") is not None), key=lambda c: c["contact_id"])
    if hasattr(turns, "to_pylist"):
        turns = turns.select(TURN_COLUMNS)
        if turns["contact_id"].null_count:
            turns = turns.filter(turns["contact_id"].is_valid())
        groups: Iterator[tuple[str, list[dict]]] = _turns_by_call(turns)
    else:
        by_call: dict[str, list[dict]] = {}
        for t in turns:
            by_call.setdefault(t["contact_id"], []).append(t)
        groups = iter(sorted(by_call.items()))
    group = next(groups, None)
    for call in rows:
        cid = call["contact_id"]
        while group is not None and group[0] < cid:  # turns of no stored call: nothing to evaluate
            group = next(groups, None)
        yield call, (group[1] if group is not None and group[0] == cid else [])


def evaluate_day(forms: Sequence[Form], calls: Any, turns: Any, categories: Iterable[Mapping[str, Any]]) -> list[dict]:
    """The day's ``evaluations`` rows: every call scored with every form (calls and turns as rows or arrow)."""
    by_call: dict[str, list[Mapping[str, Any]]] = {}
    for row in categories:
        by_call.setdefault(row["contact_id"], []).append(row)
    rows: list[dict] = []
    for call, own in _calls_with_turns(calls, turns):
        for form in forms:
            rows += evaluate_call(form, call, own, by_call.get(call["contact_id"], []))
    return rows


def evaluate(settings: Any, start: date, end: date, form: str | None = None) -> dict[str, int]:
    """Re-score stored calls day by day (no transcription); only ``evaluations`` is rewritten.

    With ``form`` (a shipped form's name or a YAML file) only that form's rows are replaced and the
    day's rows of other forms are kept; a form given as a file is kept in the lake (``<lake>/_forms/``)
    so that later runs of any day score it too. Without, every effective form re-scores the days.
    Each day is changed under its lock; days with no calls are left alone. Returns rows per day.
    """
    from pipeline.analytics.categories import TURN_COLUMNS, _read, effective_rules
    from pipeline.wiring import build_lake, build_store

    rules = effective_rules(settings)
    chosen_file = resolve_form(form) if form else None
    forms = [load_form(chosen_file, rules)] if chosen_file else effective_forms(settings, rules)
    names = {f.name for f in forms}
    lake = build_lake(settings)
    done: dict[str, int] = {}
    for day in days_in_range(lake, start, end):  # one day at a time, columns the answers read only: memory is one day's
        if lake.read_partition("calls", day).num_rows:
            with lake.day_lock(day, "evaluate"):
                rows = evaluate_day(forms, _read(lake, "calls", day, CALL_COLUMNS),
                                    _read(lake, "turns", day, TURN_COLUMNS),
                                    lake.read_partition("call_categories", day).to_pylist())
                kept = [r for r in lake.read_partition("evaluations", day).to_pylist() if r["form"] not in names]
                lake.write_partitions(day, {"evaluations": kept + rows}, run_id="evaluate")
                done[str(day)] = len(rows)
                log.info("dt=%s: %d evaluation answers (%s)", day, len(rows), ", ".join(sorted(names)))
    if chosen_file is not None and chosen_file.resolve().parent != FORMS_DIR.resolve():
        build_store(settings).write_bytes(f"{_applied_dir(settings)}/{forms[0].name}.yaml", chosen_file.read_bytes())
    return done


def load_scores(lake_root: str | Path, start: date | None = None, end: date | None = None) -> list[dict]:
    """Rows of ``v_evaluation_scores`` (one per call and form) for ``start``..``end`` (both included; None: open),
    from the local lake, ordered by day, agent and contact: what a report's Quality section reads."""
    from pipeline.adapters.duckdb_engine import query

    where = []
    if start is not None:
        where.append(f"dt >= '{date.fromisoformat(str(start)):%Y-%m-%d}'")  # a real date: nothing else is spliced
    if end is not None:
        where.append(f"dt <= '{date.fromisoformat(str(end)):%Y-%m-%d}'")
    sql = "select * from v_evaluation_scores" + (f" where {' and '.join(where)}" if where else "") + \
          " order by dt, agent_username, contact_id, form"
    columns, rows = query(sql, lake_root)
    return [dict(zip(columns, r, strict=True)) for r in rows]
