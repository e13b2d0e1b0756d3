"""Names the OS allows and UTF-8 does not: stored, searched, printed and sidecar'd losslessly
(issue 13, item 1)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from photoclip.core import Library
from photoclip.core.filenames import display_path, quote_path
from tests.conftest import draw_photos


def _bytes_name(folder: Path, name: bytes) -> str:
    """The OS's str for ``folder/name`` (undecodable bytes as surrogates)."""
    return os.fsdecode(os.fsencode(folder) + b"/" + name)


def _make_odd_files(folder: Path) -> list[str]:
    """Copies of drawn photos under names that are not UTF-8 (Latin-1 from an old Samba
    share or a ZIP extract), in a folder whose own name is not UTF-8 either."""
    drawn = draw_photos(folder, 3, seed=40)
    odd_dir = _bytes_name(folder, b"Urlaub M\xfcnchen")
    try:
        os.mkdir(odd_dir)
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system refuses names that are not UTF-8")
    names = [_bytes_name(folder, b"caf\xe9.jpg"), _bytes_name(folder, b"\xff\xfe.jpg"),
             os.path.join(odd_dir, "inside.jpg")]
    for (src, _), dest in zip(drawn, names, strict=True):
        shutil.copyfile(src, dest)
    return names


def test_names_that_are_not_utf8_are_indexed_searched_and_moved(library: Library,
                                                                  tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    draw_photos(photos, 6, seed=41)
    odd = _make_odd_files(photos / "old-share")
    library.add_root(photos)
    run = library.index()
    assert run.scan.new == 6 + 3 + 3
    assert run.index.embedded == 12
    assert not run.index.failed
    for path in odd:
        photo = library.catalog.photo_by_path(path)
        assert photo is not None
        assert photo.path == path
        assert os.path.exists(photo.path)
    # Stored as the exact bytes (a BLOB), everything else as TEXT, as before.
    db = sqlite3.connect(library.catalog.path)
    kinds = dict(db.execute("SELECT typeof(path), COUNT(*) FROM photos GROUP BY 1").fetchall())
    db.close()
    assert kinds == {"text": 9, "blob": 3}
    hits = {h.photo.path for h in library.search("a shape", top=50)}
    assert set(odd) <= hits
    # A folder filter on the undecodable folder finds exactly what is in it.
    inside = library.search("a shape", top=50, folder=os.path.dirname(odd[2]))
    assert [h.photo.path for h in inside] == [odd[2]]
    # A move from one undecodable name to another keeps the row and its embedding.
    before = library.catalog.photo_by_path(odd[0])
    assert before is not None
    moved = _bytes_name(photos, b"moved-\xe9\xe8.jpg")
    os.rename(odd[0], moved)
    again = library.index()
    assert (again.scan.moved, again.scan.new, again.index.embedded) == (1, 0, 0)
    after = library.catalog.photo_by_path(moved)
    assert after is not None
    assert after.id == before.id
    # Sidecars land beside the real file.
    library.add_tag(after.id, "mine", "keeper")
    report = library.write_xmp([after.id])
    assert report.written == [moved + ".xmp"]
    assert os.path.isfile(moved + ".xmp")


def test_quote_path_round_trips_through_bash(tmp_path: Path) -> None:
    plain = ["日本 ünï.jpg".encode(), b"it's \\ here.jpg"]
    names = [b"caf\xe9.jpg", b"new\nline.jpg", b"tab\there\x7f.jpg", b"it's\n\\.jpg", *plain]
    bash = shutil.which("bash")
    for name in names:
        path = os.fsdecode(os.fsencode(tmp_path) + b"/" + name)
        quoted = quote_path(path)
        assert "\n" not in quoted
        if name in plain:
            assert quoted == path  # plain names print unchanged, as they always did
            continue
        assert quoted.startswith("$'")
        if bash:
            out = subprocess.run([bash, "-c", f"printf %s {quoted}"], capture_output=True,
                                 check=True).stdout
            assert out == os.fsencode(path)
    # A relative name that would read as quoting is quoted itself.
    assert quote_path("$'x'") == "$'$\\'x\\''"


def test_display_path_is_one_printable_line() -> None:
    weird = os.fsdecode(b"/photos/caf\xe9\nx.jpg")
    shown = display_path(weird)
    assert shown == "/photos/caf\ufffd\ufffdx.jpg"
    shown.encode("utf-8")  # printable anywhere
    assert display_path("/photos/ünï.jpg") == "/photos/ünï.jpg"


def test_a_library_in_a_folder_whose_name_is_not_utf8(tmp_path: Path, shapes_embedder,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The library itself may live under such a name: the vector index is saved and loaded
    by its exact bytes, and the catalog's memory-mapped files do not upset the decoder."""
    photos = tmp_path / "photos"
    draw_photos(photos, 5, seed=42)
    odd = _make_odd_files(photos / "old-share")
    folder = _bytes_name(tmp_path, b"Biblioth\xe8que")
    with Library.open(Path(folder), embedder=shapes_embedder, decode_threads=2) as lib:
        lib.add_root(photos)
        run = lib.index()
        assert (run.index.embedded, run.index.failed) == (5 + 3 + 3, [])
    saved = [n for n in os.listdir(os.fsencode(folder)) if n.startswith(b"vectors-")]
    assert any(n.endswith(b".hnsw") for n in saved)
    from photoclip.core.vectors import VectorIndex

    loaded: list[bool] = []
    real_load = VectorIndex._load_file
    monkeypatch.setattr(VectorIndex, "_load_file",
                        lambda self, catalog: loaded.append(real_load(self, catalog))
                        or loaded[-1])
    with Library.open(Path(folder), embedder=shapes_embedder, decode_threads=2) as lib:
        hits = {h.photo.path for h in lib.search("a shape", top=20)}
        assert set(odd) <= hits
    assert loaded == [True]   # read from its file, not rebuilt from the catalog
