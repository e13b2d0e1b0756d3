"""Walk library roots and bring the catalog in line with what is on disk.

A scan finds, per file: new, changed (same path, new content), moved (same content, new
path: the row is re-pointed, keeping embedding and tags), back (a missing file returned),
and missing. The slow parts, walking and hashing, happen outside any transaction; the
changes are then applied in one, missing files first so a move between two roots is seen
as a move whichever root is walked first.

A root that cannot be reached (unplugged drive, unmounted share, or an empty mount point
while the catalog has photos for it) is marked offline and nothing under it is touched.
"Empty" means no photo files: a mount point holding only ``lost+found`` or a ``.DS_Store``
is as empty as an unmounted one.

Folders that operating systems, NAS boxes and photo apps fill with copies of photos
(thumbnails, recycle bins, previews) are skipped: :data:`DEFAULT_SKIP_FOLDERS`, shell-style
patterns matched case-insensitively against each folder's name, replaceable per library.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import itertools
import logging
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from photoclip.core.catalog import Catalog, Photo, Root
from photoclip.core.images import is_photo_path

log = logging.getLogger(__name__)

_HASH_CHUNK = 64 * 1024

DEFAULT_SKIP_FOLDERS: tuple[str, ...] = (
    ".*",                         # hidden: .thumbnails, .Trash-1000, .AppleDouble, .@__thumb
    "@eaDir", "#recycle", "#snapshot",            # Synology thumbnails, recycle bin, snapshots
    "@Recycle", "@Recently-Snapshot",             # QNAP
    "$RECYCLE.BIN", "RECYCLER", "System Volume Information",   # Windows
    "lost+found",                                 # ext4's fsck folder
    "*.lrdata",                                   # Lightroom previews
)

# Names a file system or another OS leaves in a folder that says nothing about photos.
_NOISE_ENTRIES = frozenset({"lost+found", ".ds_store", "thumbs.db", "desktop.ini",
                            "system volume information", "$recycle.bin"})


@functools.lru_cache(maxsize=16)
def _skip_matcher(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(fnmatch.translate(p.lower()) for p in patterns))


def skipped_folder(name: str, patterns: Sequence[str] = DEFAULT_SKIP_FOLDERS) -> bool:
    """True when a folder called ``name`` is one we do not look into."""
    matcher = _skip_matcher(tuple(patterns))
    return matcher is not None and matcher.match(name.lower()) is not None


def in_skipped_folder(path: str, root: str,
                      patterns: Sequence[str] = DEFAULT_SKIP_FOLDERS) -> bool:
    """True when a folder between ``root`` and the file ``path`` is skipped."""
    rel = os.path.relpath(os.path.dirname(path), root)
    if rel in (".", ""):
        return False
    return any(skipped_folder(part, patterns) for part in rel.split(os.sep))


def content_hash(path: str, size: int | None = None) -> str:
    """Size plus the first and last 64 KiB: enough to recognise a moved photo, cheap on 10 MB."""
    if size is None:
        size = os.stat(path).st_size
    h = hashlib.blake2b(digest_size=16)
    h.update(size.to_bytes(8, "little"))
    with open(path, "rb") as f:
        h.update(f.read(_HASH_CHUNK))
        if size > 2 * _HASH_CHUNK:
            f.seek(-_HASH_CHUNK, os.SEEK_END)
            h.update(f.read(_HASH_CHUNK))
    return h.hexdigest()


def walk_photos(top: str, skip: Sequence[str] = DEFAULT_SKIP_FOLDERS,
                unlisted: list[str] | None = None) -> Iterator[tuple[str, int, float]]:
    """(path, size, mtime) of every photo under ``top``; links and ``skip`` folders skipped.

    Folders that cannot be listed go to ``unlisted``: what they hold is unknown, not gone.
    """
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as exc:
            if unlisted is not None:
                unlisted.append(folder)
            if isinstance(exc, FileNotFoundError):   # removed, or its drive unplugged, now
                log.info("%s went away while it was scanned", folder)
            else:
                log.warning("cannot list %s: %s", folder, exc)
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if not skipped_folder(entry.name, skip):
                        stack.append(entry.path)
                elif entry.is_file() and is_photo_path(entry.name):
                    st = entry.stat()
                    yield entry.path, st.st_size, st.st_mtime
            except OSError:
                continue


def root_reachable(path: str, known_photos: int,
                   skip: Sequence[str] = DEFAULT_SKIP_FOLDERS) -> bool:
    """Offline means: gone, not a folder, unreadable, or empty while we know photos in it.

    Empty ignores what a bare file system or another OS leaves behind (``lost+found``,
    ``.DS_Store``, hidden files, skipped folders). A full scan also treats a root where it
    finds no photo at all, where there were photos, as offline (see :func:`scan`).
    """
    try:
        if not os.path.isdir(path):
            return False
        with os.scandir(path) as it:
            has_entries = any(not (e.name.startswith(".") or e.name.lower() in _NOISE_ENTRIES
                                   or (e.is_dir(follow_symlinks=False)
                                       and skipped_folder(e.name, skip)))
                              for e in it)
    except OSError:
        return False
    return has_entries or known_photos == 0


@dataclass
class ScanSummary:
    new: int = 0
    changed: int = 0
    moved: int = 0
    missing: int = 0
    returned: int = 0
    unchanged: int = 0
    offline_roots: list[str] = field(default_factory=list)
    new_ids: list[int] = field(default_factory=list)
    young: list[str] = field(default_factory=list)
    paired: int = 0        # RAW files that joined or left a RAW+JPEG pair

    @property
    def touched(self) -> int:
        return self.new + self.changed + self.moved + self.missing + self.returned + \
            self.paired


@dataclass
class _RootPlan:
    root: Root
    gone: list[int] = field(default_factory=list)              # rows to mark missing
    returned: list[int] = field(default_factory=list)          # missing rows found again
    touched: list[tuple[int, float]] = field(default_factory=list)   # same content, new mtime
    changed: list[tuple[int, int, float, str]] = field(default_factory=list)
    new: list[tuple[str, int, float, str]] = field(default_factory=list)
    unchanged: int = 0
    young: list[str] = field(default_factory=list)               # still being written?
    folders: set[str] = field(default_factory=set)   # where files came, went or changed


def _stat_files(paths: Iterable[str], root: str, skip: Sequence[str]
                ) -> Iterator[tuple[str, int, float]]:
    for path in paths:
        if not is_photo_path(path) or in_skipped_folder(path, root, skip):
            continue
        try:
            st = os.stat(path)
        except OSError:
            continue
        if os.path.isfile(path):
            yield path, st.st_size, st.st_mtime


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _plan_root(catalog: Catalog, root: Root, cancel: threading.Event | None,
               scope: tuple[set[str], list[str]] | None = None,
               min_age: float = 0.0, skip: Sequence[str] = DEFAULT_SKIP_FOLDERS
               ) -> _RootPlan | None:
    """What changed under ``root``; ``scope`` = (files, folders) limits where to look."""
    known = catalog.root_file_states(root.id)
    present = sum(1 for v in known.values() if v[4] != "missing")
    if not root_reachable(root.path, present, skip):
        return None
    plan = _RootPlan(root)
    listing: Iterable[tuple[str, int, float]]
    unlisted: list[str] = []
    if scope is None:
        listing = walk_photos(root.path, skip, unlisted)
    else:
        files, folders = scope
        folders = [f for f in folders if not (in_skipped_folder(os.path.join(f, "x"),
                                                                root.path, skip))]
        known = {p: v for p, v in known.items()
                 if p in files or any(_inside(p, f) for f in folders)}
        walked = [walk_photos(f, skip, unlisted) for f in folders if os.path.isdir(f)]
        listing = itertools.chain(
            _stat_files(sorted(f for f in files if not any(_inside(f, d) for d in folders)),
                        root.path, skip),
            *walked)
    seen: set[str] = set()
    now = time.time()
    for path, size, mtime in listing:
        if cancel is not None and cancel.is_set():
            return None
        seen.add(path)
        if min_age and now - mtime < min_age:
            plan.young.append(path)  # maybe mid-copy: leave it to the watcher's settling
            continue
        row = known.get(path)
        try:
            if row is None:
                plan.new.append((path, size, mtime, content_hash(path, size)))
                plan.folders.add(os.path.dirname(path))
                continue
            pid, ksize, kmtime, khash, state = row
            if ksize == size and kmtime == mtime:
                if state == "missing":
                    plan.returned.append(pid)
                    plan.folders.add(os.path.dirname(path))
                else:
                    plan.unchanged += 1
                continue
            digest = content_hash(path, size)
        except OSError:
            continue  # vanished or unreadable between listing and reading: next scan
        if digest == khash:
            plan.touched.append((pid, mtime))
            if state == "missing":
                plan.returned.append(pid)
                plan.folders.add(os.path.dirname(path))
        else:
            plan.changed.append((pid, size, mtime, digest))
    if scope is None and not seen and present:
        # Photos were here and not one is left: an empty mount point (or a drive mounted
        # elsewhere), not a library to empty. Removing the folder is the way to say so.
        return None
    if root.path in unlisted or not os.path.isdir(root.path):
        return None   # the drive went away during the scan: offline, nothing is gone
    # Photos in folders that could not be listed (unreadable, or removed while scanned)
    # are not known to be gone: the next scan that can read the folder decides.
    gone = [(p, v[0]) for p, v in known.items() if p not in seen and v[4] != "missing"
            and not any(_inside(p, folder) for folder in unlisted)]
    plan.gone = [pid for _p, pid in gone]
    plan.folders.update(os.path.dirname(p) for p, _pid in gone)
    return plan


def _moved_from(catalog: Catalog, size: int, digest: str) -> Photo | None:
    """The row a new file was moved from: same content, and its old path is gone.

    Rows not yet marked missing count too: with watcher events, the new path can be
    seen before the old one is reported gone.
    """
    for photo in catalog.photos_by_content(size, digest):
        if photo.state == "missing" or not os.path.exists(photo.path):
            return photo
    return None


def scan(catalog: Catalog, roots: Iterable[Root], *, files: Iterable[str] | None = None,
         folders: Iterable[str] | None = None, min_age: float = 0.0,
         cancel: threading.Event | None = None,
         skip: Sequence[str] = DEFAULT_SKIP_FOLDERS, pairs: bool = True) -> ScanSummary:
    """Scan ``roots`` and apply what changed, all in one transaction.

    With ``files`` and/or ``folders`` only those paths (existing or not) and the trees
    under those folders are looked at: how the watcher applies settled events cheaply.
    Everything goes in one plan so a move is seen as a move whatever the event order.
    Files written less than ``min_age`` seconds ago are left alone and listed in
    ``young``: a full scan must not index a photo that is still being copied. Folders
    matching ``skip`` are not looked into. With ``pairs``, a RAW file beside a JPEG or
    HEIF of the same name becomes part of that photo (see ``Catalog.update_pairs``).
    """
    summary = ScanSummary()
    plans: list[_RootPlan] = []
    limited = files is not None or folders is not None
    all_files, all_folders = set(files or ()), list(folders or ())
    for root in roots:
        scope = None
        if limited:
            scope = ({f for f in all_files if _inside(f, root.path)},
                     [f for f in all_folders if _inside(f, root.path)])
            if not scope[0] and not scope[1]:
                continue
        plan = _plan_root(catalog, root, cancel, scope, min_age, skip)
        if cancel is not None and cancel.is_set():
            return summary
        if plan is None:
            if root.online:
                log.info("root %s is unreachable: marked offline", root.path)
            catalog.set_root_state(root.id, online=False)
            summary.offline_roots.append(root.path)
            continue
        plans.append(plan)
    gone = {pid for plan in plans for pid in plan.gone}
    with catalog.transaction() as db:
        for plan in plans:
            if not plan.root.online:
                log.info("root %s is back online", plan.root.path)
            db.execute("UPDATE roots SET online = 1, last_scan = strftime('%s','now') "
                       "WHERE id = ?", (plan.root.id,))
            catalog.set_state(db, plan.gone, "missing")
            catalog.set_state(db, plan.returned, "ok")
            for pid, mtime in plan.touched:
                catalog.touch_photo(db, pid, mtime)
            for pid, size, mtime, digest in plan.changed:
                catalog.mark_changed(db, pid, size, mtime, digest)
            summary.missing += len(plan.gone)
            summary.returned += len(plan.returned)
            summary.changed += len(plan.changed)
            summary.unchanged += plan.unchanged + len(plan.touched)
            summary.young += plan.young
        for plan in plans:
            for path, size, mtime, digest in plan.new:
                moved = _moved_from(catalog, size, digest)
                if moved is not None:
                    plan.folders.add(os.path.dirname(moved.path))
                    catalog.repoint_photo(db, moved.id, plan.root.id, path, mtime)
                    summary.moved += 1
                    if moved.id in gone:
                        summary.missing -= 1  # not deleted after all: moved
                else:
                    summary.new_ids.append(
                        catalog.insert_photo(db, plan.root.id, path, size, mtime, digest))
                    summary.new += 1
        folders = {f for plan in plans for f in plan.folders}
        if folders:
            summary.paired = catalog.update_pairs(db, folders, pairs)
    return summary
