"""The report as an analyst uses it: written by the installed CLI, opened in Debian's headless Chromium.

Two transcribed days with an empty day between (real Whisper, CTRs with contact attributes), then
clicks: a category, an agent, a sort, a filter, every call's page. Each section is screenshotted
at 1400 px and at a laptop's 1280 px (kept under ``REPORT_SCREENSHOTS`` when set: AFTERCALL_* variables are cleared for tests) and checked
for what a person would see wrong: labels cut off or overlapping, raw column names, tall KPI cards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.adapters.duckdb_engine import query
from pipeline.settings import SAMPLES_DIR
from tests.conftest import DAY_DIR

pytestmark = pytest.mark.slow
CLI = Path(sys.executable).parent / "aftercall"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"  # make test installs Debian's chromium
WIDTHS = (1400, 1280)
ATTRIBUTES = "intent,customerTier"

# Every <text> inside its <svg>'s box, no two x-axis labels of a chart overlapping, nothing wider than the window.
LAYOUT_PROBLEMS = """(section) => {
  const problems = [];
  for (const svg of section.querySelectorAll('svg')) {
    if (!svg.getClientRects().length) continue;
    const box = svg.getBoundingClientRect();
    const texts = [...svg.querySelectorAll('text')].map((t) => [t, t.getBoundingClientRect()]);
    for (const [t, r] of texts) {
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1)
        problems.push('cut off: ' + t.textContent);
    }
    const ticks = texts.filter(([t]) => t.getAttribute('text-anchor') === 'middle').map(([, r]) => r);
    for (let i = 0; i < ticks.length; i++) for (let j = i + 1; j < ticks.length; j++) {
      const a = ticks[i], b = ticks[j];
      if (Math.abs(a.top - b.top) < 2 && a.left < b.right - 1 && b.left < a.right - 1) problems.push('overlap');
    }
  }
  if (document.documentElement.scrollWidth > window.innerWidth + 1) problems.push('page wider than the window');
  for (const box of section.querySelectorAll('.card, .scroll, .kpis, .filters'))
    if (box.scrollWidth > box.clientWidth + 1) problems.push('wider than its box: ' + (box.querySelector('h3, th') || box).textContent.slice(0, 40));
  for (const el of section.querySelectorAll('.legend, h3, th, .kpi-title, .facts dt'))
    if (/\\w_\\w/.test(el.textContent) && !el.closest('[data-attr]')) problems.push('raw name: ' + el.textContent);
  for (const kpi of section.querySelectorAll('.kpi'))
    if (kpi.getBoundingClientRect().height > 90) problems.push('tall KPI card');
  return problems;
}"""


@pytest.fixture(scope="module")
def lake_days(tmp_path_factory) -> tuple[Path, Path]:
    """The sample day on the 22nd and the same calls (other contact ids, no CTRs) on the 24th; the 23rd empty."""
    root = tmp_path_factory.mktemp("report")
    source = root / "source"
    shutil.copytree(SAMPLES_DIR / DAY_DIR, source / DAY_DIR)
    later = source / DAY_DIR.parent / "24"
    later.mkdir()
    for wav in (source / DAY_DIR).glob("*.wav"):
        shutil.copy(wav, later / ("9" + wav.name[1:].replace("_20261122T", "_20261124T")))
    env = {**os.environ, "AFTERCALL_SOURCE": str(source), "AFTERCALL_LAKE": str(root / "lake"),
           "AFTERCALL_CTR_SOURCE": str(SAMPLES_DIR / "ctr"), "AFTERCALL_CTR_ATTRIBUTES": ATTRIBUTES}
    for day in ("2026-11-22", "2026-11-24"):
        subprocess.run([str(CLI), "run", "--date", day], env=env, check=True, capture_output=True, timeout=600)
    pages = []
    for name, extra in (("report.html", []), ("one-day.html", ["--from", "2026-11-22", "--to", "2026-11-22"])):
        done = subprocess.run([str(CLI), "report", "--out", str(root / name), *extra], env=env, check=True,
                              capture_output=True, text=True, timeout=300)
        assert str(root / name) in done.stdout.replace("\n", "")
        pages.append(root / name)
    return root / "lake", *pages


@pytest.fixture(scope="module")
def browser():
    """Chromium and Playwright's driver keep the real clock: under ``faketime make test``'s libfaketime Chromium
    crawls (minutes a page), and nothing in the page reads the date; the report itself is written under the moved clock."""
    from playwright.sync_api import sync_playwright

    moved = {k: v for k, v in os.environ.items()
             if k.startswith(("FAKETIME", "DONT_FAKE")) or (k == "LD_PRELOAD" and "faketime" in v)}
    for key in moved:
        del os.environ[key]
    try:
        p = sync_playwright().start()
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
    finally:
        os.environ.update(moved)
    yield chromium
    chromium.close()
    p.stop()


def open_page(browser, path: Path, width: int = 1400, fragment: str = ""):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.errors = []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(path.as_uri() + fragment)
    page.wait_for_selector("body[data-ready=yes]", state="attached")
    return page


def shots_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("REPORT_SCREENSHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def routed(page, name: str, value: str) -> None:
    """Until the page's script has followed a ``#calls?name=value`` link (hashchange fires after the click returns)."""
    page.wait_for_function("([n, v]) => document.querySelector(`select[data-filter=${n}]`).value === v", arg=[name, value])


def visible_calls(page) -> list[str]:
    return page.eval_on_selector_all("#calls-table tbody tr:not([hidden])", "rows => rows.map(r => r.dataset.call)")


def test_a_broken_page_would_be_seen(browser, tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body data-ready=yes><script>undefinedFunction()</script></body></html>")
    assert open_page(browser, broken).errors


def test_the_layout_check_sees_what_a_person_would(browser, tmp_path):
    """A label past its chart's edge, two overlapping day labels, a raw column name and a tall KPI card."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<html><body data-ready=yes><main><section class="sheet" id="s"><div class="card"><h3>agent_talk_ratio</h3>'
        '<svg viewBox="0 0 200 50" width="200"><text x="190" y="20">2026-11-</text>'
        '<text x="50" y="45" text-anchor="middle">22 Nov</text><text x="60" y="45" text-anchor="middle">23 Nov</text>'
        '</svg></div><div class="kpi" style="height:200px">8</div></section></main></body></html>')
    problems = open_page(browser, bad).query_selector("section").evaluate(LAYOUT_PROBLEMS)
    assert {p.split(":")[0] for p in problems} == {"cut off", "overlap", "raw name", "tall KPI card"}, problems


@pytest.mark.parametrize("width", WIDTHS)
def test_every_section_reads_right_at_desktop_and_laptop_width(browser, lake_days, tmp_path, width):
    _, report, one_day = lake_days
    assert "http://" not in report.read_text() and "https://" not in report.read_text()  # self-contained
    folder = shots_dir(tmp_path)
    for name, path in (("days", report), ("one-day", one_day)):
        page = open_page(browser, path, width)
        assert "first day" not in page.inner_text("header")
        for section in page.query_selector_all("main > section.sheet"):
            sid = section.get_attribute("id")
            assert section.evaluate(LAYOUT_PROBLEMS) == [], f"{name} {sid} at {width} px"
            shot = folder / f"{name}-{width}-{sid}.png"
            section.screenshot(path=str(shot))
            assert shot.stat().st_size > 5_000
        first_call = page.get_attribute("section.call", "id")
        page.goto(path.as_uri() + f"#{first_call}")
        call = page.query_selector(f"#{first_call}")
        assert call.is_visible() and not page.is_visible("#overview")
        assert call.evaluate(LAYOUT_PROBLEMS) == [], f"{name} call page at {width} px"
        call.screenshot(path=str(folder / f"{name}-{width}-call.png"))
        assert page.errors == []
    assert page.inner_text("header").startswith("aftercall")


def test_header_names_the_days_and_charts_fill_the_empty_day(browser, lake_days):
    _, report, one_day = lake_days
    page = open_page(browser, report)
    assert "22 Nov 2026 – 24 Nov 2026 · 3 days · 8 calls" in page.inner_text("header")
    titles = page.eval_on_selector_all("#overview svg.chart.line title", "ts => ts.map(t => t.textContent)")
    assert "Calls, 23 Nov: 0" in titles
    page = open_page(browser, one_day)
    assert "22 Nov 2026 · 1 day · 4 calls" in page.inner_text("header")
    assert page.locator("#overview svg.chart.strip").count() == 2 and page.locator("svg.chart.line").count() == 0


def test_every_call_opens_from_the_table_with_its_transcript_and_timeline(browser, lake_days):
    lake, report, _ = lake_days
    _, turns = query("select contact_id, count(*) from turns group by contact_id", lake)
    _, calls = query("select contact_id from calls", lake)
    assert len(calls) == 8 and len(turns) == 8
    page = open_page(browser, report)
    for contact_id, count in turns:
        page.goto(report.as_uri() + "#calls")
        page.click(f'#calls-table tr[data-call="{contact_id}"] a[href="#call-{contact_id}"]')
        call = page.locator(f"#call-{contact_id}")
        assert call.is_visible()
        assert call.locator("li.turn").count() == count
        assert call.locator("svg.timeline rect.talk").count() == count
        assert call.locator("svg.quarters rect").count() >= 1
        call.locator("text=← All calls").click()
        assert page.is_visible("#calls-table")
    assert page.errors == []


def test_a_category_and_an_agent_lead_to_their_calls(browser, lake_days):
    lake, report, _ = lake_days
    page = open_page(browser, report)
    _, rows = query("select category, count(distinct contact_id) from call_categories group by category", lake)
    category, expected = max(rows, key=lambda r: r[1])
    page.click(f'#categories a.filter-link:has(text:text-is("{category}"))')
    routed(page, "category", category)
    shown = visible_calls(page)
    assert len(shown) == expected and page.input_value('select[data-filter="category"]') == category
    page.goto(report.as_uri() + f"#call-{shown[0]}")
    assert page.locator(f"#call-{shown[0]} ul.matches").inner_text().count(category) == 1
    assert "first at" in page.locator(f"#call-{shown[0]} ul.matches").inner_text()

    page.goto(report.as_uri() + "#agents")
    page.click('#agents table a.filter-link:text-is("sarah.k")')
    routed(page, "agent", "sarah.k")
    _, sarah = query("select contact_id from v_call_contacts where agent_username = 'sarah.k'", lake)
    assert sorted(visible_calls(page)) == sorted(c for (c,) in sarah) and len(sarah) == 2
    assert page.inner_text("[data-count]") == "2 of 8 calls"

    page.click("[data-clear]")
    page.select_option('label:has-text("Intent") select', "outage")
    _, outage = query("select contact_id from contact_attributes where name = 'intent' and value = 'outage'", lake)
    assert visible_calls(page) == [c for (c,) in outage]
    page.click("[data-clear]")
    page.select_option('select[data-filter="outcome"]', "happier")
    _, happier = query("select contact_id from v_call_contacts where customer_ended_happier", lake)
    assert sorted(visible_calls(page)) == sorted(c for (c,) in happier)


def test_sorting_the_calls_by_duration(browser, lake_days):
    lake, report, _ = lake_days
    page = open_page(browser, report, fragment="#calls")
    page.click('#calls-table th:text-is("Duration")')
    _, rows = query("select contact_id, duration_s from calls order by duration_s, contact_id", lake)
    order = visible_calls(page)
    durations = dict(rows)
    assert [durations[c] for c in order] == sorted(durations.values())
    page.click('#calls-table th:text-is("Duration")')
    assert [durations[c] for c in visible_calls(page)] == sorted(durations.values(), reverse=True)


def test_hostile_values_in_every_text_column_read_as_text_and_run_nothing(browser, tmp_path):
    """Stored XSS: markup in agent, queue, attribute names and values, categories, turn text and participant
    (a Contact Lens file's ParticipantRole), contact id, language and transcriber never runs on the page."""
    from tests.hostile import GOOD_ID, PAYLOADS, write_hostile_lake

    lake = write_hostile_lake(tmp_path / "lake")
    out = tmp_path / "hostile.html"
    done = subprocess.run([str(CLI), "report", "--lake", str(lake), "--out", str(out)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    dialogs: list[str] = []
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(out.as_uri())
    page.wait_for_selector("body[data-ready=yes]", state="attached")
    bad = PAYLOADS["contact_id"]

    def nothing_ran() -> None:
        page.wait_for_timeout(300)  # an onerror of an <img src=x> fires once the load fails
        assert dialogs == [] and page.evaluate("window.__xss") is None, (dialogs, page.evaluate("window.__xss"))
        assert page.evaluate("""() => [...document.querySelectorAll('*')].flatMap((el) =>
            [...el.attributes].filter((a) => a.name.startsWith('on')).map((a) => el.tagName + ' ' + a.name))""") == []
        assert page.evaluate("document.querySelectorAll('script').length") == 1  # the report's own
        assert page.evaluate("document.querySelectorAll('img, iframe, object, embed').length") == 0
        assert page.errors == []

    nothing_ran()
    text = page.evaluate("document.body.textContent")
    for column in ("contact_id", "agent_username", "queue_name", "attribute_value", "category", "turn_text",
                   "participant", "language_code", "transcriber", "form_title", "question_text", "option_text", "form",
                   "answer", "evidence"):
        assert PAYLOADS[column] in text, column  # the whole string, as text
    assert "onerror=" in page.inner_text("#calls-table thead")  # the attribute's name is a column label
    # An analyst's clicks with those values: the agent's filter link, then the call's page and a turn.
    page.locator("#calls-table a.filter-link", has_text="agent_username").first.click()
    routed(page, "agent", PAYLOADS["agent_username"])
    assert visible_calls(page) == [bad]
    page.locator('#calls-table tbody tr:not([hidden]) a[href^="#call-"]').first.click()
    call = page.locator("section.call:target")
    call.wait_for()
    shown = call.inner_text()
    assert PAYLOADS["turn_text"] in shown and PAYLOADS["participant"] in shown and "Unknown speaker" in shown
    call.locator("[data-turn]").first.click()
    nothing_ran()
    call.locator("a.evidence", has_text="evidence").click()  # the hostile evidence, a link to its turn
    page.wait_for_function("id => document.getElementById(id).classList.contains('flash')", arg=f"{bad}-t0")
    nothing_ran()
    # from the hostile agent's score in the Quality section to exactly that agent's calls
    page.goto(out.as_uri() + "#quality")
    ranking = page.locator(".card[data-form=hostile] table.ranking tbody tr")
    assert ranking.evaluate_all("rows => rows.map(r => r.dataset.agent)") == ["sarah.k", PAYLOADS["agent_username"]]
    ranking.filter(has_text=PAYLOADS["agent_username"]).locator("a.score").click()
    routed(page, "agent", PAYLOADS["agent_username"])
    assert visible_calls(page) == [bad]
    nothing_ran()



# --- issue 23: the sentiment outcome, the recording, no contact record, CSV export ---

QA_DAY = "2026-11-25"


@pytest.fixture(scope="module")
def qa_report(lake_days, tmp_path_factory) -> tuple[Path, Path]:
    """The two transcribed days plus the QA lead's calls on the 25th: two that improve but end negative
    (-4.1 -> -3.2 asking for a manager, -3.4 -> -2.3 cancelling) and one that ended happier, none with a contact
    trace record but one whose agent name a spreadsheet would run as a formula."""
    from datetime import datetime

    from pipeline.lake.tables import LocalLake

    lake, report, _ = lake_days
    root = tmp_path_factory.mktemp("qa")
    shutil.copytree(lake, root / "lake")

    def call(cid, hour, start, end):
        return dict(contact_id=cid, recording_uri=f"/x/{cid}.wav", call_started_at=datetime(2026, 11, 25, hour),
                    duration_s=120.0, sample_rate_hz=8000, agent_channel=1, agent_talk_s=50.0, customer_talk_s=50.0,
                    non_talk_s=5.0, overlap_s=0.0, agent_interruptions=0, customer_interruptions=0,
                    customer_sentiment_start=start, customer_sentiment_end=end,
                    customer_sentiment_shift=round(end - start, 3), transcriber="t", language_code="en-US",
                    processed_at=datetime(2026, 11, 26), pipeline_version="t")

    LocalLake(root / "lake").write_partitions(QA_DAY, {
        "calls": [call("qa-manager", 9, -4.1, -3.2), call("qa-cancel", 10, -3.4, -2.3), call("qa-happy", 11, -1.5, 0.4)],
        "turns": [], "failures": [], "turns_raw": [], "call_categories": [], "contact_attributes": [],
        "contacts": [dict(contact_id="qa-manager", agent_username="=HYPERLINK(\"http://x\")", queue_name="+Billing"),
                     dict(contact_id="qa-cancel", agent_username="mike.t", queue_name="Retention")]})
    env = {**os.environ, "AFTERCALL_LAKE": str(root / "lake"), "AFTERCALL_CTR_ATTRIBUTES": ATTRIBUTES}
    subprocess.run([str(CLI), "recategorize", "--from", "2026-11-22", "--to", QA_DAY], env=env, check=True,
                   capture_output=True, timeout=300)
    out = root / "qa.html"
    subprocess.run([str(CLI), "report", "--out", str(out)], env=env, check=True, capture_output=True, timeout=300)
    return root / "lake", out


def test_each_call_plays_its_own_recording(browser, lake_days):
    """The play link and the player point at the file the call was made from; Chromium reads its length."""
    from urllib.parse import unquote, urlparse

    lake, report, _ = lake_days
    _, calls = query("select contact_id, recording_uri, duration_s from calls", lake)
    page = open_page(browser, report)
    for contact_id, uri, duration in calls:
        page.goto(report.as_uri() + f"#call-{contact_id}")
        link = page.locator(f"#call-{contact_id} a.play[data-recording]")
        assert link.is_visible() and link.inner_text() == "Play the recording"
        href = link.evaluate("a => a.href")  # resolved against the report's location
        assert Path(unquote(urlparse(href).path)) == Path(uri) and Path(uri).is_file()
        audio = page.locator(f"#call-{contact_id} audio")
        assert audio.evaluate("a => a.src") == href
    audio.evaluate("a => a.load()")
    page.wait_for_function("a => a.readyState >= 1", arg=audio.element_handle(), timeout=20_000)
    assert abs(audio.evaluate("a => a.duration") - duration) < 0.5
    assert page.errors == []


def test_the_ended_negative_filter_kpi_and_colours_agree_with_the_view(browser, qa_report):
    lake, out = qa_report
    _, negative = query("select contact_id from v_call_contacts where customer_ended = 'NEGATIVE'", lake)
    _, flagged = query("select contact_id from call_categories where category = 'customer_ends_negative'", lake)
    _, (counts,) = query("select sum(calls_ended_negative), sum(calls_with_sentiment), sum(calls_ended_happier) "
                         "from v_sentiment_daily", lake)
    assert sorted(negative) == sorted(flagged) == [("qa-cancel",), ("qa-manager",)]
    page = open_page(browser, out, fragment="#calls")
    page.select_option('select[data-filter="outcome"]', "ended-negative")
    assert sorted(visible_calls(page)) == ["qa-cancel", "qa-manager"]
    assert page.inner_text("[data-count]") == f"2 of {counts[1]} calls"
    colours = page.eval_on_selector_all("#calls-table tbody tr:not([hidden]) .outcome",
                                        "els => els.map(e => [e.className, getComputedStyle(e).color])")
    assert colours == [["outcome ended-negative", "rgb(185, 28, 28)"]] * 2  # red, never the green of "happier"
    page.select_option('select[data-filter="outcome"]', "happier")
    assert "qa-happy" in visible_calls(page) and not {"qa-cancel", "qa-manager"} & set(visible_calls(page))
    assert len(visible_calls(page)) == counts[2]
    page.goto(out.as_uri() + "#sentiment")
    assert page.inner_text('.kpi-value[aria-label="Customers who ended negative"]') == f"2 of {counts[1]}"
    assert page.inner_text('.kpi-value[aria-label="Customers who ended happier"]') == f"{counts[2]} of {counts[1]}"
    page.goto(out.as_uri() + "#call-qa-manager")
    assert "ended negative, flat" in page.inner_text("#call-qa-manager .kpis")
    assert page.errors == []


def test_a_call_without_contact_record_says_so_and_filters_as_such(browser, lake_days):
    lake, report, _ = lake_days
    _, missing = query("select contact_id from v_call_contacts where not has_contact_record", lake)
    assert len(missing) == 5  # the 24th's four calls and one of the 22nd's have no contact trace record
    page = open_page(browser, report, fragment="#calls")
    assert "unknown" not in page.inner_text("body").lower()
    cells = [page.inner_text(f'#calls-table tr[data-call="{c}"] a.filter-link.none >> nth=0') for (c,) in missing]
    assert cells == ["no contact record"] * len(missing)
    page.select_option('select[data-filter="agent"]', label="no contact record")
    assert sorted(visible_calls(page)) == sorted(c for (c,) in missing)
    page.goto(report.as_uri() + f"#call-{missing[0][0]}")
    assert "Agent\nno contact record" in page.inner_text(f"#call-{missing[0][0]} .facts")
    page.goto(report.as_uri() + "#agents")
    assert "no contact record" in page.inner_text("#agents")
    assert page.errors == []


def test_csv_export_is_the_filtered_table_with_formulas_defused(browser, qa_report):
    import csv
    import io

    lake, out = qa_report
    page = open_page(browser, out, fragment="#calls")

    def export() -> list[list[str]]:
        with page.expect_download() as download:
            page.click("[data-csv-export]")
        text = Path(download.value.path()).read_text(encoding="utf-8")
        assert text.startswith("\ufeff")  # spreadsheets read it as UTF-8
        return list(csv.reader(io.StringIO(text[1:])))

    everything = export()
    header, rows = everything[0], everything[1:]
    assert [r[header.index("contact_id")] for r in rows] == visible_calls(page) and len(rows) == 11
    page.select_option('select[data-filter="outcome"]', "ended-negative")
    page.click('#calls-table th:text-is("Duration")')  # sorted: the export keeps the table's order
    header, *rows = export()
    exported = [r[header.index("contact_id")] for r in rows]
    assert exported == visible_calls(page) and sorted(exported) == ["qa-cancel", "qa-manager"]
    assert [r[header.index("customer_ended")] for r in rows] == ["NEGATIVE", "NEGATIVE"]
    names, view = query("select * from v_call_contacts where contact_id in ('qa-cancel', 'qa-manager')", lake)
    by_id = {r[names.index("contact_id")]: dict(zip(names, r, strict=True)) for r in view}
    for row in rows:
        got = dict(zip(header, row, strict=True))
        want = by_id[got["contact_id"]]
        assert float(got["customer_sentiment_end"]) == want["customer_sentiment_end"]
        assert got["customer_sentiment_start"].startswith("-")  # a number, not prefixed
        assert got["dt"] == QA_DAY and got["categories"] == want["categories"]
    manager = next(dict(zip(header, r, strict=True)) for r in rows if r[header.index("contact_id")] == "qa-manager")
    assert manager["agent_username"] == "'=HYPERLINK(\"http://x\")" and manager["queue_name"] == "'+Billing"
    cancel = next(dict(zip(header, r, strict=True)) for r in rows if r[header.index("contact_id")] == "qa-cancel")
    assert cancel["agent_username"] == "mike.t"
    assert page.errors == []


# --- issue 23 part 3: the Quality section and each call's evaluation form ---

def test_an_agents_evaluation_score_leads_to_exactly_that_agents_calls(browser, lake_days, tmp_path):
    """The Quality section ranks agents by the view's scores; a click on a score filters the calls table to that
    agent's calls, the same the lake names."""
    lake, report, _ = lake_days
    page = open_page(browser, report, fragment="#quality")
    _, scores = query("select agent_username, avg(score_pct), count(*) from v_evaluation_scores "
                      "where form = 'default' group by agent_username order by avg(score_pct) desc, agent_username",
                      lake)
    ranking = page.locator('#quality .card[data-form="default"] table.ranking tbody tr')
    shown = ranking.evaluate_all("rows => rows.map(r => [r.dataset.agent, r.cells[2].innerText, r.cells[3].innerText])")
    assert shown == [[agent, f"{avg:.1f} %", str(n)] for agent, avg, n in scores]
    assert page.locator("#quality").evaluate(LAYOUT_PROBLEMS) == []
    page.locator("#quality").screenshot(path=str(shots_dir(tmp_path) / "quality.png"))
    for agent, _, _ in scores:
        page.goto(report.as_uri() + "#quality")
        page.locator(f'#quality .card[data-form="default"] tr[data-agent="{agent}"] a.score').click()
        routed(page, "agent", agent)
        _, own = query(f"select contact_id from v_call_contacts where agent_username = '{agent}'", lake)
        assert sorted(visible_calls(page)) == sorted(c for (c,) in own) and own, agent
        assert page.is_visible("#calls-table")
    assert page.errors == []


def test_an_answer_leads_to_its_evidence_turn(browser, lake_days):
    """Each answer with evidence in a turn links to that turn in the call's transcript: a click brings the turn the
    lake names into view on the same page (flashed); metric answers show the metric's name and value."""
    lake, report, _ = lake_days
    _, evidence = query("select contact_id, question_id, evidence_turn from evaluations where form = 'default' "
                        "and evidence_turn is not null order by contact_id, question_id", lake)
    assert len(evidence) >= 4  # every sample call's greeting at least
    page = open_page(browser, report)
    for cid, question, turn in evidence:
        page.goto(report.as_uri() + f"#call-{cid}")
        call = page.locator(f"#call-{cid}")
        card = call.locator('.evaluation[data-form="default"]')
        assert card.locator("[data-score]").is_visible()
        page.evaluate("window.scrollTo(0, 0)")
        target = page.locator(f'[id="{cid}-t{turn}"]')
        in_view = "t => { const r = t.getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight; }"
        assert not target.evaluate(in_view)  # below the form, the charts and the timeline until the click
        link = card.locator(f'tr[data-question="{question}"] a.evidence')
        assert link.get_attribute("data-turn") == f"{cid}-t{turn}"
        link.click()
        page.wait_for_function("id => document.getElementById(id).classList.contains('flash')", arg=f"{cid}-t{turn}")
        assert target.evaluate(in_view), (cid, question, turn)
        assert call.is_visible() and page.url.endswith(f"#call-{cid}")
    _, metric = query("select contact_id, evidence from evaluations where form = 'default' and "
                      "question_id = 'talk_speed' and value is not null limit 1", lake)
    cid, said = metric[0]
    page.goto(report.as_uri() + f"#call-{cid}")
    row = page.locator(f'#call-{cid} .evaluation tr[data-question="talk_speed"]')
    assert said.startswith("agent_wpm = ") and said in row.inner_text() and row.locator("a.evidence").count() == 0
    assert page.errors == []


# --- issue 24 part 2: the calls table's search box over the listed calls' transcripts ---

def test_the_search_box_shows_the_calls_aftercall_search_finds(browser, lake_days):
    """Typing words keeps exactly the calls whose turns say them (whole words, any case and punctuation), as
    the installed `aftercall search` finds them over the same days; the filters still apply on top."""
    import json

    lake, report, _ = lake_days
    page = open_page(browser, report, fragment="#calls")
    listed = set(visible_calls(page))

    def searched(phrase: str, *args: str) -> set[str]:
        done = subprocess.run([str(CLI), "search", phrase, "--lake", str(lake), "--format", "json", *args],
                              capture_output=True, text=True, timeout=120, check=True)
        return {r["contact_id"] for r in json.loads(done.stdout)} & listed

    for typed in ("Thank you!", "THANK-you", "cancel", "account", "nothing anybody said xyzzy"):
        page.fill("input[data-search]", typed)
        assert set(visible_calls(page)) == searched(typed), typed
        assert page.inner_text("[data-count]").startswith(f"{len(visible_calls(page))} of {len(listed)}")
    page.fill("input[data-search]", "thank you")
    assert searched("thank you")  # the sample calls thank their callers: the comparison is not of empty sets
    page.select_option('select[data-filter="dt"]', "2026-11-24")
    assert set(visible_calls(page)) == searched("thank you", "--from", "2026-11-24", "--to", "2026-11-24")
    page.click("[data-clear]")
    assert page.input_value("input[data-search]") == "" and set(visible_calls(page)) == listed
    page.fill("input[data-search]", "<img src=x onerror=alert(1)>")  # typed text is a phrase, never markup
    assert visible_calls(page) == [] and page.errors == []
