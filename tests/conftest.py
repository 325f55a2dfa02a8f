from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from pipeline.settings import SAMPLES_DIR, Settings

DEMO_DAY = date(2026, 11, 22)
DAY_DIR = Path("connect", "acme-demo", "CallRecordings", "2026", "11", "22")


@pytest.fixture(autouse=True)
def _no_aftercall_env(monkeypatch):
    """Tests see only the settings they set themselves."""
    import os

    for key in list(os.environ):
        if key.startswith("AFTERCALL_"):
            monkeypatch.delenv(key)


@pytest.fixture(scope="session")
def truth() -> dict[str, dict]:
    return {c["contact_id"]: c for c in json.loads((SAMPLES_DIR / "truth.json").read_text())}


@pytest.fixture(scope="session")
def sample_files() -> list[Path]:
    return sorted((SAMPLES_DIR / DAY_DIR).glob("*.wav"))


@pytest.fixture
def source(tmp_path, sample_files) -> Path:
    """A writable copy of the sample day, for tests that add bad recordings beside good ones."""
    root = tmp_path / "source"
    (root / DAY_DIR).mkdir(parents=True)
    for f in sample_files:
        shutil.copy(f, root / DAY_DIR / f.name)
    return root


def make_settings(source: Path, lake: Path, **kw) -> Settings:
    return Settings(source=str(source), lake=str(lake), **kw)


@pytest.fixture(scope="session")
def transcribed_lake(tmp_path_factory) -> tuple[Path, object]:
    """The sample day run once with the real Whisper model and VADER, two worker processes."""
    from pipeline.steps.run import run_day

    lake = tmp_path_factory.mktemp("lake")
    result = run_day(make_settings(SAMPLES_DIR, lake, workers=2), DEMO_DAY)
    return lake, result


from tests.aws_support import aws  # noqa: E402,F401  (moto fixture for the unit and e2e tiers)
