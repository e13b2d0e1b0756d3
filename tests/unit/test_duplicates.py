"""Near-duplicate search on drawn photos, their copies and bursts, with the small model."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photoclip.core import Library
from photoclip.core.catalog import PhotoMetadata
from photoclip.core.duplicates import (
    CONTENT_MATCH,
    DuplicateProgress,
    complete_linkage,
    content_signature,
    default_threshold,
    same_picture,
    suggest_keep,
)
from photoclip.core.images import open_photo
from tests.dupes import burst_frames, draw_duplicate_library, save_burst


def _index(library: Library, folder: Path) -> None:
    library.add_root(folder)
    run = library.index()
    assert not run.index.failed


def _check_groups(library: Library, report) -> None:
    """Every pair in every group is above the threshold and confirmed (complete linkage)."""
    model = library.embedder.signature
    for g in report.groups:
        ids = [p.id for p in g.photos]
        _, vecs = library.catalog.all_embeddings(model, ids)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        sims = vecs @ vecs.T
        assert sims[np.triu_indices(len(ids), 1)].min() >= report.threshold - 1e-3
        assert g.similarity >= report.threshold


def test_copies_are_grouped_and_lookalikes_never_mixed(library: Library, tmp_path: Path
                                                       ) -> None:
    drawn = draw_duplicate_library(tmp_path / "photos")
    _index(library, tmp_path / "photos")
    seen: list[DuplicateProgress] = []
    report = library.find_duplicates(progress=seen.append)
    assert not report.cancelled
    family = drawn.family_of()
    groups = [sorted(p.path for p in g.photos) for g in report.groups]
    # No group mixes two different photos (look-alike twins included), and no single.
    for g in groups:
        assert len({family.get(p, p) for p in g}) == 1, g
    # Every family is found whole: the original with its re-encoded, resized, cropped copy.
    expected = [sorted(str(p) for p in fam) for fam in drawn.families]
    for fam in expected:
        assert fam in groups, f"not grouped: {fam}"
    # Copies are "copies"; the burst is found by camera and time and called a burst.
    burst = sorted(str(p) for p in drawn.bursts[0])
    assert burst in groups
    kinds = {tuple(sorted(p.path for p in g.photos)): g.kind for g in report.groups}
    assert kinds[tuple(burst)] == "burst"
    assert all(kinds[tuple(f)] == "copies" for f in expected)
    assert len(groups) == len(expected) + 1
    _check_groups(library, report)
    # The suggested keeper is the full-size original (resolution, then file size).
    for g in report.groups:
        if g.kind == "copies":
            assert "/camera/" in g.keep.path
    assert {p.phase for p in seen} >= {"neighbours", "compare", "group"}
    assert report.signatures_computed > 0
    # The look-alikes are real traps: by embeddings alone they do share groups.
    assert report.candidate_pairs > report.confirmed_pairs
    loose = library.find_duplicates(confirm=False)
    assert any(len({family.get(p.path, p.path) for p in g.photos}) > 1 for g in loose.groups)


def test_two_photos_of_one_layout_and_different_shapes_are_not_copies(
        library: Library, tmp_path: Path) -> None:
    import random

    from tests.models.shapes import draw

    # Two drawings of a red ball on yellow, 3:2 and 4:3: their square grey thumbnails
    # correlate like copies (the demo library had such a pair, and the review offered to
    # trash one of them).
    folder = tmp_path / "photos"
    folder.mkdir()
    draw("circle", "red", "yellow", random.Random(4), (1800, 1200)).save(folder / "a.jpg")
    draw("circle", "red", "yellow", random.Random(104), (1600, 1200)).save(folder / "b.jpg")
    assert same_picture(content_signature(str(folder / "a.jpg")),
                        content_signature(str(folder / "b.jpg")))
    _index(library, folder)
    report = library.find_duplicates()
    assert report.candidate_pairs == 1   # the model cannot tell them apart either
    assert report.groups == []
    # The same picture at another size is still a copy.
    img = Image.open(folder / "a.jpg")
    img.resize((900, 600)).save(folder / "a-small.jpg")
    library.index()
    groups = [sorted(p.path for p in g.photos) for g in library.find_duplicates().groups]
    assert groups == [[str(folder / "a-small.jpg"), str(folder / "a.jpg")]]


def test_signatures_are_stored_and_reused(library: Library, tmp_path: Path) -> None:
    draw_duplicate_library(tmp_path / "photos", families=3, lookalikes=1, singles=2)
    _index(library, tmp_path / "photos")
    first = library.find_duplicates()
    assert first.signatures_computed > 0
    # The second search decodes nothing: a decode would fail on these unreadable files.
    for p in (tmp_path / "photos").rglob("*.*"):
        p.chmod(0)
    try:
        second = library.find_duplicates()
    finally:
        for p in (tmp_path / "photos").rglob("*.*"):
            p.chmod(0o644)
    assert second.signatures_computed == 0
    assert not second.unreadable
    assert [[p.id for p in g.photos] for g in second.groups] == \
        [[p.id for p in g.photos] for g in first.groups]


def test_burst_needs_same_camera_and_moment(library: Library, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    same = save_burst(photos / "a", "same", burst_frames(4, "green", "purple"),
                      "Canon EOS R6")
    # The same kind of sequence, but no date, or a minute apart, or two cameras.
    save_burst(photos / "b", "nodate", burst_frames(3, "yellow", "black"), None)
    save_burst(photos / "c", "slow", burst_frames(3, "red", "white"), "Canon EOS R6",
               spacing=60)
    for camera, frame in zip(("Nikon Z6", "Sony A7"), burst_frames(2, "blue", "orange"),
                             strict=True):
        save_burst(photos / "d", camera.split()[0], [frame], camera)
    # The frames are different pictures: only camera + time can join them.
    sigs = [content_signature(str(p)) for p in same]
    assert not any(same_picture(a, b) for a, b in itertools.combinations(sigs, 2))
    _index(library, photos)
    assert open_photo(same[0]).camera == "Canon EOS R6"
    report = library.find_duplicates()
    groups = [sorted(p.path for p in g.photos) for g in report.groups]
    assert groups == [sorted(str(p) for p in same)]
    # A window shorter than the frames' spacing leaves nothing.
    assert library.find_duplicates(burst_seconds=0.5).groups == []
    # Without confirmation the embeddings alone join the other sequences' frames too.
    loose = library.find_duplicates(confirm=False)
    loose_groups = [sorted(p.path for p in g.photos) for g in loose.groups]
    for name in ("b/nodate", "c/slow"):
        assert sorted(str(photos / f"{name}-{i}.jpg") for i in range(3)) in loose_groups
    assert all(g.kind == "similar" for g in loose.groups)


def test_export_with_the_originals_exif_is_a_copy(library: Library, tmp_path: Path) -> None:
    # A smaller export that kept the camera and capture time is the same moment, but it is
    # a copy of one frame, not a burst: the review must say so.
    photos = tmp_path / "photos"
    frame = burst_frames(1, "green", "purple")[0]
    [original] = save_burst(photos, "frame", [frame], "Canon EOS R6")
    small = photos / "frame-small.jpg"
    with Image.open(original) as img:
        img.resize((img.width // 2, img.height // 2)).save(small, quality=85,
                                                           exif=img.getexif())
    _index(library, photos)
    [group] = library.find_duplicates().groups
    assert sorted(p.path for p in group.photos) == sorted([str(original), str(small)])
    assert group.kind == "copies"
    assert group.keep.path == str(original)


def test_complete_linkage_never_chains() -> None:
    # a-b and b-c are close, a-c is not: a chain, never one group.
    links = {(1, 2): 0.97, (2, 3): 0.96, (1, 3): 0.90}
    groups = complete_linkage([1, 2, 3], links, 0.95)
    assert groups == [([1, 2], 0.97)]
    # A clique merges at its weakest pair.
    links = {(1, 2): 0.99, (1, 3): 0.97, (2, 3): 0.96, (3, 4): 0.99}
    groups = complete_linkage([1, 2, 3, 4], links, 0.95)
    assert sorted(sorted(g) for g, _ in groups) == [[1, 2], [3, 4]]
    groups = complete_linkage([1, 2, 3], {(1, 2): 0.99, (1, 3): 0.97, (2, 3): 0.96}, 0.95)
    assert groups == [([1, 2, 3], 0.96)]


def _store_vectors(library: Library, tmp_path: Path, vecs: np.ndarray) -> list[int]:
    root = library.add_root(tmp_path)
    with library.catalog.transaction() as db:
        ids = [library.catalog.insert_photo(db, root.id, f"{tmp_path}/v{i}.jpg", 1000 + i,
                                            0.0, f"h{i}") for i in range(len(vecs))]
    library.catalog.commit_embeddings(library.embedder.signature, [
        (pid, v, PhotoMetadata(100, 100)) for pid, v in zip(ids, vecs, strict=True)])
    return ids


def test_a_drifting_chain_is_split_in_the_library(library: Library, tmp_path: Path) -> None:
    # Six stored vectors turning 11 degrees per step: neighbours at cos 0.98, two steps
    # apart 0.93. Single linkage would make one group of six.
    rng = np.random.default_rng(0)
    base = rng.normal(size=(2, 64))
    u = base[0] / np.linalg.norm(base[0])
    v = base[1] - (base[1] @ u) * u
    v /= np.linalg.norm(v)
    angles = np.radians(11.0) * np.arange(6)
    chain = np.cos(angles)[:, None] * u + np.sin(angles)[:, None] * v
    noise = rng.normal(size=(30, 64))  # unrelated photos around them
    ids = _store_vectors(library, tmp_path, np.vstack([chain, noise]).astype(np.float32))
    report = library.find_duplicates(threshold=0.95, confirm=False)
    groups = [sorted(p.id for p in g.photos) for g in report.groups]
    assert groups, "the chain's neighbours are near-duplicates"
    for g in groups:
        assert max(g) - min(g) <= 1, g  # only neighbours in the chain
        assert set(g) <= set(ids[:6])
    assert report.candidate_pairs == 5


def test_large_group_is_found_whole(library: Library, tmp_path: Path) -> None:
    # 40 copies of one photo (more than the first k-NN round asks for) and 200 others.
    rng = np.random.default_rng(1)
    one = rng.normal(size=64)
    copies = one + rng.normal(scale=0.02, size=(40, 64))
    others = rng.normal(size=(200, 64))
    ids = _store_vectors(library, tmp_path, np.vstack([copies, others]).astype(np.float32))
    report = library.find_duplicates(threshold=0.95, confirm=False)
    assert [sorted(p.id for p in g.photos) for g in report.groups] == [ids[:40]]


def test_cancel_and_empty_library(library: Library, tmp_path: Path) -> None:
    assert library.find_duplicates().groups == []
    rng = np.random.default_rng(2)
    _store_vectors(library, tmp_path, rng.normal(size=(50, 64)).astype(np.float32))
    cancel = threading.Event()
    cancel.set()
    report = library.find_duplicates(cancel=cancel)
    assert report.cancelled
    assert report.groups == []


def test_unreadable_candidate_is_listed_not_fatal(library: Library, tmp_path: Path) -> None:
    drawn = draw_duplicate_library(tmp_path / "photos", families=2, lookalikes=0, singles=1)
    _index(library, tmp_path / "photos")
    broken = drawn.families[0][1]
    broken.write_bytes(b"\xff\xd8\xff not a jpeg any more")
    report = library.find_duplicates()
    assert [str(broken)] == [p for p, _ in report.unreadable]
    groups = [sorted(p.path for p in g.photos) for g in report.groups]
    assert sorted(str(p) for p in drawn.families[1]) in groups
    assert sorted(str(p) for p in drawn.families[0] if p != broken) in groups


def test_keep_suggestion_order() -> None:
    from photoclip.core.catalog import Photo

    def photo(pid: int, w: int, h: int, size: int, taken: float | None, mtime: float = 5e8
              ) -> Photo:
        return Photo(pid, 1, f"/p/{pid}.jpg", size, mtime, "h", w, h, taken, None, None,
                     "ok", None)

    small, big = photo(1, 100, 100, 9000, 1.0), photo(2, 200, 200, 10, 2.0)
    assert suggest_keep([small, big])[0] is big
    heavy, light = photo(3, 100, 100, 5000, 9.0), photo(4, 100, 100, 4000, 1.0)
    assert suggest_keep([light, heavy])[0] is heavy
    old, new = photo(5, 100, 100, 10, 1.0), photo(6, 100, 100, 10, 2.0)
    assert suggest_keep([new, old])[0] is old
    # No capture time: the file time counts.
    undated = photo(7, 100, 100, 10, None, mtime=0.5)
    assert suggest_keep([old, undated])[0] is undated


def test_thresholds_are_per_model(shapes_embedder) -> None:
    assert default_threshold(shapes_embedder.signature) == 0.95
    assert 0.85 <= default_threshold("ViT-B-32-256:datacomp_s34b_b86k") < 0.99
    flat = bytes([40] * 256)
    assert same_picture(flat, flat)
    assert not same_picture(flat, bytes([200] * 256))
    assert CONTENT_MATCH < 1


@pytest.mark.parametrize("threshold", [0.0, 1.5])
def test_bad_threshold_is_refused_by_the_cli_parser(threshold: float) -> None:
    from photoclip.cli import build_parser

    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["duplicates", "--threshold", str(threshold)])
    assert exc.value.code == 2
