"""A hostile day, end to end with the installed CLI and Debian's Chromium, redaction on.

Everything a real night can bring at once: the suite's bad recordings (corrupt, empty, text, cut
headers, mono, 4 channels, too short, a 1 Hz header, an absurd rate, a 2,386-hour FLAC...), a
contact trace record stream with malformed records and markup in the good ones, a card number set
as a contact attribute by a flow, imported outputs whose role is markup or missing, a transcript
full of card numbers, CVVs, expiry dates, PINs and e-mail addresses, and files in the lake that
the lake did not write. Every good call commits; each bad item is quarantined or skipped with a
reason; queries and the report work; no script from data runs; no raw PII reaches the page or
``turns.text``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.aws.transcript_format import render_transcribe
from pipeline.ports import Word
from pipeline.settings import SAMPLES_DIR
from tests.badinput import EXPECTED, write_bad_recordings
from tests.conftest import DAY_DIR
from tests.hostile import payload

pytestmark = pytest.mark.slow

CLI = Path(sys.executable).parent / "aftercall"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DAY = "2026-11-22"
CARD = "4111 1111 1111 1111"
PII_LINES = [  # (participant, text) — what callers say, as Whisper or Transcribe writes it
    ("AGENT", "Thank you for calling, how can I help?"),
    ("CUSTOMER", f"I want to pay with my card, the number is {CARD}."),
    ("AGENT", "And the security code on the back?"),
    ("CUSTOMER", "7, 3, 9."),
    ("AGENT", "When does it expire?"),
    ("CUSTOMER", "It expires 09/27."),
    ("CUSTOMER", "My PIN is 4 4 1 2 by the way."),
    ("CUSTOMER", "Email me at john.smith@example.com or john dot smith at example dot com please."),
    ("CUSTOMER", "My account number? It's in 1, 2, 3, 4, 5."),
    ("CUSTOMER", "4. I'm 6. And 1. 8. 1. 2. 3."),
    ("AGENT", payload("turn_text")),
]
# Raw forms that must appear nowhere: not in turns.text, not on the page.
RAW_PII = [re.compile(p) for p in (r"4111[ -]?1111", r"7, 3, 9", r"09/27", r"4 4 1 2", r"john\.smith@example\.com",
                                   r"john dot smith", r"1, 2, 3, 4, 5", r"1\. 8\. 1\. 2\. 3")]


def _words(lines: list[tuple[str, str]]) -> list[Word]:
    words, t = [], 1.0
    for who, text in lines:
        for token in text.split():
            words.append(Word(who, round(t, 3), round(t + 0.3, 3), token, 0.95))
            t += 0.35
        t += 1.0
    return words


def _ctr_stream(good_ids: list[str]) -> str:
    """Firehose's concatenated JSON: every kind of malformed record, then good ones with hostile values."""
    base = {"AWSContactTraceRecordFormatVersion": "2017-03-10", "Channel": "VOICE",
            "InitiationTimestamp": f"{DAY}T09:00:00Z", "LastUpdateTimestamp": "2099-01-01T00:00:00Z"}
    bad = [
        {**base, "ContactId": None},
        {**base, "ContactId": "x1", "InitiationTimestamp": f"{DAY} 9am"},
        {**base, "ContactId": "x2", "Agent": "bob"},
        {**base, "ContactId": "x3", "Attributes": ["a", "b"]},
        {**base, "ContactId": "x4", "InitiationTimestamp": 1763802000},
        42,
        {**base, "ContactId": "x" * 5000},
    ]
    good = [{**base, "ContactId": cid, "Agent": {"Username": payload("agent_username")},
             "Queue": {"Name": payload("queue_name")},
             "Attributes": {"cardNumber": CARD, "note": payload("attribute_value")}} for cid in good_ids]
    return "".join(json.dumps(r) for r in bad + good)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLI), *args], env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def hostile_day(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("hostile")
    day_dir = root / "source" / DAY_DIR
    day_dir.mkdir(parents=True)
    samples = sorted((SAMPLES_DIR / DAY_DIR).glob("*.wav"))
    for f in samples:
        shutil.copy(f, day_dir / f.name)
    write_bad_recordings(day_dir, samples[0])
    good_ids = sorted(f.name.split("_")[0] for f in samples)
    ctr = root / "ctr" / "2026" / "11" / "22" / "09"
    ctr.mkdir(parents=True)
    (ctr / "stream-hostile").write_text(_ctr_stream(good_ids))
    (ctr / "stream-garbage").write_bytes(b"\xff\xfe{not json at all")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AFTERCALL_", "AWS_"))}
    env.update(AFTERCALL_SOURCE=str(root / "source"), AFTERCALL_LAKE=str(root / "lake"),
               AFTERCALL_CTR_SOURCE=str(root / "ctr"), AFTERCALL_CTR_ATTRIBUTES="cardNumber,note",
               AFTERCALL_REDACT_PII="true", AFTERCALL_TRANSCRIBE="false", AFTERCALL_WORKERS="2")
    run = _cli(env, "run", "--date", DAY)

    imports = root / "imports"
    imports.mkdir()
    (imports / f"pii0001_{DAY.replace('-', '')}T10:00_UTC.json").write_text(
        json.dumps(render_transcribe(_words(PII_LINES), "pii0001")))
    contact_lens = json.loads((Path(__file__).parents[1] / "unit" / "fixtures" /
                               "contact_lens_voice_analysis_example_raw.json").read_text())
    markup_role = json.loads(json.dumps(contact_lens))
    markup_role["Transcript"][0]["ParticipantId"] = payload("participant")
    markup_role["Participants"].append({"ParticipantId": payload("participant"), "ParticipantRole": payload("role")})
    (imports / f"xss0002_{DAY.replace('-', '')}T10:05_UTC.json").write_text(json.dumps(markup_role))
    no_role = json.loads(json.dumps(contact_lens))
    for segment in no_role["Transcript"]:
        segment.pop("ParticipantId", None)
    no_role["Participants"] = []
    (imports / f"norole0003_{DAY.replace('-', '')}T10:06_UTC.json").write_text(json.dumps(no_role))
    imported = _cli(env, "import", "--date", DAY, str(imports))

    lake = root / "lake"  # files the lake did not write, dropped in by hand
    calls = lake / "calls" / f"dt={DAY}"
    committed = json.loads((lake / "_commits" / f"dt={DAY}.json").read_text())["tables"]["calls"]
    shutil.copy(calls / committed, calls / "part-00000 (1).parquet")
    (calls / "junk.parquet").write_bytes(b"")
    (lake / "calls" / "dt=bogus").mkdir()
    shutil.copy(calls / committed, lake / "calls" / "dt=bogus" / "part-00000.parquet")
    report = _cli(env, "report", "--out", str(root / "report.html"))
    return {"env": env, "run": run, "import": imported, "report": report, "root": root, "good_ids": good_ids}


def _query(env: dict[str, str], sql: str) -> list[dict]:
    done = _cli(env, "query", "--format", "json", sql)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def test_every_good_call_commits_and_every_bad_item_has_its_reason(hostile_day):
    env, run = hostile_day["env"], hostile_day["run"]
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    ok = sum(v == "ok" for v in EXPECTED.values())
    calls = _query(env, f"select contact_id from calls where dt = '{DAY}'")
    assert len(calls) == len(hostile_day["good_ids"]) + ok + 1  # the samples, the usable odd files, the import
    failures = {r["recording_uri"].rsplit("/", 1)[-1]: r for r in _query(env, "select * from failures")}
    for name, expected in EXPECTED.items():
        if expected == "ok":
            continue
        stage, word = expected
        assert name in failures and failures[name]["stage"] == stage and word in failures[name]["error"], name
    runs = _query(env, "select status, ctr_skipped, quarantined from runs where status = 'committed'")
    assert runs and runs[0]["ctr_skipped"] >= 7 and runs[0]["quarantined"] == len(failures)
    assert "x" * 5000 not in run.stderr  # skipped records are named by file and position, not content


def test_imports_with_markup_or_missing_roles_are_refused_with_a_reason(hostile_day):
    imported = hostile_day["import"]
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "imported 1 calls" in imported.stdout
    refused = [line for line in imported.stderr.splitlines() if line.startswith("not imported")]
    assert len(refused) == 2 and any("xss0002" in line for line in refused) and any("norole0003" in line
                                                                                   for line in refused)
    assert "Traceback" not in imported.stderr


def test_no_raw_card_cvv_pin_expiry_or_email_in_turns_or_attributes(hostile_day):
    env = hostile_day["env"]
    texts = [r["text"] for r in _query(env, "select text from turns")]
    assert len(texts) == len(PII_LINES)
    joined = "\n".join(texts)
    for pattern in RAW_PII:
        assert not pattern.search(joined), (pattern.pattern, joined)
    for label in ("CREDIT_DEBIT_NUMBER", "CREDIT_DEBIT_CVV", "CREDIT_DEBIT_EXPIRY", "PIN", "EMAIL"):
        assert f"[{label}]" in joined, label
    values = [r["value"] for r in _query(env, "select value from contact_attributes where name = 'cardNumber'")]
    assert len(values) == len(hostile_day["good_ids"]) and not any("4111" in v for v in values)
    assert _query(env, "select count(*) as n from v_call_contacts")[0]["n"] >= len(hostile_day["good_ids"])


def test_foreign_files_in_the_lake_change_no_count(hostile_day):
    env = hostile_day["env"]
    ok = sum(v == "ok" for v in EXPECTED.values())
    assert _query(env, "select count(*) as n from calls")[0]["n"] == len(hostile_day["good_ids"]) + ok + 1
    assert [r["dt"] for r in _query(env, "select distinct dt from calls")] == [DAY]
    summary = _cli(env, "summary")
    assert summary.returncode == 0, summary.stdout + summary.stderr


def test_the_report_runs_no_script_from_data_and_shows_no_raw_pii(hostile_day):
    from playwright.sync_api import sync_playwright

    report = hostile_day["report"]
    assert report.returncode == 0, report.stdout + report.stderr
    page_file = hostile_day["root"] / "report.html"
    html = page_file.read_text()
    for pattern in RAW_PII:
        assert not pattern.search(html), pattern.pattern
    moved = {k: v for k, v in os.environ.items()  # Chromium keeps the real clock (see test_report_chromium)
             if k.startswith(("FAKETIME", "DONT_FAKE")) or (k == "LD_PRELOAD" and "faketime" in v)}
    for key in moved:
        del os.environ[key]
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            dialogs: list[str] = []
            errors: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_file.as_uri())
            page.wait_for_selector("body[data-ready=yes]", state="attached")
            hrefs = page.eval_on_selector_all('#calls-table tbody a[href^="#call-"]', "as => as.map(a => a.hash)")
            assert "#call-pii0001" in hrefs
            shown = []
            for href in dict.fromkeys(hrefs):  # every call's page, as a QA lead opens them
                page.goto(page_file.as_uri() + href)
                page.locator("section.call:target").wait_for()
                shown.append(page.evaluate("document.body.innerText"))
            page.wait_for_timeout(500)  # an <img onerror> would have fired by now
            text = "\n".join(shown)
            assert dialogs == [] and page.evaluate("window.__xss") is None, dialogs
            assert errors == [], errors
            assert "[CREDIT_DEBIT_NUMBER]" in text or "CREDIT_DEBIT_NUMBER" in text
            for pattern in RAW_PII:
                assert not pattern.search(text), pattern.pattern
            browser.close()
    finally:
        os.environ.update(moved)
