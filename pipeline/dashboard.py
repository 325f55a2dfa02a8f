"""The dashboard spec (``quicksight/dashboard.yaml``) and the queries behind each visual.

One spec, two renderers: :mod:`pipeline.quicksight` turns it into a QuickSight analysis and
dashboard over the Athena views; :mod:`pipeline.report` into a self-contained HTML page over
the same views on the local engine.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Column", "Dashboard", "Sheet", "Visual", "load_dashboard", "visual_sql"]

Agg = Literal["SUM", "AVERAGE", "MAX"]
_SQL_AGG = {"SUM": "sum", "AVERAGE": "avg", "MAX": "max"}


def _spec_file() -> Path:
    here = Path(__file__).resolve().parent
    installed = here / "_quicksight" / "dashboard.yaml"
    return installed if installed.exists() else here.parent / "quicksight" / "dashboard.yaml"


class Column(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    agg: Agg = "SUM"


class Visual(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["kpi", "line", "bar", "table"]
    title: str
    view: str
    agg: Agg = "SUM"
    value: str | None = None
    values: tuple[str, ...] = ()
    category: str | None = None
    group_by: tuple[str, ...] = ()
    columns: tuple[Column, ...] = ()

    @model_validator(mode="after")
    def _fields(self) -> Visual:
        need = {"kpi": self.value, "line": self.values, "bar": self.value and self.category,
                "table": self.group_by and self.columns}[self.type]
        if not need:
            raise ValueError(f"{self.type} visual {self.title!r} lacks its fields")
        return self

    def measures(self) -> list[Column]:
        if self.type == "table":
            return list(self.columns)
        names = self.values if self.type == "line" else (self.value,)
        return [Column(name=n, agg=self.agg) for n in names if n]

    def dimensions(self) -> list[str]:
        return {"kpi": [], "line": ["dt"], "bar": [self.category], "table": list(self.group_by)}[self.type]  # type: ignore[list-item]


class Sheet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    name: str
    visuals: tuple[Visual, ...]


class Dashboard(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    sheets: tuple[Sheet, ...]

    def views(self) -> list[str]:
        return sorted({v.view for s in self.sheets for v in s.visuals})


@cache
def load_dashboard(path: str | None = None) -> Dashboard:
    return Dashboard.model_validate(yaml.safe_load(Path(path or _spec_file()).read_text()))


def visual_sql(visual: Visual, start: date | None = None, end: date | None = None) -> str:
    """The Athena-dialect query that computes one visual's data (the report runs it on DuckDB)."""
    dims = visual.dimensions()
    measures = [f"{_SQL_AGG[m.agg]}({m.name}) as {m.name}" for m in visual.measures()]
    where = []
    if start:
        where.append(f"dt >= '{start:%Y-%m-%d}'")
    if end:
        where.append(f"dt <= '{end:%Y-%m-%d}'")
    sql = f"select {', '.join(dims + measures)} from {visual.view}"
    if where:
        sql += " where " + " and ".join(where)
    if dims:
        sql += f" group by {', '.join(dims)}"
        order = "dt" if visual.type == "line" else (f"{visual.measures()[0].name} desc" if visual.type == "bar"
                                                    else ", ".join(dims))
        sql += f" order by {order}"
    return sql
