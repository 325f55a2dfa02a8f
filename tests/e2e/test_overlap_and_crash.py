"""A night that survives overlap and crashes, proven with the installed CLI as a subprocess.

- Two ``aftercall run --date D`` of one day started together, 20 trials, on a local lake and on an
  S3 lake served by a moto server (``AWS_ENDPOINT_URL``): every trial ends with the day wholly one
  run's in every table, the other run waited and re-committed or stopped with one clear line, and
  ``runs`` shows both attempts.
- ``kill -9`` of a run's process group at 20 random moments (half anywhere in the run, half inside
  its commit): after each, every table of the day is wholly as before or wholly as after; the next
  run completes and marks the killed attempts ``interrupted``.

The two runs differ in every table: run A has two sample calls and their contact trace records,
run B the other two, their records and one broken recording (a ``failures`` row). The "before"
state of the crash test was imported from Transcribe outputs, so it also has turns.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from pipeline.settings import SAMPLES_DIR
from tests.airflow_support import free_port
from tests.conftest import DAY_DIR

pytestmark = pytest.mark.slow

CLI = Path(sys.executable).parent / "aftercall"
DAY = "2026-11-22"
TABLES = ("calls", "turns", "turns_raw", "failures", "call_categories", "contacts", "contact_attributes")
REGION, KMS = "eu-west-1", "arn:aws:kms:eu-west-1:123456789012:key/aftercall-test"
FIXTURES = Path(__file__).parents[1] / "unit" / "aws" / "fixtures"


def _ctr_records() -> list[dict]:
    from pipeline.analytics.ctr import iter_records

    return [r for f in sorted((SAMPLES_DIR / "ctr").rglob("*")) if f.is_file()
            for r in iter_records(f.read_text())]


def _make_run(root: Path, files: list[Path], broken: bool) -> dict[str, str]:
    """A recordings folder with ``files`` (and a broken one) and a CTR folder with only their records."""
    rec = root / "source" / DAY_DIR
    rec.mkdir(parents=True)
    for f in files:
        shutil.copy(f, rec / f.name)
    if broken:
        (rec / "broken0001_20261122T11:00_UTC.wav").write_bytes(b"RIFF\x00\x00\x00\x00not a wave at all")
    ids = {f.name.split("_")[0] for f in files}
    ctr = root / "ctr" / "2026" / "11" / "22" / "10"
    ctr.mkdir(parents=True)
    (ctr / "stream-demo").write_text("".join(json.dumps(r) for r in _ctr_records() if r["ContactId"] in ids))
    return {"AFTERCALL_SOURCE": str(root / "source"), "AFTERCALL_CTR_SOURCE": str(root / "ctr")}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, dict[str, str]]:
    root = tmp_path_factory.mktemp("overlap")
    calls = sorted((SAMPLES_DIR / DAY_DIR).glob("*.wav"))
    return {"A": _make_run(root / "a", calls[:2], broken=False), "B": _make_run(root / "b", calls[2:], broken=True)}


def _env(lake: str, run: dict[str, str], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AFTERCALL_", "AWS_"))}
    env.update(run, AFTERCALL_LAKE=lake, AFTERCALL_TRANSCRIBE="false", AFTERCALL_WORKERS="1", **extra)
    return env


def _start(lake: str, run: dict[str, str], **extra: str) -> subprocess.Popen:
    return subprocess.Popen([str(CLI), "run", "--date", DAY], env=_env(lake, run, **extra), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _finish(proc: subprocess.Popen) -> tuple[int, str]:
    out, err = proc.communicate(timeout=600)
    return proc.returncode, out + err


def _local_signature(lake: Path) -> dict[str, tuple]:
    """What a reader sees of the day, table by table (contact ids; the engine that wrote it)."""
    from pipeline.adapters.duckdb_engine import connect

    con = connect(lake)
    try:
        return {t: tuple(sorted(str(r[0]) for r in con.execute(
            f"select contact_id from {t} where dt = '{DAY}'").fetchall())) for t in TABLES}
    finally:
        con.close()


def _runs(lake: Path) -> list[tuple]:
    from pipeline.adapters.duckdb_engine import query

    return query(f"select attempt_id, status, error from runs where dt = '{DAY}'", lake)[1]


def _check_pair(results: list[tuple[int, str]]) -> None:
    """Each run committed, or stopped with one clear line naming who held the day (never a traceback)."""
    assert any(rc == 0 for rc, _ in results), results
    for rc, text in results:
        assert "Traceback" not in text, text
        if rc != 0:
            errors = [line for line in text.splitlines() if line.startswith("error:")]
            assert len(errors) == 1 and re.search(r"is being written by (run cli__|another process)", errors[0]), text


def test_two_local_runs_of_one_day_at_once_never_mix(runs, tmp_path):
    refs = {}
    for name in ("A", "B"):  # what each run alone leaves
        rc, text = _finish(_start(str(tmp_path / f"ref-{name}"), runs[name]))
        assert rc == 0, text
        refs[name] = _local_signature(tmp_path / f"ref-{name}")
    assert all(refs["A"][t] != refs["B"][t] for t in ("calls", "failures", "contacts", "contact_attributes"))
    lake = tmp_path / "lake"
    winners = []
    for trial in range(20):
        wait = "0" if trial % 2 else "600"  # odd trials: the loser stops at once instead of waiting
        procs = [_start(str(lake), runs[name], AFTERCALL_LOCK_WAIT_S=wait) for name in ("A", "B")]
        results = [_finish(p) for p in procs]
        _check_pair(results)
        seen = _local_signature(lake)
        winner = next((name for name, ref in refs.items() if seen == ref), None)
        assert winner, f"trial {trial}: the day mixes runs: {seen}"
        winners.append(winner)
        attempts = _runs(lake)
        assert len(attempts) == 2 * (trial + 1), attempts  # both attempts of every trial, none overwritten
        statuses = sorted(s for _, s, _ in attempts[-2:])
        assert all(s in ("committed", "refused") for _, s, _ in attempts), attempts
    assert len({a for a, _, _ in _runs(lake)}) == 40
    print("winners:", "".join(winners))


def _import_old_state(lake: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AFTERCALL_", "AWS_"))}
    env["AFTERCALL_LAKE"] = str(lake)
    done = subprocess.run([str(CLI), "import", "--date", DAY, str(FIXTURES / "transcribe_channels.json"),
                           str(FIXTURES / "call_analytics.json")], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def _commit_started(lake: Path) -> bool:
    lock = lake / "_locks" / f"dt={DAY}.lock"
    try:
        return lock.stat().st_size > 0  # the holder writes its name once it holds the day
    except FileNotFoundError:
        return False


def test_kill_9_at_random_moments_leaves_each_table_wholly_old_or_new(runs, tmp_path):
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    pristine = tmp_path / "pristine"
    _import_old_state(pristine)
    old = _local_signature(pristine)
    assert old["turns"] and old["calls"], old
    full = tmp_path / "full"
    shutil.copytree(pristine, full)
    started = time.monotonic()
    proc = _start(str(full), runs["B"])
    while not _commit_started(full) and proc.poll() is None:
        time.sleep(0.002)
    committing = time.monotonic()
    rc, text = _finish(proc)
    whole_run_s, commit_s = time.monotonic() - started, time.monotonic() - committing
    assert rc == 0, text
    new = _local_signature(full)
    assert all(new[t] != old[t] for t in ("calls", "turns", "failures", "contacts")), (old, new)

    lake = tmp_path / "lake"
    outcomes = []
    for trial in range(20):
        shutil.rmtree(lake, ignore_errors=True)
        shutil.copytree(pristine, lake)
        proc = _start(str(lake), runs["B"])
        t0 = time.monotonic()
        if trial % 2:  # inside the commit: from the moment it holds the day
            while not _commit_started(lake) and proc.poll() is None:
                time.sleep(0.002)
            time.sleep(rng.uniform(0, commit_s))
        else:
            time.sleep(rng.uniform(0, whole_run_s))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        seen = _local_signature(lake)
        state = "old" if seen == old else "new" if seen == new else None
        assert state, f"seed {seed}, trial {trial}, killed after {time.monotonic() - t0:.3f} s: mixed day {seen}"
        outcomes.append(state)
        rc, text = _finish(_start(str(lake), runs["B"]))  # the next run completes and cleans up
        assert rc == 0, text
        assert _local_signature(lake) == new
        statuses = [s for _, s, _ in _runs(lake)]
        assert statuses.count("committed") in (1, 2) and "started" not in statuses, statuses
        pointer = json.loads((lake / "_commits" / f"dt={DAY}.json").read_text())
        known = {*pointer["tables"].values(), *(r["file"] for r in pointer["replaced"])}  # replaced: kept an hour
        leftovers = [p for p in lake.rglob("*") if p.name.startswith(".tmp-") or
                     (p.suffix == ".parquet" and p.parent.parent.name != "runs" and p.name not in known)]
        assert not leftovers, leftovers
    print(f"seed {seed}: run {whole_run_s:.2f} s, commit {commit_s:.3f} s; "
          f"{outcomes.count('old')} old, {outcomes.count('new')} new")


@pytest.fixture
def moto_server():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        # moto's backends live in this process: start from an empty account, whatever an earlier test left
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/moto-api/reset", method="POST"),
                               timeout=10).close()
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def _s3_signature(endpoint: str) -> dict[str, tuple]:
    import boto3

    from pipeline.aws.lake import S3Lake
    from pipeline.settings import Settings

    session = boto3.Session(region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    settings = Settings(lake="s3://acme-analytics/aftercall", kms_key_id=KMS, aws_region=REGION)
    lake = S3Lake(settings, session, session.client("glue", endpoint_url=endpoint),
                  session.client("s3", endpoint_url=endpoint))
    return {t: tuple(sorted(str(r["contact_id"]) for r in lake.read_partition(t, DAY).to_pylist())) for t in TABLES}


def test_two_runs_of_one_day_on_s3_at_once_never_mix(runs, moto_server, monkeypatch):
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)  # awswrangler's reads in this process
    kw = dict(endpoint_url=moto_server, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    boto3.client("s3", **kw).create_bucket(Bucket="acme-analytics",
                                           CreateBucketConfiguration={"LocationConstraint": REGION})
    boto3.client("glue", **kw).create_database(DatabaseInput={"Name": "aftercall"})
    aws = dict(AWS_ENDPOINT_URL=moto_server, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION=REGION, AFTERCALL_KMS_KEY_ID=KMS, AFTERCALL_AWS_REGION=REGION)
    lake = "s3://acme-analytics/aftercall"
    refs = {}
    for name in ("A", "B"):
        rc, text = _finish(_start(lake, runs[name], **aws))
        assert rc == 0, text
        refs[name] = _s3_signature(moto_server)
    assert refs["A"]["calls"] != refs["B"]["calls"]
    for trial in range(20):
        wait = "0" if trial % 2 else "600"
        procs = [_start(lake, runs[name], AFTERCALL_LOCK_WAIT_S=wait, **aws) for name in ("A", "B")]
        _check_pair([_finish(p) for p in procs])
        seen = _s3_signature(moto_server)
        assert seen in refs.values(), f"trial {trial}: the day mixes runs: {seen}"
        s3 = boto3.client("s3", **kw)
        glue = boto3.client("glue", **kw)
        for table in ("calls", "contacts"):  # Glue never points at a prefix without its file
            location = glue.get_partition(DatabaseName="aftercall", TableName=table, PartitionValues=[DAY])
            prefix = location["Partition"]["StorageDescriptor"]["Location"].split("acme-analytics/", 1)[1]
            assert s3.list_objects_v2(Bucket="acme-analytics", Prefix=prefix).get("KeyCount"), (trial, table)
    import pyarrow.parquet  # noqa: F401  (runs: every attempt of every trial, plus the two references)
    from pipeline.aws.lake import S3Lake  # noqa: F401

    session = boto3.Session(region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    keys = [o["Key"] for page in session.client("s3", endpoint_url=moto_server).get_paginator("list_objects_v2")
            .paginate(Bucket="acme-analytics", Prefix=f"aftercall/runs/dt={DAY}/attempts/") for o in page["Contents"]]
    assert len(keys) == 2 + 40
    assert not [k for k in s3.list_objects_v2(Bucket="acme-analytics", Prefix="aftercall/_locks/").get("Contents", [])]
