"""Idempotent days and crash safety of the local lake."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from pipeline.adapters.duckdb_engine import query
from pipeline.exceptions import LakeError
from pipeline.lake.tables import LocalLake
from pipeline.steps.run import run_day
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


def _committed(settings, table="calls"):
    lake = LocalLake(settings.lake)
    return lake.partition_dir(table, DEMO_DAY) / lake.pointer(DEMO_DAY)["tables"][table]


def test_crash_while_writing_keeps_the_previous_partition(source, tmp_path, monkeypatch):
    settings = make_settings(source, tmp_path / "lake", transcribe=False, workers=1)
    run_day(settings, DEMO_DAY)
    before = query("select * from calls order by contact_id", settings.lake)
    committed = _committed(settings)

    real_write = pq.write_table

    def write_half_then_die(table, where, **kw):
        real_write(table.slice(0, 1), where, **kw)  # a partial file exists on disk...
        raise OSError("No space left on device")  # ...then the process fails

    monkeypatch.setattr(pq, "write_table", write_half_then_die)
    with pytest.raises(LakeError, match="No space left"):
        run_day(settings, DEMO_DAY)
    monkeypatch.undo()
    assert query("select * from calls order by contact_id", settings.lake) == before
    assert [p.name for p in committed.parent.iterdir()] == [committed.name]


def test_crash_before_the_pointer_switch_changes_no_table_and_the_next_run_cleans_up(source, tmp_path, monkeypatch):
    settings = make_settings(source, tmp_path / "lake", transcribe=False, workers=1)
    run_day(settings, DEMO_DAY)
    sorted(source.rglob("*.wav"))[0].unlink()  # the next run would commit 3 calls, not 4

    def die(self, dt, pointer):
        raise KeyboardInterrupt  # killed with every table's new file on disk, before the one switch

    monkeypatch.setattr(LocalLake, "_replace_pointer", die)
    with pytest.raises(KeyboardInterrupt):
        run_day(settings, DEMO_DAY)
    monkeypatch.undo()
    folder = _committed(settings).parent
    first = _committed(settings).name
    assert len(list(folder.glob("part-*.parquet"))) == 2  # the dead run's file is there...
    assert _count(settings.lake) == 4  # ...and no reader follows it, in any table
    assert _count(settings.lake, "contacts") == 0 and _count(settings.lake, "call_categories") >= 0
    runs = query("select status from runs order by started_at", settings.lake)[1]
    assert [r[0] for r in runs] == ["committed", "failed"]
    run_day(settings, DEMO_DAY)
    # the dead run's file is gone; the first commit's stays its grace period for readers that listed it
    assert sorted(p.name for p in folder.iterdir()) == sorted([_committed(settings).name, first])
    assert _count(settings.lake) == 3


def test_a_reader_that_listed_the_day_before_a_commit_still_reads_it_whole(source, tmp_path, monkeypatch):
    from pipeline.adapters.duckdb_engine import connect
    from pipeline.lake import tables as lake_module

    settings = make_settings(source, tmp_path / "lake", transcribe=False, workers=1)
    run_day(settings, DEMO_DAY)
    reader = connect(settings.lake)  # the report builds its views...
    sorted(source.rglob("*.wav"))[0].unlink()
    run_day(settings, DEMO_DAY)  # ...the nightly run commits...
    assert reader.execute("select count(*) from calls").fetchone()[0] == 4  # ...the report still reads its snapshot
    assert _count(settings.lake) == 3
    monkeypatch.setattr(lake_module, "REPLACED_GRACE_S", 0.0)
    run_day(settings, DEMO_DAY)  # past the grace period, the next writer deletes what was replaced
    assert len(list(_committed(settings).parent.glob("part-*.parquet"))) == 2  # the current one and the one it replaced


def test_names_that_only_look_like_the_lakes_are_not_trusted(source, tmp_path):
    import os
    import shutil

    settings = make_settings(source, tmp_path / "lake", transcribe=False, workers=1)
    run_day(settings, DEMO_DAY)
    table = _committed(settings).parent.parent
    shutil.copytree(table / "dt=2026-11-22", table / "dt=2026-11-22\n")  # a trailing newline
    os.symlink(table / "dt=2026-11-22", table / "dt=2026-11-23")  # a symlinked day
    assert query("select dt, count(*) from calls group by dt", settings.lake)[1] == [("2026-11-22", 4)]
    pointer = LocalLake(settings.lake).pointer_path(DEMO_DAY)
    pointer.write_text('{"tables": {"calls": "../../etc/passwd"}}')
    assert query("select count(*) from calls", settings.lake)[1][0][0] == 0  # readers leave that day out, loudly
    with pytest.raises(LakeError, match="damaged commit pointer.*restore it from a backup"):
        run_day(settings, DEMO_DAY)  # and no writer takes its files for leftovers
    assert len(list((table / "dt=2026-11-22").glob("part-*.parquet"))) == 1


def test_a_pointer_gone_missing_never_costs_the_day_its_files(source, tmp_path):
    settings = make_settings(source, tmp_path / "lake", transcribe=False, workers=1)
    run_day(settings, DEMO_DAY)
    lake = LocalLake(settings.lake)
    lake.pointer_path(DEMO_DAY).rename(tmp_path / "aside.json")  # what the old advice said to do
    with pytest.raises(LakeError, match="part files but no commit pointer"):
        run_day(settings, DEMO_DAY)
    (tmp_path / "aside.json").rename(lake.pointer_path(DEMO_DAY))  # restored: the day is whole again
    assert _count(settings.lake) == 4
    run_day(settings, DEMO_DAY)
    assert _count(settings.lake) == 4


def test_a_hand_edited_pointer_is_refused_or_read_not_a_crash(source, tmp_path):
    import json

    settings = make_settings(source, tmp_path / "lake", transcribe=False, workers=1)
    run_day(settings, DEMO_DAY)
    path = LocalLake(settings.lake).pointer_path(DEMO_DAY)
    doc = json.loads(path.read_text())
    path.write_text(json.dumps({**doc, "replaced": [{"table": "calls", "file": "x", "at": "2026-12-05T10:00:00"}]}))
    run_day(settings, DEMO_DAY)  # a time without a zone is read as UTC
    path.write_text(json.dumps({**doc, "replaced": 5}))
    assert _count(settings.lake) == 0
    with pytest.raises(LakeError, match="damaged commit pointer"):
        run_day(settings, DEMO_DAY)


def test_readers_trust_only_the_lakes_own_files(source, tmp_path, caplog):
    import shutil

    settings = make_settings(source, tmp_path / "lake", transcribe=False, workers=1)
    run_day(settings, DEMO_DAY)
    committed = _committed(settings)
    shutil.copy(committed, committed.parent / "part-00000 (1).parquet")  # a copy beside the real file
    (committed.parent / "junk.parquet").write_bytes(b"")  # a zero-byte file
    (committed.parent / "part-20261122T000000-0123456789ab.parquet").write_bytes(b"")  # our naming, no pointer
    bogus = committed.parent.parent / "dt=bogus"
    bogus.mkdir()
    shutil.copy(committed, bogus / "part-00000.parquet")
    (committed.parent.parent / "dt=2026-13-45").mkdir()
    (committed.parent.parent / "notes.txt").write_text("hello")
    assert _count(settings.lake) == 4
    assert query("select count(*) from v_call_contacts", settings.lake)[1][0][0] == 4
    assert query("select distinct dt from calls", settings.lake)[1] == [("2026-11-22",)]
    assert "part-00000 (1).parquet" in caplog.text and "dt=bogus" in caplog.text
    assert (committed.parent / "junk.parquet").exists() and bogus.exists()  # logged, never deleted


def test_a_day_written_before_pointers_is_read_and_replaced_whole(tmp_path):
    lake = LocalLake(tmp_path / "lake")
    for table, rows in {"calls": [{"contact_id": "old"}], "turns": [{"contact_id": "old", "turn_index": 0}]}.items():
        folder = lake.partition_dir(table, DEMO_DAY)
        folder.mkdir(parents=True)
        import pyarrow as pa

        from pipeline.lake.schema import TABLES

        schema = TABLES[table]
        pq.write_table(pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in rows], schema=schema),
                       folder / "part-00000.parquet")
    assert _count(tmp_path / "lake") == 1 and _count(tmp_path / "lake", "turns") == 1
    lake.write_partition("calls", DEMO_DAY, [{"contact_id": "new"}, {"contact_id": "new2"}])
    assert _count(tmp_path / "lake") == 2 and _count(tmp_path / "lake", "turns") == 1  # turns kept, from before
    assert lake.pointer(DEMO_DAY)["replaced"][0]["file"] == "part-00000.parquet"  # kept its grace period, unread


def test_every_attempt_is_its_own_runs_row(source, tmp_path):
    settings = make_settings(source, tmp_path / "lake", transcribe=False, workers=1)
    for _ in range(3):
        run_day(settings, DEMO_DAY)
    rows = query("select run_id, attempt_id, status from runs", settings.lake)[1]
    assert len(rows) == 3 and {r[2] for r in rows} == {"committed"}
    assert len({r[0] for r in rows}) == 3 and len({r[1] for r in rows}) == 3


def test_lake_files_are_not_world_readable(source, tmp_path):
    settings = make_settings(source, tmp_path / "lake", transcribe=False, workers=1)
    run_day(settings, DEMO_DAY)
    files = [p for p in (tmp_path / "lake").rglob("*.parquet")]
    assert files and all(p.stat().st_mode & 0o777 == 0o640 for p in files)


def test_an_empty_day_writes_empty_partitions(tmp_path):
    (tmp_path / "src").mkdir()
    settings = make_settings(tmp_path / "src", tmp_path / "lake", transcribe=False)
    result = run_day(settings, DEMO_DAY)
    assert result.calls == [] and result.failures == []
    assert _count(settings.lake) == 0


def test_runs_written_by_the_previous_version_are_read_beside_new_attempts(source, tmp_path):
    import pyarrow as pa

    settings = make_settings(source, tmp_path / "lake", transcribe=False, workers=1)
    old = LocalLake(settings.lake).partition_dir("runs", DEMO_DAY)
    old.mkdir(parents=True)
    pq.write_table(pa.table({"run_id": ["scheduled__old"], "status": ["committed"], "recordings": pa.array([4], pa.int32())}),
                   old / "part-00000.parquet")
    run_day(settings, DEMO_DAY)
    rows = LocalLake(settings.lake).read_partition("runs", DEMO_DAY).to_pylist()
    assert [(r["run_id"], r["attempt_id"] is None) for r in rows][0] == ("scheduled__old", True) and len(rows) == 2
    assert query("select count(*) from runs", settings.lake)[1][0][0] == 2


def test_the_pointer_lists_only_replaced_files_still_in_their_grace_period(source, tmp_path, monkeypatch):
    from pipeline.lake import tables as lake_module

    settings = make_settings(source, tmp_path / "lake", transcribe=False, workers=1)
    monkeypatch.setattr(lake_module, "REPLACED_GRACE_S", 0.0)
    for _ in range(4):
        run_day(settings, DEMO_DAY)
    replaced = LocalLake(settings.lake).pointer(DEMO_DAY)["replaced"]
    assert sorted(r["table"] for r in replaced) == sorted(lake_module.TABLES.keys() - {"runs"})  # the last switch's
    for r in replaced:
        assert (LocalLake(settings.lake).partition_dir(r["table"], DEMO_DAY) / r["file"]).exists()
