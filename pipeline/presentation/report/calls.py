"""The report's calls: a sortable, filterable table of every call and one page per call.

A call's page (``#call-<contact_id>``) has what an analyst opens a call for: who, when, how it
went (sentiment start → end and the outcome: where it ended and how it moved, one definition with
the views: :func:`pipeline.steps.sentiment.outcome`), a link to play the recording, a timeline of both
channels (talk, overlap, silences over 3 s, interruptions), the customer's and the agent's sentiment
by quarter, the customer's sentiment and both sides' loudness turn by turn, the categories with the
turn of each one's first evidence, and the transcript (speaker, times, sentiment colour, loudness,
interruptions, redacted PII as tags). Everything is rendered here, in Python, and escaped; the page's
script only sorts and filters the table and exports its shown rows as CSV.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from pipeline.presentation.dashboard import Dashboard
from pipeline.presentation.report.charts import MINUS, PALETTE, _legend, _marker, day_label, esc, filter_href, fmt, nice_ticks
from pipeline.presentation.report.links import RecordingLink
from pipeline.steps.sentiment import ENDED_NEGATIVE_AT, ENDED_POSITIVE_AT, Outcome

__all__ = ["CallData", "calls_section", "call_pages", "load_calls", "load_turns"]

Query = Callable[[str], tuple[list[str], list[tuple]]]
NON_TALK_MIN_S = 3.0  # Contact Lens: non-talk time is silence over 3 s
_PII = re.compile(r"\[([A-Z][A-Z_]*)\]")
_SENTIMENT_CLASS = {"POSITIVE": "pos", "NEGATIVE": "neg", "MIXED": "mix", "NEUTRAL": "neu"}
_SPEAKERS = {"AGENT": ("agent", "Agent"), "CUSTOMER": ("customer", "Customer")}
NO_CONTACT_RECORD = "(no contact record)"  # v_call_contacts' agent and queue of a call without a contact trace record


def _speaker(participant: object) -> tuple[str, str]:
    """(CSS class, label as text) of a turn's participant; anything but AGENT/CUSTOMER is shown as it is."""
    if participant in _SPEAKERS:
        return _SPEAKERS[participant]  # type: ignore[index]
    return "other", str(participant) if participant else "Unknown speaker"


def _timed(turns: Sequence[dict]) -> list[dict]:
    """The turns that have both times (a turn without them has no place on a timeline)."""
    return [t for t in turns if t.get("begin_s") is not None and t.get("end_s") is not None]


@dataclass
class CallData:
    """The calls of the report's range: one row per call, their turns and categories."""

    columns: list[str]
    rows: list[dict]
    turns: dict[str, list[dict]] = field(default_factory=dict)
    categories: dict[str, list[dict]] = field(default_factory=dict)
    attributes: list[tuple[str, str]] = field(default_factory=list)  # (attribute name, label)
    attribute_values: dict[str, dict[str, str]] = field(default_factory=dict)  # contact_id -> name -> value
    descriptions: dict[str, str] = field(default_factory=dict)  # category -> what it means
    links: Callable[[str | None], RecordingLink | None] | None = None  # recording_uri -> where to play it
    total: int = 0  # calls in the range; ``rows`` holds the latest of them when there are more than the limit
    forms: dict = field(default_factory=dict)  # evaluation form name -> Form (question text), see report_quality
    scores: dict[str, list[dict]] = field(default_factory=dict)  # contact_id -> v_evaluation_scores rows (a batch's)
    answers: dict[str, list[dict]] = field(default_factory=dict)  # contact_id -> evaluations rows (a batch's)


def _dicts(columns: list[str], rows: list[tuple]) -> list[dict]:
    return [dict(zip(columns, r, strict=True)) for r in rows]


def _human(name: str) -> str:
    """An attribute name as a label: customerTier -> Customer tier, ivr_choice -> Ivr choice."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").split()
    return " ".join(words).capitalize() if words else name


MAX_ATTRIBUTES = 4  # unnamed, the most common attributes of the range: more would not fit a laptop's table
MAX_CALLS = 2000  # a call's page is ~10-20 KB of HTML: a month of a busy centre would not open in a browser


PAGE_BATCH = 200  # call pages rendered (and their turns read) this many at a time: memory stays flat


def _literals(values: Sequence[str]) -> str:
    return ", ".join(_literal(v) for v in values)


def _literal(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _of_calls(contact_ids: Sequence[str], days: Sequence[str]) -> str:
    """A where clause for these calls. Their days as a range (``dt >= first and dt <= last``), not a list:
    DuckDB carries a range (or ``=``) through the views' joins to every table's files, so only those days'
    files are read, but ``dt in (...)`` only to the first table (v_call_contacts then read every day's
    call_categories)."""
    return (f" where dt >= {_literal(min(days))} and dt <= {_literal(max(days))} "
            f"and contact_id in ({_literals(contact_ids)})")


def load_calls(query: Query, where: str, attributes: str = "", limit: int = MAX_CALLS) -> CallData:
    """The calls in ``where`` (a condition on dt), the latest ``limit`` of them, with categories and attributes.

    Their turns are read with their pages (:func:`call_pages`), a batch at a time. The latest calls are
    picked from ``calls`` alone (two columns) of the last days that hold ``limit`` calls, then every other
    query names them and their days: over a long range nothing reads, joins or aggregates the other days'
    files (only their row counts, from the files' metadata).

    ``attributes``: the names to show (``AFTERCALL_CTR_ATTRIBUTES``); empty, the range's most common ones.
    """
    per_day = query(f"select dt, count(*) from calls{where} group by dt order by dt desc")[1]  # files' metadata
    total = sum(n for _, n in per_day)
    # The latest calls are on the last days: look only as far back as `limit` calls go (a day, usually)
    since, counted = None, 0
    for dt, n in per_day:
        since, counted = dt, counted + n
        if counted >= limit:
            break
    near = f"{where} and dt >= {_literal(since)}" if where else f" where dt >= {_literal(since)}"
    latest = query(f"select contact_id, dt from calls{near} order by call_started_at desc, contact_id "
                   f"limit {int(limit)}")[1] if since else []
    if not latest:
        return CallData(query("select * from v_call_contacts where false")[0], [], total=total)
    chosen = _of_calls([cid for cid, _ in latest], [dt for _, dt in latest])
    columns, rows = query(f"select * from v_call_contacts{chosen} order by call_started_at, contact_id")
    calls = _dicts(columns, rows)
    categories: dict[str, list[dict]] = defaultdict(list)
    for match in _dicts(*query(f"select contact_id, category, first_match_s, match_count from call_categories{chosen} "
                               f"order by contact_id, first_match_s, category")):
        categories[match["contact_id"]].append(match)
    values: dict[str, dict[str, str]] = defaultdict(dict)
    seen: dict[str, int] = defaultdict(int)
    for cid, name, value in query(f"select contact_id, name, value from contact_attributes{chosen}")[1]:
        values[cid][name] = value
        seen[name] += 1
    names = [n.strip() for n in attributes.split(",") if n.strip()] if attributes else \
        sorted(seen, key=lambda n: (-seen[n], n))[:MAX_ATTRIBUTES]
    named = [(n, _human(n)) for n in dict.fromkeys(names)]
    return CallData(columns, calls, {}, dict(categories), named, dict(values), total=total)


def load_turns(query: Query, calls: Sequence[dict]) -> dict[str, list[dict]]:
    """The turns of ``calls`` (rows of v_call_contacts), read from their days only."""
    if not calls:
        return {}
    turns: dict[str, list[dict]] = defaultdict(list)
    where = _of_calls([c["contact_id"] for c in calls], [c["dt"] for c in calls])
    for turn in _dicts(*query(f"select contact_id, dt, turn_index, participant, begin_s, end_s, text, sentiment, "
                              f"sentiment_score, loudness, is_interruption from v_turns{where} order by contact_id, "
                              f"begin_s, turn_index")):
        turns[turn["contact_id"]].append(turn)
    return dict(turns)


def _outcome(call: dict) -> Outcome:
    """The call's outcome as v_call_contacts computed it (customer_ended, customer_moved): the views' definition."""
    return Outcome(call.get("customer_ended"), call.get("customer_moved"))


def _outcome_class(found: Outcome) -> str:
    """The colour of a call's sentiment: green only when it ended happier or positive, red when it ended negative."""
    if found.ended is None:
        return "none"
    return "happier" if found.happier else f"ended-{found.ended.lower()}"


def _outcome_text(found: Outcome) -> str:
    if found.ended is None:
        return "no sentiment"
    if found.happier:
        return f"ended happier ({found.ended.lower()}, {found.moved.lower()})"  # type: ignore[union-attr]
    return f"ended {found.ended.lower()}" + (f", {found.moved.lower()}" if found.moved else "")


def _outcome_short(found: Outcome) -> str:
    """The outcome in a table cell's second line: "happier", "negative end, rose", ..."""
    if found.ended is None:
        return "no sentiment"
    if found.happier:
        return "happier"
    return f"{found.ended.lower()} end" + (f", {found.moved.lower()}" if found.moved else "")


# The sentiment filter: each call carries every tag of its outcome (a call that ended neutral and rose is in
# "ended happier", "ended neutral" and "rose").
_OUTCOME_FILTER = [("happier", "Ended happier (≥ neutral, rose)"), ("ended-negative", "Ended negative"),
                   ("ended-neutral", "Ended neutral"), ("ended-positive", "Ended positive"), ("rose", "Rose"),
                   ("flat", "Flat"), ("fell", "Fell"), ("no-sentiment", "No sentiment")]


def _who_label(value: object) -> str:
    """An agent or queue as shown: a call without a contact trace record names nobody."""
    return "no contact record" if value == NO_CONTACT_RECORD else str(value)


def _who_link(key: str, value: object) -> str:
    cls = "filter-link none" if value == NO_CONTACT_RECORD else "filter-link"
    return f'<a class="{cls}" href="{filter_href(key, value)}">{esc(_who_label(value))}</a>'


def _select(name: str, label: str, options: Sequence[tuple[str, str]], multi: bool = False) -> str:
    opts = "".join(f'<option value="{esc(v)}">{esc(t)}</option>' for v, t in options)
    return (f'<label>{esc(label)}<select data-filter="{esc(name)}"{" data-multi" if multi else ""}>'
            f'<option value="">All</option>{opts}</select></label>')


def _csv_value(value: object) -> object:
    """A value as the CSV export writes it (JSON in the row's data-csv: numbers stay numbers)."""
    if isinstance(value, float) and value != value:  # NaN: no value (JSON has no NaN)
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def calls_section(dashboard: Dashboard, data: CallData, sheet_id: str, sheet_name: str, list_columns: Sequence[str]) -> str:
    """The calls table with its filters (day, agent, queue, category, sentiment shift, each contact attribute)."""
    calls = data.rows
    days = sorted({c["dt"] for c in calls})
    filters = [
        _select("dt", "Day", [(d, day_label(d, with_year=True)) for d in days]),
        _select("agent", "Agent", [(a, _who_label(a)) for a in sorted({c["agent_username"] for c in calls})]),
        _select("queue", "Queue", [(q, _who_label(q)) for q in sorted({c["queue_name"] for c in calls})]),
        _select("category", "Category", [(k, k) for k in sorted({m["category"] for ms in data.categories.values()
                                                                for m in ms})], multi=True),
        _select("outcome", "Customer sentiment", _OUTCOME_FILTER, multi=True),
        *(_select(f"attr-{i}", label, [(v, v) for v in sorted({a[name] for a in data.attribute_values.values()
                                                                 if a.get(name) is not None})])
          for i, (name, label) in enumerate(data.attributes)),
    ]
    # The day folds into the start time and the sentiment start and end into the shift's cell, so the
    # table (and its attribute columns) fits a laptop's width; the shift's cell sorts by the shift.
    folded = {"dt", "customer_sentiment_start", "customer_sentiment_end", "customer_ended", "customer_moved"}
    shown = [c for c in list_columns if c in data.columns and c not in folded]
    shown += [f"attr-{i}" for i in range(len(data.attributes))]
    labels = {f"attr-{i}": label for i, (_, label) in enumerate(data.attributes)}
    labels["customer_sentiment_shift"] = "Customer sentiment"
    head = "".join(f'<th data-col="{i}" class="{_align(dashboard, c)}" tabindex="0" aria-sort="none" '
                   f'title="{esc(labels.get(c) or dashboard.label(c))}">'
                   f'{esc(labels.get(c) or dashboard.short_label(c))}</th>' for i, c in enumerate(shown))
    # The CSV export: the list's columns as the views name them (unfolded), the outcome, then the attributes
    csv_columns = [c for c in list_columns if c in data.columns]
    csv_columns += [c for c in ("customer_ended_happier", "has_contact_record", "recording_uri")
                    if c in data.columns and c not in csv_columns]
    body = [_call_row(dashboard, call, shown, data, len(days) == 1, csv_columns) for call in calls]
    csv_names = csv_columns + [f"attr_{name}" for name, _ in data.attributes]
    empty = '<p class="empty">No calls in this range.</p>' if not calls else ""
    if data.total > len(calls):
        empty = (f'<p class="note">Showing the latest {len(calls):,} of {data.total:,} calls in this range (the charts '
                 f'count them all): pick fewer days with --from/--to, or raise --max-calls.</p>')
    return (f'<section class="sheet" id="{esc(sheet_id)}"><h2>{esc(sheet_name)}</h2>'
            f'<div class="filters">{"".join(filters)}'
            f'<label>Said in the call<input type="search" data-search placeholder="words, e.g. cancel my contract" '
            f'title="Calls with a turn that says these words: whole words, any case and punctuation, as '
            f'aftercall search matches them"></label>'
            f'<button type="button" data-clear>Clear filters</button>'
            f'<button type="button" data-csv-export title="The calls shown (as filtered and sorted), every column, as '
            f'CSV; text starting with = + - @ gets a leading \' so a spreadsheet never runs it">Export CSV</button>'
            f'<span class="count" data-count>{len(calls)} of {len(calls)} calls</span></div>{empty}'
            f'<div class="scroll"><table class="calls" id="calls-table" data-csv-columns="{esc(json.dumps(csv_names))}">'
            f'<thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div></section>')


def _align(dashboard: Dashboard, column: str) -> str:
    return "txt" if dashboard.unit(column) in ("text", "time") or column.startswith("attr-") else "num"


def _call_row(dashboard: Dashboard, call: dict, shown: Sequence[str], data: CallData, one_day: bool,
              csv_columns: Sequence[str] = ()) -> str:
    cid = call["contact_id"]
    names = [m["category"] for m in data.categories.get(cid, [])]
    own = data.attribute_values.get(cid, {})
    attrs = {f"attr-{i}": own.get(name) or "" for i, (name, _) in enumerate(data.attributes)}
    found = _outcome(call)
    row_data = {"dt": call["dt"], "agent": call["agent_username"], "queue": call["queue_name"],
                "category": "|" + "|".join(names) + "|", "outcome": "|" + "|".join(found.tags) + "|",
                **attrs}
    csv = [_csv_value(call.get(c)) for c in csv_columns] + [own.get(name) for name, _ in data.attributes]
    cells = []
    for column in shown:
        value = attrs.get(column) if column.startswith("attr-") else call.get(column)
        sort = value.isoformat() if hasattr(value, "isoformat") else ("" if value is None else value)
        if column == "contact_id":
            inner = f'<a href="#call-{esc(cid)}" title="{esc(cid)}">{esc(cid[:8])}…</a>'
        elif column == "call_started_at":
            inner = esc(value.strftime("%H:%M") if one_day else f'{day_label(call["dt"])} {value:%H:%M}') if value else "–"
        elif column == "agent_username":
            inner = _who_link("agent", value)
        elif column == "queue_name":
            inner = _who_link("queue", value)
        elif column == "categories":
            inner = " ".join(f'<a class="chip" href="{filter_href("category", n)}" title="{esc(data.descriptions.get(n, n))}">'
                             f'{esc(n)}</a>' for n in names)
        elif column == "customer_sentiment_shift":
            inner = (f'<span class="outcome {_outcome_class(found)}" title="{esc(_outcome_text(found))}">'
                     f'{fmt(call.get("customer_sentiment_start"), "sentiment")} → '
                     f'{fmt(call.get("customer_sentiment_end"), "sentiment")} ({fmt(value, "sentiment")})</span> '
                     f'<span class="outcome-text">{esc(_outcome_short(found))}</span>')
        elif column.startswith("attr-"):
            inner = esc(value or "")
        else:
            inner = esc(fmt(value, dashboard.unit(column)))
        wrap = " wrap" if column == "categories" else ""
        cells.append(f'<td class="{_align(dashboard, column)}{wrap}" data-sort="{esc(sort)}">{inner}</td>')
    attributes = "".join(f' data-{k}="{esc(v)}"' for k, v in row_data.items())
    return f'<tr data-call="{esc(cid)}"{attributes} data-csv="{esc(json.dumps(csv))}">{"".join(cells)}</tr>'


def call_pages(dashboard: Dashboard, data: CallData, query: Query | None = None,
               batch: int | None = None) -> Iterator[str]:
    """Every call's page, ``batch`` (PAGE_BATCH) calls at a time; with ``query``, each batch's turns are read
    just before its pages and dropped after (2,000 calls hold ~66,000 turns: as Python dicts, ~80 MB at once)."""
    batch = batch or PAGE_BATCH
    for i in range(0, len(data.rows), batch):
        calls = data.rows[i:i + batch]
        if query is not None:
            from pipeline.presentation.report.quality import call_forms

            data.turns = load_turns(query, calls)
            data.scores, data.answers = call_forms(query, calls)
        yield "".join(_call_page(dashboard, call, data) for call in calls)
    if query is not None:
        data.turns, data.scores, data.answers = {}, {}, {}


def _fact(label: str, value: str) -> str:
    return f"<div><dt>{esc(label)}</dt><dd>{value}</dd></div>"


def _started(call: dict) -> str:
    """When the call started: in the centre's zone when the lake knows it (AFTERCALL_TIMEZONE), else UTC."""
    local, zone = call.get("call_started_local"), call.get("timezone")
    if local is not None and zone and zone != "UTC":
        return _fact(f"Started ({zone})", esc(local.strftime("%H:%M:%S")))
    started = call["call_started_at"]
    return _fact("Started (UTC)", esc(started.strftime("%H:%M:%S") if started else "–"))


def _call_page(dashboard: Dashboard, call: dict, data: CallData) -> str:
    from pipeline.presentation.report.quality import call_form_cards

    cid = call["contact_id"]
    turns = data.turns.get(cid, [])
    matches = data.categories.get(cid, [])
    started = call["call_started_at"]
    facts = [
        _fact("Day", esc(day_label(call["dt"], with_year=True))),
        _started(call),
        _fact("Duration", esc(fmt(call["duration_s"], "seconds"))),
        _fact("Agent", _who_link("agent", call["agent_username"])),
        _fact("Queue", _who_link("queue", call["queue_name"])),
        *(_fact(label, esc(data.attribute_values.get(cid, {}).get(name) or "–")) for name, label in data.attributes),
        _fact("Language", esc(call.get("language_code") or "–")),
        _fact("Transcriber", esc(call.get("transcriber") or "–")),
    ]
    found = _outcome(call)
    figures = [
        ("Customer sentiment", f'{fmt(call.get("customer_sentiment_start"), "sentiment")} → '
                               f'{fmt(call.get("customer_sentiment_end"), "sentiment")}', _outcome_class(found)),
        ("Customer outcome", _outcome_text(found), _outcome_class(found)),
        ("Agent talk", fmt(call.get("agent_talk_ratio"), "percent"), ""),
        ("Customer talk", fmt(call.get("customer_talk_ratio"), "percent"), ""),
        ("Non-talk", fmt(call.get("non_talk_ratio"), "percent"), ""),
        ("Interruptions (agent / customer)",
         f'{fmt(call.get("agent_interruptions"))} / {fmt(call.get("customer_interruptions"))}', ""),
        ("Talk speed (agent / customer)",
         f'{fmt(call.get("agent_wpm"), "wpm")} / {fmt(call.get("customer_wpm"), "wpm")}', ""),
    ]
    kpis = "".join(f'<div class="kpi {cls}"><div class="kpi-value">{esc(v)}</div><div class="kpi-title">{esc(t)}</div>'
                   f'</div>' for t, v, cls in figures)
    summary = (f'<div class="card wide summary"><h3>Summary ({esc(call.get("transcriber") or "the engine")})</h3>'
               f'<p>{_text(call["summary"])}</p></div>') if call.get("summary") else ""
    return (f'<section class="call" id="call-{esc(cid)}" data-call="{esc(cid)}">'
            f'<p class="back"><a href="#calls">← All calls</a></p>'
            f'<h2>Call {esc(cid)}</h2><dl class="facts">{"".join(facts)}</dl><div class="kpis">{kpis}</div>{summary}'
            f'{call_form_cards(cid, data.scores.get(cid, []), data.answers.get(cid, []), data.forms, turns)}'
            f'<div class="card wide recording"><h3>Recording</h3>{_recording(call, data.links)}</div>'
            f'<div class="grid"><div class="card wide"><h3>Timeline</h3>{_timeline(cid, call, turns, matches)}</div>'
            f'<div class="card"><h3>Sentiment by quarter of the call (−5..+5)</h3>{_quarters(call)}</div>'
            f'<div class="card"><h3>Categories</h3>{_categories(cid, matches, turns, data.descriptions)}</div>'
            f'<div class="card"><h3>Customer sentiment turn by turn (−5..+5)</h3>{_sentiment_turns(cid, call, turns)}'
            f'</div><div class="card"><h3>Loudness turn by turn (0–100)</h3>{_loudness_turns(cid, call, turns)}</div>'
            f'</div>'
            f'<div class="card wide"><h3>Transcript</h3>{_transcript(cid, turns)}</div></section>')


def _intervals(turns: Sequence[dict], who: str) -> list[tuple[float, float]]:
    return sorted((t["begin_s"], t["end_s"]) for t in _timed(turns) if t["participant"] == who)


def _silences(turns: Sequence[dict], duration: float) -> list[tuple[float, float]]:
    """Stretches over 3 s in which neither side speaks (leading and trailing ones too)."""
    gaps, reach = [], 0.0
    for begin, end in sorted((t["begin_s"], t["end_s"]) for t in _timed(turns)):
        if begin - reach > NON_TALK_MIN_S:
            gaps.append((reach, begin))
        reach = max(reach, end)
    if duration - reach > NON_TALK_MIN_S:
        gaps.append((reach, duration))
    return gaps


def _overlaps(turns: Sequence[dict]) -> list[tuple[float, float]]:
    agent, customer = _intervals(turns, "AGENT"), _intervals(turns, "CUSTOMER")
    return [(max(a0, c0), min(a1, c1)) for a0, a1 in agent for c0, c1 in customer if min(a1, c1) > max(a0, c0)]


def _timeline(cid: str, call: dict, turns: Sequence[dict], matches: Sequence[dict]) -> str:
    turns = _timed(turns)
    duration = float(call["duration_s"] or 0) or max((t["end_s"] for t in turns), default=1.0)
    if not turns:
        return '<p class="empty">No transcript for this call (transcription was off), so no timeline of turns.</p>'
    width, left, right = 1000, 90, 16
    x = (lambda s: left + (width - left - right) * min(max(s / duration, 0.0), 1.0))
    lanes = {"AGENT": 30, "CUSTOMER": 62}
    parts = [f'<text class="label" x="{left - 8}" y="{lanes["AGENT"] + 13}" text-anchor="end">Agent</text>',
             f'<text class="label" x="{left - 8}" y="{lanes["CUSTOMER"] + 13}" text-anchor="end">Customer</text>']
    for begin, end in _silences(turns, duration):
        parts.append(f'<rect class="silence" x="{x(begin):.1f}" y="24" width="{x(end) - x(begin):.1f}" height="62">'
                     f'<title>silence {fmt(begin, "seconds")}–{fmt(end, "seconds")} ({end - begin:.1f} s)</title></rect>')
    for t in turns:
        y = lanes.get(t["participant"], lanes["CUSTOMER"])
        color = PALETTE[0] if t["participant"] == "AGENT" else PALETTE[1]
        who = _speaker(t["participant"])[1]
        loud = f' (loudness {t["loudness"]:.0f})' if t.get("loudness") is not None else ""
        tip = f'{who} {fmt(t["begin_s"], "seconds")}{loud}: {_quote(t["text"], 80)}'
        parts.append(f'<a href="#call-{esc(cid)}" data-turn="{esc(cid)}-t{esc(t["turn_index"])}"><rect class="talk" '
                     f'x="{x(t["begin_s"]):.1f}" y="{y}" width="{max(x(t["end_s"]) - x(t["begin_s"]), 1.5):.1f}" '
                     f'height="18" fill="{color}"><title>{esc(tip)}</title></rect></a>')
        if t["is_interruption"]:
            parts.append(f'<path class="cut" d="M{x(t["begin_s"]):.1f},{y - 2} l-5,-8 h10 z"><title>'
                         f'{esc(who)} cuts in at {fmt(t["begin_s"], "seconds")}</title></path>')
    for begin, end in _overlaps(turns):
        parts.append(f'<rect class="overlap" x="{x(begin):.1f}" y="{lanes["AGENT"] + 18}" '
                     f'width="{max(x(end) - x(begin), 1.5):.1f}" height="{lanes["CUSTOMER"] - lanes["AGENT"] - 18}">'
                     f'<title>both talking {fmt(begin, "seconds")}–{fmt(end, "seconds")}</title></rect>')
    for m in matches:
        if m["first_match_s"] is not None and m["first_match_s"] > 0:
            parts.append(f'<path class="flag" d="M{x(m["first_match_s"]):.1f},86 v-70 l8,4 l-8,4"><title>'
                         f'{esc(m["category"])} at {fmt(m["first_match_s"], "seconds")}</title></path>')
    ticks, _ = nice_ticks(0, duration, count=8)
    for tick in (t for t in ticks if t <= duration):
        parts.append(f'<line class="grid" x1="{x(tick):.1f}" y1="22" x2="{x(tick):.1f}" y2="88"/>'
                     f'<text class="tick" x="{x(tick):.1f}" y="104" text-anchor="middle">{fmt(tick, "seconds")}</text>')
    legend = ('<div class="legend"><span class="key"><i style="background:#2563eb"></i>Agent talking</span>'
              '<span class="key"><i style="background:#ea580c"></i>Customer talking</span>'
              '<span class="key"><i class="overlap-key"></i>Both talking</span>'
              '<span class="key"><i class="silence-key"></i>Silence over 3 s</span>'
              '<span class="key"><b class="cut-key">▼</b>Cuts in</span>'
              '<span class="key"><b class="flag-key">⚑</b>Category matched</span></div>')
    return (f'<svg class="timeline" viewBox="0 0 {width} 110" role="img" aria-label="Timeline">{"".join(parts)}</svg>'
            + legend)


def _quarters(call: dict) -> str:
    width, height, left, top, bottom = 420, 170, 40, 10, 28
    y = (lambda v: top + (height - top - bottom) * (5 - v) / 10)
    parts = []
    for tick in (-5, -2.5, 0, 2.5, 5):
        parts.append(f'<line class="{"zero" if tick == 0 else "grid"}" x1="{left}" y1="{y(tick):.1f}" '
                     f'x2="{width - 8}" y2="{y(tick):.1f}"/><text class="tick" x="{left - 6}" y="{y(tick) + 4:.1f}" '
                     f'text-anchor="end">{fmt(tick, "sentiment") if tick else "0"}</text>')
    slot = (width - left - 8) / 4
    for q in range(4):
        for s, who in enumerate(("customer", "agent")):
            value = call.get(f"{who}_sentiment_q{q + 1}")
            bx = left + slot * q + 14 + s * (slot / 2 - 10)
            if value is None:
                parts.append(f'<text class="tick" x="{bx + (slot / 2 - 18) / 2:.1f}" y="{y(0) - 4:.1f}" '
                             f'text-anchor="middle">–</text>')
                continue
            y0, y1 = sorted((y(0), y(value)))
            if y1 - y0 < 1.5:  # a zero: a mark across the axis, not a sliver that reads as slightly negative
                y0, y1 = y(0) - 1.5, y(0) + 1.5
            parts.append(f'<rect x="{bx:.1f}" y="{y0:.1f}" width="{slot / 2 - 18:.1f}" height="{y1 - y0:.1f}" '
                         f'fill="{PALETTE[1] if who == "customer" else PALETTE[0]}"><title>{who.title()} Q{q + 1}: '
                         f'{fmt(value, "sentiment")}</title></rect>')
        parts.append(f'<text class="tick" x="{left + slot * q + slot / 2:.1f}" y="{height - 8}" '
                     f'text-anchor="middle">Q{q + 1}</text>')
    legend = ('<div class="legend"><span class="key"><i style="background:#ea580c"></i>Customer</span>'
              '<span class="key"><i style="background:#2563eb"></i>Agent</span></div>')
    return f'<svg class="quarters" viewBox="0 0 {width} {height}" role="img" aria-label="Sentiment by quarter">' \
           f'{"".join(parts)}</svg>{legend}'


def _turn_at(turns: Sequence[dict], seconds: float) -> dict | None:
    """The turn a match time points at: the one that starts then (a cut-in starts inside the other side's turn,
    which would otherwise be found first), else one that holds it, else the nearest."""
    turns = _timed(turns)
    starting = [t for t in turns if abs(t["begin_s"] - seconds) <= 0.05]
    if starting:
        return starting[0]
    for t in turns:
        if t["begin_s"] - 0.05 <= seconds <= t["end_s"] + 0.05:
            return t
    return min(turns, key=lambda t: abs(t["begin_s"] - seconds), default=None)


def _quote(text: str | None, limit: int = 60) -> str:
    """The start of a turn, cut at a word with an ellipsis."""
    text = text or ""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(" ,.;:") + "…"


def _categories(cid: str, matches: Sequence[dict], turns: Sequence[dict], descriptions: dict[str, str]) -> str:
    if not matches:
        return '<p class="empty">No category matched this call.</p>'
    items = []
    for m in matches:
        where = "matched on the call as a whole"
        at = m["first_match_s"]
        if at:
            turn = _turn_at(turns, at)
            where = f"first at {fmt(at, 'seconds')}"
            if turn is not None:
                where = (f'first at <a href="#call-{esc(cid)}" data-turn="{esc(cid)}-t{esc(turn["turn_index"])}">'
                         f'{fmt(at, "seconds")}, {esc(_speaker(turn["participant"])[1].lower())}: '
                         f'“{esc(_quote(turn["text"]))}”</a>')
        count = m["match_count"] or 1
        meaning = descriptions.get(m["category"])
        items.append(f'<li><a class="chip" href="{filter_href("category", m["category"])}">{esc(m["category"])}</a> '
                     f'{where} · {count} match{"es" if count != 1 else ""}'
                     + (f'<div class="meaning">{esc(meaning)}</div>' if meaning else "") + "</li>")
    return f'<ul class="matches">{"".join(items)}</ul>'


def _text(text: str | None) -> str:
    """The turn's words, escaped, with redacted PII ([PHONE], [PII], …) shown as tags."""
    return _PII.sub(lambda m: f'<span class="pii" title="redacted {m[1].lower()}">{m[1]}</span>', esc(text or ""))


def _transcript(cid: str, turns: Sequence[dict]) -> str:
    if not turns:
        return '<p class="empty">No transcript for this call.</p>'
    rows = []
    for t in turns:
        kind = _SENTIMENT_CLASS.get(t["sentiment"] or "", "none")
        sentiment = (f'<span class="sent {kind}">{esc((t["sentiment"] or "").lower())}'
                     f'{" " + fmt(5 * t["sentiment_score"], "sentiment") if t["sentiment_score"] is not None else ""}'
                     f'</span>') if t["sentiment"] else ""
        cut = '<span class="cut-badge" title="cuts the other side off">cuts in</span>' if t["is_interruption"] else ""
        loud = (f'<span class="loud" title="loudness {t["loudness"]:.0f} of 100">'
                f'<i style="width:{max(0.0, min(float(t["loudness"]), 100.0)) * 0.4:.0f}px"></i>{t["loudness"]:.0f}</span>'
                if t.get("loudness") is not None else '<span class="loud"></span>')
        who, label = _speaker(t["participant"])
        rows.append(f'<li class="turn {who} {kind}" id="{esc(cid)}-t{esc(t["turn_index"])}">'
                    f'<span class="when">{fmt(t["begin_s"], "seconds")}–{fmt(t["end_s"], "seconds")}</span>'
                    f'<span class="who">{esc(label)}</span><span class="said">{_text(t["text"])}</span>'
                    f'{cut}{sentiment}{loud}</li>')
    return f'<ol class="transcript">{"".join(rows)}</ol>'


def _recording(call: dict, links: Callable[[str | None], RecordingLink | None] | None) -> str:
    """A player and a link to the call's recording (a presigned URL says until when it works)."""
    uri = call.get("recording_uri")
    link = links(uri) if links is not None else None
    if link is None:
        why = ("no recording is named for this call" if not uri else
               "the recording is neither a file here when the report was written nor an s3:// object")
        return f'<p class="empty">No link to play: {esc(why)} ({esc(uri or "–")}).</p>'
    href = esc(link.href)
    expiry = ""
    if link.expires_at is not None:
        expiry = (f'<p class="caption" data-expires="{esc(link.expires_at.isoformat())}">A signed S3 link, valid until '
                  f'{esc(f"{link.expires_at:%Y-%m-%d %H:%M} UTC")} (made when this report was written; write the report '
                  f'again for a fresh one).</p>')
    return (f'<audio controls preload="none" src="{href}"></audio> '
            f'<a class="play" href="{href}" target="_blank" rel="noopener noreferrer" data-recording>'
            f'Play the recording</a> <span class="caption">{esc(uri)}</span>{expiry}')


def _turn_axes(duration: float, lo: float, hi: float, ticks_y: Sequence[float], unit_y: str
               ) -> tuple[list[str], Callable[[float], float], Callable[[float], float]]:
    """A time axis (the call, 0 to its end) and a value axis: the grid of a turn-by-turn chart."""
    width, height, left, right, top, bottom = 420, 170, 40, 24, 10, 28  # right: room for the last time label
    x = (lambda sec: left + (width - left - right) * min(max(sec / (duration or 1), 0.0), 1.0))
    y = (lambda v: top + (height - top - bottom) * (hi - v) / (hi - lo))
    parts = []
    for tick in ticks_y:
        label = (fmt(tick, "sentiment") if tick else "0") if unit_y == "sentiment" else f"{tick:.0f}"
        parts.append(f'<line class="{"zero" if tick == 0 and lo < 0 else "grid"}" x1="{left}" y1="{y(tick):.1f}" '
                     f'x2="{width - right}" y2="{y(tick):.1f}"/><text class="tick" x="{left - 6}" y="{y(tick) + 4:.1f}" '
                     f'text-anchor="end">{esc(label)}</text>')
    ticks, _ = nice_ticks(0, duration or 1, count=5)
    for tick in (t for t in ticks if t <= duration):
        parts.append(f'<text class="tick" x="{x(tick):.1f}" y="{height - 8}" text-anchor="middle">'
                     f'{fmt(tick, "seconds")}</text>')
    return parts, x, y


def _turn_mark(cid: str, t: dict, x: float, y: float, series: int, tip: str) -> str:
    """A turn's mark (the charts' marks: series 0 a filled dot, 1 a hollow square), a link to the turn."""
    return (f'<a class="turn-mark" href="#call-{esc(cid)}" data-turn="{esc(cid)}-t{esc(t["turn_index"])}">'
            f'{_marker(series, x, y, PALETTE[series], tip)}</a>')


def _sentiment_turns(cid: str, call: dict, turns: Sequence[dict]) -> str:
    """Each customer turn's score (5 x (P(positive) - P(negative))) at its middle, joined in order; the dashed
    lines are the outcome's thresholds (an end score at or below -1.0 ended negative, at or above +1.0 positive)."""
    own = [t for t in _timed(turns) if t["participant"] == "CUSTOMER" and t.get("sentiment_score") is not None]
    if not own:
        return '<p class="empty">No customer turn with a sentiment score in this call.</p>'
    duration = float(call.get("duration_s") or 0) or max(t["end_s"] for t in own)
    parts, x, y = _turn_axes(duration, -5, 5, (-5, -2.5, 0, 2.5, 5), "sentiment")
    for edge, name in ((ENDED_NEGATIVE_AT, "negative"), (ENDED_POSITIVE_AT, "positive")):
        parts.append(f'<line class="threshold" x1="{x(0):.1f}" y1="{y(edge):.1f}" x2="{x(duration):.1f}" '
                     f'y2="{y(edge):.1f}"><title>a call whose last quarter scores {fmt(edge, "sentiment")} or '
                     f'{"below" if edge < 0 else "above"} ended {name}</title></line>')
    x_last = x(duration * 0.75)
    parts.append(f'<line class="quarter" x1="{x_last:.1f}" y1="10" x2="{x_last:.1f}" y2="142"><title>the last quarter: '
                 f'where the end score is measured</title></line>')
    points = [((t["begin_s"] + t["end_s"]) / 2, 5 * float(t["sentiment_score"]), t) for t in own]
    parts.append(f'<polyline class="series" stroke="{PALETTE[1]}" points="'
                 + " ".join(f"{x(at):.1f},{y(v):.1f}" for at, v, _ in points) + '"/>')
    for at, value, t in points:
        tip = f'Customer {fmt(t["begin_s"], "seconds")}: {fmt(value, "sentiment")} “{_quote(t["text"], 60)}”'
        parts.append(_turn_mark(cid, t, x(at), y(value), 1, tip))
    found = _outcome(call)
    return (f'<svg class="turns sentiment-turns" viewBox="0 0 420 170" role="img" aria-label="Customer sentiment turn by '
            f'turn">{"".join(parts)}</svg><p class="caption">One mark per customer turn (a click shows it); the dashed '
            f'lines at {MINUS}1.0 and +1.0 bound a neutral end; the call {esc(_outcome_text(found))}.</p>')


def _loudness_turns(cid: str, call: dict, turns: Sequence[dict]) -> str:
    """Each turn's loudness (0-100, as the lake's turns hold it) at its middle, agent and customer."""
    heard = [t for t in _timed(turns) if t.get("loudness") is not None]
    if not heard:
        return '<p class="empty">No loudness per turn in this call (no transcript).</p>'
    duration = float(call.get("duration_s") or 0) or max(t["end_s"] for t in heard)
    parts, x, y = _turn_axes(duration, 0, 100, (0, 25, 50, 75, 100), "count")
    for series, who in enumerate(("AGENT", "CUSTOMER")):
        for t in (t for t in heard if t["participant"] == who):
            at, value = (t["begin_s"] + t["end_s"]) / 2, float(t["loudness"])
            tip = f'{_speaker(who)[1]} {fmt(t["begin_s"], "seconds")}: loudness {value:.0f}'
            parts.append(_turn_mark(cid, t, x(at), y(value), series, tip))
    legend = _legend(["Agent", "Customer"], lines=False)
    return (f'<svg class="turns loudness-turns" viewBox="0 0 420 170" role="img" aria-label="Loudness turn by turn">'
            f'{"".join(parts)}</svg>{legend}')
