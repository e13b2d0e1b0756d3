from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from photoclip.core.catalog import SCHEMA_VERSION, Catalog, PhotoMetadata
from photoclip.core.errors import CatalogDamagedError, LibraryError, ReadOnlyLibraryError


@pytest.fixture
def catalog(tmp_path: Path):
    cat = Catalog(tmp_path / "catalog.sqlite")
    yield cat
    cat.close()


def test_new_catalog_is_wal_with_current_schema(catalog: Catalog) -> None:
    db = sqlite3.connect(catalog.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"roots", "photos", "embeddings", "tags", "label_sets", "meta"} <= tables


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    Catalog(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(LibraryError, match="newer photoclip"):
        Catalog(path)


def test_not_a_database_is_a_damaged_catalog_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    garbage = b"this is not sqlite" * 100
    path.write_bytes(garbage)
    with pytest.raises(CatalogDamagedError, match=r"damaged .*photoclip repair"):
        Catalog(path)
    assert path.read_bytes() == garbage


def test_adding_a_parent_root_absorbs_child_roots(catalog: Catalog, tmp_path: Path) -> None:
    child = catalog.add_root(str(tmp_path / "a" / "b"))
    with catalog.transaction() as db:
        pid = catalog.insert_photo(db, child.id, str(tmp_path / "a" / "b" / "x.jpg"), 10, 1.0, "h")
    parent = catalog.add_root(str(tmp_path / "a"))
    assert [r.path for r in catalog.roots()] == [parent.path]
    photo = catalog.photo(pid)
    assert photo is not None
    assert photo.root_id == parent.id
    # A sibling whose name merely starts the same is not a child.
    sibling = catalog.add_root(str(tmp_path / "ab"))
    assert sibling.path in [r.path for r in catalog.roots()]


def test_embeddings_round_trip_as_float16_with_counts(catalog: Catalog, tmp_path: Path) -> None:
    root = catalog.add_root(str(tmp_path))
    with catalog.transaction() as db:
        a = catalog.insert_photo(db, root.id, str(tmp_path / "a.jpg"), 1, 1.0, "ha")
        b = catalog.insert_photo(db, root.id, str(tmp_path / "b.jpg"), 2, 1.0, "hb")
        c = catalog.insert_photo(db, root.id, str(tmp_path / "c.jpg"), 3, 1.0, "hc")
    vec = np.random.default_rng(0).normal(size=8).astype(np.float32)
    vec /= np.linalg.norm(vec)
    seq = catalog.commit_embeddings("m1", [(a, vec, PhotoMetadata(4, 3, 100.0, "Cam", 6))],
                                    [(b, "corrupt: truncated")])
    assert seq == 1
    assert catalog.max_seq() == 1
    got = catalog.embedding(a, "m1")
    assert got is not None
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, vec, atol=1e-3)
    assert catalog.embedding(a, "other-model") is None
    pa = catalog.photo(a)
    assert pa is not None
    assert (pa.width, pa.height, pa.camera, pa.taken_at) == (4, 3, "Cam", 100.0)
    pb = catalog.photo(b)
    assert pb is not None
    assert pb.state == "failed"
    assert pb.error == "corrupt: truncated"
    assert catalog.counts("m1") == {"photos": 3, "indexed": 1, "failed": 1, "pending": 1,
                                    "missing": 0}
    # Another model sees everything still to do.
    assert catalog.counts("m2")["pending"] == 2
    assert [p.id for p in catalog.photos_missing_embedding("m1")] == [c]


def test_readonly_catalog_refuses_writes(catalog: Catalog, tmp_path: Path) -> None:
    catalog.set_meta("k", "v")
    ro = Catalog(catalog.path, readonly=True)
    try:
        assert ro.get_meta("k") == "v"
        with pytest.raises(ReadOnlyLibraryError, match="cannot be written"):
            ro.set_meta("k", "w")
    finally:
        ro.close()


def test_failed_transaction_leaves_nothing(catalog: Catalog, tmp_path: Path) -> None:
    root = catalog.add_root(str(tmp_path))
    def crash_mid_write() -> None:
        with catalog.transaction() as db:
            catalog.insert_photo(db, root.id, str(tmp_path / "a.jpg"), 1, 1.0, "h")
            raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError):
        crash_mid_write()
    assert catalog.counts("m")["photos"] == 0


def test_folder_counts_cut_each_path_to_its_folder(catalog: Catalog, tmp_path: Path) -> None:
    from photoclip.gui.panels import folder_tree  # the pure half of the app's folder tree

    cat = catalog
    root = tmp_path / "Pictures"
    odd = os.fsdecode(b"caf\xe9")   # a Latin-1 folder name: stored as bytes
    files = ["a.jpg", "2024/Trip/b.jpg", "2024/Trip/c.jpg", "2024/d.jpg",
             f"{odd}/e.jpg", "2025/x/y/z/f.jpg"]
    rid = cat.add_root(str(root)).id
    with cat.transaction() as db:
        for i, name in enumerate(files):
            cat.insert_photo(db, rid, os.path.join(str(root), name), 10 + i, 1.0, f"h{i}")
    counts = cat.folder_counts()[rid]
    assert counts == {str(root): 1, str(root / "2024" / "Trip"): 2, str(root / "2024"): 1,
                      os.path.join(str(root), odd): 1, str(root / "2025/x/y/z"): 1}
    tree = folder_tree(str(root), counts)
    assert tree.photos == 6
    assert tree.children["2024"].photos == 3
    assert tree.children["2024"].children["Trip"].photos == 2
    # A file that could not be read leaves the counts and is flagged on its folders.
    trip_c = cat.photo_by_path(str(root / "2024/Trip/c.jpg"))
    cat.commit_embeddings("m", [], [(trip_c.id, "not a photo")])
    assert cat.folder_counts()[rid][str(root / "2024" / "Trip")] == 1
    bad = cat.folder_unreadable()
    assert bad == {rid: {str(root / "2024" / "Trip"): 1}}
    tree = folder_tree(str(root), cat.folder_counts()[rid], bad[rid])
    assert (tree.photos, tree.unreadable) == (5, 1)
    assert tree.children["2024"].unreadable == 1
    assert tree.children["2024"].children["Trip"].unreadable == 1
    assert tree.children["2025"].unreadable == 0
    assert tree.children[odd].path == os.path.join(str(root), odd)
    assert tree.children["2025"].children["x"].children["y"].photos == 1
