"""Nothing depends on the wall clock: the date-sensitive tiers pass again with the clock a month ahead.

Runs the unit and DAG tiers and the real-scheduler backfill in a child pytest with libfaketime
preloaded, which moves the wall clock of every process started under it: Python, the Airflow
scheduler, its task processes and their worker pools. The build is the one the ``libfaketime``
package ships: Debian's 0.9.10 makes Python 3.11's ``time.sleep`` fail with EINVAL when the
monotonic clock is left alone, and lock timeouts hang when it is moved too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
MOVED = "+31d"  # libfaketime's relative offset: 31 days ahead


def moved_clock_env(offset: str = MOVED) -> dict[str, str]:
    """The environment that runs a command with the wall clock moved by ``offset`` (timeouts stay real)."""
    import libfaketime

    lib = Path(libfaketime.__file__).parent / "vendor" / "libfaketime" / "src" / "libfaketime.so.1"
    assert lib.exists(), lib
    return {**{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AFTERCALL_", "PYTEST"))},
            "LD_PRELOAD": str(lib), "FAKETIME": offset, "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "DONT_FAKE_MONOTONIC": "1", "FAKETIME_NO_CACHE": "1"}


def test_the_suite_passes_with_the_clock_a_month_ahead(tmp_path):
    env = moved_clock_env()
    probe = subprocess.run([sys.executable, "-c",
                            "import datetime; print(datetime.date.today().isoformat())"],
                           capture_output=True, text=True, env=env, timeout=60)
    real = subprocess.run([sys.executable, "-c", "import datetime; print(datetime.date.today().isoformat())"],
                          capture_output=True, text=True, timeout=60)
    assert probe.stdout.strip() > real.stdout.strip(), (probe.stdout, probe.stderr, real.stdout)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--basetemp", str(tmp_path / "inner"), "tests/unit", "tests/dags",
         "tests/e2e/test_airflow_standalone.py"],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=1800)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
