"""Text that came from a bundle, made safe to print on a terminal.

A bundle's manifest is written by whoever holds a signing key, and a store's folder and file
names by whoever can write to the store; neither is this machine's user. Printed raw, an ESC
or CSI sequence in a study title can move the cursor, rewrite earlier lines ("Received …"),
set the window title or, on some terminals, answer back into the input; a bidi override
(U+202E) makes a name read backwards from some point on. :func:`printable` therefore shows every such
character as a visible escape instead of passing it through.
"""

from __future__ import annotations

import unicodedata

# Joiners that some scripts need to render correctly (Persian, Indic); they move nothing.
_KEEP = frozenset("\u200c\u200d")
# Control (C0, DEL, C1), format (bidi overrides and isolates, zero-width and invisible
# characters), lone surrogates (which cannot even be encoded for the terminal), and the line
# and paragraph separators, which break a line like a newline does.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def is_hidden(ch: str) -> bool:
    """True for a character that could act on the terminal or hide what text says."""
    return ch not in _KEEP and unicodedata.category(ch) in _HIDDEN


def _escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: object) -> str:
    """TEXT with every control, format and separator character shown as a visible escape
    (ESC becomes ``\\x1b``, a right-to-left override ``\\u202e``), so that nothing from a
    bundle or a store reaches the screen as an instruction to the terminal."""
    text = str(text)
    if not any(is_hidden(ch) for ch in text):
        return text
    return "".join(_escape(ch) if is_hidden(ch) else ch for ch in text)


def one_line(text: object) -> str:
    """TEXT as one line of words a person typed: every control, format and separator character
    becomes a space and runs of spaces one. For notes and hand corrections, which end up in
    XML (DOCX, .qdpx), where a control character makes the whole document unreadable, and in
    one-line formats (a WebVTT NOTE, a CSV cell)."""
    return " ".join("".join(" " if is_hidden(ch) else ch for ch in str(text)).split())
