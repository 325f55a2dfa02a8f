"""Idempotent days and crash safety of the local lake."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from pipeline.adapters.duckdb_engine import query
from pipeline.exceptions import LakeError
from pipeline.lake import LocalLake
from pipeline.run import run_day
from tests.conftest import DEMO_DAY, make_settings


def _count(lake, table="calls"):
    return query(f"select count(*) from {table}", lake)[1][0][0]


def test_rerunning_a_day_replaces_its_rows(source, tmp_path):
    settings = make_settings(source, tmp_path / "lake", transcribe=False, workers=1)
    first = run_day(settings, DEMO_DAY)
    run_day(settings, DEMO_DAY)
    run_day(settings, DEMO_DAY)
    assert _count(settings.lake) == len(first.calls) == 4
    assert query("select count(distinct contact_id) from calls", settings.lake)[1][0][0] == 4


def test_a_day_that_lost_recordings_loses_their_rows(source, tmp_path):
    settings = make_settings(source, tmp_path / "lake", transcribe=False, workers=1)
    run_day(settings, DEMO_DAY)
    sorted(source.rglob("*.wav"))[0].unlink()
    run_day(settings, DEMO_DAY)
    assert _count(settings.lake) == 3


def test_two_days_are_two_partitions(source, tmp_path):
    import shutil
    from datetime import date

    day2 = source / "connect/acme-demo/CallRecordings/2026/11/23"
    shutil.copytree(source / "connect/acme-demo/CallRecordings/2026/11/22", day2)
    settings = make_settings(source, tmp_path / "lake", transcribe=False, workers=1)
    run_day(settings, DEMO_DAY)
    run_day(settings, date(2026, 11, 23))
    rows = query("select dt, count(*) from calls group by dt order by dt", settings.lake)[1]
    assert rows == [("2026-11-22", 4), ("2026-11-23", 4)]


def test_crash_while_writing_keeps_the_previous_partition(source, tmp_path, monkeypatch):
    settings = make_settings(source, tmp_path / "lake", transcribe=False, workers=1)
    run_day(settings, DEMO_DAY)
    before = query("select * from calls order by contact_id", settings.lake)

    real_write = pq.write_table

    def write_half_then_die(table, where, **kw):
        real_write(table.slice(0, 1), where, **kw)  # a partial file exists on disk...
        raise OSError("No space left on device")  # ...then the process fails

    monkeypatch.setattr(pq, "write_table", write_half_then_die)
    with pytest.raises(LakeError, match="No space left"):
        run_day(settings, DEMO_DAY)
    monkeypatch.undo()
    assert query("select * from calls order by contact_id", settings.lake) == before
    partition = LocalLake(settings.lake).partition_dir("calls", DEMO_DAY)
    assert [p.name for p in partition.iterdir()] == ["part-00000.parquet"]


def test_crash_between_write_and_switch_is_invisible_and_cleaned_up(source, tmp_path, monkeypatch):
    settings = make_settings(source, tmp_path / "lake", transcribe=False, workers=1)
    run_day(settings, DEMO_DAY)
    import os

    def die(*a, **kw):
        raise KeyboardInterrupt  # killed right before the rename: the temporary file stays behind

    monkeypatch.setattr(os, "replace", die)
    with pytest.raises(KeyboardInterrupt):
        run_day(settings, DEMO_DAY)
    monkeypatch.undo()
    partition = LocalLake(settings.lake).partition_dir("calls", DEMO_DAY)
    assert any(p.name.startswith(".tmp-") for p in partition.iterdir())
    assert _count(settings.lake) == 4  # readers ignore the leftover
    run_day(settings, DEMO_DAY)
    assert [p.name for p in partition.iterdir()] == ["part-00000.parquet"]


def test_an_empty_day_writes_empty_partitions(tmp_path):
    (tmp_path / "src").mkdir()
    settings = make_settings(tmp_path / "src", tmp_path / "lake", transcribe=False)
    result = run_day(settings, DEMO_DAY)
    assert result.calls == [] and result.failures == []
    assert _count(settings.lake) == 0
