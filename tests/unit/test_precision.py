"""The precision ladder: CPU classes, the faithfulness check, trials on the first photos,
remembered verdicts. Uses real OpenCLIP models: the trained test model (a ResNet image
tower, where int8 does not apply) and a small random-weight ViT built by open_clip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from photoclip.core import precision
from photoclip.core.embedder import Embedder
from photoclip.core.precision import CALIBRATION_IMAGES, judge, top_k_agreement
from tests.conftest import SHAPES_MODEL


@pytest.fixture(scope="session")
def tiny_vit(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small ViT-image-tower OpenCLIP model with random weights, as a local folder."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("tiny-vit")
    cfg = {"embed_dim": 64,
           "vision_cfg": {"image_size": 64, "layers": 2, "width": 128, "patch_size": 16,
                          "head_width": 32},
           "text_cfg": {"context_length": 20, "vocab_size": 49408, "width": 64, "heads": 2,
                        "layers": 2}}
    torch.manual_seed(0)
    model = open_clip.CLIP(**cfg)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              str(folder / "open_clip_model.safetensors"))
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": cfg}))
    return f"local-dir:{folder}"


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user cache of this test's own: verdicts start unknown. These models are too small
    for int8 to be faster (it may or may not be, from run to run), so speed is not asked
    here except where a test asks it."""
    monkeypatch.setenv("PHOTOCLIP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(precision, "MIN_SPEEDUP", 0.0)
    return tmp_path / "cache"


def photos(emb: Embedder, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    size = emb.preprocessor().size
    base = rng.integers(0, 256, (n, 4, 4, 3), dtype=np.uint8)
    return np.ascontiguousarray(np.repeat(np.repeat(base, size[0] // 4, 1), size[1] // 4, 2))


def test_cpu_class_can_be_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    detected = precision.detected_cpu_class()
    assert detected in precision.CPU_CLASSES
    monkeypatch.setenv(precision.ENV_CPU_CLASS, "avx2")
    assert precision.cpu_class() == "avx2"
    monkeypatch.setenv(precision.ENV_CPU_CLASS, "nonsense")
    assert precision.cpu_class() == detected
    assert precision.candidates("cpu", "avx2") == ("int8", "int8-mlp")
    assert precision.candidates("cpu", "avx512-bf16")[0] == "bf16"
    assert precision.candidates("cpu", "basic") == ()
    assert precision.candidates("mps", "basic") == ()


def test_judge_needs_both_cosine_and_neighbours() -> None:
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(32, 16)).astype(np.float32)
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    same = judge("int8", ref, ref.copy(), own_photos=32)
    assert same.accepted
    assert same.top10_agreement == 1.0
    noisy = ref + rng.normal(scale=0.3, size=ref.shape).astype(np.float32)
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    bad = judge("int8", ref, noisy, own_photos=32)
    assert not bad.accepted
    assert bad.worst_cosine < 0.995
    assert top_k_agreement(ref, noisy) < 1.0
    assert "not faithful" in bad.describe()


def test_int8_is_tried_on_the_first_photos_then_remembered(
        tiny_vit: str, own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(precision.ENV_CPU_CLASS, "avx2")
    emb = Embedder(tiny_vit)
    emb.load()
    assert emb.precision == "fp32"
    assert "checked" in emb.precision_reason
    fp32 = Embedder(tiny_vit, precision="fp32")
    first = photos(emb, 8, seed=1)
    # While on trial, what is returned (and stored) is the fp32 embedding.
    np.testing.assert_allclose(emb.encode_images(first), fp32.encode_images(first), atol=1e-5)
    emb.encode_images(photos(emb, CALIBRATION_IMAGES - 8, seed=2))
    assert emb.precision == "int8", emb.precision_reason
    check = emb.precision_check
    assert check is not None
    assert check.accepted
    assert check.own_photos == CALIBRATION_IMAGES
    assert check.worst_cosine >= precision.MIN_COSINE["int8"]
    later = photos(emb, 4, seed=3)
    assert float(np.min(np.sum(emb.encode_images(later) * fp32.encode_images(later), 1))) > 0.99
    # A second start on this machine trusts the remembered verdict without a check. The
    # first batch still runs in fp32 (building the int8 tower would delay the first
    # photos by about a second); from the second batch on, int8 runs.
    again = Embedder(tiny_vit)
    assert again.planned_precision()[0] == "int8"
    again.load()
    assert "then int8" in again.precision_reason
    np.testing.assert_allclose(again.encode_images(first), fp32.encode_images(first),
                               atol=1e-5)
    assert again.precision == "fp32"
    again.encode_images(later)
    assert again.precision == "int8"
    assert "faithful" in again.precision_reason
    assert again.precision_report()["image"] == "int8"
    again.finish_check()
    assert again.precision == "int8"


def test_an_unfaithful_path_is_rejected_and_fp32_stays(
        tiny_vit: str, own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(precision.ENV_CPU_CLASS, "avx2")
    for rung in ("int8", "int8-mlp"):
        monkeypatch.setitem(precision.MIN_COSINE, rung, 1.5)   # a bar int8 cannot reach
    emb = Embedder(tiny_vit)
    emb.load()
    emb.encode_images(photos(emb, 5, seed=4))
    emb.finish_check()   # a small library: generated images complete the calibration
    assert emb.precision == "fp32"
    check = emb.precision_check
    assert check is not None
    assert not check.accepted
    # The last rung's check: the 5 photos went to int8's, generated images fill this one.
    assert (check.precision, check.own_photos, check.images) == ("int8-mlp", 0,
                                                                  CALIBRATION_IMAGES)
    assert "int8 not faithful" in emb.precision_reason
    assert "int8-mlp not faithful" in emb.precision_reason
    assert Embedder(tiny_vit).planned_precision()[0] == "fp32"


def test_when_int8_is_rejected_the_mlp_only_rung_is_tried_next(
        tiny_vit: str, own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(precision.ENV_CPU_CLASS, "avx2")
    monkeypatch.setitem(precision.MIN_COSINE, "int8", 1.5)   # int8 of attention fails
    emb = Embedder(tiny_vit)
    emb.load()
    # The first batch waits for the tower (built at the second), as at a library's start.
    emb.encode_images(photos(emb, 8, seed=5))
    emb.encode_images(photos(emb, CALIBRATION_IMAGES - 8, seed=6))   # int8 judged: no
    assert emb.precision == "fp32"
    assert "int8-mlp is checked" in emb.precision_reason
    emb.encode_images(photos(emb, 8, seed=7))
    emb.encode_images(photos(emb, CALIBRATION_IMAGES - 8, seed=8))   # int8-mlp judged
    assert emb.precision == "int8-mlp", emb.precision_reason
    assert emb.precision_check is not None
    assert emb.precision_check.accepted
    # Both verdicts are remembered: the next start goes to int8-mlp without trying int8.
    again = Embedder(tiny_vit)
    assert again.planned_precision()[0] == "int8-mlp"
    again.load()
    assert "then int8-mlp" in again.precision_reason


def test_a_faithful_path_that_is_not_faster_is_rejected(
        tiny_vit: str, own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Faithful is not enough: the trial times each rung against fp32 on the same photos
    (on a Zen 1 EPYC int8 ran only 1.05-1.14x fp32), and one that is not faster is not
    used. A bar no path reaches stands for a CPU where int8 is slower."""
    monkeypatch.setenv(precision.ENV_CPU_CLASS, "avx2")
    monkeypatch.setattr(precision, "MIN_SPEEDUP", 1e6)
    emb = Embedder(tiny_vit)
    emb.load()
    for _ in range(2):   # int8, then int8-mlp, each judged on the user's photos
        emb.encode_images(photos(emb, 8, seed=9))
        emb.encode_images(photos(emb, CALIBRATION_IMAGES - 8, seed=10))
    assert emb.precision == "fp32"
    check = emb.precision_check
    assert check is not None
    assert check.faithful
    assert not check.accepted
    assert check.speedup is not None
    assert check.speedup > 0
    assert "int8 faithful" in emb.precision_reason
    assert "but not faster than fp32 here" in emb.precision_reason
    # Remembered like any verdict: the next start plans fp32, and says why.
    planned, why = Embedder(tiny_vit).planned_precision()
    assert planned == "fp32"
    assert "not faster than fp32" in why
    # Where it is faster, the verdict says by how much.
    monkeypatch.setattr(precision, "MIN_SPEEDUP", 1.0)
    unit = np.eye(4, dtype=np.float32)
    assert "1.50× fp32's speed here" in judge("int8", unit, unit, 4, speedup=1.5).describe()


def test_int8_does_not_apply_to_a_resnet_tower(own_cache: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(precision.ENV_CPU_CLASS, "avx2")
    emb = Embedder(f"local-dir:{SHAPES_MODEL}")
    emb.load()
    assert emb.precision == "fp32"
    # Both int8 rungs of the AVX2 ladder, said once (About shows this line).
    assert emb.precision_reason == ("fp32 on this avx2 CPU: int8 and int8-mlp do not apply "
                                    "to this model")


def test_bf16_as_asked_is_measured_for_the_record(own_cache: Path) -> None:
    emb = Embedder(f"local-dir:{SHAPES_MODEL}", precision="bf16")
    emb.load()
    assert emb.precision == "bf16"
    assert emb.bf16_cosine is not None
    assert 0.9 < emb.bf16_cosine <= 1.0 + 1e-6
    vecs = emb.encode_images(np.zeros((2, *emb.preprocessor().size, 3), np.uint8))
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-3)


def test_bf16_on_trial_is_rejected_when_it_drifts(own_cache: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(precision.ENV_CPU_CLASS, "avx512-bf16")
    monkeypatch.setitem(precision.MIN_COSINE, "bf16", 1.5)
    emb = Embedder(f"local-dir:{SHAPES_MODEL}")
    emb.load()
    emb.finish_check()
    assert emb.bf16_cosine is not None    # measured...
    assert emb.precision == "fp32"        # ...and rejected (int8 does not apply: fp32)


def test_trimmed_text_tower_equals_the_whole_context(shapes_embedder: Embedder) -> None:
    import torch

    texts = ["a red circle", "a small blue star on a yellow background", "x"]
    tokens = shapes_embedder.tokenizer(texts)
    with torch.inference_mode():
        whole = torch.nn.functional.normalize(
            shapes_embedder._model.encode_text(tokens), dim=-1).numpy()
    np.testing.assert_allclose(shapes_embedder.encode_texts(texts), whole, atol=1e-5)
