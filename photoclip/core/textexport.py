"""The text tower without torch: an exported copy run by numpy, for quick searches.

``photoclip search`` as a process spends most of its time importing torch and open_clip
and building the model, to run a few milliseconds of text tower. When the library's model
has a standard CLIP text tower (a causal transformer pooled at the end token, GELU or
QuickGELU, OpenAI's BPE tokenizer), indexing exports that tower into the library
(``text-tower/``: a manifest, the BPE vocabulary and the weights, big matrices in float16)
and a search in a new process runs it here with numpy: our own BPE tokenizer and forward
pass, reading that folder through a memory map.

Trust: the export is written only after its embeddings of probe texts matched torch's
(cosine >= :data:`MIN_COSINE`); a reader uses it only when the manifest's model signature
is the library's model and its format is this code's. Anything else (no export, a stale
one, another tower) and the caller uses torch, as before.

No torch here, ever (this module is what keeps it out of a search process).
"""

from __future__ import annotations

import gzip
import html
import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

FORMAT = 1
FOLDER = "text-tower"
MIN_COSINE = 0.999
VOCAB_NAME = "bpe_simple_vocab_16e6.txt.gz"
PROBE_TEXTS = (
    "a photo of a dog.", "kids on a beach at sunset", "grandma's birthday cake",
    "a red circle", "snowy mountain lake, early morning", "Zürich café ☕ 2019",
    "a screenshot of a spreadsheet with numbers and a chart",
)


# -- tokenizer -----------------------------------------------------------------------------

@lru_cache
def _bytes_to_unicode() -> dict[int, str]:
    """OpenAI's reversible byte -> printable character map that the BPE vocabulary uses."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in chars), strict=True))


class BPETokenizer:
    """CLIP's byte-pair tokenizer (lower-cased, ftfy-cleaned), reading the vocabulary file
    open_clip ships. Gives the same ids as open_clip's ``SimpleTokenizer`` (tested)."""

    def __init__(self, vocab_path: Path, context_length: int = 77) -> None:
        import regex

        with gzip.open(vocab_path) as f:
            merges_text = f.read().decode("utf-8").split("\n")
        merges = [tuple(m.split()) for m in merges_text[1:49152 - 256 - 2 + 1]]
        vocab = list(_bytes_to_unicode().values())
        vocab += [v + "</w>" for v in vocab]
        vocab += ["".join(m) for m in merges]
        vocab += ["<start_of_text>", "<end_of_text>"]
        self.encoder = {token: i for i, token in enumerate(vocab)}
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.sot = self.encoder["<start_of_text>"]
        self.eot = self.encoder["<end_of_text>"]
        self.context_length = context_length
        self._cache: dict[str, list[str]] = {}
        self._pattern = regex.compile(
            r"<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|"
            r"[^\s\p{L}\p{N}]+", regex.IGNORECASE)
        self._byte_map = _bytes_to_unicode()

    def _bpe(self, token: str) -> list[str]:
        cached = self._cache.get(token)
        if cached is not None:
            return cached
        word = [*token[:-1], token[-1] + "</w>"]
        while len(word) > 1:
            pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
            best = min(pairs, key=lambda p: self.ranks.get(p, 1 << 30))
            if best not in self.ranks:
                break
            merged: list[str] = []
            i = 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        self._cache[token] = word
        return word

    @staticmethod
    def clean(text: str) -> str:
        import ftfy

        text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
        return " ".join(text.split()).strip().lower()

    def encode(self, text: str) -> list[int]:
        ids = []
        for token in self._pattern.findall(self.clean(text)):
            mapped = "".join(self._byte_map[b] for b in token.encode("utf-8"))
            ids.extend(self.encoder[piece] for piece in self._bpe(mapped))
        return ids

    def __call__(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids with start and end tokens, cut to the context length as open_clip does
        (the end token kept last), not padded."""
        out = []
        for text in texts:
            ids = [self.sot, *self.encode(text), self.eot]
            if len(ids) > self.context_length:
                ids = ids[:self.context_length]
                ids[-1] = self.eot
            out.append(ids)
        return out


# -- the tower -----------------------------------------------------------------------------

def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = np.square(x - mean).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to ~1e-7 (Abramowitz & Stegun 7.1.26), enough for float32 GELU; numpy has none."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (
        -1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x * np.float32(0.7071067811865476)))


def _quick_gelu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-1.702 * x))


class TextTower:
    """A CLIP text tower on numpy. Thread-safe (no mutable state).

    Weights are named as the export names them, matrices laid out (in, out); any float
    dtype (an export's float16 matrices are widened per use, which a one-query process
    pays once; an in-memory tower given float32 pays nothing).
    """

    def __init__(self, manifest: dict[str, Any], weights: dict[str, np.ndarray],
                 tokenizer: BPETokenizer) -> None:
        self.manifest = manifest
        self.signature: str = manifest["signature"]
        self.heads = int(manifest["heads"])
        self.layers = int(manifest["layers"])
        self.eps = float(manifest["eps"])
        self.logit_scale: float | None = manifest.get("logit_scale")
        self.act = _quick_gelu if manifest["act"] == "quick_gelu" else _gelu
        self._w = weights
        self.tokenizer = tokenizer

    @classmethod
    def from_folder(cls, folder: Path, manifest: dict[str, Any]) -> TextTower:
        """An export folder's tower, its weights read through a memory map."""
        blob = np.memmap(folder / "weights.bin", dtype=np.uint8, mode="r")
        weights: dict[str, np.ndarray] = {}
        for name, (dtype, shape, offset) in manifest["tensors"].items():
            count = int(np.prod(shape))
            size = count * np.dtype(dtype).itemsize
            weights[name] = blob[offset:offset + size].view(dtype).reshape(shape)
        return cls(manifest, weights,
                   BPETokenizer(folder / VOCAB_NAME, int(manifest["context_length"])))

    def _f32(self, name: str) -> np.ndarray:
        return np.asarray(self._w[name], dtype=np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Texts -> (N, D) unit vectors, float32; computes only each batch's real tokens."""
        ids = self.tokenizer(texts)
        length = max(len(t) for t in ids)
        tokens = np.zeros((len(ids), length), dtype=np.int64)
        for row, t in enumerate(ids):
            tokens[row, :len(t)] = t
        ends = np.array([len(t) - 1 for t in ids])
        x = np.asarray(self._w["token_embedding"][tokens], dtype=np.float32)
        x = x + self._f32("positional_embedding")[:length]
        n, seq, width = x.shape
        hd = width // self.heads
        mask = np.triu(np.full((seq, seq), -np.inf, dtype=np.float32), 1)
        scale = np.float32(1.0 / np.sqrt(hd))
        for i in range(self.layers):
            p = f"blocks.{i}."
            h = _layer_norm(x, self._f32(p + "ln_1.w"), self._f32(p + "ln_1.b"), self.eps)
            qkv = h @ self._f32(p + "attn.in_w") + self._f32(p + "attn.in_b")
            qkv = qkv.reshape(n, seq, 3, self.heads, hd).transpose(2, 0, 3, 1, 4)
            att = (qkv[0] * scale) @ qkv[1].transpose(0, 1, 3, 2) + mask
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            out = (att @ qkv[2]).transpose(0, 2, 1, 3).reshape(n, seq, width)
            x = x + out @ self._f32(p + "attn.out_w") + self._f32(p + "attn.out_b")
            h = _layer_norm(x, self._f32(p + "ln_2.w"), self._f32(p + "ln_2.b"), self.eps)
            h = self.act(h @ self._f32(p + "mlp.fc_w") + self._f32(p + "mlp.fc_b"))
            x = x + h @ self._f32(p + "mlp.proj_w") + self._f32(p + "mlp.proj_b")
        pooled = x[np.arange(n), ends]
        pooled = _layer_norm(pooled, self._f32("ln_final.w"), self._f32("ln_final.b"), self.eps)
        if "proj_w" in self._w:
            pooled = pooled @ self._f32("proj_w")
            if "proj_b" in self._w:
                pooled = pooled + self._f32("proj_b")
        pooled = pooled / np.maximum(np.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12)
        return pooled.astype(np.float32)


# -- files ---------------------------------------------------------------------------------

_open_lock = threading.Lock()


def read_manifest(library: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((library / FOLDER / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def open_tower(library: Path, signature: str) -> TextTower | None:
    """The library's exported tower if it is of ``signature`` and this format; else None."""
    manifest = read_manifest(library)
    if not manifest or manifest.get("format") != FORMAT or manifest.get("signature") != signature:
        return None
    try:
        with _open_lock:
            return TextTower.from_folder(library / FOLDER, manifest)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.info("exported text tower in %s not usable: %s", library, exc)
        return None


def write_export(library: Path, manifest: dict[str, Any], tensors: dict[str, np.ndarray],
                 vocab: Path) -> Path:
    """Write an export folder next to the old one, then swap it in.

    A reader sees the old folder, no folder, or the new one, never a half-written one
    (the manifest is the last file written, and the folder is renamed into place).
    """
    tmp = Path(tempfile.mkdtemp(dir=library, prefix=f".{FOLDER}-"))
    try:
        layout: dict[str, tuple[str, list[int], int]] = {}
        offset = 0
        with (tmp / "weights.bin").open("wb") as f:
            for name, array in tensors.items():
                array = np.ascontiguousarray(array)
                pad = (-offset) % 64   # aligned rows for the memory map
                f.write(b"\0" * pad)
                offset += pad
                layout[name] = (array.dtype.str, list(array.shape), offset)
                f.write(array.tobytes())
                offset += array.nbytes
        shutil.copyfile(vocab, tmp / VOCAB_NAME)
        (tmp / "manifest.json").write_text(json.dumps({**manifest, "format": FORMAT,
                                                       "tensors": layout}, indent=1))
        final = library / FOLDER
        old = library / f".{FOLDER}-old"
        if old.exists():
            shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
        return final
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
