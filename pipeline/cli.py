"""The ``aftercall`` command line (Typer + rich)."""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import re
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

import click
import typer
import typer.core
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from pipeline.exceptions import AftercallError, ConfigurationError
from pipeline.settings import load_settings

__all__ = ["app"]

console = Console()
err = Console(stderr=True)
log = logging.getLogger("pipeline")
_VERBOSE = False


def _one_line(exc: BaseException) -> str:
    """What went wrong, as one line a user can act on (AWS errors say which call and what AWS answered)."""
    try:
        from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError, PartialCredentialsError
    except ImportError:  # pragma: no cover - botocore is a dependency
        ClientError = NoCredentialsError = NoRegionError = PartialCredentialsError = ()  # type: ignore[assignment]
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return ("no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                "or run where a role provides them (the standard AWS credential chain)")
    if isinstance(exc, NoRegionError):
        return "no AWS region: set AFTERCALL_AWS_REGION or AWS_DEFAULT_REGION"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return (f"AWS refused {exc.operation_name}: {error.get('Code', '?')}: "
                f"{' '.join(str(error.get('Message', '')).split())}").rstrip(": ")
    text = " ".join(str(exc).split())  # one line, whatever the exception put in its message
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _OneLineErrors(typer.core.TyperGroup):
    """Every command ends in one line on error, never a traceback (``-v`` adds the traceback for a bug report)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort, typer.Exit,
                typer.Abort):
            raise
        except KeyboardInterrupt:
            err.print("interrupted", highlight=False)
            raise typer.Exit(130) from None
        except Exception as exc:
            if _VERBOSE:
                err.print_exception()
            _error_line(_one_line(exc))
            raise typer.Exit(2 if isinstance(exc, AftercallError) else 1) from None


# Plain (click) help: Typer 0.29's rich help prints "<bool>" beside every switch with click 8.5.
app = typer.Typer(help="aftercall: post-call analytics for contact centres.", no_args_is_help=True,
                  rich_markup_mode=None, cls=_OneLineErrors,
                  pretty_exceptions_enable=False)

DEMO_DAY = date(2026, 11, 22)
SWITCH = ""  # a switch takes no value: without this its help shows "<bool>"


def _day(value: str, flag: str = "--date") -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigurationError(f"{flag} {value!r} is not a date (expected YYYY-MM-DD)") from None


def _named(flag: str, given: str | None, variable: str, value: str) -> str:
    """A setting as the user gave it: the flag as typed, the environment variable, or the default."""
    if given is not None:
        return f"{flag} {given}"
    if variable in os.environ:
        return f"{variable}={os.environ[variable]}"
    return f"the default {variable.removeprefix('AFTERCALL_').lower()} {value!r}"


def _existing_lake(settings, given: str | None) -> None:
    """Reading a local lake that is not there is an error that says where it looked, never an empty answer."""
    if settings.lake_is_s3:
        return
    path = Path(settings.lake).expanduser().resolve()
    named = _named("--lake", given, "AFTERCALL_LAKE", settings.lake)
    if not path.exists():
        raise ConfigurationError(f"{named}: no lake at {path} (`aftercall run` or `make demo` writes one)")
    if not path.is_dir():
        raise ConfigurationError(f"{named}: {path} is a file, not a lake folder")


def _sql_error(exc: Exception) -> ConfigurationError:
    """One line a user can act on: the parser's complaint and where, not the parser's internals."""
    from sqlglot.errors import ParseError

    if isinstance(exc, ParseError) and exc.errors:
        first = exc.errors[0]
        what = first.get("description") or ""
        if "<class" in what or "sqlglot" in what:  # the parser's own types mean nothing to the user
            what = "incomplete or invalid statement"
        near = (first.get("highlight") or "").strip()
        return ConfigurationError(f"the SQL does not parse: {what} at line {first.get('line')}, column "
                                  f"{first.get('col')}" + (f" (near {near!r})" if near else ""))
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if re.search(r'"attr_\w*" not found', message):  # the attribute columns exist only when named
        message += " (attr_<name> columns of v_call_contacts are the names in AFTERCALL_CTR_ATTRIBUTES, e.g. " \
                   "AFTERCALL_CTR_ATTRIBUTES=intent,customerTier gives attr_intent, attr_customertier)"
    return ConfigurationError(f"query failed: {message}")


def _error_line(text: str) -> None:
    err.print("[bold red]error:[/] ", end="", highlight=False)
    err.print(" ".join(text.split()), highlight=False, soft_wrap=True, markup=False)  # one line, however long


def _fail(exc: Exception) -> None:
    _error_line(str(exc))
    raise typer.Exit(2)


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every step", metavar=SWITCH)] = False) -> None:
    global _VERBOSE
    _VERBOSE = verbose
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def _print_table(columns: list[str], rows: list[tuple], title: str | None = None) -> None:
    """A table as wide as it needs; on a terminal too narrow for it, one block per row instead."""
    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(Text(column), no_wrap=True)
    for row in rows:
        table.add_row(*(Text("" if v is None else str(v)) for v in row))  # data, never rich markup
    width = Measurement.get(console, console.options.update_width(100_000), table).maximum
    if width <= console.width:
        console.print(table)
    elif not console.is_terminal:  # piped or captured: nobody wants a column folded into slivers
        Console(width=width, force_terminal=False).print(table)
    else:
        if title:
            console.print(Text(title, style="bold"))
        for n, row in enumerate(rows, start=1):
            block = Table(show_header=False, title=f"row {n}", box=None)
            for column, value in zip(columns, row, strict=True):
                block.add_row(Text(column, style="dim"), Text("" if value is None else str(value)))
            console.print(block)


def _run(day: date, settings) -> None:
    from pipeline.steps.run import run_day

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[last]}"), console=err, transient=False) as bar:
        task = bar.add_task(f"{day} discovering", total=None, last="")

        def discovered(n: int) -> None:
            bar.update(task, total=n, description=f"{day} calls")

        def advance(outcome) -> None:
            mark = "quarantined " if outcome.failure else ""
            bar.update(task, advance=1, last=f"{mark}{outcome.recording.contact_id}")

        result = run_day(settings, day, progress=advance, on_discovered=discovered)
    summary = Table(title=f"aftercall run {day}", show_header=False)
    summary.add_row("processed", str(len(result.calls)))
    summary.add_row("quarantined", str(len(result.failures)))
    summary.add_row("turns", str(len(result.turns)))
    summary.add_row("audio hours", f"{result.audio_s / 3600:.3f}")
    summary.add_row("wall time", f"{result.wall_s:.1f} s")
    if result.wall_s > 0:
        summary.add_row("speed", f"{result.audio_s / result.wall_s:.1f}x real time")
    summary.add_row("lake", settings.lake if settings.lake_is_s3 else str(Path(settings.lake).resolve()))
    console.print(summary)
    if not result.calls and not result.failures:
        err.print(f"no recordings under {escape(settings.source)} for {day} (…/CallRecordings/{day:%Y/%m/%d}/): "
                  "the day is committed empty", highlight=False, soft_wrap=True)
    for failure in result.failures:
        # File names and reasons are data: "[x]" in them must print as is, not as rich markup.
        err.print(f"[yellow]quarantined[/] {escape(failure['recording_uri'])}: {failure['stage']}: "
                  f"{escape(failure['error'])}",
                  highlight=False)


def _connect_layout(settings, given: str | None) -> None:
    """A local source must be a folder holding Amazon Connect's layout somewhere below it."""
    from pipeline.steps.discovery import has_connect_layout

    root = Path(settings.source).expanduser()
    named = _named("--source", given, "AFTERCALL_SOURCE", settings.source)
    if not root.is_dir():
        raise ConfigurationError(f"{named} is not an existing folder")
    if not has_connect_layout(root):
        raise ConfigurationError(
            f"{named}: no */CallRecordings/YYYY/MM/DD/ folder below it; expected Amazon Connect's layout, e.g. "
            "connect/<instance>/CallRecordings/2026/11/22/<contactId>_20261122T09:12_UTC.wav")


@app.command()
def run(
    day: Annotated[str, typer.Option("--date", help="The day of recordings to process, YYYY-MM-DD (UTC)")],
    source: Annotated[str | None, typer.Option(help="Recordings root [env AFTERCALL_SOURCE]")] = None,
    lake: Annotated[str | None, typer.Option(help="Lake root [env AFTERCALL_LAKE]")] = None,
    agent_channel: Annotated[int | None, typer.Option(help="0 = left, 1 = right [env AFTERCALL_AGENT_CHANNEL]")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes [env AFTERCALL_WORKERS]")] = None,
    transcribe: Annotated[bool | None, typer.Option("--transcribe/--no-transcribe",
                                                    help="Speech-to-text and sentiment [env AFTERCALL_TRANSCRIBE]", metavar=SWITCH)] = None,
    engine: Annotated[str | None, typer.Option(help="local or aws [env AFTERCALL_ENGINE]")] = None,
) -> None:
    """Process one day of recordings into the lake; bad recordings are quarantined, the rest completes."""
    try:
        settings = load_settings(source=source, lake=lake, agent_channel=agent_channel, workers=workers,
                                 transcribe=transcribe, engine=engine)
        parsed = _day(day)
        if not settings.source_is_s3:
            _connect_layout(settings, source)
        _run(parsed, settings)
    except AftercallError as exc:
        _fail(exc)


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="One query in Athena (Trino) SQL over the lake's tables and views")],
    lake: Annotated[str | None, typer.Option(help="Lake root [env AFTERCALL_LAKE]")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
) -> None:
    """Query the lake with the same SQL Athena runs (transpiled to DuckDB locally)."""
    try:
        _check_format(fmt)
        if not sql.strip():
            raise ConfigurationError('the query is empty: give one SQL statement, e.g. '
                                     'aftercall query "select * from v_daily_overview"')
        settings = load_settings(lake=lake)
        _existing_lake(settings, lake)
        columns, rows = _query(settings, sql)
    except AftercallError as exc:
        _fail(exc)
        return
    except Exception as exc:  # SQL errors: one line, not a traceback
        if type(exc).__module__.startswith(("botocore", "boto3")):  # AWS, not the SQL: say what AWS said
            raise
        _fail(_sql_error(exc))
        return
    _emit(columns, rows, fmt)


def _query(settings, sql: str) -> tuple[list[str], list[tuple]]:
    """On an S3 lake the views live in Athena and the query runs there, in the workgroup; else DuckDB."""
    if settings.lake_is_s3:
        from pipeline.aws.athena import run_query as athena_query
        from pipeline.wiring import aws_client

        return athena_query(aws_client(settings, "athena"), sql, settings)
    from pipeline.adapters.duckdb_engine import query as run_query

    return run_query(sql, settings.lake)


def _check_format(fmt: str) -> None:
    if fmt not in ("table", "csv", "json"):
        raise ConfigurationError(f"--format {fmt!r}: expected table, csv or json")


def _emit(columns: list[str], rows: list[tuple], fmt: Literal["table", "csv", "json"] | str) -> None:
    if fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    elif fmt == "json":
        def plain(v):
            if isinstance(v, Decimal):  # DuckDB types a literal like 1.5 as DECIMAL
                v = float(v)
            if isinstance(v, float) and not math.isfinite(v):
                return None  # NaN and Infinity are not JSON
            return v.isoformat() if isinstance(v, (date, datetime)) else v
        print(json.dumps([{c: plain(v) for c, v in zip(columns, row, strict=True)} for row in rows], indent=1,
                         allow_nan=False, default=str))
    else:
        _print_table(columns, rows)


@app.command()
def demo(
    lake: Annotated[str | None, typer.Option(help="Lake root [env AFTERCALL_LAKE]")] = None,
) -> None:
    """Run the bundled sample day without Airflow and show what analysts get (make demo goes through Airflow)."""
    from pipeline.settings import SAMPLES_DIR

    try:
        settings = load_settings(source=str(SAMPLES_DIR), lake=lake, ctr_source=str(SAMPLES_DIR / "ctr"))
        _run(DEMO_DAY, settings)
    except AftercallError as exc:
        _fail(exc)
    summary(lake=lake)


@app.command()
def summary(
    lake: Annotated[str | None, typer.Option(help="Lake root [env AFTERCALL_LAKE]")] = None,
) -> None:
    """Print the main views of the lake: days, calls, one call's turns, sentiment."""

    try:
        settings = load_settings(lake=lake)
        _existing_lake(settings, lake)
        for title, sql in _DEMO_QUERIES:
            columns, rows = _query(settings, sql)
            _print_table(columns, rows, title=title)
    except AftercallError as exc:
        _fail(exc)


_DEMO_QUERIES = [
    ("v_daily_overview", "select * from v_daily_overview order by dt"),
    ("v_call_summary", "select dt, substr(contact_id, 1, 8) as contact, duration_s, agent_talk_s as agent_talk, "
                       "customer_talk_s as cust_talk, non_talk_s as non_talk, agent_interruptions as agent_int, "
                       "customer_interruptions as cust_int, agent_wpm, customer_sentiment_start as cust_start, "
                       "customer_sentiment_end as cust_end from v_call_summary order by dt, call_started_at"),
    ("v_turns (the angriest customer's call)",
     "select participant, begin_s, end_s, sentiment, is_interruption as cut_in, text from v_turns "
     "where contact_id = (select contact_id from calls where customer_sentiment_start is not null "
     "order by customer_sentiment_start, contact_id limit 1) order by turn_index"),
    ("v_sentiment_daily", "select dt, calls, avg_customer_sentiment_start as cust_start, "
                          "avg_customer_sentiment_end as cust_end, calls_ended_happier as happier, "
                          "calls_ended_negative as ended_neg, avg_agent_wpm from v_sentiment_daily order by dt"),
    ("v_category_daily", "select dt, category, calls, share_of_calls, avg_first_match_s from v_category_daily "
                         "order by dt, calls desc, category"),
    ("v_agent_daily", "select dt, agent_username as agent, calls, agent_talk_share, non_talk_ratio, "
                      "agent_interruptions as agent_int, avg_customer_sentiment_start as cust_start, "
                      "avg_customer_sentiment_end as cust_end from v_agent_daily order by dt, agent"),
]


@app.command()
def setup(
    lake: Annotated[str | None, typer.Option(help="Lake root, s3://bucket/prefix [env AFTERCALL_LAKE]")] = None,
    source: Annotated[str | None, typer.Option(help="Recordings, s3://bucket/prefix [env AFTERCALL_SOURCE]")] = None,
    policy_only: Annotated[bool, typer.Option("--policy-only", help="Only print the IAM policy; touch nothing", metavar=SWITCH)] = False,
) -> None:
    """Create or check the AWS side (Glue database, Athena workgroup, SSE-KMS, lifecycle, Transcribe custom
    vocabulary); print the IAM policy."""
    from pipeline.aws.setup import iam_policy, setup as run_setup
    from pipeline.wiring import aws_client

    try:
        settings = load_settings(lake=lake, source=source)
        if not policy_only:
            if not settings.lake_is_s3:
                raise ConfigurationError("aftercall setup prepares AWS: AFTERCALL_LAKE must be s3://bucket/prefix")
            report = run_setup(settings, glue=aws_client(settings, "glue"), athena=aws_client(settings, "athena"),
                               s3=aws_client(settings, "s3"),
                               transcribe=aws_client(settings, "transcribe") if settings.vocabulary else None)
            # Human text on stderr: stdout carries the policy alone (`aftercall setup > policy.json`).
            for line in report.done:
                err.print(f"[green]done[/]      {escape(line)}", highlight=False, soft_wrap=True)
            for line in report.unchanged:
                err.print(f"[dim]unchanged[/] {escape(line)}", highlight=False, soft_wrap=True)
            for line in report.warnings:
                err.print(f"[yellow]warning[/]   {escape(line)}", highlight=False, soft_wrap=True)
            account = aws_client(settings, "sts").get_caller_identity()["Account"]
        else:
            account = "<account-id>"
        policy = iam_policy(settings, account_id=account, region=settings.aws_region or "<region>")
    except AftercallError as exc:
        _fail(exc)
        return
    err.print("[bold]IAM policy for the pipeline's role[/] (JSON on stdout; the template is docs/iam-policy.json):",
              highlight=False, soft_wrap=True)
    print(json.dumps(policy, indent=2))


@app.command("import")
def import_(
    paths: Annotated[list[str], typer.Argument(help="Output files, folders or s3:// URIs (Transcribe, Call Analytics, "
                                                    "Contact Lens)")],
    day: Annotated[str | None, typer.Option("--date", help="Day of the calls, if the file names carry none")] = None,
    lake: Annotated[str | None, typer.Option(help="Lake root [env AFTERCALL_LAKE]")] = None,
) -> None:
    """Import existing Amazon Transcribe / Call Analytics / Contact Lens outputs into the lake (idempotent)."""
    from pipeline.analytics.importers import import_paths

    try:
        settings = load_settings(lake=lake)
        summary = import_paths(settings, paths, _day(day) if day else None)
    except AftercallError as exc:
        _fail(exc)
        return
    for dt, n in summary.imported.items():
        console.print(f"imported {n} calls into dt={dt}", highlight=False)
    for path, reason in summary.failed:
        err.print(f"[yellow]not imported[/] {escape(path)}: {escape(reason)}", highlight=False, soft_wrap=True)
    if summary.failed and not summary.imported:
        raise typer.Exit(1)


@app.command()
def search(
    phrase: Annotated[str, typer.Argument(help="Words to find, whole words, any case and punctuation")],
    start: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD")] = None,
    participant: Annotated[str | None, typer.Option(help="agent or customer: who said it")] = None,
    agent: Annotated[str | None, typer.Option(help="Only this agent's calls (agent_username)")] = None,
    category: Annotated[str | None, typer.Option(help="Only calls that matched this category")] = None,
    limit: Annotated[int, typer.Option(help="At most this many turns")] = 500,
    lake: Annotated[str | None, typer.Option(help="Lake root [env AFTERCALL_LAKE]")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
) -> None:
    """Find the calls where a phrase was said: each matching turn, its time and the turns around it."""
    from pipeline.analytics.search import COLUMNS, SearchQuery, search_sql

    try:
        _check_format(fmt)
        q = SearchQuery(phrase, _day(start, "--from") if start else None, _day(end, "--to") if end else None,
                        participant, agent, category, limit)
        settings = load_settings(lake=lake)
        _existing_lake(settings, lake)
        _, rows = _query(settings, search_sql(q, extra=1))  # one more: to say that some were left out
    except AftercallError as exc:
        _fail(exc)
        return
    if len(rows) > limit:
        rows = rows[:limit]
        err.print(f"more than {limit} matching turns: showing the first {limit} (narrow with --from/--to, "
                  "or raise --limit)", highlight=False)
    if fmt != "table":
        _emit(list(COLUMNS), rows, fmt)
        return
    if not rows:
        console.print("no turn matches", highlight=False)
        return
    at = COLUMNS.index
    shown = [(r[at("dt")], r[at("contact_id")], r[at("agent_username")], str(r[at("participant")]).lower(),
              _clock(r[at("begin_s")]), _clip(r[at("previous_text")], start=False), r[at("text")],
              _clip(r[at("next_text")])) for r in rows]
    _print_table(["dt", "contact_id", "agent", "who", "at", "before", "turn", "after"], shown)
    calls = len({(r[0], r[1]) for r in shown})
    console.print(f"{len(shown)} turn(s) in {calls} call(s)", highlight=False)


def _clock(seconds) -> str:
    if seconds is None:
        return ""
    total = int(float(seconds))
    return f"{total // 60}:{total % 60:02d}"


def _clip(text, width: int = 40, start: bool = True) -> str:
    """Context, not the whole turn: its first words after the match, its last words before it."""
    if not text:
        return ""
    text = " ".join(str(text).split())
    if len(text) <= width:
        return text
    return text[:width].rstrip() + "…" if start else "…" + text[-width:].lstrip()


@app.command()
def recategorize(
    start: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD")],
    end: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD")],
    lake: Annotated[str | None, typer.Option(help="Lake root [env AFTERCALL_LAKE]")] = None,
    rules: Annotated[str | None, typer.Option(help="Rules YAML [env AFTERCALL_CATEGORIES]")] = None,
) -> None:
    """Re-apply the category rules to stored turns (no transcription); rewrites call_categories only."""
    from pipeline.analytics.categories import recategorize as run_recategorize

    try:
        settings = load_settings(lake=lake, categories=rules)
        first, last = _day(start, "--from"), _day(end, "--to")
        if last < first:
            raise ConfigurationError(f"--to {end} is before --from {start}")
        done = run_recategorize(settings, first, last)
    except AftercallError as exc:
        _fail(exc)
        return
    for dt, n in done.items():
        console.print(f"dt={dt}: {n} category matches", highlight=False)
    if not done:
        console.print("no stored calls in that range", highlight=False)


@app.command()
def evaluate(
    start: Annotated[str | None, typer.Option("--from", help="First day to re-score, YYYY-MM-DD")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day to re-score, YYYY-MM-DD")] = None,
    form: Annotated[str | None, typer.Option(help="A shipped form's name (evaluations/NAME.yaml) or a YAML file; "
                                                  "default: every form in effect")] = None,
    export: Annotated[str | None, typer.Option(help="Write this form's Amazon Connect CreateEvaluationForm request "
                                                    "(JSON) instead of scoring")] = None,
    instance_id: Annotated[str, typer.Option(help="The Connect instance id put in the exported request")]
        = "00000000-0000-0000-0000-000000000000",
    out: Annotated[Path | None, typer.Option("--out", help="Where --export writes the JSON (default: stdout)")] = None,
    lake: Annotated[str | None, typer.Option(help="Lake root [env AFTERCALL_LAKE]")] = None,
) -> None:
    """Score stored calls with the evaluation forms (no transcription; rewrites evaluations only), or export a form."""
    from pipeline.analytics.evaluation_export import export_form
    from pipeline.analytics.evaluations import evaluate as run_evaluate, load_form, resolve_form

    try:
        if export is not None:
            if start or end or form:
                raise ConfigurationError("--export FORM writes that form's request; give it without --from, --to "
                                         "and --form")
            from pipeline.analytics.categories import effective_rules

            settings = load_settings(lake=lake)
            request = export_form(load_form(resolve_form(export), effective_rules(settings)), instance_id)
            text = json.dumps(request, indent=2, ensure_ascii=False) + "\n"
            if out is None:
                sys.stdout.write(text)
            else:
                out.write_text(text, encoding="utf-8")
                err.print(f"wrote {escape(str(out))}", highlight=False, soft_wrap=True)
            return
        if not start or not end:
            raise ConfigurationError("give --from and --to (the days to re-score), or --export FORM")
        settings = load_settings(lake=lake)
        first, last = _day(start, "--from"), _day(end, "--to")
        if last < first:
            raise ConfigurationError(f"--to {end} is before --from {start}")
        done = run_evaluate(settings, first, last, form)
    except AftercallError as exc:
        _fail(exc)
        return
    for dt, n in done.items():
        console.print(f"dt={dt}: {n} evaluation answers", highlight=False)
    if not done:
        console.print("no stored calls in that range", highlight=False)


@app.command()
def report(
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write")] = Path("report.html"),
    start: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD")] = None,
    lake: Annotated[str | None, typer.Option(help="Lake root [env AFTERCALL_LAKE]")] = None,
    max_calls: Annotated[int, typer.Option("--max-calls", min=1,
                                           help="Calls listed with their own page (the latest); charts count all")] = 2000,
) -> None:
    """Write the dashboard as one self-contained HTML file: charts, every call, each call's transcript.

    Without --from/--to the report covers the lake's first to last day.
    """
    from pipeline.presentation.report import write_report

    try:
        settings = load_settings(lake=lake)
        if settings.lake_is_s3:
            raise ConfigurationError("aftercall report reads a local lake; on S3 use the QuickSight dashboard")
        first, last = _day(start, "--from") if start else None, _day(end, "--to") if end else None
        if first and last and last < first:
            raise ConfigurationError(f"--to {end} is before --from {start}")
        _existing_lake(settings, lake)
        path, calls = write_report(settings.lake, out, first, last, settings.ctr_attributes, max_calls)
    except AftercallError as exc:
        _fail(exc)
        return
    console.print(f"report: {path.resolve()}", highlight=False, soft_wrap=True)
    if calls == 0:
        console.print("no calls in this range: the report says so", highlight=False)


quicksight_app = typer.Typer(help="QuickSight as code: data source, datasets, analysis, dashboard.", no_args_is_help=True,
                             rich_markup_mode=None)
app.add_typer(quicksight_app, name="quicksight")


@quicksight_app.command("deploy")
def quicksight_deploy(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be created or updated; change nothing",
                                       metavar=SWITCH)] = False,
) -> None:
    """Create or update the Athena data source, one dataset per view, the analysis and the dashboard (idempotent)."""
    from pipeline.presentation.quicksight import build_assets, deploy
    from pipeline.wiring import aws_client

    try:
        settings = load_settings()
        account = settings.quicksight_account_id or aws_client(settings, "sts").get_caller_identity()["Account"]
        client = aws_client(settings, "quicksight")
        assets = build_assets(settings, account, client.meta.region_name)
        actions = deploy(client, assets, dry_run=dry_run)
    except AftercallError as exc:
        _fail(exc)
        return
    for action in actions:
        console.print(("would " if dry_run else "") + action, highlight=False, soft_wrap=True)
    if not settings.quicksight_principal_arn:
        err.print("[yellow]note[/] no AFTERCALL_QUICKSIGHT_PRINCIPAL_ARN: nobody but the API caller can see the assets",
                  highlight=False, soft_wrap=True)
