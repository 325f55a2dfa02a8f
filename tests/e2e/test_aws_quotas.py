"""The account's quotas, shared by every task: a day of 600 calls through the DAG on a real scheduler, against a moto
server that plays an account allowed 50 concurrent Transcribe jobs, 5 job starts a second and 10 Comprehend
calls a second, answering LimitExceededException / ThrottlingException above them (tests/aws_player.py).

The scheduler could run 4 ``process_calls`` tasks at once (parallelism 4) and each holds up to its share of jobs:
only the pool ``aftercall_aws`` (2 slots = ``AFTERCALL_AWS_TASKS``) keeps the tasks within the quota together.
"""

from __future__ import annotations

import pytest

from tests.aws_scale import run_day_on_airflow

pytestmark = pytest.mark.slow


def test_a_600_call_day_stays_within_the_account_quotas_and_loses_nothing(tmp_path):
    day = run_day_on_airflow(tmp_path, calls=600, quota_jobs=50, quota_tps=5, comprehend_tps=10, tasks=2,
                             batch_size=50, parallelism=4, job_s=2.0, poll_s=1.0, timeout=1500)
    tail = "\n".join(day.log.read_text(errors="replace").splitlines()[-40:])
    assert day.state == "success", tail
    assert (day.processed, day.quarantined) == (600, 0), day.failure_reasons[:5]
    assert day.retried_tasks == [], day.retried_tasks  # no batch failed, not even once
    player = day.player
    assert player["refused"] == {}, player  # the service never had to refuse a start or a Comprehend call
    assert player["jobs_started"] == 600 and 0 < player["max_in_flight"] <= 50, player
    assert day.api_calls["transcribe:StartTranscriptionJob"] == 600, day.api_calls
    assert day.api_calls["comprehend:BatchDetectSentiment"] >= 600, day.api_calls
    assert len(day.peak_rss_mb) == 12 and all(mb > 0 for mb in day.peak_rss_mb), day.peak_rss_mb
