"""Zero-shot auto-tagging from label sets the user writes in plain words.

A label set is a TOML file::

    name = "scenes"
    labels = ["beach", "mountains", "city street"]
    templates = ["a photo of a {}", "a blurry photo of a {}"]   # optional
    threshold = 0.25                                            # optional
    top_k = 3                                                   # optional
    [prompts]
    beach = ["sand and sea"]                                    # optional, per label

Scoring. Each label's text embedding is the mean of its prompts' unit embeddings (prompt
ensembling), re-normalised. A photo's score for a label is a softmax at the model's own
logit scale over the set's labels *plus one neutral class* ("a photo", "a picture", …). The
softmax makes scores comparable between sets of different sizes and models (they are
probabilities that sum to at most 1 over a set); the neutral class lets "none of these"
win, so a screenshot is not forced to be a "beach" just because beach is the least bad
scene. A threshold therefore means the same thing in every set.

Learned labels (``[learned.LABEL]``: example photos by content, see core/concepts.py) are
scored from the examples instead of words, against the neutral class alone (see
:meth:`Scorer.scores`).

Everything works on stored image embeddings: re-tagging after an edit never decodes an
image, it is one matrix product (100,000 photos in well under a second).
"""

from __future__ import annotations

import logging
import re
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from photoclip.core import concepts
from photoclip.core.concepts import Example, Learned
from photoclip.core.errors import LabelSetError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

log = logging.getLogger(__name__)

# Our default prompt ensemble, used when a set gives no templates.
DEFAULT_TEMPLATES = (
    "a photo of a {}.",
    "a photo of the {}.",
    "a close-up photo of a {}.",
    "a blurry photo of a {}.",
    "a bright photo of a {}.",
    "a dark photo of a {}.",
    "a good photo of a {}.",
    "a picture of a {}.",
)
NEUTRAL_PROMPTS = ("a photo.", "a picture.", "an image.", "a photo of something.")
DEFAULT_THRESHOLD = 0.3
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")


@dataclass(frozen=True)
class LabelSet:
    name: str
    labels: tuple[str, ...]
    templates: tuple[str, ...] | None = None
    threshold: float = DEFAULT_THRESHOLD
    top_k: int | None = None
    prompts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    source: str = ""
    # Labels learned from photos: label -> its examples and negatives (core/concepts.py).
    learned: dict[str, Learned] = field(default_factory=dict)

    def prompts_for(self, label: str) -> list[str]:
        """The texts a label is described by. A learned label has only the prompts written
        for it: its name ("Rex") is a name, not a description."""
        if label in self.learned:
            return list(self.prompts.get(label, ()))
        templates = self.templates or DEFAULT_TEMPLATES
        return [t.format(label) for t in templates] + list(self.prompts.get(label, ()))

    def is_learned(self, label: str) -> bool:
        return label in self.learned

    def to_toml(self) -> str:
        def q(s: str) -> str:
            return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

        lines = [f"name = {q(self.name)}", "labels = [" + ", ".join(q(x) for x in self.labels)
                 + "]"]
        if self.templates:
            lines.append("templates = [" + ", ".join(q(t) for t in self.templates) + "]")
        lines.append(f"threshold = {self.threshold}")
        if self.top_k is not None:
            lines.append(f"top_k = {self.top_k}")
        if self.prompts:
            lines.append("\n[prompts]")
            lines += [f"{q(k)} = [" + ", ".join(q(p) for p in v) + "]"
                      for k, v in self.prompts.items()]
        for label, learned in self.learned.items():
            lines.append(f"\n[learned.{q(label)}]")
            for key, items in (("examples", learned.examples),
                               ("negatives", learned.negatives)):
                if not items and key == "negatives":
                    continue
                lines.append(f"{key} = [")
                # the layout tomlkit gives them when the app edits the file
                lines += [f"    {{content = {q(e.content)}, path = {q(e.path)}}},"
                          for e in items]
                lines.append("]")
        return "\n".join(lines) + "\n"


def _line_of(text: str, key: str) -> int:
    k = re.escape(key)
    for i, line in enumerate(text.splitlines(), 1):
        # key = …, "key" = …, or a table header naming it ([learned."key"])
        if re.match(rf'\s*"?{k}"?\s*=', line) or re.match(rf'\s*\[[^\]]*"?{k}"?\s*\]', line):
            return i
    return 1


def parse_label_set(text: str, filename: str = "<label set>") -> LabelSet:
    """Parse and validate; a LabelSetError names the file, the line and the reason."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        line = match.group(1) if match else "?"
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise LabelSetError(f"{filename}:{line}: {reason}") from exc

    def fail(key: str, reason: str) -> LabelSetError:
        return LabelSetError(f"{filename}:{_line_of(text, key)}: {reason}")

    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise fail("name", "'name' must be a short name (letters, digits, space, - _ .)")
    labels = data.get("labels")
    if (not isinstance(labels, list) or not labels
            or not all(isinstance(x, str) and x.strip() for x in labels)):
        raise fail("labels", "'labels' must be a non-empty list of words in quotes")
    labels = [x.strip() for x in labels]
    if len(set(labels)) != len(labels):
        raise fail("labels", "'labels' lists the same label twice")
    templates = data.get("templates")
    if templates is not None and (
            not isinstance(templates, list) or not templates
            or not all(isinstance(t, str) and t.count("{}") == 1 for t in templates)):
        raise fail("templates", "'templates' must be a list of texts, each with one {} "
                   "where the label goes")
    threshold = data.get("threshold", DEFAULT_THRESHOLD)
    if not isinstance(threshold, int | float) or isinstance(threshold, bool) or not (
            0.0 <= threshold <= 1.0):
        raise fail("threshold", "'threshold' must be a number between 0 and 1")
    top_k = data.get("top_k")
    if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool)
                              or top_k < 1):
        raise fail("top_k", "'top_k' must be a whole number of at least 1")
    prompts_raw = data.get("prompts", {})
    if not isinstance(prompts_raw, dict):
        raise fail("prompts", "[prompts] must be a table of label = [\"prompt\", …]")
    prompts: dict[str, tuple[str, ...]] = {}
    for label, extra in prompts_raw.items():
        if label not in labels:
            raise fail(label, f"[prompts] names {label!r}, which is not in 'labels'")
        if not isinstance(extra, list) or not all(isinstance(p, str) for p in extra):
            raise fail(label, f"prompts for {label!r} must be a list of texts")
        prompts[label] = tuple(extra)
    learned = _parse_learned(data.get("learned", {}), labels, fail)
    unknown = set(data) - {"name", "labels", "templates", "threshold", "top_k", "prompts",
                           "learned"}
    if unknown:
        key = sorted(unknown)[0]
        raise fail(key, f"unknown setting {key!r}")
    return LabelSet(name, tuple(labels), tuple(templates) if templates else None,
                    float(threshold), top_k, prompts, text, learned)


def _parse_learned(raw: Any, labels: list[str], fail: Any) -> dict[str, Learned]:
    """``[learned.LABEL]`` tables: ``examples`` (and ``negatives``), each a list of
    ``{ content = "size:hash", path = "…" }``."""
    if not isinstance(raw, dict):
        raise fail("learned", "[learned] must hold one table per learned label")
    out: dict[str, Learned] = {}
    for label, table in raw.items():
        if label not in labels:
            raise fail(label, f"[learned.{label}] names {label!r}, which is not in 'labels'")
        if not isinstance(table, dict):
            raise fail(label, f"[learned.{label}] must be a table with 'examples'")
        unknown = set(table) - {"examples", "negatives"}
        if unknown:
            raise fail(sorted(unknown)[0], f"[learned.{label}] has an unknown setting "
                       f"{sorted(unknown)[0]!r}")
        parts: dict[str, tuple[Example, ...]] = {}
        for key in ("examples", "negatives"):
            items = table.get(key, [])
            if not isinstance(items, list):
                raise fail(key, f"'{key}' of {label!r} must be a list of photos")
            found = []
            for item in items:
                content = item.get("content") if isinstance(item, dict) else None
                path = item.get("path", "") if isinstance(item, dict) else None
                if (not isinstance(content, str) or concepts.parse_content(content) is None
                        or not isinstance(path, str)):
                    raise fail(key, f"each of the {key} of {label!r} must be "
                               '{ content = "SIZE:HASH", path = "…" }')
                found.append(Example(content.strip(), path))
            parts[key] = tuple(found)
        if not parts["examples"]:
            raise fail(label, f"the learned label {label!r} needs at least one example photo")
        out[label] = Learned(parts["examples"], parts["negatives"])
    return out


def read_label_set(path: Path) -> LabelSet:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelSetError(f"{path}: cannot read: {exc}") from exc
    return parse_label_set(text, str(path))


@dataclass(frozen=True)
class Tag:
    label_set: str
    label: str
    score: float | None
    source: str          # "auto", "manual" or "rejected"

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "score": None if self.score is None
                else round(self.score, 4), "set": self.label_set, "source": self.source}


class PromptCache:
    """Prompt embeddings per model in the user cache folder, shared by every library.

    Embedding the default label sets' ~400 prompts is the one piece of tagging work that
    does not depend on the photos; a second library (or a library re-created from scratch)
    finds them here and pays nothing. A SQLite file, so several photoclip processes may
    share it; any failure to read or write it only means embedding again.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=5.0)
        db.execute("CREATE TABLE IF NOT EXISTS prompts(model TEXT NOT NULL, text TEXT NOT NULL, "
                   "vector BLOB NOT NULL, PRIMARY KEY (model, text))")
        return db

    def get(self, model: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
        if not self.path.is_file():
            return {}
        out: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(texts))
        try:
            db = self._connect()
            try:
                for start in range(0, len(unique), 900):
                    chunk = unique[start:start + 900]
                    marks = ",".join("?" * len(chunk))
                    for text, blob in db.execute(
                            f"SELECT text, vector FROM prompts WHERE model = ? AND text IN "
                            f"({marks})", [model, *chunk]):
                        out[text] = np.frombuffer(blob, dtype=np.float32).copy()
            finally:
                db.close()
        except (OSError, sqlite3.Error) as exc:
            log.info("prompt cache %s not readable: %s", self.path, exc)
        return out

    def put(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        try:
            db = self._connect()
            try:
                with db:
                    db.executemany("INSERT OR REPLACE INTO prompts(model, text, vector) "
                                   "VALUES(?, ?, ?)",
                                   [(model, t, np.asarray(v, np.float32).tobytes())
                                    for t, v in vectors.items()])
            finally:
                db.close()
        except (OSError, sqlite3.Error) as exc:
            log.info("prompt cache %s not writable: %s", self.path, exc)


class Scorer:
    """Label embeddings (cached per model) and the scoring matrix product.

    Prompt embeddings are looked up in memory, then in the library's catalog
    (``text_cache``), then in the user's :class:`PromptCache` (``shared``); only what none
    holds is embedded, and then kept in all three.
    """

    def __init__(self, embedder: Any, text_cache: Any = None,
                 shared: PromptCache | None = None,
                 concept_data: Callable[[Learned], concepts.ConceptData] | None = None
                 ) -> None:
        self.embedder = embedder
        self.text_cache = text_cache   # Catalog: persistent text embeddings per model
        self.shared = shared
        # Learned labels: the stored embeddings of a definition's photos and a library
        # sample (the Library provides them; without it learned labels tag nothing).
        self.concept_data = concept_data
        self._known: dict[str, np.ndarray] = {}
        self._concepts: dict[tuple, concepts.Concept | None] = {}
        self._lock = threading.Lock()

    def _lookup(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """What the caches already hold (no model work)."""
        model = self.embedder.signature
        with self._lock:
            todo = [t for t in dict.fromkeys(texts) if t not in self._known]
            if todo and self.text_cache is not None:
                self._known.update(self.text_cache.text_embeddings(model, todo))
                todo = [t for t in todo if t not in self._known]
            if todo and self.shared is not None:
                found = self.shared.get(model, todo)
                if found and self.text_cache is not None and not self.text_cache.readonly:
                    self.text_cache.store_text_embeddings(model, found)
                self._known.update(found)
            return {t: self._known[t] for t in texts if t in self._known}

    def missing(self, label_sets: Sequence[LabelSet]) -> list[str]:
        """Prompts of these sets that no cache holds: what tagging them would embed."""
        prompts = [p for ls in label_sets for g in self._groups(ls) for p in g]
        known = self._lookup(prompts)
        return [p for p in dict.fromkeys(prompts) if p not in known]

    def embed(self, texts: Sequence[str]) -> None:
        """Embed ``texts`` with the model and keep them in every cache."""
        if not texts:
            return
        model = self.embedder.signature
        fresh = dict(zip(texts, self.embedder.encode_texts(list(texts)), strict=True))
        if self.text_cache is not None and not self.text_cache.readonly:
            self.text_cache.store_text_embeddings(model, fresh)
        if self.shared is not None:
            self.shared.put(model, fresh)
        with self._lock:
            self._known.update(fresh)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        known = self._lookup(texts)
        todo = [t for t in dict.fromkeys(texts) if t not in known]
        if todo:
            self.embed(todo)
            known = self._lookup(texts)
        return np.stack([known[t] for t in texts])

    @staticmethod
    def _groups(label_set: LabelSet) -> list[list[str]]:
        return [*(label_set.prompts_for(label) for label in label_set.labels),
                list(NEUTRAL_PROMPTS)]

    def _ensemble(self, prompts: Sequence[Sequence[str]]) -> np.ndarray:
        """One unit vector per group of prompts; a zero row for an empty group (a learned
        label described by no words)."""
        flat = [p for group in prompts for p in group]
        vecs = self._encode(flat) if flat else None
        out, start = [], 0
        width = None if vecs is None else vecs.shape[1]
        for group in prompts:
            if not group:
                out.append(None)
                continue
            assert vecs is not None
            mean = vecs[start:start + len(group)].mean(0)
            out.append(mean / (np.linalg.norm(mean) + 1e-12))
            start += len(group)
        if width is None:   # nothing but empty groups cannot happen: the neutral class
            raise ValueError("no prompts to embed")
        return np.stack([v if v is not None else np.zeros(width, np.float32)
                         for v in out]).astype(np.float32)

    def neutral(self, encode: Any = None) -> np.ndarray:
        """The neutral class ("a photo.", …) as one unit vector: what any photo is.

        From the caches when they hold it; otherwise ``encode(texts)`` if given (a search
        process with the library's exported text tower), else the model.
        """
        prompts = list(NEUTRAL_PROMPTS)
        known = self._lookup(prompts)
        if len(known) == len(prompts):
            vecs = np.stack([known[t] for t in prompts])
        elif encode is not None:
            vecs = np.asarray(encode(prompts), dtype=np.float32)
        else:
            return self._ensemble([prompts])[0]
        mean = vecs.mean(0)
        return (mean / (np.linalg.norm(mean) + 1e-12)).astype(np.float32)

    def label_matrix(self, label_set: LabelSet) -> np.ndarray:
        """(labels + 1, D): each label's ensembled embedding, the neutral class last."""
        return self._ensemble(self._groups(label_set))

    def scores(self, label_set: LabelSet, image_vecs: np.ndarray) -> np.ndarray:
        """(N, labels) probabilities: softmax over the set's word labels and the neutral class.

        A learned label is scored against the neutral class alone: the softmax of its logit
        (the neutral class's plus its log-odds, core/concepts.py) and the neutral logit,
        which is ``sigmoid(log-odds)``. It is not in competition with the set's word labels:
        a personal label usually refines one of them ("Rex" is a "dog"), and sharing their
        softmax was measured to push its own photos down its ranking.
        """
        n = len(label_set.labels)
        if not len(image_vecs):
            return np.zeros((0, n), dtype=np.float32)
        logits = self.embedder.logit_scale * (image_vecs @ self.label_matrix(label_set).T)
        neutral = logits[:, -1].copy()
        learned: dict[int, np.ndarray] = {}
        for col, label in enumerate(label_set.labels):
            if label not in label_set.learned:
                continue
            concept = self.concept(label_set, label)
            if concept is None:   # nothing to learn from yet: never tagged
                learned[col] = np.zeros(len(image_vecs), np.float32)
            else:
                text = logits[:, col] - neutral if label_set.prompts.get(label) else None
                odds = np.clip(concept.log_odds(image_vecs, text), -60, 60)
                learned[col] = (1.0 / (1.0 + np.exp(-odds))).astype(np.float32)
            logits[:, col] = -np.inf
        logits -= logits.max(1, keepdims=True)
        e = np.exp(logits)
        probs = (e / e.sum(1, keepdims=True))[:, :-1]
        for col, p in learned.items():
            probs[:, col] = p
        return probs.astype(np.float32)

    def concept(self, label_set: LabelSet, label: str) -> concepts.Concept | None:
        """A learned label fitted on the library (cached until its definition, its prompts
        or the model change, or :meth:`forget_concepts`)."""
        learned = label_set.learned[label]
        prompts = tuple(label_set.prompts.get(label, ()))
        key = (self.embedder.signature, learned, prompts)
        with self._lock:
            if key in self._concepts:
                return self._concepts[key]
        if self.concept_data is None:
            return None
        data = self.concept_data(learned)
        if prompts and len(data.examples):
            text_vec = self._ensemble([list(prompts), list(NEUTRAL_PROMPTS)])
            scale = self.embedder.logit_scale

            def text_odds(vecs: np.ndarray) -> np.ndarray:
                if not len(vecs):
                    return np.zeros(0, np.float32)
                t = vecs @ text_vec.T
                return (scale * (t[:, 0] - t[:, 1])).astype(np.float32)

            data = concepts.ConceptData(data.examples, data.negatives, data.background,
                                        data.missing, (text_odds(data.examples),
                                                       text_odds(data.negatives),
                                                       text_odds(data.background)))
        fitted = concepts.fit(data)
        with self._lock:
            self._concepts[key] = fitted
        return fitted

    def forget_concepts(self) -> None:
        """Fit learned labels afresh on next use (the library they are calibrated on
        changed a lot: a whole re-tag)."""
        with self._lock:
            self._concepts.clear()


def choose_tags(label_set: LabelSet, ids: np.ndarray, scores: np.ndarray
                ) -> list[tuple[int, str, float]]:
    """(photo id, label, score) for each label over threshold, at most top_k per photo."""
    out = []
    k = label_set.top_k or len(label_set.labels)
    order = np.argsort(-scores, axis=1)[:, :k]
    for row, pid in enumerate(ids):
        for col in order[row]:
            s = float(scores[row, col])
            if s < label_set.threshold:
                break
            out.append((int(pid), label_set.labels[col], s))
    return out


def label_set_filename(name: str) -> str:
    """The file a set is saved as in the library: ``photo type`` -> ``photo-type.toml``."""
    return re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-.") + ".toml"


def default_label_set_files(resources: Path) -> Iterable[Path]:
    return sorted((resources / "labelsets").glob("*.toml"))
