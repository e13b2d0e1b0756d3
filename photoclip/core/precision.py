"""Which numeric precision the image tower runs in on this computer, and why.

The ladder (fastest first) is chosen per CPU class, then each rung is *checked* before it is
trusted: a faster path is used only if it reproduces the fp32 embeddings of the user's own
photos closely (worst cosine) and keeps the same nearest neighbours (top-10 agreement).

================  =====================================  ===================================
CPU class         what it has                            candidates, in order
================  =====================================  ===================================
``amx``           AMX bf16 tiles (Intel Xeon 4th gen+)   bf16, int8, int8-mlp
``avx512-bf16``   AVX512-BF16 (AMD Zen 4+, Cooper Lake)  bf16, int8, int8-mlp
``avx512-vnni``   AVX512 VNNI int8 dot products          int8, int8-mlp
``avx2``          AVX2 + FMA (most laptops/desktops)     int8, int8-mlp
``basic``         none of those                          (fp32 only)
================  =====================================  ===================================

bf16 is emulated (and several times *slower* than fp32) without bf16 units, which is why it
is never a candidate there; int8 (torch's dynamic quantization of every linear layer,
attention's projections too: core/int8.py) is faster than fp32 wherever AVX2 is, by how much
depends on the chip: 1.3-2× on AVX2-only Zen 3, only 1.05-1.14× on Zen 1, whose 256-bit
units are two 128-bit halves (measured side by side, ``benchmarks/bench_embed.py``).
``int8-mlp`` quantizes the MLP layers only: slower than int8, still faster than fp32, and
tried when a model's attention does not take int8 faithfully. A GPU (CUDA) tries bf16;
Apple's MPS stays in fp32.

So a faster path must also *be* faster: the trial times it against fp32 on the same batches,
and a path that is not (``MIN_SPEEDUP``) is rejected like an unfaithful one.

Verdicts are remembered per (model, CPU class, torch version) in the user cache, so the
check costs one batch once per model and machine, not at every start.

``PHOTOCLIP_CPU_CLASS`` overrides the detected class (benchmarks use it to run the ladder of
another class: the *choice* is emulated, the CPU's instructions are not).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

ENV_CPU_CLASS = "PHOTOCLIP_CPU_CLASS"
CPU_CLASSES = ("amx", "avx512-bf16", "avx512-vnni", "avx2", "basic")
PRECISIONS = ("fp32", "bf16", "int8", "int8-mlp")

# A path is faithful when the worst calibration image keeps this cosine to fp32...
MIN_COSINE = {"bf16": 0.999, "int8": 0.995, "int8-mlp": 0.995}
# ...and, on average, this share of each image's 10 nearest neighbours stays the same.
MIN_TOP10_AGREEMENT = 0.9
# ...and, timed against fp32 on the same batches, runs at least this much faster.
MIN_SPEEDUP = 1.0
# Photos the check looks at (the first ones indexed); fewer than this and generated
# images fill the rest.
CALIBRATION_IMAGES = 32
# Bump when the check, or what a precision builds, changes meaning: older verdicts are
# then measured again. 2: "int8" quantizes attention's projections too. 3: speed is checked.
CHECK_VERSION = 3

_CANDIDATES = {
    "amx": ("bf16", "int8", "int8-mlp"),
    "avx512-bf16": ("bf16", "int8", "int8-mlp"),
    "avx512-vnni": ("int8", "int8-mlp"),
    "avx2": ("int8", "int8-mlp"),
    "basic": (),
}


# What each class means to someone reading the About box.
_CLASS_WORDS = {
    "amx": "an Intel processor with AMX matrix units",
    "avx512-bf16": "a processor with AVX-512 bf16 instructions",
    "avx512-vnni": "a processor with AVX-512 int8 (VNNI) instructions",
    "avx2": "a processor with AVX2, without bf16 or int8 matrix instructions",
    "basic": "a processor without AVX2",
}


def describe_compute(device: str, klass: str | None) -> str:
    """Where the model runs, in words: "the graphics card (CUDA)", "a processor with …"."""
    if device == "cuda":
        return "the graphics card (CUDA)"
    if device == "mps":
        return "the Apple graphics processor (Metal)"
    return _CLASS_WORDS.get(klass or "", "this computer's processor")


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.split(":", 1)[1].split())
    return set()


def detected_cpu_class(torch_capability: str | None = None) -> str:
    """The CPU class from the instruction sets this CPU reports (no override).

    Linux reads /proc/cpuinfo. Elsewhere ``torch_capability`` (torch's own dispatch level,
    ``torch.backends.cpu.get_cpu_capability()``) tells AVX2 from AVX512; macOS on Apple
    silicon is ``basic`` (no x86 extensions; its GPU path is MPS).
    """
    flags = _cpu_flags()
    if flags:
        if "amx_bf16" in flags:
            return "amx"
        if "avx512_bf16" in flags:
            return "avx512-bf16"
        if "avx512_vnni" in flags:
            return "avx512-vnni"
        if "avx2" in flags and "fma" in flags:
            return "avx2"
        return "basic"
    cap = (torch_capability or "").upper()
    if cap.startswith("AVX512"):
        return "avx512-vnni"
    if cap == "AVX2" or (not cap and platform.machine().lower() in ("x86_64", "amd64")):
        return "avx2"
    return "basic"


def cpu_class(torch_capability: str | None = None) -> str:
    """The class the ladder uses: ``PHOTOCLIP_CPU_CLASS`` if set to a known class, else
    :func:`detected_cpu_class`."""
    forced = os.environ.get(ENV_CPU_CLASS, "").strip().lower()
    if forced in CPU_CLASSES:
        return forced
    return detected_cpu_class(torch_capability)


def candidates(device: str, klass: str) -> tuple[str, ...]:
    """Faster-than-fp32 paths worth checking, best first."""
    if device == "cuda":
        return ("bf16",)
    if device != "cpu":
        return ()   # MPS: bf16 support varies by OS release; fp32 is the safe choice
    return _CANDIDATES.get(klass, ())


@dataclass
class Check:
    """How closely a faster path reproduces fp32 on a calibration batch."""

    precision: str
    worst_cosine: float
    mean_cosine: float
    top10_agreement: float
    images: int           # calibration images
    own_photos: int       # of which the user's photos (the rest generated)
    accepted: bool
    at: float = 0.0       # when it was measured (POSIX seconds)
    # fp32's time over this path's on the same images (None: not timed, e.g. as asked)
    speedup: float | None = None

    @property
    def faithful(self) -> bool:
        return (self.worst_cosine >= MIN_COSINE.get(self.precision, 1.0)
                and self.top10_agreement >= MIN_TOP10_AGREEMENT)

    @property
    def fast(self) -> bool:
        return self.speedup is None or self.speedup >= MIN_SPEEDUP

    def describe(self) -> str:
        source = (f"{self.own_photos} of your photos" if self.own_photos == self.images else
                  f"{self.own_photos} of your photos and {self.images - self.own_photos} "
                  "generated images" if self.own_photos else f"{self.images} generated images")
        verdict = "faithful" if self.faithful else "not faithful enough"
        text = (f"{self.precision} {verdict} on {source}: worst cosine to fp32 "
                f"{self.worst_cosine:.4f} (needs {MIN_COSINE.get(self.precision, 1):.3f}), "
                f"top-10 neighbours {self.top10_agreement:.0%} the same "
                f"(needs {MIN_TOP10_AGREEMENT:.0%})")
        if self.speedup is None:
            return text
        if self.fast:
            return f"{text}; {self.speedup:.2f}× fp32's speed here"
        return (f"{text}; {'but' if self.faithful else 'and'} not faster than fp32 here "
                f"({self.speedup:.2f}× its speed)")


def top_k_agreement(ref: np.ndarray, got: np.ndarray, k: int = 10) -> float:
    """Mean share of each row's k nearest other rows (by cosine) that both sets agree on."""
    n = len(ref)
    k = min(k, n - 1)
    if k <= 0:
        return 1.0

    def neighbours(v: np.ndarray) -> np.ndarray:
        sims = v @ v.T
        np.fill_diagonal(sims, -np.inf)
        return np.argsort(-sims, axis=1, kind="stable")[:, :k]

    a, b = neighbours(ref), neighbours(got)
    return float(np.mean([len(set(a[i]) & set(b[i])) / k for i in range(n)]))


def judge(precision: str, ref: np.ndarray, got: np.ndarray, own_photos: int,
          speedup: float | None = None) -> Check:
    """Compare unit vectors of the same images (fp32 ``ref``, candidate ``got``), and the
    candidate's speed where it was timed against fp32 (``speedup``)."""
    cos = np.sum(ref * got, axis=1)
    check = Check(precision, float(cos.min()), float(cos.mean()), top_k_agreement(ref, got),
                  len(ref), own_photos, False, time.time(), speedup)
    check.accepted = check.faithful and check.fast
    return check


class VerdictCache:
    """Checks remembered per (model signature, CPU class, torch version, precision).

    A JSON file in the user cache folder; a missing, unreadable or damaged file only
    means checking again.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @staticmethod
    def key(signature: str, klass: str, torch_version: str, precision: str) -> str:
        raw = f"{CHECK_VERSION}|{signature}|{klass}|{torch_version}|{precision}"
        return hashlib.blake2b(raw.encode(), digest_size=10).hexdigest()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, key: str) -> Check | None:
        entry = self._read().get(key)
        if not isinstance(entry, dict):
            return None
        try:
            return Check(**entry)
        except TypeError:
            return None

    def put(self, key: str, check: Check) -> None:
        data = self._read()
        data[key] = asdict(check)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".verdicts-")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1)
            os.replace(tmp, self.path)
        except OSError as exc:   # a read-only cache only costs a check next time
            log.info("could not remember the precision check in %s: %s", self.path, exc)
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(tmp)
