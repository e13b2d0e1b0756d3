"""File names as the OS has them, and as people and scripts are shown them.

In memory a path is the OS's ``str``: on POSIX, bytes that are not valid UTF-8 are carried
as lone surrogates (``os.fsdecode``'s ``surrogateescape``), so ``open()`` and ``os.stat()``
get the exact bytes back. Such a string cannot be printed or encoded as UTF-8 as it is, and
a name may also hold a newline or other control characters. Three helpers cover the uses:

- :func:`display_path` for people (window, messages): always printable, one line;
- :func:`quote_path` for line-based command output: unchanged when the name is plain,
  otherwise bash's ``$'…'`` quoting, which a shell turns back into the exact bytes;
- :func:`path_bytes` for storage: the exact bytes of a path that is not valid UTF-8.
"""

from __future__ import annotations

import os

_SURROGATES = range(0xDC80, 0xDD00)   # surrogateescape's range: one per undecodable byte
REPLACEMENT = "\ufffd"


def is_plain(path: str) -> bool:
    """True when ``path`` is valid Unicode with no control characters (prints as is)."""
    return not any(ord(c) < 0x20 or ord(c) == 0x7F or 0xD800 <= ord(c) <= 0xDFFF
                   for c in path)


def encodable(path: str) -> bool:
    """True when ``path`` can be stored and printed as UTF-8 text."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def path_bytes(path: str) -> bytes:
    """The exact bytes the OS has for ``path`` (lossless inverse of ``os.fsdecode``)."""
    return os.fsencode(path)


def display_path(path: str | os.PathLike[str]) -> str:
    """``path`` for a person to read: undecodable bytes and control characters become
    U+FFFD (as file managers show them), so it is one printable line. Not for opening:
    keep the original string for that."""
    text = os.fspath(path)
    if is_plain(text):
        return text
    return "".join(REPLACEMENT if (ord(c) < 0x20 or ord(c) == 0x7F
                                   or 0xD800 <= ord(c) <= 0xDFFF) else c for c in text)


def quote_path(path: str | os.PathLike[str]) -> str:
    """``path`` as one line of command output that names the exact file.

    A plain name (valid Unicode, no control characters, not starting with ``$'``) is
    returned unchanged, so ordinary output stays as it always was. Any other name is
    written the way bash's ``$'…'`` quoting reads it back: ``$'/photos/caf\\xe9.jpg'``,
    ``$'/photos/new\\nline.jpg'``. Pasting it into a shell names the same file.
    """
    text = os.fspath(path)
    if is_plain(text) and not text.startswith("$'"):
        return text
    out = []
    for c in text:
        code = ord(c)
        if code in _SURROGATES:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif c == "\\":
            out.append("\\\\")
        elif c == "'":
            out.append("\\'")
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            # A lone surrogate that is not an escaped byte (Windows names): its UTF-16 value.
            out.append(f"\\u{code:04x}")
        else:
            out.append(c)
    return "$'" + "".join(out) + "'"
