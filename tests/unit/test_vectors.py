from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from photoclip.core.catalog import Catalog, PhotoMetadata
from photoclip.core.vectors import VectorIndex

DIM = 16


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture
def filled(tmp_path: Path):
    """A catalog with 50 embedded photos under model 'm'."""
    cat = Catalog(tmp_path / "catalog.sqlite")
    root = cat.add_root(str(tmp_path))
    with cat.transaction() as db:
        ids = [cat.insert_photo(db, root.id, str(tmp_path / f"{i}.jpg"), i + 1, 1.0, f"h{i}")
               for i in range(50)]
    vecs = _unit(np.random.default_rng(0), 50)
    cat.commit_embeddings("m", [(i, v, PhotoMetadata(1, 1))
                                for i, v in zip(ids, vecs, strict=True)])
    yield cat, ids, vecs
    cat.close()


def _top(index: VectorIndex, vec: np.ndarray, k: int = 1) -> list[int]:
    return [i for i, _ in index.query(vec, k)]


def test_built_from_catalog_saved_and_loaded(filled, tmp_path: Path) -> None:
    cat, ids, vecs = filled
    index = VectorIndex(tmp_path, "m")
    index.open(cat)
    assert len(index) == 50
    assert _top(index, vecs[7]) == [ids[7]]
    index.save()
    assert index.index_path.exists()
    assert index.meta_path.exists()
    again = VectorIndex(tmp_path, "m")
    assert again._load_file(cat)  # the saved file itself is usable, no rebuild
    again.sync(cat)
    assert len(again) == 50
    assert _top(again, vecs[3]) == [ids[3]]
    score = again.query(vecs[3], 1)[0][1]
    assert score == pytest.approx(1.0, abs=2e-3)


def test_corrupt_or_foreign_index_is_rebuilt(filled, tmp_path: Path) -> None:
    cat, ids, vecs = filled
    first = VectorIndex(tmp_path, "m")
    first.open(cat)
    first.save()
    first.index_path.write_bytes(b"\0garbage" * 64)
    index = VectorIndex(tmp_path, "m")
    index.open(cat)
    assert len(index) == 50
    assert _top(index, vecs[9]) == [ids[9]]
    # An index file of another model is never used for this one.
    other = VectorIndex(tmp_path, "another-model")
    other.open(cat)
    assert len(other) == 0


def test_stale_index_catches_up_with_catalog(filled, tmp_path: Path) -> None:
    cat, ids, vecs = filled
    index = VectorIndex(tmp_path, "m")
    index.open(cat)
    index.save()
    # Another writer re-embeds photo 0 and marks photo 1 missing after our save.
    new0 = _unit(np.random.default_rng(5), 1)[0]
    cat.commit_embeddings("m", [(ids[0], new0, PhotoMetadata(1, 1))])
    with cat.transaction() as db:
        cat.set_state(db, [ids[1]], "missing")
    stale = VectorIndex(tmp_path, "m")
    stale.open(cat)
    assert _top(stale, new0) == [ids[0]]
    assert ids[1] not in _top(stale, vecs[1], 5)
    # It comes back when the file does, without a new embedding.
    with cat.transaction() as db:
        cat.set_state(db, [ids[1]], "ok")
    stale.sync(cat)
    assert _top(stale, vecs[1]) == [ids[1]]


def test_deletes_are_honoured_and_survive_save(filled, tmp_path: Path) -> None:
    cat, ids, vecs = filled
    index = VectorIndex(tmp_path, "m")
    index.open(cat)
    index.remove([ids[4]])
    assert ids[4] not in _top(index, vecs[4], 10)
    index.save()
    loaded = VectorIndex(tmp_path, "m")
    assert loaded._load_file(cat)
    assert ids[4] not in _top(loaded, vecs[4], 10)


def test_grows_past_capacity_and_filters(tmp_path: Path) -> None:
    index = VectorIndex(tmp_path, "m", DIM)
    rng = np.random.default_rng(1)
    vecs = _unit(rng, 3000)
    for start in range(0, 3000, 500):
        index.add(np.arange(start, start + 500), vecs[start:start + 500], seq=start // 500 + 1)
    assert len(index) == 3000
    assert _top(index, vecs[2999]) == [2999]
    allowed = {5, 6, 7}
    got = index.query(vecs[100], 2, allowed)
    assert {i for i, _ in got} <= allowed
    assert len(got) == 2


def test_queries_are_safe_while_adding(tmp_path: Path) -> None:
    index = VectorIndex(tmp_path, "m", DIM)
    rng = np.random.default_rng(2)
    vecs = _unit(rng, 4000)
    index.add(np.arange(100), vecs[:100], seq=1)
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for start in range(100, 4000, 100):
                index.add(np.arange(start, start + 100), vecs[start:start + 100], seq=0)
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=writer)
    t.start()
    for i in range(300):
        assert index.query(vecs[i % 100], 3)
    t.join()
    assert not errors
    assert _top(index, vecs[3999]) == [3999]
