"""The CLI never fails silently: each mistake is one line naming the flag or variable as typed, and exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app

runner = CliRunner()
CLI = Path(sys.executable).parent / "aftercall"


@pytest.fixture
def places(tmp_path):
    (tmp_path / "lake").mkdir()
    (tmp_path / "a-file").write_text("not a lake")
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "call.wav").write_bytes(b"RIFF")
    return tmp_path


CASES = [
    (["query", "", "--lake", "{t}/lake"], "the query is empty"),
    (["query", "select * from calls where", "--lake", "{t}/lake"],
     "the SQL does not parse: incomplete or invalid statement at line 1, column 25 (near 'where')"),
    (["query", "select 1", "--lake", "{t}/nope"], "--lake {t}/nope: no lake at {t}/nope"),
    (["summary", "--lake", "{t}/a-file"], "--lake {t}/a-file: {t}/a-file is a file, not a lake folder"),
    (["report", "--lake", "{t}/nope", "--out", "{t}/r.html"], "--lake {t}/nope: no lake at {t}/nope"),
    (["report", "--from", "2026-13-01", "--lake", "{t}/lake"], "--from '2026-13-01' is not a date"),
    (["report", "--from", "2026-11-23", "--to", "2026-11-22", "--lake", "{t}/lake"],
     "--to 2026-11-22 is before --from 2026-11-23"),
    (["run", "--date", "2026-11-22", "--source", "/nope", "--lake", "{t}/lake"], "--source /nope is not an existing folder"),
    (["run", "--date", "2026-11-22", "--source", "{t}/flat", "--lake", "{t}/lake"],
     "--source {t}/flat: no */CallRecordings/YYYY/MM/DD/ folder below it; expected Amazon Connect's layout"),
    (["recategorize", "--from", "2026-11-22", "--to", "2026-11-3x", "--lake", "{t}/lake"], "--to '2026-11-3x' is not a date"),
    (["query", "select attr_intent from v_call_contacts", "--lake", "{t}/lake"],
     "attr_<name> columns of v_call_contacts are the names in AFTERCALL_CTR_ATTRIBUTES"),
]


@pytest.mark.parametrize(("args", "message"), CASES)
def test_each_mistake_is_one_clear_line_and_exit_2(places, args, message):
    result = runner.invoke(app, [a.format(t=places) for a in args])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message.format(t=places) in lines[0], result.output
    assert not (places / "r.html").exists()  # report writes nothing when it cannot read the lake


def test_the_installed_cli_names_the_variable_the_user_set(places):
    env = {"PATH": "/usr/bin:/bin", "AFTERCALL_LAKE": str(places / "nowhere"), "HOME": str(places)}
    done = subprocess.run([str(CLI), "summary"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"error: AFTERCALL_LAKE={places}/nowhere: no lake at {places}/nowhere "
                                   "(`aftercall run` or `make demo` writes one)")


def test_an_empty_day_succeeds_and_says_where_it_looked(source, tmp_path):
    result = runner.invoke(app, ["run", "--date", "2026-11-25", "--source", str(source), "--lake", str(tmp_path / "l"),
                                 "--no-transcribe"])
    assert result.exit_code == 0, result.output
    assert f"no recordings under {source} for 2026-11-25 (…/CallRecordings/2026/11/25/)" in result.output


def test_switches_show_no_value_in_help():
    for command in (["run", "--help"], ["--help"], ["setup", "--help"], ["quicksight", "deploy", "--help"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 0 and "<bool>" not in result.output, command


def test_a_report_of_an_empty_range_says_so(places):
    result = runner.invoke(app, ["report", "--lake", str(places / "lake"), "--out", str(places / "r.html")])
    assert result.exit_code == 0, result.output
    assert "no calls in this range" in result.output and (places / "r.html").exists()
