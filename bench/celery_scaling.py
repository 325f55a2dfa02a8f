"""make bench-celery: calls per hour on Airflow's CeleryExecutor with 1 and 2 workers on this machine.

Each measurement is a fresh deployment (tests/celery_support.py: redis-server, PostgreSQL, scheduler,
DAG processor, API server, N Celery workers with their own hostnames) running the DAG for a day of
24 sample calls (6 copies of the 4) in batches of 2, with ``AFTERCALL_WORKERS=1``: each worker then
holds one model and uses one core, the layout of one small machine per worker. Time is from the
trigger to the run's end (discovery, 12 mapped batches, commit, views). Writes bench/celery_results.md.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import soundfile as sf

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.celery_support import celery_airflow, day_of_calls, process_calls_hosts, run_day, servers  # noqa: E402

COPIES = 6
DAY = "2026-11-22"


def measure(workers: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="aftercall-scaling-"))
    try:
        source = day_of_calls(tmp / "recordings", COPIES)
        audio_s = sum(sf.info(str(f)).duration for f in source.rglob("*.wav"))
        settings = {"AFTERCALL_SOURCE": str(source), "AFTERCALL_LAKE": str(tmp / "lake"),
                    "AFTERCALL_BATCH_SIZE": "2", "AFTERCALL_WORKERS": "1"}
        with servers() as urls, celery_airflow(urls, tmp / "airflow", workers, settings, tmp / "logs") as env:
            run, seconds = run_day(env, DAY, f"scaling_{workers}", tmp / "logs")
            hosts = process_calls_hosts(urls["db"], f"scaling_{workers}")
        assert run["state"] == "success", run
        calls = COPIES * 4
        return {"workers": workers, "seconds": seconds, "calls_per_hour": calls / seconds * 3600,
                "x_rt": audio_s / seconds, "hosts": hosts, "calls": calls}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    rows = []
    for workers in (1, 2):
        print(f"  {workers} Celery worker(s) ...", file=sys.stderr, flush=True)
        rows.append(measure(workers))
    base = rows[0]["calls_per_hour"]
    table = ["| Celery workers | wall time, trigger to end | calls per hour | × real time | speed-up | batches per worker |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        table.append(f"| {r['workers']} | {r['seconds']:.0f} s | {r['calls_per_hour']:.0f} | {r['x_rt']:.1f}× | "
                     f"{r['calls_per_hour'] / base:.2f}× | {', '.join(f'{h}: {n}' for h, n in sorted(r['hosts'].items()))} |")
    text = (f"{rows[0]['calls']} calls (sample calls, about 47 s each) in batches of 2, AFTERCALL_WORKERS=1, "
            "worker concurrency 1, default model, this 2-core machine.\n\n" + "\n".join(table) + "\n")
    (HERE / "celery_results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
