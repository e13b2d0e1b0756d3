"""Damaged catalogs are detected, never written to, and repaired beside the old one; backups
are made after runs that changed something (issue 13, item 3)."""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from photoclip.core import Library
from photoclip.core.catalog import _MIGRATIONS, SCHEMA_VERSION, Catalog, PhotoMetadata
from photoclip.core.errors import CatalogDamagedError
from photoclip.core.library import (
    BACKUP_GENERATIONS,
    catalog_problems,
    repair_library,
)
from photoclip.core.repair import salvage
from tests.conftest import draw_photos

PAGE = 4096


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _filled_catalog(path: Path, n: int = 3000, dim: int = 64) -> list[int]:
    """A real catalog of ``n`` photos with embeddings and tags: a few hundred pages."""
    cat = Catalog(path)
    root = cat.add_root("/photos")
    with cat.transaction() as db:
        ids = [cat.insert_photo(db, root.id, f"/photos/{i // 100}/IMG_{i:05d}.jpg",
                                2_000_000 + i, 1.7e9 + i, f"{i:032x}") for i in range(n)]
    vecs = np.random.default_rng(0).standard_normal((n, dim)).astype(np.float32)
    cat.commit_embeddings("m", [(pid, v, PhotoMetadata(400, 300)) for pid, v in
                                zip(ids, vecs, strict=True)])
    cat.replace_auto_tags("scenes", [(pid, "beach", 0.9) for pid in ids[::3]])
    cat.close()
    return ids


def _scribble(path: Path, pages: list[int]) -> None:
    rng = random.Random(7)
    with open(path, "r+b") as f:
        for page in pages:
            f.seek(page * PAGE)
            f.write(rng.randbytes(PAGE))


def test_forty_garbage_pages_are_refused_by_every_open_and_never_written(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    _filled_catalog(path)
    pages = path.stat().st_size // PAGE
    assert pages > 200
    _scribble(path, random.Random(1).sample(range(2, pages), 40))
    before = _digest(path)
    for readonly in (False, True):
        with pytest.raises(CatalogDamagedError) as err:
            Catalog(path, readonly=readonly)
        message = str(err.value)
        assert "\n" not in message
        assert "damaged" in message
        assert "photoclip repair" in message
    assert _digest(path) == before  # not one byte written


def test_four_kib_of_garbage_is_refused(tmp_path: Path) -> None:
    # This used to pass the open, and `index` exited 0 on a catalog failing its check.
    path = tmp_path / "catalog.sqlite"
    _filled_catalog(path)
    with open(path, "r+b") as f:
        f.seek(path.stat().st_size // 2 + 100)
        f.write(random.Random(2).randbytes(4096))
    with pytest.raises(CatalogDamagedError):
        Catalog(path)
    assert catalog_problems(tmp_path)


def test_zero_byte_catalog_is_refused_not_replaced(tmp_path: Path, shapes_embedder) -> None:
    (tmp_path / "catalog.sqlite").write_bytes(b"")
    for readonly in (False, True):
        with pytest.raises(CatalogDamagedError, match=r"empty \(0 bytes"):
            Library.open(tmp_path, embedder=shapes_embedder, readonly=readonly)
    assert (tmp_path / "catalog.sqlite").stat().st_size == 0
    assert catalog_problems(tmp_path) == ["the catalog is empty (0 bytes)"]


def test_salvage_reads_around_damage(tmp_path: Path) -> None:
    damaged = tmp_path / "catalog.sqlite"
    ids = _filled_catalog(damaged)
    pages = damaged.stat().st_size // PAGE
    _scribble(damaged, list(range(pages // 2, pages // 2 + 40)))
    report = salvage(damaged, tmp_path / "new.sqlite")
    assert report.unreadable
    assert 0 < report.salvaged["embeddings"] < len(ids)
    new = Catalog(tmp_path / "new.sqlite")
    try:
        assert new.integrity_problems() == []
        assert new.counts("m")["photos"] == report.salvaged["photos"]
        assert new.get_meta("catalog_id") != ""
    finally:
        new.close()


def test_repair_keeps_damaged_file_uses_backup_and_leaves_photos_and_vectors(
        library: Library, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    draw_photos(photos, 30, seed=50)
    library.add_root(photos)
    run = library.index()
    assert run.backup is not None
    assert run.backup.is_file()
    photo = library.catalog.photo_by_path(str(sorted(photos.glob("*.jpg"))[0]))
    assert photo is not None
    library.add_tag(photo.id, "mine", "keeper")
    folder, embedder = library.folder, library.embedder
    library.close()
    vectors = sorted(folder.glob("vectors-*"))
    vector_digests = {p.name: _digest(p) for p in vectors}
    photo_digests = {p.name: _digest(p) for p in photos.iterdir()}
    catalog = folder / "catalog.sqlite"
    # Damage everything after the first pages: most rows are unreadable now.
    pages = catalog.stat().st_size // PAGE
    _scribble(catalog, list(range(3, pages)))
    with pytest.raises(CatalogDamagedError):
        Library.open(folder, embedder=embedder)

    report = repair_library(folder)
    assert report is not None
    line = report.summary()
    assert "\n" not in line
    assert "backup" in line
    assert report.damaged_kept is not None
    assert report.damaged_kept.name.startswith("catalog-damaged-")
    assert report.damaged_kept.is_file()
    # The photos and the vector index are untouched; the vector index is rebuilt on use.
    assert {p.name: _digest(p) for p in photos.iterdir()} == photo_digests
    assert {p.name: _digest(p) for p in vectors} == vector_digests
    with Library.open(folder, embedder=embedder) as lib:
        again = lib.index()
        assert again.index.embedded == 0  # embeddings came back from the backup
        assert lib.status().indexed == 30
        assert len(lib.search("a shape", top=50)) == 30
        # The tag added after the backup was lost with the damaged pages: that is the
        # price of damage; the backup's state is what comes back.
        assert lib.check() == []


def test_repair_of_a_sound_catalog_does_nothing_without_force(library: Library,
                                                              photo_dir: Path) -> None:
    library.add_root(photo_dir)
    library.index()
    folder, embedder = library.folder, library.embedder
    library.close()
    before = _digest(folder / "catalog.sqlite")
    assert catalog_problems(folder) == []
    assert repair_library(folder) is None
    assert _digest(folder / "catalog.sqlite") == before
    report = repair_library(folder, force=True)
    assert report is not None
    assert report.salvaged["photos"] == 40
    with Library.open(folder, embedder=embedder) as lib:
        assert lib.index().index.embedded == 0
        assert lib.status().indexed == 40


def test_backups_after_changing_runs_only_a_few_generations(library: Library,
                                                           tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    draw_photos(photos, 4, seed=51)
    library.add_root(photos)
    made = [library.index().backup]
    assert made[0] is not None
    assert library.index().backup is None  # nothing changed: no new copy
    for i in range(BACKUP_GENERATIONS + 1):
        draw_photos(photos / f"more{i}", 1, seed=60 + i)
        made.append(library.index().backup)
    kept = sorted(library.backups_dir.glob("catalog-*.sqlite"))
    assert len(kept) == BACKUP_GENERATIONS
    assert made[-1] in kept
    newest = Catalog(made[-1], readonly=True)
    try:
        assert newest.counts(library.embedder.signature)["indexed"] == 4 + BACKUP_GENERATIONS + 1
    finally:
        newest.close()
    db = sqlite3.connect(made[-1])
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    db.close()
    assert not list(library.backups_dir.glob("*.tmp"))


def test_a_version_2_catalog_still_upgrades(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    db = sqlite3.connect(path)
    for version in (1, 2):
        db.executescript(_MIGRATIONS[version] + f"; PRAGMA user_version = {version};")
    db.execute("INSERT INTO roots(path, added_at) VALUES('/p', 0)")
    db.execute("INSERT INTO photos(root_id, path, size, mtime, hash, added_at, state, error) "
               "VALUES(1, '/p/a.jpg', 1, 1, 'h', 0, 'failed', 'corrupt: x')")
    db.commit()
    db.close()
    cat = Catalog(path)
    try:
        assert cat._query("PRAGMA user_version")[0][0] == SCHEMA_VERSION
        assert cat.get_meta("catalog_id")
        # A failure recorded before decoders were stored is retried once.
        assert cat.retry_failed("pillow 99") == 1
    finally:
        cat.close()
    assert os.path.getsize(path) > 0
