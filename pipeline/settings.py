"""Configuration from ``AFTERCALL_*`` environment variables (pydantic-settings), overridable by CLI flags."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.exceptions import ConfigurationError

__all__ = ["Settings", "load_settings", "SAMPLES_DIR"]

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"


class Settings(BaseSettings):
    """Every knob of a run. Defaults give the embedded, offline pipeline over the bundled samples."""

    model_config = SettingsConfigDict(env_prefix="AFTERCALL_", extra="ignore", frozen=True)

    source: str = Field(default=str(SAMPLES_DIR), description="Recordings root (local folder or s3://bucket/prefix)")
    lake: str = Field(default="lake", description="Lake root (local folder or s3://bucket/prefix)")
    engine: Literal["local", "aws"] = "local"
    agent_channel: int = Field(default=1, ge=0, le=1, description="0 = left, 1 = right (Amazon Connect: agent right)")
    transcribe: bool = Field(default=True, description="False: acoustic metrics only, no speech-to-text")
    whisper_model: str = Field(default="bundled", description="'bundled', a CTranslate2 model folder, or a size name")
    whisper_beam_size: int = Field(default=1, ge=1, le=10)
    language_code: str = "en-US"
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1, le=64)

    @field_validator("source", "lake")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @property
    def source_is_s3(self) -> bool:
        return self.source.startswith("s3://")

    @property
    def lake_is_s3(self) -> bool:
        return self.lake.startswith("s3://")

    def require_local_source(self) -> Path:
        """The source folder, or a ConfigurationError an operator can act on."""
        path = Path(self.source).expanduser()
        if not path.is_dir():
            raise ConfigurationError(f"AFTERCALL_SOURCE={self.source!r} is not an existing folder")
        return path


def load_settings(**overrides: object) -> Settings:
    """Environment first, then the non-None ``overrides`` (CLI flags); errors become ConfigurationError."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        problems = "; ".join(
            f"AFTERCALL_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigurationError(problems) from None
