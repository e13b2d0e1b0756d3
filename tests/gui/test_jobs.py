"""Jobs and threads in the real window (issue 11): two lanes, pause, the Jobs window, a
watcher that never touches a folder on the GUI thread, drives that come back while a long
job runs, and errors in words.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from photoclip.core import Library
from photoclip.gui.controller import ModelState, View, describe_error
from photoclip.gui.jobs import JobState
from tests.conftest import SHAPES_SPEC, draw_photos
from tests.gui.test_main_window import (
    _answer_next_dialog,
    _idle,
    _index_by_drop,
    _model_ready,
    _status,
    _watched_drive,
)

pytestmark = pytest.mark.slow

# What a person must never read in the app: a command to type, a flag, a shell builtin,
# an exception class.
NOT_FOR_PEOPLE = re.compile(r"photoclip (add|remove|index|search|similar|status|check|repair|"
                            r"skip|pairing|watch|labels|tag|duplicates|gui)\b|--[a-z]|ulimit|"
                            r"[A-Z][a-z]+Error\b")


def _start_slow_index(qtbot, window, folder: Path, n: int = 400, seed: int = 60) -> Any:
    """A folder added while the app runs, indexing in batches of 8, paused once under way:
    the bulk lane stays busy for as long as the test likes."""
    draw_photos(folder, n, seed=seed, size=(640, 480))
    window.controller._library.indexer.batch_size = 8
    seen: list = []
    window.controller.jobs.changed.connect(lambda job: seen.append(job))
    window.controller.add_folders([str(folder)])
    name = f"Indexing {folder.name}"
    qtbot.waitUntil(lambda: any(j.title == name and j.done >= 8 for j in seen), timeout=60000)
    job = next(j for j in seen if j.title == name)
    job.set_paused(True)
    return job


def _spy_on_files(monkeypatch: pytest.MonkeyPatch, under: Path) -> list[tuple[str, str]]:
    """Record every look at a path under ``under`` made on the GUI thread."""
    touched: list[tuple[str, str]] = []
    prefix = str(under)

    def spy(owner: Any, name: str) -> None:
        real: Callable[..., Any] = getattr(owner, name)

        def look(path: Any, *args: Any, **kwargs: Any) -> Any:
            if threading.current_thread() is threading.main_thread() and \
                    os.fsdecode(path).startswith(prefix):
                touched.append((name, os.fsdecode(path)))
            return real(path, *args, **kwargs)

        monkeypatch.setattr(owner, name, look)

    for owner, name in ((os.path, "isdir"), (os.path, "exists"), (os, "stat"),
                        (os, "scandir"), (os, "listdir")):
        spy(owner, name)
    return touched


def test_starting_the_app_looks_at_no_folder_on_the_gui_thread(
        qtbot, make_window, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    photos = tmp_path / "photos"
    draw_photos(photos / "2024", 6, seed=61)
    library = tmp_path / "library"
    with Library.open(library, model=SHAPES_SPEC) as lib:
        lib.add_root(photos)
    window = make_window(library=library)
    touched = _spy_on_files(monkeypatch, photos)
    window.controller.start(load_model=True)
    watcher = window.controller.watcher
    assert watcher is not None
    qtbot.waitUntil(lambda: str(photos) in watcher._watches, timeout=20000)
    qtbot.waitUntil(lambda: _status(window).indexed == 6, timeout=60000)
    _idle(qtbot, window)
    # (The window's guard fails the test if a Library or Catalog method ran here too.)
    assert touched == []


def test_a_drive_comes_back_online_while_a_long_job_runs(qtbot, window,
                                                        tmp_path: Path) -> None:
    drive = tmp_path / "drive"
    _watched_drive(qtbot, window, drive, 4, seed=62)
    job = _start_slow_index(qtbot, window, tmp_path / "many")
    item = lambda: window.sidebar.topLevelItem(0).text(0)  # noqa: E731
    parked = tmp_path / "parked"
    drive.rename(parked)
    qtbot.waitUntil(lambda: "offline" in item(), timeout=10000)
    parked.rename(drive)
    qtbot.waitUntil(lambda: "4 photos" in item() and "offline" not in item(), timeout=10000)
    assert job.state is JobState.PAUSED   # the bulk lane was busy all along
    window.controller.cancel_job(job)
    _idle(qtbot, window)


def test_interactive_work_never_waits_behind_indexing(qtbot, window, tmp_path: Path) -> None:
    shapes = Path(__file__).resolve().parents[1] / "data" / "shapes.toml"
    (Path(window.controller.library_folder) / "labelsets").mkdir(exist_ok=True)
    draw_photos(tmp_path / "first", 24, seed=63)
    _model_ready(qtbot, window)
    _index_by_drop(qtbot, window, tmp_path / "first", expect=24)
    index_job = _start_slow_index(qtbot, window, tmp_path / "many", n=300)
    from photoclip.core.tagging import read_label_set

    retag = window.controller.save_label_set(read_label_set(shapes))
    assert retag is not None
    assert retag.interactive
    qtbot.waitUntil(lambda: retag.wrapped_up, timeout=30000)
    assert retag.state is JobState.DONE
    assert index_job.state is JobState.PAUSED   # it ran beside the paused index
    # The status bar shows what runs; the Jobs window lists both lanes' work.
    window.controller.pause_jobs(False)
    index_job.set_paused(False)
    _idle(qtbot, window, timeout=180000)
    # Tags written by the batches around the re-tag agree with tagging everything afresh.
    app_lib = window.controller._library
    got = _tags_of(app_lib, "shapes")
    worker = threading.Thread(target=app_lib.tag, args=("shapes",))
    worker.start()
    worker.join()
    assert _tags_of(app_lib, "shapes") == got
    assert len(got) >= 300


def _tags_of(lib: Library, set_name: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}

    def read() -> None:
        for path, tags in lib.all_tags(set_name).items():
            out[path] = {t.label for t in tags}

    worker = threading.Thread(target=read)   # the window's guard: never on the GUI thread
    worker.start()
    worker.join()
    return out


def test_pause_holds_progress_and_the_jobs_window_lists_the_work(qtbot, window,
                                                                tmp_path: Path) -> None:
    _model_ready(qtbot, window)
    job = _start_slow_index(qtbot, window, tmp_path / "many", n=240)
    qtbot.waitUntil(lambda: window.pause_btn.text() == "Resume", timeout=5000)
    held = job.done
    qtbot.wait(1500)   # what a pause promises is that nothing moves for a while
    assert job.done <= held + 8   # at most the batch that was in flight
    held = job.done
    qtbot.wait(1000)
    assert job.done == held
    qtbot.mouseClick(window.jobs_button, Qt.MouseButton.LeftButton)
    dialog = window.jobs_dialog
    assert dialog is not None
    assert dialog.isVisible()
    rows = [dialog.tree.topLevelItem(i) for i in range(dialog.tree.topLevelItemCount())]
    assert any(r.text(0) == "Indexing many" for r in rows)
    # With no row picked, the line below is the running job's, not the first row's.
    assert rows[0].text(0) != "Indexing many"
    assert dialog.detail.text().startswith("Indexing many: ")
    qtbot.mouseClick(window.pause_btn, Qt.MouseButton.LeftButton)   # resume
    qtbot.waitUntil(lambda: job.done > held, timeout=30000)
    _idle(qtbot, window, timeout=180000)
    assert job.state is JobState.DONE
    assert _status(window).indexed == 240
    dialog.close()


def _about_text(qtbot, window) -> tuple[str, str]:
    """What Help → About says, and its details, once the window is idle."""
    _idle(qtbot, window)
    seen = _answer_next_dialog(qtbot, lambda box: box.accept())
    window.controller.request_about()
    qtbot.waitUntil(lambda: bool(seen), timeout=10000)
    return seen[0]["text"], seen[0]["details"]


def test_about_says_why_the_model_is_not_running(qtbot, make_window, tmp_path: Path) -> None:
    window = make_window(model=f"local-dir:{tmp_path / 'no-such-model'}")
    with qtbot.waitSignal(window.controller.model_state, timeout=30000,
                          check_params_cb=lambda s, _m: s is ModelState.UNAVAILABLE):
        window.controller.load_model()
    text, _details = _about_text(qtbot, window)
    assert "not running" in text
    assert "no-such-model" in text
    assert "not loaded yet" not in text
    assert not NOT_FOR_PEOPLE.search(text), text


def test_about_says_in_words_where_the_model_runs_and_in_what(qtbot, make_window) -> None:
    window = make_window()
    with qtbot.waitSignal(window.controller.model_state, timeout=30000,
                          check_params_cb=lambda s, _m: s is ModelState.READY):
        window.controller.load_model()
    text, details = _about_text(qtbot, window)
    assert "Runs on: this computer's processor\n" in text
    assert "Runs on: a processor with" in details or "Runs on: an Intel processor" in details
    assert "CPU (cpu)" not in text + details
    # Words for anyone on top (the test model's ResNet tower takes no int8); the machine's
    # terms under Show Details.
    assert "Photos are analysed at full precision." in text
    assert "Searches start at once" in text
    assert not re.search(r"tower|fp32|cosine|numpy", text), text
    assert "Image tower: fp32. Text tower: fp32." in details
    assert "Why: " in details
    assert not NOT_FOR_PEOPLE.search(text + details), text + details


def test_errors_the_app_shows_name_no_command(tmp_path: Path, shapes_embedder) -> None:
    from photoclip.core import PhotoclipError
    from photoclip.core.catalog import Catalog, damaged_error
    from photoclip.core.embedder import Embedder

    errors: list[PhotoclipError] = [damaged_error(tmp_path / "catalog.sqlite", "malformed")]
    empty = tmp_path / "empty" / "catalog.sqlite"
    empty.parent.mkdir()
    empty.write_bytes(b"")
    with pytest.raises(PhotoclipError) as caught:
        Catalog(empty)
    errors.append(caught.value)
    with pytest.raises(PhotoclipError) as caught:
        Embedder(f"local-dir:{tmp_path / 'nothing-here'}").load()
    errors.append(caught.value)
    photos = tmp_path / "photos"
    draw_photos(photos, 2, seed=64)
    with Library.open(tmp_path / "lib", embedder=shapes_embedder) as lib:
        with pytest.raises(PhotoclipError) as caught:
            Library.open(tmp_path / "lib")    # a second writer
        errors.append(caught.value)
        lib.add_root(photos)
        lib.scan()
        with pytest.raises(PhotoclipError) as caught:
            lib.learn_label("x", "mine", [str(p) for p in photos.glob("*.jpg")])
        errors.append(caught.value)
    for exc in errors:
        shown = describe_error(exc)
        assert shown
        assert not NOT_FOR_PEOPLE.search(shown), shown
    # The command line still says what to type.
    assert "photoclip repair" in str(errors[0])


def test_settings_that_cannot_be_saved_are_said_in_words(qtbot, window, app_env: Path,
                                                        allow_log) -> None:
    allow_log("settings could not be saved")
    config = app_env / "config"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("a file where the settings folder should be")
    with qtbot.waitSignal(window.controller.error, timeout=10000) as said:
        window.controller.save_settings(window.settings)
    assert said.args[0].startswith("Your settings could not be saved: ")
    assert not NOT_FOR_PEOPLE.search(said.args[0]), said.args[0]


def test_the_watcher_beside_indexing_in_the_app_then_closing_mid_run(
        qtbot, window, tmp_path: Path) -> None:
    watched = tmp_path / "watched"
    _watched_drive(qtbot, window, watched, 4, seed=65)
    failed: list = []
    window.controller.jobs.changed.connect(
        lambda job: job.state is JobState.FAILED and failed.append(job.title))
    job = _start_slow_index(qtbot, window, tmp_path / "many", n=160)
    # Photos land in the watched folder while the added folder indexes: the watcher's
    # change waits in the bulk lane behind it, and is not lost.
    for path, _ in draw_photos(tmp_path / "incoming", 6, seed=66):
        path.rename(watched / path.name)
    job.set_paused(False)
    qtbot.waitUntil(lambda: _status(window).indexed == 4 + 160 + 6, timeout=180000)
    _idle(qtbot, window)
    assert failed == []
    # Closing in the middle of the next run, with the watcher alive, stops both cleanly.
    second = _start_slow_index(qtbot, window, tmp_path / "more", n=160, seed=67)
    second.set_paused(False)
    watcher = window.controller.watcher
    assert watcher is not None
    assert watcher.running
    window.close()
    assert not watcher.running
    assert second.state.finished
    with Library.open(window.controller.library_folder, model=SHAPES_SPEC) as lib:
        assert lib.check() == []      # the catalog is sound, and the write lock released
        assert lib.status().indexed >= 4 + 160 + 6 + 8


def test_a_pause_is_not_counted_in_the_rate_or_the_time_left(qtbot) -> None:
    from photoclip.gui.jobs import Job

    job = Job("Indexing", lambda _j: None)
    job.state = JobState.RUNNING
    job.report(0, 100)
    job.report(10, 100)
    assert job.rate > 0
    assert "/s" in job.summary()
    job.set_paused(True)
    assert job.summary() == "10 of 100 photos · paused"
    job.set_paused(False)
    assert job.rate == 0.0        # measured afresh from the next batches, not over the pause
    assert job.eta is None
    job.report(20, 100)
    job.report(30, 100)
    assert job.rate > 0


def test_cancel_stops_indexing_and_no_run_is_queued_twice(qtbot, window,
                                                          tmp_path: Path) -> None:
    _model_ready(qtbot, window)
    job = _start_slow_index(qtbot, window, tmp_path / "many", n=200)
    # The watcher's first look at the folders waits behind it (an indexing run too).
    window.controller.start_watching()
    def waiting() -> list:
        return [j for j in window.controller.jobs.jobs
                if j.indexes and j.state is JobState.QUEUED]

    qtbot.waitUntil(lambda: bool(waiting()), timeout=20000)
    behind = waiting()
    # Asking to index again while a run waits to start: that run, not a second one.
    assert window.controller.index_now() is behind[0]
    window.controller.cancel_job()     # the status bar's Cancel
    _idle(qtbot, window)
    assert job.state is JobState.CANCELLED
    assert [j.state for j in behind] == [JobState.CANCELLED] * len(behind)
    assert _status(window).indexed < 200   # nothing went on indexing behind the Cancel


def test_a_move_to_the_trash_that_left_photos_says_why_in_its_one_line() -> None:
    from photoclip.core.trash import TrashedFile, TrashFailure, TrashResult
    from photoclip.gui.controller import trash_outcome

    ro = "cannot write to this folder: read-only file system"
    moved = [TrashedFile("/p/a.jpg", 1)]
    stuck = [TrashFailure(f"/ro/{i}.jpg", ro, 10 + i) for i in range(4)]
    assert trash_outcome(TrashResult(0.0, moved)) == "Moved 1 photo to the trash"
    assert trash_outcome(TrashResult(0.0, [], stuck)) == (
        f"4 photos could not be moved to the trash: {ro}")
    assert trash_outcome(TrashResult(0.0, moved, stuck)) == (
        f"Moved 1 photo to the trash; 4 could not be moved: {ro}")
    mixed = [*stuck, TrashFailure("/x.jpg", "file not found", 20)]
    assert trash_outcome(TrashResult(0.0, moved, mixed)) == (
        f"Moved 1 photo to the trash; 5 could not be moved: {ro} (and 1 other reason)")


def test_jobs_that_end_together_are_summed_up_together(qtbot, window) -> None:
    from photoclip.gui.jobs import Job

    gate = threading.Event()
    first = Job("Writing tags", lambda _j: gate.wait(30))
    second = Job("Finding duplicates", lambda _j: None)
    broken = Job("Checking", lambda _j: 1 / 0)
    first.finished.connect(lambda j: setattr(j, "outcome", "Wrote 3 sidecars"))
    second.finished.connect(lambda j: setattr(j, "outcome", "No duplicates"))
    broken.finished.connect(lambda j: setattr(j, "outcome", "the disk is full"))
    for job in (first, second, broken):
        window.controller.jobs.submit(job)
    gate.set()
    qtbot.waitUntil(lambda: broken.wrapped_up, timeout=10000)
    assert window.statusBar().currentMessage() == (
        "Wrote 3 sidecars  ·  No duplicates  ·  Checking: the disk is full")
    second.changed.emit(second)   # a job heard of again is not summed up twice
    assert window.statusBar().currentMessage().count("No duplicates") == 1


def test_a_scan_that_indexed_nothing_says_only_what_happened() -> None:
    from photoclip.core.indexer import IndexSummary
    from photoclip.core.library import RunSummary
    from photoclip.core.scanner import ScanSummary
    from photoclip.gui.controller import _index_outcome
    from photoclip.gui.jobs import Job

    job = Job("Checking folders for changes", lambda _j: None)
    job.state = JobState.DONE
    job.result = RunSummary(ScanSummary(new=0, moved=2, missing=1), IndexSummary())
    assert _index_outcome(job) == "Folders checked: 2 moved, 1 gone"
    job.result = RunSummary(ScanSummary(changed=1, returned=1200), IndexSummary())
    assert _index_outcome(job) == "Folders checked: 1 changed, 1,200 back"
    job.result = RunSummary(ScanSummary(unchanged=5), IndexSummary())
    assert _index_outcome(job) == ""
    # A run queued for added folders names them: two ending together read alike.
    job.result = RunSummary(ScanSummary(new=240), IndexSummary(embedded=240))
    assert _index_outcome(job) == "Indexed 240 photos"
    job.folders = ["/photos/camera2"]
    assert _index_outcome(job) == "Indexed 240 photos in camera2"
    job.result = RunSummary(ScanSummary(new=1), IndexSummary(embedded=1))
    job.folders = ["/photos/a", "/photos/b"]
    assert _index_outcome(job) == "Indexed 1 photo in a and b"


def test_the_status_bar_says_what_runs_next(qtbot, window, tmp_path: Path) -> None:
    _model_ready(qtbot, window)
    job = _start_slow_index(qtbot, window, tmp_path / "many", n=120)
    draw_photos(tmp_path / "second", 3, seed=61)
    draw_photos(tmp_path / "third", 3, seed=62)
    window.controller.add_folders([str(tmp_path / "second")])
    # The whole line is the tooltip; the button's text is elided to the status bar's room.
    qtbot.waitUntil(lambda: window.jobs_button.toolTip().startswith(
        "Indexing many: ") and "  ·  next: Indexing second\n" in window.jobs_button.toolTip(),
        timeout=10000)
    # A run waiting to start scans every folder: the one added now joins it, by name.
    window.controller.add_folders([str(tmp_path / "third")])
    qtbot.waitUntil(lambda: "  ·  next: Indexing second and third\n"
                    in window.jobs_button.toolTip(), timeout=10000)
    # A folder that waits for its scan does not read as empty, in the list or the grid.
    def folder_item(name: str):
        items = window.sidebar.folder_items()
        return next((i for i in items if i.text(0).startswith(f"{name} — ")), None)

    qtbot.waitUntil(lambda: folder_item("second") is not None, timeout=10000)
    assert folder_item("second").text(0) == "second — waiting for its first scan"
    assert "Waiting for its first scan" in folder_item("second").toolTip(0)
    window.set_view(View(folder=str(tmp_path / "second")))
    qtbot.waitUntil(lambda: "first scan" in window.view_note.text(), timeout=10000)
    job.set_paused(False)
    _idle(qtbot, window, timeout=180000)
    assert _status(window).indexed == 126
    qtbot.waitUntil(lambda: folder_item("second").text(0) == "second — 3 photos",
                    timeout=10000)
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=10000)
