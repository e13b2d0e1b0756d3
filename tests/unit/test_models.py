"""The model picker's facts: known models and whether they are here, speed measured on this
computer, and the multilingual option (its architecture, built small) through the same
Embedder path, refused by the torch-free text export, searched through torch."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from photoclip.core import Library, ModelUnavailableError
from photoclip.core import models as known_models
from photoclip.core.embedder import Embedder, hf_text_model
from photoclip.core.models import KNOWN_MODELS, SpeedCache, availability, measure_speed
from tests.conftest import SHAPES_SPEC, draw_shapes_library, run_lean_and_usual

MULTILINGUAL = "xlm-roberta-base-ViT-B-32:laion5b_s13b_b90k"


@pytest.fixture(scope="module")
def tiny_multilingual(tmp_path_factory: pytest.TempPathFactory) -> str:
    pytest.importorskip("transformers")
    from tests.models.multilingual import build_tiny_multilingual

    return build_tiny_multilingual(tmp_path_factory.mktemp("models") / "tiny-multilingual")


def test_known_models_carry_published_numbers_and_say_they_are_not_here(tmp_path: Path) -> None:
    assert KNOWN_MODELS[0].spec == "ViT-B-32-256:datacomp_s34b_b86k"
    assert {m.spec for m in KNOWN_MODELS if m.multilingual} == {MULTILINGUAL}
    for m in KNOWN_MODELS:
        assert 50 < m.imagenet < 100
        assert 20 < m.coco_r1 < 60
        assert m.download_mb > 100
        # An empty cache: nothing is here, and asking touched no network (offline).
        assert availability(m, cache_dir=str(tmp_path)) == "not downloaded yet"
    assert hf_text_model(MULTILINGUAL) == "xlm-roberta-base"
    assert hf_text_model(SHAPES_SPEC) is None


def test_multilingual_without_its_add_on_is_refused_in_words(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_multilingual: str) -> None:
    real = importlib.util.find_spec

    def without_transformers(name: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None if name == "transformers" else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", without_transformers)
    model = known_models.known(MULTILINGUAL)
    assert model is not None
    assert "photoclip[multilingual]" in availability(model, cache_dir=str(tmp_path))
    with pytest.raises(ModelUnavailableError) as info:
        Embedder(tiny_multilingual).load()
    assert "photoclip[multilingual]" in str(info.value)
    assert "transformers" in info.value.reason


@pytest.mark.slow
def test_multilingual_model_searches_through_torch(tiny_multilingual: str, tmp_path: Path,
                                                   shapes_embedder) -> None:
    emb = Embedder(tiny_multilingual)
    emb.load()
    vecs = emb.encode_texts(["a red circle", "un cercle rouge", "ein roter Kreis"])
    assert vecs.shape == (3, 64)
    assert abs(float((vecs ** 2).sum(1).min()) - 1) < 1e-4
    # The torch-free text tower cannot run a Hugging Face encoder: refused, nothing written.
    why = emb.export_text_tower(tmp_path / "lib-export")
    assert why is not None
    assert "Hugging Face" in why
    assert not (tmp_path / "lib-export" / "text-tower").exists()
    draw_shapes_library(tmp_path / "photos", 12, seed=3)
    with Library.open(tmp_path / "lib", embedder=emb) as lib:
        lib.add_root(tmp_path / "photos")
        assert lib.index().index.embedded == 16
        assert lib.export_text_tower() is not None
    # A search process (model not loaded): no export to use, so torch answers.
    with Library.open(tmp_path / "lib", readonly=True) as lib:
        assert lib.model_spec == tiny_multilingual
        assert lib.precision_report()["search"] == "model's text tower (torch)"
        hits = lib.search("un cercle rouge", top=5)
        assert len(hits) == 5
        assert lib.embedder.loaded


def test_speed_is_measured_for_a_model_that_is_here(tmp_path: Path, shapes_embedder) -> None:
    speed = measure_speed(SHAPES_SPEC, embedder=shapes_embedder, images=8)
    assert speed.images_per_s > 0
    assert speed.precision in ("fp32", "bf16", "int8", "int8-mlp")
    cache = SpeedCache(tmp_path / "speeds.json")
    cache.put(speed)
    assert cache.all()[SHAPES_SPEC] == speed
    assert "photos/s" in speed.describe()
    with pytest.raises(ModelUnavailableError):
        measure_speed(f"local-dir:{tmp_path / 'no-model'}")


_LEAN_PROBE = r"""
import json, sys
from photoclip.core.embedder import Embedder
emb = Embedder(sys.argv[1])
emb.load()
txt = emb.encode_texts(["a red circle", "un cercle rouge"])
print(json.dumps({"transformers": "transformers" in sys.modules, "txt": txt.tolist(),
                  "tower": type(emb._model.text).__name__}))
"""


@pytest.mark.slow
def test_a_multilingual_text_tower_loads_after_the_lean_import(tiny_multilingual: str,
                                                              tmp_path: Path) -> None:
    """transformers is held back while open_clip is first imported, and brought back for a
    model whose text tower is a Hugging Face encoder: it embeds as with the usual import."""
    import numpy as np

    got = run_lean_and_usual(tmp_path, _LEAN_PROBE, tiny_multilingual)
    assert got["1"]["tower"] == got["0"]["tower"] == "HFTextEncoder"
    assert got["1"]["transformers"]
    np.testing.assert_allclose(got["1"]["txt"], got["0"]["txt"], atol=1e-6)
