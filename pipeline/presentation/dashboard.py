"""The dashboard spec (``quicksight/dashboard.yaml``) and the queries behind each visual.

One spec, two renderers: :mod:`pipeline.presentation.quicksight` turns it into a QuickSight analysis and
dashboard over the Athena views; :mod:`pipeline.presentation.report` into a self-contained HTML page over
the same views on the local engine.

A ``list`` visual shows rows as they are (no aggregation); ``opens`` names a sheet with a
``key``: clicking a row shows that sheet for the row's key (QuickSight: a navigation action
that sets the sheet's parameter; the report: the call's own page). ``fields`` gives each
column a human label and a unit, used by both renderers.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Column", "Dashboard", "FieldSpec", "Sheet", "Visual", "load_dashboard", "visual_sql"]

Agg = Literal["SUM", "AVERAGE", "MAX"]
Unit = Literal["count", "percent", "hours", "minutes", "seconds", "sentiment", "usd", "wpm", "text", "time", "flag"]
_SQL_AGG = {"SUM": "sum", "AVERAGE": "avg", "MAX": "max"}


def _spec_file() -> Path:
    here = Path(__file__).resolve().parents[1]  # pipeline/: the wheel puts the data folders there
    installed = here / "_quicksight" / "dashboard.yaml"
    return installed if installed.exists() else here.parent / "quicksight" / "dashboard.yaml"


class Column(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    agg: Agg = "SUM"


class Visual(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["kpi", "line", "bar", "table", "list"]
    title: str
    view: str
    agg: Agg = "SUM"
    value: str | None = None
    # kpi: the number ``value`` is counted out of (the report shows "3 of 7"; QuickSight: the KPI's target)
    of: str | None = None
    values: tuple[str, ...] = ()
    category: str | None = None
    group_by: tuple[str, ...] = ()
    columns: tuple[Column, ...] = ()
    # line: on a single day the report shows each call's value of these v_call_contacts columns instead
    per_call: tuple[str, ...] = ()
    # list: the sheet (with a key) a click on a row opens
    opens: str | None = None
    # line: a point per day of dt, or per week (QuickSight: the date dimension's granularity)
    period: Literal["day", "week"] = "day"

    @model_validator(mode="after")
    def _fields(self) -> Visual:
        need = {"kpi": self.value, "line": self.values, "bar": self.value and self.category,
                "table": self.group_by and self.columns, "list": self.columns}[self.type]
        if not need:
            raise ValueError(f"{self.type} visual {self.title!r} lacks its fields")
        if self.of and self.type != "kpi":
            raise ValueError(f"visual {self.title!r}: only a kpi counts out of another column (of)")
        if self.period != "day" and self.type != "line":
            raise ValueError(f"visual {self.title!r}: only a line has a period")
        if self.per_call and len(self.per_call) != len(self.values):
            raise ValueError(f"visual {self.title!r}: per_call needs one column per value")
        return self

    def measures(self) -> list[Column]:
        if self.type == "table":
            return list(self.columns)
        names = self.values if self.type == "line" else (self.value, self.of)
        return [Column(name=n, agg=self.agg) for n in names if n]

    def dimensions(self) -> list[str]:
        return {"kpi": [], "line": ["dt"], "bar": [self.category], "table": list(self.group_by),  # type: ignore[list-item]
                "list": [c.name for c in self.columns]}[self.type]


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    label: str
    short: str | None = None  # for a table's column header
    unit: Unit = "count"


class Sheet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    name: str
    # a sheet with a key shows one row's worth (one call): set by a list's ``opens``, never picked from the menu
    key: str | None = None
    visuals: tuple[Visual, ...]


class Dashboard(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    fields: dict[str, FieldSpec] = {}
    sheets: tuple[Sheet, ...]

    @model_validator(mode="after")
    def _opens(self) -> Dashboard:
        keyed = {s.id for s in self.sheets if s.key}
        for visual in (v for s in self.sheets for v in s.visuals):
            if visual.opens and visual.opens not in keyed:
                raise ValueError(f"visual {visual.title!r} opens {visual.opens!r}, which is not a sheet with a key")
        return self

    def views(self) -> list[str]:
        return sorted({v.view for s in self.sheets for v in s.visuals})

    def sheet(self, sheet_id: str) -> Sheet:
        return next(s for s in self.sheets if s.id == sheet_id)

    def label(self, column: str) -> str:
        """The column's human label (the column name with spaces when the spec has none)."""
        found = self.fields.get(column)
        return found.label if found else column.replace("_", " ").capitalize()

    def short_label(self, column: str) -> str:
        found = self.fields.get(column)
        return (found.short or found.label) if found else self.label(column)

    def unit(self, column: str) -> Unit:
        found = self.fields.get(column)
        return found.unit if found else "count"


@cache
def load_dashboard(path: str | None = None) -> Dashboard:
    return Dashboard.model_validate(yaml.safe_load(Path(path or _spec_file()).read_text()))


def visual_sql(visual: Visual, start: date | None = None, end: date | None = None,
               relation: str | None = None) -> str:
    """The Athena-dialect query that computes one visual's data (the report runs it on DuckDB).

    ``relation``: read this table instead of the visual's view (the report's copy of the view's rows).
    """
    dims = visual.dimensions()
    measures = ([] if visual.type == "list" else
                [f"{_SQL_AGG[m.agg]}({m.name}) as {m.name}" for m in visual.measures()])
    where = []
    if start:
        where.append(f"dt >= '{start:%Y-%m-%d}'")
    if end:
        where.append(f"dt <= '{end:%Y-%m-%d}'")
    sql = f"select {', '.join(dims + measures)} from {relation or visual.view}"
    if where:
        sql += " where " + " and ".join(where)
    if visual.type == "list":
        return sql + f" order by {', '.join(dims)}"
    if dims:
        sql += f" group by {', '.join(dims)}"
        order = "dt" if visual.type == "line" else (f"{visual.measures()[0].name} desc" if visual.type == "bar"
                                                    else ", ".join(dims))
        sql += f" order by {order}"
    return sql
