"""Recordings of a Seoul evening as Amazon Connect files them: one local day across two UTC folders."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from tests.conftest import DAY_DIR

SEOUL = "Asia/Seoul"
SEOUL_DAY = date(2026, 11, 23)  # 2026-11-22 15:00 UTC to 2026-11-23 15:00 UTC
# Two calls in the UTC folder of the 22nd after 15:00 UTC, two in the 23rd's before 15:00 UTC: the first two
# straddle UTC midnight with the last two, and all four started on the Seoul day 2026-11-23.
STAMPS = ["20261122T15:05_UTC", "20261122T23:58_UTC", "20261123T00:02_UTC", "20261123T14:55_UTC"]


def straddling_source(root: Path, sample_files: list[Path]) -> Path:
    """The four sample calls under ``root`` renamed with :data:`STAMPS`, each in its UTC day's folder."""
    for wav, stamp in zip(sample_files, STAMPS, strict=True):
        folder = root / DAY_DIR.parent / stamp[6:8]
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(wav, folder / f"{wav.name.split('_')[0]}_{stamp}.wav")
    return root
