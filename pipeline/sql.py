"""The Athena views under ``sql/views/``: one file per view, written in Athena (Trino) SQL.

Athena gets them as they are; the local engine gets them transpiled to DuckDB by sqlglot,
one way only, so there is a single definition of every view.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import sqlglot

__all__ = ["VIEWS_DIR", "athena_to_duckdb", "view_definitions"]


def _views_dir() -> Path:
    here = Path(__file__).resolve().parent
    installed = here / "_sql" / "views"  # a wheel carries sql/ inside the package
    return installed if installed.is_dir() else here.parent / "sql" / "views"


VIEWS_DIR = _views_dir()


@cache
def view_definitions() -> dict[str, str]:
    """View name -> Athena SQL, ordered so every view comes after the views it reads."""
    sources = {p.stem: p.read_text() for p in sorted(VIEWS_DIR.glob("*.sql"))}
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
