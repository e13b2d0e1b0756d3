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

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import sys
import threading
import time
import types
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from photoclip.core.errors import DownloadCancelled, ModelUnavailableError, PhotoclipError
from photoclip.core.precision import (
    CALIBRATION_IMAGES,
    PRECISIONS,
    Check,
    VerdictCache,
    candidates,
    cpu_class,
    detected_cpu_class,
    judge,
)

log = logging.getLogger(__name__)

DEFAULT_MODEL = "ViT-B-32-256:datacomp_s34b_b86k"
# Up to this many new texts at once run on the query tower (Embedder._query_tower).
QUERY_TOWER_TEXTS = 4
# The query tower runs the model's own float32 weights: only summation order differs.
QUERY_TOWER_COSINE = 0.9999

# (message, bytes done, bytes total); total is 0 when unknown. It may raise
# DownloadCancelled to stop the download (what arrived is kept; the next try resumes).
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


# Three imports that open_clip makes at its first import cost seconds of every start,
# before the first photo can be embedded, and the models photoclip runs by default need
# none of them:
# - timm, for the few models whose image tower is a timm network (0.6 s, and its models
#   use torch.compile's decorators, which import torch's compiler);
# - transformers, for the multilingual models whose text tower is a Hugging Face network
#   (0.7 s; some of its releases import torch's compiler at once, 5.20 does on Python 3.10);
# - torch's compiler, ``torch._dynamo``, which torchvision's ops import for one helper
#   that only their calls use (roi_align asks whether it runs under torch.compile).
# Together 2.1 s of open_clip's 3.2 s import on the AVX512 machine (the compiler took
# 2.9 s alone on the AVX2 one). Building, quantizing and running the model leave
# ``torch._dynamo`` unimported, so while open_clip is first imported timm and transformers
# are held back (open_clip's adapters for them are run again for a model that needs one:
# :func:`_adapters_for`) and that one module of the compiler is a stand-in whose
# attributes, once used, come from the real module.
ENV_LEAN_IMPORT = "PHOTOCLIP_LEAN_IMPORT"   # "0": import open_clip with all it imports
_DYNAMO_UTILS = "torch._dynamo.utils"
# open_clip's adapter module for each package held back, and when a model needs it.
_HELD_BACK = {"timm": "timm_model", "transformers": "hf_model"}


def _real_dynamo_utils() -> Any:
    if isinstance(sys.modules.get(_DYNAMO_UTILS), _DeferredDynamoUtils):
        del sys.modules[_DYNAMO_UTILS]
    return importlib.import_module(_DYNAMO_UTILS)


class _DeferredDynamoUtils(types.ModuleType):
    """``torch._dynamo.utils`` until something uses it; then the real module's attributes."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_real_dynamo_utils(), name)


def _deferred_is_compile_supported(device_type: Any) -> Any:
    return _real_dynamo_utils().is_compile_supported(device_type)


_open_clip_lock = threading.Lock()


def _open_clip() -> Any:
    """The open_clip module; its first import is the lean one described above."""
    if "open_clip" in sys.modules:
        # import_module, not sys.modules: it waits while another thread initialises it.
        return importlib.import_module("open_clip")
    with _open_clip_lock:   # the held-back modules are process-wide: one importer
        if "open_clip" in sys.modules:
            return importlib.import_module("open_clip")
        return _lean_import()


def _import_torch_and_open_clip() -> tuple[Any, Any]:
    if "torch" not in sys.modules:
        _load_torch_libraries()
    import torch

    return torch, _open_clip()


def _load_torch_libraries() -> None:
    """Load torch's native libraries by a foreign call to dlopen, which lets go of the GIL.

    ``import torch`` loads and relocates them (libtorch_cpu alone is 426 MB) while it holds
    the GIL: the app's window could not paint for 310-360 ms (AMD EPYC Zen 1), worse than
    any other moment of a session. Loaded first this way (0.4 s with the GIL free, 10-42
    ms pauses), the import finds them in memory, and its worst pause was 42-67 ms. The
    flags are those torch's import uses. Where this cannot be done (Windows; a layout not
    found), nothing happens and the import loads them as it always did.
    """
    if not hasattr(os, "RTLD_GLOBAL") or sys.platform == "win32":
        return
    try:
        import ctypes
        import importlib.machinery

        spec = importlib.util.find_spec("torch")
        if spec is None or not spec.origin:
            return
        root = Path(spec.origin).parent
        deps = sorted((root / "lib").glob("libtorch_global_deps.*"))
        ext = next((root / f"_C{suffix}" for suffix in importlib.machinery.EXTENSION_SUFFIXES
                    if (root / f"_C{suffix}").is_file()), None)
        if not deps or ext is None:
            return
        libc = ctypes.CDLL(None)
        libc.dlopen.restype = ctypes.c_void_p
        libc.dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
        if libc.dlopen(os.fsencode(deps[0]), os.RTLD_GLOBAL | os.RTLD_NOW):
            libc.dlopen(os.fsencode(ext), sys.getdlopenflags())
    except (OSError, AttributeError, ImportError, ValueError):
        log.debug("torch's libraries are loaded by its import", exc_info=True)


def _on_a_thread_of_its_own(fn: Callable[[], Any]) -> Any:
    """``fn()`` run on a new thread, its value returned or its exception raised here.

    For the first import of torch and open_clip: it leaves reference cycles that hold
    frames of the import, and a frame holds its caller's frame, up the whole stack. Imported
    from :meth:`Embedder.load`, they held that frame, so the embedder and its model stayed
    in memory after a model switch until a full pass of the garbage collector, which the
    app avoids (photoclip.gui.workers.long_lived). A thread's stack ends at the thread.
    """
    if "torch" in sys.modules and "open_clip" in sys.modules:
        return fn()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:   # raised again on the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="photoclip-import")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _lean_import() -> Any:
    lean = os.environ.get(ENV_LEAN_IMPORT, "1").strip() != "0"
    stand_in = None
    if lean and not any(m in sys.modules for m in ("torch._dynamo", _DYNAMO_UTILS,
                                                   "torchvision")):
        stand_in = _DeferredDynamoUtils(_DYNAMO_UTILS)
        stand_in.is_compile_supported = _deferred_is_compile_supported  # type: ignore[attr-defined]
        sys.modules[_DYNAMO_UTILS] = stand_in
    held = [name for name in _HELD_BACK if lean and name not in sys.modules]
    for name in held:
        sys.modules[name] = None   # type: ignore[assignment]  # import it: ImportError
    try:
        # An import statement, not import_module: freezers (PyInstaller) bundle what
        # import statements name, and the app built without open_clip had none.
        import open_clip
    except ImportError as exc:
        raise ImportError(f"open_clip cannot be imported ({exc})") from exc
    finally:
        for name in held:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]
        if stand_in is not None:
            if sys.modules.get(_DYNAMO_UTILS) is stand_in:
                del sys.modules[_DYNAMO_UTILS]
            dynamo = sys.modules.get("torch._dynamo")
            if dynamo is not None and getattr(dynamo, "utils", None) is stand_in:
                # Something imported the compiler meanwhile: it gets its real module.
                dynamo.utils = _real_dynamo_utils()
    if not hasattr(open_clip, "create_model_and_transforms"):
        # A folder named open_clip without its code (its data files, say) imports as an
        # empty namespace package; a stray open_clip.py has a file instead of a path.
        found = ", ".join(getattr(open_clip, "__path__", None)
                          or [str(getattr(open_clip, "__file__", "?"))])
        raise ImportError(f"open_clip is incomplete here (found only {found})")
    return open_clip


def _adapters_for(open_clip: Any, cfg: dict[str, Any] | None) -> None:
    """Brings back open_clip's adapter for timm or transformers before a model that may
    need it is built: its config names a timm image tower or a Hugging Face text tower,
    or is unknown here."""
    vision, text = ((cfg or {}).get(key) for key in ("vision_cfg", "text_cfg"))
    needs = {"timm": cfg is None or (isinstance(vision, dict)
                                      and bool(vision.get("timm_model_name"))),
             "transformers": cfg is None or (isinstance(text, dict)
                                              and bool(text.get("hf_model_name")))}
    for package, adapter_name in _HELD_BACK.items():
        adapter = getattr(open_clip, adapter_name)
        if (needs[package] and getattr(adapter, package, None) is None
                and importlib.util.find_spec(package) is not None):
            with _open_clip_lock:
                if getattr(adapter, package, None) is None:
                    # Run again, the adapter's imports succeed; its classes read them as
                    # module globals, so the classes open_clip already holds see them.
                    importlib.reload(adapter)


def _model_cfg(parsed: ModelSpec) -> dict[str, Any] | None:
    """A model's open_clip config (``model_cfg``) where it can be read without a download."""
    if parsed.kind == "local-dir":
        with contextlib.suppress(OSError, ValueError):
            raw = json.loads((Path(parsed.name) / "open_clip_config.json").read_text())
            cfg = raw.get("model_cfg", raw)
            return cfg if isinstance(cfg, dict) else None
    elif parsed.kind == "pretrained":
        with contextlib.suppress(ImportError):
            cfg = _open_clip().get_model_config(parsed.name)
            return cfg if isinstance(cfg, dict) else None
    return None


def model_is_local(spec: str, cache_dir: str | None = None) -> bool:
    """True when loading needs no download: a local folder, or weights already cached."""
    parsed = ModelSpec.parse(spec)
    if parsed.kind == "local-dir":
        return True
    try:
        pretrained = _open_clip().pretrained
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
    weights = any(isinstance(try_to_load_from_cache(repo, name, cache_dir=cache_dir), str)
                  for name in ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"))
    text_model = hf_text_model(spec) if parsed.kind == "pretrained" else None
    if weights and text_model:
        # A multilingual tower also needs its Hugging Face tokenizer and config.
        return all(isinstance(try_to_load_from_cache(text_model, name, cache_dir=cache_dir),
                              str) for name in ("config.json", "tokenizer.json"))
    return weights


def hf_text_model(spec: str) -> str | None:
    """The Hugging Face text model a spec's text tower is (a multilingual tower such as
    ``xlm-roberta-base``), or None for a CLIP text transformer. Reads configs only."""
    cfg = _model_cfg(ModelSpec.parse(spec))
    text = (cfg or {}).get("text_cfg", {})
    name = text.get("hf_model_name") if isinstance(text, dict) else None
    return str(name) if name else None


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

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Preprocessor) and (
            (self.size, self.mode, self.resample, self.fill)
            == (other.size, other.mode, other.resample, other.fill))

    __hash__ = None  # type: ignore[assignment]

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


def _generated_images(pre: Preprocessor, n: int, seed: int = 0) -> np.ndarray:
    """Smooth random images: enough structure to exercise every layer, deterministically.

    The fallback calibration when there are not enough of the user's own photos.
    """
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        small = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
        img = Image.fromarray(small).resize((320, 240), Image.Resampling.BICUBIC)
        noise = rng.integers(-20, 21, size=(240, 320, 3))
        img = Image.fromarray(np.clip(np.asarray(img) + noise, 0, 255).astype(np.uint8))
        out.append(pre(img))
    return np.stack(out)


def _int8_scope(precision: str) -> str | None:
    """What an int8 precision quantizes (core/int8.py), or None for a precision that is
    not int8: "int8" every linear layer, attention's projections too; "int8-mlp" the MLPs
    only, the rung below it for weights whose attention does not take int8 well."""
    return {"int8": "all", "int8-mlp": "mlp"}.get(precision)


class _Trial:
    """A faster image tower on probation: it runs beside fp32 on the first photos embedded,
    and is trusted once enough of them agree (see core/precision.py).

    The tower is built only when the second batch comes (``tower`` is None until then), and
    the first batch's input waits in ``waiting`` for it: building an int8 tower takes about
    a second, which the first photos of a library should not wait for. ``known`` is a
    verdict remembered from an earlier check: the tower is then installed without one.
    """

    def __init__(self, precision: str, key: str, known: Check | None = None) -> None:
        self.precision = precision
        self.key = key
        self.known = known
        self.tower: Any | None = None
        self.waiting: list[Any] = []
        self.ref: list[np.ndarray] = []
        self.got: list[np.ndarray] = []
        self.own = 0
        # Seconds of fp32 and of the candidate on the same batches, run back to back.
        self.ref_seconds = 0.0
        self.got_seconds = 0.0

    @property
    def speedup(self) -> float | None:
        return self.ref_seconds / self.got_seconds if self.got_seconds > 0 else None

    @property
    def images(self) -> int:
        return sum(len(r) for r in self.ref)


class Embedder:
    """An OpenCLIP model behind a small, thread-safe interface.

    Loading is explicit (``load``) because it can download hundreds of MB; every encode
    call loads on demand otherwise. ``precision`` (of the image tower) is asked for as
    ``auto``, ``fp32``, ``bf16``, ``int8`` or ``int8-mlp``. ``auto`` climbs the ladder of
    core/precision.py: a faster path runs beside fp32 on the first photos embedded and is
    used once it proved faithful (the verdict is remembered per model and machine); until
    then, and when it is rejected, fp32. An explicit choice is used as asked, and measured
    on generated images for the record. The text tower runs in fp32: queries and prompts
    are short, and it only computes their tokens (see :meth:`encode_texts`).
    """

    def __init__(self, spec: str = DEFAULT_MODEL, *, device: str | None = None,
                 precision: str = "auto", threads: int | None = None,
                 cache_dir: str | None = None) -> None:
        if precision not in ("auto", *PRECISIONS):
            raise ValueError(f"unknown precision {precision!r}")
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
        self._tokenizer_lock = threading.Lock()
        self._preprocess_cfg: dict[str, Any] | None = None
        self._signature: str | None = None
        self._text_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._visual: Any = None          # the image tower in use
        self._trial: _Trial | None = None
        self._untried: list[str] = []
        self._rejected: list[str] = []
        self._trim_text = False
        self._numpy_text: Any = None      # the query tower; False: none (see _query_tower)
        self.query_tower_cosine: float | None = None
        self.device = "cpu"
        self.precision = "fp32"
        self.cpu_class: str | None = None
        self.precision_check: Check | None = None
        self.precision_reason = "not loaded yet"
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
        open_clip = _open_clip()

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
            except DownloadCancelled:
                raise   # raised by ``progress``: no other file is tried
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
            try:
                torch, open_clip = _on_a_thread_of_its_own(_import_torch_and_open_clip)
            except ImportError as exc:
                raise ModelUnavailableError(
                    f"photoclip's installation is incomplete: {_first_line(exc)}; install "
                    "photoclip again",
                    reason="photoclip's installation is incomplete (a part that runs the "
                           "models, open_clip, is missing). Install photoclip again.",
                ) from exc
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
            if hf_text_model(str(self.spec)) and importlib.util.find_spec("transformers") is None:
                raise ModelUnavailableError(
                    f"model {self.spec} has a multilingual text tower, which needs the "
                    "'transformers' package: pip install 'photoclip[multilingual]'",
                    reason=f"The model {self.spec} searches in many languages with a text "
                           "encoder that needs an add-on which is not installed (the Python "
                           "package “transformers”).")
            _adapters_for(open_clip, _model_cfg(self.spec))

            # Weights are loaded strictly (every parameter from the checkpoint), so the
            # random initialisation open_clip runs first is thrown away: skipping it saves
            # 1.5 of the 1.9 s that building ViT-B-32 takes on a 2-core CPU.
            weighted = self.spec.kind in ("local-dir", "hf-hub") or bool(self.spec.pretrained)
            try:
                with _initialisation_skipped(torch) if weighted else contextlib.nullcontext():
                    model, _, _preprocess = open_clip.create_model_and_transforms(
                        self.spec.open_clip_name(), pretrained=self.spec.pretrained,
                        cache_dir=self.cache_dir, weights_only=True)
                # OpenAI's BPE tokenizer is a file in open_clip, and it is loaded when text
                # first needs it (0.1-0.6 s less before the first photos are searchable); a
                # Hugging Face tokenizer may need its files fetched, so it fails here.
                tokenizer = (open_clip.get_tokenizer(self.spec.open_clip_name(),
                                                     cache_dir=self.cache_dir)
                             if hf_text_model(str(self.spec)) else None)
            except ModelUnavailableError:
                raise
            except Exception as exc:
                raise self._unavailable(_first_line(exc)) from exc
            model.eval()
            model.requires_grad_(False)
            self._preprocess_cfg = dict(open_clip.get_model_preprocess_cfg(model))
            self._remember_preprocess_cfg()
            self.device = self._pick_device(torch)
            model.to(self.device)
            self._tokenizer = tokenizer
            self._trim_text = _text_tower(model) is not None
            self._visual = model.visual
            self._model = model   # model_input and the check below need it
            try:
                self._choose_precision(torch)
            except BaseException:
                self._model = None
                raise
            log.info("loaded %s on %s (%s)", self.spec, self.device, self.precision_reason)

    def _pick_device(self, torch: Any) -> str:
        if self.requested_device:
            return self.requested_device
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"

    # -- precision -------------------------------------------------------------------------

    def _verdicts(self) -> VerdictCache:
        from photoclip import paths

        return VerdictCache(paths.cache_dir() / "precision-checks.json")

    def _verdict_key(self, torch: Any, precision: str) -> str:
        return VerdictCache.key(self.signature, f"{self.device}:{self.cpu_class}",
                                _torch_version() or torch.__version__, precision)

    def planned_precision(self) -> tuple[str, str]:
        """(precision, why) the image tower will run in on this CPU, without loading it.

        Read from the remembered checks; what ``photoclip status`` shows when the model
        is not loaded (a status or search process never loads it).
        """
        torch_version = _torch_version()
        if torch_version is None:
            return "fp32", "decided when the model loads"
        klass = cpu_class()
        where = f"this {klass} CPU"
        want = self.requested_precision
        if want != "auto":
            return want, f"{want}, as asked"
        rejected = []
        for precision in candidates("cpu", klass):
            key = VerdictCache.key(self.signature, f"cpu:{klass}", torch_version, precision)
            known = self._verdicts().get(key)
            if known is None:
                return "fp32", (f"fp32 until {precision} is checked on the first photos "
                                f"embedded on {where}")
            if known.accepted:
                return precision, (f"{precision}: the fastest faithful path on {where} "
                                   f"(checked {_when(known.at)}: {known.describe()})")
            rejected.append(known.describe())
        if not rejected:
            return "fp32", f"fp32: no faster path on {where}"
        return "fp32", f"fp32 on {where}: " + _reasons(rejected)

    def _build_tower(self, torch: Any, precision: str) -> Any | None:
        fp32 = self._model.visual
        if precision == "bf16":
            import copy
            import itertools

            # Each float tensor is converted on its own while copying the tower, so there
            # is never a second fp32 tower in memory (as deepcopy().to() would make).
            memo: dict[int, Any] = {}
            for t in itertools.chain(fp32.parameters(), fp32.buffers()):
                if t.is_floating_point():
                    half = t.detach().to(torch.bfloat16)
                    memo[id(t)] = (torch.nn.Parameter(half, requires_grad=False)
                                   if isinstance(t, torch.nn.Parameter) else half)
            return copy.deepcopy(fp32, memo)
        scope = _int8_scope(precision)
        if scope is not None and self.device == "cpu":
            from photoclip.core import int8

            try:
                return int8.quantize(fp32, scope)
            except Exception as exc:   # an engine this CPU lacks: fp32 it is
                log.info("%s image tower unavailable: %s", precision, _first_line(exc))
        return None

    @staticmethod
    def _run_tower(torch: Any, tower: Any, precision: str, x: Any) -> Any:
        """Unit image vectors (float32) from a tower in ``precision``."""
        if precision == "bf16":
            x = x.to(torch.bfloat16)
        return torch.nn.functional.normalize(tower(x).float(), dim=-1)

    def _install(self, precision: str, tower: Any) -> None:
        self._visual = tower
        self._model.visual = tower   # the fp32 copy is freed: it is not needed any more
        self.precision = precision

    def _choose_precision(self, torch: Any) -> None:
        capability = None
        if self.device == "cpu":
            with contextlib.suppress(Exception):
                capability = torch.backends.cpu.get_cpu_capability()
        self.cpu_class = cpu_class(capability) if self.device == "cpu" else self.device
        where = self._where()
        want = self.requested_precision
        if want == "fp32":
            self.precision_reason = "fp32, as asked"
            return
        if want != "auto":
            tower = self._build_tower(torch, want)
            if tower is None:
                self.precision_reason = f"fp32: {want} is not available for this model here"
                return
            pixels = _generated_images(self.preprocessor(), 8)
            x = self.model_input(pixels)
            with torch.inference_mode():
                ref = self._run_tower(torch, self._visual, "fp32", x).cpu().numpy()
                got = self._run_tower(torch, tower, want, x).cpu().numpy()
            self._record(judge(want, ref, got, own_photos=0))
            self._install(want, tower)
            self.precision_reason = f"{want}, as asked ({self.precision_check.describe()})"  # type: ignore[union-attr]
            return
        ladder = list(candidates(self.device, self.cpu_class))
        if not ladder:
            self.precision_reason = f"fp32: no faster path on {where}"
            return
        rejected = []
        while ladder:
            precision = ladder.pop(0)
            known = self._verdicts().get(self._verdict_key(torch, precision))
            if known is not None and not known.accepted:
                self._record(known)
                rejected.append(known.describe())
                continue
            if not self._applies(torch, precision):
                rejected.append(precision + _NOT_APPLICABLE)
                continue
            self._trial = _Trial(precision, self._verdict_key(torch, precision), known)
            self._untried = ladder
            self._rejected = rejected
            if known is not None:
                self._record(known)
                self.precision_reason = (f"fp32 for the first photos, then {precision}: the "
                                         f"fastest faithful path on {where} (checked "
                                         f"{_when(known.at)}: {known.describe()})")
            else:
                self.precision_reason = (f"fp32 while {precision} is checked against it on "
                                         "the first photos embedded")
            return
        self.precision_reason = f"fp32 on {where}: " + _reasons(rejected)

    def _applies(self, torch: Any, precision: str) -> bool:
        """Whether a tower in ``precision`` can be built for this model here (without
        building it: that waits for the second batch)."""
        scope = _int8_scope(precision)
        if scope is not None:
            from photoclip.core import int8

            return self.device == "cpu" and int8.applies(self._model.visual, scope)
        return precision == "bf16"

    def _where(self) -> str:
        return (f"this {self.cpu_class} CPU" if self.device == "cpu"
                else f"this {self.device.upper()} device")

    def _catch_up(self, torch: Any) -> None:
        """Build the trial's tower and run it on the input that waited for it; a tower
        remembered as faithful is installed at once. Ends in a decision when it can."""
        while self._trial is not None and self._trial.tower is None:
            trial = self._trial
            tower = self._build_tower(torch, trial.precision)
            if tower is None:
                self._rejected.append(trial.precision + _NOT_APPLICABLE)
                self._next_trial(torch, _reasons(self._rejected))
                continue
            trial.tower = tower
            if trial.known is not None:
                self._trial = None
                self._install(trial.precision, tower)
                self.precision_reason = (f"{trial.precision}: the fastest faithful path on "
                                         f"{self._where()} (checked {_when(trial.known.at)}: "
                                         f"{trial.known.describe()})")
                return
        trial = self._trial
        if trial is None:
            return
        for x in trial.waiting:
            trial.got.append(self._run_tower(torch, trial.tower, trial.precision, x)
                             .cpu().numpy())
        trial.waiting = []
        if trial.images >= CALIBRATION_IMAGES:
            self._decide(torch)

    def _side_by_side(self, torch: Any, trial: _Trial, x: Any) -> np.ndarray:
        """fp32 and the candidate on the same input, each timed (the check weighs speed
        too); returns fp32's vectors."""
        if not trial.got:   # a first run pays one-time costs that are not its speed
            self._run_tower(torch, trial.tower, trial.precision, x[:1])
        t0 = time.perf_counter()
        ref = self._run_tower(torch, self._visual, "fp32", x).cpu().numpy()
        t1 = time.perf_counter()
        got = self._run_tower(torch, trial.tower, trial.precision, x).cpu().numpy()
        trial.ref_seconds += t1 - t0
        trial.got_seconds += time.perf_counter() - t1
        trial.ref.append(ref)
        trial.got.append(got)
        return ref

    def _next_trial(self, torch: Any, why: str) -> None:
        """The next candidate of the ladder on trial (with a remembered verdict, installed
        at the next catch-up), or fp32 for good."""
        self._trial = None
        while self._untried:
            precision = self._untried.pop(0)
            known = self._verdicts().get(self._verdict_key(torch, precision))
            if known is not None and not known.accepted:
                self._rejected.append(known.describe())
                continue
            if not self._applies(torch, precision):
                self._rejected.append(precision + _NOT_APPLICABLE)
                continue
            self._trial = _Trial(precision, self._verdict_key(torch, precision), known)
            self.precision_reason = f"fp32 while {precision} is checked ({why})"
            return
        self.precision_reason = f"fp32 on {self._where()}: {why}"

    def _record(self, check: Check) -> None:
        self.precision_check = check
        if check.precision == "bf16":
            self.bf16_cosine = check.worst_cosine

    def _decide(self, torch: Any) -> None:
        """End the trial: trust the faster tower, or try the next one, or stay in fp32."""
        trial = self._trial
        assert trial is not None
        self._trial = None
        check = judge(trial.precision, np.concatenate(trial.ref), np.concatenate(trial.got),
                      trial.own, trial.speedup)
        self._record(check)
        self._verdicts().put(trial.key, check)
        if check.accepted:
            self._install(trial.precision, trial.tower)
            self.precision_reason = (f"{trial.precision}: the fastest faithful path on "
                                     f"{self._where()} ({check.describe()})")
            log.info("image tower now in %s: %s", trial.precision, check.describe())
            return
        log.info("%s rejected for %s: %s", trial.precision, self.spec, check.describe())
        self._rejected.append(check.describe())
        self._next_trial(torch, _reasons(self._rejected))   # every rung that failed, said

    def finish_check(self) -> None:
        """Decide a check still waiting for photos, topping it up with generated images.

        The indexer calls this at the end of a run, so a library of a handful of photos
        does not stay in fp32 for ever (and the verdict is remembered).
        """
        if self._trial is None or self._trial.known is not None:
            return   # nothing to decide: a remembered verdict is installed when photos come
        import torch

        with self._lock, torch.inference_mode():
            while self._trial is not None:
                self._catch_up(torch)
                trial = self._trial
                if trial is None:
                    break
                missing = max(0, CALIBRATION_IMAGES - trial.images)
                if missing:
                    x = self.model_input(_generated_images(self.preprocessor(), missing))
                    self._side_by_side(torch, trial, x)
                self._decide(torch)

    def precision_report(self) -> dict[str, Any]:
        """What runs and why, for ``photoclip status`` and the app's About box.

        ``loaded`` says whether this is what runs now, or (model not loaded) what the
        remembered checks will choose at the next load.
        """
        if not self.loaded:
            image, why = self.planned_precision()
            return {"loaded": False, "device": "cpu", "cpu_class": cpu_class(),
                    "detected_cpu_class": detected_cpu_class(), "image": image,
                    "text": "fp32", "reason": why, "check": None}
        return {"loaded": True, "device": self.device, "cpu_class": self.cpu_class,
                "detected_cpu_class": detected_cpu_class() if self.device == "cpu" else None,
                "image": self.precision, "text": "fp32", "reason": self.precision_reason,
                "check": asdict(self.precision_check) if self.precision_check else None}

    @property
    def query_path(self) -> str:
        """How this process embeds a query, for the reports ("… with the {query_path}")."""
        if self._numpy_text:
            return (f"model's text tower run by numpy in float32 (cosine to torch "
                    f"{self.query_tower_cosine:.6f})")
        if self._numpy_text is None and self.device == "cpu":
            return "model's text tower, run by numpy from the first query"
        return "model's text tower (torch)"

    # -- encoding --------------------------------------------------------------------------

    @property
    def preprocess_cfg(self) -> dict[str, Any]:
        if self._preprocess_cfg is None:
            self.load()
        assert self._preprocess_cfg is not None
        return self._preprocess_cfg

    def preprocessor(self) -> Preprocessor:
        return Preprocessor(self.preprocess_cfg)

    def early_preprocessor(self) -> Preprocessor | None:
        """The model's resize and crop without loading it (None when not known yet), so
        photos can be decoded while torch is imported and the weights load.

        Known from the last load of this model on this computer (user cache), or read
        from a model folder's open_clip_config.json. A guess, checked against
        :meth:`preprocessor` once the model is loaded.
        """
        if self._preprocess_cfg is not None:
            return self.preprocessor()
        try:
            cfg = self._preprocess_cache().get(self.signature)
            if cfg is None and self.spec.kind == "local-dir":
                raw = json.loads((Path(self.spec.name) / "open_clip_config.json").read_text())
                size = raw["model_cfg"]["vision_cfg"]["image_size"]
                cfg = {"size": size, **raw.get("preprocess_cfg", {})}
            return Preprocessor(cfg) if isinstance(cfg, dict) else None
        except (OSError, ValueError, KeyError, TypeError, PhotoclipError):
            return None

    def _preprocess_cache(self) -> dict[str, Any]:
        from photoclip import paths

        try:
            raw = json.loads((paths.cache_dir() / "preprocess.json").read_text())
        except (OSError, ValueError):
            return {}
        return raw if isinstance(raw, dict) else {}

    def _remember_preprocess_cfg(self) -> None:
        """For :meth:`early_preprocessor` next time; the cache is only a hint."""
        from photoclip import paths

        cfg = {k: v for k, v in (self._preprocess_cfg or {}).items()
               if k in ("size", "resize_mode", "interpolation", "fill_color")}
        try:
            known = self._preprocess_cache()
            if known.get(self.signature) == json.loads(json.dumps(cfg)):
                return
            known[self.signature] = cfg
            folder = paths.cache_dir()
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f"preprocess.json.{os.getpid()}.tmp"
            tmp.write_text(json.dumps(known))
            os.replace(tmp, folder / "preprocess.json")
        except (OSError, TypeError, ValueError) as exc:
            log.debug("preprocess config not remembered: %s", exc)

    def model_input(self, pixels: np.ndarray) -> Any:
        """(N, H, W, 3) uint8 pixels from :meth:`preprocessor` -> the normalised
        (N, 3, H, W) float32 tensor the image tower takes, on its device."""
        import torch

        cfg = self.preprocess_cfg
        mean = torch.tensor(cfg.get("mean", (0.48145466, 0.4578275, 0.40821073)),
                            device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(cfg.get("std", (0.26862954, 0.26130258, 0.27577711)),
                           device=self.device).view(1, 3, 1, 1)
        # uint8 crosses to the device (4x less than float32), then one batched pass.
        x = torch.from_numpy(np.ascontiguousarray(pixels)).to(self.device)
        return x.permute(0, 3, 1, 2).float().mul_(1.0 / 255.0).sub_(mean).div_(std).contiguous()

    def encode_images(self, pixels: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 pixels from :meth:`preprocessor` -> (N, D) unit vectors, float32.

        While a faster path is on trial, the batch runs in fp32 (what is returned and
        stored) and in the candidate, whose output only feeds the check.
        """
        self.load()
        import torch

        with self._lock, torch.inference_mode():
            x = self.model_input(pixels)
            if self._trial is not None and self._trial.images:
                self._catch_up(torch)   # the tower is built from the second batch on
            trial = self._trial
            if trial is None:
                return self._run_tower(torch, self._visual, self.precision, x).cpu().numpy()
            trial.own += len(x)
            if trial.tower is None:
                ref = self._run_tower(torch, self._visual, "fp32", x).cpu().numpy()
                trial.ref.append(ref)
                trial.waiting.append(x)
                return ref
            ref = self._side_by_side(torch, trial, x)
            if trial.images >= CALIBRATION_IMAGES:
                self._decide(torch)
            return ref

    def encode_pil(self, images: Sequence[Image.Image]) -> np.ndarray:
        pre = self.preprocessor()
        return self.encode_images(np.stack([pre(im) for im in images]))

    def _text_features(self, torch: Any, tokens: Any) -> Any:
        """The text tower on token ids, computing only the positions up to the last end token.

        Exact for towers with a causal mask and end-token pooling (every OpenCLIP text
        transformer without a class token): no position attends to a later one, so the
        padding after the end token cannot change what is pooled. A query of 6 tokens then
        costs 6/77 of the full context (and the ~400 label-set prompts a few seconds, not
        half a minute). Other towers (Hugging Face text encoders) run whole.
        """
        tower = _text_tower(self._model) if self._trim_text else None
        if tower is None:
            return self._model.encode_text(tokens)
        length = int(tokens.argmax(dim=-1).max()) + 1
        tokens = tokens[:, :length]
        cast = tower.transformer.get_cast_dtype()
        x = tower.token_embedding(tokens).to(cast) + tower.positional_embedding[:length].to(cast)
        x = tower.transformer(x, attn_mask=tower.attn_mask[:length, :length])
        x = tower.ln_final(x)
        x = x[torch.arange(x.shape[0], device=x.device), tokens.argmax(dim=-1)]
        proj = tower.text_projection
        if proj is None:
            return x
        return proj(x) if isinstance(proj, torch.nn.Linear) else x @ proj

    def encode_texts(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        """Texts -> (N, D) unit vectors. Recent texts are cached: a search is typed often.

        ``query``: a search as it is typed, which runs on the query tower (below) when the
        model has one and the texts are few; everything else (label-set prompts) on torch,
        so a process that only indexes never builds the query tower. Runs beside an image
        batch: the towers share no state at inference, and the text path has its own
        lock, so a query is answered while indexing goes on.
        """
        self.load()
        import torch

        with self._text_lock:
            todo = [t for t in dict.fromkeys(texts) if t not in self._text_cache]
            if todo:
                tower = (self._query_tower(torch) if query and len(todo) <= QUERY_TOWER_TEXTS
                         else None)
                feats = tower.encode(todo) if tower is not None else self._torch_texts(
                    torch, todo)
                for text, vec in zip(todo, feats, strict=True):
                    self._text_cache[text] = vec
            for text in texts:
                self._text_cache.move_to_end(text)
            out = np.stack([self._text_cache[t] for t in texts])
            while len(self._text_cache) > 4096:
                self._text_cache.popitem(last=False)
            return out

    def prepare_queries(self) -> None:
        """Start building the query tower on a thread of its own (about 1 s for ViT-B-32
        on 2 cores), so that the first search does not pay for it; a search meanwhile
        waits for it as it would have built it itself. For a process that will search:
        the app, once the model has loaded."""
        self.load()
        import torch

        def build() -> None:
            with self._text_lock:
                self._query_tower(torch)

        # Not a daemon: a process quitting meanwhile waits the second for it rather than
        # tearing numpy and torch down under it.
        threading.Thread(target=build, name="photoclip-query-tower").start()

    @property
    def tokenizer(self) -> Any:
        """The model's open_clip tokenizer (the model is loaded)."""
        if self._tokenizer is None:
            with self._tokenizer_lock:
                if self._tokenizer is None:
                    open_clip = _open_clip()

                    self._tokenizer = open_clip.get_tokenizer(self.spec.open_clip_name(),
                                                              cache_dir=self.cache_dir)
        return self._tokenizer

    def _torch_texts(self, torch: Any, texts: Sequence[str]) -> np.ndarray:
        with torch.inference_mode():
            tokens = self.tokenizer(list(texts)).to(self.device)
            return torch.nn.functional.normalize(
                self._text_features(torch, tokens).float(), dim=-1).cpu().numpy()

    def _query_tower(self, torch: Any) -> Any:
        """The loaded text tower run by numpy in float32, for queries; None if it cannot be.

        Why: a query is a handful of tokens, so each layer is a matrix-vector product that
        only streams weights, and torch's CPU matmul does that at a fraction of memory
        speed (measured on an AVX2-only EPYC: 4.7 GB/s for torch's linear against 8.5
        GB/s for numpy's matmul on (in, out) matrices; a whole query 47 ms against 26-31
        ms). The same weights in float32: checked once against torch on the probe texts
        (cosine >= :data:`QUERY_TOWER_COSINE`). Costs a float32 copy of the block matrices
        (~150 MB for ViT-B-32), made at the first query, so an indexing-only process never
        pays it. Not used on a GPU. Caller holds ``_text_lock``.
        """
        if self._numpy_text is None:
            self._numpy_text = False
            if self.device == "cpu":
                try:
                    self._numpy_text = self._build_query_tower(torch) or False
                except Exception as exc:   # never worse than torch: note it, go on
                    log.warning("queries run on torch: the numpy text tower failed (%s)",
                                _first_line(exc))
        return self._numpy_text or None

    def _build_query_tower(self, torch: Any) -> Any:
        from photoclip.core import textexport

        got = self._text_tensors(torch)
        if isinstance(got, str):
            log.info("queries run on torch: %s", got)
            return None
        manifest, tensors = got
        weights = {name: np.ascontiguousarray(t.detach().float().cpu().numpy())
                   for name, t in tensors.items()}
        open_clip = _open_clip()

        tower = textexport.TextTower(
            manifest, weights, textexport.BPETokenizer(
                Path(open_clip.tokenizer.default_bpe()), int(manifest["context_length"])))
        worst = self._tower_agreement(torch, tower)
        if worst < QUERY_TOWER_COSINE:
            log.warning("queries run on torch: the numpy text tower's worst cosine to torch "
                        "was %.6f", worst)
            return None
        self.query_tower_cosine = worst
        return tower

    def _tower_agreement(self, torch: Any, tower: Any) -> float:
        """Worst cosine between ``tower`` and torch on the probe texts; -1 if the token ids
        differ (a tokenizer that disagrees is wrong however close the vectors land)."""
        from photoclip.core import textexport

        probe = list(textexport.PROBE_TEXTS)
        ids_ok = tower.tokenizer(probe) == [
            [int(v) for v in row[:int(row.argmax()) + 1]] for row in self.tokenizer(probe)]
        if not ids_ok:
            return -1.0
        return float(np.min(np.sum(tower.encode(probe) * self._torch_texts(torch, probe),
                                   axis=1)))

    def _text_tensors(self, torch: Any) -> tuple[dict[str, Any], dict[str, Any]] | str:
        """The text tower as the numpy tower runs it: a manifest and named torch tensors
        (matrices as (in, out) views, nothing copied); or why the numpy tower cannot."""
        open_clip = _open_clip()

        tower = _text_tower(self._model)
        tok = self.tokenizer
        if hf_text_model(str(self.spec)):
            return ("the text tower is a Hugging Face transformer (a multilingual model), "
                    "which the export does not implement")
        if tower is None or type(tok).__name__ != "SimpleTokenizer":
            return "the text tower or its tokenizer is not a standard CLIP one"
        if getattr(tok, "reduction_fn", None) is not None or tok.clean_fn is not getattr(
                open_clip.tokenizer, "_clean_lower", None):
            return "the tokenizer cleans text in a way the export does not implement"
        if len(tok.encoder) != tower.token_embedding.num_embeddings:
            return "the tokenizer's vocabulary is not the tower's"
        expected = {"ln_1.weight", "ln_1.bias", "attn.in_proj_weight", "attn.in_proj_bias",
                    "attn.out_proj.weight", "attn.out_proj.bias", "ln_2.weight", "ln_2.bias",
                    "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"}
        blocks = list(tower.transformer.resblocks)
        acts = set()
        for blk in blocks:
            if set(blk.state_dict()) != expected:
                return "the text transformer's blocks are not standard CLIP blocks"
            if not isinstance(blk.ls_1, torch.nn.Identity) or not isinstance(
                    blk.ls_2, torch.nn.Identity):
                return "the text transformer uses layer scale"
            act = blk.mlp.gelu
            if type(act).__name__ == "QuickGELU":
                acts.add("quick_gelu")
            elif isinstance(act, torch.nn.GELU) and act.approximate == "none":
                acts.add("gelu")
            else:
                return f"the text transformer uses {type(act).__name__}"
        if len(acts) != 1 or not getattr(tower.transformer, "batch_first", True):
            return "the text transformer's layout is not supported"
        eps = {float(blk.ln_1.eps) for blk in blocks} | {float(tower.ln_final.eps)}
        if len(eps) != 1:
            return "the text transformer mixes layer norms"

        tensors: dict[str, Any] = {
            "token_embedding": tower.token_embedding.weight,
            "positional_embedding": tower.positional_embedding,
            "ln_final.w": tower.ln_final.weight, "ln_final.b": tower.ln_final.bias,
        }
        for i, blk in enumerate(blocks):
            p = f"blocks.{i}."
            tensors.update({
                p + "ln_1.w": blk.ln_1.weight, p + "ln_1.b": blk.ln_1.bias,
                p + "attn.in_w": blk.attn.in_proj_weight.T,
                p + "attn.in_b": blk.attn.in_proj_bias,
                p + "attn.out_w": blk.attn.out_proj.weight.T,
                p + "attn.out_b": blk.attn.out_proj.bias,
                p + "ln_2.w": blk.ln_2.weight, p + "ln_2.b": blk.ln_2.bias,
                p + "mlp.fc_w": blk.mlp.c_fc.weight.T, p + "mlp.fc_b": blk.mlp.c_fc.bias,
                p + "mlp.proj_w": blk.mlp.c_proj.weight.T, p + "mlp.proj_b": blk.mlp.c_proj.bias,
            })
        proj = tower.text_projection
        if isinstance(proj, torch.nn.Linear):
            tensors["proj_w"] = proj.weight.T
            if proj.bias is not None:
                tensors["proj_b"] = proj.bias
        elif proj is not None:
            tensors["proj_w"] = proj
        manifest = {"signature": self.signature, "model": str(self.spec),
                    "width": int(tower.token_embedding.embedding_dim),
                    "heads": int(blocks[0].attn.num_heads), "layers": len(blocks),
                    "context_length": int(tok.context_length), "act": acts.pop(),
                    "eps": eps.pop(),
                    # What the relevance cut needs without torch (core/relevance.py).
                    "logit_scale": float(self._model.logit_scale.exp())}
        return manifest, tensors

    def export_text_tower(self, library: Path) -> str | None:
        """Export the text tower for :mod:`photoclip.core.textexport` into ``library``.

        Returns None when written (or already there for this model), else why not: an
        architecture or tokenizer the numpy tower does not implement, or an export whose
        probe embeddings did not match torch's. Those libraries keep searching with torch.
        """
        from photoclip.core import textexport

        manifest = textexport.read_manifest(library)
        if (manifest and manifest.get("format") == textexport.FORMAT
                and manifest.get("signature") == self.signature):
            return None
        self.load()
        open_clip = _open_clip()
        import torch

        got = self._text_tensors(torch)
        if isinstance(got, str):
            return got
        manifest, named = got

        def stored(name: str, t: Any) -> np.ndarray:
            # The big matrices in float16 halve the export (their rounding costs < 1e-5 of
            # cosine); vectors, positions and the projection stay float32.
            a = t.detach().float().cpu().numpy()
            big = name == "token_embedding" or (name.startswith("blocks.") and name.endswith("_w"))
            return a.astype(np.float16) if big else a

        tensors = {name: stored(name, t) for name, t in named.items()}
        vocab = Path(open_clip.tokenizer.default_bpe())
        library.mkdir(parents=True, exist_ok=True)
        folder = textexport.write_export(library, {**manifest, "probe": None}, tensors, vocab)
        exported = textexport.open_tower(library, self.signature)
        worst = -1.0
        if exported is not None:
            with self._text_lock:
                worst = self._tower_agreement(torch, exported)
        if worst < textexport.MIN_COSINE:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
            return f"the exported tower did not reproduce torch (worst cosine {worst:.5f})"
        meta = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        meta["probe"] = {"texts": len(textexport.PROBE_TEXTS), "worst_cosine": worst}
        (folder / "manifest.json").write_text(json.dumps(meta, indent=1))
        return None

    @property
    def logit_scale(self) -> float:
        self.load()
        return float(self._model.logit_scale.exp())


_init_lock = threading.Lock()


@contextlib.contextmanager
def _initialisation_skipped(torch: Any) -> Any:
    """``torch.nn.init``'s fills do nothing inside: for a model whose every parameter is
    about to be loaded. Buffers a model computes itself (attention masks) are untouched:
    they are not made by these functions. Process-wide while it lasts, so it is held only
    around building a model, one at a time."""
    import sys

    init = torch.nn.init
    fills = {id(f): f for n in dir(init) if n.endswith("_") and not n.startswith("_")
             and callable(f := getattr(init, n))}

    def keep(tensor: Any, *_args: Any, **_kwargs: Any) -> Any:
        return tensor

    with _init_lock:
        # The fills are looked up on torch.nn.init, and also bound by name where a module
        # imported them (torch's MultiheadAttention: xavier_uniform_), so both are swapped.
        saved: list[tuple[Any, str, Any]] = []
        homes = [m for name, m in list(sys.modules.items()) if m is not None
                 and name.split(".")[0] in ("torch", "open_clip", "timm", "transformers")]
        for module in homes:
            for attr, value in list(vars(module).items()):
                if id(value) in fills and fills[id(value)] is value:
                    saved.append((module, attr, value))
        try:
            for module, attr, _value in saved:
                setattr(module, attr, keep)
            yield
        finally:
            for module, attr, value in saved:
                setattr(module, attr, value)


def _text_tower(model: Any) -> Any | None:
    """The module holding a standard causal text transformer, or None.

    ``CLIP`` keeps the text parts on the model itself, ``CustomTextCLIP`` in ``.text``;
    either qualifies when it pools at the end token under a causal mask, with no class
    token or padding mask (what makes computing only the real tokens exact).
    """
    text = getattr(model, "text", None)
    if text is not None:
        ok = (getattr(text, "pool_type", None) == "argmax"
              and getattr(text, "cls_emb", 0) is None
              and not getattr(text, "use_pad_mask", True))
        tower = text
    else:
        ok = getattr(model, "text_pool_type", None) == "argmax"
        tower = model
    needed = ("token_embedding", "positional_embedding", "transformer", "ln_final",
              "text_projection")
    if not ok or getattr(tower, "attn_mask", None) is None or not all(
            hasattr(tower, n) for n in needed):
        return None
    return tower


def _torch_version() -> str | None:
    """torch's version without importing it (a status process never does)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("torch")
    except PackageNotFoundError:
        return None


def _when(at: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(at).strftime("%Y-%m-%d") if at else "earlier"


def _progress_tqdm(progress: DownloadProgress, message: str) -> type:
    """A tqdm subclass that forwards byte counts to ``progress`` and still draws on stderr."""
    from tqdm.auto import tqdm

    class _Forwarding(tqdm):  # type: ignore[misc, valid-type]
        def update(self, n: float | None = 1) -> bool | None:
            out = super().update(n)
            progress(message, int(self.n), int(self.total or 0))
            return out

    return _Forwarding


_NOT_APPLICABLE = " does not apply to this model"


def _reasons(rejected: list[str]) -> str:
    """Why each rung of the ladder was passed over, the rungs that do not apply to the
    model said once: "int8 and int8-mlp do not apply to this model", not twice over."""
    skipped = [r.removesuffix(_NOT_APPLICABLE) for r in rejected if r.endswith(_NOT_APPLICABLE)]
    said = [r for r in rejected if not r.endswith(_NOT_APPLICABLE)]
    if len(skipped) == 1:
        said.append(skipped[0] + _NOT_APPLICABLE)
    elif skipped:
        said.append(f"{', '.join(skipped[:-1])} and {skipped[-1]} do not apply to this model")
    return "; ".join(said)


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
