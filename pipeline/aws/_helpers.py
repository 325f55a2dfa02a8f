"""Small shared pieces of the AWS adapters: S3 URIs, SSE-KMS arguments, clients with adaptive retries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import boto3

    from pipeline.settings import Settings

__all__ = ["client", "join", "session", "split_uri", "sse_kwargs"]


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> (``bucket``, ``a/b``)."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def join(prefix: str, *parts: str) -> str:
    return "/".join([prefix.rstrip("/"), *(p.strip("/") for p in parts)])


def sse_kwargs(kms_key_id: str | None) -> dict[str, str]:
    """put_object / upload arguments that make S3 encrypt with the project's KMS key."""
    if not kms_key_id:
        raise ValueError("no KMS key configured: aftercall never writes to S3 without SSE-KMS")
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id}


def session(settings: Settings) -> boto3.Session:
    """A boto3 session from the standard credential chain (env, profile, role); never from settings."""
    import boto3

    return boto3.Session(region_name=settings.aws_region) if settings.aws_region else boto3.Session()


def client(sess: boto3.Session, service: str, settings: Settings, **kw: Any):
    """A client that retries throttling with botocore's adaptive mode (client-side rate limiting)."""
    from botocore.config import Config

    config = Config(retries={"mode": "adaptive", "total_max_attempts": settings.aws_max_attempts},
                    user_agent_extra="aftercall")
    return sess.client(service, config=config, **kw)
