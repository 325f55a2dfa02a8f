"""The report's charts: inline SVG with nice ticks, human labels and units, nothing clipped.

Each function takes what a visual's query returned and gives an HTML fragment. Values are
formatted by the column's unit from the dashboard spec (``fields``): ratios as %, durations in
minutes or m:ss, sentiment signed on −5..+5, money in dollars.
"""

from __future__ import annotations

import html
import math
from urllib.parse import quote
from collections.abc import Callable, Sequence
from datetime import date, datetime

from pipeline.presentation.dashboard import Unit

__all__ = ["LINKS", "bar_chart", "day_label", "esc", "filter_href", "fmt", "kpi", "line_chart", "nice_ticks", "strip_chart",
           "table"]

PALETTE = ["#2563eb", "#ea580c", "#059669", "#9333ea", "#dc2626", "#0891b2"]
DASHES = ["", "7 4", "2 3", "10 3 2 3"]
W, H = 560, 250
PAD_L, PAD_R, PAD_T, PAD_B = 64, 30, 14, 34
# the calls table filters a category of these columns links to (see pipeline.presentation.report.calls)
LINKS = {"agent_username": "agent", "queue_name": "queue", "category": "category"}
MINUS = "\u2212"


def filter_href(key: str, value: object) -> str:
    """A link to the calls table filtered to one value (the page's script reads it)."""
    return html.escape(f"#calls?{key}={quote(str(value), safe='')}", quote=True)


def _num(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return None if math.isnan(number) else number


def _signed(number: float, decimals: int) -> str:
    text = f"{abs(number):.{decimals}f}"
    if float(text) == 0:
        return text
    return ("+" if number > 0 else MINUS) + text


def _mss(seconds: float) -> str:
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def fmt(value: object, unit: Unit = "count") -> str:
    """A value as the analyst reads it; '–' for no value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if unit == "text":
        return str(value)
    if unit == "flag":
        return "yes" if value else ""
    if unit == "time":
        return value.strftime("%H:%M") if isinstance(value, datetime) else str(value)
    number = float(value)  # type: ignore[arg-type]
    if unit == "percent":
        return f"{number * 100:.1f} %"
    if unit == "hours":  # a sample day is minutes of audio: "0.052 hours" reads as nothing
        return f"{number * 60:.1f} min" if number < 1 else f"{number:,.1f} h"
    if unit == "minutes":
        return f"{number:,.1f} min"
    if unit == "seconds":
        return _mss(number)
    if unit == "sentiment":
        return _signed(number, 1)
    if unit == "usd":
        return f"${number:,.2f}" if number >= 1 or number == 0 else f"${number:.4f}"
    if unit == "wpm":
        return f"{number:.0f} wpm"
    return f"{int(number):,}" if number == int(number) else f"{number:,.1f}"


def _decimals(step: float) -> int:
    """Digits after the point that show every multiple of ``step`` exactly (0.25 → 2, 0.5 → 1, 5 → 0)."""
    return next((d for d in range(6) if abs(round(step, d) - step) < 1e-9 * max(1.0, step)), 6)


def _tick(value: float, unit: Unit, step: float) -> str:
    """An axis label: as few digits as the tick step needs."""
    if unit == "percent":
        return f"{value * 100:.{_decimals(step * 100)}f} %"
    if unit == "time":
        return f"{int(value):02d}:{int(round((value % 1) * 60)):02d}"
    if unit == "seconds":
        return _mss(value)
    decimals = _decimals(step)
    if unit == "sentiment":
        return _signed(value, decimals) if value else "0"
    text = f"{value:,.{decimals}f}"
    return {"usd": f"${text}", "minutes": f"{text} min", "hours": f"{text} h"}.get(unit, text)


def nice_ticks(lo: float, hi: float, count: int = 5, integer: bool = False) -> tuple[list[float], float]:
    """Ticks at 1, 2, 2.5 or 5 × 10^k covering [lo, hi], and their step."""
    if hi <= lo:
        lo, hi = (lo - 1, hi + 1) if lo else (0.0, 1.0)
    raw = (hi - lo) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * 0.999)
    if integer:
        step = max(1.0, math.ceil(step))
    start, stop = math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step
    ticks = [round(start + i * step, 10) for i in range(int(round((stop - start) / step)) + 1)]
    return ticks, step


def day_label(day: str | date, with_year: bool = False) -> str:
    d = date.fromisoformat(day) if isinstance(day, str) else day
    return f"{d.day} {d:%b}" + (f" {d.year}" if with_year else "")


def esc(text: object) -> str:
    """Text as HTML, safe in element content and in quoted attributes."""
    return html.escape(str(text), quote=True)


def _marker(kind: int, x: float, y: float, color: str, tip: str) -> str:
    """Series 0 a filled dot; later series hollow and larger, so equal values show both marks."""
    title = f"<title>{esc(tip)}</title>"
    if kind % 3 == 0:
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{color}">{title}</circle>'
    if kind % 3 == 1:
        return (f'<rect x="{x - 6:.1f}" y="{y - 6:.1f}" width="12" height="12" fill="none" stroke="{color}" '
                f'stroke-width="2">{title}</rect>')
    return (f'<path d="M{x:.1f},{y - 8:.1f} L{x + 8:.1f},{y + 6:.1f} L{x - 8:.1f},{y + 6:.1f} Z" fill="none" '
            f'stroke="{color}" stroke-width="2">{title}</path>')


def _legend(labels: Sequence[str], lines: bool = True) -> str:
    items = []
    for s, label in enumerate(labels):
        color = PALETTE[s % len(PALETTE)]
        stroke = f'<line x1="1" y1="8" x2="27" y2="8" stroke="{color}" stroke-width="2" stroke-dasharray="{DASHES[s % 4]}"/>' \
            if lines else ""
        items.append(f'<span class="key"><svg width="28" height="16" aria-hidden="true">{stroke}'
                     f'{_marker(s, 14, 8, color, label)}</svg>{esc(label)}</span>')
    return f'<div class="legend">{"".join(items)}</div>'


def _y_axis(lo: float, hi: float, unit: Unit, integer: bool) -> tuple[list[str], Callable[[float], float], list[float]]:
    ticks, step = nice_ticks(lo, hi, integer=integer)
    top, bottom = ticks[-1], ticks[0]
    y = (lambda v: PAD_T + (H - PAD_T - PAD_B) * (1 - (v - bottom) / ((top - bottom) or 1)))
    parts = []
    for t in ticks:
        cls = "zero" if t == 0 and bottom < 0 else "grid"
        parts.append(f'<line class="{cls}" x1="{PAD_L}" y1="{y(t):.1f}" x2="{W - PAD_R}" y2="{y(t):.1f}"/>'
                     f'<text class="tick" x="{PAD_L - 8}" y="{y(t) + 4:.1f}" text-anchor="end">{esc(_tick(t, unit, step))}</text>')
    return parts, y, ticks


def _x_labels(days: Sequence[str], x: Callable[[int], float]) -> list[str]:
    """Day labels, thinned so they never overlap; the last day always labelled, none cut at the edge."""
    n = len(days)
    every = max(1, math.ceil(n * 46 / (W - PAD_L - PAD_R)))
    parts = []
    for i, day in enumerate(days):
        if (n - 1 - i) % every == 0:
            parts.append(f'<text class="tick" x="{x(i):.1f}" y="{H - PAD_B + 18}" text-anchor="middle">'
                         f'{esc(day_label(day))}</text>')
    return parts


def line_chart(title: str, days: Sequence[str], series: Sequence[tuple[str, dict[str, float | None]]],
               unit: Unit, integer: bool) -> str:
    """One line per series over every day of the range; a day without a value is a gap (the caller fills 0s)."""
    values = [v for _, by_day in series for v in by_day.values() if v is not None] or [0.0]
    grid, y, _ = _y_axis(min(min(values), 0.0), max(max(values), 0.0), unit, integer)
    n = len(days)
    x = (lambda i: PAD_L + 10 + (W - PAD_L - PAD_R - 20) * (i / (n - 1) if n > 1 else 0.5))
    parts = [*grid, f'<line class="axis" x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{H - PAD_B}"/>',
             *_x_labels(days, x)]
    for s, (label, by_day) in enumerate(series):
        color = PALETTE[s % len(PALETTE)]
        shift = (s - (len(series) - 1) / 2) * 4  # series with equal values run side by side, not on top
        run: list[str] = []
        for i, day in enumerate([*days, None]):
            value = by_day.get(day) if day else None
            if value is None:
                if len(run) > 1:
                    parts.append(f'<polyline class="series" points="{" ".join(run)}" stroke="{color}" '
                                 f'stroke-dasharray="{DASHES[s % 4]}"/>')
                run = []
                continue
            run.append(f"{x(i) + shift:.1f},{y(value):.1f}")
        for i, day in enumerate(days):
            if (value := by_day.get(day)) is not None:
                parts.append(_marker(s, x(i) + shift, y(value), color,
                                     f"{label}, {day_label(day)}: {fmt(value, unit)}"))
    return (f'<svg class="chart line" viewBox="0 0 {W} {H}" role="img" aria-label="{esc(title)}">{"".join(parts)}</svg>'
            + _legend([label for label, _ in series]))


def _point(value: float, unit: Unit) -> str:
    return _tick(value, unit, 1 / 60) if unit == "time" else fmt(value, unit)  # time: hours of the day


def strip_chart(title: str, series: Sequence[tuple[str, list[tuple[str, float]]]], unit: Unit, caption: str) -> str:
    """A single day: one dot per call per series on a shared axis, the median as a bar; dots open the call."""
    values = [v for _, points in series for _, v in points]
    if unit == "time":
        ticks, step = [0.0, 3, 6, 9, 12, 15, 18, 21, 24], 3.0  # the day's hours; the last reads 24:00
    else:
        lo, hi = (min(values + [0.0]), max(values + [0.0])) if values else (0.0, 1.0)
        ticks, step = nice_ticks(lo, hi, integer=unit == "count")
    left, right = ticks[0], ticks[-1]
    label_w = min(230, 7 * max(len(label) for label, _ in series) + 16) if len(series) > 1 else 20
    row = 40
    height = PAD_T + row * len(series) + PAD_B
    x = (lambda v: label_w + 10 + (W - label_w - PAD_R - 20) * (v - left) / ((right - left) or 1))
    parts = []
    for t in ticks:
        parts.append(f'<line class="grid" x1="{x(t):.1f}" y1="{PAD_T}" x2="{x(t):.1f}" y2="{height - PAD_B}"/>'
                     f'<text class="tick" x="{x(t):.1f}" y="{height - PAD_B + 18}" text-anchor="middle">'
                     f'{esc(_tick(t, unit, step))}</text>')
    for s, (label, points) in enumerate(series):
        color = PALETTE[s % len(PALETTE)]
        middle = PAD_T + row * s + row / 2
        if len(series) > 1:
            parts.append(f'<text class="label" x="{label_w - 4}" y="{middle + 4:.1f}" text-anchor="end">{esc(label)}</text>')
        for i, (contact_id, value) in enumerate(points):
            jitter = ((i * 7) % 5 - 2) * 3.0  # calls with equal values stay apart
            tip = f"{label}: {_point(value, unit)}"
            parts.append(f'<a href="#call-{esc(contact_id)}">{_marker(s, x(value), middle + jitter, color, tip)}</a>')
        if points:
            ordered = sorted(v for _, v in points)
            median = (ordered[(len(ordered) - 1) // 2] + ordered[len(ordered) // 2]) / 2
            parts.append(f'<line class="median" x1="{x(median):.1f}" y1="{middle - 13:.1f}" x2="{x(median):.1f}" '
                         f'y2="{middle + 13:.1f}" stroke="{color}"><title>median {esc(label)}: '
                         f'{esc(_point(median, unit))}</title></line>')
    legend = _legend([label for label, _ in series], lines=False) if len(series) == 1 else ""
    return (f'<svg class="chart strip" viewBox="0 0 {W} {height}" role="img" aria-label="{esc(title)}">'
            f'{"".join(parts)}</svg>{legend}<p class="caption">{esc(caption)}</p>')


def bar_chart(title: str, rows: Sequence[tuple[object, object]], unit: Unit, link: str | None,
              notes: dict[str, str] | None = None) -> str:
    """Horizontal bars from zero; labels wide enough for the longest name; a bar and its label link to its calls."""
    if not rows:
        return '<p class="empty">No data in this range.</p>'
    values = [_num(v) or 0.0 for _, v in rows]
    ticks, _ = nice_ticks(min(min(values), 0.0), max(max(values), 0.0), integer=unit == "count")
    label_w = min(200, max(60, 7 * max(len(str(name)) for name, _ in rows) + 14))
    value_w = 76
    height = 8 + 30 * len(rows)
    scale = (lambda v: label_w + (W - label_w - value_w) * (v - ticks[0]) / ((ticks[-1] - ticks[0]) or 1))
    parts = []
    for i, ((name, raw), value) in enumerate(zip(rows, values, strict=True)):
        top = 6 + 30 * i
        x0, x1 = sorted((scale(0), scale(value)))
        note = (notes or {}).get(str(name))
        tip = f"{name}: {fmt(raw, unit)}" + (f" — {note}" if note else "") + (" (click for its calls)" if link else "")
        bar = (f'<title>{esc(tip)}</title><text class="label" x="{label_w - 8}" y="{top + 15}" text-anchor="end">'
               f'{esc(name)}</text><rect x="{x0:.1f}" y="{top}" width="{max(x1 - x0, 1.5):.1f}" height="20" '
               f'fill="{PALETTE[0]}"/>')
        if link:
            bar = f'<a class="filter-link" href="{filter_href(link, name)}">{bar}</a>'
        parts.append(f'{bar}<text class="value" x="{x1 + 6:.1f}" y="{top + 15}">{esc(fmt(raw, unit))}</text>')
    if ticks[0] < 0:
        parts.append(f'<line class="zero" x1="{scale(0):.1f}" y1="2" x2="{scale(0):.1f}" y2="{height - 2}"/>')
    return f'<svg class="chart bar" viewBox="0 0 {W} {height}" role="img" aria-label="{esc(title)}">{"".join(parts)}</svg>'


def kpi(title: str, value: object, unit: Unit, of: object = None, of_label: str = "") -> str:
    """One number; with ``of`` the number it is counted out of ("3 of 7"), named in the card's tooltip."""
    shown = fmt(value, unit) + (f" of {fmt(of, unit)}" if of is not None else "")
    tip = f' title="{esc(shown + " " + of_label.lower())}"' if of is not None and of_label else ""
    return (f'<div class="kpi"{tip}><div class="kpi-value" role="img" aria-label="{esc(title)}">{esc(shown)}'
            f'</div><div class="kpi-title">{esc(title)}</div></div>')


def table(columns: Sequence[tuple[str, str, Unit]], rows: Sequence[tuple], links: dict[str, str] | None = None) -> str:
    """columns: (name, label, unit); a column named in ``links`` links each value to its calls."""
    links = links or {}
    head = "".join(f'<th class="{"txt" if u in ("text", "time") else "num"}">{esc(label)}</th>'
                   for _, label, u in columns)
    body = []
    for r in rows:
        cells = []
        for (name, _, unit), value in zip(columns, r, strict=True):
            shown = day_label(value, with_year=True) if name == "dt" and value else fmt(value, unit)
            if name in links and value is not None:
                shown = f'<a class="filter-link" href="{filter_href(links[name], value)}">{esc(shown)}</a>'
            else:
                shown = esc(shown)
            cells.append(f'<td class="{"txt" if unit in ("text", "time") else "num"}">{shown}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="scroll"><table class="chart table"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')
