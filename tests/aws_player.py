"""Amazon Transcribe and Comprehend as an AWS *account* sees them, on a moto server: quotas enforced, every call counted.

moto completes any number of jobs at once and starts them at any rate; the real services do not. The player
patches moto's backends (the server runs in the test's process) so that:

* at most ``jobs`` transcription jobs are in flight at once: a job is in flight from its start until it completes,
  ``job_s`` seconds later, whether or not anyone polls it; a start above that answers ``LimitExceededException``;
* starts and ``BatchDetectSentiment`` calls are rate limited with token buckets (``start_tps`` and
  ``comprehend_tps`` tokens a second, bursts of one second's worth), answering ``LimitExceededException`` /
  ``ThrottlingException`` when empty, as the services do;
* a completed job's transcript is written where the job asked (real Transcribe JSON, a short scripted exchange),
  which moto does not do; ``BatchDetectSentiment`` (moto has none) is answered in Comprehend's format.

Every refusal is counted: a client that respects the account's quotas gets none.
"""

from __future__ import annotations

import heapq
import json
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from moto.core.exceptions import JsonRESTError

from pipeline.aws.transcript_format import render_transcribe
from pipeline.ports import Word
from tests.airflow_support import free_port

SCRIPT = [("AGENT", 0.2, "thank you for calling how can I help"), ("CUSTOMER", 1.4, "my card was declined today"),
          ("AGENT", 2.3, "let me check that")]


def script_words(tag: str = "") -> list[Word]:
    """The scripted exchange; ``tag`` (a job's) ends the customer's line, so every call has its own text (Comprehend
    and its cache see one distinct call each, as in a real day)."""
    words = []
    for participant, begin, text in SCRIPT:
        if participant == "CUSTOMER" and tag:
            text = f"{text} reference {tag}"
        for i, token in enumerate(text.split()):
            words.append(Word(participant, round(begin + i * 0.12, 3), round(begin + i * 0.12 + 0.1, 3), token, 0.98))
    return words


class LimitExceeded(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("LimitExceededException", message)


class _Bucket:
    """A token bucket: ``rate`` tokens a second, at most ``rate`` (one second's burst) saved up."""

    def __init__(self, rate: float) -> None:
        self.rate, self.tokens, self.at = rate, rate, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass
class Player:
    jobs: int
    start_tps: float
    comprehend_tps: float
    job_s: float = 2.0
    requests: Counter = field(default_factory=Counter)  # by operation, as the server received them (retries too)
    refused: Counter = field(default_factory=Counter)  # quota answers: "jobs", "start rate", "comprehend rate"
    max_in_flight: int = 0
    started: dict[str, float] = field(default_factory=dict)  # job name -> start time (monotonic)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._starts, self._comprehend = _Bucket(self.start_tps), _Bucket(self.comprehend_tps)
        self._written: set[str] = set()
        self._ends: list[float] = []  # completion times of the jobs started, as a heap

    def in_flight(self, now: float) -> int:
        while self._ends and self._ends[0] <= now:
            heapq.heappop(self._ends)
        return len(self._ends)

    def summary(self) -> dict:
        return {"requests": dict(self.requests), "refused": dict(self.refused), "max_in_flight": self.max_in_flight,
                "jobs_started": len(self.started), "quota_jobs": self.jobs, "quota_start_tps": self.start_tps,
                "quota_comprehend_tps": self.comprehend_tps}


@contextmanager
def moto_server_with_player(player: Player, s3_client_factory, kms_key: str = "alias/aws/s3") -> Iterator[str]:
    """A moto server on loopback whose Transcribe and Comprehend play ``player``; yields its endpoint URL.

    Transcripts are written with SSE-KMS under ``kms_key`` (the key the jobs name; moto does not keep it)."""
    from moto.comprehend.responses import ComprehendResponse
    from moto.server import ThreadedMotoServer
    from moto.transcribe.models import TranscribeBackend

    from pipeline.adapters.vader import VaderSentiment

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    s3 = s3_client_factory(endpoint)
    start, get = TranscribeBackend.start_transcription_job, TranscribeBackend.get_transcription_job
    vader = VaderSentiment()

    def quota_start(self, *args, **kwargs):
        name = kwargs.get("transcription_job_name") or args[0]
        with player._lock:
            player.requests["StartTranscriptionJob"] += 1
            now = time.monotonic()
            if name not in self.transcriptions:  # a duplicate name is moto's ConflictException, quota or not
                if player.in_flight(now) >= player.jobs:
                    player.refused["jobs"] += 1
                    raise LimitExceeded(f"You have reached the limit of {player.jobs} concurrent jobs.")
                if not player._starts.take():
                    player.refused["start rate"] += 1
                    raise LimitExceeded("Rate exceeded for StartTranscriptionJob.")
            response = start(self, *args, **kwargs)
            player.started[name] = now
            heapq.heappush(player._ends, now + player.job_s)
            player.max_in_flight = max(player.max_in_flight, player.in_flight(now))
            return response

    def timed_get(self, transcription_job_name):
        with player._lock:
            player.requests["GetTranscriptionJob"] += 1
            job = self.transcriptions.get(transcription_job_name)
            began = player.started.get(transcription_job_name)
            due = job is not None and began is not None and time.monotonic() >= began + player.job_s
            if job is None or not due:
                response = get(self, transcription_job_name) if job is None else job.response_object("GET")
                if job is not None:
                    response["TranscriptionJob"]["TranscriptionJobStatus"] = "IN_PROGRESS"
                return response
            while job.status != "COMPLETED":
                job.advance()
            write = transcription_job_name not in player._written
            response = job.response_object("GET")
        if write:  # before the answer, as the service has its output in place when it says COMPLETED
            uri = response["TranscriptionJob"]["Transcript"]["TranscriptFileUri"]
            bucket, key = uri.split(".amazonaws.com/", 1)[1].split("/", 1)
            doc = render_transcribe(script_words(transcription_job_name[-8:]), transcription_job_name)
            s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(doc).encode(), ServerSideEncryption="aws:kms",
                          SSEKMSKeyId=kms_key)
            with player._lock:
                player._written.add(transcription_job_name)
        return response

    def batch_detect_sentiment(self):
        with player._lock:
            player.requests["BatchDetectSentiment"] += 1
            if not player._comprehend.take():
                player.refused["comprehend rate"] += 1
                raise JsonRESTError("ThrottlingException", "Rate exceeded")
        texts = json.loads(self.body)["TextList"]
        return json.dumps({"ResultList": [
            {"Index": i, "Sentiment": r.label, "SentimentScore": {"Positive": r.positive, "Negative": r.negative,
                                                                   "Neutral": r.neutral, "Mixed": r.mixed}}
            for i, r in enumerate(vader.analyze(texts, "en-US"))], "ErrorList": []})

    saved = (TranscribeBackend.start_transcription_job, TranscribeBackend.get_transcription_job,
             ComprehendResponse.__dict__.get("batch_detect_sentiment"))
    TranscribeBackend.start_transcription_job = quota_start
    TranscribeBackend.get_transcription_job = timed_get
    ComprehendResponse.batch_detect_sentiment = batch_detect_sentiment
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        # moto's backends live in this process: start from an empty account
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()
        yield endpoint
    finally:
        # and leave it empty: the backends are this process's, shared with any later moto server or mock
        try:
            urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"),
                                   timeout=10).close()
        finally:
            server.stop()
        TranscribeBackend.start_transcription_job, TranscribeBackend.get_transcription_job = saved[:2]
        if saved[2] is None:
            del ComprehendResponse.batch_detect_sentiment
        else:
            ComprehendResponse.batch_detect_sentiment = saved[2]
