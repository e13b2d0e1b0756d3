"""The exported text tower: our tokenizer and numpy forward pass against open_clip's, the
library searching with it, and the fall back to torch when it is missing or stale."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from photoclip.core import Library, textexport
from photoclip.core.embedder import Embedder
from tests.conftest import SHAPES_SPEC, draw_shapes_library

TEXTS = ["a red circle", "A BLUE   star!!", "naïve café &amp; crème brûlée", "12345 6.7",
         "don't we'll they're", "grandma's 80th birthday 🎂", "", "x" * 300,
         "kids on a beach at sunset, golden hour, 35mm film look"]


def test_tokenizer_gives_open_clips_ids() -> None:
    import open_clip

    reference = open_clip.get_tokenizer("ViT-B-32")
    ours = textexport.BPETokenizer(Path(open_clip.tokenizer.default_bpe()), 77)
    for text in TEXTS:
        row = reference([text])[0]
        assert ours([text])[0] == row[:int(row.argmax()) + 1].tolist(), text


def test_exported_tower_matches_torch(tmp_path: Path, shapes_embedder: Embedder) -> None:
    assert shapes_embedder.export_text_tower(tmp_path) is None
    manifest = textexport.read_manifest(tmp_path)
    assert manifest is not None
    assert manifest["signature"] == shapes_embedder.signature
    assert manifest["probe"]["worst_cosine"] >= textexport.MIN_COSINE
    tower = textexport.open_tower(tmp_path, shapes_embedder.signature)
    assert tower is not None
    cos = np.sum(tower.encode(TEXTS) * shapes_embedder.encode_texts(TEXTS), axis=1)
    assert float(cos.min()) >= 0.999
    # Current: a second export is a no-op.
    stamp = (tmp_path / textexport.FOLDER / "weights.bin").stat().st_mtime_ns
    assert shapes_embedder.export_text_tower(tmp_path) is None
    assert (tmp_path / textexport.FOLDER / "weights.bin").stat().st_mtime_ns == stamp


def test_queries_run_on_the_numpy_query_tower_and_batches_on_torch(
        shapes_embedder: Embedder) -> None:
    """A query (a few texts) runs the loaded weights on numpy, faster for a handful of
    tokens; its vector is torch's to float32 summation order. Batches and label prompts
    stay on torch."""
    import torch

    from photoclip.core.embedder import QUERY_TOWER_COSINE, QUERY_TOWER_TEXTS

    emb = shapes_embedder
    query = "a small green triangle, query-tower test"
    vec = emb.encode_texts([query], query=True)[0]
    tower = emb._numpy_text
    assert isinstance(tower, textexport.TextTower)
    assert "numpy" in emb.query_path
    assert np.array_equal(vec, tower.encode([query])[0])   # it came from the tower
    torch_vec = emb._torch_texts(torch, [query])[0]
    assert float(vec @ torch_vec) >= QUERY_TOWER_COSINE
    assert emb.query_tower_cosine is not None
    assert emb.query_tower_cosine >= QUERY_TOWER_COSINE
    batch = [f"{i} blue squares, batch test" for i in range(QUERY_TOWER_TEXTS + 1)]
    assert np.array_equal(emb.encode_texts(batch, query=True), emb._torch_texts(torch, batch))
    prompt = "a photo of a blue square, prompt test"   # not a query: torch
    assert np.array_equal(emb.encode_texts([prompt]), emb._torch_texts(torch, [prompt]))
    # The tower holds float32 copies: the model's weights are not changed or shared.
    fc = emb._model.transformer.resblocks[0].mlp.c_fc.weight
    assert not np.shares_memory(tower._w["blocks.0.mlp.fc_w"], fc.detach().numpy())


def test_search_without_the_model_uses_the_export(tmp_path: Path,
                                                  shapes_embedder: Embedder) -> None:
    draw_shapes_library(tmp_path / "photos", 30, seed=5)
    with Library.open(tmp_path / "lib", embedder=shapes_embedder, decode_threads=2) as lib:
        lib.add_root(tmp_path / "photos")
        lib.index()   # exports the text tower once the model is loaded
        with_torch = [r.photo.path for r in lib.search("a red circle", top=5)]
    assert (tmp_path / "lib" / textexport.FOLDER / "manifest.json").is_file()
    with Library.open(tmp_path / "lib", model=SHAPES_SPEC, readonly=True) as lib:
        assert "numpy" in lib.precision_report()["search"]
        found = [r.photo.path for r in lib.search("a red circle", top=5)]
        assert not lib.embedder.loaded   # answered without building the model
    assert found == with_torch
    assert all("red-circle" in p for p in found[:4])


def test_a_stale_or_missing_export_falls_back_to_torch(tmp_path: Path,
                                                       shapes_embedder: Embedder) -> None:
    draw_shapes_library(tmp_path / "photos", 10, seed=6)
    with Library.open(tmp_path / "lib", embedder=shapes_embedder, decode_threads=2) as lib:
        lib.add_root(tmp_path / "photos")
        lib.index()
    folder = tmp_path / "lib" / textexport.FOLDER
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["signature"] = "local-dir:some-other-model@0"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with Library.open(tmp_path / "lib", model=SHAPES_SPEC, readonly=True) as lib:
        assert "torch" in lib.precision_report()["search"]
        assert lib.search("a red circle", top=3)
        assert lib.embedder.loaded
    shutil.rmtree(folder)
    with Library.open(tmp_path / "lib", model=SHAPES_SPEC, readonly=True) as lib:
        assert lib.search("a red circle", top=3)
        assert lib.embedder.loaded


def test_unsupported_text_tower_is_not_exported(tmp_path: Path) -> None:
    """A tower with layer scale is not what the numpy forward pass implements."""
    import open_clip
    from safetensors.torch import save_file

    cfg = {"embed_dim": 32, "vision_cfg": {"image_size": 32, "layers": 1, "width": 64,
                                           "patch_size": 16, "head_width": 32},
           "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2,
                        "layers": 1, "ls_init_value": 1e-4}}
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    save_file({k: v.contiguous() for k, v in open_clip.CLIP(**cfg).state_dict().items()},
              str(model_dir / "open_clip_model.safetensors"))
    (model_dir / "open_clip_config.json").write_text(json.dumps({"model_cfg": cfg}))
    emb = Embedder(f"local-dir:{model_dir}", precision="fp32")
    why = emb.export_text_tower(tmp_path / "lib")
    assert why is not None
    assert "not standard" in why
    assert textexport.open_tower(tmp_path / "lib", emb.signature) is None


@pytest.mark.slow
def test_search_process_imports_no_torch(tmp_path: Path, shapes_embedder: Embedder) -> None:
    import subprocess
    import sys

    draw_shapes_library(tmp_path / "photos", 10, seed=7)
    with Library.open(tmp_path / "lib", embedder=shapes_embedder, decode_threads=2) as lib:
        lib.add_root(tmp_path / "photos")
        lib.index()
    code = ("import sys; from photoclip.cli import main; "
            f"rc = main(['--library', {str(tmp_path / 'lib')!r}, 'search', 'a red circle']); "
            "assert 'torch' not in sys.modules, 'torch imported'; sys.exit(rc)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2], timeout=120)
    assert out.returncode == 0, out.stderr
    assert "red-circle" in out.stdout.splitlines()[0]
