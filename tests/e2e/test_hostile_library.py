"""The real CLI on a folder built to be hostile (issue 13): odd names, broken and exotic files,
system folders, a read-only corner; then a damaged catalog, a read-only library and a full
disk. The run completes, every good photo is indexed, every refusal is one line and exit 2.
"""

from __future__ import annotations

import io
import json
import os
import random
import resource
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import draw_photos
from tests.e2e.test_cli import photoclip
from tests.mounts import fill_disk, read_only, small_disk

pytestmark = pytest.mark.slow


def _one_line_refusal(proc: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit 2 and one message line (after any progress lines), holding ``words``."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    messages = [line for line in lines if line.startswith("photoclip: ")]
    assert messages == lines[-1:], proc.stderr
    for word in words:
        assert word in messages[0], messages[0]
    return messages[0]


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + \
        struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def build_hostile_folder(root: Path) -> tuple[set[str], dict[str, str]]:
    """Returns (paths of good photos, {path of a bad file: a word its reason must hold})."""
    rng = random.Random(13)
    good: set[str] = set()
    bad: dict[str, str] = {}

    def add(path: Path | str, ok: bool = True, word: str = "") -> None:
        (good.add(os.fspath(path)) if ok else bad.__setitem__(os.fspath(path), word))

    for path, _ in draw_photos(root / "camera", 12, seed=130):
        add(path)
    # Every EXIF orientation, JPEG and TIFF.
    for o in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = o
        exif.get_ifd(0x8769)[0x9003] = "2020:01:02 03:04:05"
        img = Image.new("RGB", (90, 60), (30 * o, 100, 200))
        for ext in ("jpg", "tif"):
            img.save(root / "camera" / f"orient-{o}.{ext}", exif=exif)
            add(root / "camera" / f"orient-{o}.{ext}")
    # Exotic but readable formats and modes.
    exotic = root / "exotic"
    exotic.mkdir()
    Image.fromarray(np.full((40, 60), 40000, np.uint16)).save(exotic / "deep16.png")
    Image.new("CMYK", (60, 40), (0, 200, 200, 0)).save(exotic / "cmyk.jpg")
    Image.new("LAB", (60, 40)).save(exotic / "lab.tif")
    Image.new("F", (60, 40)).save(exotic / "float.tif")
    Image.new("1", (60, 40)).save(exotic / "fax.tif", compression="group4")
    Image.new("RGBA", (60, 40), (255, 0, 0, 0)).save(exotic / "clear.webp")
    Image.new("P", (60, 40)).save(exotic / "palette.gif")
    Image.new("RGB", (60, 40)).save(exotic / "plain.bmp")
    frames = [Image.new("RGB", (30, 30), c) for c in ("red", "blue")]
    frames[0].save(exotic / "anim.webp", save_all=True, append_images=frames[1:])
    for p in exotic.iterdir():
        add(p)
    # Names: not UTF-8, a newline, a tab, very long, non-Latin.
    names = root / "names"
    names.mkdir()
    src = draw_photos(root / "tmp-src", 6, seed=131)
    targets = [os.fsdecode(os.fsencode(names) + b"/caf\xe9 \xff.jpg"),
               str(names / "new\nline.jpg"), str(names / "tab\there.jpg"),
               str(names / ("l" * 251 + ".jpg")), str(names / "日本の写真 ünï.jpg"),
               os.fsdecode(os.fsencode(names) + b"/dir\xe9/in.jpg")]
    os.mkdir(os.path.dirname(targets[-1]))
    for (s, _), t in zip(src, targets, strict=True):
        os.replace(s, t)
        add(t)
    os.rmdir(root / "tmp-src")
    # Broken files: each must fail with a reason, none may stop the run.
    broken = root / "broken"
    broken.mkdir()
    (broken / "empty.jpg").write_bytes(b"")
    add(broken / "empty.jpg", False, "empty")
    (broken / "text.jpg").write_text("shopping list")
    add(broken / "text.jpg", False, "not an image")
    for ext in ("jpg", "png", "tif", "webp", "gif"):
        buf = io.BytesIO()
        Image.effect_noise((400, 300), 50).convert("RGB").save(
            buf, {"jpg": "JPEG", "tif": "TIFF"}.get(ext, ext.upper()))
        data = buf.getvalue()
        (broken / f"cut.{ext}").write_bytes(data[: len(data) // 2])
        add(broken / f"cut.{ext}", False, "")
    lzw = io.BytesIO()
    Image.effect_noise((300, 200), 50).convert("RGB").save(lzw, "TIFF",
                                                          compression="tiff_lzw")
    garbled = bytearray(lzw.getvalue())
    for i in range(400, 2400, 37):
        garbled[i] ^= 0x5A
    (broken / "garbled-lzw.tif").write_bytes(bytes(garbled))
    add(broken / "garbled-lzw.tif", False, "damaged")
    exif = Image.Exif()
    exif[0x0112] = 6
    ihdr = struct.pack(">IIBBBBB", 100, 100, 8, 2, 0, 0, 0)
    (broken / "bad-pixels-exif-after.png").write_bytes(
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) +
        _chunk(b"IDAT", b"\x78\x9c" + rng.randbytes(300)) + _chunk(b"eXIf", exif.tobytes()) +
        _chunk(b"IEND", b""))
    add(broken / "bad-pixels-exif-after.png", False, "corrupt")
    (broken / "bomb.png").write_bytes(
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 2,
                                                          0, 0, 0)) + _chunk(b"IEND", b""))
    add(broken / "bomb.png", False, "too many pixels")
    # A 102-megapixel panorama: a photo, not a "decompression bomb" (Pillow opens it).
    pano = Image.linear_gradient("L").resize((12000, 8500)).convert("RGB")
    pano.save(root / "camera" / "panorama.jpg", quality=40)
    del pano
    add(root / "camera" / "panorama.jpg")
    # Things that are not photos at all, or must not be followed.
    (root / "folder.jpg").mkdir()
    os.mkfifo(root / "pipe.jpg")
    os.symlink(root, root / "loop")
    os.symlink(root / "nowhere.jpg", root / "dangling.jpg")
    (root / "._camera.jpg").write_bytes(b"\0\5\26\7 AppleDouble")
    # System folders full of copies of photos: skipped.
    for sub in ("@eaDir/IMG_1.JPG", ".thumbnails/large", ".Trash-1000/files",
                "$RECYCLE.BIN/S-1-5-21", "Lightroom Catalog Previews.lrdata/0"):
        draw_photos(root / sub, 2, seed=132)
    return good, bad


def test_hostile_folder_indexes_every_good_photo(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    good, bad = build_hostile_folder(photos)
    # A drive that will come back as an empty mount point (only lost+found and .DS_Store).
    usb = tmp_path / "usb"
    usb_photos = {str(p) for p, _ in draw_photos(usb / "2019", 3, seed=140)}
    # The library itself under a name that is not UTF-8.
    lib = Path(os.fsdecode(os.fsencode(tmp_path) + b"/Biblioth\xe8que"))
    proc = photoclip("index", str(photos), str(usb), library=lib, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "warn" not in proc.stderr.lower()
    assert f"indexed {len(good) + len(usb_photos)} photos" in proc.stderr
    assert f"{len(bad)} failed" in proc.stderr
    failures = [line for line in proc.stderr.splitlines() if line.startswith("  failed: ")]
    assert len(failures) == len(bad)
    for line in failures:
        assert "decoder error" not in line or "damaged" in line
    db = sqlite3.connect(lib / "catalog.sqlite")
    rows = {os.fsdecode(p) if isinstance(p, bytes) else p: (state, error)
            for p, state, error in db.execute("SELECT path, state, error FROM photos")}
    db.close()
    assert {p for p, (s, _) in rows.items() if s == "ok"} == good | usb_photos
    for path, word in bad.items():
        state, error = rows[path]
        assert state == "failed"
        assert word.lower() in error.lower(), (path, error)
    assert list(Path(lib).glob("vectors-*.hnsw"))   # the index saved under that name
    # Orientation: every rotated photo stored upright.
    hits = json.loads(photoclip("search", "a shape", "--json", "--top", "20", "--top", "200",
                                library=lib).stdout)
    by_path = {r["path"]: r for r in hits}
    for o in range(5, 9):
        for ext in ("jpg", "tif"):
            r = by_path[str(photos / "camera" / f"orient-{o}.{ext}")]
            assert (r["width"], r["height"]) == (60, 90)
    # Plain output: one line per result, odd names quoted so a shell gets the bytes back.
    plain = photoclip("search", "a shape", "--top", "200", library=lib).stdout
    assert len(plain.splitlines()) == len(good) + len(usb_photos)
    quoted = [line.split("  ", 1)[1] for line in plain.splitlines() if "$'" in line]
    assert len(quoted) == 4  # the two undecodable names, the newline, the tab
    for q in quoted:
        raw = subprocess.run(["bash", "-c", f"printf %s {q}"], capture_output=True,
                             check=True).stdout
        assert os.fsdecode(raw) in good
    # JSON: undecodable bytes as \udcXX escapes, which Python's json turns back exactly.
    assert targets_round_trip(by_path, good | usb_photos)
    # A second run finds nothing new and retries nothing.
    again = photoclip("index", library=lib)
    assert "indexed 0 photos" in again.stderr
    assert "0 failed" in again.stderr
    # The drive's folder is back, but empty: offline, its photos kept, none marked missing.
    shutil.rmtree(usb)
    (usb / "lost+found").mkdir(parents=True)
    (usb / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    photoclip("index", library=lib)
    status = json.loads(photoclip("status", "--json", library=lib).stdout)
    usb_root = next(r for r in status["roots"] if r["path"] == str(usb))
    assert usb_root["online"] is False
    assert status["missing"] == 0
    db = sqlite3.connect(Path(lib) / "catalog.sqlite")
    kept = {p for (p,) in db.execute("SELECT path FROM photos WHERE state = 'ok'")}
    db.close()
    assert usb_photos <= kept


def targets_round_trip(by_path: dict[str, dict], good: set[str]) -> bool:
    return set(by_path) == good and all(os.path.exists(p) for p in by_path)


def test_refused_commands_say_one_line_and_exit_2(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    draw_photos(photos, 8, seed=133)
    lib = tmp_path / "lib"
    photoclip("index", str(photos), library=lib)
    photoclip("tag", library=lib)
    catalog = lib / "catalog.sqlite"
    # A read-only library: writing commands refused, reading ones work, nothing changed.
    before = catalog.read_bytes()
    with read_only(lib):
        for args in (["index"], ["add", str(photos)], ["tag"]):
            _one_line_refusal(photoclip(*args, library=lib, check=False), "read-only")
        assert json.loads(photoclip("status", "--json", library=lib).stdout)["indexed"] == 8
        assert len(json.loads(photoclip("search", "a shape", "--json", "--top", "20",
                                        library=lib).stdout)) == 8
    assert catalog.read_bytes() == before
    # A mistyped model: refused, and the library keeps the model it had.
    draw_photos(photos / "more", 1, seed=134)
    bad_model = photoclip("--model", f"local-dir:{tmp_path / 'typo'}", "index",
                          library=lib, check=False)
    _one_line_refusal(bad_model, "typo")
    # (No PHOTOCLIP_MODEL here: the search must use the model the library remembers.)
    remembered = photoclip("search", "a shape", "--top", "1", "--json", library=lib,
                           env={"PHOTOCLIP_MODEL": ""})
    assert len(json.loads(remembered.stdout)) == 1
    # One damaged page among good ones: even commands that would never read it refuse.
    before = catalog.read_bytes()
    for page in (5, catalog.stat().st_size // 4096 // 2):
        with open(catalog, "r+b") as f:
            f.seek(page * 4096)
            f.write(random.Random(page).randbytes(4096))
        some_photo = str(next(iter(photos.glob("*.jpg"))))
        for args in (["status"], ["status", "--json"], ["similar", some_photo],
                     ["duplicates"], ["labels", "list"], ["index"]):
            _one_line_refusal(photoclip(*args, library=lib, check=False), "damaged")
        catalog.write_bytes(before)
    # A damaged catalog: every command refuses it in one line; check and repair mend it.
    backups = sorted((lib / "backups").glob("catalog-*.sqlite"))
    assert backups
    with open(catalog, "r+b") as f:
        pages = catalog.stat().st_size // 4096
        for page in range(2, pages):
            f.seek(page * 4096)
            f.write(random.Random(page).randbytes(4096))
    for args in (["status"], ["search", "x"], ["index"], ["tag"], ["labels", "list"]):
        _one_line_refusal(photoclip(*args, library=lib, check=False), "damaged",
                          "photoclip repair")
    check = photoclip("check", library=lib, check=False)
    assert check.returncode == 1
    assert len(check.stderr.strip().splitlines()) == 1
    repair = photoclip("repair", library=lib)
    assert len(repair.stderr.strip().splitlines()) == 1
    assert "backup" in repair.stderr
    assert list(lib.glob("catalog-damaged-*.sqlite"))
    assert photoclip("check", library=lib).returncode == 0
    assert len(json.loads(photoclip("search", "a shape", "--json", "--top", "20",
                                    library=lib).stdout)) >= 8
    # A 0-byte catalog is refused, never silently replaced by an empty library.
    catalog.write_bytes(b"")
    _one_line_refusal(photoclip("index", library=lib, check=False), "0 bytes")
    assert catalog.stat().st_size == 0


def test_full_disk_is_one_line_and_the_next_run_finishes(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    draw_photos(photos, 120, seed=135)
    with small_disk(tmp_path / "disk", "2m") as disk:
        lib = disk / "lib"
        photoclip("add", str(photos), library=lib)
        filler = fill_disk(disk)
        _one_line_refusal(photoclip("index", library=lib, check=False), "full")
        assert not [p for p in lib.rglob("*") if p.name.endswith(".tmp")]
        filler.unlink()
        photoclip("index", library=lib)
        assert json.loads(photoclip("status", "--json", library=lib).stdout)["indexed"] == 120


def test_file_size_limit_is_a_full_disk_too(tmp_path: Path) -> None:
    # Without root (no tmpfs): the kernel refuses writes past RLIMIT_FSIZE; SQLite reports
    # the short write as a full disk. Runs everywhere the limit exists.
    photos = tmp_path / "photos"
    draw_photos(photos, 60, seed=136)
    lib = tmp_path / "lib"
    photoclip("add", str(photos), library=lib)
    size = (lib / "catalog.sqlite").stat().st_size

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size + 64 * 1024, size + 64 * 1024))

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    from tests.conftest import SHAPES_SPEC

    proc = subprocess.run([sys.executable, "-m", "photoclip", "--library", str(lib),
                           "--model", SHAPES_SPEC, "index", "--batch-size", "4"],
                          capture_output=True, text=True, env=env, preexec_fn=limit,
                          timeout=240)
    message = _one_line_refusal(proc)
    # A write cut short reads as a full disk to SQLite, a refused one as the limit.
    assert "full" in message or "file-size limit" in message
    assert photoclip("check", library=lib).returncode == 0
    photoclip("index", library=lib)
    assert json.loads(photoclip("status", "--json", library=lib).stdout)["indexed"] == 60


def test_output_closed_early_is_not_an_error(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    draw_photos(photos, 30, seed=137)
    lib = tmp_path / "lib"
    photoclip("index", str(photos), library=lib)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    for args in (["status", "--json"], ["search", "a shape", "--top", "30", "--json"]):
        proc = subprocess.run(
            f"{sys.executable} -m photoclip --library {lib} {' '.join(repr(a) for a in args)}"
            " | head -c 10", shell=True, capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode == 0
        assert len(proc.stdout) == 10
        assert "Traceback" not in proc.stderr
        assert "BrokenPipe" not in proc.stderr


def test_retry_failed_and_sidecars_that_cannot_be_written(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    draw_photos(photos / "open", 4, seed=138)
    draw_photos(photos / "locked", 6, seed=139)
    (photos / "open" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    lib = tmp_path / "lib"
    photoclip("index", str(photos), library=lib)
    retried = photoclip("index", "--retry-failed", library=lib)
    assert "1 failed before and tried again" in retried.stderr
    with read_only(photos / "locked"):
        proc = photoclip("tag", "--write-xmp", library=lib)
    assert "wrote 4 XMP sidecars, 6 could not be written" in proc.stderr
    assert proc.stderr.count("  not written: ") == 6
    assert len(list((photos / "open").glob("*.xmp"))) == 4
