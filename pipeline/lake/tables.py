"""The local Parquet lake, laid out as the S3 lake is: ``<lake>/<table>/dt=YYYY-MM-DD/part-<commit>.parquet``.

A day changes all at once, across every table, or not at all:

1. the writer takes the day's lock (:mod:`pipeline.lake.locks`: one writer per day);
2. it writes each changed table's rows to a new file ``part-<commit>.parquet`` (flushed to disk,
   mode 0640: turns hold what customers said), which no reader follows yet;
3. it replaces the day's **pointer** ``<lake>/_commits/dt=DAY.json`` (one ``os.replace``: atomic),
   which names the file of every table of the day. Readers follow pointers only, so a kill -9 at
   any instant leaves them seeing the day wholly as before or wholly as after;
4. the files it replaced stay for ``REPLACED_GRACE_S`` (an hour) for readers that listed them just
   before the switch; a later writer of the day deletes them, and leftovers of writers that died
   (files of this lake's own naming that no pointer names: no reader ever followed them).

Readers trust only the lake's own files: ``dt=YYYY-MM-DD`` folders (a real date) and the files a
pointer names (for a day written before pointers existed: ``part-00000.parquet``). Anything else in
a table's folder (a copy ``part-00000 (1).parquet``, an empty ``junk.parquet``, ``dt=bogus``) is
ignored and logged, never read and never deleted.

The ``runs`` table is append-only: each attempt to write a day is its own file
``runs/dt=DAY/run-<attempt>.parquet`` (written to a temporary name, then renamed), so two runs of
one day never lose each other's row and a killed run still shows as ``started``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.exceptions import LakeError
from pipeline.lake.locks import local_day_lock
from pipeline.lake.storage import write_atomically
from pipeline.lake.table_names import PARTITION, TABLE_NAMES

if TYPE_CHECKING:
    import pyarrow as pa

# pyarrow (and the schemas) are imported where rows are read or written, not here: a reader that only
# takes a snapshot (the local engine's views, `aftercall report`) never loads it.

__all__ = ["COMMITS", "LEGACY_PART", "LocalLake", "commit_id", "valid_day"]

log = logging.getLogger(__name__)

COMMITS = "_commits"
LEGACY_PART = "part-00000.parquet"  # the one file of a day written before pointers
_COMMIT = r"\d{8}T\d{6}-[0-9a-f]{12}"
# Matched with fullmatch: "$" alone would let a name ending in a newline pass.
_DAY_DIR = re.compile(rf"{PARTITION}=(\d{{4}}-\d{{2}}-\d{{2}})")
_PART = re.compile(rf"part-{_COMMIT}\.parquet")
_RUN_FILE = re.compile(rf"run-{_COMMIT}\.parquet")
_TMP = re.compile(r"\.tmp-(\d+)-[0-9a-f]{32}\.partial")  # .tmp-<pid>-<random>.partial
REPLACED_GRACE_S = 3600.0  # a replaced file outlives its switch this long: readers that listed it still read it


def commit_id() -> str:
    """Sortable and unique: the UTC second and 48 random bits."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}"


def valid_day(folder_name: str) -> str | None:
    """``YYYY-MM-DD`` of a ``dt=YYYY-MM-DD`` folder holding a real date, else None."""
    match = _DAY_DIR.fullmatch(folder_name)
    if not match:
        return None
    try:
        return date.fromisoformat(match.group(1)).isoformat()
    except ValueError:  # dt=2026-13-45
        return None


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(data: pa.Table, final: Path) -> None:
    import pyarrow.parquet as pq

    write_atomically(final, lambda tmp: pq.write_table(data, tmp, compression="zstd"))


@dataclass(frozen=True, slots=True)
class _DayState:
    """One reading of a day's pointer: what readers follow, and the replaced files still in their grace period."""

    pointer: dict | None
    files: dict[str, str]  # table -> file name
    replaced: list[dict] = field(default_factory=list)


class LocalLake:
    """A lake in a local folder. ``lock_wait_s``: how long a second writer of a day waits for the first."""

    def __init__(self, root: str | Path, *, lock_wait_s: float = 600.0) -> None:
        self.root = Path(root).expanduser()
        self.lock_wait_s = lock_wait_s

    # --- layout ---
    def partition_dir(self, table: str, dt: date | str) -> Path:
        return self.root / table / f"{PARTITION}={dt}"

    def pointer_path(self, dt: date | str) -> Path:
        return self.root / COMMITS / f"{PARTITION}={dt}.json"

    @contextmanager
    def day_lock(self, dt: date | str, run_id: str | None = None) -> Iterator[None]:
        """Hold the day against every other writer (waits up to ``lock_wait_s``, then :class:`DayLocked`)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with local_day_lock(self.root, str(dt), run_id, self.lock_wait_s):
            yield

    # --- what readers follow ---
    def pointer(self, dt: date | str) -> dict | None:
        """The day's committed pointer, or None (no pointer: a day from before pointers, or none at all)."""
        try:
            doc = json.loads(self.pointer_path(dt).read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:  # only os.replace writes it, so this is damage from outside
            raise LakeError("*", str(dt), f"unreadable commit pointer {self.pointer_path(dt)}: {exc}") from exc
        tables = doc.get("tables") if isinstance(doc, dict) else None
        if not isinstance(tables, dict) or not isinstance(doc.get("replaced", []), list) or not all(
                t in TABLE_NAMES and isinstance(n, str) and (_PART.fullmatch(n) or n == LEGACY_PART) for t, n in tables.items()):
            # never read as "no pointer": the next writer would take the committed files for leftovers
            raise LakeError("*", str(dt), f"damaged commit pointer {self.pointer_path(dt)}: restore it from a backup "
                                          "(the day's files are untouched); to write the day afresh instead, move the "
                                          "pointer and the day's part-*.parquet files away, then rerun the day")
        return doc

    def _day(self, dt: str) -> _DayState:
        """The day as readers see it (its pointer, else the files from before pointers), read once."""
        pointer = self.pointer(dt)
        if pointer is not None:
            return _DayState(pointer, dict(pointer["tables"]),
                             [r for r in pointer.get("replaced", []) if isinstance(r, dict)])
        return _DayState(None, {t: LEGACY_PART for t in TABLE_NAMES
                                if t != "runs" and (self.partition_dir(t, dt) / LEGACY_PART).is_file()})

    def days(self, table: str) -> list[str]:
        """The days of ``table`` (valid ``dt=`` folders); other entries are logged and skipped."""
        folder = self.root / table
        if not folder.is_dir():
            return []
        found, foreign = [], []
        for entry in sorted(folder.iterdir()):
            # a symlinked day would let one day's reader or cleanup reach another day's files
            day = valid_day(entry.name) if entry.is_dir() and not entry.is_symlink() else None
            (found if day else foreign).append(day or entry.name)
        if foreign:
            log.warning("%s: ignoring %d entries that are not day folders: %s", folder, len(foreign),
                        ", ".join(repr(f) for f in foreign[:5]))
        return found

    def snapshot(self, tables: Iterable[str] = TABLE_NAMES) -> dict[str, list[Path]]:
        """Every file readers should read, per table, from one reading of each day's pointer: a commit
        landing meanwhile is seen by no table or, at the next snapshot, by all of them."""
        states: dict[str, _DayState] = {}
        replaced: dict[str, set[tuple[str, str]]] = {}  # files a switch replaced, kept a while: not foreign
        out: dict[str, list[Path]] = {}
        for table in tables:
            files: list[Path] = []
            for day in self.days(table):
                folder = self.partition_dir(table, day)
                listing = sorted(p.name for p in folder.iterdir())
                if table == "runs":
                    trusted = [n for n in listing if _RUN_FILE.fullmatch(n) or n == LEGACY_PART]
                else:
                    if day not in states:
                        try:
                            states[day] = self._day(day)
                        except LakeError as exc:  # one damaged day must not take every other day's queries down
                            log.error("%s; the day is left out", exc)
                            states[day] = _DayState(None, {})
                        replaced[day] = {(str(r.get("table")), str(r.get("file"))) for r in states[day].replaced}
                    name = states[day].files.get(table)
                    trusted = [name] if name in listing else []
                    if name and not trusted:
                        log.error("%s: the committed file %s is missing", folder, name)
                foreign = [n for n in listing if n not in trusted and not _TMP.fullmatch(n)
                           and not (table != "runs" and (_PART.fullmatch(n) or (table, n) in replaced.get(day, ())))]
                if foreign:
                    log.warning("%s: ignoring %d files the lake did not commit: %s", folder, len(foreign),
                                ", ".join(repr(f) for f in foreign[:5]))
                files += [folder / n for n in trusted]
            out[table] = files
        return out

    def recover_pending(self) -> list[str]:
        """Days a killed writer left half switched: none here, a day's switch is one rename (the S3 lake has some)."""
        return []

    def committed_attempt(self, dt: date | str) -> str | None:
        """The ``runs.attempt_id`` whose commit the day shows now."""
        return (self.pointer(dt) or {}).get("attempt_id")

    def committed_files(self, table: str) -> list[Path]:
        """Every file of ``table`` that readers should read, day by day."""
        return self.snapshot([table])[table]

    def has_data(self, table: str) -> bool:
        return bool(self.committed_files(table))

    def read_partition(self, table: str, dt: date | str, columns: list[str] | None = None) -> pa.Table:
        """The day's committed rows of ``table`` (only ``columns``, when given: the rest is never decoded)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from pipeline.lake.schema import TABLES

        if columns is not None and table != "runs":
            schema = pa.schema([TABLES[table].field(c) for c in columns])
            name = self._day(str(dt)).files.get(table)
            path = self.partition_dir(table, dt) / name if name else None
            return pq.read_table(path, columns=columns) if path and path.is_file() else schema.empty_table()
        folder = self.partition_dir(table, dt)
        if table == "runs":
            parts = [pq.read_table(p) for p in sorted(folder.glob("run-*.parquet")) if _RUN_FILE.fullmatch(p.name)]
            if (folder / LEGACY_PART).is_file():
                parts.insert(0, pq.read_table(folder / LEGACY_PART))
            return pa.concat_tables([_conform(p, TABLES[table]) for p in parts]) if parts else TABLES[table].empty_table()
        name = self._day(str(dt)).files.get(table)
        path = folder / name if name else None
        return pq.read_table(path) if path and path.is_file() else TABLES[table].empty_table()

    # --- writing ---
    def write_partition(self, table: str, dt: date | str, rows: Iterable[Mapping[str, object]]) -> Path:
        """Replace ``table``'s partition for ``dt`` with ``rows`` (zero rows is a valid, empty day)."""
        return self.write_partitions(dt, {table: rows})[table]

    def write_partitions(self, dt: date | str, tables: Mapping[str, Iterable[Mapping[str, object]] | pa.Table],
                         run_id: str | None = None, attempt_id: str | None = None) -> dict[str, Path]:
        """Replace several tables' partitions for ``dt`` in one switch of the day's pointer.

        A table's rows are mappings, or an arrow table in (or castable to) its schema's columns.
        Tables not named keep what they had. A failure before the switch changes nothing.
        """
        dt = str(dt)
        if "runs" in tables:
            raise ValueError("runs is append-only: use append_run")
        from pipeline.lake.schema import TABLES

        with self.day_lock(dt, run_id):
            for table in tables:
                if self.partition_dir(table, dt).is_symlink() or (self.root / table).is_symlink():
                    raise LakeError(table, dt, f"{self.partition_dir(table, dt)} is a symbolic link: not written")
            state = self._day(dt)
            if state.pointer is None:
                state = self._first_pointer(dt, state)
            kept = self._clean_leftovers(dt, state)
            current = state.files
            commit = commit_id()
            written: dict[str, tuple[Path, int]] = {}
            table = ""
            try:
                for table, rows in tables.items():
                    data = _as_table(rows, TABLES[table])
                    folder = self.partition_dir(table, dt)
                    folder.mkdir(parents=True, exist_ok=True)
                    final = folder / f"part-{commit}.parquet"
                    _write_file(data, final)
                    written[table] = (final, data.num_rows)
                for final, _ in written.values():
                    _fsync_dir(final.parent)
            except OSError as exc:
                for final, _ in written.values():
                    final.unlink(missing_ok=True)
                raise LakeError(table, dt, f"could not write the partition: {exc}") from exc
            now = datetime.now(UTC)
            # Replaced files stay a while (REPLACED_GRACE_S) for readers that listed them before the switch;
            # a later writer of the day deletes them.
            replaced = kept + [{"table": t, "file": current[t], "at": now.isoformat(timespec="seconds")}
                         for t in written if current.get(t) and current[t] != written[t][0].name]
            pointer = {"commit": commit, "run_id": run_id, "attempt_id": attempt_id,
                       "committed_at": now.isoformat(timespec="seconds"),
                       "tables": {**current, **{t: f.name for t, (f, _) in written.items()}}, "replaced": replaced}
            try:
                self._replace_pointer(dt, pointer)
            except OSError as exc:  # raised only before the switch: nothing refers to the new files
                for final, _ in written.values():
                    final.unlink(missing_ok=True)
                raise LakeError("*", dt, f"could not switch the day: {exc}") from exc
            for table, (final, rows) in written.items():
                log.info("wrote %s rows to %s", rows, final)
            return {table: final for table, (final, _) in written.items()}

    def _first_pointer(self, dt: str, state: _DayState) -> _DayState:
        """Give a day its pointer before any part file exists (naming what it had before pointers, if anything).

        So part files without a pointer can only mean a pointer gone missing, never a writer's leftovers:
        they are refused, not cleaned away with the day they hold.
        """
        stray = [p.name for t in TABLE_NAMES if t != "runs" and self.partition_dir(t, dt).is_dir()
                 for p in self.partition_dir(t, dt).iterdir() if _PART.fullmatch(p.name)]
        if stray:
            raise LakeError("*", dt, f"{len(stray)} part files but no commit pointer {self.pointer_path(dt)}: restore "
                                     "the pointer from a backup; to write the day afresh instead, move the day's "
                                     "part-*.parquet files away, then rerun the day")
        self._replace_pointer(dt, {"commit": None, "tables": state.files, "replaced": []})
        return self._day(dt)

    def _replace_pointer(self, dt: str, pointer: dict) -> None:
        path = self.pointer_path(dt)
        path.parent.mkdir(parents=True, exist_ok=True)
        # The commit: readers see every table's new file from the rename on. The temporary file is named
        # after the day, so the day's next writer can remove one a kill left behind.
        write_atomically(path, lambda tmp: tmp.write_text(json.dumps(pointer, indent=1, sort_keys=True)),
                         tmp_name=f".tmp-{PARTITION}={dt}-{uuid.uuid4().hex}.partial")
        try:
            _fsync_dir(path.parent)
        except OSError as exc:  # switched already: the files it names must stay, whatever happens here
            log.warning("%s: switched, but flushing %s failed: %s", dt, path.parent, exc)

    def _clean_leftovers(self, dt: str, state: _DayState) -> list[dict]:
        """Under the day's lock: files of this lake's naming that no pointer names belong to dead writers (no
        reader ever followed them); files a switch replaced go once their grace period is over.

        Returns the replaced entries still in their grace period, for the writer's new pointer.
        """
        current = state.files
        graced: dict[tuple[str, str], bool] = {}
        kept = []
        for entry in state.replaced:
            try:
                at = datetime.fromisoformat(entry["at"])
                key = (str(entry["table"]), str(entry["file"]))
            except (KeyError, TypeError, ValueError):
                continue
            if at.tzinfo is None:  # written by hand: read as UTC, as the lake writes them
                at = at.replace(tzinfo=UTC)
            graced[key] = (datetime.now(UTC) - at).total_seconds() < REPLACED_GRACE_S
            if graced[key]:
                kept.append(entry)
        for table in TABLE_NAMES:
            folder = self.partition_dir(table, dt)
            if not folder.is_dir() or folder.is_symlink():
                continue
            for path in folder.iterdir():
                if path.is_symlink():
                    continue
                tmp = _TMP.fullmatch(path.name)
                # runs are written without the day's lock: only a temporary file of a process gone is dead
                dead = bool(tmp) and (table != "runs" or not _alive(int(tmp.group(1))) or _older_than(path, 3600))
                if table != "runs" and path.name != current.get(table) and not graced.get((table, path.name)):
                    dead = dead or bool(_PART.fullmatch(path.name)) or path.name == LEGACY_PART and table in current
                if dead:
                    log.info("removing %s (replaced, or left by a writer that did not finish)", path)
                    path.unlink(missing_ok=True)
        for tmp in (self.root / COMMITS).glob(f".tmp-{PARTITION}={dt}-*.partial"):
            tmp.unlink(missing_ok=True)  # a pointer this day's writer did not finish writing (we hold the day)
        return kept

    def append_run(self, dt: date | str, attempt: str, row: Mapping[str, object]) -> Path:
        """Write (or rewrite) one attempt's row of the ``runs`` table; needs no lock: the file is the attempt's."""
        import pyarrow as pa

        from pipeline.lake.schema import TABLES

        folder = self.partition_dir("runs", dt)
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"run-{attempt}.parquet"
        schema = TABLES["runs"]
        _write_file(pa.Table.from_pylist([{k: row.get(k) for k in schema.names}], schema=schema), final)
        return final


def _as_table(rows: Iterable[Mapping[str, object]] | pa.Table, schema: pa.Schema) -> pa.Table:
    """The rows in ``schema``. An arrow table is taken column by column (hundreds of thousands of turns
    a day would spend minutes as Python dicts); a column it lacks is null, one it has beyond is an error."""
    import pyarrow as pa

    if isinstance(rows, pa.Table):
        extra = set(rows.column_names) - set(schema.names)
        if extra:
            raise ValueError(f"columns not in the table's schema: {', '.join(sorted(extra))}")
        return _conform(rows, schema)
    return pa.Table.from_pylist([{k: row.get(k) for k in schema.names} for row in rows], schema=schema)


def _conform(data: pa.Table, schema: pa.Schema) -> pa.Table:
    """``data`` in ``schema``'s columns and types; columns a file from an older version lacks are null."""
    import pyarrow as pa

    columns = [data.column(f.name).cast(f.type) if f.name in data.column_names else pa.nulls(data.num_rows, f.type)
               for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)


def __getattr__(name: str) -> object:
    """``pipeline.lake.tables.TABLES`` as before, loaded (with pyarrow) only when asked for."""
    if name == "TABLES":
        from pipeline.lake.schema import TABLES

        return TABLES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime > seconds
    except OSError:
        return False
