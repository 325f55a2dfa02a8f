"""The report's HTML over a small hand-made lake: calls, call pages, links, charts that read right."""

from __future__ import annotations

import re
from datetime import date, datetime
from html.parser import HTMLParser
from urllib.parse import quote

import pytest

from pipeline.lake.tables import LocalLake
from pipeline.presentation.report import write_report
from pipeline.presentation.report.calls import _quote
from pipeline.presentation.report.charts import fmt, nice_ticks


def _call(cid, day, **kw):
    row = dict(contact_id=cid, recording_uri=f"/x/{cid}.wav", call_started_at=datetime.fromisoformat(f"{day}T09:30"),
               duration_s=100.0, sample_rate_hz=8000, agent_channel=1, agent_talk_s=40.0, customer_talk_s=30.0,
               non_talk_s=10.0, overlap_s=2.0, agent_interruptions=1, customer_interruptions=0,
               customer_sentiment_start=-1.0, customer_sentiment_end=2.0, customer_sentiment_shift=3.0,
               customer_sentiment_q1=-1.0, customer_sentiment_q2=0.5, customer_sentiment_q3=1.0, customer_sentiment_q4=2.0,
               transcriber="t", processed_at=datetime(2026, 11, 25), pipeline_version="t")
    row.update(kw)
    return row


def _turn(cid, i, who, begin, end, text, sentiment="NEUTRAL", cut=False):
    return dict(contact_id=cid, turn_index=i, participant=who, begin_s=begin, end_s=end, text=text,
                word_count=len(text.split()), confidence=0.9, sentiment=sentiment,
                sentiment_positive=0.8 if sentiment == "POSITIVE" else 0.0,
                sentiment_negative=0.7 if sentiment == "NEGATIVE" else 0.0, sentiment_neutral=0.2,
                sentiment_mixed=0.0, loudness=50.0, is_interruption=cut)


@pytest.fixture
def lake(tmp_path):
    """Two days with an empty day between; an agent name and a category that need escaping."""
    lake = LocalLake(tmp_path / "lake")
    lake.write_partition("calls", "2026-11-22", [
        _call("a1", "2026-11-22"),
        _call("a2", "2026-11-22", duration_s=200.0, agent_interruptions=1, customer_interruptions=1,
              customer_sentiment_start=2.0, customer_sentiment_end=-1.0, customer_sentiment_shift=-3.0),
    ])
    lake.write_partition("calls", "2026-11-24", [_call("b1", "2026-11-24", duration_s=60.0)])
    lake.write_partition("contacts", "2026-11-22", [
        dict(contact_id="a1", agent_username='o"brien<&>', queue_name="Billing"),
        dict(contact_id="a2", agent_username="sarah.k", queue_name="Billing")])
    lake.write_partition("contact_attributes", "2026-11-22", [
        dict(contact_id="a1", name="intent", value="cancel"), dict(contact_id="a2", name="intent", value="upgrade")])
    lake.write_partition("turns", "2026-11-22", [
        _turn("a1", 0, "AGENT", 1.0, 4.0, "Thank you for calling, how can I help?", "POSITIVE"),
        _turn("a1", 1, "CUSTOMER", 3.5, 9.0, "My number is [PHONE] and I want to cancel.", "NEGATIVE", cut=True),
        _turn("a1", 2, "AGENT", 15.0, 20.0, "I am sorry to hear that."),
    ])
    lake.write_partition("call_categories", "2026-11-22", [
        dict(contact_id="a1", category="churn & risk", first_match_s=5.0, match_count=2, rules_version=1)])
    return tmp_path / "lake"


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if "href" in a:
            self.hrefs.append(a["href"])


def _page(lake, tmp_path, start=None, end=None, attributes="intent"):
    return write_report(str(lake), tmp_path / "r.html", start, end, attributes).path.read_text()


def test_every_call_has_a_page_with_its_transcript_reachable_from_the_table(lake, tmp_path):
    html = _page(lake, tmp_path)
    parsed = _Ids()
    parsed.feed(html)
    for cid in ("a1", "a2", "b1"):
        assert f"call-{cid}" in parsed.ids
        assert f"#call-{cid}" in parsed.hrefs
    page = html.split('id="call-a1"', 1)[1].split("</section>", 1)[0]
    assert page.count('<li class="turn') == 3
    assert '<span class="pii" title="redacted phone">PHONE</span>' in page  # redacted PII shown as a tag
    assert page.count("cuts in</span>") == 1
    assert 'class="turn customer neg"' in page and 'class="turn agent pos"' in page
    assert "3.5" not in page.split('<ol class="transcript">')[1].split("</li>")[1][:40]  # times as m:ss
    assert "0:04–0:09" in page
    assert 'class="overlap"' in page and 'class="silence"' in page  # 3.5-4.0 both talk; 9-15 s silent
    assert "first at" in page and 'data-turn="a1-t1"' in page  # the category points at the turn it matched
    calls_without_turns = html.split('id="call-b1"', 1)[1].split("</section>", 1)[0]
    assert "No transcript for this call" in calls_without_turns


def test_categories_agents_and_queues_link_to_their_calls_escaped(lake, tmp_path):
    html = _page(lake, tmp_path)
    parsed = _Ids()
    parsed.feed(html)
    assert "#calls?category=churn%20%26%20risk" in parsed.hrefs
    assert "#calls?agent=o%22brien%3C%26%3E" in parsed.hrefs
    assert "#calls?queue=Billing" in parsed.hrefs
    assert '<brien' not in html and 'o&quot;brien&lt;&amp;&gt;' in html
    row = re.search(r'<tr data-call="a1"[^>]*>', html)[0]
    assert 'data-category="|churn &amp; risk|"' in row and 'data-outcome="|ended-positive|rose|happier|"' in row
    assert 'data-attr-0="cancel"' in row
    assert '<label>Intent<select data-filter="attr-0">' in html and '<option value="upgrade">' in html


def test_without_named_attributes_the_common_ones_show_with_readable_labels(lake, tmp_path):
    html = _page(lake, tmp_path, attributes="")
    assert '<label>Intent<select data-filter="attr-0">' in html
    lake_attrs = LocalLake(lake)
    lake_attrs.write_partition("contact_attributes", "2026-11-24", [dict(contact_id="b1", name="customerTier", value="gold")])
    html = _page(lake, tmp_path, attributes="customerTier")
    assert '<label>Customer tier<select data-filter="attr-0">' in html and "Intent" not in html


def test_a_category_says_what_it_means_and_quotes_end_at_a_word(lake, tmp_path):
    LocalLake(lake).write_partition("call_categories", "2026-11-24", [
        dict(contact_id="b1", category="churn_risk", first_match_s=0.0, match_count=1, rules_version=1)])
    html = _page(lake, tmp_path)
    page = html.split('id="call-b1"', 1)[1].split("</section>", 1)[0]
    assert '<div class="meaning">The customer talks about leaving.</div>' in page  # from categories/rules.yaml
    assert "(click for its calls)" in html.split("<h3>Calls per category</h3>", 1)[1]
    assert _quote("This is terrible service and I am very angry", 20) == "This is terrible…"
    assert _quote("short", 20) == "short"


def test_header_has_the_real_dates_and_an_empty_day_counts_zero_calls(lake, tmp_path):
    html = _page(lake, tmp_path)
    assert "22 Nov 2026 – 24 Nov 2026 · 3 days · 3 calls" in html
    assert "first day" not in html
    calls_per_day = html.split("<h3>Calls per day</h3>", 1)[1].split("</div>", 1)[0]
    assert re.findall(r"<title>Calls, (\d+ Nov): (\d+)</title>", calls_per_day) == [
        ("22 Nov", "2"), ("23 Nov", "0"), ("24 Nov", "1")]
    talk = html.split("<h3>Talk and silence (share of call time)</h3>", 1)[1].split("</div>", 1)[0]
    assert "23 Nov:" not in talk  # a day without calls has no silence share: a gap, not 0 %
    assert "Agent talk" in talk and "agent_talk_ratio" not in talk and "%" in talk


def test_one_day_shows_each_call_instead_of_a_lone_dot(lake, tmp_path):
    html = _page(lake, tmp_path, date(2026, 11, 22), date(2026, 11, 22))
    assert "22 Nov 2026 · 1 day · 2 calls" in html
    assert html.count('class="chart strip"') == 6  # every line visual with per_call columns
    assert 'class="chart line"' not in html
    talk = html.split("<h3>Talk and silence (share of call time)</h3>", 1)[1].split("</div>", 1)[0]
    assert talk.count('<a href="#call-') == 6  # two calls x three series, each mark opens its call


def test_a_long_range_lists_the_latest_calls_and_says_so(lake, tmp_path):
    path, listed = write_report(str(lake), tmp_path / "r.html", max_calls=2)
    html = path.read_text()
    assert listed == 2 and 'id="call-b1"' in html and 'id="call-a2"' not in html  # a1 and a2 tie at 09:30: by id
    assert "Showing the latest 2 of 3 calls in this range" in html and "· 3 calls" in html
    calls_per_day = html.split("<h3>Calls per day</h3>", 1)[1].split("</div>", 1)[0]
    assert "Calls, 22 Nov: 2" in calls_per_day  # the charts still count every call


def test_an_empty_lake_says_so(tmp_path):
    (tmp_path / "lake").mkdir()
    html = _page(tmp_path / "lake", tmp_path)
    assert "No processed days in this lake yet" in html and "No calls in this range." in html


@pytest.mark.parametrize(("lo", "hi", "ticks"), [
    (0, 4, [0, 1, 2, 3, 4]), (0, 0.46, [0, 0.2, 0.4, 0.6]), (0, 0.3, [0, 0.1, 0.2, 0.3]), (-2.3, 3.6, [-4, -2, 0, 2, 4]),
    (0, 1, [0, 0.25, 0.5, 0.75, 1]), (0, 7, [0, 2, 4, 6, 8]), (0, 0, [0, 0.25, 0.5, 0.75, 1])])
def test_nice_ticks(lo, hi, ticks):
    assert nice_ticks(lo, hi)[0] == pytest.approx(ticks)


def test_values_read_as_people_say_them():
    assert fmt(0.4467, "percent") == "44.7 %"
    assert fmt(0.052, "hours") == "3.1 min" and fmt(12.25, "hours") == "12.2 h"
    assert fmt(59.6, "seconds") == "1:00" and fmt(3725, "seconds") == "1:02:05"
    assert fmt(2.25, "sentiment") == "+2.2" and fmt(-1.0, "sentiment") == "\u22121.0" and fmt(0.0, "sentiment") == "0.0"
    assert fmt(0.0123, "usd") == "$0.0123" and fmt(12.5, "usd") == "$12.50"
    assert fmt(None, "percent") == "–" and fmt(3, "count") == "3" and fmt(2.5) == "2.5"


def test_hostile_values_are_escaped_and_a_turn_without_participant_or_text_renders(tmp_path):
    """Every text column that reaches the page (tests.hostile): no markup from data, and no crash on None."""
    import html as html_module

    from tests.hostile import PAYLOADS, write_hostile_lake

    page = write_report(str(write_hostile_lake(tmp_path / "lake")), tmp_path / "r.html").path.read_text()
    assert page.count("<script") == 1 and "<img" not in page and "<svg onload" not in page
    assert "onerror=\"window" not in page and "</script><script>" not in page
    for column, value in PAYLOADS.items():
        if column != "attribute_name":  # shown as a label (capitalised words), escaped all the same
            assert html_module.escape(value, quote=True) in page, column
    assert '<span class="who">Unknown speaker</span>' in page
    assert '<li class="turn other neu"' in page  # a role that is neither side gets no side's colour
    # evaluations: the form's text from a team's YAML, the lake's form name, answer and evidence, all as text; the
    # hostile evidence still links to its turn, and the hostile agent's score to its calls
    bad = html_module.escape(PAYLOADS["contact_id"], quote=True)
    assert f'<a class="evidence" href="#call-{bad}" data-turn="{bad}-t0">' \
           f'{html_module.escape(PAYLOADS["evidence"], quote=True)}</a>' in page
    quality = page[page.index('id="quality"'):]
    assert f'href="#calls?agent={quote(PAYLOADS["agent_username"], safe="")}"'.replace("&", "&amp;") in quality


# --- issue 23: the sentiment outcome, the recording, turn by turn, no contact record, CSV, first evidence ---

def _qa_lake(root):
    """The QA lead's calls: two that improve but end negative, one that ended happier, one without a contact
    record; the agent cuts in at 0:09 (inside the customer's turn) and twice more."""
    from pipeline.analytics.categories import recategorize
    from pipeline.settings import Settings

    lake = LocalLake(root)
    day = "2026-11-22"
    turns = [_turn("manager", 0, "CUSTOMER", 5.0, 12.0, "This is the third time I call.", "NEGATIVE"),
             _turn("manager", 1, "AGENT", 9.0, 14.0, "Let me stop you there.", cut=True),
             _turn("manager", 2, "CUSTOMER", 20.0, 30.0, "I want to speak to a manager.", "NEGATIVE"),
             _turn("manager", 3, "AGENT", 26.0, 33.0, "Hold on.", cut=True),
             _turn("manager", 4, "CUSTOMER", 40.0, 50.0, "No, listen to me.", "NEGATIVE"),
             _turn("manager", 5, "AGENT", 45.0, 52.0, "Sir.", cut=True),
             _turn("manager", 6, "CUSTOMER", 80.0, 95.0, "Fine, put me through.", "NEGATIVE")]
    for t, loud in zip(turns, (71.0, 55.0, 80.0, 52.0, 85.0, 50.0, 64.0), strict=True):
        t["loudness"] = loud
    lake.write_partitions(day, {
        "calls": [_call("manager", day, customer_sentiment_start=-4.1, customer_sentiment_end=-3.2,
                        customer_sentiment_shift=0.9),
                  _call("cancel", day, call_started_at=datetime(2026, 11, 22, 10), customer_sentiment_start=-3.4,
                        customer_sentiment_end=-2.3, customer_sentiment_shift=1.1),
                  _call("happy", day, call_started_at=datetime(2026, 11, 22, 11), customer_sentiment_start=-1.0,
                        customer_sentiment_end=2.0, customer_sentiment_shift=3.0),
                  _call("nocr", day, call_started_at=datetime(2026, 11, 22, 12), customer_sentiment_start=1.5,
                        customer_sentiment_end=0.5, customer_sentiment_shift=-1.0)],
        "turns": turns, "failures": [], "turns_raw": [], "call_categories": [], "contact_attributes": [],
        "contacts": [dict(contact_id=c, agent_username="=cmd|' /C calc'!A0", queue_name="Billing")
                     for c in ("manager", "cancel", "happy")]})
    recategorize(Settings(lake=str(root)), date(2026, 11, 22), date(2026, 11, 22))
    return root


def _rows(html):
    return {m[1]: m[0] for m in re.finditer(r'<tr data-call="([^"]+)"[^>]*>', html)}


def test_kpi_filter_colour_category_and_view_agree_on_how_calls_ended(tmp_path):
    from pipeline.adapters.duckdb_engine import query

    lake = _qa_lake(tmp_path / "lake")
    html = _page(lake, tmp_path, attributes="")
    _, ended = query("select contact_id, customer_ended, customer_ended_happier from v_call_contacts", lake)
    negative = sorted(c for c, e, _ in ended if e == "NEGATIVE")
    happier = sorted(c for c, _, h in ended if h)
    assert negative == ["cancel", "manager"] and happier == ["happy"]  # -4.1 -> -3.2 and -3.4 -> -2.3 end negative
    _, flagged = query("select contact_id from call_categories where category = 'customer_ends_negative'", lake)
    assert sorted(c for (c,) in flagged) == negative  # the category, recategorized, says the same
    assert 'aria-label="Customers who ended happier">1 of 4<' in html
    assert 'aria-label="Customers who ended negative">2 of 4<' in html
    rows = _rows(html)
    assert sorted(c for c, row in rows.items() if "|ended-negative|" in row) == negative
    assert sorted(c for c, row in rows.items() if "|happier|" in row) == happier
    assert '<option value="ended-negative">Ended negative</option>' in html
    for cid in negative:  # red, never green, in the table and on the call's page
        row = html.split(f'<tr data-call="{cid}"', 1)[1].split("</tr>", 1)[0]
        assert 'class="outcome ended-negative"' in row and "happier" not in row
        page = html.split(f'id="call-{cid}"', 1)[1].split("</section>", 1)[0]
        assert '<div class="kpi ended-negative"><div class="kpi-value">' in page and "kpi happier" not in page
    assert "ended negative, flat" in html.split('id="call-manager"', 1)[1]  # +0.9: under the 1.0 of "rose"
    assert "ended negative, rose" in html.split('id="call-cancel"', 1)[1]
    happy = html.split('<tr data-call="happy"', 1)[1].split("</tr>", 1)[0]
    assert 'class="outcome happier"' in happy


def test_a_call_without_contact_record_names_no_agent(tmp_path):
    html = _page(_qa_lake(tmp_path / "lake"), tmp_path, attributes="")
    assert "unknown" not in html.lower()
    row = html.split('<tr data-call="nocr"', 1)[1].split("</tr>", 1)[0]
    assert '<a class="filter-link none" href="#calls?agent=%28no%20contact%20record%29">no contact record</a>' in row
    page = html.split('id="call-nocr"', 1)[1].split("</section>", 1)[0]
    assert "<dt>Agent</dt><dd><a class=\"filter-link none\"" in page and ">no contact record</a>" in page
    assert '<option value="(no contact record)">no contact record</option>' in html  # the agent and queue filters


def test_the_category_points_at_its_first_evidence_the_first_cut_in(tmp_path):
    html = _page(_qa_lake(tmp_path / "lake"), tmp_path, attributes="")
    page = html.split('id="call-manager"', 1)[1].split("</section>", 1)[0]
    item = page.split('href="#calls?category=agent_interrupts_customer"', 1)[1].split("</li>", 1)[0]
    assert 'first at <a href="#call-manager" data-turn="manager-t1">0:09, agent: “Let me stop you there.”' in item
    assert "3 matches" in item


def test_the_customers_sentiment_and_loudness_turn_by_turn(tmp_path):
    html = _page(_qa_lake(tmp_path / "lake"), tmp_path, attributes="")
    page = html.split('id="call-manager"', 1)[1].split("</section>", 1)[0]
    sentiment = page.split('class="turns sentiment-turns"', 1)[1].split("</svg>", 1)[0]
    assert sentiment.count('class="turn-mark"') == 4  # one per customer turn
    assert "Customer 0:20: \u22123.5 “I want to speak to a manager.”" in sentiment  # 5 x (0.0 - 0.7)
    assert sentiment.count('class="threshold"') == 2
    loudness = page.split('class="turns loudness-turns"', 1)[1].split("</svg>", 1)[0]
    assert loudness.count('class="turn-mark"') == 7 and "Customer 0:40: loudness 85" in loudness
    assert '<span class="loud" title="loudness 80 of 100">' in page  # and in the transcript, turn by turn


def test_the_recording_plays_from_a_path_relative_to_the_report(tmp_path):
    from urllib.parse import unquote

    lake = LocalLake(tmp_path / "lake")
    recording = tmp_path / "recordings" / "c1_20261122T09:12_UTC.wav"
    recording.parent.mkdir()
    recording.write_bytes(b"RIFF")
    lake.write_partition("calls", "2026-11-22", [_call("c1", "2026-11-22", recording_uri=str(recording)),
                                                 _call("c2", "2026-11-22", recording_uri="https://elsewhere/x.wav")])
    out = tmp_path / "reports" / "r.html"
    html = write_report(str(tmp_path / "lake"), out).path.read_text()
    page = html.split('id="call-c1"', 1)[1].split("</section>", 1)[0]
    href = re.search(r'<a class="play" href="([^"]+)"', page)[1]
    assert href.startswith("../recordings/") and "%3A" in href  # ':' never reads as a scheme
    assert (out.parent / unquote(href)).resolve() == recording
    assert f'<audio controls preload="none" src="{href}">' in page
    other = html.split('id="call-c2"', 1)[1].split("</section>", 1)[0]
    assert 'class="play"' not in other and "No link to play" in other


def test_a_recording_on_s3_plays_through_a_presigned_url_that_says_when_it_expires(aws, tmp_path):
    from datetime import UTC
    from urllib.parse import parse_qs, urlparse

    import requests

    from pipeline.presentation.report.links import RecordingLinks, presigning_client
    from tests.aws_support import SOURCE_BUCKET

    key = "connect/acme/CallRecordings/2026/11/22/c1_20261122T09:12_UTC.wav"
    s3 = aws.client("s3")
    s3.put_object(Bucket=SOURCE_BUCKET, Key=key, Body=b"RIFF-the-call")
    made = []
    links = RecordingLinks(tmp_path, 300, lambda: made.append(1) or presigning_client(aws),
                           now=lambda: datetime(2026, 12, 5, 14, 0, tzinfo=UTC))
    link = links(f"s3://{SOURCE_BUCKET}/{key}")
    query = parse_qs(urlparse(link.href).query)
    assert query["X-Amz-Expires"] == ["300"] and link.expires_at == datetime(2026, 12, 5, 14, 5, tzinfo=UTC)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]  # SigV4, never the legacy query string
    assert urlparse(link.href).netloc == f"{SOURCE_BUCKET}.s3.eu-west-1.amazonaws.com"
    # moto serves the object at the URL (it does not verify signatures: the URL's shape is checked above)
    assert requests.get(link.href, timeout=10).content == b"RIFF-the-call"
    assert links(f"s3://{SOURCE_BUCKET}/") is None and made == [1]  # one client, made on first need

    lake = LocalLake(tmp_path / "lake")
    lake.write_partition("calls", "2026-11-22", [_call("c1", "2026-11-22", recording_uri=f"s3://{SOURCE_BUCKET}/{key}")])
    html = write_report(str(tmp_path / "lake"), tmp_path / "r.html", links=links).path.read_text()
    page = html.split('id="call-c1"', 1)[1].split("</section>", 1)[0]
    assert "valid until 2026-12-05 14:05 UTC" in page and "X-Amz-Expires=300" in page
    assert "X-Amz-Signature" in re.search(r'<a class="play" href="([^"]+)"', page)[1]


def test_the_expiry_is_a_setting_and_the_cli_presigns_with_it(aws, tmp_path, monkeypatch):
    from pipeline.settings import Settings
    from tests.aws_support import SOURCE_BUCKET

    monkeypatch.setenv("AFTERCALL_REPORT_LINK_EXPIRY_S", "900")
    assert Settings().report_link_expiry_s == 900
    lake = LocalLake(tmp_path / "lake")
    lake.write_partition("calls", "2026-11-22", [_call("c1", "2026-11-22", recording_uri=f"s3://{SOURCE_BUCKET}/k.wav")])
    html = write_report(str(tmp_path / "lake"), tmp_path / "r.html").path.read_text()  # the client from settings
    assert "X-Amz-Expires=900" in html and "A signed S3 link, valid until" in html


def test_every_row_carries_its_values_for_the_csv_export(tmp_path):
    import html as html_module
    import json

    from pipeline.adapters.duckdb_engine import query

    lake = _qa_lake(tmp_path / "lake")
    page = _page(lake, tmp_path, attributes="")
    columns = json.loads(html_module.unescape(re.search(r'data-csv-columns="([^"]+)"', page)[1]))
    assert columns[:3] == ["dt", "call_started_at", "contact_id"] and "customer_ended" in columns
    names, rows = query(f"select {', '.join(columns)} from v_call_contacts order by call_started_at", lake)
    for row in rows:
        cid = row[columns.index("contact_id")]
        tag = re.search(rf'<tr data-call="{cid}"[^>]*>', page)[0]
        values = json.loads(html_module.unescape(re.search(r'data-csv="([^"]+)"', tag)[1]))
        expected = [v.isoformat() if hasattr(v, "isoformat") else v for v in row]
        assert values == expected, cid
    assert "=cmd|' /C calc'!A0" in html_module.unescape(page)  # exported as it is; the page's script prefixes it


def test_a_hostile_recording_file_name_is_a_plain_link(tmp_path):
    from urllib.parse import unquote

    recording = tmp_path / "rec" / "javascript:alert(1)\"'><img src=x onerror=alert(2)>.wav"
    recording.parent.mkdir()
    recording.write_bytes(b"RIFF")
    LocalLake(tmp_path / "lake").write_partition("calls", "2026-11-22", [
        _call("c1", "2026-11-22", recording_uri=str(recording))])
    html = write_report(str(tmp_path / "lake"), tmp_path / "r.html").path.read_text()
    href = re.search(r'<a class="play" href="([^"]+)"', html)[1]
    assert href.startswith("./rec/javascript%3Aalert") and "<" not in href and "'" not in href
    assert (tmp_path / unquote(href)).resolve() == recording
    assert "<img" not in html and html.count("<script") == 1


# --- issue 23 part 3: the Quality section and each call's evaluation form, on the hand-counted lake ---

@pytest.fixture
def evaluated(tmp_path):
    """tests.unit.test_evaluations' hand-counted calls, scored with the default form in their commits and with the
    hand-count form applied by `aftercall evaluate --form` (kept in the lake's _forms/)."""
    from pipeline.analytics.evaluations import evaluate
    from tests.unit.test_evaluations import HAND_FORM, _hand_lake

    settings, lake_dir = _hand_lake(tmp_path)
    form = tmp_path / "handcount.yaml"
    form.write_text(HAND_FORM)
    evaluate(settings, date(2026, 11, 16), date(2026, 11, 29), form=str(form))
    return lake_dir


def _quality_query(lake_dir):
    from pipeline.adapters.duckdb_engine import connect
    from pipeline.analytics.sql import athena_to_duckdb

    con = connect(lake_dir)

    def run(sql):
        cursor = con.execute(athena_to_duckdb(sql))
        return [d[0] for d in cursor.description], cursor.fetchall()
    return run


@pytest.mark.parametrize("chunk", [1, 7])
def test_agent_ranking_and_pass_rate_per_question_match_a_hand_count(evaluated, monkeypatch, chunk):
    """Summed a day or a week at a time, the same numbers as counted by hand (test_evaluations.HAND_CALLS)."""
    from pipeline.presentation.report import quality as report_quality
    from pipeline.presentation.report.quality import load_forms, load_quality

    monkeypatch.setattr(report_quality, "CHUNK_DAYS", chunk)
    days = ["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"]
    data = load_quality(_quality_query(evaluated), days, load_forms(evaluated))
    assert data.form_names() == ["default", "handcount"]
    ranking = [(a.agent, round(a.avg_score, 2), a.calls, round(a.pass_rate, 4), a.automatic_fails)
               for a in data.ranking("handcount")]
    assert ranking == [("(no contact record)", 100.0, 1, 1.0, 0),  # u1
                       ("bob", 80.0, 3, 0.6667, 0),  # 100, 50, 90: b1 and b3 pass
                       ("ann", 46.67, 3, 0.3333, 1)]  # 100, 40, 0 (a3 automatic fail): a1 passes
    rates = [(qid, text, q.full, q.answered, q.not_applicable) for qid, text, q in data.question_rates("handcount")]
    assert rates == [("greet", "Hello in the first 10 s", 5, 7, 0),  # a2 says no hello, b2's is at 12 s
                     ("calm", "No escalation", 6, 7, 0),  # a3 asks for a manager
                     ("pace", "Talk speed", 4, 6, 1)]  # b1 unmeasured; a2 (100) and b3 (110) under 120 wpm
    weeks = {w: round(s / n, 2) for w, (s, n) in data.weeks["handcount"].items()}
    assert weeks == {"2026-11-16": 80.0, "2026-11-23": 60.0}  # (100 + 40 + 100) / 3, (0 + 50 + 90 + 100) / 4
    # category hits: call_categories x contacts, counted here from the partitions themselves
    lake = LocalLake(evaluated)
    expected: dict = {}
    for day in days:
        agents = {c["contact_id"]: c["agent_username"] for c in lake.read_partition("contacts", day).to_pylist()}
        for m in lake.read_partition("call_categories", day).to_pylist():
            key = (agents.get(m["contact_id"], "(no contact record)"), m["category"])
            expected[key] = expected.get(key, 0) + 1
    assert data.categories == expected and data.categories[("ann", "escalation_request")] == 1


def test_the_quality_section_respects_the_range_and_links_agents_to_their_calls(evaluated, tmp_path):
    html = write_report(str(evaluated), tmp_path / "r.html", date(2026, 11, 22), date(2026, 11, 23)).path.read_text()
    quality = html[html.index('<section class="sheet" id="quality">'):]
    quality = quality[:quality.index("</section>")]
    assert '<a href="#quality">Quality</a>' in html
    hand = quality[quality.index('data-form="handcount"'):]
    rows = re.findall(r'<tr data-agent="([^"]+)"><td class="num">(\d+)</td>.*?href="([^"]+)".*?'
                      r'<a class="filter-link score"[^>]*>([^<]+)</a></td><td class="num">(\d+)</td>', hand)
    # 22-23 Nov only: ann a2 40, a3 0; bob b1 100, b2 50, b3 90; u1 100
    assert [(a, s, n) for a, _, _, s, n in rows[:3]] == [("(no contact record)", "100.0 %", "1"), ("bob", "80.0 %", "3"),
                                                      ("ann", "20.0 %", "2")]
    assert rows[2][2] == "#calls?agent=ann"
    assert quality.index('data-form="default"') < quality.index('data-form="handcount"')  # the default form first
    assert "Hello in the first 10 s" in quality and "Category hits per agent" in quality
    hits = re.search(r'<table class="chart table hits">.*?<tr data-agent="ann">(.*?)</tr>', quality)[1]
    assert '<a class="chip" href="#calls?category=escalation_request">escalation_request</a> 1<' in hits  # a3
    assert "Average evaluation score per week" in quality
    assert "70.0 %" in quality  # the week of 16 Nov within the range: (40 + 100) / 2
    assert quality.count('<svg class="chart line"') == 1  # two weeks: a trend
    one_week = write_report(str(evaluated), tmp_path / "w.html", date(2026, 11, 20), date(2026, 11, 22)).path.read_text()
    one_week = one_week[one_week.index('id="quality"'):]
    assert '<svg class="chart line"' not in one_week[:one_week.index("</section>")]  # one week: no lone dot
    assert re.search(r'<li data-form="handcount"><b>80.0 %</b>', one_week)  # a1 100, a2 40, b1 100


def test_each_call_page_shows_its_form_with_answers_linked_to_their_evidence_turns(evaluated, tmp_path):
    html = write_report(str(evaluated), tmp_path / "r.html").path.read_text()

    def form_on(cid, form):
        page = html[html.index(f'<section class="call" id="call-{cid}"'):]
        page = page[:page.index("</section>")]
        card = page[page.index(f'<div class="card wide evaluation" data-form="{form}">'):]
        return page, card[:card.index("</table>")]

    page, card = form_on("a1", "handcount")
    assert 'data-score>100.0 %</span> <span class="outcome-word">passed' in card
    greet = re.search(r'<tr data-question="greet">(.*?)</tr>', card)[1]
    assert "Hello in the first 10 s" in greet and ">Yes<" in greet and "10 / 10" in greet
    link = re.search(r'<a class="evidence" href="#call-a1" data-turn="a1-t(\d+)">([^<]+)</a>', greet)
    turn = LocalLake(evaluated).read_partition("evaluations", "2026-11-20").to_pylist()
    named = next(r["evidence_turn"] for r in turn if r["contact_id"] == "a1" and r["question_id"] == "greet")
    assert int(link[1]) == named == 0 and f'id="a1-t{named}"' in page  # the turn is on the same page
    pace = re.search(r'<tr data-question="pace">(.*?)</tr>', card)[1]
    assert "<td class=\"wrap\">agent_wpm = 150</td>" in pace and "data-turn" not in pace  # a metric: name and value
    _, card = form_on("a3", "handcount")
    assert "failed: automatic fail" in card and "automatic fail</span>" in card
    _, card = form_on("b1", "handcount")
    assert re.search(r'<tr data-question="pace">.*?not applicable.*?<td class="num">–</td>', card)


def test_a_calls_summary_and_its_local_start_show_on_its_page(tmp_path):
    """The engine's summary (Call Analytics) is a card on the call's page; a lake in a zone shows the local start."""
    lake = LocalLake(tmp_path / "lake")
    lake.write_partitions("2026-11-22", {
        "calls": [_call("sum", "2026-11-22", summary="The customer asked to cancel [PII]'s contract & left.",
                        call_started_local=datetime(2026, 11, 22, 18, 30), timezone="Asia/Seoul"),
                  _call("plain", "2026-11-22")],
        "turns": [], "failures": [], "turns_raw": [], "call_categories": [], "contact_attributes": [], "contacts": []})
    page = write_report(str(tmp_path / "lake"), tmp_path / "r.html").path.read_text()
    card = page.split('id="call-sum"', 1)[1].split('</section>', 1)[0]
    assert "<h3>Summary (" in card and "cancel <span class=\"pii\"" in card and "contract &amp; left." in card
    assert "<dt>Started (Asia/Seoul)</dt><dd>18:30:00</dd>" in card
    plain = page.split('id="call-plain"', 1)[1].split('</section>', 1)[0]
    assert "<h3>Summary" not in plain and "Started (UTC)" in plain
