"""`make bench-scale`, part 1: the AWS engine on a moto server, a day of N short calls (default 10,000) through the
DAG on a real scheduler (``airflow standalone``, LocalExecutor), with the account's default quotas enforced by
the server (tests/aws_player.py: 250 concurrent jobs, 25 starts a second, 10 Comprehend calls a second).

Writes ``bench/scale/aws.md`` and ``bench/scale/aws.json``.

    .venv/bin/python bench/scale_aws.py [--calls 10000] [--tasks 5] [--job-s 5] [--poll-s 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.aws_scale import CALL_S, run_day_on_airflow  # noqa: E402

OUT = ROOT / "bench" / "scale"
GROUPS = {  # what the issue asks to count, by API
    "S3 List": ["s3:ListObjectsV2", "s3:ListObjects"], "S3 Get/Head": ["s3:GetObject", "s3:HeadObject"],
    "S3 Put": ["s3:PutObject", "s3:CreateMultipartUpload", "s3:UploadPart", "s3:CompleteMultipartUpload"],
    "S3 Delete": ["s3:DeleteObject", "s3:DeleteObjects"],
    "Transcribe Start": ["transcribe:StartTranscriptionJob", "transcribe:StartCallAnalyticsJob"],
    "Transcribe Get": ["transcribe:GetTranscriptionJob", "transcribe:GetCallAnalyticsJob"],
    "Comprehend BatchDetectSentiment": ["comprehend:BatchDetectSentiment"],
}


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=5, help="pool slots = AFTERCALL_AWS_TASKS")
    parser.add_argument("--quota-jobs", type=int, default=250)
    parser.add_argument("--quota-tps", type=float, default=25)
    parser.add_argument("--comprehend-tps", type=float, default=10)
    parser.add_argument("--job-s", type=float, default=5.0, help="the player's job turnaround")
    parser.add_argument("--poll-s", type=float, default=5.0, help="AFTERCALL_TRANSCRIBE_POLL_S")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--render-only", action="store_true", help="rewrite aws.md from the last aws.json")
    args = parser.parse_args()
    if args.render_only:
        results = json.loads((OUT / "aws.json").read_text())
        for key in ("calls", "tasks", "job_s", "poll_s"):
            setattr(args, key.replace("-", "_"), results[key])
        args.quota_jobs, args.quota_tps = results["player"]["quota_jobs"], results["player"]["quota_start_tps"]
        args.comprehend_tps = results["player"]["quota_comprehend_tps"]
        (OUT / "aws.md").write_text(render(results, args))
        print(render(results, args))
        return 0
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="aftercall-scale-aws-") as tmp:
        day = run_day_on_airflow(Path(tmp), calls=args.calls, quota_jobs=args.quota_jobs, quota_tps=args.quota_tps,
                                 comprehend_tps=args.comprehend_tps, tasks=args.tasks, batch_size=args.batch_size,
                                 parallelism=args.tasks + 3, job_s=args.job_s, poll_s=args.poll_s,
                                 timeout=6 * 3600)
    per_k = {group: round(sum(day.api_calls.get(op, 0) for op in ops) * 1000 / args.calls, 1)
             for group, ops in GROUPS.items()}
    glue = sum(v for k, v in day.api_calls.items() if k.startswith("glue:"))
    athena = sum(v for k, v in day.api_calls.items() if k.startswith("athena:"))
    per_k["Glue (all)"] = round(glue * 1000 / args.calls, 2)
    per_k["Athena (all)"] = round(athena * 1000 / args.calls, 2)
    results = {"calls": args.calls, "call_s": CALL_S, "state": day.state, "processed": day.processed,
               "quarantined": day.quarantined, "retried_tasks": len(day.retried_tasks), "wall_s": round(day.wall_s, 1),
               "calls_per_hour": round(args.calls / day.wall_s * 3600), "tasks": args.tasks,
               "peak_rss_mb_per_task": {"max": max(day.peak_rss_mb, default=0), "count": len(day.peak_rss_mb),
                                        "median": sorted(day.peak_rss_mb)[len(day.peak_rss_mb) // 2] if day.peak_rss_mb else 0},
               "player": day.player, "api_calls": dict(day.api_calls), "api_per_1000_calls": per_k,
               "job_s": args.job_s, "poll_s": args.poll_s, "load_at_start": load, "cpu": cpu_model(),
               "nproc": os.cpu_count()}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "aws.json").write_text(json.dumps(results, indent=2) + "\n")
    (OUT / "aws.md").write_text(render(results, args))
    print(render(results, args))
    return 0 if day.state == "success" and day.processed == args.calls else 1


def render(r: dict, args) -> str:
    p = r["player"]
    comprehend_per_call = round(r["api_calls"].get("comprehend:BatchDetectSentiment", 0) / max(r["calls"], 1), 2) or 1
    quota_bound_start = args.quota_tps * 3600
    bound_jobs = lambda turnaround: round(args.quota_jobs * 3600 / turnaround)  # noqa: E731
    lines = [
        "## 1. AWS engine on moto: a day of {:,} calls through the DAG".format(r["calls"]), "",
        f"`.venv/bin/python bench/scale_aws.py --calls {r['calls']} --tasks {args.tasks} --job-s {args.job_s:g} "
        f"--poll-s {args.poll_s:g}` · {r['nproc']} cores ({r['cpu']}), load at start "
        f"{' / '.join(f'{x:.2f}' for x in r['load_at_start'])}", "",
        "`airflow standalone` (real scheduler, LocalExecutor, parallelism = pool slots + 3) against a moto server in "
        "the bench's process that enforces the account's quotas (tests/aws_player.py); calls are "
        f"{r['call_s']:g} s of real stereo speech, each job completes {args.job_s:g} s after its start.", "",
        "| measure | value |", "|---|---|",
        f"| DAG run | {r['state']} |",
        f"| calls processed / quarantined | {r['processed']:,} / {r['quarantined']} |",
        f"| batches (tasks) retried | {r['retried_tasks']} |",
        f"| wall time, backfill created → run finished | {r['wall_s']:,.0f} s ({r['calls_per_hour']:,} calls/hour) |",
        f"| pool slots = `AFTERCALL_AWS_TASKS` | {r['tasks']} |",
        f"| peak RSS per `process_calls` task | median {r['peak_rss_mb_per_task']['median']:.0f} MB, "
        f"max {r['peak_rss_mb_per_task']['max']:.0f} MB ({r['peak_rss_mb_per_task']['count']} tasks) |",
        f"| quota: concurrent jobs | {p['quota_jobs']}; most in flight seen by the service: {p['max_in_flight']} |",
        f"| quota: starts a second | {p['quota_start_tps']:g} |",
        f"| quota: Comprehend calls a second | {p['quota_comprehend_tps']:g} |",
        f"| requests the service refused (LimitExceeded / Throttling) | {sum(p['refused'].values())} {p['refused'] or ''} |",
        "", "API calls made by the tasks (botocore, one per call before its own retries), per 1,000 calls:", "",
        "| API | per 1,000 calls |", "|---|---|",
        *[f"| {k} | {v:g} |" for k, v in r["api_per_1000_calls"].items()],
        "", "The bound the quotas set (what no number of workers can beat):", "",
        "| quota | bound |", "|---|---|",
        f"| {args.quota_tps:g} starts a second | {quota_bound_start:,.0f} calls/hour |",
        f"| {args.quota_jobs} jobs in flight, turnaround {args.job_s:g} s (this bench) | {bound_jobs(args.job_s):,} calls/hour |",
        *[f"| {args.quota_jobs} jobs in flight, turnaround {t} s (assumed for a 5-minute call) | {bound_jobs(t):,} calls/hour |"
          for t in (60, 120, 300)],
        f"| {args.comprehend_tps:g} BatchDetectSentiment a second, {comprehend_per_call:g} per call here | "
        f"{args.comprehend_tps * 3600 / comprehend_per_call:,.0f} calls/hour |",
        f"| {args.comprehend_tps:g} BatchDetectSentiment a second, 3 per call (a 5-minute call: ~60 turns, 25 a "
        f"request) | {args.comprehend_tps * 3600 / 3:,.0f} calls/hour |",
        f"| achieved here | {r['calls_per_hour']:,} calls/hour |", "",
        "Here the Comprehend rate is the binding quota (each task paces its calls at its share); on real calls "
        "Transcribe's turnaround usually is. Both are per account: more workers would not raise either bound.", "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
