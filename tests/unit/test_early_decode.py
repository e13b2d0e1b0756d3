"""Photos are decoded while the model loads (the first batches are ready the moment it is),
with the model's resize guessed before loading: from the user cache or the model folder's
config. A wrong guess costs time, never a wrong embedding. Real model, real library."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from photoclip.core import Library
from photoclip.core.embedder import Embedder
from tests.conftest import SHAPES_SPEC, draw_photos


def _index(folder: Path, photos: Path, embedder: Embedder) -> dict[str, np.ndarray]:
    with Library.open(folder, embedder=embedder, decode_threads=2, batch_size=4) as lib:
        lib.add_root(photos)
        lib.index()
        sig = embedder.signature
        return {p.path: lib.catalog.embedding(p.id, sig) for p in lib.photos()}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PHOTOCLIP_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_the_resize_is_known_before_the_model_loads(cache: Path) -> None:
    fresh = Embedder(SHAPES_SPEC)
    guess = fresh.early_preprocessor()   # from the folder's open_clip_config.json
    assert guess is not None
    assert not fresh.loaded
    fresh.load()
    assert guess == fresh.preprocessor()
    # Remembered for models without a config file of their own (the hub's).
    remembered = json.loads((cache / "preprocess.json").read_text())
    assert remembered[fresh.signature]["size"] in (64, [64, 64])


def test_photos_decoded_while_loading_embed_as_after_it(
        tmp_path: Path, cache: Path, caplog: pytest.LogCaptureFixture) -> None:
    photos = tmp_path / "photos"
    draw_photos(photos, 12, seed=5)
    loaded = Embedder(SHAPES_SPEC, precision="fp32")   # one precision: only decoding differs
    loaded.load()
    after = _index(tmp_path / "a", photos, loaded)      # loaded: no early decode
    during = _index(tmp_path / "b", photos, Embedder(SHAPES_SPEC, precision="fp32"))
    assert during.keys() == after.keys()
    for path, vec in after.items():
        np.testing.assert_allclose(during[path], vec, atol=1e-3)
    # A stale guess (the cache says another size): those photos are decoded again.
    signature = loaded.signature
    (cache / "preprocess.json").write_text(json.dumps({signature: {"size": 32}}))
    with caplog.at_level(logging.INFO, logger="photoclip.core.indexer"):
        stale = _index(tmp_path / "c", photos, Embedder(SHAPES_SPEC, precision="fp32"))
    assert "decoding the first photos again" in caplog.text
    for path, vec in after.items():
        np.testing.assert_allclose(stale[path], vec, atol=1e-3)
