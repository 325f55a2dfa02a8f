"""A day of many calls on the AWS engine, as users run it: ``airflow standalone`` (a real scheduler, LocalExecutor)
against a moto server whose Transcribe and Comprehend enforce an account's quotas (:mod:`tests.aws_player`).

Shared by the quota test (``tests/e2e/test_aws_quotas.py``, a few hundred calls) and ``make bench-scale``
(``bench/scale_aws.py``, 10,000). Every botocore call the Airflow tasks make is recorded by type
(``tests/e2e/aws_calls``); each ``process_calls`` task logs its peak RSS.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import boto3
import numpy as np
import soundfile as sf

from pipeline.settings import SAMPLES_DIR
from tests.airflow_support import AIRFLOW, DAG_ID, ROOT, cli, free_port, list_runs, stop_all, wait_for, wait_until_up
from tests.aws_player import Player, moto_server_with_player

REGION, ACCOUNT = "eu-west-1", "123456789012"
KMS = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/aftercall-scale"
SOURCE, LAKE = "acme-connect-recordings", "acme-analytics"
RECORDER = ROOT / "tests" / "e2e" / "aws_calls"
CALL_S = 3.0  # each call: 3 s of a real sample call's stereo audio (Transcribe bills 15 s minimum)


@dataclass
class DayOnAws:
    state: str
    calls: int
    processed: int
    quarantined: int
    failure_reasons: list[str]
    retried_tasks: list[str]  # task logs of a second attempt: a batch that failed once
    player: dict
    api_calls: Counter  # "service:Operation" -> calls made by the tasks (botocore, before its retries)
    peak_rss_mb: list[float]  # per process_calls task
    wall_s: float  # from the backfill's creation to the run's end
    log: Path


def _client(service: str, endpoint: str):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def _calls(n: int) -> list[tuple[str, bytes]]:
    """``n`` distinct short stereo calls (real speech from a sample call; one sample differs, so does every ETag)."""
    sample = sorted(SAMPLES_DIR.rglob("*.wav"))[0]
    audio, rate = sf.read(sample, dtype="int16", always_2d=True)
    clip = audio[int(rate * 2.0): int(rate * (2.0 + CALL_S))]
    out = []
    for i in range(n):
        x = clip.copy()
        x[0, 0], x[0, 1] = i % 30000, i // 30000
        buffer = io.BytesIO()
        sf.write(buffer, x, rate, format="WAV", subtype="PCM_16")
        contact = f"{i:08x}-5ca1-4e00-8000-{i:012x}"
        out.append((f"{contact}_20261122T{9 + i % 10:02d}:{i % 60:02d}_UTC.wav", buffer.getvalue()))
    return out


def run_day_on_airflow(tmp: Path, *, calls: int, quota_jobs: int, quota_tps: float, comprehend_tps: float,
                       tasks: int, batch_size: int, parallelism: int, job_s: float = 2.0, poll_s: float = 1.0,
                       timeout: float = 1800.0, day: date = date(2026, 11, 22)) -> DayOnAws:
    """Process ``calls`` recordings of ``day`` through the DAG, with ``tasks`` pool slots sharing the quotas."""
    player = Player(jobs=quota_jobs, start_tps=quota_tps, comprehend_tps=comprehend_tps, job_s=job_s)
    with moto_server_with_player(player, lambda endpoint: _client("s3", endpoint), KMS) as endpoint:
        s3 = _client("s3", endpoint)
        for bucket in (SOURCE, LAKE):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        folder = f"connect/acme/CallRecordings/{day:%Y/%m/%d}"
        for name, body in _calls(calls):
            s3.put_object(Bucket=SOURCE, Key=f"{folder}/{name}", Body=body)
        home, port = tmp / "airflow", free_port()
        home.mkdir()
        recorded = tmp / "aws-calls.jsonl"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AFTERCALL_", "AWS_"))},
            "PATH": f"{Path(AIRFLOW).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": str(RECORDER), "AFTERCALL_TEST_AWS_CALLS": str(recorded),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            # More task slots than the pool has: only the pool keeps the tasks within the account's quotas.
            "AIRFLOW__CORE__PARALLELISM": str(parallelism),
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(parallelism),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1", "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AFTERCALL_ENGINE": "aws", "AFTERCALL_SOURCE": f"s3://{SOURCE}/connect",
            "AFTERCALL_LAKE": f"s3://{LAKE}/aftercall", "AFTERCALL_KMS_KEY_ID": KMS, "AFTERCALL_AWS_REGION": REGION,
            "AFTERCALL_AWS_TASKS": str(tasks), "AFTERCALL_TRANSCRIBE_QUOTA_JOBS": str(quota_jobs),
            "AFTERCALL_TRANSCRIBE_QUOTA_TPS": str(quota_tps), "AFTERCALL_COMPREHEND_QUOTA_TPS": str(comprehend_tps),
            "AFTERCALL_TRANSCRIBE_POLL_S": str(poll_s), "AFTERCALL_BATCH_SIZE": str(batch_size),
            "AFTERCALL_RETRY_DELAY_S": "5",
        }
        quiet = {k: v for k, v in env.items() if k != "AFTERCALL_TEST_AWS_CALLS"}  # count the night's calls only
        setup = subprocess.run([str(Path(sys.executable).parent / "aftercall"), "setup"], env=quiet,
                               capture_output=True, text=True, timeout=300)
        assert setup.returncode == 0, setup.stdout + setup.stderr
        log = tmp / "standalone.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([AIRFLOW, "standalone"], env=env, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            wait_until_up("airflow standalone", env, port, log, proc, 240)
            pool = cli(env, "pools", "set", "aftercall_aws", str(tasks), "aftercall: tasks sharing the AWS quotas")
            assert pool.returncode == 0, pool.stderr
            began = time.monotonic()
            backfill = ("backfill", "create", "--dag-id", DAG_ID, "--from-date", str(day), "--to-date", str(day))

            def created():
                result = cli(env, *backfill)
                if result.returncode == 0 or any(r["run_id"].startswith("backfill__") for r in list_runs(env)):
                    return True
                assert "database is locked" in result.stderr, result.stderr[-3000:]
                return False

            wait_for("the backfill to be created", created, 120, log, every=3)
            assert cli(env, "dags", "unpause", DAG_ID).returncode == 0

            def finished():
                ours = [r for r in list_runs(env) if r["run_id"].startswith("backfill__")]
                return ours[0] if ours and ours[0]["state"] in ("success", "failed") else None

            run = wait_for(f"the day of {calls} calls to finish", finished, timeout, log, every=5)
            wall = time.monotonic() - began
        finally:
            stop_all(proc, home)
        from pipeline.settings import Settings
        from pipeline.wiring import build_lake

        reading = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        saved = {k: os.environ.get(k) for k in reading}
        os.environ.update(reading)  # this process reads the lake as the tasks wrote it
        try:
            lake = build_lake(Settings(engine="aws", source=f"s3://{SOURCE}/connect", lake=f"s3://{LAKE}/aftercall",
                                       kms_key_id=KMS, aws_region=REGION))
            processed = lake.read_partition("calls", day).num_rows
            failures = lake.read_partition("failures", day).to_pylist()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    task_logs = sorted((home / "logs").rglob("*.log"))
    retried = [str(p.relative_to(home)) for p in task_logs if re.search(r"attempt=([2-9])", str(p))]
    rss = [float(m) for p in task_logs if "task_id=process_calls" in str(p)
           for m in re.findall(r"peak RSS (\d+(?:\.\d+)?) MB", p.read_text(errors="replace"))]
    api = Counter()
    if recorded.exists():
        for line in recorded.read_text().splitlines():
            call = json.loads(line)
            api[f"{call['service']}:{call['operation']}"] += 1
    return DayOnAws(run["state"], calls, processed, len(failures), [f"{f['stage']}: {f['error']}" for f in failures],
                    retried, player.summary(), api, rss, wall, log)
