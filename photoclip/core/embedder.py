"""The OpenCLIP model: loading by spec, preprocessing, batched L2-normalised embeddings.

This is the only module that imports torch and open_clip, and only inside functions, so the
CLI's help and the window appear without paying for them (DESIGN.md rule 2).

Model specs:
- ``ARCH:PRETRAINED``, e.g. ``ViT-B-32-256:datacomp_s34b_b86k`` (the default), downloaded
  through open_clip/huggingface_hub on first use;
- ``hf-hub:ORG/REPO``;
- ``local-dir:PATH`` (or a bare path to such a folder): open_clip's own layout,
  ``open_clip_config.json`` plus weights, loaded with no network at all.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from photoclip.core.errors import ModelUnavailableError

log = logging.getLogger(__name__)

DEFAULT_MODEL = "ViT-B-32-256:datacomp_s34b_b86k"

# bf16 is used only when it reproduces fp32 embeddings this closely (cosine, worst image).
BF16_MIN_COSINE = 0.999

# (message, bytes done, bytes total); total is 0 when unknown.
DownloadProgress = Callable[[str, int, int], None]

_INTERPOLATION = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
    "lanczos": Image.Resampling.LANCZOS,
}


@dataclass(frozen=True)
class ModelSpec:
    kind: str                 # "pretrained", "hf-hub" or "local-dir"
    name: str                 # ARCH, ORG/REPO or the folder path
    pretrained: str | None = None

    @classmethod
    def parse(cls, spec: str) -> ModelSpec:
        spec = spec.strip()
        if not spec:
            raise ModelUnavailableError("empty model spec")
        if spec.startswith("local-dir:"):
            return cls("local-dir", str(Path(spec[len("local-dir:"):]).expanduser().resolve()))
        if spec.startswith("hf-hub:"):
            return cls("hf-hub", spec[len("hf-hub:"):])
        as_path = Path(spec).expanduser()
        if (as_path / "open_clip_config.json").is_file():
            return cls("local-dir", str(as_path.resolve()))
        arch, _, pretrained = spec.partition(":")
        return cls("pretrained", arch, pretrained or None)

    def open_clip_name(self) -> str:
        if self.kind == "local-dir":
            return f"local-dir:{self.name}"
        if self.kind == "hf-hub":
            return f"hf-hub:{self.name}"
        return self.name

    def __str__(self) -> str:
        if self.kind == "pretrained":
            return f"{self.name}:{self.pretrained}" if self.pretrained else self.name
        return self.open_clip_name()


def _weights_file(folder: Path) -> Path | None:
    for name in ("open_clip_model.safetensors", "open_clip_pytorch_model.safetensors",
                 "open_clip_pytorch_model.bin", "open_clip_pytorch_model.pth",
                 "model.safetensors", "pytorch_model.bin"):
        if (folder / name).is_file():
            return folder / name
    found = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin"))
    return found[0] if found else None


def _file_digest(path: Path) -> str:
    """Content digest of a weights file: size plus its first and last MiB, fast on 1 GB."""
    h = hashlib.blake2b(digest_size=8)
    size = path.stat().st_size
    h.update(str(size).encode())
    with path.open("rb") as f:
        h.update(f.read(1 << 20))
        if size > 2 << 20:
            f.seek(-(1 << 20), os.SEEK_END)
            h.update(f.read())
    return h.hexdigest()


def model_is_local(spec: str, cache_dir: str | None = None) -> bool:
    """True when loading needs no download: a local folder, or weights already cached."""
    parsed = ModelSpec.parse(spec)
    if parsed.kind == "local-dir":
        return True
    try:
        import open_clip.pretrained as pretrained  # light: no torch model is built
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    if parsed.kind == "hf-hub":
        repo = parsed.name
    else:
        cfg = pretrained.get_pretrained_cfg(parsed.name, parsed.pretrained or "")
        repo = (cfg or {}).get("hf_hub", "").rstrip("/")
    if not repo:
        return False
    return any(isinstance(try_to_load_from_cache(repo, name, cache_dir=cache_dir), str)
               for name in ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"))


def model_signature(spec: str) -> str:
    """What an embedding is tagged with: equal signatures mean comparable vectors.

    A local folder is named by its weights' content, so moving the folder keeps the
    library's embeddings valid and retraining into the same folder does not.
    """
    parsed = ModelSpec.parse(spec)
    if parsed.kind != "local-dir":
        return str(parsed)
    folder = Path(parsed.name)
    weights = _weights_file(folder) if folder.is_dir() else None
    if weights is None:
        return f"local-dir:{folder.name}"
    return f"local-dir:{folder.name}@{_file_digest(weights)}"


class Preprocessor:
    """The model's resize and crop, on PIL and numpy only (thread-safe, no torch).

    Mirrors the geometry of open_clip's inference transform (resize, centre crop) so the
    fast pipeline gives the same embeddings as the reference, but runs in the decode
    threads. It hands over uint8 pixels and :meth:`Embedder.model_input` normalises a
    whole batch at once in torch: the same CPU time as per-image float work (measured),
    but the photos queued ahead of the model take a quarter of the memory and a GPU
    receives a quarter of the bytes.
    """

    def __init__(self, cfg: dict[str, Any]) -> None:
        size = cfg.get("size", 224)
        self.size: tuple[int, int] = (size, size) if isinstance(size, int) else tuple(size)  # type: ignore[assignment]
        self.mode = cfg.get("resize_mode", "shortest")
        self.resample = _INTERPOLATION.get(cfg.get("interpolation", "bicubic"),
                                           Image.Resampling.BICUBIC)
        self.fill = int(cfg.get("fill_color", 0))

    @property
    def min_side(self) -> int:
        return max(self.size)

    def __call__(self, img: Image.Image) -> np.ndarray:
        """RGB image -> (H, W, 3) uint8 pixels of the model's input size."""
        th, tw = self.size
        w, h = img.size
        if self.mode == "squash":
            img = img.resize((tw, th), self.resample)
        elif self.mode == "longest":
            scale = min(tw / w, th / h)
            nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
            canvas = Image.new("RGB", (tw, th), (self.fill,) * 3)
            canvas.paste(img.resize((nw, nh), self.resample), ((tw - nw) // 2, (th - nh) // 2))
            img = canvas
        else:  # "shortest", torchvision's Resize(int) + CenterCrop
            short, long_ = (w, h) if w <= h else (h, w)
            new_short = max(th, tw)
            new_long = int(new_short * long_ / short)
            nw, nh = (new_short, new_long) if w <= h else (new_long, new_short)
            if (nw, nh) != (w, h):
                img = img.resize((nw, nh), self.resample)
            left = round((nw - tw) / 2.0)
            top = round((nh - th) / 2.0)
            img = img.crop((left, top, left + tw, top + th))
        return np.array(img, dtype=np.uint8)  # owned and writable, as torch.from_numpy wants


def _cpu_has_bf16_units() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(f in flags for f in ("avx512_bf16", "amx_bf16"))


class Embedder:
    """An OpenCLIP model behind a small, thread-safe interface.

    Loading is explicit (``load``) because it can download hundreds of MB; every encode
    call loads on demand otherwise. ``precision`` is ``auto`` (bf16 where it is both
    faster and faithful, else fp32), ``fp32`` or ``bf16``.
    """

    def __init__(self, spec: str = DEFAULT_MODEL, *, device: str | None = None,
                 precision: str = "auto", threads: int | None = None,
                 cache_dir: str | None = None) -> None:
        self.spec = ModelSpec.parse(spec)
        self.requested_device = device
        self.requested_precision = precision
        self.threads = threads
        self.cache_dir = cache_dir
        # Lock order: _lock (loading, the image tower) and _text_lock (the text cache and
        # tower) are never held together, so a query never waits for an image batch.
        self._lock = threading.RLock()
        self._text_lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None
        self._preprocess_cfg: dict[str, Any] | None = None
        self._signature: str | None = None
        self._text_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.device = "cpu"
        self.precision = "fp32"
        self.bf16_cosine: float | None = None

    # -- identity --------------------------------------------------------------------------

    @property
    def signature(self) -> str:
        if self._signature is None:
            self._signature = model_signature(str(self.spec))
        return self._signature

    @property
    def loaded(self) -> bool:
        return self._model is not None

    # -- loading ---------------------------------------------------------------------------

    def _unavailable(self, why: str) -> ModelUnavailableError:
        return ModelUnavailableError(
            f"model {self.spec} is not available: {why}. Connect to the internet once so it "
            "can be downloaded, or use a model folder you have with "
            "--model local-dir:/path/to/folder (open_clip_config.json + weights).",
            reason=f"The model {self.spec} could not be loaded: {why}.")

    def _fetch_weights(self, progress: DownloadProgress | None) -> None:
        """Make sure pretrained weights are in the local cache, reporting download progress."""
        import open_clip

        if self.spec.kind == "pretrained":
            if self.spec.pretrained is None:
                raise ModelUnavailableError(
                    f"model spec {self.spec} names no pretrained weights; use ARCH:PRETRAINED, "
                    f"for example {DEFAULT_MODEL}")
            cfg = open_clip.get_pretrained_cfg(self.spec.name, self.spec.pretrained)
            if not cfg:
                known = ", ".join(f"{a}:{p}" for a, p in open_clip.list_pretrained()[:5])
                raise ModelUnavailableError(
                    f"open_clip knows no weights {self.spec.pretrained!r} for {self.spec.name!r} "
                    f"(examples: {known}, …)")
            repo = cfg.get("hf_hub", "").rstrip("/")
            if not repo:
                return  # a URL download; open_clip handles it with its own progress bar
            filename = "open_clip_model.safetensors"
        elif self.spec.kind == "hf-hub":
            repo, filename = self.spec.name, "open_clip_model.safetensors"
        else:
            return
        from huggingface_hub import hf_hub_download

        tqdm_class = _progress_tqdm(progress, f"Downloading {self.spec}") if progress else None
        last_error: Exception | None = None
        for name in (filename, "open_clip_pytorch_model.bin"):
            try:
                hf_hub_download(repo, name, cache_dir=self.cache_dir, tqdm_class=tqdm_class)
                if self.spec.kind == "hf-hub":
                    hf_hub_download(repo, "open_clip_config.json", cache_dir=self.cache_dir)
                return
            except Exception as exc:
                last_error = exc
        raise self._unavailable(_explain_download_error(last_error))

    def load(self, progress: DownloadProgress | None = None) -> None:
        if self._model is not None:
            return   # loaded: don't queue behind an image batch holding the lock
        with self._lock:
            if self._model is not None:
                return
            # The model shares the cores with the decode threads: OpenMP workers that spin
            # while idle steal their time (measured: +15% photos/s with passive waiting).
            # Only effective before torch's first import; an explicit setting wins.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            import torch

            if self.threads:
                torch.set_num_threads(self.threads)
            if self.spec.kind == "local-dir":
                folder = Path(self.spec.name)
                if not (folder / "open_clip_config.json").is_file():
                    raise ModelUnavailableError(
                        f"{folder} is not an OpenCLIP model folder (no open_clip_config.json)")
                if _weights_file(folder) is None:
                    raise ModelUnavailableError(f"{folder} has a config but no weights file")
            else:
                self._fetch_weights(progress)
            import open_clip

            try:
                model, _, _preprocess = open_clip.create_model_and_transforms(
                    self.spec.open_clip_name(), pretrained=self.spec.pretrained,
                    cache_dir=self.cache_dir, weights_only=True)
                tokenizer = open_clip.get_tokenizer(self.spec.open_clip_name(),
                                                    cache_dir=self.cache_dir)
            except ModelUnavailableError:
                raise
            except Exception as exc:
                raise self._unavailable(_first_line(exc)) from exc
            model.eval()
            model.requires_grad_(False)
            self._preprocess_cfg = dict(open_clip.get_model_preprocess_cfg(model))
            self.device = self._pick_device(torch)
            model.to(self.device)
            self._tokenizer = tokenizer
            self._choose_precision(torch, model)
            self._model = model   # last: other threads take a set _model as "ready to use"
            log.info("loaded %s on %s (%s)", self.spec, self.device, self.precision)

    def _pick_device(self, torch: Any) -> str:
        if self.requested_device:
            return self.requested_device
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"

    def _calibration_batch(self) -> np.ndarray:
        """Smooth random images: enough structure to exercise every layer, deterministically."""
        rng = np.random.default_rng(0)
        pre = self.preprocessor()
        out = []
        for _ in range(8):
            small = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
            img = Image.fromarray(small).resize((320, 240), Image.Resampling.BICUBIC)
            noise = rng.integers(-20, 21, size=(240, 320, 3))
            img = Image.fromarray(np.clip(np.asarray(img) + noise, 0, 255).astype(np.uint8))
            out.append(pre(img))
        return np.stack(out)

    def _choose_precision(self, torch: Any, model: Any) -> None:
        want = self.requested_precision
        if want == "fp32" or (want == "auto" and self.device == "cpu"
                              and not _cpu_has_bf16_units()):
            return
        if self.device == "mps":
            return  # bf16 support on MPS varies by OS release; fp32 is the safe choice
        import copy

        batch = self.model_input(self._calibration_batch())  # fp32: precision not chosen yet
        ref = torch.nn.functional.normalize(model.visual(batch).float(), dim=-1)
        fast = copy.deepcopy(model.visual).to(torch.bfloat16)
        got = torch.nn.functional.normalize(fast(batch.to(torch.bfloat16)).float(), dim=-1)
        self.bf16_cosine = float((ref * got).sum(-1).min())
        if want == "bf16" or self.bf16_cosine >= BF16_MIN_COSINE:
            model.visual = fast
            self.precision = "bf16"
        else:
            log.info("bf16 rejected for %s: worst cosine %.5f", self.spec, self.bf16_cosine)

    # -- encoding --------------------------------------------------------------------------

    @property
    def preprocess_cfg(self) -> dict[str, Any]:
        if self._preprocess_cfg is None:
            self.load()
        assert self._preprocess_cfg is not None
        return self._preprocess_cfg

    def preprocessor(self) -> Preprocessor:
        return Preprocessor(self.preprocess_cfg)

    def model_input(self, pixels: np.ndarray) -> Any:
        """(N, H, W, 3) uint8 pixels from :meth:`preprocessor` -> the normalised
        (N, 3, H, W) tensor the image tower takes, on its device and in its precision."""
        import torch

        cfg = self.preprocess_cfg
        mean = torch.tensor(cfg.get("mean", (0.48145466, 0.4578275, 0.40821073)),
                            device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(cfg.get("std", (0.26862954, 0.26130258, 0.27577711)),
                           device=self.device).view(1, 3, 1, 1)
        # uint8 crosses to the device (4x less than float32), then one batched pass.
        x = torch.from_numpy(np.ascontiguousarray(pixels)).to(self.device)
        x = x.permute(0, 3, 1, 2).float().mul_(1.0 / 255.0).sub_(mean).div_(std).contiguous()
        return x.to(torch.bfloat16) if self.precision == "bf16" else x

    def encode_images(self, pixels: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 pixels from :meth:`preprocessor` -> (N, D) unit vectors, float32."""
        self.load()
        import torch

        with self._lock, torch.inference_mode():
            x = self.model_input(pixels)
            feats = self._model.encode_image(x).float()
            feats = torch.nn.functional.normalize(feats, dim=-1)
            return feats.cpu().numpy()

    def encode_pil(self, images: Sequence[Image.Image]) -> np.ndarray:
        pre = self.preprocessor()
        return self.encode_images(np.stack([pre(im) for im in images]))

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Texts -> (N, D) unit vectors. Recent texts are cached: a search is typed often.

        Runs beside an image batch: the towers share no state at inference, and the text
        path has its own lock, so a query is answered while indexing goes on.
        """
        self.load()
        import torch

        with self._text_lock:
            todo = [t for t in dict.fromkeys(texts) if t not in self._text_cache]
            if todo:
                with torch.inference_mode():
                    tokens = self._tokenizer(list(todo)).to(self.device)
                    feats = torch.nn.functional.normalize(
                        self._model.encode_text(tokens).float(), dim=-1).cpu().numpy()
                for text, vec in zip(todo, feats, strict=True):
                    self._text_cache[text] = vec
            for text in texts:
                self._text_cache.move_to_end(text)
            out = np.stack([self._text_cache[t] for t in texts])
            while len(self._text_cache) > 4096:
                self._text_cache.popitem(last=False)
            return out

    @property
    def logit_scale(self) -> float:
        self.load()
        return float(self._model.logit_scale.exp())


def _progress_tqdm(progress: DownloadProgress, message: str) -> type:
    """A tqdm subclass that forwards byte counts to ``progress`` and still draws on stderr."""
    from tqdm.auto import tqdm

    class _Forwarding(tqdm):  # type: ignore[misc, valid-type]
        def update(self, n: float | None = 1) -> bool | None:
            out = super().update(n)
            progress(message, int(self.n), int(self.total or 0))
            return out

    return _Forwarding


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().split("\n")[0] or "unknown error").rstrip(".")


def _explain_download_error(exc: BaseException | None) -> str:
    """Why a download failed, in words a person understands (no exception names)."""
    if exc is None:
        return "the download failed"
    names = {cls.__name__ for cls in type(exc).__mro__}
    text = str(exc)
    if names & {"LocalEntryNotFoundError", "OfflineModeIsEnabled"} or (
            "offline" in text.lower() and "cache" in text.lower()):
        return ("it is not downloaded yet, and it cannot be downloaded now (no internet "
                "connection, or downloads are switched off)")
    if names & {"ConnectionError", "ConnectTimeout", "ReadTimeout", "TimeoutError"}:
        return "it is not downloaded yet, and the download server could not be reached"
    if names & {"GatedRepoError"}:
        return "the model's page requires a login before downloading"
    if names & {"RepositoryNotFoundError", "EntryNotFoundError", "RevisionNotFoundError"}:
        return "it was not found on the Hugging Face hub"
    if isinstance(exc, OSError) and exc.errno == 28:
        return "there is not enough disk space to download it"
    return _first_line(exc)
