"""`photoclip duplicates` in a subprocess, on drawn photos with copies and a burst."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.dupes import draw_duplicate_library
from tests.e2e.test_cli import photoclip

pytestmark = pytest.mark.slow


def test_duplicates_json_and_text(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    drawn = draw_duplicate_library(photos, seed=21, families=4, lookalikes=2, singles=4)
    lib = tmp_path / "lib"
    photoclip("index", str(photos), library=lib)
    before = sorted(p for p in photos.rglob("*") if p.is_file())

    groups = json.loads(photoclip("duplicates", "--json", library=lib).stdout)

    family = drawn.family_of()
    expected = sorted(sorted(str(p) for p in fam) for fam in [*drawn.families, *drawn.bursts])
    assert sorted(sorted(p["path"] for p in g["photos"]) for g in groups) == expected
    for g in groups:
        assert isinstance(g["similarity"], float)
        assert len({family[p["path"]] for p in g["photos"]}) == 1
        keep = [p for p in g["photos"] if p["keep"]]
        assert len(keep) == 1
        for p in g["photos"]:
            assert set(p) >= {"path", "width", "height", "bytes", "taken_at", "keep"}
            assert (p["width"] * p["height"], p["bytes"]) <= (
                keep[0]["width"] * keep[0]["height"], keep[0]["bytes"])
        if g["kind"] == "burst":
            assert all(isinstance(p["taken_at"], float) for p in g["photos"])
    # Nothing was moved or deleted.
    assert sorted(p for p in photos.rglob("*") if p.is_file()) == before

    text = photoclip("duplicates", library=lib)
    assert text.stdout.count("group ") == len(expected)
    assert text.stdout.count("  keep  ") == len(expected)
    assert f"{len(expected)} groups of near-duplicates" in text.stderr
    # A threshold of 1 keeps only exact embedding matches: none among these copies.
    strict = json.loads(photoclip("duplicates", "--threshold", "1", "--json",
                                  library=lib).stdout)
    assert len(strict) < len(expected)


@pytest.mark.parametrize("args", [
    ["duplicates", "--threshold", "0"],
    ["duplicates", "--threshold", "1.2"],
    ["duplicates", "--threshold", "high"],
    ["duplicates", "--burst-seconds", "-1"],
])
def test_duplicates_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str]) -> None:
    proc = photoclip(*args, library=tmp_path / "lib", check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("photoclip: ")


def test_duplicates_without_a_library_is_one_line(tmp_path: Path) -> None:
    proc = photoclip("duplicates", library=tmp_path / "nothing-here", check=False)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "no photoclip library" in proc.stderr
