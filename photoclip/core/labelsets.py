"""The library's label-set files: ``<library>/labelsets/*.toml``, the user's to edit.

Files are the user's truth; the catalog keeps, per set, the version the library was last
tagged with (``label_sets`` table). That gives three things:

- a malformed edit is refused (file, line, reason) and the last good version stays in use;
- a set whose definition differs from the catalog's copy is *changed*: the library re-tags
  the whole set and only then records the new version (:meth:`LabelSetStore.mark_tagged`),
  so a run that dies in between re-tags next time instead of never;
- reading is cheap: files are re-parsed only when their (mtime, size) moved.

Saving from the app goes through tomlkit so the user's comments and layout survive.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from photoclip.core.catalog import Catalog
from photoclip.core.concepts import Example, Learned
from photoclip.core.errors import LabelSetError
from photoclip.core.tagging import (
    LabelSet,
    default_label_set_files,
    label_set_filename,
    parse_label_set,
    read_label_set,
)

log = logging.getLogger(__name__)


@dataclass
class LabelSetSync:
    """What :meth:`LabelSetStore.sync` found."""

    changed: list[LabelSet] = field(default_factory=list)   # definition differs from tagged
    removed: list[str] = field(default_factory=list)        # file deleted: set forgotten


class LabelSetStore:
    """Label sets of one library: files on disk, last tagged versions in the catalog.

    Thread-safe: the watcher, the indexer's batch hook and the app's workers all read it.
    """

    def __init__(self, folder: Path, catalog: Catalog, *, readonly: bool = False) -> None:
        self.folder = Path(folder)
        self.catalog = catalog
        self.readonly = readonly
        self.errors: list[str] = []
        self._lock = threading.RLock()
        self._files: dict[Path, tuple[tuple[int, int], LabelSet | None, str | None]] = {}
        self._sets: dict[str, LabelSet] = {}
        self._synced = False

    # -- reading ---------------------------------------------------------------------------

    def _stamp(self, path: Path) -> tuple[int, int] | None:
        try:
            st = path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def _listing(self) -> list[Path]:
        try:
            return sorted(p for p in self.folder.glob("*.toml") if p.is_file())
        except OSError:
            return []

    def dirty(self) -> bool:
        """Has any set file appeared, gone or been written since the last :meth:`sync`?"""
        with self._lock:
            if not self._synced:
                return True
            listing = self._listing()
            if set(listing) != set(self._files):
                return True
            return any(self._stamp(p) != self._files[p][0] for p in listing)

    def sync(self) -> LabelSetSync:
        """Re-read changed files; say which sets differ from the version last tagged."""
        with self._lock:
            stored = {name: parse_label_set(src, f"{name} (stored)")
                      for name, src in self.catalog.label_set_sources().items()}
            files: dict[Path, tuple[tuple[int, int], LabelSet | None, str | None]] = {}
            for path in self._listing():
                stamp = self._stamp(path)
                if stamp is None:
                    continue
                cached = self._files.get(path)
                if cached is not None and cached[0] == stamp:
                    files[path] = cached
                    continue
                try:
                    files[path] = (stamp, read_label_set(path), None)
                except LabelSetError as exc:
                    files[path] = (stamp, None, str(exc))
            self._files = files
            current: dict[str, LabelSet] = dict(stored)
            on_disk: set[str] = set()
            result = LabelSetSync()
            errors: list[str] = []
            for path, (_stamp, ls, error) in files.items():
                if ls is None:
                    errors.append(error or f"{path}: unreadable")
                    # Keep the last good version of whichever set this file defined.
                    on_disk.update(n for n in stored if label_set_filename(n) == path.name)
                    continue
                on_disk.add(ls.name)
                current[ls.name] = ls
                if stored.get(ls.name) is None or stored[ls.name].source != ls.source:
                    result.changed.append(ls)
            if not self.readonly:
                for name in set(stored) - on_disk:
                    current.pop(name, None)
                    self.catalog.delete_label_set(name)  # its file was deleted by hand
                    result.removed.append(name)
            self.errors = errors
            self._sets = current
            self._synced = True
            return result

    def current(self) -> list[LabelSet]:
        """The sets as last read, without looking at the disk (for per-batch tagging)."""
        with self._lock:
            if not self._synced:
                self.sync()
            return [self._sets[n] for n in sorted(self._sets)]

    def all(self) -> list[LabelSet]:
        with self._lock:
            self.sync()
            return self.current()

    def get(self, name: str) -> LabelSet:
        with self._lock:
            self.sync()
            if name not in self._sets:
                raise LabelSetError(f"no label set named {name!r} "
                                    f"(have: {', '.join(sorted(self._sets)) or 'none'})")
            return self._sets[name]

    # -- writing ---------------------------------------------------------------------------

    def seed(self, resources: Path) -> None:
        """Copy the shipped sets into the library once; from then on they are the user's."""
        if self.readonly or self.catalog.get_meta("labelsets_seeded"):
            return
        self.folder.mkdir(exist_ok=True)
        for src in default_label_set_files(resources):
            dest = self.folder / src.name
            if not dest.exists():
                dest.write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
        self.catalog.set_meta("labelsets_seeded", "1")

    def mark_tagged(self, label_set: LabelSet) -> None:
        """Record that the library's tags now follow this version of the set."""
        if not self.readonly:
            self.catalog.save_label_set(label_set.name, label_set.source or label_set.to_toml())

    def _file_defining(self, name: str) -> list[Path]:
        out = []
        for path in self._listing():
            try:
                defines = read_label_set(path).name == name
            except LabelSetError:
                defines = path.name == label_set_filename(name)
            if defines:
                out.append(path)
        return out

    def save(self, label_set: LabelSet, *, keep_layout: bool = True) -> LabelSet:
        """Write a set as a file the user owns.

        ``keep_layout``: an existing file of the set is edited in place (tomlkit), so the
        user's comments and layout survive; otherwise the set's own text replaces it.
        """
        if self.readonly:
            raise LabelSetError("this library was opened read-only")
        with self._lock:
            existing = self._file_defining(label_set.name)
            text = label_set.source or label_set.to_toml()
            if existing and keep_layout:
                try:
                    text = _update_toml(existing[0].read_text(encoding="utf-8"), label_set)
                except (OSError, UnicodeDecodeError, ValueError) as exc:
                    log.info("rewriting %s from scratch: %s", existing[0], exc)
            parsed = parse_label_set(text, label_set.name)   # never store what we cannot read
            self.folder.mkdir(exist_ok=True)
            target = self.folder / label_set_filename(parsed.name)
            for path in existing:
                if path != target:
                    path.unlink()
            tmp = target.with_name(target.name + ".tmp")
            try:
                tmp.write_text(text, encoding="utf-8")
                os.replace(tmp, target)
            except OSError:
                tmp.unlink(missing_ok=True)
                raise
            self.sync()
            return self._sets.get(parsed.name, parsed)

    def remove(self, name: str) -> None:
        with self._lock:
            self.get(name)
            for path in self._file_defining(name):
                path.unlink()
            self.catalog.delete_label_set(name)
            self.sync()


def _update_toml(original: str, label_set: LabelSet) -> str:
    """``original`` with the set's values put in, comments and layout kept (tomlkit)."""
    import tomlkit

    doc = tomlkit.parse(original)

    def put(key: str, value: object) -> None:
        if doc.get(key) != value:
            doc[key] = value

    put("name", label_set.name)
    labels = list(label_set.labels)
    if list(doc.get("labels", [])) != labels:
        old = doc.get("labels")
        arr = tomlkit.array()
        arr.extend(labels)
        if old is not None and "\n" in old.as_string():
            arr.multiline(True)
        doc["labels"] = arr
    for key, value in (("templates", list(label_set.templates) if label_set.templates else None),
                       ("top_k", label_set.top_k)):
        if value is None:
            if key in doc:
                del doc[key]
        else:
            put(key, value)
    put("threshold", label_set.threshold)
    prompts = {k: list(v) for k, v in label_set.prompts.items()}
    if prompts:
        table = doc.get("prompts")
        if table is None:
            doc["prompts"] = prompts
        else:
            for k in [k for k in table if k not in prompts]:
                del table[k]
            for k, v in prompts.items():
                if list(table.get(k, [])) != v:
                    table[k] = v
    elif "prompts" in doc:
        del doc["prompts"]
    _update_learned(doc, label_set)
    return tomlkit.dumps(doc)


def _update_learned(doc: Any, label_set: LabelSet) -> None:
    """``[learned.LABEL]`` tables put in line with the set; a label's table that did not
    change is left exactly as the user wrote it."""
    import tomlkit

    def photos(items: tuple[Example, ...]) -> Any:
        arr = tomlkit.array()
        for e in items:
            entry = tomlkit.inline_table()
            entry.update({"content": e.content, "path": e.path})
            arr.append(entry)
        arr.multiline(True)
        return arr

    def current(raw: Any) -> Learned | None:
        try:
            return Learned(*(tuple(Example(str(i["content"]), str(i.get("path", "")))
                                   for i in raw.get(key, []))
                             for key in ("examples", "negatives")))
        except (AttributeError, KeyError, TypeError):
            return None

    wanted = label_set.learned
    if not wanted:
        if "learned" in doc:
            del doc["learned"]
        return
    table = doc.get("learned")
    if table is None:
        table = tomlkit.table(is_super_table=True)
        doc["learned"] = table
    for label in [k for k in table if k not in wanted]:
        del table[label]
    for label, learned in wanted.items():
        if label in table and current(table[label]) == learned:
            continue
        sub = tomlkit.table()
        sub["examples"] = photos(learned.examples)
        if learned.negatives:
            sub["negatives"] = photos(learned.negatives)
        table[label] = sub
