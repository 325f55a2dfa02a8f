"""The report's Quality section and each call's evaluation form (automated evaluations, docs/evaluations.md).

The section ranks agents by their evaluation score (per form, the default form first), gives each question's
pass rate (the form's questions in order, with their text), each agent's category hits and the average score
per week. Everything is summed a week of the range at a time (``CHUNK_DAYS``) from ``v_evaluation_scores``,
``evaluations``, ``call_categories`` and ``contacts``: each query returns a few rows per agent, form or
question, never a call's row, so a 90-day lake is read as the rest of the report reads it.

A call's page shows its forms: score and pass / fail at the top, then each question, its answer, points out of
the maximum and its evidence, a link to the evidence turn in the transcript on the same page (a metric's
evidence is its name and value). Read with the call pages, a batch of calls at a time.

Every value that reaches the page is escaped: question text comes from YAML files a team writes, agent names
from contact trace records.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pipeline.presentation.report.calls import NO_CONTACT_RECORD
from pipeline.presentation.report.charts import day_label, esc, filter_href, fmt, line_chart

__all__ = ["QualityData", "call_forms", "form_card", "load_forms", "load_quality", "quality_section"]

Query = Callable[[str], tuple[list[str], list[tuple]]]
CHUNK_DAYS = 7  # days of the range summed at once
DEFAULT_FORM = "default"


def _literal(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def load_forms(lake: str | Path | None) -> dict[str, Any]:
    """The forms whose text the report shows: the shipped ones and those applied to the lake (``<lake>/_forms``),
    the higher version of two of one name. A form that no longer loads is left out (its questions show by id)."""
    from pipeline.analytics.evaluations import FORMS_DIR, FORMS_FOLDER, _load_unchecked
    from pipeline.exceptions import ConfigurationError, FormError

    paths = sorted(FORMS_DIR.glob("*.yaml"))
    if lake is not None and "://" not in str(lake) and (Path(lake) / FORMS_FOLDER).is_dir():
        paths += sorted((Path(lake) / FORMS_FOLDER).glob("*.yaml"))
    forms: dict[str, Any] = {}
    for path in paths:
        try:
            form = _load_unchecked(path)
        except (FormError, ConfigurationError, OSError, ValueError):
            continue
        if form.name not in forms or form.version > forms[form.name].version:
            forms[form.name] = form
    return forms


def _form_order(names: Sequence[str]) -> list[str]:
    return sorted(names, key=lambda n: (n != DEFAULT_FORM, n))


@dataclass
class AgentScore:
    agent: str
    calls: int = 0  # calls evaluated
    scored: int = 0  # calls with a score (not every question not applicable)
    score_sum: float = 0.0
    passed: int = 0
    automatic_fails: int = 0

    @property
    def avg_score(self) -> float | None:
        return self.score_sum / self.scored if self.scored else None

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.scored if self.scored else None


@dataclass
class QuestionRate:
    question_id: str
    answered: int = 0  # applicable answers
    full: int = 0  # of them, the best option's points (and no automatic fail)
    not_applicable: int = 0

    @property
    def pass_rate(self) -> float | None:
        return self.full / self.answered if self.answered else None


@dataclass
class QualityData:
    forms: dict[str, Any] = field(default_factory=dict)  # name -> Form (for titles and question text)
    agents: dict[str, dict[str, AgentScore]] = field(default_factory=dict)  # form -> agent -> score
    questions: dict[str, dict[str, QuestionRate]] = field(default_factory=dict)  # form -> question -> rate
    categories: dict[tuple[str, str], int] = field(default_factory=dict)  # (agent, category) -> calls
    weeks: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # form -> week start -> [sum, count]

    def form_names(self) -> list[str]:
        return _form_order(set(self.agents) | set(self.questions))

    def ranking(self, form: str) -> list[AgentScore]:
        """Agents by average score, best first (an agent without a score last), then by name."""
        return sorted(self.agents.get(form, {}).values(),
                      key=lambda a: (a.avg_score is None, -(a.avg_score or 0.0), a.agent))

    def question_rates(self, form: str) -> list[tuple[str, str, QuestionRate]]:
        """(question id, its text, its rate): the form's questions in order, then any the form no longer has."""
        rates = self.questions.get(form, {})
        known = self.forms.get(form)
        ordered: list[tuple[str, str]] = [(q.id, q.title) for _, q in known.questions()] if known else []
        seen = {qid for qid, _ in ordered}
        ordered += [(qid, qid) for qid in sorted(rates) if qid not in seen]
        return [(qid, text, rates.get(qid) or QuestionRate(qid)) for qid, text in ordered
                if qid in rates]


def _chunks(days: Sequence[str]) -> list[str]:
    """A where clause on dt per ``CHUNK_DAYS`` days of the range."""
    return [f" where dt >= {_literal(days[i])} and dt <= {_literal(days[min(i + CHUNK_DAYS, len(days)) - 1])}"
            for i in range(0, len(days), CHUNK_DAYS)]


def _agent_name(alias: str) -> str:
    """The agent as v_call_contacts and v_evaluation_scores name them, from a left-joined ``contacts`` row."""
    return (f"case when {alias}.contact_id is null then '{NO_CONTACT_RECORD}' "
            f"else coalesce({alias}.agent_username, '(no agent)') end")


def _monday(day: object) -> str:
    d = day if isinstance(day, date) else date.fromisoformat(str(day)[:10])
    return (d - timedelta(days=d.weekday())).isoformat()


def load_quality(query: Query, days: Sequence[str], forms: dict[str, Any] | None = None) -> QualityData:
    """The Quality section's numbers over ``days``, summed a week of days at a time."""
    data = QualityData(forms=dict(forms or {}))
    agents: dict[str, dict[str, AgentScore]] = defaultdict(dict)
    questions: dict[str, dict[str, QuestionRate]] = defaultdict(dict)
    categories: dict[tuple[str, str], int] = defaultdict(int)
    weeks: dict[str, dict[str, list[float]]] = defaultdict(dict)
    for where in _chunks(days):
        _, rows = query("select form, agent_username, count(*), count(score_pct), sum(score_pct), "
                        "sum(case when passed then 1 else 0 end), sum(case when automatic_fail then 1 else 0 end) "
                        f"from v_evaluation_scores{where} group by form, agent_username")
        for form, agent, calls, scored, total, passed, fails in rows:
            a = agents[form].setdefault(agent, AgentScore(agent))
            a.calls += int(calls)
            a.scored += int(scored)
            a.score_sum += float(total or 0.0)
            a.passed += int(passed or 0)
            a.automatic_fails += int(fails or 0)
        _, rows = query("select form, question_id, sum(case when not_applicable then 0 else 1 end), "
                        "sum(case when not not_applicable and points >= max_points and not automatic_fail "
                        "then 1 else 0 end), sum(case when not_applicable then 1 else 0 end) "
                        f"from evaluations{where} group by form, question_id")
        for form, qid, answered, full, na in rows:
            q = questions[form].setdefault(qid, QuestionRate(qid))
            q.answered += int(answered or 0)
            q.full += int(full or 0)
            q.not_applicable += int(na or 0)
        cc_where = where.replace("dt", "cc.dt")
        _, rows = query(f"select {_agent_name('t')}, cc.category, count(distinct cc.contact_id) "
                        "from call_categories as cc left join contacts as t "
                        f"on cc.contact_id = t.contact_id and cc.dt = t.dt{cc_where} group by 1, 2")
        for agent, category, calls in rows:
            categories[(agent, category)] += int(calls)
        _, rows = query("select form, dt, sum(score_pct), count(score_pct) "
                        f"from v_evaluation_scores{where} group by form, dt")
        for form, day, total, scored in rows:
            week = weeks[form].setdefault(_monday(day), [0.0, 0])
            week[0] += float(total or 0.0)
            week[1] += int(scored)
    data.agents, data.questions = dict(agents), dict(questions)
    data.categories, data.weeks = dict(categories), dict(weeks)
    return data


# --- the section ---
def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} %"


def _form_title(data_forms: dict[str, Any], name: str) -> str:
    form = data_forms.get(name)
    return f"{form.title} ({name})" if form else name


def _ranking(data: QualityData, form: str) -> str:
    rows = []
    for rank, a in enumerate(data.ranking(form), 1):
        cls = "filter-link none" if a.agent == NO_CONTACT_RECORD else "filter-link"
        label = "no contact record" if a.agent == NO_CONTACT_RECORD else a.agent
        rows.append(f'<tr data-agent="{esc(a.agent)}"><td class="num">{rank}</td>'
                    f'<td class="txt"><a class="{cls}" href="{filter_href("agent", a.agent)}" '
                    f'title="Show {esc(label)}\'s calls">{esc(label)}</a></td>'
                    f'<td class="num"><a class="filter-link score" href="{filter_href("agent", a.agent)}">'
                    f'{esc(_pct(a.avg_score))}</a></td><td class="num">{a.calls:,}</td>'
                    f'<td class="num">{esc(fmt(a.pass_rate, "percent"))}</td><td class="num">{a.automatic_fails:,}</td>'
                    f'</tr>')
    return ('<div class="scroll"><table class="chart table ranking"><thead><tr><th class="num">#</th>'
            '<th class="txt">Agent</th><th class="num">Avg score</th><th class="num">Calls evaluated</th>'
            '<th class="num">Pass rate</th><th class="num">Automatic fails</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def _questions(data: QualityData, form: str) -> str:
    rows = []
    for n, (qid, text, q) in enumerate(data.question_rates(form), 1):
        rows.append(f'<tr data-question="{esc(qid)}"><td class="num">{n}</td><td class="wrap">{esc(text)}</td>'
                    f'<td class="num">{esc(fmt(q.pass_rate, "percent"))}</td><td class="num">{q.full:,} of '
                    f'{q.answered:,}</td><td class="num">{q.not_applicable:,}</td></tr>')
    return ('<div class="scroll"><table class="chart table questions"><thead><tr><th class="num">#</th>'
            '<th class="txt">Question</th><th class="num">Pass rate</th><th class="num">Full points</th>'
            '<th class="num">Not applicable</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>'
            '<p class="caption">Pass rate: the answers that earned the question\'s full points, of the answers '
            'where it applied.</p>')


def _category_hits(data: QualityData) -> str:
    """One row per agent: each category that matched their calls, with how many calls (most first)."""
    if not data.categories:
        return '<p class="empty">No category matched a call in this range.</p>'
    by_agent: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for (agent, category), calls in data.categories.items():
        by_agent[agent].append((category, calls))
    rows = []
    for agent in sorted(by_agent):
        cls = "filter-link none" if agent == NO_CONTACT_RECORD else "filter-link"
        label = "no contact record" if agent == NO_CONTACT_RECORD else agent
        hits = " ".join(f'<span class="hit" data-category="{esc(c)}"><a class="chip" href="{filter_href("category", c)}">'
                        f'{esc(c)}</a> {n:,}</span>'
                        for c, n in sorted(by_agent[agent], key=lambda h: (-h[1], h[0])))
        total = sum(n for _, n in by_agent[agent])
        rows.append(f'<tr data-agent="{esc(agent)}"><td class="txt"><a class="{cls}" '
                    f'href="{filter_href("agent", agent)}">{esc(label)}</a></td><td class="num">{total:,}</td>'
                    f'<td class="wrap">{hits}</td></tr>')
    return ('<div class="scroll"><table class="chart table hits"><thead><tr><th class="txt">Agent</th>'
            '<th class="num">Hits</th><th class="txt">Categories (calls)</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>'
            '<p class="caption">For each agent, the calls in which each category matched (a call counts once per '
            'category).</p>')


def _trend(data: QualityData, forms: Sequence[str]) -> str:
    weeks = sorted({w for f in forms for w in data.weeks.get(f, {})})
    if not weeks:
        return '<p class="empty">No evaluated call in this range.</p>'
    if len(weeks) == 1:  # one week: a number, not a lone dot on a chart
        (week,) = weeks
        lines = []
        for form in forms:
            total, n = data.weeks.get(form, {}).get(week, (0.0, 0))
            lines.append(f'<li data-form="{esc(form)}"><b>{esc(_pct(total / n if n else None))}</b> '
                         f'{esc(_form_title(data.forms, form))}</li>')
        return (f'<ul class="week-scores">{"".join(lines)}</ul><p class="caption">The range is within one week (starting '
                f'Monday {esc(day_label(week, with_year=True))}, UTC): the average score of its evaluated calls; a '
                f'longer range draws the trend week by week.</p>')
    series = []
    for form in forms:
        by_week = data.weeks.get(form, {})
        series.append((_form_title(data.forms, form),
                       {w: (s / 100 / n if n else None) for w, (s, n) in by_week.items()}))
    return (line_chart("Average evaluation score per week", weeks, series, "percent", integer=False)
            + '<p class="caption">Each point: the week starting that Monday (UTC), the average score of its evaluated '
              'calls within the range.</p>')


def quality_section(data: QualityData, sheet_id: str, sheet_name: str) -> str:
    forms = data.form_names()
    if not forms:
        body = '<p class="empty">No evaluated call in this range: run `aftercall evaluate` or a day.</p>'
    else:
        cards = []
        for form in forms:
            title = esc(_form_title(data.forms, form))
            cards.append(f'<div class="card wide" data-form="{esc(form)}"><h3>Agents by evaluation score: {title}</h3>'
                         f'{_ranking(data, form)}</div>'
                         f'<div class="card wide" data-form="{esc(form)}"><h3>Pass rate per question: {title}</h3>'
                         f'{_questions(data, form)}</div>')
        cards.append(f'<div class="card"><h3>Average evaluation score per week</h3>{_trend(data, forms)}</div>')
        cards.append(f'<div class="card wide"><h3>Category hits per agent</h3>{_category_hits(data)}</div>')
        body = f'<div class="grid">{"".join(cards)}</div>'
    return f'<section class="sheet" id="{esc(sheet_id)}"><h2>{esc(sheet_name)}</h2>{body}</section>'


# --- a call's page ---
def call_forms(query: Query, calls: Sequence[dict]) -> tuple[dict[str, list[dict]], dict[str, list[dict]]]:
    """(scores by contact id, answers by contact id) of ``calls`` (rows of v_call_contacts), from their days only."""
    if not calls:
        return {}, {}
    ids = ", ".join(_literal(c["contact_id"]) for c in calls)
    days = [str(c["dt"]) for c in calls]
    where = f" where dt >= {_literal(min(days))} and dt <= {_literal(max(days))} and contact_id in ({ids})"
    scores = _by_call(query, f"select contact_id, form, form_version, score_pct, passed, automatic_fail, "
                             f"performance_category, pass_score, points, max_points from v_evaluation_scores{where}")
    answers = _by_call(query, f"select contact_id, form, section_id, question_id, question_type, answer, value, "
                              f"points, max_points, not_applicable, automatic_fail, evidence_turn, evidence "
                              f"from evaluations{where}")
    return scores, answers


def _by_call(query: Query, sql: str) -> dict[str, list[dict]]:
    """The rows of ``sql`` as dicts, grouped by their contact_id."""
    grouped: dict[str, list[dict]] = defaultdict(list)
    columns, rows = query(sql)
    for r in rows:
        row = dict(zip(columns, r, strict=True))
        grouped[row["contact_id"]].append(row)
    return dict(grouped)


def _answer_text(form: Any, qid: str, answer: str | None) -> str:
    """The option's text for a yes/no answer (its id otherwise), a numeric answer's range as it is."""
    if form is not None:
        question = next((q for _, q in form.questions() if q.id == qid), None)
        if question is not None:
            option = next((o for o in question.options if o.id is not None and o.id == answer), None)
            if option is not None and option.text:
                return option.text
    if answer and re.fullmatch(r"-?\d+\.\.-?\d+", answer):  # a numeric option's range
        low, high = answer.split("..")
        return low if low == high else f"{low}–{high}"
    return {"NOT_APPLICABLE": "not applicable", "UNANSWERED": "not answered"}.get(answer or "", answer or "–")


def form_card(cid: str, score: dict, answers: Sequence[dict], forms: dict[str, Any], turn_ids: set[int]) -> str:
    """One form on a call's page: score and pass / fail, then each question with its answer and evidence."""
    name = score["form"]
    form = forms.get(name)
    order = {q.id: i for i, (_, q) in enumerate(form.questions())} if form else {}
    text = {q.id: q.title for _, q in form.questions()} if form else {}
    own = sorted((a for a in answers if a["form"] == name), key=lambda a: (order.get(a["question_id"], 10**6),
                                                                          a["question_id"]))
    if score["score_pct"] is None:
        verdict, cls = "not scored (no question applied)", "none"
    elif score["automatic_fail"]:
        verdict, cls = "failed: automatic fail", "fail"
    else:
        verdict, cls = ("passed" if score["passed"] else "failed"), ("pass" if score["passed"] else "fail")
    head = (f'<div class="verdict {cls}"><span class="score" data-score>{esc(_pct(score["score_pct"]))}</span> '
            f'<span class="outcome-word">{esc(verdict)}</span> <span class="caption">pass mark '
            f'{esc(fmt(score.get("pass_score")))} %'
            + (f' · {esc(str(score["performance_category"]).replace("_", " ").lower())}'
               if score.get("performance_category") else "") + '</span></div>')
    rows = []
    for a in own:
        evidence = esc(a["evidence"] or "")
        turn = a["evidence_turn"]
        if turn is not None and int(turn) in turn_ids:
            evidence = (f'<a class="evidence" href="#call-{esc(cid)}" data-turn="{esc(cid)}-t{int(turn)}">'
                        f'{evidence}</a>')
        fail = ' <span class="cut-badge">automatic fail</span>' if a["automatic_fail"] else ""
        points = "–" if a["not_applicable"] else f'{fmt(a["points"])} / {fmt(a["max_points"])}'  # NULL: –
        rows.append(f'<tr data-question="{esc(a["question_id"])}"><td class="wrap">'
                    f'{esc(text.get(a["question_id"], a["question_id"]))}</td>'
                    f'<td class="wrap">{esc(_answer_text(form, a["question_id"], a["answer"]))}{fail}</td>'
                    f'<td class="num">{esc(points)}</td><td class="wrap">{evidence}</td></tr>')
    title = f"{form.title} ({name})" if form else name
    return (f'<div class="card wide evaluation" data-form="{esc(name)}"><h3>Evaluation: {esc(title)}</h3>{head}'
            f'<div class="scroll"><table class="chart table answers"><thead><tr><th class="txt">Question</th>'
            f'<th class="txt">Answer</th><th class="num">Points</th><th class="txt">Evidence</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div></div>')


def call_form_cards(cid: str, scores: Sequence[dict], answers: Sequence[dict], forms: dict[str, Any],
                    turns: Sequence[dict]) -> str:
    if not scores:
        return ""
    turn_ids = {int(t["turn_index"]) for t in turns if t.get("turn_index") is not None}
    ordered = sorted(scores, key=lambda s: (s["form"] != DEFAULT_FORM, s["form"]))
    return "".join(form_card(cid, s, answers, forms, turn_ids) for s in ordered)
