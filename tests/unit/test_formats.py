"""What cameras and phones write (issue 16): HEIC/AVIF in every install, RAW files through
their embedded previews or LibRaw, RAW+JPEG pairs as one photo, and sidecar names other
apps read. Every file here is made by the test: HEIC with pillow-heif, AVIF with Pillow,
DNG with tests/rawfiles.py."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photoclip.core import Library, metadata
from photoclip.core.errors import CorruptImageError
from photoclip.core.images import decode_for_display, open_photo
from photoclip.core.raw import open_raw
from tests.models.shapes import COLOUR_NAMES, draw
from tests.rawfiles import write_dng


def _exif(orientation: int, make: str, model: str, taken: str) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = make
    exif[0x0110] = model
    exif.get_ifd(0x8769)[0x9003] = taken
    return exif


def _banded() -> Image.Image:
    """Landscape, red band on the left: after orientation 6 the red is on top."""
    img = Image.new("RGB", (600, 400), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 150, 400))
    return img


def _red_on_top(img: Image.Image) -> bool:
    r, _g, b = img.convert("RGB").getpixel((img.width // 2, 3))
    return r > 180 and b < 90


def test_heic_from_a_phone_is_read_upright_with_its_exif(tmp_path: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")  # a dependency: always there
    pillow_heif.register_heif_opener()
    path = tmp_path / "IMG_1234.HEIC"
    _banded().save(path, exif=_exif(6, "Apple", "iPhone 15 Pro", "2023:07:01 18:30:00").tobytes(),
                   quality=90)
    got = open_photo(path, min_side=100)
    assert (got.width, got.height) == (400, 600)
    assert got.image.size[0] < got.image.size[1]
    assert _red_on_top(got.image)
    assert got.orientation == 6
    assert got.camera == "Apple iPhone 15 Pro"
    assert got.taken_at is not None
    assert decode_for_display(path, 120).size == (80, 120)


def test_avif_is_read(tmp_path: Path) -> None:
    path = tmp_path / "shot.avif"
    _banded().save(path, quality=80)
    got = open_photo(path)
    assert (got.width, got.height) == (600, 400)


@pytest.mark.parametrize("preview", [None, (600, 400), (90, 60)])
def test_dng_with_and_without_a_usable_preview(tmp_path: Path,
                                               preview: tuple[int, int] | None) -> None:
    path = write_dng(tmp_path / "IMG_0001.DNG", _banded(), preview=preview, orientation=6,
                     make="Nikon", model="Nikon Z 6", taken="2021:05:04 03:02:01")
    got = open_raw(str(path), min_side=224)
    # A preview large enough for the model is used; none, or a tiny one, means LibRaw
    # demosaics at half size.
    assert got.source == ("preview" if preview == (600, 400) else "demosaic")
    assert (got.width, got.height) == (400, 600)
    assert got.image.size[0] < got.image.size[1]
    assert _red_on_top(got.image)
    photo = open_photo(path, min_side=224)
    assert photo.camera == "Nikon Z 6"
    assert photo.orientation == 6
    assert photo.taken_at is not None
    shown = decode_for_display(path, 160)
    assert max(shown.size) == 160
    assert _red_on_top(shown)


def test_damaged_raw_files_say_what_failed(tmp_path: Path) -> None:
    whole = write_dng(tmp_path / "whole.dng", _banded())
    data = whole.read_bytes()
    cut = tmp_path / "cut.dng"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptImageError,
                       match="RAW file without a usable preview and LibRaw could not decode"):
        open_photo(cut)
    code = ("import sys\nsys.modules['rawpy'] = None\n"
            "from photoclip.core.images import open_photo\n"
            "from photoclip.core.errors import ImageDecodeError\n"
            f"try:\n    open_photo({str(whole)!r})\n"
            "except ImageDecodeError as exc:\n    print(exc.kind, '|', exc.reason)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "unsupported | RAW support is not installed (rawpy, LibRaw)"


def _box(kind: bytes, body: bytes) -> bytes:
    return (8 + len(body)).to_bytes(4, "big") + kind + body


def _tiff(tags: dict[int, object]) -> bytes:
    exif = Image.Exif()
    for tag, value in tags.items():
        exif[tag] = value
    data = exif.tobytes()
    return data[6:] if data.startswith(b"Exif\0\0") else data


def test_a_canon_cr3_gives_its_date_camera_and_orientation(tmp_path: Path) -> None:
    """CR3 is not TIFF but an ISO media file: its metadata sits in the CMT1 (IFD0) and CMT2
    (EXIF) boxes of Canon's uuid box. Built here box by box; LibRaw cannot decode this
    stripped-down file, which must then fail in words, not in a traceback."""
    from photoclip.core.errors import ImageDecodeError
    from photoclip.core.raw import read_metadata

    cmt1 = _tiff({0x010F: "Canon", 0x0110: "Canon EOS R5", 0x0112: 6})
    cmt2 = _tiff({0x9003: "2021:06:05 14:03:02"})
    canon = bytes.fromhex("85c0b687820f11e08111f4ce462b6a48")
    moov = _box(b"moov", _box(b"uuid", canon + _box(b"CMT1", cmt1) + _box(b"CMT2", cmt2)))
    path = tmp_path / "IMG_0001.CR3"
    path.write_bytes(_box(b"ftyp", b"crx \0\0\0\1crx isom") + moov + b"\0" * 4096)
    meta = read_metadata(str(path))
    assert (meta.camera_make, meta.camera_model, meta.orientation) == (
        "Canon", "Canon EOS R5", 6)
    assert meta.taken == "2021:06:05 14:03:02"
    with pytest.raises(ImageDecodeError) as failed:
        open_photo(path)
    assert "LibRaw" in failed.value.reason
    assert "Error" not in failed.value.reason


def _shapes_as_raw(folder: Path, n: int, seed: int) -> dict[str, tuple[str, str]]:
    """Drawn shapes saved as DNG (half with previews): path -> (colour, shape)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    truth = {}
    for i in range(n):
        colour = COLOUR_NAMES[i % len(COLOUR_NAMES)]
        shape = ("circle", "square", "triangle", "star")[i % 4]
        bg = rng.choice([c for c in COLOUR_NAMES if c != colour])
        img = draw(shape, colour, bg, rng, (320, 240))
        path = write_dng(folder / f"DSC_{i:04d}.NEF.dng", img,
                         preview=(320, 240) if i % 2 else None)
        truth[str(path)] = (colour, shape)
    return truth


def test_a_raw_folder_is_indexed_and_searchable(library: Library, tmp_path: Path) -> None:
    truth = _shapes_as_raw(tmp_path / "raw", 24, seed=160)
    library.add_root(tmp_path / "raw")
    run = library.index()
    assert run.index.embedded == 24
    assert not run.index.failed
    reds = [p for p, (c, s) in truth.items() if (c, s) == ("red", "circle")]
    hits = library.search("a red circle", top=len(reds))
    assert reds
    assert [truth[h.photo.path] for h in hits] == [("red", "circle")] * len(reds)
    photo = library.catalog.photo_by_path(next(iter(truth)))
    assert photo is not None
    assert photo.camera == "Testcam R1"


def _pair_folder(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True)
    rng = random.Random(161)
    files = {}
    for stem, colour in (("IMG_0001", "red"), ("IMG_0002", "blue"), ("IMG_0003", "green")):
        img = draw("circle", colour, "white", rng, (320, 240))
        if stem != "IMG_0003":
            files[f"{stem}.CR2"] = write_dng(folder / f"{stem}.CR2", img, preview=(320, 240))
        if stem != "IMG_0002":
            files[f"{stem}.JPG"] = folder / f"{stem}.JPG"
            img.save(files[f"{stem}.JPG"], quality=90)
    return files  # a pair, a RAW alone, a JPEG alone


def test_raw_and_jpeg_of_one_shot_are_one_photo(library: Library, tmp_path: Path) -> None:
    files = _pair_folder(tmp_path / "card")
    library.add_root(tmp_path / "card")
    run = library.index()
    assert run.index.embedded == 3  # the pair once (from its JPEG), the lone RAW, the JPEG
    st = library.status()
    assert (st.photos, st.indexed, st.pending) == (3, 3, 0)
    shown = {p.path for p in library.photos()}
    assert shown == {str(files["IMG_0001.JPG"]), str(files["IMG_0002.CR2"]),
                     str(files["IMG_0003.JPG"])}
    pair = library.catalog.photo_by_path(str(files["IMG_0001.JPG"]))
    assert pair is not None
    assert library.files_of(pair.id) == [str(files["IMG_0001.JPG"]), str(files["IMG_0001.CR2"])]
    assert len(library.search("a circle", top=10)) == 3
    # Tags apply to the pair: one decision, both files' sidecars.
    library.add_tag(pair.id, "mine", "keeper")
    report = library.write_xmp([pair.id])
    folder = tmp_path / "card"
    assert sorted(Path(p).name for p in report.written) == ["IMG_0001.JPG.xmp", "IMG_0001.xmp"]
    assert "keeper" in metadata.read_tags(folder / "IMG_0001.CR2")[0]
    assert "keeper" in metadata.read_tags(folder / "IMG_0001.JPG")[0]
    # Pairing off: the RAW file is a photo of its own (embedded by the next run); on again.
    assert library.set_pairing(False) == 1
    assert library.status().photos == 4
    assert library.index().index.embedded == 1
    assert library.set_pairing(True) == 1
    assert library.status().photos == 3
    # The JPEG goes: the RAW file is the photo again, and keeps the user's tag.
    files["IMG_0001.JPG"].unlink()
    run = library.index()
    assert run.scan.missing == 1
    raw_photo = library.catalog.photo_by_path(str(files["IMG_0001.CR2"]))
    assert raw_photo is not None
    assert library.status().photos == 3
    assert ("mine", "keeper") in {(t.label_set, t.label) for t in library.tags(raw_photo.id)}


@pytest.mark.slow
def test_status_json_counts_a_pair_once(tmp_path: Path) -> None:
    from tests.e2e.test_cli import photoclip

    files = _pair_folder(tmp_path / "card")
    lib = tmp_path / "lib"
    photoclip("index", str(tmp_path / "card"), library=lib)
    status = json.loads(photoclip("status", "--json", library=lib).stdout)
    assert (status["photos"], status["indexed"]) == (3, 3)
    assert photoclip("pairing", library=lib).stdout.strip() == "on"
    photoclip("pairing", "off", library=lib)
    photoclip("index", library=lib)
    assert json.loads(photoclip("status", "--json", library=lib).stdout)["photos"] == 4
    assert len(files) == 4


def test_raw_sidecars_use_the_name_lightroom_reads_and_keep_darktables(tmp_path: Path) -> None:
    raw = write_dng(tmp_path / "DSC_0042.NEF", _banded())
    assert metadata.sidecar_path(raw) == tmp_path / "DSC_0042.xmp"
    assert metadata.sidecar_path(tmp_path / "a.jpg") == tmp_path / "a.jpg.xmp"
    # darktable already keeps DSC_0042.NEF.xmp: it is updated too, and both are read.
    darktable = tmp_path / "DSC_0042.NEF.xmp"
    darktable.write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        'xmlns:darktable="http://darktable.sf.net/" darktable:history_end="3" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:subject><rdf:Bag>'
        "<rdf:li>from-darktable</rdf:li></rdf:Bag></dc:subject></rdf:Description>"
        "</rdf:RDF></x:xmpmeta>")
    written = metadata.write_tags(raw, [("scenes", "beach")])
    assert written == [tmp_path / "DSC_0042.xmp", darktable]
    assert 'darktable:history_end="3"' in darktable.read_text()
    subjects, hierarchical = metadata.read_tags(raw)
    assert subjects == ["beach", "from-darktable"]
    assert hierarchical == ["scenes|beach"]
    exiftool = shutil.which("exiftool")
    if exiftool is None:
        pytest.skip("exiftool is not installed (apt-get install libimage-exiftool-perl)")
    for sidecar in written:
        out = subprocess.run([exiftool, "-j", "-XMP-dc:Subject", "-XMP-lr:HierarchicalSubject",
                              str(sidecar)], capture_output=True, text=True, check=True)
        seen = json.loads(out.stdout)[0]
        subjects = seen["Subject"] if isinstance(seen["Subject"], list) else [seen["Subject"]]
        assert "beach" in subjects
        assert seen["HierarchicalSubject"] in ("scenes|beach", ["scenes|beach"])


def test_raw_decode_is_close_to_the_picture(tmp_path: Path) -> None:
    # The demosaiced image is the picture, not noise: same colours where it is flat.
    img = Image.new("RGB", (400, 300), (200, 40, 40))
    img.paste((40, 160, 40), (200, 0, 400, 300))
    got = open_raw(str(write_dng(tmp_path / "flat.dng", img)), min_side=100)
    arr = np.asarray(got.image, dtype=np.int16)
    left, right = arr[:, : arr.shape[1] // 4].mean((0, 1)), arr[:, -arr.shape[1] // 4:].mean((0, 1))
    assert left[0] > left[1] + 80
    assert right[1] > right[0] + 60


def test_raw_file_with_a_name_that_is_not_utf8(tmp_path: Path) -> None:
    import os

    path = os.fsdecode(os.fsencode(tmp_path) + b"/Br\xfccke.dng")
    try:
        write_dng(Path(path), _banded(), orientation=6)
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system refuses names that are not UTF-8")
    got = open_photo(path, min_side=100)
    assert (got.width, got.height) == (400, 600)
