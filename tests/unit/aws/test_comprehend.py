"""Comprehend adapter: batching, 5 KB splitting, partial errors (botocore Stubber: moto has no
batch_detect_sentiment), and throttling retried by botocore against a real HTTP endpoint."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from botocore.stub import ANY, Stubber

from pipeline.aws._helpers import client
from pipeline.aws.comprehend import ComprehendSentiment, comprehend_language, split_text
from pipeline.exceptions import ConfigurationError, SentimentError
from tests.aws_support import aws_settings


def scored(label="NEUTRAL", pos=0.1, neg=0.1, neu=0.7, mix=0.1):
    return {"Sentiment": label, "SentimentScore": {"Positive": pos, "Negative": neg, "Neutral": neu, "Mixed": mix}}


def ok(n, start=0, **kw):
    return {"ResultList": [{"Index": i, **scored(**kw)} for i in range(start, start + n)], "ErrorList": []}


@pytest.fixture
def comprehend():
    c = boto3.client("comprehend", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(c) as stub:
        yield c, stub
        stub.assert_no_pending_responses()


def test_at_most_25_texts_a_call(comprehend):
    c, stub = comprehend
    texts = [f"line {i}" for i in range(30)]
    stub.add_response("batch_detect_sentiment", ok(25), {"TextList": texts[:25], "LanguageCode": "en"})
    stub.add_response("batch_detect_sentiment", ok(5), {"TextList": texts[25:], "LanguageCode": "en"})
    results = ComprehendSentiment(c).analyze(texts, "en-US")
    assert len(results) == 30 and {r.label for r in results} == {"NEUTRAL"}


def test_long_turns_split_under_5000_utf8_bytes_and_combined_by_length(comprehend):
    c, stub = comprehend
    korean = "환불이 아직 안 됐어요 " * 400  # 3 bytes a Hangul syllable: ~12.8 KB
    chunks = split_text(korean)
    assert len(chunks) == 3 and all(len(x.encode()) <= 5000 for x in chunks)
    assert " ".join(chunks) == korean.strip()
    stub.add_response("batch_detect_sentiment", {"ResultList": [
        {"Index": 0, **scored("NEGATIVE", 0.0, 0.9, 0.1, 0.0)},
        {"Index": 1, **scored("NEGATIVE", 0.0, 0.9, 0.1, 0.0)},
        {"Index": 2, **scored("POSITIVE", 0.9, 0.0, 0.1, 0.0)},
        {"Index": 3, **scored("POSITIVE", 0.8, 0.0, 0.2, 0.0)}], "ErrorList": []},
        {"TextList": [*chunks, "감사합니다"], "LanguageCode": "ko"})
    analyzer = ComprehendSentiment(c)
    long_one, short_one = analyzer.analyze([korean, "감사합니다"], "ko-KR")
    weights = [len(x.encode()) for x in chunks]
    assert long_one.negative == pytest.approx(0.9 * (weights[0] + weights[1]) / sum(weights), abs=1e-3)
    assert long_one.label == "NEGATIVE" and short_one.label == "POSITIVE"
    units, usd = analyzer.cost([korean, "감사합니다"])
    assert units == sum(max(3, -(-len(x) // 100)) for x in chunks) + 3 and usd == pytest.approx(units * 0.0001)


def test_items_in_error_list_are_retried_alone(comprehend):
    c, stub = comprehend
    texts = ["fine", "broken", "great"]
    stub.add_response("batch_detect_sentiment", {
        "ResultList": [{"Index": 0, **scored()}, {"Index": 2, **scored("POSITIVE", 0.9, 0, 0.1, 0)}],
        "ErrorList": [{"Index": 1, "ErrorCode": "INTERNAL_SERVER_ERROR", "ErrorMessage": "try again"}]},
        {"TextList": texts, "LanguageCode": "en"})
    stub.add_response("batch_detect_sentiment", {"ResultList": [{"Index": 0, **scored("NEGATIVE", 0, 0.8, 0.2, 0)}],
                                                 "ErrorList": []}, {"TextList": ["broken"], "LanguageCode": "en"})
    results = ComprehendSentiment(c, sleep=lambda s: None).analyze(texts, "en-US")
    assert [r.label for r in results] == ["NEUTRAL", "NEGATIVE", "POSITIVE"]


def test_items_that_keep_failing_raise(comprehend):
    c, stub = comprehend
    error = {"ResultList": [], "ErrorList": [{"Index": 0, "ErrorCode": "INTERNAL_SERVER_ERROR", "ErrorMessage": "no"}]}
    for _ in range(3):
        stub.add_response("batch_detect_sentiment", error, {"TextList": ANY, "LanguageCode": "en"})
    with pytest.raises(SentimentError, match="after 3 attempts"):
        ComprehendSentiment(c, item_attempts=3, sleep=lambda s: None).analyze(["x"], "en-US")


def test_language_mapping():
    assert [comprehend_language(c) for c in ("en-US", "en-GB", "ko-KR", "es-US", "zh-TW")] == \
        ["en", "en", "ko", "es", "zh-TW"]
    with pytest.raises(ConfigurationError):
        comprehend_language("tl-PH")


class _Throttling(BaseHTTPRequestHandler):
    """A Comprehend endpoint that throttles the first ``throttle`` requests, then answers."""

    throttle = 0
    seen = 0

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen += 1
        if type(self).seen <= type(self).throttle:
            payload, status = {"__type": "ThrottlingException", "message": "Rate exceeded"}, 400
        else:
            payload, status = ok(len(body["TextList"])), 200
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def throttling_endpoint():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Throttling)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Throttling.seen = 0
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def _client(endpoint, attempts):
    session = boto3.Session(region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")
    return client(session, "comprehend", aws_settings(aws_max_attempts=attempts), endpoint_url=endpoint)


def test_throttling_is_retried_by_botocore_adaptive_mode(throttling_endpoint):
    _Throttling.throttle = 2
    results = ComprehendSentiment(_client(throttling_endpoint, 4)).analyze(["hello", "thanks"], "en-US")
    assert len(results) == 2 and _Throttling.seen == 3


def test_throttling_that_outlasts_botocore_waits_instead_of_failing(throttling_endpoint):
    """The account is busy (other tasks, other tools): the call waits (backing off) rather than failing the batch."""
    _Throttling.throttle = 7
    sleeps: list[float] = []
    comprehend = ComprehendSentiment(_client(throttling_endpoint, 2), sleep=sleeps.append)
    results = comprehend.analyze(["hello", "thanks"], "en-US")
    assert len(results) == 2 and _Throttling.seen == 8
    assert comprehend.throttled == 3 and sleeps == [2.0, 4.0, 8.0]


def test_calls_are_paced_at_this_task_share_of_the_account_rate(comprehend):
    """10 calls a second for the account, 5 tasks: one call every 0.5 s in this task."""
    c, stub = comprehend
    now = [100.0]
    sleeps: list[float] = []

    def sleep(seconds):
        sleeps.append(round(seconds, 3))
        now[0] += seconds

    paced = ComprehendSentiment(c, max_tps=2.0, sleep=sleep, clock=lambda: now[0])
    for _ in range(3):
        stub.add_response("batch_detect_sentiment", ok(1))
    for _ in range(3):
        paced.analyze(["hello"], "en-US")
        now[0] += 0.1  # the rest of the call's work
    assert sleeps == [0.4, 0.4]


def test_throttling_past_every_retry_fails_the_batch_not_the_call(throttling_endpoint, sample_files):
    """The service's fault: the task fails and is retried by the orchestrator; nothing is quarantined."""
    from pipeline.exceptions import InfrastructureError
    from pipeline.adapters.local_source import LocalSource
    from pipeline.steps.discovery import discover_local
    from pipeline.ports import Transcriber, Transcript, Word
    from pipeline.steps.process import process_recording
    from pipeline.settings import SAMPLES_DIR
    from pipeline.wiring import Components

    class OneLine(Transcriber):
        name = "fixed"

        def transcribe(self, recording, audio):
            return Transcript([Word("AGENT", 0.5, 0.9, "Hello", 0.9)], "en-US", "fixed")

    _Throttling.throttle = 100
    rec = discover_local(SAMPLES_DIR, __import__("datetime").date(2026, 11, 22))[0]
    components = Components(LocalSource(SAMPLES_DIR), OneLine(),
                            ComprehendSentiment(_client(throttling_endpoint, 3), throttle_wait_s=0))
    with pytest.raises(InfrastructureError, match="ThrottlingException") as info:
        process_recording(rec, components, agent_channel=1)
    assert info.value.stage == "sentiment" and info.value.uri == rec.uri and _Throttling.seen == 3


def test_pii_entities_from_comprehend_join_the_offline_detector(comprehend):
    from pipeline.aws.comprehend import ComprehendPiiDetector
    from pipeline.analytics.pii import redact

    c, stub = comprehend
    text = "Soy Maria Lopez, mi tarjeta es 4111 1111 1111 1111"
    stub.add_response("detect_pii_entities", {"Entities": [
        {"Type": "NAME", "BeginOffset": 4, "EndOffset": 15, "Score": 0.99},
        {"Type": "CREDIT_DEBIT_NUMBER", "BeginOffset": 31, "EndOffset": 50, "Score": 0.98}]},
        {"Text": text, "LanguageCode": "es"})
    assert redact(text, "type", ComprehendPiiDetector(c, "es-MX"))[0] == \
        "Soy [NAME], mi tarjeta es [CREDIT_DEBIT_NUMBER]"
    with pytest.raises(ConfigurationError, match="English and Spanish only"):
        ComprehendPiiDetector(c, "ko-KR")


def test_wiring_uses_comprehend_pii_only_where_transcribe_cannot_redact(aws):
    from pipeline.wiring import build_components
    from tests.aws_support import aws_settings

    assert build_components(aws_settings(redact_pii=True, language_code="es-MX")).pii_detector is not None
    assert build_components(aws_settings(redact_pii=True)).pii_detector is None  # en-US: Transcribe redacts
    korean = build_components(aws_settings(redact_pii=True, language_code="ko-KR"))
    assert korean.pii_detector is None and korean.pii_mask == "type"  # the offline detector alone
