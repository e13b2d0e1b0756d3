"""What the command line prints when something unexpected is logged."""

from __future__ import annotations

import logging
import sys

from photoclip.cli import OneLineFormatter


def test_a_logged_exception_prints_one_line_without_its_traceback() -> None:
    try:
        {}["missing"]
    except KeyError:
        record = logging.LogRecord("photoclip.core.indexer", logging.ERROR, __file__, 1,
                                   "unexpected error decoding %s", ("/photos/a.jpg",),
                                   sys.exc_info())
    text = OneLineFormatter("photoclip: %(message)s").format(record)
    assert text == "photoclip: unexpected error decoding /photos/a.jpg"
    # The record itself keeps the traceback, for -v and for any other handler.
    assert "Traceback" in logging.Formatter().format(record)
