"""The Athena views under ``sql/views/``: one file per view, written in Athena (Trino) SQL.

Athena gets them as they are; the local engine gets them transpiled to DuckDB by sqlglot,
one way only, so there is a single definition of every view.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import sqlglot

__all__ = ["VIEWS_DIR", "athena_to_duckdb", "attribute_columns", "view_definitions"]


def _views_dir() -> Path:
    here = Path(__file__).resolve().parents[1]  # pipeline/: the wheel puts the data folders there
    installed = here / "_sql" / "views"  # a wheel carries sql/ inside the package
    return installed if installed.is_dir() else here.parent / "sql" / "views"


VIEWS_DIR = _views_dir()


def attribute_columns(names: str) -> list[tuple[str, str]]:
    """(attribute name, column name) for ``AFTERCALL_CTR_ATTRIBUTES``: ``attr_`` + a safe identifier, unique."""
    columns: list[tuple[str, str]] = []
    for name in dict.fromkeys(n.strip() for n in names.split(",") if n.strip()):
        column = "attr_" + (re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_") or "x")
        while column in {c for _, c in columns}:
            column += "_"
        columns.append((name, column))
    return columns


def _with_attributes(sql: str, names: str) -> str:
    """Fill v_call_contacts' attribute placeholders. Names are data: quoted as string literals, never spliced as SQL."""
    columns = attribute_columns(names)
    pivot = "".join(f",\n        max(case when name = '{name.replace(chr(39), chr(39) * 2)}' then value end) as {column}"
                    for name, column in columns)
    values = "".join(f",\n        a.{column}" for _, column in columns)
    return sql.replace("\n        /* attribute columns */", pivot).replace("\n        /* attribute values */", values)


def view_definitions(attributes: str | None = None) -> dict[str, str]:
    """View name -> Athena SQL, ordered so every view comes after the views it reads.

    ``attributes``: the contact attribute names shown as columns of v_call_contacts (default
    ``AFTERCALL_CTR_ATTRIBUTES``), so Athena and the local engine get the same views.
    """
    if attributes is None:
        from pipeline.settings import Settings

        attributes = Settings().ctr_attributes
    return _definitions(attributes)


@cache
def _definitions(attributes: str) -> dict[str, str]:
    sources = {p.stem: _with_attributes(p.read_text(), attributes) for p in sorted(VIEWS_DIR.glob("*.sql"))}
    ordered: dict[str, str] = {}

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if name in ordered:
            return
        if name in trail:
            raise ValueError(f"views depend on each other in a cycle: {' -> '.join(trail + (name,))}")
        for other in sources:
            if other != name and re.search(rf"\b{re.escape(other)}\b", sources[name]):
                visit(other, trail + (name,))
        ordered[name] = sources[name]

    for name in sources:
        visit(name, ())
    return ordered


def athena_to_duckdb(sql: str) -> str:
    """Transpile one Athena statement to DuckDB (raises sqlglot.ParseError on invalid Athena SQL)."""
    statements = sqlglot.transpile(sql, read="athena", write="duckdb")
    if len(statements) != 1:
        raise ValueError(f"expected one SQL statement, got {len(statements)}")
    return statements[0]
