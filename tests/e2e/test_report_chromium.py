"""The HTML report opened in a real headless Chromium: every chart rendered, no console error, a screenshot."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.dashboard import load_dashboard
from pipeline.report import write_report

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"  # make test installs Debian's chromium
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--enable-logging=stderr", "--v=0"]


def chromium(page: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()],
                          capture_output=True, text=True, timeout=120, check=True)


def console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "CONSOLE" in line and ("Uncaught" in line or "rror" in line)]


def test_console_errors_are_seen(tmp_path):
    """The check below would catch a broken page: a page that throws shows up in the log."""
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><script>undefinedFunction()</script></body></html>")
    assert console_errors(chromium(broken, tmp_path, "--dump-dom").stderr)


def test_report_renders_every_chart_without_console_errors(transcribed_lake, tmp_path):
    lake, _ = transcribed_lake
    page = write_report(str(lake), tmp_path / "report.html")
    assert "http://" not in page.read_text() and "https://" not in page.read_text()  # self-contained
    dom = chromium(page, tmp_path, "--dump-dom")
    assert not console_errors(dom.stderr), console_errors(dom.stderr)
    visuals = [v for s in load_dashboard().sheets for v in s.visuals]
    assert re.search(r'data-ready="yes"', dom.stdout), "the page's script did not finish"
    assert f'data-charts="{len(visuals)}"' in dom.stdout
    cards = re.findall(r'<div class="card" data-visual="(\w+)">(.*?)</div>(?=<div class="card"|</div></section>)',
                       dom.stdout, flags=re.S)
    assert [kind for kind, _ in cards] == [v.type for v in visuals]
    for kind, body in cards:
        if kind == "line":
            assert "<circle" in body
        elif kind == "bar":
            assert "<rect" in body
        elif kind == "table":
            assert body.count("<tr>") >= 2
        else:
            assert re.search(r'class="chart kpi"[^>]*>[^<–]+<', body)
    shot = tmp_path / "report.png"
    chromium(page, tmp_path, "--window-size=1280,2600", "--hide-scrollbars", f"--screenshot={shot}")
    assert shot.stat().st_size > 20_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
