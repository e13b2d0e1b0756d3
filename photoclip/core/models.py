"""The models photoclip knows by name, with their published numbers, and their speed here.

Published numbers are OpenCLIP's own benchmark tables (github.com/mlfoundations/open_clip,
``docs/openclip_results.csv`` for ImageNet-1k zero-shot top-1 and
``docs/openclip_retrieval_results.csv`` for MSCOCO text-to-image recall@1, the column
"MSCOCO image retr. R@1"); parameters from the same tables; download size is the fp32
weights (parameters x 4 bytes) unless the model's Hugging Face page lists another file;
licences are those on each model's Hugging Face page. They describe the models, not
photoclip: photoclip's own speed on this computer is measured by :func:`measure_speed`,
and only for models whose weights are already here (nothing is downloaded to measure).

Any other OpenCLIP spec still works (Settings takes a typed spec or a model folder); this
list is what the model picker offers with numbers to compare.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from photoclip import paths

log = logging.getLogger(__name__)

MULTILINGUAL_EXTRA = "pip install 'photoclip[multilingual]'"


@dataclass(frozen=True)
class KnownModel:
    spec: str
    title: str
    imagenet: float        # ImageNet-1k zero-shot top-1, %
    coco_r1: float         # MSCOCO text -> image recall@1, %
    params_m: float        # millions of parameters (both towers)
    download_mb: int
    licence: str
    languages: str         # what a search may be typed in
    needs: tuple[str, ...] = ()   # Python packages beyond the default install
    note: str = ""

    @property
    def multilingual(self) -> bool:
        return "transformers" in self.needs


KNOWN_MODELS: tuple[KnownModel, ...] = (
    KnownModel("ViT-B-32-256:datacomp_s34b_b86k", "ViT-B/32 (256 px), DataComp-1B",
               72.81, 39.93, 151.3, 605, "MIT", "English",
               note="photoclip's default: a third of ViT-B/16's compute"),
    KnownModel("ViT-B-16:datacomp_xl_s13b_b90k", "ViT-B/16, DataComp-XL",
               73.49, 40.16, 149.6, 598, "MIT", "English",
               note="about 2.4x the default's compute per photo"),
    KnownModel("ViT-L-14:datacomp_xl_s13b_b90k", "ViT-L/14, DataComp-XL",
               79.21, 45.73, 427.6, 1710, "MIT", "English",
               note="about 10x the default's compute per photo"),
    KnownModel("xlm-roberta-base-ViT-B-32:laion5b_s13b_b90k",
               "ViT-B/32 + XLM-RoBERTa base, LAION-5B (multilingual)",
               62.36, 37.78, 366.1, 1460, "MIT",
               "~100 languages",
               needs=("transformers",),
               note="searches and label sets in your own language; text tower runs in torch"),
)


def known(spec: str) -> KnownModel | None:
    return next((m for m in KNOWN_MODELS if m.spec == spec), None)


def missing_packages(needs: tuple[str, ...]) -> list[str]:
    return [name for name in needs if importlib.util.find_spec(name) is None]


def availability(model: KnownModel, cache_dir: str | None = None) -> str:
    """In words: "ready" (weights here), or what stands in the way. Touches only local
    files (the Hugging Face cache); never the network."""
    from photoclip.core.embedder import model_is_local

    if missing_packages(model.needs):
        return f"needs the multilingual add-on ({MULTILINGUAL_EXTRA})"
    try:
        local = model_is_local(model.spec, cache_dir)
    except Exception as exc:   # a cache we cannot read is "not here", not a crash
        log.info("cannot tell whether %s is downloaded: %s", model.spec, exc)
        local = False
    return "ready" if local else "not downloaded yet"


@dataclass(frozen=True)
class Speed:
    """How fast a model embeds photos on this computer (generated images, model only)."""

    spec: str
    images_per_s: float
    precision: str
    cpu_class: str
    images: int
    measured_at: float
    torch: str

    def describe(self) -> str:
        return f"{self.images_per_s:.1f} photos/s ({self.precision}, {self.cpu_class} CPU)"


class SpeedCache:
    """Measured speeds, per model spec, in the user cache (shared by every library)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.cache_dir() / "model-speeds.json"

    def all(self) -> dict[str, Speed]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return {spec: Speed(**value) for spec, value in raw.items()}
        except (OSError, ValueError, TypeError):
            return {}

    def put(self, speed: Speed) -> None:
        found = {spec: asdict(s) for spec, s in self.all().items()}
        found[speed.spec] = asdict(speed)
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text(json.dumps(found, indent=1), encoding="utf-8")
            os.replace(tmp, self.path)


def measure_speed(spec: str, *, embedder: Any = None, images: int = 16) -> Speed:
    """Embed ``images`` generated photos with ``spec`` and time it (after a warm-up batch).

    ``embedder``: a loaded Embedder of that spec to measure as it runs now (the model in
    use); otherwise one is loaded in the precision the remembered checks chose for this
    computer (fp32 if none yet), asked for explicitly so that measuring never records a
    verdict of its own. Raises ModelUnavailableError for a model that is not here.
    """
    from photoclip.core.embedder import Embedder, _generated_images, _torch_version
    from photoclip.core.precision import cpu_class

    if embedder is None:
        precision, _why = Embedder(spec).planned_precision()
        embedder = Embedder(spec, precision=precision)
    embedder.load()
    pixels = _generated_images(embedder.preprocessor(), images + 4, seed=7)
    # Warm-up, two batches: first-call allocations and kernels, and a faster tower that
    # the embedder builds from its second batch on.
    embedder.encode_images(pixels[:2])
    embedder.encode_images(pixels[2:4])
    start = time.perf_counter()
    embedder.encode_images(pixels[4:])
    seconds = max(time.perf_counter() - start, 1e-9)
    return Speed(spec, images / seconds, embedder.precision,
                 embedder.cpu_class or cpu_class(), images, time.time(),
                 _torch_version() or "")
