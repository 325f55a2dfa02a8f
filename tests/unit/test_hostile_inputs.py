"""What a hostile tester broke after the first round, each kept broken-proof: one bad item costs only itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from pipeline.adapters.duckdb_engine import query
from pipeline.exceptions import ConfigurationError, LakeError
from pipeline.lake.tables import LocalLake
from pipeline.steps.run import DayResult, commit_day
from pipeline.settings import Settings, load_settings
from tests.conftest import DEMO_DAY

CLI = Path(sys.executable).parent / "aftercall"
SEGMENT = {"BeginOffsetMillis": 0, "EndOffsetMillis": 1000, "ParticipantRole": "AGENT", "Content": "hi"}


def test_ctr_times_out_of_range_huge_numbers_and_a_bom_cost_only_their_record(tmp_path):
    from pipeline.analytics.ctr import read_contacts_checked

    folder = tmp_path / "ctr" / "2026" / "11" / "22" / "23"
    folder.mkdir(parents=True)
    records = [{"ContactId": "a", "InitiationTimestamp": "0001-01-01T00:00:00+14:00"},
               {"ContactId": "b", "InitiationTimestamp": "9999-12-31T23:00:00-05:00"},
               {"ContactId": "c", "Agent": {"ConnectedToAgentTimestamp": "9999-12-31T23:00:00-05:00"}}]
    text = "\ufeff" + "".join(json.dumps(r) for r in records) + \
        '{"ContactId": "d", "InitiationTimestamp": "2026-11-22T09:00:00Z", "Attributes": {"n": ' + "9" * 5000 + "}}" + \
        json.dumps({"ContactId": "ok", "InitiationTimestamp": "2026-11-22T10:00:00Z"})
    (folder / "stream").write_text(text)
    contacts, skipped = read_contacts_checked(Settings(ctr_source=str(tmp_path / "ctr")), DEMO_DAY)
    assert [c["contact_id"] for c in contacts] == ["d", "ok"] and skipped == 3
    assert contacts[0]["_attributes"]["n"] == "9" * 5000  # kept as the text it was


def test_one_malformed_import_file_costs_only_itself(tmp_path):
    from pipeline.analytics.importers import import_paths

    cases = {"a": {"Transcript": [SEGMENT], "ConversationCharacteristics": [1, 2]},
             "b": {"Transcript": [{**SEGMENT, "Items": ["x"]}]},
             "c": {"Transcript": [SEGMENT], "CustomerMetadata": {"ContactId": {"a": 1}}},
             "d": {"Transcript": [SEGMENT], "CustomerMetadata": [1]},
             "e": [1, 2], "f": {"results": "x"},
             "g": {"Transcript": [SEGMENT], "CustomerMetadata": {"ContactId": "a\nb/../c"}},
             "ok": {"Transcript": [SEGMENT]}}
    for name, doc in cases.items():
        (tmp_path / f"{name}0001_20261122T09:12_UTC.json").write_text(json.dumps(doc))
    (tmp_path / "nan0001_20261122T09:12_UTC.json").write_text(
        '{"Transcript": [{"BeginOffsetMillis": NaN, "EndOffsetMillis": Infinity, "ParticipantRole": "AGENT", '
        '"Content": "x"}]}')
    (tmp_path / "deep0001_20261122T09:12_UTC.json").write_text("[" * 100_000)
    summary = import_paths(Settings(lake=str(tmp_path / "lake")), [str(tmp_path)])
    assert summary.imported == {"2026-11-22": 1}
    assert sorted(Path(p).name[:-len("0001_20261122T09:12_UTC.json")] for p, _ in summary.failed) == \
        ["a", "b", "c", "d", "deep", "e", "f", "g", "nan"]
    assert any("NaN" in reason for _, reason in summary.failed)


def test_json_output_has_no_nan_or_infinity(tmp_path):
    (tmp_path / "lake").mkdir()
    done = subprocess.run([str(CLI), "query", "--lake", str(tmp_path / "lake"), "--format", "json",
                           "select cast('nan' as double) as a, cast('inf' as double) as b, 1.5 as c"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"a": None, "b": None, "c": 1.5}]


@pytest.mark.parametrize("value", ["inf", "-inf", "1e400", "nan"])
def test_settings_refuse_infinite_numbers(monkeypatch, value):
    monkeypatch.setenv("AFTERCALL_LOCK_WAIT_S", value)
    with pytest.raises(ConfigurationError, match="AFTERCALL_LOCK_WAIT_S"):
        load_settings()


def test_a_commit_that_fails_deriving_its_tables_is_recorded_failed(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: 1\ncategories:\n  - name: Not-Valid\n    conditions: []\n")
    settings = Settings(lake=str(tmp_path / "lake"), categories=str(rules))
    with pytest.raises(ConfigurationError):
        commit_day(settings, DayResult(DEMO_DAY, calls=[{"contact_id": "c1", "duration_s": 10.0}]))
    rows = query("select status, error from runs", tmp_path / "lake")[1]
    assert [r[0] for r in rows] == ["failed"] and "category rules" in rows[0][1]


def test_broken_rules_stop_a_run_before_it_processes_anything(tmp_path, source):
    from pipeline.steps.run import run_day

    rules = tmp_path / "rules.yaml"
    rules.write_text("version: [")
    settings = Settings(source=str(source), lake=str(tmp_path / "lake"), categories=str(rules), transcribe=False)
    with pytest.raises(ConfigurationError, match="category rules"):
        run_day(settings, DEMO_DAY, progress=lambda o: pytest.fail("processed a recording"))


@pytest.mark.parametrize("kind", ["symlink", "fifo", "directory"])
def test_a_lock_path_that_is_not_a_plain_file_is_one_clear_error(tmp_path, kind):
    lake = LocalLake(tmp_path / "lake", lock_wait_s=0)
    lock = tmp_path / "lake" / "_locks" / "dt=2026-11-22.lock"
    lock.parent.mkdir(parents=True)
    {"symlink": lambda: lock.symlink_to(tmp_path / "elsewhere"), "fifo": lambda: os.mkfifo(lock),
     "directory": lambda: lock.mkdir()}[kind]()
    with pytest.raises(LakeError, match=r"lock"):
        lake.write_partition("calls", DEMO_DAY, [{"contact_id": "a"}])
    assert not (tmp_path / "elsewhere").exists()


def test_recategorize_over_years_locks_only_days_with_calls(tmp_path):
    from pipeline.analytics.categories import recategorize

    LocalLake(tmp_path / "lake").write_partition("calls", DEMO_DAY, [{"contact_id": "c1", "duration_s": 10.0}])
    done = recategorize(Settings(lake=str(tmp_path / "lake")), date(2026, 1, 1), date(2028, 12, 31))
    assert list(done) == ["2026-11-22"]
    assert [p.name for p in (tmp_path / "lake" / "_locks").iterdir()] == ["dt=2026-11-22.lock"]


@pytest.mark.parametrize("text", ["[" * 100_000, "{a: " * 50_000, "- " * 100_000 + "x"])
def test_a_deeply_nested_form_is_refused_at_once(tmp_path, text):
    """100 KB of nesting is under the size limit; PyYAML's pure-Python scanner took minutes over it."""
    import time

    from pipeline.analytics.evaluations import load_form
    from pipeline.exceptions import FormError

    form = tmp_path / "deep.yaml"
    form.write_text(text)
    began = time.monotonic()
    with pytest.raises(FormError, match="not valid YAML"):
        load_form(form, check_categories=False)
    assert time.monotonic() - began < 5


@pytest.mark.parametrize(("window", "field"), [("{first_s: .nan}", "first_s"), ("{last_s: .inf}", "last_s"),
                                               ("{from_s: 5, to_s: .inf}", "to_s"), ("{first_pct: .nan}", "first_pct")])
def test_a_form_window_that_is_not_a_finite_number_is_refused(tmp_path, window, field):
    from pipeline.analytics.evaluations import FORMS_DIR, load_form
    from pipeline.exceptions import FormError

    form = tmp_path / "odd.yaml"
    form.write_text((FORMS_DIR / "default.yaml").read_text().replace("window: {first_s: 15}", f"window: {window}", 1))
    with pytest.raises(FormError, match=rf"greeting.*window\.{field}: Input should be a finite number"):
        load_form(form)


@pytest.mark.parametrize("kind", ["directory", "fifo", "dev-zero", "symlink-loop", "deep-json"])
def test_a_lake_zone_file_that_is_not_a_json_file_is_one_clear_error(tmp_path, kind):
    """<lake>/_aftercall.json as a FIFO blocked every run forever; a directory, a loop or deep JSON was an OSError or
    RecursionError, not the 'damaged' message."""
    from pipeline.steps.days import lake_zone

    meta = tmp_path / "_aftercall.json"
    {"directory": meta.mkdir, "fifo": lambda: os.mkfifo(meta), "dev-zero": lambda: meta.symlink_to("/dev/zero"),
     "symlink-loop": lambda: meta.symlink_to(meta), "deep-json": lambda: meta.write_text("[" * 100_000)}[kind]()
    with pytest.raises(ConfigurationError, match=r"_aftercall\.json is damaged"):
        lake_zone(Settings(lake=str(tmp_path)))


@pytest.mark.skipif(not Path("/proc/self/pagemap").exists(), reason="needs Linux /proc")
def test_a_vocabulary_or_form_that_says_0_bytes_but_has_no_end_is_refused():
    """/proc files stat as 0 bytes: the vocabulary was read whole (an OSError on pagemap), now at most the limit."""
    from pipeline.analytics.evaluations import load_form
    from pipeline.exceptions import FormError
    from pipeline.steps.vocabulary import load_vocabulary

    with pytest.raises(ConfigurationError, match=r"AFTERCALL_VOCABULARY /proc/self/pagemap: more than 51200 bytes"):
        load_vocabulary("/proc/self/pagemap")
    with pytest.raises(FormError, match=r"over the 256 KiB"):
        load_form("/proc/self/pagemap", check_categories=False)


def test_an_answer_without_points_reads_as_a_dash_and_a_missing_evidence_turn_links_nowhere(tmp_path):
    """NULL points printed as "None / 10"; an evidence_turn the call does not have (999, -5) must not become a link."""
    from pipeline.presentation.report import write_report
    from tests.hostile import _call, _evaluation, _turn

    lake = LocalLake(tmp_path / "lake")
    lake.write_partitions("2026-11-22", {
        "calls": [_call("c1"), _call("c2")],
        "turns": [_turn("c1", 0, "AGENT", 1.0, 2.0, "hello"), _turn("c2", 0, "AGENT", 1.0, 2.0, "hello")],
        "evaluations": [_evaluation("c1", "default", "greeting", "yes", None, "said hello", 999),
                        {**_evaluation("c2", "default", "greeting", "yes", 10, "said hello", -5), "max_points": None}]})
    html = write_report(str(tmp_path / "lake"), tmp_path / "r.html").path.read_text()
    pages = {cid: html.split(f'id="call-{cid}"', 1)[1].split("</section>", 1)[0] for cid in ("c1", "c2")}
    assert '<td class="num">– / 10</td>' in pages["c1"] and '<td class="num">10 / –</td>' in pages["c2"]
    assert "None" not in pages["c1"] + pages["c2"]
    assert 'class="evidence"' not in pages["c1"] + pages["c2"]


@pytest.mark.parametrize(("old", "new", "key"), [
    ("version: 1\n", "version: 1\nversion: 2\n", "version"),
    ("        weight: 20\n", "        weight: 20\n        weight: 80\n", "weight"),
    ('{id: "no", text: "No", score: 0, when: absent}', '{id: "no", text: "No", score: 0, when: absent, when: present}',
     "when"),
])
def test_a_key_given_twice_in_a_form_is_refused(tmp_path, old, new, key):
    """PyYAML keeps the last of two equal keys without a word: a second weight silently replaced the first."""
    from pipeline.analytics.evaluations import FORMS_DIR, load_form
    from pipeline.exceptions import FormError

    text = (FORMS_DIR / "default.yaml").read_text()
    assert old in text
    form = tmp_path / "twice.yaml"
    form.write_text(text.replace(old, new, 1))
    with pytest.raises(FormError, match=f"found the key '{key}' twice"):
        load_form(form)


def test_evaluate_over_all_of_time_reads_only_the_lakes_days(tmp_path):
    """--from 0001-01-01 --to 9999-12-31 looked at 3.65 million empty days one by one (over a minute of CPU)."""
    import time

    from pipeline.analytics.evaluations import evaluate

    LocalLake(tmp_path / "lake").write_partition("calls", DEMO_DAY, [{"contact_id": "c1", "duration_s": 10.0}])
    began = time.monotonic()
    done = evaluate(Settings(lake=str(tmp_path / "lake")), date(1, 1, 1), date(9999, 12, 31))
    assert list(done) == ["2026-11-22"] and time.monotonic() - began < 20


def test_a_report_of_year_one_or_of_all_time_is_a_page_or_one_clear_error(tmp_path):
    """--from 0001-01-01 was 'ValueError: Invalid isoformat string: 1-01-01' (strftime does not pad the year);
    a range of 3.65 million days would have been as many points on every daily chart."""
    from pipeline.presentation.report import write_report

    LocalLake(tmp_path / "lake").write_partition("calls", DEMO_DAY, [{"contact_id": "c1", "duration_s": 10.0}])
    _, calls = write_report(str(tmp_path / "lake"), tmp_path / "r.html", date(1, 1, 1), date(1, 1, 2))
    assert calls == 0
    with pytest.raises(ConfigurationError, match=r"3,652,059 days \(0001-01-01 to 9999-12-31\); at most 3,660"):
        write_report(str(tmp_path / "lake"), tmp_path / "r.html", date(1, 1, 1), date(9999, 12, 31))


def test_an_export_over_a_maximum_of_connects_model_is_refused():
    """botocore's validator checks only minimums: an instance id of 101 characters passed as a valid request."""
    from pipeline.analytics.evaluation_export import export_form
    from pipeline.analytics.evaluations import FORMS_DIR, load_form
    from pipeline.exceptions import FormError

    form = load_form(FORMS_DIR / "default.yaml")
    assert export_form(form, "x" * 100)["InstanceId"] == "x" * 100
    with pytest.raises(FormError, match="InstanceId, value: 101, valid max length: 100"):
        export_form(form, "x" * 101)


def test_recategorize_over_all_of_time_reads_only_the_lakes_days(tmp_path):
    import time

    from pipeline.analytics.categories import recategorize

    LocalLake(tmp_path / "lake").write_partition("calls", DEMO_DAY, [{"contact_id": "c1", "duration_s": 10.0}])
    began = time.monotonic()
    done = recategorize(Settings(lake=str(tmp_path / "lake")), date(1, 1, 1), date(9999, 12, 31))
    assert list(done) == ["2026-11-22"] and time.monotonic() - began < 20


@pytest.mark.parametrize("kind", ["directory", "fifo", "dev-zero", "symlink-loop", "missing"])
def test_a_form_path_that_is_not_a_file_says_what_it_is(tmp_path, kind):
    from pipeline.analytics.evaluations import resolve_form

    path = tmp_path / "form.yaml"
    {"directory": path.mkdir, "fifo": lambda: os.mkfifo(path), "dev-zero": lambda: path.symlink_to("/dev/zero"),
     "symlink-loop": lambda: path.symlink_to(path), "missing": lambda: None}[kind]()
    expected = "no such file" if kind in ("missing", "symlink-loop") else "not a regular file"
    with pytest.raises(ConfigurationError, match=f"evaluation form {path}: {expected}"):
        resolve_form(str(path))
