"""``aftercall report``: the dashboard as one self-contained HTML file (inline SVG, no network).

The sheets and charts are those of ``quicksight/dashboard.yaml`` (the QuickSight dashboard's),
each computed by its query over the same views on the local engine. The Calls sheet lists every
call of the range; each call has its own page (``#call-<contact_id>``) with its transcript and
timeline, reached from the table, from a category and from an agent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from pipeline import __version__
from pipeline.presentation.dashboard import Dashboard, Sheet, Visual, load_dashboard, visual_sql
from pipeline.presentation.report.assets import CSS, JS
from pipeline.presentation.report.calls import MAX_CALLS, CallData, call_pages, calls_section, load_calls
from pipeline.presentation.report.links import RecordingLink
from pipeline.presentation.report.quality import load_forms, load_quality, quality_section
from pipeline.presentation.report.charts import LINKS, bar_chart, day_label, esc, kpi, line_chart, strip_chart, table
from pipeline.lake.storage import write_atomically
from pipeline.exceptions import ConfigurationError

__all__ = ["ReportFile", "render_report", "write_report"]

Query = Callable[[str], tuple[list[str], list[tuple]]]


QUALITY_SHEET = "quality"
MAX_DAYS = 3660  # every day of the range is a point of each daily chart: --from 0001-01-01 would be 3.65 million


def _days(first: str, last: str) -> list[str]:
    lo, hi = date.fromisoformat(first), date.fromisoformat(last)
    return [(lo + timedelta(days=i)).isoformat() for i in range((hi - lo).days + 1)]


def _where(start: str | None, end: str | None) -> str:
    conditions = ([f"dt >= '{start}'"] if start else []) + ([f"dt <= '{end}'"] if end else [])
    return " where " + " and ".join(conditions) if conditions else ""


def _wide(visual: Visual) -> bool:
    return visual.type == "table" and len(visual.columns) + len(visual.group_by) > 5


class _Page:
    """One report: the range, the calls in it, and a renderer per visual type.

    ``relations``: views whose rows over the range were copied to a table beforehand (see :func:`_per_day`).
    """

    def __init__(self, query: Query, dashboard: Dashboard, days: list[str], calls: CallData,
                 relations: dict[str, str] | None = None, forms: dict | None = None) -> None:
        self.query, self.dashboard, self.days, self.calls = query, dashboard, days, calls
        self.forms = forms or {}
        self.relations = relations or {}
        self.start = date.fromisoformat(days[0]) if days else None
        self.end = date.fromisoformat(days[-1]) if days else None

    def visual(self, visual: Visual) -> str:
        columns, rows = self.query(visual_sql(visual, self.start, self.end, self.relations.get(visual.view)))
        d = self.dashboard
        if visual.type == "kpi":
            of = (rows[0][1] or 0) if visual.of and rows and rows[0][0] is not None else None
            return kpi(visual.title, rows[0][0] if rows else None, d.unit(visual.value or ""), of,
                       d.label(visual.of) if visual.of else "")
        if visual.type == "bar":
            return bar_chart(visual.title, [(r[0], r[1]) for r in rows], d.unit(visual.value or ""),
                             LINKS.get(visual.category or ""),
                             self.calls.descriptions if visual.category == "category" else None)
        if visual.type == "table":
            names = [*visual.dimensions(), *(m.name for m in visual.measures())]
            return table([(n, d.short_label(n), d.unit(n)) for n in names], rows,
                         {n: LINKS[n] for n in visual.dimensions() if n in LINKS})
        if visual.type == "line":
            return self.line(visual, columns, rows)
        raise ValueError(f"the report has no renderer for {visual.type!r} outside the Calls sheet")

    def line(self, visual: Visual, columns: list[str], rows: list[tuple]) -> str:
        d = self.dashboard
        unit = d.unit(visual.values[0])
        if len(self.days) == 1 and visual.per_call:  # one day: every call's value, not a lone dot
            return self.strip(visual)
        fill = 0.0 if visual.agg == "SUM" else None  # a day without calls had 0 calls, not 0 % silence
        series = []
        for s, name in enumerate(visual.values):
            by_day = {str(r[0]): (float(r[s + 1]) if r[s + 1] is not None else None) for r in rows}
            series.append((d.label(name), {day: by_day.get(day, fill) for day in self.days}))
        return line_chart(visual.title, self.days, series, unit, integer=unit == "count" and visual.agg == "SUM")

    def strip(self, visual: Visual) -> str:
        d = self.dashboard
        unit = d.unit(visual.per_call[0])
        series = []
        for value, column in zip(visual.values, visual.per_call, strict=True):
            points = []
            for call in self.calls.rows:
                raw = call.get(column)
                if raw is None:
                    continue
                number = raw.hour + raw.minute / 60 + raw.second / 3600 if unit == "time" else float(raw)
                points.append((call["contact_id"], number))
            series.append((d.label(value), points))
        when = "by start time (UTC)" if unit == "time" else "one mark per call"
        shown = len(self.calls.rows)
        counted = f"{shown} calls" if shown >= self.calls.total else f"the latest {shown} of {self.calls.total} calls"
        caption = (f"{counted} on {day_label(self.days[0], with_year=True)}, {when}; "
                   f"the bar is the median; a mark opens its call.")
        return strip_chart(visual.title, series, unit, caption)

    def sheet(self, sheet: Sheet) -> str:
        if sheet.id == QUALITY_SHEET:  # the report's own tables over the evaluation views (pipeline.presentation.report.quality)
            return quality_section(load_quality(self.query, self.days, self.forms), sheet.id, sheet.name)
        lists = [v for v in sheet.visuals if v.type == "list"]
        if lists:
            columns = [c.name for c in lists[0].columns]
            return calls_section(self.dashboard, self.calls, sheet.id, sheet.name, columns)
        kpis = "".join(self.visual(v) for v in sheet.visuals if v.type == "kpi")
        cards = "".join(f'<div class="card{" wide" if _wide(v) else ""}" data-visual="{esc(v.type)}"><h3>{esc(v.title)}</h3>'
                        f'{self.visual(v)}</div>' for v in sheet.visuals if v.type != "kpi")
        return (f'<section class="sheet" id="{esc(sheet.id)}"><h2>{esc(sheet.name)}</h2>'
                + (f'<div class="kpis">{kpis}</div>' if kpis else "")
                + (f'<div class="grid">{cards}</div>' if cards else "") + "</section>")


def _category_descriptions(rules: str | None) -> dict[str, str]:
    """What each category means, from the rules file, for tooltips (none when the file is unreadable)."""
    from pipeline.analytics.categories import load_rules
    from pipeline.exceptions import ConfigurationError

    try:
        return {c.name: c.description for c in load_rules(rules).categories if c.description}
    except ConfigurationError:
        return {}


Links = Callable[[str | None], RecordingLink | None]


def render_report(query: Query, start: date | None = None, end: date | None = None,
                  dashboard: Dashboard | None = None, attributes: str | None = None,
                  max_calls: int = MAX_CALLS, links: Links | None = None, forms: dict | None = None) -> str:
    """The whole page; see :func:`_render`."""
    return "".join(_render(query, start, end, dashboard, attributes, max_calls, links=links, forms=forms)[0])


Prepare = Callable[[list[str], list[str]], dict[str, str]]


def _render(query: Query, start: date | None, end: date | None, dashboard: Dashboard | None,
            attributes: str | None, max_calls: int, prepare: Prepare | None = None,
            links: Links | None = None, forms: dict | None = None) -> tuple[Iterator[str], int]:
    """The page in pieces (the call pages a batch at a time), and how many calls it lists;
    ``query`` runs one Athena-dialect query (the local engine in practice); ``prepare(views, days)``, if
    given, copies views' rows over the days to tables and names them (the charts then read those).

    Without ``start``/``end`` the range is the lake's first to last day; every day in it is
    shown, a day without calls as 0 calls.
    """
    dashboard = dashboard or load_dashboard()
    # isoformat, not %Y: strftime writes the year 1 as "1", which is no day and sorts after "0999"
    _, bounds = query("select min(dt), max(dt) from v_daily_overview" + _where(
        start and start.isoformat(), end and end.isoformat()))
    first = start.isoformat() if start else bounds[0][0]
    last = end.isoformat() if end else bounds[0][1]
    if first and last and (span := (date.fromisoformat(last) - date.fromisoformat(first)).days + 1) > MAX_DAYS:
        raise ConfigurationError(f"the report would show {span:,} days ({first} to {last}); at most {MAX_DAYS:,} "
                                 "(ten years): narrow --from/--to")
    days = _days(first, last) if first and last else []
    from pipeline.settings import Settings

    settings = Settings()
    calls = load_calls(query, _where(first, last), settings.ctr_attributes if attributes is None else attributes,
                       max_calls)
    calls.descriptions = _category_descriptions(settings.categories)
    calls.links = links
    calls.forms = forms if forms is not None else load_forms(None)
    relations = prepare(dashboard.views(), days) if prepare and days else {}
    page = _Page(query, dashboard, days, calls, relations, calls.forms)
    shown = [s for s in dashboard.sheets if not s.key]  # a keyed sheet is the call page, opened from a list
    sections = "".join(page.sheet(s) for s in shown)
    nav = "".join(f'<a href="#{esc(s.id)}">{esc(s.name)}</a>' for s in shown)
    if days:
        span = day_label(days[0], with_year=True) + ("" if len(days) == 1 else f" – {day_label(days[-1], with_year=True)}")
        span += f" · {len(days)} day{'s' if len(days) != 1 else ''} · {calls.total:,} calls"
    else:
        span = "No processed days in this lake yet: run `aftercall run` first."

    def pieces() -> Iterator[str]:
        yield (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{esc(dashboard.name)}</title>'
               f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{CSS}</style></head><body>'
               f'<header><h1>{esc(dashboard.name)}</h1><p class="span">{esc(span)}</p></header><nav>{nav}</nav>'
               f'<main>{sections}')
        yield from call_pages(dashboard, calls, query)
        yield (f'</main><footer>aftercall {__version__} · generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from the '
               f'lake\'s views</footer><script>{JS}</script></body></html>')

    return pieces(), len(calls.rows)


class ReportFile(NamedTuple):
    path: Path
    calls: int


def write_report(lake: str, out: str | Path, start: date | None = None, end: date | None = None,
                 attributes: str | None = None, max_calls: int = MAX_CALLS, links: Links | None = None) -> ReportFile:
    """Render the report over a local lake into ``out``; ``attributes`` as ``AFTERCALL_CTR_ATTRIBUTES``.

    ``links``: where each call's recording plays from (default: :class:`RecordingLinks` relative to ``out``'s folder,
    and presigned S3 URLs valid ``AFTERCALL_REPORT_LINK_EXPIRY_S`` from an S3 client built from settings, only if a
    recording is on S3).
    """
    from pipeline.adapters.duckdb_engine import connect
    from pipeline.analytics.sql import athena_to_duckdb

    if links is None:
        from pipeline.presentation.report.links import RecordingLinks, presigning_client
        from pipeline.settings import Settings

        settings = Settings()

        def s3_client():  # only when a recording is on S3: the AWS stack is not loaded otherwise
            from pipeline.wiring import _session  # the S3 hook's session in Airflow (AFTERCALL_AWS_CONN_ID), else the chain's

            return presigning_client(_session(settings), settings.aws_region)

        links = RecordingLinks(Path(out).parent, settings.report_link_expiry_s, s3_client)

    con = connect(lake, attributes)  # one connection for every chart: the views are created once

    def run(sql: str) -> tuple[list[str], list[tuple]]:
        cursor = con.execute(athena_to_duckdb(sql))
        return [d[0] for d in cursor.description or []], cursor.fetchall()

    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        pieces, listed = _render(run, start, end, None, attributes, max_calls,
                                 lambda views, days: _per_day(con, views, days), links, load_forms(lake))
        # written piece by piece (the page of 2,000 calls is tens of MB), whole or not at all
        write_atomically(path, lambda tmp: _write_pieces(tmp, pieces))
    finally:
        con.close()
    return ReportFile(path, listed)


PER_DAY_CHUNK = 7  # days of a per-day view computed at once for the charts


def _per_day_views() -> set[str]:
    """The views whose grain is one row per day (and more): each row comes from its own day's rows alone."""
    from pipeline.analytics.sql import VIEWS_DIR

    return {p.stem for p in VIEWS_DIR.glob("*.sql") if "-- grain: one row per day (dt)" in p.read_text()}


def _per_day(con, views: list[str], days: list[str]) -> dict[str, str]:
    """Copy the range's rows of each per-day view the charts read into a temporary table, a week at a time.

    Their rows are the same computed over a week or over the whole range (each is one day's), but a week
    at a time DuckDB joins and counts a week of calls, not months of them at once: over 90 days x 10,000
    calls, the agent and queue views' joins grew the report by ~200 MB. The tables hold a few rows a day.
    """
    from pipeline.analytics.sql import athena_to_duckdb

    relations = {}
    for view in sorted(set(views) & _per_day_views()):
        table = f"report_{view}"
        con.execute(f"create or replace temp table {table} as select * from {view} where false")
        for i in range(0, len(days), PER_DAY_CHUNK):
            first, last = days[i], days[min(i + PER_DAY_CHUNK, len(days)) - 1]
            con.execute(athena_to_duckdb(f"insert into {table} select * from {view} "
                                         f"where dt >= '{first}' and dt <= '{last}'"))
        relations[view] = table
    return relations


def _write_pieces(target: Path, pieces: Iterator[str]) -> None:
    with open(target, "w", encoding="utf-8") as fh:
        for piece in pieces:
            fh.write(piece)
