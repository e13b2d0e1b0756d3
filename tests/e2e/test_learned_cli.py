"""`photoclip labels learn` end to end: a label taught by example photos, then tags, search
by tag and XMP sidecars as for any label; bad requests refused in one line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from photoclip.core import metadata
from tests.concepts import draw_concept_library
from tests.e2e.test_cli import photoclip

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

pytestmark = pytest.mark.slow

LABEL = "square with star"


def test_learn_tag_search_and_xmp_from_the_command_line(tmp_path: Path) -> None:
    drawn = draw_concept_library(tmp_path / "photos", seed=1)
    lib = tmp_path / "lib"
    photoclip("index", str(tmp_path / "photos"), library=lib)
    examples = [str(p) for p in drawn.concept[:4]]
    concept = {str(p) for p in drawn.concept}

    refused = photoclip("labels", "learn", LABEL, "--set", "mine", *examples[:2],
                        library=lib, check=False)
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1
    assert "at least 3 example photos" in refused.stderr
    assert "Traceback" not in refused.stderr

    out = photoclip("labels", "learn", LABEL, "--set", "mine", *examples, library=lib)
    assert f"learned “{LABEL}” in the set “mine” from 4 example photos" in out.stderr
    stored = tomllib.loads((lib / "labelsets" / "mine.toml").read_text())
    assert [e["path"] for e in stored["learned"][LABEL]["examples"]] == examples

    # A photo it should not have taken, taught from the command line too.
    tagged = json.loads(photoclip("tag", "--set", "mine", "--json", library=lib).stdout)
    wrong = next(p for p, ts in tagged.items()
                 if p not in concept and any(t["label"] == LABEL for t in ts))
    photoclip("labels", "learn", LABEL, "--set", "mine", "--negative", wrong, library=lib)
    stored = tomllib.loads((lib / "labelsets" / "mine.toml").read_text())
    assert [e["path"] for e in stored["learned"][LABEL]["negatives"]] == [wrong]

    result = photoclip("tag", "--set", "mine", "--json", "--write-xmp", library=lib)
    tags = json.loads(result.stdout)
    have = {p for p, ts in tags.items() if any(t["label"] == LABEL for t in ts)}
    assert wrong not in have
    assert len(have & concept) >= 14
    assert len(have & concept) / len(have) >= 0.7
    assert {t["source"] for p in examples for t in tags[p] if t["label"] == LABEL} == {"manual"}
    subjects, hierarchical = metadata.read_tags(examples[0])
    assert LABEL in subjects
    assert f"mine|{LABEL}" in hierarchical

    found = json.loads(photoclip("search", "a red star", "--tag", f"mine:{LABEL}", "--json",
                                 library=lib).stdout)
    assert found
    assert {r["path"] for r in found} <= have

    shown = photoclip("labels", "show", "mine", library=lib).stdout
    assert f"# learned “{LABEL}”: 4 examples, 1 negatives" in shown
    assert f"#   negative: {wrong}" in shown
