"""Photos are decoded while the model loads (the first batches are ready the moment it is),
with the model's resize guessed before loading: from the user cache or the model folder's
config. A wrong guess costs time, never a wrong embedding. Real model, real library."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from photoclip.core import Library
from photoclip.core.catalog import Photo
from photoclip.core.embedder import Embedder, Preprocessor
from tests.conftest import SHAPES_SPEC, draw_photos


def _index(folder: Path, photos: Path, embedder: Embedder) -> dict[str, np.ndarray]:
    with Library.open(folder, embedder=embedder, decode_threads=2, batch_size=4) as lib:
        lib.add_root(photos)
        lib.index()
        sig = embedder.signature
        return {p.path: lib.catalog.embedding(p.id, sig) for p in lib.photos()}


class _SlowFirstBatch(Embedder):
    """Records each batch's (start, end); the first one sets ``began`` and waits a second
    before it runs, time enough for any decode that is not held to begin beside it."""

    def __init__(self, *args: Any, began: threading.Event | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.began = began or threading.Event()
        self.batches: list[tuple[float, float]] = []

    def encode_images(self, pixels: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        if not self.batches:
            self.began.set()
            time.sleep(1.0)
        try:
            return super().encode_images(pixels)
        finally:
            self.batches.append((t0, time.perf_counter()))


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


def test_the_first_batch_runs_alone(tmp_path: Path, cache: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Early decoding holds while the first batch is embedded: on two cores, decoding
    beside it made the first photos searchable later."""
    from photoclip.core import indexer

    # The thread is what is held; without torch imported yet (this test alone) photoclip
    # would choose the helper process, which no gate holds.
    monkeypatch.setenv("PHOTOCLIP_EARLY_DECODE", "thread")
    photos = tmp_path / "photos"
    draw_photos(photos, 40, seed=6)
    early_starts: list[float] = []
    batch_began = threading.Event()
    real_decode = indexer._decode

    def timed_decode(photo: Photo, pre: Preprocessor) -> indexer._Decoded:
        if threading.current_thread().name.startswith("photoclip-early"):
            early_starts.append(time.perf_counter())
            if len(early_starts) == 10:
                # Work is left for the early thread when the first batch begins, however
                # quickly the model loads.
                batch_began.wait(30)
        return real_decode(photo, pre)

    monkeypatch.setattr(indexer, "_decode", timed_decode)
    embedder = _SlowFirstBatch(SHAPES_SPEC, precision="fp32", began=batch_began)
    embedded = _index(tmp_path / "lib", photos, embedder)
    assert len(embedded) == 40
    start, end = embedder.batches[0]
    assert len([t for t in early_starts if t < start]) == 10
    assert not [t for t in early_starts if start < t < end], "decoded beside the first batch"
    assert [t for t in early_starts if t > end], "early decoding went on after it"


def test_no_decode_begins_beside_the_first_batch(tmp_path: Path, cache: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The decode pool holds too while the first batch is embedded (with the model loaded
    already, it decodes every photo): on the AVX2-only Zen 1 machine the first batch took
    2.8 s beside it and 1.4 s alone."""
    from photoclip.core import indexer

    photos = tmp_path / "photos"
    draw_photos(photos, 30, seed=9)
    starts: list[float] = []
    real_decode = indexer._decode

    def timed_decode(photo: Photo, pre: Preprocessor) -> indexer._Decoded:
        starts.append(time.perf_counter())
        return real_decode(photo, pre)

    monkeypatch.setattr(indexer, "_decode", timed_decode)
    embedder = _SlowFirstBatch(SHAPES_SPEC, precision="fp32")
    embedder.load()   # no early decoding: the pool decodes them all
    embedded = _index(tmp_path / "lib", photos, embedder)
    assert len(embedded) == 30
    start, end = embedder.batches[0]
    assert [t for t in starts if t < start], "the first batch's photos were decoded first"
    assert not [t for t in starts if start < t < end], "decoded beside the first batch"
    assert [t for t in starts if t > end]


def test_a_helper_process_decodes_while_torch_is_imported(
        tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """Where torch is still to be imported the early photos go to a spawned process (this
    test process has torch already, so the env forces it): same embeddings as after."""
    photos = tmp_path / "photos"
    draw_photos(photos, 12, seed=7)
    loaded = Embedder(SHAPES_SPEC, precision="fp32")
    loaded.load()
    after = _index(tmp_path / "a", photos, loaded)
    monkeypatch.setenv("PHOTOCLIP_EARLY_DECODE", "process")

    class SlowLoad(Embedder):
        def load(self, *args: object, **kwargs: object) -> None:
            if not self.loaded:
                time.sleep(3.0)   # a load as long as torch's import: the helper decodes
            super().load(*args, **kwargs)  # type: ignore[arg-type]

    with caplog.at_level(logging.INFO, logger="photoclip.core.indexer"):
        during = _index(tmp_path / "b", photos, SlowLoad(SHAPES_SPEC, precision="fp32"))
    decoded = [r.getMessage() for r in caplog.records
               if "decoded by a helper process" in r.getMessage()]
    assert decoded, caplog.text
    assert int(decoded[0].split()[0]) > 0
    assert during.keys() == after.keys()
    for path, vec in after.items():
        np.testing.assert_allclose(during[path], vec, atol=1e-3)


def test_a_helper_process_that_dies_costs_only_time(
        tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """The helper killed (SIGKILL) while the model loads: its photos are decoded here."""
    import multiprocessing
    import os
    import signal

    photos = tmp_path / "photos"
    draw_photos(photos, 12, seed=8)
    monkeypatch.setenv("PHOTOCLIP_EARLY_DECODE", "process")
    killed: list[int] = []

    class KillsHelper(Embedder):
        def load(self, *args: object, **kwargs: object) -> None:
            for child in multiprocessing.active_children() if not self.loaded else []:
                os.kill(child.pid, signal.SIGKILL)   # type: ignore[arg-type]
                killed.append(child.pid)   # type: ignore[arg-type]
            super().load(*args, **kwargs)  # type: ignore[arg-type]

    with caplog.at_level(logging.INFO, logger="photoclip.core.indexer"):
        embedded = _index(tmp_path / "lib", photos, KillsHelper(SHAPES_SPEC, precision="fp32"))
    assert killed
    assert len(embedded) == 12
    assert all(v is not None for v in embedded.values())
    assert "decoded here: it failed" in caplog.text
