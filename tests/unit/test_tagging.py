"""Zero-shot tagging with the small trained model: label sets, scores, manual tags, XMP."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from photoclip.core import LabelSetError, Library, metadata
from photoclip.core.tagging import parse_label_set
from tests.conftest import draw_photos

SHAPES_SET = Path(__file__).resolve().parents[1] / "data" / "shapes.toml"


@pytest.fixture
def tagged(library: Library, tmp_path: Path):
    drawn = draw_photos(tmp_path / "shapes", 80, seed=21, size=(200, 150))
    library.add_root(tmp_path / "shapes")
    library.index()
    library.import_label_set(SHAPES_SET)
    return library, {str(p): d for p, d in drawn}


def test_defaults_are_copied_into_the_library(library: Library) -> None:
    names = {ls.name for ls in library.label_sets()}
    assert {"scenes", "objects", "events", "photo type"} <= names
    assert (library.labelsets_dir / "photo-type.toml").is_file()


def test_shapes_set_tags_held_out_drawings_accurately(tagged) -> None:
    library, truth = tagged
    tags = library.all_tags("shapes")
    correct = sum(1 for path, d in truth.items()
                  if tags.get(path) and tags[path][0].label == d.shape)
    assert correct / len(truth) >= 0.9, f"{correct}/{len(truth)}"
    assert all(0.0 <= t.score <= 1.0 for ts in tags.values() for t in ts)


def test_new_photos_are_tagged_as_they_are_indexed(tagged, tmp_path: Path) -> None:
    library, _ = tagged
    path, drawing = draw_photos(tmp_path / "shapes", 1, seed=99, size=(200, 150))[0]
    library.index()
    photo = library.catalog.photo_by_path(str(path))
    assert photo is not None
    shapes = [t for t in library.tags(photo.id) if t.label_set == "shapes"]
    assert shapes
    assert shapes[0].label == drawing.shape
    assert shapes[0].source == "auto"


def test_editing_a_set_retags_without_decoding(tagged, monkeypatch: pytest.MonkeyPatch) -> None:
    library, _truth = tagged

    def no_decoding(*_a, **_k):
        raise AssertionError("re-tagging decoded an image")

    monkeypatch.setattr("photoclip.core.indexer.open_photo", no_decoding)
    monkeypatch.setattr("photoclip.core.library.open_photo", no_decoding)
    edited = (library.labelsets_dir / "shapes.toml")
    edited.write_text(edited.read_text().replace('"star"', '"star shape"'))
    library.tag("shapes")
    labels = {t.label for ts in library.all_tags("shapes").values() for t in ts}
    assert "star" not in labels
    assert "star shape" in labels


def test_manual_decisions_survive_retagging(tagged) -> None:
    library, truth = tagged
    path, _drawing = next(iter(truth.items()))
    photo = library.catalog.photo_by_path(path)
    assert photo is not None
    auto = next(t for t in library.tags(photo.id) if t.label_set == "shapes")
    wrong = next(s for s in ("circle", "square", "triangle", "star") if s != auto.label)
    library.reject_tag(photo.id, "shapes", auto.label)
    library.add_tag(photo.id, "shapes", wrong)
    library.add_tag(photo.id, "mine", "favourite")
    library.tag()
    library.tag("shapes")
    tags = {(t.label_set, t.label): t.source for t in library.tags(photo.id)}
    assert tags[("shapes", wrong)] == "manual"
    assert tags[("mine", "favourite")] == "manual"
    assert ("shapes", auto.label) not in tags  # removed by the user, never re-added
    assert photo.id in library.ids_with_tag("mine:favourite")


def test_tag_filter_in_search(tagged) -> None:
    library, truth = tagged
    hits = library.search("a red shape", top=100, tag="shapes:circle")
    assert hits
    assert all(truth[h.photo.path].shape == "circle" for h in hits)


@pytest.mark.parametrize(("text", "line", "reason"), [
    ('name = "x"\nlabels = ["a", "b"\nthreshold = 0.5\n', 3, ""),
    ('name = "x"\n\nlabels = []\n', 3, "non-empty list"),
    ('name = "x"\nlabels = ["a"]\nthreshold = 7\n', 3, "between 0 and 1"),
    ('name = "x"\nlabels = ["a"]\ntemplates = ["no placeholder"]\n', 3, "{}"),
    ('name = "x"\nlabels = ["a"]\n[prompts]\nb = ["bee"]\n', 4, "not in 'labels'"),
    ('labels = ["a"]\n', 1, "'name'"),
])
def test_malformed_sets_name_file_line_and_reason(text: str, line: int, reason: str) -> None:
    with pytest.raises(LabelSetError) as info:
        parse_label_set(text, "my.toml")
    assert str(info.value).startswith(f"my.toml:{line}: ")
    assert reason in str(info.value)


def test_a_broken_edit_keeps_the_previous_set(tagged) -> None:
    library, _ = tagged
    before = library.label_set("shapes")
    (library.labelsets_dir / "shapes.toml").write_text('name = "shapes"\nlabels = [oops\n')
    assert library.label_set("shapes") == before
    assert any("shapes.toml:2:" in e for e in library.label_set_errors)
    bad = library.labelsets_dir.parent / "bad.toml"
    bad.write_text('name = "shapes"\nlabels = "circle"\n')
    with pytest.raises(LabelSetError, match=r"bad.toml:2: 'labels'"):
        library.import_label_set(bad)
    assert library.label_set("shapes") == before


def test_xmp_round_trip_keeps_existing_sidecar_content(tagged) -> None:
    library, truth = tagged
    first, second = list(truth)[:2]
    existing = Path(first + ".xmp")
    existing.write_text(
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmp:Rating="4">'
        '<!-- written by another app -->'
        '<dc:subject><rdf:Bag><rdf:li>holiday</rdf:li></rdf:Bag></dc:subject>'
        '</rdf:Description></rdf:RDF></x:xmpmeta>\n<?xpacket end="w"?>')
    photo_bytes = hashlib.sha256(Path(first).read_bytes()).hexdigest()
    written = library.write_xmp()
    assert first + ".xmp" in written
    assert second + ".xmp" in written
    shape = truth[first].shape
    subjects, hierarchical = metadata.read_tags(first)
    assert subjects[0] == "holiday"
    assert shape in subjects
    assert f"shapes|{shape}" in hierarchical
    text = existing.read_text()
    assert 'Rating="4"' in text
    assert "written by another app" in text
    assert text.startswith("<?xpacket")
    assert hashlib.sha256(Path(first).read_bytes()).hexdigest() == photo_bytes
    # Writing again adds nothing twice.
    library.write_xmp()
    assert metadata.read_tags(first)[0].count(shape) == 1
    subjects, hierarchical = metadata.read_tags(second)
    assert truth[second].shape in subjects
    assert f"shapes|{truth[second].shape}" in hierarchical
    assert len(subjects) == len(set(subjects))
