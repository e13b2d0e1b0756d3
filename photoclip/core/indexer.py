"""The indexing pipeline: pending photos -> decode pool -> batches -> model -> commit.

Decoding (JPEG draft + resize + crop to uint8) runs in a bounded thread pool a few batches ahead
of the model; Pillow and numpy release the GIL for the heavy parts, so decode overlaps
with torch. While torch is first imported, though, the importing thread holds the GIL
nearly all the time, so the photos decoded meanwhile are decoded in a helper process
(:class:`_EarlyDecoding`). One consumer thread (the caller's) runs the model and commits
each batch in one catalog transaction, then adds it to the vector index. A SIGKILL at any
moment keeps every committed batch; the next run picks up the photos that still have no
embedding.

Progress and cancel work without Qt (DESIGN.md rule 4): a callback receives
:class:`IndexProgress` after each batch, a ``threading.Event`` cancels, another pauses.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from photoclip.core.catalog import Catalog, Photo, PhotoMetadata
from photoclip.core.embedder import DownloadProgress, Embedder, Preprocessor
from photoclip.core.errors import ImageDecodeError, LibraryError, PhotoclipError
from photoclip.core.images import decoders, open_photo
from photoclip.core.vectors import VectorIndex

log = logging.getLogger(__name__)


@dataclass
class IndexProgress:
    phase: str                 # "scan", "load-model", "embed", "done"
    done: int = 0
    total: int = 0
    failed: int = 0
    rate: float = 0.0          # photos per second over the run so far
    eta: float | None = None   # seconds
    message: str = ""


@dataclass
class IndexSummary:
    embedded: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)   # (path, reason)
    seconds: float = 0.0
    cancelled: bool = False
    embedded_ids: list[int] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)   # did not stop the run

    @property
    def rate(self) -> float:
        return self.embedded / self.seconds if self.seconds > 0 else 0.0


ProgressCallback = Callable[[IndexProgress], None]
# Called with the ids of each committed batch (auto-tagging hooks in here).
BatchHook = Callable[[list[int]], None]


@dataclass
class _Decoded:
    photo: Photo
    pixels: np.ndarray | None
    meta: PhotoMetadata | None
    error: str | None
    seconds: float


def _decode(photo: Photo, pre: Preprocessor) -> _Decoded:
    t0 = time.perf_counter()
    try:
        decoded = open_photo(photo.path, pre.min_side)
        pixels = pre(decoded.image)
        meta = PhotoMetadata(decoded.width, decoded.height, decoded.taken_at, decoded.camera,
                             decoded.orientation)
        return _Decoded(photo, pixels, meta, None, time.perf_counter() - t0)
    except ImageDecodeError as exc:
        return _Decoded(photo, None, None, f"{exc.kind}: {exc.reason}", time.perf_counter() - t0)
    except MemoryError:
        return _Decoded(photo, None, None, "too large: not enough memory to decode it",
                        time.perf_counter() - t0)
    except Exception as exc:  # a decoder bug on one file must not stop the library
        log.exception("unexpected error decoding %s", photo.path)
        return _Decoded(photo, None, None, f"unexpected error: {exc}", time.perf_counter() - t0)


def _decode_when(gate: threading.Event, photo: Photo, pre: Preprocessor) -> _Decoded:
    """A decode on a thread, held while ``gate`` is clear (the first batch runs)."""
    gate.wait()
    return _decode(photo, pre)


def _collect(photo: Photo, fut: Future[_Decoded], pre: Preprocessor,
             failures: list[str]) -> _Decoded:
    """A decode's result. ``_decode`` never raises, so an exception here is the helper
    process failing (killed, or it could not start): the photo is decoded here instead,
    and the first such failure of a run is logged (in ``failures``)."""
    try:
        return fut.result()
    except Exception as exc:
        if not failures:
            log.info("the photos left to the helper process are decoded here: it failed "
                     "(%s)", exc or type(exc).__name__)
        failures.append(photo.path)
        return _decode(photo, pre)


# Which pool decodes the photos while the model loads: "auto" (a helper process while
# torch is still to be imported, else a thread), "process" or "thread". For benchmarks and
# tests; users have no reason to set it.
ENV_EARLY_DECODE = "PHOTOCLIP_EARLY_DECODE"
Pending = deque[tuple[Photo, "Future[_Decoded]"]]


class _EarlyDecoding:
    """Decodes the first photos while the model loads.

    Importing torch and open_clip takes seconds of one core (3-8 s on the 2-core machines
    measured) and holds the GIL nearly throughout: a decode *thread* beside it got through
    25 photos in a 4.5 s import, a helper *process* through 70, and the import took no
    longer. So while torch is still to be imported the decoding goes to one spawned process
    (a fresh interpreter with PIL and numpy only: forking a process that may run Qt is not
    safe), which stops once the model is ready, so the first batch has both cores. Where
    torch is imported already the load is short and a thread does, held while the first
    batch runs. A helper that cannot start or dies costs only time: its photos are decoded
    in this process (:func:`_collect`).
    """

    def __init__(self, gate: threading.Event) -> None:
        self.gate = gate
        mode = os.environ.get(ENV_EARLY_DECODE, "auto").strip().lower()
        if mode not in ("process", "thread"):
            mode = "process" if ("torch" not in sys.modules
                                 and (os.cpu_count() or 1) > 1) else "thread"
        self.threads = ThreadPoolExecutor(1, thread_name_prefix="photoclip-early")
        self.process: ProcessPoolExecutor | None = None
        if mode == "process":
            try:
                self.process = ProcessPoolExecutor(
                    1, mp_context=multiprocessing.get_context("spawn"))
            except Exception as exc:   # no multiprocessing on this platform or build
                log.info("decoding the first photos on a thread: %s", exc)

    def submit(self, photo: Photo, pre: Preprocessor) -> Future[_Decoded]:
        if self.process is not None:
            try:
                return self.process.submit(_decode, photo, pre)
            except Exception as exc:   # the helper could not be started
                log.info("decoding the first photos on a thread: %s", exc)
                self.process.shutdown(wait=False, cancel_futures=True)
                self.process = None
        return self.threads.submit(_decode_when, self.gate, photo, pre)

    def model_ready(self, pending: Pending) -> list[Photo]:
        """The helper stops: photos it has not begun go back to the queue (returned, in
        order); what it has begun or finished stays in ``pending``."""
        if self.process is None:
            return []
        kept = [(photo, fut) for photo, fut in pending if not fut.cancel()]
        redo = [photo for photo, fut in pending if fut.cancelled()]
        pending.clear()
        pending.extend(kept)
        decoded = sum(1 for _, fut in kept if fut.done())
        log.info("%d photos decoded by a helper process while the model loaded", decoded)
        self.process.shutdown(wait=False)
        return redo

    def close(self, pending: Pending) -> None:
        for _, fut in pending:
            fut.cancel()
        if self.process is not None:
            self.process.shutdown(wait=True, cancel_futures=True)
        self.threads.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> _EarlyDecoding:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.shutdown(wait=True)
        self.threads.shutdown(wait=True)


# The first batch is small so the first photos are searchable seconds after the model is
# ready; full batches follow (they keep the model's matrices large enough to run fast).
FIRST_BATCH = 8
# Decoded while the model loads: about 50 MB of pixels (256 photos of a 256-pixel model).
EARLY_DECODE_BYTES = 50 * 2**20
def _note_once(summary: IndexSummary, message: str) -> None:
    if message not in summary.warnings:
        summary.warnings.append(message)
        log.info("%s", message)


def default_decode_threads() -> int:
    return max(1, min(8, (os.cpu_count() or 2)))


class Indexer:
    def __init__(self, catalog: Catalog, embedder: Embedder, vectors: VectorIndex, *,
                 batch_size: int = 32, decode_threads: int | None = None,
                 prefetch_batches: int = 3, save_every: float = 30.0) -> None:
        self.catalog = catalog
        self.embedder = embedder
        self.vectors = vectors
        self.batch_size = batch_size
        self.decode_threads = decode_threads or default_decode_threads()
        self.prefetch_batches = prefetch_batches
        self.save_every = save_every
        self.batch_hooks: list[BatchHook] = []

    def run(self, photos: Sequence[Photo] | None = None, *,
            progress: ProgressCallback | None = None,
            cancel: threading.Event | None = None,
            pause: threading.Event | None = None,
            download: DownloadProgress | None = None) -> IndexSummary:
        """Embed ``photos`` (default: everything pending) and commit as we go.

        The model is loaded only when there is something to embed, so a run over an
        unchanged library never pays for importing torch.
        """
        cancel = cancel or threading.Event()
        model = self.embedder.signature
        todo = list(photos) if photos is not None else self.catalog.photos_missing_embedding(model)
        summary = IndexSummary()
        t_start = time.perf_counter()
        if not todo:
            summary.seconds = time.perf_counter() - t_start
            return summary
        if progress:
            progress(IndexProgress("load-model", 0, len(todo), message=f"loading {model}"))
        queue: Iterator[Photo] = iter(todo)
        pending: Pending = deque()
        stages = {"decode": 0.0, "model": 0.0, "commit": 0.0, "tag": 0.0, "wait": 0.0}
        decoder = decoders()   # registers the HEIC plugin before any photo is decoded
        early = None if self.embedder.loaded else self.embedder.early_preprocessor()
        decode_gate = threading.Event()
        decode_gate.set()
        with _EarlyDecoding(decode_gate) as early_pool:
            if early is not None:
                # Importing torch and loading the weights keep one core busy for seconds;
                # the first photos are decoded on another meanwhile, so the first batches
                # are ready the moment the model is.
                per_photo = early.size[0] * early.size[1] * 3
                for photo in itertools.islice(queue, max(1, EARLY_DECODE_BYTES // per_photo)):
                    pending.append((photo, early_pool.submit(photo, early)))
            try:
                self.embedder.load(progress=download)
            except BaseException:
                early_pool.close(pending)
                raise
            pre = self.embedder.preprocessor()
            if early is not None and early != pre:
                # The guess was wrong (a changed model folder): decode those again.
                log.info("decoding the first photos again: the model resizes differently")
                redo = [photo for photo, _ in pending]
                early_pool.close(pending)
                pending.clear()
                queue = itertools.chain(redo, queue)
            elif early is not None:
                queue = itertools.chain(early_pool.model_ready(pending), queue)
            done = self._run_batches(todo, queue, pending, pre, decoder, summary, stages,
                                     progress, cancel, pause, t_start, decode_gate)
        self._save_vectors(summary)
        if not summary.cancelled:
            self.embedder.finish_check()   # a small library still gets its verdict
        summary.seconds = time.perf_counter() - t_start
        summary.stage_seconds = stages
        if progress:
            progress(IndexProgress("done", done, len(todo), len(summary.failed), summary.rate, 0))
        return summary

    def _run_batches(self, todo: Sequence[Photo], queue: Iterator[Photo],
                     pending: Pending, pre: Preprocessor, decoder: str,
                     summary: IndexSummary, stages: dict[str, float],
                     progress: ProgressCallback | None, cancel: threading.Event,
                     pause: threading.Event | None, t_start: float,
                     decode_gate: threading.Event) -> int:
        """Decode, embed and commit batch after batch; returns the photos gone through."""
        model = self.embedder.signature
        last_save = time.monotonic()
        done = 0
        helper_failures: list[str] = []

        with ThreadPoolExecutor(self.decode_threads, thread_name_prefix="photoclip-decode") as pool:
            ahead = self.batch_size * self.prefetch_batches

            def fill() -> None:
                while len(pending) < ahead:
                    photo = next(queue, None)
                    if photo is None:
                        return
                    pending.append((photo, pool.submit(_decode_when, decode_gate, photo, pre)))

            fill()
            while pending:
                if pause is not None:
                    while pause.is_set() and not cancel.is_set():
                        time.sleep(0.05)
                if cancel.is_set():
                    summary.cancelled = True
                    for _, fut in pending:
                        fut.cancel()
                    break
                batch: list[_Decoded] = []
                t0 = time.perf_counter()
                size = self.batch_size if done else min(self.batch_size, FIRST_BATCH)
                while pending and len(batch) < size:
                    batch.append(_collect(*pending.popleft(), pre, helper_failures))
                    fill()
                stages["wait"] += time.perf_counter() - t0
                stages["decode"] += sum(d.seconds for d in batch)
                ok = [d for d in batch if d.pixels is not None]
                bad = [d for d in batch if d.pixels is None]
                vecs = np.empty((0, 0), dtype=np.float32)
                if ok:
                    t0 = time.perf_counter()
                    if not done:
                        # The first batch gets every core: no decode begins beside it, which
                        # only made the first photos searchable later (bf16 CPU, batch of 8:
                        # 1.0 s beside the early thread, 0.56 s alone; AVX2-only Zen 1:
                        # 2.8 s beside the decode threads, 1.4 s alone).
                        decode_gate.clear()
                    try:
                        vecs = self.embedder.encode_images(np.stack([d.pixels for d in ok]))
                    finally:
                        decode_gate.set()
                    stages["model"] += time.perf_counter() - t0
                t0 = time.perf_counter()
                seq = self.catalog.commit_embeddings(
                    model,
                    [(d.photo.id, v, d.meta) for d, v in zip(ok, vecs, strict=True)],  # type: ignore[misc]
                    [(d.photo.id, d.error or "unreadable") for d in bad], decoder)
                ids = [d.photo.id for d in ok]
                if ok:
                    self.vectors.add(np.asarray(ids, dtype=np.int64), vecs, seq)
                stages["commit"] += time.perf_counter() - t0
                t0 = time.perf_counter()
                for hook in self.batch_hooks:
                    try:
                        hook(ids)
                    except LibraryError:
                        raise  # the catalog cannot be written: the next commit would fail
                    except PhotoclipError as exc:
                        _note_once(summary, f"tagging new photos: {exc}")
                    except Exception:
                        log.exception("batch hook failed")
                stages["tag"] += time.perf_counter() - t0
                summary.embedded += len(ok)
                summary.embedded_ids += ids
                summary.failed += [(d.photo.path, d.error or "") for d in bad]
                for d in bad:
                    log.info("skipped %s: %s", d.photo.path, d.error)
                done += len(batch)
                if time.monotonic() - last_save > self.save_every:
                    self._save_vectors(summary)
                    last_save = time.monotonic()
                if progress:
                    elapsed = time.perf_counter() - t_start
                    rate = done / elapsed if elapsed > 0 else 0.0
                    eta = (len(todo) - done) / rate if rate > 0 else None
                    progress(IndexProgress("embed", done, len(todo), len(summary.failed), rate,
                                           eta, batch[-1].photo.path))
        return done

    def _save_vectors(self, summary: IndexSummary) -> None:
        """The index file is a cache: failing to save it (disk full) must not stop a run
        whose every batch is safe in the catalog."""
        try:
            self.vectors.save()
        except PhotoclipError as exc:
            _note_once(summary, f"{exc}; the search index is rebuilt from the catalog "
                                "next time")
