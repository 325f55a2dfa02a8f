"""Transcript search: the turns whose words contain a phrase, over the ``v_transcript_search`` view.

Matching is defined once, in SQL (``sql/views/v_transcript_search.sql``): the view normalises each turn
and the query normalises the phrase with the same expression, so ``aftercall search`` on DuckDB and an
analyst's query on Athena find the same turns. Whole words, case- and punctuation-insensitive.
Every value the user gives reaches SQL as a quoted string literal, never as SQL.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date

from pipeline.exceptions import ConfigurationError

__all__ = ["COLUMNS", "MAX_LIMIT", "MAX_PHRASE_CHARS", "SearchQuery", "search_sql"]

MAX_PHRASE_CHARS = 500  # a phrase, not a document: longer is a mistake (or an attack on the query planner)
MAX_LIMIT = 1_000_000  # turns a search returns at most: SQL's limit is a 64-bit integer, and rows are held in memory
PARTICIPANTS = ("AGENT", "CUSTOMER")
COLUMNS = ("dt", "contact_id", "call_started_at", "agent_username", "queue_name", "categories", "turn_index",
           "participant", "begin_s", "end_s", "previous_text", "text", "next_text")

# The view's normalisation of a turn, applied to the phrase: keep the two in step (v_transcript_search.sql).
_NORMALISE = "' ' || trim(regexp_replace(lower({}), '[^\\p{{L}}\\p{{N}}]+', ' ')) || ' '"


def _literal(value: str) -> str:
    """A SQL string literal (Trino and DuckDB: quotes doubled, no backslash escapes)."""
    if "\x00" in value:
        raise ConfigurationError("a search value contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8 in argv arrive as lone surrogates; DuckDB: std::bad_cast
        raise ConfigurationError(f"a search value is not UTF-8 text: {value!r}") from None
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What to look for; each field but ``phrase`` narrows the search."""

    phrase: str
    start: date | None = None
    end: date | None = None
    participant: str | None = None  # AGENT | CUSTOMER
    agent: str | None = None  # agent_username as v_call_contacts shows it
    category: str | None = None  # a category name of call_categories
    limit: int | None = None

    def __post_init__(self) -> None:
        # composed (NFC), as transcripts are: a decomposed "cafe\u0301" or Hangul typed as jamo finds "café", "안녕"
        object.__setattr__(self, "phrase", unicodedata.normalize("NFC", self.phrase))
        if len(self.phrase) > MAX_PHRASE_CHARS:
            raise ConfigurationError(f"the phrase is {len(self.phrase)} characters; at most {MAX_PHRASE_CHARS}")
        if not any(c.isalnum() for c in self.phrase):
            raise ConfigurationError(f"the phrase {self.phrase!r} has no letters or digits to search for")
        if self.participant is not None and self.participant.upper() not in PARTICIPANTS:
            raise ConfigurationError(f"--participant {self.participant!r}: expected agent or customer")
        if self.start and self.end and self.end < self.start:
            raise ConfigurationError(f"--to {self.end} is before --from {self.start}")
        if self.limit is not None and self.limit < 1:
            raise ConfigurationError(f"--limit {self.limit}: at least 1")
        if self.limit is not None and self.limit > MAX_LIMIT:
            raise ConfigurationError(f"--limit {self.limit}: at most {MAX_LIMIT}")


def search_sql(q: SearchQuery, extra: int = 0) -> str:
    """One Athena (Trino) query: the matching turns with their context, oldest call first.

    ``extra`` rows past ``q.limit`` are asked for, to tell that some were left out."""
    where = [f"strpos(search_text, {_NORMALISE.format(_literal(q.phrase))}) > 0"]
    if q.start:
        where.append(f"dt >= '{q.start.isoformat()}'")
    if q.end:
        where.append(f"dt <= '{q.end.isoformat()}'")
    if q.participant:
        where.append(f"participant = '{q.participant.upper()}'")
    if q.agent is not None:
        where.append(f"agent_username = {_literal(q.agent)}")
    if q.category is not None:
        # equality on the table, not a pattern on the comma-joined list: a name with % or , stays a name
        where.append("exists (select 1 from call_categories as g where g.dt = s.dt and g.contact_id = s.contact_id "
                     f"and g.category = {_literal(q.category)})")
    sql = (f"select {', '.join(COLUMNS)} from v_transcript_search as s where " + " and ".join(where)
           + " order by dt, call_started_at, contact_id, turn_index")
    return sql + (f" limit {int(q.limit) + extra}" if q.limit else "")
