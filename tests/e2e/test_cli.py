"""The real ``photoclip`` command in a subprocess, on drawn photos and the small model."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import SHAPES_SPEC, draw_photos, draw_shapes_library

pytestmark = pytest.mark.slow


def photoclip(*args: str, library: Path, env: dict[str, str] | None = None,
              check: bool = True) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "PHOTOCLIP_MODEL": SHAPES_SPEC,
                **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "photoclip", "--library", str(library), *args],
                          capture_output=True, text=True, env=full_env, timeout=240)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def _index_drawings(folder: Path) -> tuple[Path, Path, list]:
    photos = folder / "photos"
    drawn = draw_shapes_library(photos, 56, seed=11)
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    lib = folder / "lib"
    out = photoclip("index", str(photos), library=lib)
    assert "indexed 60 photos" in out.stderr
    assert "broken.jpg" in out.stderr  # the failure is named in the summary
    return lib, photos, drawn


@pytest.fixture
def indexed(tmp_path: Path) -> tuple[Path, Path, list]:
    """A library of drawings of the test's own, to change as it likes."""
    return _index_drawings(tmp_path)


@pytest.fixture(scope="module")
def indexed_readonly(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list]:
    """One library shared by the tests that only read it (indexing costs seconds each)."""
    return _index_drawings(tmp_path_factory.mktemp("shared"))


def test_search_json_contract(indexed_readonly) -> None:
    lib, _photos, drawn = indexed_readonly
    truth = {str(p): (d.colour, d.shape) for p, d in drawn}
    out = photoclip("search", "a red circle", "--top", "3", "--json", library=lib)
    results = json.loads(out.stdout)
    assert len(results) == 3
    assert all(Path(r["path"]).is_absolute() and isinstance(r["score"], float) for r in results)
    assert truth[results[0]["path"]] == ("red", "circle")
    plain = photoclip("search", "a red circle", "--top", "2", library=lib)
    assert len(plain.stdout.strip().splitlines()) == 2
    # Without --top: the photos the description is relevant to, not a fixed number.
    relevant = json.loads(photoclip("search", "a red circle", "--json", library=lib).stdout)
    red_circles = {p for p, v in truth.items() if v == ("red", "circle")}
    assert {r["path"] for r in relevant} == red_circles
    nonsense = photoclip("search", "xyzzy", library=lib)
    assert len(nonsense.stdout.strip().splitlines()) <= len(truth) // 6   # 60 photos: <= 10
    assert "no photo clearly matches" in nonsense.stderr
    # Global options also work after the command (`photoclip gui --library DIR`), and win.
    after = photoclip("search", "a red circle", "--top", "1", "--json", "--library", str(lib),
                      library=lib.parent / "not-this-one")
    assert truth[json.loads(after.stdout)[0]["path"]] == ("red", "circle")
    assert not (lib.parent / "not-this-one").exists()


def test_similar_and_status_json_contract(indexed_readonly) -> None:
    lib, photos, drawn = indexed_readonly
    query = str(drawn[0][0])
    results = json.loads(photoclip("similar", query, "--json", "--top", "5",
                                   library=lib).stdout)
    assert len(results) == 5
    assert query not in [r["path"] for r in results]
    status = json.loads(photoclip("status", "--json", library=lib).stdout)
    for key in ("photos", "indexed", "failed", "pending", "missing"):
        assert isinstance(status[key], int)
    assert (status["photos"], status["indexed"], status["failed"]) == (61, 60, 1)
    assert status["roots"] == [{"path": str(photos), "online": True, "photos": 61,
                                "unreadable": 1, "polling": False, "scanned": True}]
    text = photoclip("status", library=lib).stdout
    assert "61 photos, 1 unreadable  online" in text


def test_add_remove_and_env_library(tmp_path: Path) -> None:
    photos = tmp_path / "p"
    draw_photos(photos, 3, seed=4)
    lib = tmp_path / "envlib"
    env = {"PHOTOCLIP_LIBRARY": str(lib)}
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "PHOTOCLIP_MODEL": SHAPES_SPEC, **env}
    run = subprocess.run([sys.executable, "-m", "photoclip", "add", str(photos)],
                         capture_output=True, text=True, env=full_env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert (lib / "catalog.sqlite").is_file()
    status = json.loads(photoclip("status", "--json", library=lib).stdout)
    assert status["pending"] == 0
    assert status["roots"][0]["path"] == str(photos)
    # Added, not yet looked at: it says so rather than "0 photos".
    assert not status["roots"][0]["scanned"]
    assert "not scanned yet  online" in photoclip("status", library=lib).stdout
    photoclip("index", library=lib)
    status = json.loads(photoclip("status", "--json", library=lib).stdout)
    assert status["indexed"] == 3
    assert status["roots"][0]["scanned"]
    photoclip("remove", str(photos), library=lib)
    assert json.loads(photoclip("status", "--json", library=lib).stdout)["roots"] == []


@pytest.mark.parametrize("args", [
    ["search"],                                  # missing TEXT
    ["search", "x", "--top", "zero"],           # bad number
    ["frobnicate"],                              # unknown command
    ["add", "/definitely/not/here"],            # missing folder
    ["similar", "/definitely/not/here.jpg"],    # missing file
])
def test_bad_input_is_one_line_and_exit_2(indexed_readonly, args: list[str]) -> None:
    lib, _, _ = indexed_readonly
    proc = photoclip(*args, library=lib, check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("photoclip: ")


def test_unreadable_library_exit_2(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "catalog.sqlite").write_bytes(b"garbage" * 1000)
    for args in (["status"], ["search", "x"], ["index"]):
        proc = photoclip(*args, library=lib, check=False)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1
        assert "catalog" in proc.stderr


def test_missing_model_offline_is_a_clear_message(tmp_path: Path) -> None:
    photos = tmp_path / "p"
    draw_photos(photos, 2, seed=5)
    proc = photoclip("--model", "ViT-B-32-256:datacomp_s34b_b86k", "index", str(photos),
                     library=tmp_path / "lib", check=False,
                     env={"HF_HOME": str(tmp_path / "empty-hf-cache")})
    assert proc.returncode == 2
    assert "ViT-B-32-256:datacomp_s34b_b86k" in proc.stderr
    assert "local-dir:" in proc.stderr


def test_readers_see_commits_of_a_running_writer_and_resume_after_kill(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    draw_photos(photos, 400, seed=21, size=(320, 240))
    lib = tmp_path / "lib"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PHOTOCLIP_MODEL": SHAPES_SPEC}
    writer = subprocess.Popen(
        [sys.executable, "-m", "photoclip", "--library", str(lib), "index", str(photos),
         "--batch-size", "4", "--threads", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        committed = 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and writer.poll() is None:
            try:
                db = sqlite3.connect(f"file:{lib / 'catalog.sqlite'}?mode=ro", uri=True)
                committed = db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
                db.close()
            except sqlite3.Error:
                committed = 0
            if committed >= 40:
                break
            time.sleep(0.01)
        # Freeze the writer mid-run: it is alive, holds the write lock, has an open WAL.
        writer.send_signal(signal.SIGSTOP)
        assert writer.poll() is None, "the writer finished before it could be interrupted"
        status = json.loads(photoclip("status", "--json", library=lib).stdout)
        assert 40 <= status["indexed"] < 400
        assert status["indexed"] + status["pending"] == 400
        hits = json.loads(photoclip("search", "a star", "--json", library=lib).stdout)
        assert hits
        blocked = photoclip("index", library=lib, check=False)
        assert blocked.returncode == 2
        assert "another photoclip process" in blocked.stderr
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert writer.returncode == -signal.SIGKILL
    db = sqlite3.connect(lib / "catalog.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    kept = db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
    db.close()
    assert 40 <= kept < 400
    out = photoclip("index", library=lib)
    assert f"indexed {400 - kept} photos" in out.stderr
    status = json.loads(photoclip("status", "--json", library=lib).stdout)
    assert status["indexed"] == 400
    assert status["pending"] == 0


def test_watch_indexes_new_photos_and_stops_on_sigterm(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    draw_photos(photos, 4, seed=12)
    lib = tmp_path / "lib"
    photoclip("index", str(photos), library=lib)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PHOTOCLIP_MODEL": SHAPES_SPEC}
    watcher = subprocess.Popen([sys.executable, "-m", "photoclip", "--library", str(lib),
                                "watch"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env)
    try:
        new = draw_photos(tmp_path / "incoming", 2, seed=13)
        (photos / "new-album").mkdir()
        for path, _ in new:
            path.rename(photos / "new-album" / path.name)
        deadline = time.monotonic() + 60
        indexed = 0
        while time.monotonic() < deadline and indexed < 6:
            indexed = json.loads(photoclip("status", "--json", library=lib).stdout)["indexed"]
        assert indexed == 6, "the watcher's commits were not seen by another process"
        hits = json.loads(photoclip("search", "a shape", "--json", "--top", "10",
                                    library=lib).stdout)
        assert {str(photos / "new-album" / p.name) for p, _ in new} <= {h["path"] for h in hits}
        t0 = time.monotonic()
        watcher.send_signal(signal.SIGTERM)
        _out, err = watcher.communicate(timeout=10)
        assert time.monotonic() - t0 < 5
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.communicate()
    assert watcher.returncode == 0, err
    assert "watching 1 folder of" in err
    assert "stopped" in err


SHAPES_SET = Path(__file__).resolve().parents[1] / "data" / "shapes.toml"


def test_labels_and_tag_commands(indexed, tmp_path: Path) -> None:
    lib, _photos, drawn = indexed
    truth = {str(p): d.shape for p, d in drawn}
    photoclip("labels", "import", str(SHAPES_SET), library=lib)
    listing = photoclip("labels", "list", library=lib).stdout
    assert "shapes\t4 labels" in listing
    assert "scenes" in listing
    assert '"circle"' in photoclip("labels", "show", "shapes", library=lib).stdout
    tags = json.loads(photoclip("tag", "--set", "shapes", "--json", library=lib).stdout)
    assert set(tags) <= set(truth)
    right = sum(1 for path, ts in tags.items() if ts[0]["label"] == truth[path])
    assert right >= 0.9 * len(truth)
    assert set(tags[next(iter(tags))][0]) >= {"label", "score", "set"}
    hits = json.loads(photoclip("search", "a shape", "--tag", "star", "--json", "--top", "100",
                                library=lib).stdout)
    assert hits
    assert all(truth[h["path"]] == "star" for h in hits)
    # A label that names nothing is refused in words, not answered with no photos.
    for tag, words in (("strar", "no label “strar” in this library's label sets"),
                       ("shapes:strar", "no label “strar” in the label set “shapes”"),
                       ("shaeps:star", "no label set “shaeps”")):
        refused = photoclip("search", "a shape", "--tag", tag, library=lib, check=False)
        assert refused.returncode == 2, refused.stderr
        assert words in refused.stderr
        assert "Traceback" not in refused.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "shapes"\nlabels = ["circle"]\nthreshold = "high"\n')
    proc = photoclip("labels", "import", str(bad), library=lib, check=False)
    assert proc.returncode == 2
    assert f"{bad}:3:" in proc.stderr
    assert "threshold" in proc.stderr
    assert "shapes\t4 labels" in photoclip("labels", "list", library=lib).stdout
    # A hand edit of the file re-tags the whole set at the next index run.
    stars = {h["path"] for h in json.loads(photoclip(
        "search", "a shape", "--tag", "shapes:star", "--json", "--top", "100",
        library=lib).stdout)}
    set_file = lib / "labelsets" / "shapes.toml"
    set_file.write_text(set_file.read_text().replace('"star"', '"star shape"'))
    listed = photoclip("labels", "list", library=lib).stdout
    assert "shapes\t4 labels" in listed
    assert "edited since the library was tagged" in listed
    run = photoclip("index", library=lib)
    assert "edited since" not in photoclip("labels", "list", library=lib).stdout
    assert "re-tagged the library for edited label sets: shapes" in run.stderr
    renamed = {h["path"] for h in json.loads(photoclip(
        "search", "a shape", "--tag", "shapes:star shape", "--json", "--top", "100",
        library=lib).stdout)}
    assert renamed == stars
    photoclip("labels", "remove", "shapes", library=lib)
    assert "shapes" not in photoclip("labels", "list", library=lib).stdout.split()
