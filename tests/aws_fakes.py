"""What moto lacks, in the services' real formats: transcript files and batch_detect_sentiment.

moto completes Transcribe jobs but writes no transcript; :class:`TranscribeOutputs` plays the
service's part and puts a real-format transcript at the returned ``TranscriptFileUri``, with
the SSE-KMS key the job asked for. moto has no ``batch_detect_sentiment``;
:class:`ComprehendByVader` answers it in Comprehend's response format from VADER's scores.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import urlparse

from botocore.awsrequest import AWSResponse

from pipeline.adapters.vader import VaderSentiment

REGION = "eu-west-1"
KMS_KEY = "arn:aws:kms:eu-west-1:123456789012:key/1111-2222"


class TranscribeOutputs:
    """after-call hook on GetTranscriptionJob: once COMPLETED, write ``make_doc(media_uri, job_name)``."""

    def __init__(self, s3, make_doc: Callable[[str, str], dict]) -> None:
        self.s3 = s3
        self.make_doc = make_doc
        self.written: set[str] = set()
        self.started: list[dict] = []

    def attach(self, events) -> None:
        """``events``: a boto3 session's ``events`` (every client made from it) or a client's ``meta.events``."""
        events.register("after-call.transcribe.GetTranscriptionJob", self._on_get)
        events.register("provide-client-params.transcribe.StartTranscriptionJob", self._on_start)

    def _on_start(self, params, **_):
        self.started.append(dict(params))

    def _on_get(self, parsed, **_):
        job = parsed.get("TranscriptionJob", {})
        if job.get("TranscriptionJobStatus") != "COMPLETED" or job["TranscriptionJobName"] in self.written:
            return
        url = urlparse(job["Transcript"]["TranscriptFileUri"])  # https://s3.<region>.amazonaws.com/<bucket>/<key>
        bucket, key = url.path.lstrip("/").split("/", 1)
        doc = self.make_doc(job["Media"]["MediaFileUri"], job["TranscriptionJobName"])
        self.s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(doc).encode(),
                           ServerSideEncryption="aws:kms", SSEKMSKeyId=job.get("OutputEncryptionKMSKeyId") or KMS_KEY)
        self.written.add(job["TranscriptionJobName"])


class ComprehendByVader:
    """before-call hook on BatchDetectSentiment answering in Comprehend's format."""

    def __init__(self) -> None:
        self.vader = VaderSentiment()
        self.batches: list[int] = []

    def attach(self, events) -> None:
        events.register("before-call.comprehend.BatchDetectSentiment", self._on_call)

    def _on_call(self, params, **_):
        texts = json.loads(params["body"])["TextList"]  # before-call sees the serialized request
        assert len(texts) <= 25 and all(len(t.encode()) <= 5000 for t in texts), "Comprehend's limits"
        self.batches.append(len(texts))
        results = self.vader.analyze(texts, "en")
        return (AWSResponse(None, 200, {}, None), {"ResultList": [
            {"Index": i, "Sentiment": r.label, "SentimentScore": {"Positive": r.positive, "Negative": r.negative,
                                                                   "Neutral": r.neutral, "Mixed": r.mixed}}
            for i, r in enumerate(results)], "ErrorList": []})
