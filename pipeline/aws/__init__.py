"""The AWS adapters: S3 source, Amazon Transcribe, Comprehend, the S3/Glue lake, Athena, setup.

Clients are injected (see :mod:`pipeline.wiring`); nothing here creates one at import.
"""

from __future__ import annotations

from pipeline.aws.athena import create_views, run_query
from pipeline.aws.comprehend import ComprehendSentiment, comprehend_language, split_text
from pipeline.aws.lake import S3Lake
from pipeline.aws.s3_source import S3Source
from pipeline.aws.setup import iam_policy, setup
from pipeline.aws.transcribe import TranscribeTranscriber
from pipeline.aws.transcript_format import parse_call_analytics, parse_transcribe, render_transcribe

__all__ = [
    "ComprehendSentiment",
    "S3Lake",
    "S3Source",
    "TranscribeTranscriber",
    "comprehend_language",
    "create_views",
    "iam_policy",
    "parse_call_analytics",
    "parse_transcribe",
    "render_transcribe",
    "run_query",
    "setup",
    "split_text",
]
