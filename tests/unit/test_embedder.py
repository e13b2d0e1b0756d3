from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photoclip.core.embedder import Embedder, ModelSpec, Preprocessor, model_signature
from photoclip.core.errors import ModelUnavailableError
from photoclip.core.images import open_photo
from tests.conftest import SHAPES_MODEL, run_lean_and_usual, run_probe


def test_spec_parsing(tmp_path: Path) -> None:
    assert ModelSpec.parse("ViT-B-32-256:datacomp_s34b_b86k") == ModelSpec(
        "pretrained", "ViT-B-32-256", "datacomp_s34b_b86k")
    assert ModelSpec.parse("hf-hub:org/repo") == ModelSpec("hf-hub", "org/repo")
    spec = ModelSpec.parse(f"local-dir:{SHAPES_MODEL}")
    assert spec.kind == "local-dir"
    assert Path(spec.name) == SHAPES_MODEL
    # A bare folder path with an open_clip config is a local model too.
    assert ModelSpec.parse(str(SHAPES_MODEL)).kind == "local-dir"


def test_embeddings_are_unit_length_and_batched(shapes_embedder: Embedder) -> None:
    texts = shapes_embedder.encode_texts(["a red circle", "a blue star", "a red circle"])
    assert texts.shape[0] == 3
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(texts[0], texts[2])
    imgs = shapes_embedder.encode_pil([Image.new("RGB", (90, 70), c) for c in ("red", "blue")])
    assert imgs.shape == (2, texts.shape[1])
    np.testing.assert_allclose(np.linalg.norm(imgs, axis=1), 1.0, atol=1e-4)


def test_preprocessor_matches_open_clip_transform() -> None:
    """Resize + crop (decode threads) then normalising (torch) equals open_clip's transform."""
    import open_clip

    _, _, reference = open_clip.create_model_and_transforms(f"local-dir:{SHAPES_MODEL}")
    fp32 = Embedder(f"local-dir:{SHAPES_MODEL}", precision="fp32")
    ours = Preprocessor(fp32.preprocess_cfg)
    rng = np.random.default_rng(0)
    for size in ((300, 200), (64, 64), (120, 333)):
        img = Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
        pixels = ours(img)
        assert pixels.dtype == np.uint8
        seen = fp32.model_input(pixels[None])[0].numpy()
        np.testing.assert_allclose(seen, reference(img).numpy(), atol=1e-4)


def test_fast_path_embedding_matches_reference(shapes_embedder: Embedder, tmp_path: Path) -> None:
    """Draft decoding + box reduce must not change what the model sees in any way that matters."""
    import random

    import open_clip
    import torch

    from tests.models.shapes import draw

    model, _, reference = open_clip.create_model_and_transforms(f"local-dir:{SHAPES_MODEL}")
    model.eval()
    rng = random.Random(3)
    worst = 1.0
    for i, (shape, colour, bg) in enumerate([("circle", "red", "blue"), ("star", "yellow", "black"),
                                              ("triangle", "white", "green")]):
        path = tmp_path / f"{i}.jpg"
        draw(shape, colour, bg, rng, (2400, 1800)).save(path, quality=90)
        with torch.no_grad():
            ref = model.encode_image(reference(Image.open(path).convert("RGB"))[None])
        ref = torch.nn.functional.normalize(ref, dim=-1)[0].numpy()
        pre = shapes_embedder.preprocessor()
        fast = shapes_embedder.encode_images(pre(open_photo(path, pre.min_side).image)[None])[0]
        worst = min(worst, float(ref @ fast))
    assert worst >= 0.99


def test_local_dir_problems_are_model_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError, match="not an OpenCLIP model folder"):
        Embedder(f"local-dir:{tmp_path}").load()
    shutil.copy(SHAPES_MODEL / "open_clip_config.json", tmp_path)
    with pytest.raises(ModelUnavailableError, match="no weights"):
        Embedder(f"local-dir:{tmp_path}").load()


def test_default_model_offline_says_what_to_do(tmp_path: Path) -> None:
    emb = Embedder("ViT-B-32-256:datacomp_s34b_b86k", cache_dir=str(tmp_path / "hf"))
    with pytest.raises(ModelUnavailableError) as info:
        emb.load()
    text = str(info.value)
    assert "ViT-B-32-256:datacomp_s34b_b86k" in text
    assert "local-dir:" in text
    assert not emb.loaded
    # The app's wording: the same facts, no flag to type, no exception name.
    reason = info.value.reason
    assert "ViT-B-32-256:datacomp_s34b_b86k" in reason
    assert "not downloaded yet" in reason
    assert "--model" not in reason
    assert "Error" not in reason


def test_a_download_stopped_by_its_progress_callback_stops(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's Cancel raises DownloadCancelled from the progress callback: the download
    ends there (no other file is tried) and says so, not "the model is unavailable".

    No network here, so the hub's download function is replaced by one that reports
    progress the way huggingface_hub does (through the tqdm class it is given).
    """
    import io

    import huggingface_hub
    import tqdm

    from photoclip.core.errors import DownloadCancelled

    monkeypatch.setattr(tqdm.tqdm, "monitor_interval", 0)   # no monitor thread left behind
    asked: list[str] = []

    def download(repo: str, filename: str, *, tqdm_class=None, **_kw):  # type: ignore[no-untyped-def]
        asked.append(filename)
        bar = tqdm_class(total=600_000_000, file=io.StringIO())
        for _ in range(10):
            bar.update(60_000_000)
        raise AssertionError("the download should have stopped")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    seen: list[int] = []

    def progress(_message: str, done: int, _total: int) -> None:
        seen.append(done)
        if done >= 120_000_000:
            raise DownloadCancelled("the download was stopped")

    emb = Embedder("ViT-B-32-256:datacomp_s34b_b86k", cache_dir=str(tmp_path / "hf"))
    with pytest.raises(DownloadCancelled):
        emb.load(progress=progress)
    assert asked == ["open_clip_model.safetensors"]
    assert seen == [60_000_000, 120_000_000]
    assert not emb.loaded


def test_signature_follows_weights_not_folder(tmp_path: Path) -> None:
    copy = tmp_path / "shapes-clip"
    shutil.copytree(SHAPES_MODEL, copy)
    assert model_signature(f"local-dir:{copy}") == model_signature(f"local-dir:{SHAPES_MODEL}")
    weights = copy / "open_clip_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert model_signature(f"local-dir:{copy}") != model_signature(f"local-dir:{SHAPES_MODEL}")




def test_a_loaded_model_is_open_clips_own_though_its_random_init_was_skipped() -> None:
    """The embedder skips the initialisation the checkpoint overwrites: every tensor of
    the model, buffers it computes itself included, must be what open_clip builds."""
    import open_clip
    import torch

    reference = open_clip.create_model(f"local-dir:{SHAPES_MODEL}").eval()
    emb = Embedder(f"local-dir:{SHAPES_MODEL}", precision="fp32")
    emb.load()
    ours = emb._model
    ref_tensors = dict(reference.named_parameters()) | dict(reference.named_buffers())
    our_tensors = dict(ours.named_parameters()) | dict(ours.named_buffers())
    assert set(our_tensors) == set(ref_tensors)
    for name, t in ref_tensors.items():
        assert torch.equal(our_tensors[name], t), name
    # And the skip is over: a module built afterwards is initialised again.
    assert torch.count_nonzero(torch.nn.Linear(64, 64).weight) > 0
    assert torch.nn.init.normal_(torch.zeros(100)).abs().sum() > 0


_COMPILER_PROBE = r"""
import json, sys
import numpy as np
from PIL import Image
import threading
from photoclip.core.embedder import Embedder, _open_clip
got = []
threads = [threading.Thread(target=lambda: got.append(_open_clip())) for _ in range(3)]
for t in threads: t.start()
for t in threads: t.join()
assert len(got) == 3 and all(hasattr(m, "create_model_and_transforms") for m in got)
emb = Embedder(sys.argv[1])
emb.load()
img = emb.encode_pil([Image.new("RGB", (90, 70), "red")])
txt = emb.encode_texts(["a red circle"])
after_model = "torch._dynamo" in sys.modules
held_back = {name: name in sys.modules for name in ("timm", "transformers")}
import torch, torchvision.ops
boxes = [torch.tensor([[0.0, 0.0, 4.0, 4.0]])]
pooled = torchvision.ops.roi_align(torch.arange(64.0).reshape(1, 1, 8, 8), boxes, 2)
supported = sys.modules["torchvision.ops.roi_align"].is_compile_supported("cpu")
import torch._dynamo.utils as real
print(json.dumps({"after_model": after_model, "held_back": held_back,
                  "pooled": pooled.flatten().tolist(),
                  "supported": supported, "real": real.is_compile_supported("cpu"),
                  "real_is_module": type(real).__name__ == "module"
                                    and hasattr(real, "counters"),
                  "img": img[0].tolist(), "txt": txt[0].tolist()}))
"""


def test_open_clip_is_imported_without_torchs_compiler(tmp_path: Path) -> None:
    """The model loads and runs without ``torch._dynamo`` (seconds of every start), and
    what torchvision took from it still answers, from the real module, once used."""
    got = run_lean_and_usual(tmp_path, _COMPILER_PROBE, f"local-dir:{SHAPES_MODEL}")
    deferred, usual = got["1"], got["0"]
    assert deferred["after_model"] is False
    assert deferred["held_back"] == {"timm": False, "transformers": False}
    assert usual["after_model"] is True
    assert usual["held_back"] == {"timm": True, "transformers": True}
    assert deferred["real_is_module"]
    assert usual["real_is_module"]
    assert deferred["supported"] == deferred["real"] == usual["supported"]
    assert deferred["pooled"] == usual["pooled"]
    np.testing.assert_allclose(deferred["img"], usual["img"], atol=1e-6)
    np.testing.assert_allclose(deferred["txt"], usual["txt"], atol=1e-6)


_TIMM_PROBE = r"""
import json, sys
from PIL import Image
from photoclip.core.embedder import Embedder
emb = Embedder(sys.argv[1])
emb.load()
img = emb.encode_pil([Image.new("RGB", (90, 70), "red"), Image.new("RGB", (50, 80), "blue")])
print(json.dumps({"timm": "timm" in sys.modules, "img": img.tolist(),
                  "tower": type(emb._model.visual).__name__}))
"""


def test_a_timm_image_tower_loads_after_the_lean_import(tmp_path: Path) -> None:
    """timm is held back while open_clip is first imported, and brought back for a model
    whose image tower is a timm network: it loads, and embeds as with the usual import."""
    import json

    import open_clip
    import torch
    from safetensors.torch import save_file

    from photoclip.core.embedder import _adapters_for

    _adapters_for(open_clip, None)   # this process may have imported open_clip leanly already
    cfg = {"embed_dim": 32,
           "vision_cfg": {"timm_model_name": "vit_tiny_patch16_224",
                          "timm_model_pretrained": False, "timm_pool": "",
                          "timm_proj": "linear", "image_size": 224},
           "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2,
                        "layers": 1}}
    torch.manual_seed(0)
    model = open_clip.CLIP(**cfg)
    folder = tmp_path / "timm-clip"
    folder.mkdir()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              str(folder / "open_clip_model.safetensors"))
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": cfg}))
    got = run_lean_and_usual(tmp_path, _TIMM_PROBE, f"local-dir:{folder}")
    assert got["1"]["tower"] == got["0"]["tower"] == "TimmModel"
    assert got["1"]["timm"]
    np.testing.assert_allclose(got["1"]["img"], got["0"]["img"], atol=1e-6)


_NO_OPEN_CLIP = r"""
import importlib.machinery, json, sys
from pathlib import Path

data_only = Path(sys.argv[2])


class DataOnly:
    # What a bundle that left open_clip's code out finds: its data folder, which imports
    # as an empty namespace package.
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "open_clip":
            spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
            spec.submodule_search_locations = [str(data_only)]
            return spec
        return None


if data_only.suffix == ".py":
    sys.path.insert(0, str(data_only.parent))   # a stray module of that name comes first
else:
    sys.meta_path.insert(0, DataOnly)
from photoclip.core.embedder import Embedder
from photoclip.core.errors import ModelUnavailableError

try:
    Embedder(sys.argv[1]).load()
    print(json.dumps({"error": None}))
except ModelUnavailableError as exc:
    print(json.dumps({"error": str(exc), "reason": exc.reason}))
"""


@pytest.mark.parametrize("found", ["open_clip", "stray/open_clip.py"])
def test_an_installation_without_open_clips_code_is_refused_in_words(tmp_path: Path,
                                                                      found: str) -> None:
    if found.endswith(".py"):
        (tmp_path / found).parent.mkdir()
        (tmp_path / found).write_text("")
    else:
        (tmp_path / found / "model_configs").mkdir(parents=True)
    got = run_probe(tmp_path, _NO_OPEN_CLIP, f"local-dir:{SHAPES_MODEL}", str(tmp_path / found))
    assert got["error"] is not None
    assert got["error"].startswith("photoclip's installation is incomplete")
    assert "install photoclip again" in got["error"]
    assert str(tmp_path / found) in got["error"]   # what was found, not Python's repr
    assert "[" not in got["error"]
    assert "Error" not in got["error"]
    assert "Traceback" not in got["error"]
    assert got["reason"].startswith("photoclip's installation is incomplete")


_FIRST_LOAD_FREED = """
import gc, json, sys, threading, weakref
from PIL import Image
gc.disable()   # only reference counting frees anything here
assert "torch" not in sys.modules
from photoclip.core.embedder import Embedder

embedder = Embedder(sys.argv[1])
embedder.load()
embedder.prepare_queries()
embedder.encode_pil([Image.new("RGB", (64, 48), "red")])
embedder.encode_texts(["a red circle"], query=True)
for thread in threading.enumerate():
    if thread is not threading.main_thread():
        thread.join()
model = weakref.ref(embedder._model)
del embedder
print(json.dumps({"freed": model() is None}))
"""


def test_the_model_that_imported_torch_is_freed_once_dropped(tmp_path: Path) -> None:
    # The app freezes what the model load built (no collector pass walks it), so a model
    # switched away from is freed by reference counting or never. Importing torch from
    # within load() had left cycles that held load()'s frame, and with it the model.
    got = run_probe(tmp_path, _FIRST_LOAD_FREED, f"local-dir:{SHAPES_MODEL}")
    assert got["freed"]


_PRELOAD = """
import json, sys
from photoclip.core import embedder
embedder._load_torch_libraries()
print(json.dumps({"torch": "torch" in sys.modules,
                  "loaded": "libtorch_cpu" in open("/proc/self/maps").read()}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_torchs_libraries_are_loaded_before_its_import_holds_the_gil(tmp_path: Path) -> None:
    # import torch loads them with the GIL held (the window froze for a third of a second
    # while the model loaded); found where torch is installed, they are loaded without it.
    got = run_probe(tmp_path, _PRELOAD)
    assert got == {"torch": False, "loaded": True}
