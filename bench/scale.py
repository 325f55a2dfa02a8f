"""`make bench-scale`: what 10,000 calls a day and 90 days of history cost, written to ``bench/scale.md``.

Runs the parts, each of which leaves its section in ``bench/scale/<part>.md`` and its numbers in
``bench/scale/<part>.json``, then builds the capacity table from their numbers and joins everything:

1. ``bench/scale_aws.py``   the AWS engine on a moto server that enforces the account's quotas;
2. ``bench/scale_local.py`` the local engine: 10,000 calls acoustic only, a sample with transcription, long calls;
3. ``bench/scale_lake.py``  90 days × 10,000 calls of lake: views, report, recategorize;
4. capacity: cores for 1k / 10k / 50k calls a day from the measured per-core throughput, AWS cost per 1,000 calls.

    .venv/bin/python bench/scale.py                 # every part (about an hour on 2 cores)
    .venv/bin/python bench/scale.py --only capacity # rebuild scale.md from the parts' last results
    .venv/bin/python bench/scale.py --only lake     # one part again
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "scale"
PARTS = {"aws": "scale_aws.py", "local": "scale_local.py", "lake": "scale_lake.py"}
CALL_MIN = 5.0  # the average call length the capacity table assumes (say so wherever it is used)
DAY_WINDOW_H = 8.0  # an overnight window: the day's calls must be done by morning


def _load(part: str) -> dict | None:
    path = OUT / f"{part}.json"
    return json.loads(path.read_text()) if path.exists() else None


def capacity() -> str:
    sys.path.insert(0, str(ROOT))
    from pipeline.aws.comprehend import MIN_UNITS, UNIT_CHARS
    from pipeline.settings import Settings

    local, aws = _load("local"), _load("aws")
    prices = Settings()
    lines = ["## 4. Capacity: cores a daily volume needs, and what the AWS engine costs", ""]
    # The transcribed sample measured on the quietest machine (other work slows a shared 2-core box: each run
    # records its load), and the acoustic day likewise.
    runs = (local or {}).get("runs", {})
    sample_runs = [(r["transcribed_sample"]["load_avg_start"][0], label, r["transcribed_sample"])
                   for label, r in runs.items() if "transcribed_sample" in r and label != "before"]
    day_runs = [(r["acoustic_day"].get("load_avg_start", [9])[0], label, r["acoustic_day"])
                for label, r in runs.items() if "acoustic_day" in r and label != "before"]
    speech = acoustic = None
    if sample_runs:
        load, label, sample = min(sample_runs, key=lambda x: x[0])
        speech = sample["audio_s_per_wall_s_per_core"]
        worker_gb = sample["peak_rss_worker_mb"] / 1024
    if day_runs:
        _, _, day = min(day_runs, key=lambda x: x[0])
        acoustic = day.get("x_real_time", 0) / max(day.get("workers", 2), 1) or None
    if speech:
        lines += [f"From part 2's measured throughput on this machine, per core (one worker process each): speech to "
                  f"text with the default model (Whisper base, beam 1) at **{speech:.1f}× real time** (run "
                  f"'{label}', load {load:.2f} at its start, {worker_gb:.2f} GB per worker)"
                  + (f", acoustic metrics alone at {acoustic:,.0f}× real time" if acoustic else "") + ". "
                  f"Calls are assumed to last {CALL_MIN:g} minutes on average; cores are rounded up.", "",
                  "| calls a day | audio a day | cores for an 8 h night | cores for 24 h | cores, acoustic only (8 h) |",
                  "|---|---|---|---|---|"]
        for calls in (1_000, 10_000, 50_000):
            audio_s = calls * CALL_MIN * 60
            night = math.ceil(audio_s / (speech * DAY_WINDOW_H * 3600))
            full = math.ceil(audio_s / (speech * 24 * 3600))
            quiet = math.ceil(audio_s / (acoustic * DAY_WINDOW_H * 3600)) if acoustic else "—"
            lines.append(f"| {calls:,} | {audio_s / 3600:,.0f} h | {night} | {full} | {quiet} |")
        need = 10_000 * CALL_MIN * 60 / (DAY_WINDOW_H * 3600 * 8)
        hours = 10_000 * CALL_MIN * 60 / (speech * 8) / 3600
        lines += ["", "Memory: one model process per core (part 2 gives its peak RSS); the commit is one task per day.", "",
                  f"Overnight on one 8-core machine: 10,000 calls of {CALL_MIN:g} minutes need {need:.1f}× real time per "
                  f"core (call time, both channels in one pass); measured {speech:.1f}×, so about {hours:.1f} h, "
                  "extrapolated from 2 cores and short espeak calls (unchanged model and word error rate).", ""]
    else:
        lines += ["(part 2 has not been run: no measured per-core throughput yet)", ""]
    minutes = CALL_MIN
    transcribe = minutes * prices.price_transcribe_minute * 1000
    analytics = minutes * prices.price_call_analytics_minute * 1000
    # Comprehend: a 5-minute call has about 60 turns (the sample calls: one turn every 5 s); each turn is billed
    # per 100 characters with a 3-unit minimum.
    turns, chars = 60, 80
    units = turns * max(MIN_UNITS, math.ceil(chars / UNIT_CHARS))
    comprehend = units * prices.price_comprehend_unit * 1000
    per_k = (aws or {}).get("api_per_1000_calls", {})
    s3_requests = sum(v for k, v in per_k.items() if k.startswith("S3"))
    s3_cost = s3_requests * 0.005 / 1000  # PUT/LIST price dominates; GETs are cheaper
    lines += [f"AWS engine, per 1,000 calls of {minutes:g} minutes (list prices in settings, us-east-1; "
              "docs/aws.md \"Costs\"):", "",
              "| item | per 1,000 calls |", "|---|---|",
              f"| Transcribe, standard batch (${prices.price_transcribe_minute}/min) | ${transcribe:,.2f} |",
              f"| or Transcribe Call Analytics (${prices.price_call_analytics_minute}/min) | ${analytics:,.2f} |",
              f"| Comprehend sentiment (~{turns} turns × {MIN_UNITS} units × ${prices.price_comprehend_unit}) | "
              f"${comprehend:,.2f} |",
              f"| S3 requests ({s3_requests:,.0f} per 1,000 calls measured in part 1, at the PUT price as an upper bound) "
              f"| ${s3_cost:,.2f} |",
              f"| **total, standard** | **${transcribe + comprehend + s3_cost:,.2f}** |", "",
              "Workers on the AWS engine mostly wait for jobs; one or two cores carry 10,000 calls a day (part 1 ran "
              "them on 2), and the account's quotas, not cores, set the ceiling (part 1's bound table).", ""]
    return "\n".join(lines)


def targets() -> str:
    """Issue #22's targets beside the measured numbers (from the parts' JSON; a part not run shows a dash)."""
    aws, local, lake = _load("aws") or {}, _load("local") or {}, _load("lake") or {}
    after = local.get("runs", {}).get("after", {})
    day = after.get("acoustic_day", {})
    long4 = [c for c in after.get("long_calls", []) if c.get("hours") == 4.0 and c.get("transcribe")]
    views = lake.get("results", {}).get("views", {})
    one_day = max((v["query_s"] + v.get("connect_s", 0) for k, v in views.items() if k.endswith(":day")), default=None)
    cli = lake.get("results", {}).get("cli", {})

    def cell(value, fmt: str) -> str:
        return "—" if value is None else format(value, fmt)

    def met(ok) -> str:
        return "—" if ok is None else ("yes" if ok else "**no**")

    refused = sum(aws.get("player", {}).get("refused", {}).values()) if aws else None
    rows = [
        ("AWS engine, 10,000 calls under the account's quotas: requests refused, batches retried",
         f"{cell(refused, 'd')} refused, {cell(aws.get('retried_tasks'), 'd')} retried, "
         f"{cell(aws.get('quarantined'), 'd')} quarantined", "0", met(aws and refused == 0 and not aws.get("retried_tasks"))),
        ("local day of 10,000 calls, acoustic only: calls/minute", cell(day.get("calls_per_min"), ",.0f"), "≥ 600",
         met(day and day["calls_per_min"] >= 600)),
        ("same: peak RSS, whole process tree", cell(day.get("peak_rss_tree_mb"), ",.0f") + " MB", "≤ 2 GB",
         met(day and day["peak_rss_tree_mb"] <= 2048)),
        ("4 h call with transcription: peak RSS of the worker",
         cell(long4[0]["peak_rss_worker_mb"] if long4 else None, ",.0f") + " MB", "≤ 1.5 GB",
         met(long4 and long4[0]["peak_rss_worker_mb"] <= 1536 and not long4[0].get("capped"))),
        ("one-day query of each view over 90 days (slowest view, connect + query)", cell(one_day, ".2f") + " s", "≤ 2 s",
         met(one_day is not None and one_day <= 2)),
        ("`aftercall report`, one day over 90 days of lake", cell(cli.get("report_day", {}).get("wall_s"), ".1f") + " s",
         "≤ 60 s", met(cli.get("report_day") and cli["report_day"]["wall_s"] <= 60)),
        ("`aftercall report`, 90 days: wall time", cell(cli.get("report_range", {}).get("wall_s"), ".1f") + " s",
         "≤ 60 s", met(cli.get("report_range") and cli["report_range"]["wall_s"] <= 60)),
        ("`aftercall report`, 90 days: peak RSS", cell(cli.get("report_range", {}).get("peak_rss_mb"), ".0f") + " MB",
         "≤ 100 MB", met(cli.get("report_range") and cli["report_range"]["peak_rss_mb"] <= 100)),
    ]
    lines = ["## Targets (issue #22) and what was measured", "", "| target | measured | goal | met |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=[*PARTS, "capacity"], action="append",
                        help="run only these parts (repeatable); the others' last results are reused")
    args = parser.parse_args()
    todo = [p for p in PARTS if not args.only or p in args.only]
    failed = []
    for part in todo:
        print(f"=== part {part}: bench/{PARTS[part]}", flush=True)
        if subprocess.run([sys.executable, str(ROOT / "bench" / PARTS[part])], cwd=ROOT).returncode:
            failed.append(part)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "capacity.md").write_text(capacity())
    sections = []
    for number, part in enumerate((*PARTS, "capacity"), start=1):
        path = OUT / f"{part}.md"
        text = path.read_text().strip() if path.exists() else f"## {part}\n\n(not run yet: " \
            f"`.venv/bin/python bench/scale.py --only {part}`)"
        if text.startswith("## ") and not text.startswith(f"## {number}."):  # the four tables, numbered as the issue
            text = f"## {number}. {text[3:]}"
        sections.append(text)
    header = ("# Scale: 10,000 calls a day, account quotas, 90 days of history\n\n"
              "Made by `make bench-scale` (`bench/scale.py`); each section says the command that made it, the machine "
              "and its load. Speed and memory targets are checked here, never by timed tests.\n")
    (ROOT / "bench" / "scale.md").write_text(header + "\n" + targets() + "\n" + "\n\n".join(sections) + "\n")
    print((ROOT / "bench" / "scale.md").read_text())
    if failed:
        print(f"parts that failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
