"""Salvaging a damaged catalog into a new one, beside it.

``photoclip repair`` reads whatever SQLite can still read from the damaged ``catalog.sqlite``
(table by table, in row order, stepping over unreadable stretches), fills in from the newest
good backup what the damaged file lost, and writes the result as a new catalog. The damaged
file is kept under another name, and neither the photos nor the vector index are touched:
the new catalog has a new identity, so the vector index is rebuilt from it on next use.

The damaged file is only ever opened read-only (``mode=ro``): nothing here writes to it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from photoclip.core.catalog import Catalog, db_path, list_backups, open_readonly, os_path

log = logging.getLogger(__name__)

# Parents before children, so foreign keys hold as rows go in.
TABLES = ("meta", "roots", "photos", "embeddings", "label_sets", "tags", "text_embeddings")
# What the report counts, in words.
_COUNTED = {"photos": ("photo", "photos"), "embeddings": ("embedding", "embeddings"),
            "tags": ("tag", "tags"), "label_sets": ("label set", "label sets"),
            "roots": ("folder", "folders")}
# Meta rows that describe the file itself, not the library: the new catalog keeps its own.
_OWN_META = {"catalog_id"}

# Our tables' rowids are SQLite's own, counted up from 1; starting the walk at 0 (not at
# -2**63) lets the probing after damage reach the rows in a few dozen steps.
_FIRST_ROWID = 0
_MAX_ROWID = 2 ** 63 - 1
_CHUNK = 256


@dataclass
class RepairReport:
    damaged_kept: Path | None           # where the damaged file now is
    salvaged: dict[str, int] = field(default_factory=dict)      # table -> rows
    from_backup: dict[str, int] = field(default_factory=dict)   # table -> rows filled in
    backup_used: Path | None = None
    unreadable: list[str] = field(default_factory=list)         # what could not be read
    recreated_roots: list[str] = field(default_factory=list)    # folders inferred from photos

    def summary(self, *, commands: bool = True) -> str:
        """One line for the user; ``commands``: with the commands to run next (the
        command line's), else without (the app indexes by itself)."""
        def counts(by_table: dict[str, int]) -> str:
            parts = [f"{n:,} {one if n == 1 else many}" for t, (one, many) in _COUNTED.items()
                     if (n := by_table.get(t, 0))]
            return ", ".join(parts) or "nothing"

        total = sum(self.salvaged.values()) + sum(self.from_backup.values())
        if not any(self.salvaged.get(t) or self.from_backup.get(t) for t in ("roots", "photos")):
            line = ("repaired the catalog, but nothing of your folders and photos could be "
                    f"salvaged{' and there is no backup' if self.backup_used is None else ''}: "
                    + ("add your folders again (photoclip index FOLDER...; photos are "
                       "embedded anew)" if commands else
                       "add your folders again (photos are embedded anew)"))
            if total:
                line += f"; kept {counts(self.salvaged)}"
        elif not sum(self.salvaged.values()) and self.backup_used is not None:
            line = (f"restored the catalog from the backup {self.backup_used.name} (nothing "
                    f"in the damaged file could be read): {counts(self.from_backup)}")
        else:
            line = f"repaired the catalog: salvaged {counts(self.salvaged)}"
            if self.unreadable:
                line += " (some rows could not be read)"
            if self.recreated_roots:
                n = len(self.recreated_roots)
                line += (f"; {n} folder{'s' if n != 1 else ''} named again from their "
                         "photos' paths" + (" (check them with photoclip status)"
                                            if commands else ""))
            if self.backup_used is not None:
                line += (f"; from the backup {self.backup_used.name}: "
                         f"{counts(self.from_backup)}")
        if self.damaged_kept is not None:
            line += f"; the damaged file is kept as {self.damaged_kept.name}"
        if not commands:
            return line
        return line + ". Run 'photoclip index' to bring it up to date with your folders"


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in db.execute(f"PRAGMA table_info({table})")]


def _read_rows(db: sqlite3.Connection, table: str, cols: list[str],
               problems: list[str]) -> Iterator[tuple]:
    """Every readable row of ``table`` in rowid order, stepping over damaged stretches.

    A read that fails is retried one row at a time; a row that cannot be read is skipped by
    probing ever further ahead until a read succeeds, then bisecting back so as little as
    possible is lost.
    """
    select = ", ".join(f'"{c}"' for c in cols)
    sql = (f'SELECT rowid, {select} FROM "{table}" NOT INDEXED '
           "WHERE rowid > ? ORDER BY rowid LIMIT ?")

    def read(after: int, limit: int) -> list[tuple] | None:
        try:
            return db.execute(sql, (after, limit)).fetchall()
        except sqlite3.DatabaseError:
            return None

    pos = _FIRST_ROWID
    while True:
        rows = read(pos, _CHUNK)
        if rows is None:
            rows = read(pos, 1)
        if rows is not None:
            if not rows:
                return
            for row in rows:
                yield row[1:]
            pos = rows[-1][0]
            continue
        # The row after ``pos`` cannot be read: find the first position reading works from.
        jump = 1
        while pos + jump < _MAX_ROWID and read(pos + jump, 1) is None:
            jump *= 2
        if pos + jump >= _MAX_ROWID:
            problems.append(f"{table}: rows after rowid {pos}")
            return
        bad, good = pos + jump // 2, pos + jump
        if jump == 1:
            bad = pos
        while good - bad > 1:
            mid = (bad + good) // 2
            if read(mid, 1) is None:
                bad = mid
            else:
                good = mid
        problems.append(f"{table}: rowids {pos + 1}..{good}")
        pos = good


def _copy(src: sqlite3.Connection, dest: sqlite3.Connection, table: str,
          problems: list[str], only_photos: set[int] | None = None) -> tuple[int, set[int]]:
    """Copy readable rows of ``table`` that fit (constraints, foreign keys) into ``dest``.

    Returns (rows added, ids of the photos added when the table is ``photos``).
    ``only_photos`` limits rows of child tables to these photo ids.
    """
    try:
        have = set(_columns(src, table))
    except sqlite3.DatabaseError as exc:
        problems.append(f"{table}: {exc}")
        return 0, set()
    cols = [c for c in _columns(dest, table) if c in have]
    if not cols:
        return 0, set()
    insert = (f'INSERT OR IGNORE INTO "{table}"({", ".join(cols)}) '
              f'VALUES({", ".join("?" * len(cols))})')
    pid_at = cols.index("photo_id") if "photo_id" in cols else None
    added, photo_ids = 0, set()
    for row in _read_rows(src, table, cols, problems):
        if table == "meta" and row[cols.index("key")] in _OWN_META:
            continue
        if only_photos is not None and pid_at is not None and row[pid_at] not in only_photos:
            continue
        try:
            cur = dest.execute(insert, row)
        except sqlite3.IntegrityError:
            continue  # its parent row was lost (foreign key) or it is malformed
        if cur.rowcount > 0:
            added += 1
            if table == "photos":
                photo_ids.add(row[cols.index("id")])
    return added, photo_ids


def _recreate_roots(src: sqlite3.Connection, dest: sqlite3.Connection,
                    problems: list[str]) -> list[str]:
    """Folders whose row was lost while their photos' rows can be read: named again as the
    deepest folder holding all their photos (a later ``add`` of the real folder folds it
    in). Without this, every photo of such a folder would be lost with it."""
    have = {r[0] for r in dest.execute("SELECT id FROM roots")}
    folders: dict[int, list[str]] = {}
    for root_id, path in _read_rows(src, "photos", ["root_id", "path"], problems):
        if isinstance(root_id, int) and root_id not in have and path is not None:
            folders.setdefault(root_id, []).append(os.path.dirname(os_path(path)))
    made = []
    for root_id, dirs in folders.items():
        try:
            common = os.path.commonpath(dirs)
        except ValueError:
            continue
        try:
            dest.execute("INSERT INTO roots(id, path, added_at) VALUES(?, ?, ?)",
                         (root_id, db_path(common), time.time()))
        except sqlite3.IntegrityError:
            continue  # that folder is already a root under another id
        made.append(common)
    return made


def _open_readonly(path: Path) -> sqlite3.Connection | None:
    try:
        db = open_readonly(path)
    except sqlite3.DatabaseError as exc:
        log.info("nothing readable in %s: %s", path, exc)
        return None
    return db


def _matching_photos(dest: sqlite3.Connection, src: sqlite3.Connection,
                     problems: list[str]) -> set[int]:
    """Photo ids that mean the same photo in both (same path and content)."""
    ours = {r[0]: (r[1], r[2]) for r in dest.execute("SELECT id, path, hash FROM photos")}
    same = set()
    for pid, path, digest in _read_rows(src, "photos", ["id", "path", "hash"], problems):
        if ours.get(pid) == (path, digest):
            same.add(pid)
    return same


def salvage(damaged: Path, out: Path, backup: Path | None = None) -> RepairReport:
    """Write a new catalog at ``out`` from what can be read of ``damaged`` (opened
    read-only), then fill in rows it lost from ``backup``. ``out`` must not exist."""
    report = RepairReport(damaged_kept=None)
    Catalog(out).close()  # an empty catalog of the current schema, with a new identity
    dest = sqlite3.connect(out, isolation_level=None)
    src = _open_readonly(damaged) if damaged.is_file() and damaged.stat().st_size else None
    old = _open_readonly(backup) if backup is not None else None
    try:
        dest.execute("PRAGMA foreign_keys = ON")
        dest.execute("BEGIN")
        if src is None:
            report.unreadable.append(f"{damaged.name}: nothing readable")
        if old is not None:
            report.backup_used = backup
        for table in TABLES if src is not None else ():
            if table == "photos":
                # Folders the damaged file lost: the backup knows their real names; failing
                # that, they are named from their photos' paths.
                if old is not None:
                    report.from_backup["roots"], _ = _copy(old, dest, "roots", [])
                report.recreated_roots = _recreate_roots(src, dest, [])
            report.salvaged[table], _ = _copy(src, dest, table, report.unreadable)
        if old is not None:
            same: set[int] = set()
            for table in TABLES:
                if table in ("embeddings", "tags"):
                    # Only for photos that are the same photo in both files: ids can be
                    # reused after the backup was taken.
                    n, _ = _copy(old, dest, table, [], only_photos=same)
                else:
                    n, _ = _copy(old, dest, table, [])
                    if table == "photos":
                        same = _matching_photos(dest, old, [])
                report.from_backup[table] = report.from_backup.get(table, 0) + n
        # The commit sequence must stay above every stored embedding's stamp.
        top = dest.execute("SELECT COALESCE(MAX(seq), 0) FROM embeddings").fetchone()[0]
        stored = dest.execute("SELECT value FROM meta WHERE key = 'embedding_seq'").fetchone()
        seq = max(int(top), int(stored[0]) if stored and str(stored[0]).isdigit() else 0)
        for key, value in (("embedding_seq", str(seq)), ("repaired_at", str(time.time()))):
            dest.execute("INSERT INTO meta(key, value) VALUES(?, ?) "
                         "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))
        dest.execute("COMMIT")
        verdict = dest.execute("PRAGMA integrity_check(1)").fetchone()[0]
        if verdict != "ok":  # cannot happen with a healthy disk; never install it if so
            raise sqlite3.DatabaseError(f"the salvaged catalog failed its check: {verdict}")
    finally:
        dest.close()
        for db in (src, old):
            if db is not None:
                db.close()
    return report


def newest_good_backup(folder: Path) -> Path | None:
    for candidate in list_backups(folder):
        db = _open_readonly(candidate)
        if db is None:
            continue
        try:
            if db.execute("PRAGMA quick_check(1)").fetchone()[0] == "ok":
                return candidate
        except sqlite3.DatabaseError:
            continue
        finally:
            db.close()
    return None


def _keep_aside(catalog: Path, stamp: str) -> Path:
    """Keep the damaged file (and its WAL, which belongs to it) under a new name, leaving
    no ``catalog.sqlite-wal`` that SQLite would apply to the new file."""
    kept = catalog.with_name(f"{catalog.stem}-damaged-{stamp}{catalog.suffix}")
    if catalog.exists():
        try:
            os.link(catalog, kept)   # the old name stays valid until the new file replaces it
        except OSError:
            shutil.copy2(catalog, kept)
    for ext in ("-wal", "-shm"):
        side = Path(f"{catalog}{ext}")
        if side.exists():
            os.replace(side, Path(f"{kept}{ext}"))
    return kept


def repair_catalog(catalog: Path, backups: Path) -> RepairReport:
    """Salvage ``catalog`` into a new file and put it in its place; the caller holds the
    library's write lock. The damaged file is kept as ``catalog-damaged-STAMP.sqlite``."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    work = catalog.with_name(f"{catalog.stem}-repairing{catalog.suffix}")
    for leftover in (work, Path(f"{work}-wal"), Path(f"{work}-shm"), Path(f"{work}.new")):
        leftover.unlink(missing_ok=True)
    try:
        report = salvage(catalog, work, newest_good_backup(backups))
        report.damaged_kept = _keep_aside(catalog, stamp)
        os.replace(work, catalog)
    except BaseException:
        with contextlib.suppress(OSError):
            work.unlink(missing_ok=True)
        raise
    return report
