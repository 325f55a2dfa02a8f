"""``aftercall report``: the dashboard as one self-contained HTML file (inline SVG, no network).

The sheets and charts are those of ``quicksight/dashboard.yaml`` — the QuickSight dashboard's —
each computed by its query over the same views, on the local engine.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from pipeline import __version__
from pipeline.dashboard import Dashboard, Visual, load_dashboard, visual_sql

__all__ = ["render_report", "write_report"]

Query = Callable[[str], tuple[list[str], list[tuple]]]
PALETTE = ["#2563eb", "#f97316", "#16a34a", "#9333ea", "#dc2626", "#0891b2"]
W, H, PAD_L, PAD_B, PAD_T, PAD_R = 560, 240, 56, 36, 16, 16


def _fmt(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _esc(value: object) -> str:
    return html.escape(_fmt(value))


def _nice_range(values: Sequence[float]) -> tuple[float, float]:
    lo, hi = min(min(values), 0.0), max(max(values), 0.0)
    if hi == lo:
        hi = lo + 1.0
    return lo, hi


def _line(visual: Visual, columns: list[str], rows: list[tuple]) -> str:
    series = columns[1:]
    values = [float(v) for r in rows for v in r[1:] if v is not None] or [0.0]
    lo, hi = _nice_range(values)
    n = len(rows)
    x = (lambda i: PAD_L + (W - PAD_L - PAD_R) * (i / (n - 1) if n > 1 else 0.5))
    y = (lambda v: PAD_T + (H - PAD_T - PAD_B) * (1 - (v - lo) / (hi - lo)))
    parts = [f'<line class="axis" x1="{PAD_L}" y1="{y(lo):.1f}" x2="{W - PAD_R}" y2="{y(lo):.1f}"/>',
             f'<line class="axis" x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{H - PAD_B}"/>']
    for tick in (lo, (lo + hi) / 2, hi):
        parts.append(f'<text class="tick" x="{PAD_L - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{_esc(round(tick, 3))}</text>')
    if lo < 0 < hi:
        parts.append(f'<line class="zero" x1="{PAD_L}" y1="{y(0):.1f}" x2="{W - PAD_R}" y2="{y(0):.1f}"/>')
    step = max(1, math.ceil(n / 8))
    for i, r in enumerate(rows):
        if i % step == 0 or i == n - 1:
            parts.append(f'<text class="tick" x="{x(i):.1f}" y="{H - PAD_B + 16}" text-anchor="middle">{_esc(r[0])}</text>')
    for s, name in enumerate(series):
        color = PALETTE[s % len(PALETTE)]
        points = [(x(i), y(float(r[s + 1]))) for i, r in enumerate(rows) if r[s + 1] is not None]
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            parts.append(f'<polyline class="series" points="{path}" stroke="{color}"/>')
        for (px, py), r in zip(points, [r for r in rows if r[s + 1] is not None], strict=True):
            parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="{color}"><title>{_esc(name)} {_esc(r[0])}: '
                         f'{_esc(r[s + 1])}</title></circle>')
    legend = "".join(f'<span><i style="background:{PALETTE[s % len(PALETTE)]}"></i>{html.escape(n)}</span>'
                     for s, n in enumerate(series))
    return (f'<svg class="chart line" viewBox="0 0 {W} {H}" role="img" aria-label="{html.escape(visual.title)}">'
            f'{"".join(parts)}</svg><div class="legend">{legend}</div>')


def _bar(visual: Visual, columns: list[str], rows: list[tuple]) -> str:
    if not rows:
        return '<svg class="chart bar empty" viewBox="0 0 560 40"><text x="8" y="24">no data</text></svg>'
    height = 28 * len(rows) + 8
    values = [float(r[1] or 0) for r in rows]
    lo, hi = _nice_range(values)
    label_w = 150
    scale = (lambda v: label_w + (W - label_w - 70) * (v - lo) / (hi - lo))
    parts = []
    for i, (r, v) in enumerate(zip(rows, values, strict=True)):
        top = 6 + 28 * i
        x0, x1 = sorted((scale(0), scale(v)))
        parts.append(f'<text class="label" x="{label_w - 8}" y="{top + 15}" text-anchor="end">{_esc(r[0])}</text>'
                     f'<rect x="{x0:.1f}" y="{top}" width="{max(x1 - x0, 1):.1f}" height="20" fill="{PALETTE[0]}">'
                     f'<title>{_esc(r[0])}: {_esc(r[1])}</title></rect>'
                     f'<text class="value" x="{x1 + 6:.1f}" y="{top + 15}">{_esc(r[1])}</text>')
    return f'<svg class="chart bar" viewBox="0 0 {W} {height}" role="img" aria-label="{html.escape(visual.title)}">' \
           f'{"".join(parts)}</svg>'


def _kpi(visual: Visual, columns: list[str], rows: list[tuple]) -> str:
    value = rows[0][0] if rows else None
    return f'<div class="chart kpi" role="img" aria-label="{html.escape(visual.title)}">{_esc(value)}</div>'


def _table(visual: Visual, columns: list[str], rows: list[tuple]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_esc(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f'<table class="chart table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


_RENDER = {"line": _line, "bar": _bar, "kpi": _kpi, "table": _table}

_CSS = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f8fafc;color:#0f172a}
header{background:#0f172a;color:#fff;padding:16px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#cbd5e1}nav{padding:8px 24px;background:#e2e8f0}nav a{margin-right:16px;color:#1e3a8a}
section{padding:8px 24px}h2{font-size:17px;border-bottom:1px solid #cbd5e1;padding-bottom:4px}
.grid{display:flex;flex-wrap:wrap;gap:16px}.card{background:#fff;border:1px solid #e2e8f0;border-radius:8px;
padding:12px;min-width:200px}.card h3{margin:0 0 8px;font-size:13px;color:#475569;font-weight:600}
.kpi{font-size:34px;font-weight:700;color:#1e3a8a}svg.chart{width:560px;max-width:100%;height:auto}
.axis{stroke:#94a3b8}.zero{stroke:#94a3b8;stroke-dasharray:4 3}.series{fill:none;stroke-width:2}
.tick,.label,.value{font-size:11px;fill:#334155}.legend span{margin-right:12px;font-size:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
table.chart{border-collapse:collapse;font-size:13px}table.chart th,table.chart td{padding:4px 10px;
border-bottom:1px solid #e2e8f0;text-align:right}table.chart th:first-child,table.chart td:first-child{text-align:left}
footer{padding:16px 24px;color:#64748b;font-size:12px}
"""

_JS = """
document.body.dataset.charts = String(document.querySelectorAll('.chart').length);
document.body.dataset.ready = 'yes';
"""


def render_report(query: Query, start: date | None = None, end: date | None = None,
                  dashboard: Dashboard | None = None) -> str:
    """The whole page; ``query`` runs one Athena-dialect query (the local engine in practice)."""
    dashboard = dashboard or load_dashboard()
    sections = []
    for sheet in dashboard.sheets:
        cards = []
        for visual in sheet.visuals:
            columns, rows = query(visual_sql(visual, start, end))
            body = _RENDER[visual.type](visual, columns, rows)
            cards.append(f'<div class="card" data-visual="{visual.type}"><h3>{html.escape(visual.title)}</h3>{body}</div>')
        sections.append(f'<section id="{sheet.id}"><h2>{html.escape(sheet.name)}</h2>'
                        f'<div class="grid">{"".join(cards)}</div></section>')
    nav = "".join(f'<a href="#{s.id}">{html.escape(s.name)}</a>' for s in dashboard.sheets)
    span = f"{start or 'first day'} → {end or 'last day'}"
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(dashboard.name)}</title>'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{_CSS}</style></head><body>'
            f'<header><h1>{html.escape(dashboard.name)}</h1><p>{html.escape(span)}</p></header><nav>{nav}</nav>'
            f'{"".join(sections)}<footer>aftercall {__version__} · generated '
            f'{datetime.now(UTC):%Y-%m-%d %H:%M} UTC from the lake\'s views</footer>'
            f'<script>{_JS}</script></body></html>')


def write_report(lake: str, out: str | Path, start: date | None = None, end: date | None = None) -> Path:
    from pipeline.adapters.duckdb_engine import connect
    from pipeline.sql import athena_to_duckdb

    con = connect(lake)  # one connection for every chart: the views are created once

    def run(sql: str) -> tuple[list[str], list[tuple]]:
        cursor = con.execute(athena_to_duckdb(sql))
        return [d[0] for d in cursor.description or []], cursor.fetchall()

    try:
        page = render_report(run, start, end)
    finally:
        con.close()
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
