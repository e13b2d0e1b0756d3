"""The ``photoclip`` command line: parses arguments, calls ``core.Library``, prints.

Contract (scripts rely on it): results on stdout, progress and messages on stderr; ``--json``
output is stable; bad arguments, missing folders and unusable libraries print one line on
stderr and exit 2. ``index`` exits 0 even when some photos failed (they are listed).
A path that is not plain text (bytes that are not UTF-8, a newline in the name) prints in
bash's ``$'…'`` quoting in line output, and with ``\\udcXX`` escapes for its undecodable
bytes in JSON (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

from photoclip import __version__, paths
from photoclip.core.filenames import quote_path

EXIT_USAGE = 2
EXIT_DAMAGED = 1       # `check` found damage
EXIT_BROKEN_PIPE = 141  # what a shell reports for a command whose reader went away


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One clear line, not the whole usage block: scripts show it to people.
        self.exit(EXIT_USAGE, f"photoclip: {message} (see photoclip --help)\n")


def _date(value: str) -> float:
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (use YYYY-MM-DD): {value!r}") from exc


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number: {value!r}")
    return n


def _similarity(value: str) -> float:
    try:
        t = float(value)
    except ValueError:
        t = float("nan")
    if not 0.0 < t <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number above 0 and at most 1: {value!r}")
    return t


def _seconds(value: str) -> float:
    try:
        t = float(value)
    except ValueError:
        t = float("nan")
    if not 0.0 <= t < 1e9:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, 0 or more: {value!r}")
    return t


def _add_global_options(p: argparse.ArgumentParser, *, after_command: bool = False) -> None:
    """--library, --model and -v, before the command or after it (``photoclip gui --library
    DIR`` is what people type). After it they default to nothing, so a value given before
    the command is not overwritten."""
    keep = {"default": argparse.SUPPRESS} if after_command else {}
    p.add_argument("--library", metavar="DIR", **keep,
                   help=f"library folder (default: ${paths.ENV_LIBRARY} or "
                        f"{paths.default_library_dir()})")
    p.add_argument("--model", metavar="SPEC", **keep,
                   help="OpenCLIP model: ARCH:PRETRAINED, hf-hub:ORG/REPO or local-dir:PATH "
                        f"(default: ${paths.ENV_MODEL}, else the library's, else "
                        "ViT-B-32-256:datacomp_s34b_b86k)")
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens", **keep)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="photoclip",
                description="Find photos in your folders by describing them.")
    p.add_argument("--version", action="version", version=f"photoclip {__version__}")
    _add_global_options(p)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    sub.add_parser("gui", help="open the app window (the default)")

    a = sub.add_parser("add", help="add photo folders to the library")
    a.add_argument("folders", nargs="+", metavar="FOLDER")

    r = sub.add_parser("remove", help="forget a folder (the photos on disk are untouched)")
    r.add_argument("folder", metavar="FOLDER")

    i = sub.add_parser("index", help="add FOLDERs if given, then index everything pending")
    i.add_argument("folders", nargs="*", metavar="FOLDER")
    i.add_argument("--batch-size", type=_positive, default=32)
    i.add_argument("--threads", type=_positive, help="decode threads (default: one per core)")
    i.add_argument("--retry-failed", action="store_true",
                   help="try every photo that could not be read again (by default they are "
                        "retried when photoclip's decoders change)")

    def query_options(q: argparse.ArgumentParser, top_help: str) -> None:
        q.add_argument("--top", type=_positive, metavar="N", help=top_help)
        q.add_argument("--json", action="store_true", help="print a JSON list")
        q.add_argument("--folder", help="only photos under this folder")
        q.add_argument("--since", type=_date, metavar="DATE", help="taken on or after DATE")
        q.add_argument("--until", type=_date, metavar="DATE", help="taken before DATE")

    s = sub.add_parser("search", help="find photos matching a description")
    s.add_argument("text", metavar="TEXT")
    query_options(s, "exactly the N best (default: every photo the description is relevant "
                     "to, cut where the scores fall off)")
    s.add_argument("--tag", metavar="LABEL", help="only photos tagged LABEL (or SET:LABEL)")

    lb = sub.add_parser("labels", help="label sets for auto-tagging")
    lsub = lb.add_subparsers(dest="labels_command", metavar="ACTION", required=True,
                             parser_class=_Parser)
    lsub.add_parser("list", help="the library's label sets")
    li = lsub.add_parser("import", help="add or replace a label set from a TOML file")
    li.add_argument("file", metavar="FILE.toml")
    lsh = lsub.add_parser("show", help="a label set's definition and tag counts")
    lsh.add_argument("name", metavar="NAME")
    lr = lsub.add_parser("remove", help="remove a label set and its automatic tags")
    lr.add_argument("name", metavar="NAME")
    ll = lsub.add_parser("learn", help="teach a label by example photos (at least 3 for a "
                         "new label), then tag the library with it")
    ll.add_argument("name", metavar="NAME", help="the label, e.g. 'our dog Rex'")
    ll.add_argument("--set", dest="set_name", metavar="SET", required=True,
                    help="the label set to keep it in (created if new)")
    ll.add_argument("photos", nargs="*", metavar="PHOTO",
                    help="photos of the library that show it")
    ll.add_argument("--negative", nargs="+", action="extend", default=[], metavar="PHOTO",
                    help="photos of the library that do not show it")
    ll.add_argument("--prompt", action="append", default=[], metavar="TEXT",
                    help="words that describe it too (optional; the examples decide how "
                         "much they count)")

    t = sub.add_parser("tag", help="re-tag the library from its label sets and print the tags")
    t.add_argument("--set", dest="set_name", metavar="NAME", help="only this label set")
    t.add_argument("--json", action="store_true", help='print {path: [{"label", "score", '
                   '"set"}...]}')
    t.add_argument("--write-xmp", action="store_true",
                   help="also write the tags to photo.ext.xmp sidecars (photos untouched)")

    m = sub.add_parser("similar", help="find photos like the one at PATH")
    m.add_argument("path", metavar="PATH")
    query_options(m, "how many (default: 20)")

    w = sub.add_parser("watch", help="watch the library's folders and index changes as they "
                       "happen, in the foreground (Ctrl+C stops)")
    w.add_argument("--debounce", type=float, default=0.3, metavar="SECONDS",
                   help="quiet time after an event before a path is looked at")
    w.add_argument("--settle", type=float, default=0.7, metavar="SECONDS",
                   help="how long a file's size must stay the same before it is indexed")
    w.add_argument("--reconcile", type=float, default=900.0, metavar="SECONDS",
                   help="full rescan interval, to catch anything events missed")
    w.add_argument("--poll", action="store_true", help="poll instead of OS events")

    d = sub.add_parser("duplicates", help="list groups of near-duplicate photos (copies, "
                       "resized exports, bursts) with a suggested one to keep; nothing is "
                       "moved or deleted")
    d.add_argument("--threshold", type=_similarity, metavar="T",
                   help="cosine similarity a pair needs to be a candidate, 0 < T <= 1 "
                        "(default: the model's own, see the README)")
    d.add_argument("--burst-seconds", type=_seconds, default=None, metavar="S",
                   help="photos from the same camera at most S seconds apart count as one "
                        "moment (default 5)")
    d.add_argument("--json", action="store_true",
                   help='print [{"similarity", "kind", "photos": [{"path", "width", '
                        '"height", "bytes", "taken_at", "keep"}...]}...]')

    st = sub.add_parser("status", help="what the library holds")
    st.add_argument("--json", action="store_true")

    sub.add_parser("check", help="check the library's catalog thoroughly (SQLite's integrity "
                   "check); exit 1 if it is damaged")
    rp = sub.add_parser("repair", help="salvage a damaged catalog into a new one (the damaged "
                        "file is kept; photos and the search index are not touched)")
    rp.add_argument("--force", action="store_true",
                    help="rebuild the catalog even when the check finds nothing wrong")

    sk = sub.add_parser("skip", help="folders that scans do not look into (thumbnails, "
                        "recycle bins, previews)")
    sksub = sk.add_subparsers(dest="skip_command", metavar="ACTION", required=True,
                              parser_class=_Parser)
    sksub.add_parser("list", help="the patterns in use")
    ska = sksub.add_parser("add", help="also skip folders whose name matches PATTERN")
    ska.add_argument("pattern", metavar="PATTERN", help="shell-style, e.g. 'Exports*'")
    skr = sksub.add_parser("remove", help="stop skipping PATTERN")
    skr.add_argument("pattern", metavar="PATTERN")
    sksub.add_parser("reset", help="back to the default patterns")

    pr = sub.add_parser("pairing", help="whether a RAW file and the JPEG or HEIF beside it "
                        "(same name) are one photo (default: on)")
    pr.add_argument("state", nargs="?", choices=["on", "off"],
                    help="turn it on or off; without it, say which it is")

    for command in [*sub.choices.values(), *lsub.choices.values(), *sksub.choices.values()]:
        _add_global_options(command, after_command=True)
    return p


def _fail(message: str) -> int:
    print(f"photoclip: {message}", file=sys.stderr)
    return EXIT_USAGE


class _Progress:
    """Progress on stderr: one rewritten line on a terminal, a line every few seconds if not."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, p: Any) -> None:
        now = time.monotonic()
        if p.phase == "embed":
            if not self.tty and now - self.last < 5 and p.done < p.total:
                return
            eta = f", {p.eta:.0f}s left" if p.eta else ""
            line = (f"indexing {p.done}/{p.total} photos ({p.rate:.1f}/s{eta}"
                    f"{f', {p.failed} failed' if p.failed else ''})")
        elif p.phase in ("scan", "load-model"):
            line = p.message
        else:
            return
        self.last = now
        if self.tty:
            print(f"\r\033[K{line}", end="", file=sys.stderr, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)

    def finish(self) -> None:
        if self.tty:
            print(file=sys.stderr)


def _print_results(results: list[Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps([r.to_json() for r in results], indent=1))
        return
    if not results:
        print("no matching photos", file=sys.stderr)
    for r in results:
        print(f"{r.score:.3f}  {quote_path(r.photo.path)}")


def _download_progress() -> Any:
    state = {"last": 0.0}

    def report(message: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - state["last"] < 1 and done < total:
            return
        state["last"] = now
        size = f"{done / 1e6:.0f}/{total / 1e6:.0f} MB" if total else f"{done / 1e6:.0f} MB"
        print(f"{message}: {size}", file=sys.stderr, flush=True)

    return report


def run(args: argparse.Namespace) -> int:
    from photoclip.core import Library, PhotoclipError

    library_dir = Path(args.library).expanduser() if args.library else paths.default_library_dir()
    model = args.model or os.environ.get(paths.ENV_MODEL) or None
    if args.command in ("check", "repair"):
        return _catalog_care(library_dir, args)
    readonly = args.command in ("search", "similar", "status", "duplicates") or (
        args.command == "labels" and args.labels_command in ("list", "show")) or (
        args.command == "skip" and args.skip_command == "list") or (
        args.command == "pairing" and args.state is None)
    if args.command == "status" and not (library_dir / "catalog.sqlite").exists():
        if library_dir.exists() and not library_dir.is_dir():
            return _fail(f"not a library folder: {library_dir}")
        empty = {"library": str(library_dir), "model": model, "photos": 0, "indexed": 0,
                 "failed": 0, "pending": 0, "missing": 0, "roots": []}
        if args.json:
            print(json.dumps(empty, indent=1))
        else:
            print(f"library {library_dir}: empty (add a folder: photoclip add FOLDER)")
        return 0
    try:
        kwargs: dict[str, Any] = {}
        if args.command == "index":
            kwargs = {"batch_size": args.batch_size, "decode_threads": args.threads}
        with Library.open(library_dir, model=model, readonly=readonly, **kwargs) as lib:
            return _dispatch(lib, args)
    except PhotoclipError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        print("\ninterrupted; everything indexed so far is kept", file=sys.stderr)
        return 130
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            raise
        # Last resort for a storage failure no layer below put in words.
        from photoclip.core.errors import describe_os_error

        where = f" ({quote_path(exc.filename)})" if exc.filename else ""
        return _fail(f"{describe_os_error(exc)}{where}")


def _catalog_care(library_dir: Path, args: argparse.Namespace) -> int:
    """``check`` and ``repair`` work on the catalog file itself: a damaged catalog cannot
    be opened as a library."""
    from photoclip.core import PhotoclipError
    from photoclip.core.library import CATALOG_NAME, catalog_problems, repair_library

    try:
        if args.command == "check":
            problems = catalog_problems(library_dir)
            if problems:
                more = f" and {len(problems) - 1} more" if len(problems) > 1 else ""
                print(f"photoclip: the library catalog {library_dir / CATALOG_NAME} is "
                      f"damaged ({problems[0]}{more}); run 'photoclip repair'", file=sys.stderr)
                return EXIT_DAMAGED
            print(f"the library catalog {library_dir / CATALOG_NAME} is sound",
                  file=sys.stderr)
            return 0
        report = repair_library(library_dir, force=args.force)
    except PhotoclipError as exc:
        return _fail(str(exc))
    if report is None:
        print("the catalog is sound: nothing to repair (photoclip repair --force rebuilds it "
              "anyway)", file=sys.stderr)
    else:
        print(report.summary(), file=sys.stderr)
    return 0


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    if args.folder and not Path(args.folder).expanduser().is_dir():
        from photoclip.core import FolderError

        raise FolderError(f"folder not found: {args.folder}")
    filters = {"folder": args.folder, "date_from": args.since, "date_to": args.until}
    if getattr(args, "tag", None):
        filters["tag"] = args.tag
    return filters


def _labels(lib: Any, args: argparse.Namespace) -> int:
    action = args.labels_command
    if action == "list":
        sets = lib.label_sets()
        counts = lib.tag_counts()
        edited = set(lib.edited_label_sets())
        for ls in sets:
            tagged = sum(n for (s, _label), n in counts.items() if s == ls.name)
            note = ("; edited since the library was tagged (photoclip index re-tags it)"
                    if ls.name in edited else "")
            print(f"{ls.name}\t{len(ls.labels)} labels, threshold {ls.threshold}, "
                  f"top_k {ls.top_k or 'all'}, {tagged} tags{note}")
    elif action == "show":
        ls = lib.label_set(args.name)
        counts = lib.tag_counts()
        print(ls.source.rstrip())
        print("\n# photos per label")
        for label in ls.labels:
            print(f"#   {label}: {counts.get((ls.name, label), 0)}")
        for label in ls.learned:
            found = lib.learned_examples(ls.name, label)
            gone = [c for _r, c, path, _e in found if path is None]
            unindexed = [c for _r, c, path, embedded in found if path and not embedded]
            print(f"# learned “{label}”: {sum(r == 'example' for r, *_ in found)} examples, "
                  f"{sum(r == 'negative' for r, *_ in found)} negatives"
                  + (f"; {len(gone)} no longer in the library" if gone else "")
                  + (f"; {len(unindexed)} not indexed with this model" if unindexed else ""))
            for role, _content, path, _embedded in found:
                if path is not None:
                    print(f"#   {role}: {quote_path(path)}")
    elif action == "learn":
        label = " ".join(args.name.split())
        ls = lib.learn_label(label, args.set_name, args.photos, args.negative, args.prompt)
        learned = ls.learned[label]
        tagged = lib.tag_counts().get((ls.name, label), 0)
        print(f"learned “{label}” in the set “{ls.name}” from {len(learned.examples)} "
              f"example photos and {len(learned.negatives)} negatives; {tagged} photos carry "
              "it", file=sys.stderr)
    elif action == "import":
        ls = lib.import_label_set(args.file)
        print(f"imported label set {ls.name!r} ({len(ls.labels)} labels) and re-tagged",
              file=sys.stderr)
    elif action == "remove":
        lib.remove_label_set(args.name)
        print(f"removed label set {args.name!r}", file=sys.stderr)
    for problem in lib.label_set_errors:
        print(f"photoclip: ignored, last good version kept: {problem}", file=sys.stderr)
    return 0


def _tag(lib: Any, args: argparse.Namespace) -> int:
    n = lib.tag(args.set_name)
    tags = lib.all_tags(args.set_name)
    if args.json:
        print(json.dumps({path: [{"label": t.label, "score": None if t.score is None else
                                  round(t.score, 4), "set": t.label_set, "source": t.source}
                                 for t in ts] for path, ts in sorted(tags.items())}, indent=1))
    else:
        for path, ts in sorted(tags.items()):
            print(f"{quote_path(path)}: " + ", ".join(f"{t.label_set}:{t.label}" for t in ts))
    print(f"{n} automatic tag{'s' if n != 1 else ''} on {len(tags)} "
          f"photo{'s' if len(tags) != 1 else ''}", file=sys.stderr)
    if args.write_xmp:
        report = lib.write_xmp()
        failed = f", {len(report.failed)} could not be written" if report.failed else ""
        print(f"wrote {len(report.written)} XMP sidecars{failed}", file=sys.stderr)
        for path, reason in report.failed:
            print(f"  not written: {quote_path(path)}: {reason}", file=sys.stderr)
    for problem in lib.label_set_errors:
        print(f"photoclip: ignored, last good version kept: {problem}", file=sys.stderr)
    return 0


def _dispatch(lib: Any, args: argparse.Namespace) -> int:
    cmd = args.command
    if cmd == "add" or (cmd == "index" and args.folders):
        for folder in args.folders:
            root = lib.add_root(folder)
            print(f"added {quote_path(root.path)}", file=sys.stderr)
        if cmd == "add":
            print("run 'photoclip index' to index them (the app does it by itself)",
                  file=sys.stderr)
            return 0
    if cmd == "remove":
        n = lib.remove_root(args.folder)
        print(f"removed {args.folder} ({n} photo{'s' if n != 1 else ''} forgotten; "
              "files untouched)", file=sys.stderr)
        return 0
    if cmd == "index":
        if not lib.catalog.roots():
            print("the library has no folders yet: photoclip index FOLDER", file=sys.stderr)
            return 0
        bar = _Progress()
        try:
            result = lib.index(progress=bar, download=_download_progress(),
                               retry_failed=args.retry_failed)
        finally:
            bar.finish()
        s, i = result.scan, result.index
        print(f"scan: {s.new} new, {s.changed} changed, {s.moved} moved, "
              f"{s.missing} missing, {s.returned} back", file=sys.stderr)
        for root in s.offline_roots:
            print(f"offline (skipped, nothing removed): {quote_path(root)}", file=sys.stderr)
        retried = f", {result.retried} failed before and tried again" if result.retried else ""
        print(f"indexed {i.embedded} photos in {i.seconds:.1f}s ({i.rate:.1f}/s), "
              f"{len(i.failed)} failed{retried}", file=sys.stderr)
        for path, reason in i.failed:
            print(f"  failed: {quote_path(path)}: {reason}", file=sys.stderr)
        for warning in result.warnings:
            print(f"photoclip: {warning}", file=sys.stderr)
        if result.retagged:
            print("re-tagged the library for edited label sets: " + ", ".join(result.retagged),
                  file=sys.stderr)
        if result.retag_error:
            print(f"photoclip: label sets were edited but not re-tagged yet: "
                  f"{result.retag_error}", file=sys.stderr)
        for problem in lib.label_set_errors:
            print(f"photoclip: ignored, last good version kept: {problem}", file=sys.stderr)
        return 0
    if cmd == "watch":
        return _watch(lib, args)
    if cmd == "labels":
        return _labels(lib, args)
    if cmd == "skip":
        return _skip(lib, args)
    if cmd == "pairing":
        if args.state is not None:
            changed = lib.set_pairing(args.state == "on")
            print(f"RAW+JPEG pairing {args.state} ({changed} RAW files joined or left a "
                  "pair)", file=sys.stderr)
        print("on" if lib.pairing() else "off")
        return 0
    if cmd == "tag":
        return _tag(lib, args)
    if cmd == "search" and args.tag:
        why = lib.unknown_tag(args.tag)
        if why:
            return _fail(why)
    if cmd == "search":
        if args.top is not None:
            _print_results(lib.search(args.text, args.top, **_filters(args)), args.json)
            return 0
        found = lib.search_matches(args.text, **_filters(args))
        if found.results and not found.clear:
            print(f"photoclip: no photo clearly matches {args.text!r}; these are the closest "
                  "(--top N shows more)", file=sys.stderr)
        _print_results(found.results, args.json)
        return 0
    if cmd == "similar":
        if not Path(args.path).expanduser().is_file():
            return _fail(f"file not found: {args.path}")
        _print_results(lib.similar(args.path, args.top or 20, **_filters(args)), args.json)
        return 0
    if cmd == "duplicates":
        return _duplicates(lib, args)
    if cmd == "status":
        st = lib.status()
        if args.json:
            print(json.dumps(st.to_json(), indent=1))
            return 0
        print(f"library  {st.library}\nmodel    {st.model}\n"
              f"photos   {st.photos} ({st.indexed} indexed, {st.pending} pending, "
              f"{st.failed} failed; {st.missing} missing)")
        for r in st.roots:
            state = ("online" if r.online else "OFFLINE") + (", polled" if r.polling else "")
            unreadable = f", {r.unreadable} unreadable" if r.unreadable else ""
            count = f"{r.photos} photos" if r.scanned else "not scanned yet"
            print(f"  {quote_path(r.path)}  {count}{unreadable}  {state}")
        pr = st.precision
        if pr:
            print(f"compute  {pr['cpu_class']} CPU"
                  + (f" (detected {pr['detected_cpu_class']})"
                     if pr.get("detected_cpu_class") not in (None, pr["cpu_class"]) else "")
                  + f"; image tower {pr['image']}, text tower {pr['text']}\n"
                  f"         {pr['reason']}\n"
                  f"         searches embed a query with the {pr['search']}")
        return 0
    raise AssertionError(f"unhandled command {cmd}")


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def _duplicates(lib: Any, args: argparse.Namespace) -> int:
    from photoclip.core.duplicates import BURST_SECONDS

    tty = sys.stderr.isatty()

    def progress(p: Any) -> None:
        if tty:
            print(f"\r\033[K{p.message}", end="", file=sys.stderr, flush=True)

    report = lib.find_duplicates(
        threshold=args.threshold, progress=progress,
        burst_seconds=BURST_SECONDS if args.burst_seconds is None else args.burst_seconds)
    if tty:
        print("\r\033[K", end="", file=sys.stderr, flush=True)
    groups = report.groups
    if args.json:
        print(json.dumps([g.to_json() for g in groups], indent=1))
    for n, g in enumerate([] if args.json else groups, 1):
        print(f"group {n}: {len(g.photos)} photos, {g.kind}, similarity {g.similarity:.3f}")
        for p in g.photos:
            when = (datetime.fromtimestamp(p.taken_at).strftime("%Y-%m-%d %H:%M:%S")
                    if p.taken_at is not None else "no date")
            mark = "keep" if p is g.keep else "    "
            print(f"  {mark}  {p.width}x{p.height}  {_size(p.size):>9}  {when}  "
                  f"{quote_path(p.path)}")
    spare = sum(p.size for g in groups for p in g.others)
    print(f"{len(groups)} groups of near-duplicates among {report.photos} photos "
          f"(threshold {report.threshold:.3f}); the photos not marked keep take "
          f"{_size(spare)}", file=sys.stderr)
    for path, reason in report.unreadable:
        print(f"  could not compare {quote_path(path)}: {reason}", file=sys.stderr)
    return 0


def _skip(lib: Any, args: argparse.Namespace) -> int:
    action = args.skip_command
    patterns = lib.skip_folders()
    if action == "add":
        patterns = lib.set_skip_folders([*patterns, args.pattern])
    elif action == "remove":
        if args.pattern not in patterns:
            return _fail(f"not a skip pattern: {args.pattern!r} (see photoclip skip list)")
        patterns = lib.set_skip_folders([p for p in patterns if p != args.pattern])
    elif action == "reset":
        patterns = lib.set_skip_folders(None)
    for pattern in patterns:
        print(pattern)
    if action != "list":
        print("applied at the next scan (photoclip index, or the app)", file=sys.stderr)
    return 0


def _watch(lib: Any, args: argparse.Namespace) -> int:
    import signal
    import threading

    from photoclip.core.watcher import FolderWatcher

    logging.getLogger("photoclip").setLevel(logging.INFO)
    stop = threading.Event()

    def request_stop(_signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    if not lib.catalog.roots():
        return _fail("the library has no folders to watch: photoclip add FOLDER")
    watcher = FolderWatcher(lib, debounce=args.debounce, settle=args.settle,
                            reconcile_every=args.reconcile, force_polling=args.poll)
    watcher.start()
    n = len(lib.catalog.roots())
    print(f"watching {n} folder{'s' if n != 1 else ''} of {lib.folder}; Ctrl+C stops",
          file=sys.stderr, flush=True)
    while not stop.wait(0.5):
        if not watcher.running:
            return _fail("the watcher stopped unexpectedly")
    print("stopping: finishing the batch in flight…", file=sys.stderr, flush=True)
    watcher.stop(timeout=4.0)
    print("stopped; everything indexed so far is kept", file=sys.stderr)
    return 0


class OneLineFormatter(logging.Formatter):
    """A record's message only: a traceback a last-resort handler logged stays out of
    what people read (``-v`` shows it)."""

    def format(self, record: logging.LogRecord) -> str:
        bare = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None,
                                      "stack_info": None})
        return super().format(bare)


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """``parser.parse_args``, except that photos given after ``--set SET`` in ``labels learn
    NAME --set SET PHOTO...`` are its photos: argparse gives a ``*`` positional nothing once
    an option comes between it and the name."""
    args, extra = parser.parse_known_args(argv)
    if extra and getattr(args, "labels_command", None) == "learn" and not any(
            e.startswith("-") for e in extra):
        args.photos = [*args.photos, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parse(parser, argv)
    # Messages are one line in words; the logger's name and tracebacks are for those who
    # asked (-v).
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s")
                         if args.verbose else OneLineFormatter("photoclip: %(message)s"))
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        handlers=[handler])
    if args.command in (None, "gui"):
        from photoclip.gui.app import main as gui_main

        return gui_main(args)
    # A path no print site quoted must not end the run in an encoding error.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    try:
        code = run(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`photoclip status --json | head`): not an error of ours.
        # Point stdout at nothing so the interpreter's final flush stays quiet too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return code


if __name__ == "__main__":
    raise SystemExit(main())
