"""Labels learned from example photos: a concept the model has no words for, found from 4
examples; confirm / reject refine it (and undo puts it back); moves keep the examples; the
definition lives in the label set's TOML, by content."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from photoclip.core import FolderError, LabelSetError, Library
from photoclip.core.concepts import parse_content
from photoclip.core.library import LearnedTagState
from photoclip.core.tagging import parse_label_set
from tests.concepts import DESCRIPTIONS, ConceptLibrary, draw_concept_library

LABEL, SET = "square with star", "mine"


@pytest.fixture
def concept_lib(library: Library, tmp_path: Path) -> tuple[Library, ConceptLibrary]:
    drawn = draw_concept_library(tmp_path / "photos", seed=0)
    library.add_root(tmp_path / "photos")
    library.index()
    return library, drawn


def _precision(paths: list[str], good: set[str], k: int = 10) -> float:
    return float(np.mean([p in good for p in paths[:k]]))


def _ranked(library: Library, leave_out: set[str]) -> list[str]:
    return [r.photo.path for r in library.label_ranking(SET, LABEL)
            if r.photo.path not in leave_out]


def test_four_examples_find_what_no_description_can(concept_lib) -> None:
    library, drawn = concept_lib
    concept = {str(p) for p in drawn.concept}
    examples = [str(p) for p in drawn.concept[:4]]
    ls = library.learn_label(LABEL, SET, examples)
    learned = ls.learned[LABEL]
    assert [e.path for e in learned.examples] == examples
    assert all(parse_content(e.content) for e in learned.examples)
    # The definition is the user's file, by content, readable on its own.
    text = (library.labelsets_dir / "mine.toml").read_text()
    assert parse_label_set(text).learned == ls.learned
    learned_p10 = _precision(_ranked(library, set(examples)), concept)
    # The baseline: every description the model's vocabulary allows for these photos.
    text_p10 = {q: _precision([h.photo.path for h in library.search(q, top=20)
                               if h.photo.path not in examples], concept)
                for q in DESCRIPTIONS}
    best = max(text_p10.values())
    assert learned_p10 >= 0.8, (learned_p10, text_p10)
    assert best <= learned_p10 - 0.2, (learned_p10, text_p10)
    # Tags work as for any label: the examples are the user's own, the rest automatic.
    tagged = library.ids_with_tag(f"{SET}:{LABEL}")
    paths = {p.path for p in library.catalog.photos_by_ids(tagged).values()}
    assert len(paths & concept) >= 14
    assert len(paths & concept) / len(paths) >= 0.7
    assert {t.source for pid in tagged for t in library.tags(pid)
            if t.label == LABEL and library.catalog.photo(pid).path in examples} == {"manual"}
    hits = library.search("a red star", top=200, tag=f"{SET}:{LABEL}")
    assert hits
    assert {h.photo.path for h in hits} <= paths


def test_confirm_and_reject_change_the_ranking_and_undo_restores(concept_lib) -> None:
    library, drawn = concept_lib
    concept = {str(p) for p in drawn.concept}
    examples = [str(p) for p in drawn.concept[:4]]
    library.learn_label(LABEL, SET, examples)
    ranked = library.label_ranking(SET, LABEL)
    scores = {r.photo.path: r.score for r in ranked}
    near = {str(p) for p in drawn.near}
    wrong = next(r.photo for r in ranked if r.photo.path in near)   # the likeliest mistake
    # The concept photo the label ranks lowest: confirming it must lift it.
    right = [r.photo for r in ranked if r.photo.path in concept
             and r.photo.path not in examples][-1]
    before_file = library.label_set(SET)
    tag_before = library.tag_state(wrong.id, SET, LABEL)
    right_before = library.tag_state(right.id, SET, LABEL)
    entries = library.edit_tags([wrong.id], SET, LABEL, "rejected")
    assert isinstance(entries[0][3], LearnedTagState)
    assert entries[0][3].role is None
    assert entries[0][4].role == "negative"
    learned = library.label_set(SET).learned[LABEL]
    assert [e.path for e in learned.negatives] == [wrong.path]
    after = {r.photo.path: r.score for r in library.label_ranking(SET, LABEL)}
    # The rejected photo, and those drawn like it, fall; the concept photos do not.
    assert after[wrong.path] < scores[wrong.path] - 0.05
    same_kind = [p for p in map(str, drawn.near) if Path(p).name.split("-")[0]
                 == Path(wrong.path).name.split("-")[0] and p != wrong.path]
    assert np.mean([after[p] - scores[p] for p in same_kind]) < 0
    assert wrong.id not in library.ids_with_tag(f"{SET}:{LABEL}")
    rank_before = [r.photo.path for r in library.label_ranking(SET, LABEL)].index(right.path)
    confirm = library.edit_tags([right.id], SET, LABEL, "manual")
    assert right.path in [e.path for e in library.label_set(SET).learned[LABEL].examples]
    # An example of its own now: its score rises well clear of where it was, and it climbs.
    # (By how many places depends on the CPU's float kernels: AVX2 and AVX512 embed the
    # small test model's photos slightly differently, and the neighbours move too.)
    ranked_after = library.label_ranking(SET, LABEL)
    rank_after = [r.photo.path for r in ranked_after].index(right.path)
    score_after = next(r.score for r in ranked_after if r.photo.path == right.path)
    assert score_after > scores[right.path] + 0.1, (scores[right.path], score_after)
    assert rank_after < rank_before, (rank_before, rank_after)
    # Undo, newest first: the file and the tags are as they were.
    library.restore_tags([(pid, s, lb, before) for pid, s, lb, before, _a in confirm])
    library.restore_tags([(pid, s, lb, before) for pid, s, lb, before, _a in entries])
    assert library.label_set(SET).learned == before_file.learned
    restored = {r.photo.path: r.score for r in library.label_ranking(SET, LABEL)}
    assert restored[wrong.path] == pytest.approx(scores[wrong.path], abs=1e-5)
    assert library.tag_state(wrong.id, SET, LABEL) == tag_before
    assert library.tag_state(right.id, SET, LABEL) == right_before


def test_moved_examples_stay_examples(concept_lib, tmp_path: Path) -> None:
    library, drawn = concept_lib
    examples = [str(p) for p in drawn.concept[:4]]
    library.learn_label(LABEL, SET, examples)
    before = {Path(r.photo.path).name: r.score for r in library.label_ranking(SET, LABEL)}
    moved = tmp_path / "photos" / "sorted"
    moved.mkdir()
    for p in drawn.concept[:2]:
        shutil.move(p, moved / p.name)
    summary = library.index().scan
    assert summary.moved == 2
    now = {Path(r.photo.path).name: r.score for r in library.label_ranking(SET, LABEL)}
    assert now == pytest.approx(before, abs=1e-5)   # same examples, found by content
    found = library.learned_examples(SET, LABEL)
    assert {path for _role, _c, path, embedded in found if embedded} == {
        str(moved / drawn.concept[0].name), str(moved / drawn.concept[1].name), *examples[2:]}
    # The next change to the label writes the paths where the photos are now.
    other = next(r.photo for r in library.label_ranking(SET, LABEL)
                 if r.photo.path in {str(p) for p in drawn.concept[4:]})
    library.add_tag(other.id, SET, LABEL)
    paths = [e.path for e in library.label_set(SET).learned[LABEL].examples]
    assert str(moved / drawn.concept[0].name) in paths
    assert examples[0] not in paths


def test_bad_requests_are_refused_and_change_nothing(concept_lib, tmp_path: Path) -> None:
    library, drawn = concept_lib
    photos = [str(p) for p in drawn.concept[:4]]
    with pytest.raises(LabelSetError, match="at least 3 example"):
        library.learn_label(LABEL, SET, photos[:2])
    stray = tmp_path / "elsewhere.jpg"
    shutil.copyfile(photos[0], stray)
    with pytest.raises(FolderError, match="not in the library"):
        library.learn_label(LABEL, SET, [*photos[:3], str(stray)])
    with pytest.raises(LabelSetError, match="both as an example and as a negative"):
        library.learn_label(LABEL, SET, photos, negatives=[photos[0]])
    with pytest.raises(LabelSetError, match="described by words"):
        library.learn_label("beach", "scenes", photos)
    assert SET not in {ls.name for ls in library.label_sets()}
    assert not (library.labelsets_dir / "mine.toml").exists()
    library.learn_label(LABEL, SET, photos[:3])
    # The last example cannot be taken away by a rejection: the label would be empty.
    for pid in [library.catalog.photo_by_path(p).id for p in photos[:2]]:
        library.reject_tag(pid, SET, LABEL)
    last = library.catalog.photo_by_path(photos[2]).id
    with pytest.raises(LabelSetError, match="at least one example"):
        library.reject_tag(last, SET, LABEL)
    assert library.tag_state(last, SET, LABEL)[1] == "manual"


def test_rescoring_a_learned_label_decodes_nothing(concept_lib,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    library, drawn = concept_lib
    library.learn_label(LABEL, SET, [str(p) for p in drawn.concept[:4]])

    def no_decoding(*_a, **_k):
        raise AssertionError("a learned label decoded an image")

    monkeypatch.setattr("photoclip.core.indexer.open_photo", no_decoding)
    monkeypatch.setattr("photoclip.core.library.open_photo", no_decoding)
    wrong = next(r.photo for r in library.label_ranking(SET, LABEL)
                 if r.photo.path not in {str(p) for p in drawn.concept})
    library.reject_tag(wrong.id, SET, LABEL)
    # A hand edit of the file (an example removed) re-tags at the next run.
    file = library.labelsets_dir / "mine.toml"
    text = file.read_text()
    first = text.index("{content")
    file.write_text(text[:first] + text[text.index("\n", first) + 1:])
    assert library.index().retagged == [SET]
    assert len(library.label_set(SET).learned[LABEL].examples) == 3


def test_learned_and_word_labels_share_a_set(concept_lib) -> None:
    """A learned label beside word labels: the word labels keep their softmax, the learned
    one is scored against the neutral class alone, so it ranks its photos as it does in a
    set of its own (a personal label refines a word label, it does not compete with it)."""
    library, drawn = concept_lib
    shapes = (Path(__file__).resolve().parents[1] / "data" / "shapes.toml").read_text()
    library.import_label_set(_write(library.folder.parent / "shapes.toml",
                                    shapes.replace("top_k = 1\n", "")))
    examples = [str(p) for p in drawn.concept[:4]]
    library.learn_label(LABEL, "shapes", examples)
    ls = library.label_set("shapes")
    assert ls.labels[-1] == LABEL
    assert ls.is_learned(LABEL)
    assert not ls.is_learned("circle")
    _ids, vecs = library.catalog.all_embeddings(library.embedder.signature)
    scores = library._scorer.scores(ls, vecs)
    words = [i for i, label in enumerate(ls.labels) if label != LABEL]
    assert np.all(scores[:, words].sum(1) <= 1.0 + 1e-5)
    assert np.all((scores >= 0) & (scores <= 1))
    ranked = [r.photo.path for r in library.label_ranking("shapes", LABEL)
              if r.photo.path not in examples]
    assert _precision(ranked, {str(p) for p in drawn.concept}) >= 0.8
    tags = library.all_tags("shapes")
    assert sum(any(t.label == "circle" for t in ts) for ts in tags.values()) >= 5


@pytest.mark.parametrize(("table", "reason"), [
    ('[learned.x]\nexamples = []\n', "at least one example"),
    ('[learned.y]\nexamples = [{ content = "1:abcdef0123", path = "/a" }]\n', "not in 'labels'"),
    ('[learned.x]\nexamples = [{ content = "not a hash", path = "/a" }]\n', "SIZE:HASH"),
    ('[learned.x]\nexamples = [{ content = "1:abcdef0123" }]\nweight = 2\n', "unknown setting"),
])
def test_malformed_learned_tables_name_the_line(table: str, reason: str) -> None:
    with pytest.raises(LabelSetError, match=reason) as info:
        parse_label_set(f'name = "s"\nlabels = ["x"]\n\n{table}', "s.toml")
    assert str(info.value).startswith("s.toml:")
    assert not str(info.value).startswith("s.toml:1:"), "the line of the problem, not line 1"


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
