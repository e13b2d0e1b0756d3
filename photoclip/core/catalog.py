"""The catalog: one SQLite file, the source of truth of a library.

Roots, photos, their metadata and state, embeddings (float16 blobs tagged with the model
signature), label sets and tags all live here. The hnswlib index is a cache rebuilt from
this file. WAL mode lets other processes read (``photoclip status``/``search``) while one
process writes, and every write is a transaction, so a crash never leaves half a batch.

Photo states: ``ok`` (file present and readable as far as we know), ``failed`` (could not be
decoded; ``error`` says why), ``missing`` (not found on the last scan of an online root).
"Pending" is derived: an ``ok`` photo with no embedding for the current model.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from photoclip.core.errors import LibraryError

SCHEMA_VERSION = 4

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE roots(
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        added_at REAL NOT NULL,
        online INTEGER NOT NULL DEFAULT 1,
        polling INTEGER NOT NULL DEFAULT 0,
        last_scan REAL
    );
    CREATE TABLE photos(
        id INTEGER PRIMARY KEY,
        root_id INTEGER NOT NULL REFERENCES roots(id) ON DELETE CASCADE,
        path TEXT NOT NULL UNIQUE,
        size INTEGER NOT NULL,
        mtime REAL NOT NULL,
        hash TEXT NOT NULL,
        width INTEGER,
        height INTEGER,
        taken_at REAL,
        camera TEXT,
        orientation INTEGER,
        state TEXT NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'failed', 'missing')),
        error TEXT,
        added_at REAL NOT NULL,
        indexed_at REAL
    );
    CREATE INDEX photos_root ON photos(root_id);
    CREATE INDEX photos_hash ON photos(size, hash);
    CREATE INDEX photos_state ON photos(state);
    CREATE TABLE embeddings(
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        vector BLOB NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (photo_id, model)
    );
    CREATE INDEX embeddings_seq ON embeddings(model, seq);
    CREATE TABLE label_sets(
        name TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE tags(
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        label_set TEXT NOT NULL,
        label TEXT NOT NULL,
        score REAL,
        source TEXT NOT NULL CHECK (source IN ('auto', 'manual', 'rejected')),
        PRIMARY KEY (photo_id, label_set, label)
    );
    CREATE INDEX tags_label ON tags(label_set, label);
    """,
    # v2: text embeddings of prompts, so label sets re-tag without re-encoding their prompts.
    2: """
    CREATE TABLE text_embeddings(
        model TEXT NOT NULL,
        text TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (model, text)
    );
    """,
    # v3: a removed folder is hidden first (undo brings it back intact) and purged later;
    # the user's own tags of purged photos wait, by content, for the photos to come back.
    3: """
    ALTER TABLE roots ADD COLUMN removed_at REAL;
    CREATE TABLE kept_tags(
        size INTEGER NOT NULL,
        hash TEXT NOT NULL,
        label_set TEXT NOT NULL,
        label TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('manual', 'rejected')),
        kept_at REAL NOT NULL,
        PRIMARY KEY (size, hash, label_set, label)
    );
    """,
    # v4: duplicate review. Content signatures (a 16x16 grey thumbnail) keyed by content,
    # not by photo, so they never go stale and a moved photo keeps its own; and the history
    # of files photoclip moved to the system trash, so they can be put back later.
    4: """
    CREATE TABLE IF NOT EXISTS content_signatures(
        size INTEGER NOT NULL,
        hash TEXT NOT NULL,
        signature BLOB NOT NULL,
        PRIMARY KEY (size, hash)
    );
    CREATE TABLE IF NOT EXISTS trash_actions(
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL
    );
    CREATE TABLE IF NOT EXISTS trashed_files(
        action_id INTEGER NOT NULL REFERENCES trash_actions(id) ON DELETE CASCADE,
        photo_id INTEGER,
        path TEXT NOT NULL,
        trash_path TEXT,
        info_path TEXT,
        restored_at REAL
    );
    CREATE INDEX IF NOT EXISTS trashed_files_action ON trashed_files(action_id);
    """,
}


@dataclass(frozen=True)
class Root:
    id: int
    path: str
    online: bool
    polling: bool
    last_scan: float | None


@dataclass(frozen=True)
class Photo:
    id: int
    root_id: int
    path: str
    size: int
    mtime: float
    hash: str
    width: int | None
    height: int | None
    taken_at: float | None
    camera: str | None
    orientation: int | None
    state: str
    error: str | None

    @property
    def date(self) -> float:
        """When the photo was taken, else when the file was last written."""
        return self.taken_at if self.taken_at is not None else self.mtime


@dataclass(frozen=True)
class PhotoMetadata:
    width: int
    height: int
    taken_at: float | None = None
    camera: str | None = None
    orientation: int | None = None


_PHOTO_COLUMNS = ("id, root_id, path, size, mtime, hash, width, height, taken_at, camera, "
                  "orientation, state, error")
_P_COLUMNS = ", ".join("p." + c.strip() for c in _PHOTO_COLUMNS.split(","))
# Photos that browsing and search may show live under a root that is online and not removed.
_VISIBLE_ROOT = "r.online = 1 AND r.removed_at IS NULL"


def _photo(row: Sequence) -> Photo:
    return Photo(*row)


class _Reader:
    """A thread's own read connection (weak-referenceable, unlike sqlite3.Connection)."""

    __slots__ = ("__weakref__", "conn")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn


class Catalog:
    """Typed access to the library's SQLite file.

    One write connection, used by one writer at a time under ``_write_lock`` (a transaction
    is one ``with transaction()`` block). Reads go through a connection of the reading
    thread's own, so in WAL mode a search never queues behind a batch being committed; a
    read made inside the calling thread's own open transaction uses the write connection
    and so sees what the transaction wrote. ``readonly`` opens the file without ever
    writing (no migration), for commands that run beside another process writing the
    same library.
    """

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._write_lock = threading.RLock()
        self._tx_owner: int | None = None
        self._local = threading.local()
        self._readers: weakref.WeakSet[_Reader] = weakref.WeakSet()
        self._readers_lock = threading.Lock()
        self._closed = False
        try:
            if readonly and not self.path.exists():
                raise LibraryError(f"no photoclip library at {self.path.parent}")
            self._db = self._connect(readonly)
            if not readonly:
                self._db.execute("PRAGMA journal_mode = WAL")
                # NORMAL under WAL is durable across application crashes (not power loss),
                # and several times faster per commit than FULL.
                self._db.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise LibraryError(f"cannot read the library catalog {self.path}: {exc}") from exc

    def _connect(self, readonly: bool) -> sqlite3.Connection:
        if readonly:
            db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False,
                                 timeout=30, isolation_level=None)
        else:
            db = sqlite3.connect(self.path, check_same_thread=False, timeout=30,
                                 isolation_level=None)
        db.execute("PRAGMA foreign_keys = ON")
        return db

    def _reader(self) -> sqlite3.Connection:
        reader: _Reader | None = getattr(self._local, "reader", None)
        if reader is None:
            with self._readers_lock:
                if self._closed:
                    raise LibraryError(f"the library {self.path.parent} is closed")
                conn = self._connect(readonly=True) if self.readonly else self._connect(False)
                if not self.readonly:
                    conn.execute("PRAGMA query_only = 1")
                reader = _Reader(conn)
                self._readers.add(reader)
            # Dropped with the thread's locals when the thread ends, closing the connection.
            self._local.reader = reader
        return reader.conn

    # -- lifecycle -------------------------------------------------------------------------

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise LibraryError(
                f"the library {self.path.parent} was written by a newer photoclip "
                f"(schema {version}, this one knows {SCHEMA_VERSION})")
        if version == SCHEMA_VERSION:
            return
        if self.readonly:
            raise LibraryError(f"the library {self.path.parent} needs an upgrade; open it "
                               "once with a command that writes (photoclip index)")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self._db:
                self._db.executescript("BEGIN;" + _MIGRATIONS[target] +
                                       f"; PRAGMA user_version = {target};")

    def close(self) -> None:
        with self._readers_lock:
            self._closed = True
            for reader in list(self._readers):
                reader.conn.close()
        with self._write_lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: everything inside commits together or not at all.

        Transactions nest in the same thread (the inner one joins the outer).
        """
        with self._write_lock:
            if self._tx_owner == threading.get_ident():
                yield self._db
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._tx_owner = threading.get_ident()
            try:
                yield self._db
                self._db.commit()
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._db.rollback()
                raise
            finally:
                self._tx_owner = None

    def _query(self, sql: str, params: Sequence | dict = ()) -> list[tuple]:
        if self._tx_owner == threading.get_ident():
            return self._db.execute(sql, params).fetchall()
        return self._reader().execute(sql, params).fetchall()

    # -- meta ------------------------------------------------------------------------------

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else default

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO meta(key, value) VALUES(?, ?) "
                       "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    # -- roots -----------------------------------------------------------------------------

    def roots(self) -> list[Root]:
        rows = self._query("SELECT id, path, online, polling, last_scan FROM roots "
                           "WHERE removed_at IS NULL ORDER BY path")
        return [Root(r[0], r[1], bool(r[2]), bool(r[3]), r[4]) for r in rows]

    def removed_roots(self) -> list[Root]:
        """Roots hidden by a removal that can still be undone."""
        rows = self._query("SELECT id, path, online, polling, last_scan FROM roots "
                           "WHERE removed_at IS NOT NULL ORDER BY path")
        return [Root(r[0], r[1], bool(r[2]), bool(r[3]), r[4]) for r in rows]

    def root_by_path(self, path: str) -> Root | None:
        return next((r for r in self.roots() if r.path == path), None)

    def add_root(self, path: str) -> Root:
        """Add a root; roots below it are folded into it (their photos keep their rows).

        A root removed moments ago (hidden, not yet purged) comes back as it was.
        """
        with self.transaction() as db:
            for hidden_id, hidden_path in db.execute(
                    "SELECT id, path FROM roots WHERE removed_at IS NOT NULL").fetchall():
                if _is_inside(hidden_path, path):
                    db.execute("UPDATE roots SET removed_at = NULL WHERE id = ?", (hidden_id,))
            row = db.execute("SELECT id FROM roots WHERE path = ?", (path,)).fetchone()
            if row is not None:
                root_id = row[0]
            else:
                cur = db.execute("INSERT INTO roots(path, added_at) VALUES(?, ?)",
                                 (path, time.time()))
                root_id = cur.lastrowid
            prefix = path.rstrip("/\\") + "%"
            children = db.execute("SELECT id, path FROM roots WHERE path LIKE ? AND id != ?",
                                  (prefix, root_id)).fetchall()
            for child_id, child_path in children:
                if _is_inside(child_path, path):
                    db.execute("UPDATE photos SET root_id = ? WHERE root_id = ?",
                               (root_id, child_id))
                    db.execute("DELETE FROM roots WHERE id = ?", (child_id,))
        root = self.root_by_path(path)
        assert root is not None
        return root

    def hide_root(self, root_id: int) -> int:
        """Remove a root from view at once, keeping its rows so undo is instant.

        Returns the photos it holds. :meth:`purge_removed_roots` forgets it for good.
        """
        with self.transaction() as db:
            n = db.execute("SELECT COUNT(*) FROM photos WHERE root_id = ? AND "
                           "state != 'missing'", (root_id,)).fetchone()[0]
            db.execute("UPDATE roots SET removed_at = ? WHERE id = ?", (time.time(), root_id))
        return int(n)

    def restore_root(self, root_id: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE roots SET removed_at = NULL WHERE id = ?", (root_id,))

    def remove_root(self, root_id: int) -> int:
        """Forget a root and everything indexed under it. Returns the photos dropped.

        The user's own decisions (manual and rejected tags) are kept by content, and come
        back if the same photos are ever added again.
        """
        with self.transaction() as db:
            n = db.execute("SELECT COUNT(*) FROM photos WHERE root_id = ? AND "
                           "state != 'missing'", (root_id,)).fetchone()[0]
            db.execute("INSERT OR REPLACE INTO kept_tags(size, hash, label_set, label, source, "
                       "kept_at) SELECT p.size, p.hash, t.label_set, t.label, t.source, ? "
                       "FROM tags t JOIN photos p ON p.id = t.photo_id WHERE p.root_id = ? "
                       "AND t.source IN ('manual', 'rejected')", (time.time(), root_id))
            db.execute("DELETE FROM roots WHERE id = ?", (root_id,))
        return int(n)

    def purge_removed_roots(self) -> int:
        """Forget every hidden root for good (their user tags kept by content)."""
        return sum(self.remove_root(r.id) for r in self.removed_roots())

    def user_tag_count(self, root_id: int) -> int:
        """How many tags the user set or removed by hand on a root's photos."""
        return int(self._query("SELECT COUNT(*) FROM tags t JOIN photos p ON p.id = t.photo_id "
                               "WHERE p.root_id = ? AND t.source IN ('manual', 'rejected')",
                               (root_id,))[0][0])

    def set_root_state(self, root_id: int, *, online: bool | None = None,
                       polling: bool | None = None, scanned: bool = False) -> None:
        with self.transaction() as db:
            if online is not None:
                db.execute("UPDATE roots SET online = ? WHERE id = ?", (int(online), root_id))
            if polling is not None:
                db.execute("UPDATE roots SET polling = ? WHERE id = ?", (int(polling), root_id))
            if scanned:
                db.execute("UPDATE roots SET last_scan = ? WHERE id = ?", (time.time(), root_id))

    # -- photos ----------------------------------------------------------------------------

    def photo(self, photo_id: int) -> Photo | None:
        rows = self._query(f"SELECT {_PHOTO_COLUMNS} FROM photos WHERE id = ?", (photo_id,))
        return _photo(rows[0]) if rows else None

    def photo_by_path(self, path: str) -> Photo | None:
        rows = self._query(f"SELECT {_PHOTO_COLUMNS} FROM photos WHERE path = ?", (path,))
        return _photo(rows[0]) if rows else None

    def photos_by_ids(self, ids: Iterable[int]) -> dict[int, Photo]:
        ids = list(ids)
        out: dict[int, Photo] = {}
        for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
            chunk = ids[start:start + 900]
            marks = ",".join("?" * len(chunk))
            for row in self._query(f"SELECT {_PHOTO_COLUMNS} FROM photos WHERE id IN ({marks})",
                                   chunk):
                out[row[0]] = _photo(row)
        return out

    def root_file_states(self, root_id: int) -> dict[str, tuple[int, int, float, str, str]]:
        """path -> (id, size, mtime, hash, state) for every photo row of a root."""
        rows = self._query("SELECT path, id, size, mtime, hash, state FROM photos "
                           "WHERE root_id = ?", (root_id,))
        return {r[0]: (r[1], r[2], r[3], r[4], r[5]) for r in rows}

    def photos_by_content(self, size: int, digest: str) -> list[Photo]:
        """Rows with this content, those already marked missing first."""
        rows = self._query(f"SELECT {_PHOTO_COLUMNS} FROM photos WHERE size = ? AND hash = ? "
                           "ORDER BY state != 'missing', id", (size, digest))
        return [_photo(r) for r in rows]

    def photos_missing_embedding(self, model: str, limit: int | None = None) -> list[Photo]:
        """Photos present on online roots that have no embedding for ``model`` yet."""
        sql = (f"SELECT {_P_COLUMNS} "
               "FROM photos p JOIN roots r ON r.id = p.root_id "
               f"WHERE p.state = 'ok' AND {_VISIBLE_ROOT} AND NOT EXISTS "
               "(SELECT 1 FROM embeddings e WHERE e.photo_id = p.id AND e.model = ?) "
               "ORDER BY p.path")
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_photo(r) for r in self._query(sql, (model,))]

    def list_photos(self, *, limit: int | None = None, offset: int = 0,
                    folder: str | None = None, visible_only: bool = True,
                    date_from: float | None = None, date_to: float | None = None
                    ) -> list[Photo]:
        """Photos newest first (EXIF date, else file time), for browsing.

        ``visible_only``: what the grid shows: present, readable photos on folders that are
        online (photos that could not be read are listed by :meth:`failed_photos`).
        """
        where, params = self._visible_where(folder, visible_only)
        if date_from is not None or date_to is not None:
            where += " AND " if where else "WHERE "
            where += "COALESCE(p.taken_at, p.mtime) >= ? AND COALESCE(p.taken_at, p.mtime) < ?"
            params += [date_from if date_from is not None else float("-inf"),
                       date_to if date_to is not None else float("inf")]
        sql = (f"SELECT {_P_COLUMNS} "
               f"FROM photos p JOIN roots r ON r.id = p.root_id {where} "
               "ORDER BY COALESCE(p.taken_at, p.mtime) DESC, p.id DESC")
        if limit is not None:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        return [_photo(r) for r in self._query(sql, params)]

    @staticmethod
    def _visible_where(folder: str | None, visible_only: bool) -> tuple[str, list]:
        clauses, params = [], []
        if visible_only:
            clauses.append(f"p.state = 'ok' AND {_VISIBLE_ROOT}")
        if folder:
            clauses.append("(p.path LIKE ? ESCAPE '\\')")
            params.append(_like_prefix(folder))
        return ("WHERE " + " AND ".join(clauses) if clauses else ""), params

    def failed_photos(self) -> list[Photo]:
        return [_photo(r) for r in self._query(
            f"SELECT {_P_COLUMNS} FROM photos p JOIN roots r ON r.id = p.root_id "
            "WHERE p.state = 'failed' AND r.removed_at IS NULL ORDER BY p.path")]

    def searchable_ids(self, model: str, *, folder: str | None = None,
                       date_from: float | None = None, date_to: float | None = None) -> set[int]:
        """Ids that a search may return: embedded with ``model``, present, root online."""
        sql = ("SELECT p.id FROM photos p JOIN roots r ON r.id = p.root_id "
               "JOIN embeddings e ON e.photo_id = p.id AND e.model = ? "
               f"WHERE p.state = 'ok' AND {_VISIBLE_ROOT}")
        params: list = [model]
        if folder:
            sql += " AND p.path LIKE ? ESCAPE '\\'"
            params.append(_like_prefix(folder))
        if date_from is not None:
            sql += " AND COALESCE(p.taken_at, p.mtime) >= ?"
            params.append(date_from)
        if date_to is not None:
            sql += " AND COALESCE(p.taken_at, p.mtime) < ?"
            params.append(date_to)
        return {r[0] for r in self._query(sql, params)}

    # -- writes from the scanner -----------------------------------------------------------

    def insert_photo(self, db: sqlite3.Connection, root_id: int, path: str, size: int,
                     mtime: float, digest: str) -> int:
        cur = db.execute("INSERT INTO photos(root_id, path, size, mtime, hash, added_at) "
                         "VALUES(?, ?, ?, ?, ?, ?)",
                         (root_id, path, size, mtime, digest, time.time()))
        photo_id = int(cur.lastrowid or 0)
        # A photo of a forgotten folder is back: so are the user's decisions about it.
        if db.execute("INSERT OR IGNORE INTO tags(photo_id, label_set, label, score, source) "
                      "SELECT ?, label_set, label, NULL, source FROM kept_tags "
                      "WHERE size = ? AND hash = ?", (photo_id, size, digest)).rowcount:
            db.execute("DELETE FROM kept_tags WHERE size = ? AND hash = ?", (size, digest))
        return photo_id

    def repoint_photo(self, db: sqlite3.Connection, photo_id: int, root_id: int, path: str,
                      mtime: float) -> None:
        """A moved file: same content, new path. Embedding and tags stay with the row."""
        db.execute("DELETE FROM photos WHERE path = ? AND id != ?", (path, photo_id))
        db.execute("UPDATE photos SET root_id = ?, path = ?, mtime = ?, state = 'ok' "
                   "WHERE id = ?", (root_id, path, mtime, photo_id))

    def mark_changed(self, db: sqlite3.Connection, photo_id: int, size: int, mtime: float,
                     digest: str) -> None:
        """New content at a known path: drop what was derived from the old content."""
        db.execute("UPDATE photos SET size = ?, mtime = ?, hash = ?, state = 'ok', error = NULL, "
                   "indexed_at = NULL WHERE id = ?", (size, mtime, digest, photo_id))
        db.execute("DELETE FROM embeddings WHERE photo_id = ?", (photo_id,))
        db.execute("DELETE FROM tags WHERE photo_id = ? AND source = 'auto'", (photo_id,))

    def touch_photo(self, db: sqlite3.Connection, photo_id: int, mtime: float) -> None:
        """Same content with a new mtime (copied back, touched): nothing to redo."""
        db.execute("UPDATE photos SET mtime = ?, state = CASE state WHEN 'missing' THEN 'ok' "
                   "ELSE state END WHERE id = ?", (mtime, photo_id))

    def set_state(self, db: sqlite3.Connection, photo_ids: Iterable[int], state: str) -> None:
        db.executemany("UPDATE photos SET state = ? WHERE id = ?",
                       [(state, i) for i in photo_ids])

    # -- writes from the indexer -----------------------------------------------------------

    def _next_seq(self, db: sqlite3.Connection) -> int:
        row = db.execute("SELECT value FROM meta WHERE key = 'embedding_seq'").fetchone()
        seq = int(row[0]) + 1 if row else 1
        db.execute("INSERT INTO meta(key, value) VALUES('embedding_seq', ?) "
                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (str(seq),))
        return seq

    def commit_embeddings(self, model: str,
                          items: Sequence[tuple[int, np.ndarray, PhotoMetadata]],
                          failures: Sequence[tuple[int, str]] = ()) -> int:
        """Store a batch of embeddings and decode failures in one transaction.

        Returns the sequence number stamped on the batch; the vector index records the
        highest one it holds, so it can tell what it is missing after a crash.
        """
        now = time.time()
        with self.transaction() as db:
            seq = self._next_seq(db)
            db.executemany(
                "INSERT INTO embeddings(photo_id, model, vector, seq) VALUES(?, ?, ?, ?) "
                "ON CONFLICT(photo_id, model) DO UPDATE SET vector = excluded.vector, "
                "seq = excluded.seq",
                [(pid, model, vec.astype(np.float16).tobytes(), seq) for pid, vec, _ in items])
            db.executemany(
                "UPDATE photos SET width = ?, height = ?, taken_at = ?, camera = ?, "
                "orientation = ?, indexed_at = ?, state = 'ok', error = NULL WHERE id = ?",
                [(m.width, m.height, m.taken_at, m.camera, m.orientation, now, pid)
                 for pid, _, m in items])
            db.executemany("UPDATE photos SET state = 'failed', error = ?, indexed_at = ? "
                           "WHERE id = ?", [(reason, now, pid) for pid, reason in failures])
        return seq

    # -- embeddings ------------------------------------------------------------------------

    def max_seq(self) -> int:
        return int(self.get_meta("embedding_seq", "0") or 0)

    def embeddings_since(self, model: str, seq: int,
                         ids: Iterable[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids, float32 vectors) stamped after ``seq``, or for ``ids`` if given."""
        if ids is not None:
            id_list = list(ids)
            rows: list[tuple] = []
            for start in range(0, len(id_list), 900):
                chunk = id_list[start:start + 900]
                marks = ",".join("?" * len(chunk))
                rows += self._query(f"SELECT photo_id, vector FROM embeddings WHERE model = ? "
                                    f"AND photo_id IN ({marks})", [model, *chunk])
        else:
            rows = self._query("SELECT photo_id, vector FROM embeddings WHERE model = ? "
                               "AND seq > ?", (model, seq))
        return _unpack(rows)

    def embedding(self, photo_id: int, model: str) -> np.ndarray | None:
        rows = self._query("SELECT vector FROM embeddings WHERE photo_id = ? AND model = ?",
                           (photo_id, model))
        return np.frombuffer(rows[0][0], dtype=np.float16).astype(np.float32) if rows else None

    def all_embeddings(self, model: str, ids: Iterable[int] | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
        if ids is not None:
            return self.embeddings_since(model, -1, ids)
        return self.embeddings_since(model, -1)

    # -- status ----------------------------------------------------------------------------

    def counts(self, model: str) -> dict[str, int]:
        row = self._query(
            "SELECT "
            " SUM(p.state != 'missing'),"
            " SUM(p.state = 'ok' AND e.photo_id IS NOT NULL),"
            " SUM(p.state = 'failed'),"
            " SUM(p.state = 'ok' AND e.photo_id IS NULL),"
            " SUM(p.state = 'missing') "
            "FROM photos p JOIN roots r ON r.id = p.root_id AND r.removed_at IS NULL "
            "LEFT JOIN embeddings e ON e.photo_id = p.id AND e.model = ?",
            (model,))[0]
        keys = ("photos", "indexed", "failed", "pending", "missing")
        return {k: int(v or 0) for k, v in zip(keys, row, strict=True)}

    # -- label sets and tags ----------------------------------------------------------------

    def text_embeddings(self, model: str, texts: Iterable[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        texts = list(dict.fromkeys(texts))
        for start in range(0, len(texts), 900):
            chunk = texts[start:start + 900]
            marks = ",".join("?" * len(chunk))
            for text, blob in self._query(f"SELECT text, vector FROM text_embeddings WHERE "
                                          f"model = ? AND text IN ({marks})", [model, *chunk]):
                out[text] = np.frombuffer(blob, dtype=np.float32).copy()
        return out

    def store_text_embeddings(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        with self.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO text_embeddings(model, text, vector) "
                           "VALUES(?, ?, ?)", [(model, t, np.asarray(v, np.float32).tobytes())
                                               for t, v in vectors.items()])

    def label_set_sources(self) -> dict[str, str]:
        return dict(self._query("SELECT name, source FROM label_sets ORDER BY name"))

    def save_label_set(self, name: str, source: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO label_sets(name, source, updated_at) VALUES(?, ?, ?) "
                       "ON CONFLICT(name) DO UPDATE SET source = excluded.source, "
                       "updated_at = excluded.updated_at", (name, source, time.time()))

    def delete_label_set(self, name: str) -> None:
        """Forget a set and its automatic tags; the user's own decisions stay."""
        with self.transaction() as db:
            db.execute("DELETE FROM label_sets WHERE name = ?", (name,))
            db.execute("DELETE FROM tags WHERE label_set = ? AND source = 'auto'", (name,))

    def replace_auto_tags(self, label_set: str, tags: Sequence[tuple[int, str, float]],
                          ids: Iterable[int] | None = None,
                          labels: Iterable[str] | None = None) -> None:
        """Swap a set's automatic tags (of ``ids``, else of every photo) for ``tags``.

        Manual and rejected tags occupy their (photo, set, label) key, so INSERT OR IGNORE
        never overwrites a decision the user made. Tags of labels no longer in the set go.
        """
        with self.transaction() as db:
            if ids is None:
                db.execute("DELETE FROM tags WHERE label_set = ? AND source = 'auto'",
                           (label_set,))
            else:
                db.executemany("DELETE FROM tags WHERE label_set = ? AND source = 'auto' "
                               "AND photo_id = ?", [(label_set, i) for i in ids])
            if labels is not None:
                keep = list(labels)
                marks = ",".join("?" * len(keep))
                db.execute(f"DELETE FROM tags WHERE label_set = ? AND source = 'auto' AND "
                           f"label NOT IN ({marks})", [label_set, *keep])
            db.executemany("INSERT OR IGNORE INTO tags(photo_id, label_set, label, score, "
                           "source) VALUES(?, ?, ?, ?, 'auto')",
                           [(pid, label_set, label, score) for pid, label, score in tags])

    def set_tag(self, photo_id: int, label_set: str, label: str, source: str,
                score: float | None = None) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO tags(photo_id, label_set, label, score, source) "
                       "VALUES(?, ?, ?, ?, ?) ON CONFLICT(photo_id, label_set, label) DO "
                       "UPDATE SET source = excluded.source, "
                       "score = COALESCE(excluded.score, tags.score)",
                       (photo_id, label_set, label, score, source))

    def tag_state(self, photo_id: int, label_set: str, label: str
                  ) -> tuple[float | None, str] | None:
        """(score, source) of one tag, or None: what undo needs to put back."""
        rows = self._query("SELECT score, source FROM tags WHERE photo_id = ? AND "
                           "label_set = ? AND label = ?", (photo_id, label_set, label))
        return (rows[0][0], rows[0][1]) if rows else None

    def restore_tag(self, photo_id: int, label_set: str, label: str,
                    state: tuple[float | None, str] | None) -> None:
        """Put a tag back as :meth:`tag_state` saw it (``None``: no tag)."""
        self.restore_tags([(photo_id, label_set, label, state)])

    def restore_tags(self, entries: Sequence[tuple[int, str, str,
                                                   tuple[float | None, str] | None]]) -> None:
        """Many :meth:`restore_tag` in one transaction."""
        with self.transaction() as db:
            for photo_id, label_set, label, state in entries:
                db.execute("DELETE FROM tags WHERE photo_id = ? AND label_set = ? AND "
                           "label = ?", (photo_id, label_set, label))
                if state is not None:
                    db.execute("INSERT INTO tags(photo_id, label_set, label, score, source) "
                               "VALUES(?, ?, ?, ?, ?)", (photo_id, label_set, label, *state))

    def set_tags(self, keys: Sequence[tuple[int, str, str]], source: str) -> None:
        """``set_tag`` for many (photo, set, label) in one transaction, scores kept."""
        with self.transaction() as db:
            db.executemany("INSERT INTO tags(photo_id, label_set, label, score, source) "
                           "VALUES(?, ?, ?, NULL, ?) ON CONFLICT(photo_id, label_set, label) "
                           "DO UPDATE SET source = excluded.source",
                           [(pid, s, label, source) for pid, s, label in keys])

    def tag_rows(self, photo_ids: Iterable[int] | None = None, label_set: str | None = None
                 ) -> list[tuple[int, str, str, float | None, str]]:
        """(photo id, set, label, score, source), best scores first within a photo."""
        sql = "SELECT photo_id, label_set, label, score, source FROM tags"
        clauses, params = [], []
        if label_set is not None:
            clauses.append("label_set = ?")
            params.append(label_set)
        if photo_ids is not None:
            ids = list(photo_ids)
            if not ids:
                return []
            clauses.append(f"photo_id IN ({','.join(str(int(i)) for i in ids)})")
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY photo_id, source = 'rejected', score DESC"
        return self._query(sql, params)

    def tag_counts(self) -> dict[tuple[str, str], int]:
        rows = self._query("SELECT t.label_set, t.label, COUNT(*) FROM tags t "
                           "JOIN photos p ON p.id = t.photo_id "
                           "JOIN roots r ON r.id = p.root_id AND r.removed_at IS NULL "
                           "WHERE t.source != 'rejected' AND p.state != 'missing' "
                           "GROUP BY t.label_set, t.label")
        return {(s, label): n for s, label, n in rows}

    def ids_with_tag(self, label: str, label_set: str | None = None) -> set[int]:
        sql = "SELECT photo_id FROM tags WHERE label = ? AND source != 'rejected'"
        params: list = [label]
        if label_set is not None:
            sql += " AND label_set = ?"
            params.append(label_set)
        return {r[0] for r in self._query(sql, params)}

    # -- duplicate review: content signatures and trash history ------------------------------

    def content_signatures(self, keys: Iterable[tuple[int, str]]) -> dict[tuple[int, str], bytes]:
        """Stored signatures by content key (size, hash); keys without one are left out."""
        out: dict[tuple[int, str], bytes] = {}
        keys = list(dict.fromkeys(keys))
        for start in range(0, len(keys), 400):  # two parameters per key, under SQLite's 999
            chunk = keys[start:start + 400]
            where = " OR ".join("(size = ? AND hash = ?)" for _ in chunk)
            for size, digest, blob in self._query(
                    f"SELECT size, hash, signature FROM content_signatures WHERE {where}",
                    [v for key in chunk for v in key]):
                out[(size, digest)] = bytes(blob)
        return out

    def store_content_signatures(self, items: dict[tuple[int, str], bytes]) -> None:
        with self.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO content_signatures(size, hash, signature) "
                           "VALUES(?, ?, ?)", [(k[0], k[1], v) for k, v in items.items()])

    def hide_photos(self, photo_ids: Iterable[int]) -> None:
        """Mark photos missing (their file was moved away by us); rows, embeddings, tags stay."""
        with self.transaction() as db:
            self.set_state(db, photo_ids, "missing")

    def record_trash(self, at: float,
                     files: Sequence[tuple[int | None, str, str | None, str | None]]) -> int:
        """Store one trash action: (photo id, original path, trash path, info path) per file."""
        with self.transaction() as db:
            action = int(db.execute("INSERT INTO trash_actions(at) VALUES(?)",
                                    (at,)).lastrowid or 0)
            db.executemany("INSERT INTO trashed_files(action_id, photo_id, path, trash_path, "
                           "info_path) VALUES(?, ?, ?, ?, ?)",
                           [(action, *f) for f in files])
        return action

    def trash_actions(self, limit: int = 50) -> list[tuple[int, float, list[tuple]]]:
        """Newest first: (action id, time, [(photo id, path, trash path, info path,
        restored at)])."""
        actions = self._query("SELECT id, at FROM trash_actions ORDER BY at DESC, id DESC "
                              "LIMIT ?", (int(limit),))
        out = []
        for action_id, at in actions:
            files = self._query("SELECT photo_id, path, trash_path, info_path, restored_at "
                                "FROM trashed_files WHERE action_id = ? ORDER BY rowid",
                                (action_id,))
            out.append((action_id, at, files))
        return out

    def mark_restored(self, action_id: int, paths: Iterable[str], at: float) -> None:
        with self.transaction() as db:
            db.executemany("UPDATE trashed_files SET restored_at = ? WHERE action_id = ? "
                           "AND path = ?", [(at, action_id, p) for p in paths])

    def root_counts(self) -> dict[int, int]:
        return {r[0]: r[1] for r in self._query(
            "SELECT root_id, COUNT(*) FROM photos WHERE state != 'missing' GROUP BY root_id")}


def _unpack(rows: Sequence[tuple]) -> tuple[np.ndarray, np.ndarray]:
    if not rows:
        return np.empty(0, dtype=np.int64), np.empty((0, 0), dtype=np.float32)
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float16)
    return ids, vecs.reshape(len(rows), -1).astype(np.float32)


def _like_prefix(folder: str) -> str:
    def esc(text: str) -> str:
        return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

    return esc(folder.rstrip("/\\") + os.sep) + "%"


def _is_inside(child: str, parent: str) -> bool:
    try:
        Path(child).relative_to(parent)
    except ValueError:
        return False
    return True
