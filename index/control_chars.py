"""Control characters from documents and file names: removed from stored text, shown escaped when printed.

A document can hold ESC sequences (clear the screen, OSC 8 links, OSC 52 clipboard writes, window
titles) that a terminal would obey if we printed them; file names can hold newlines that split a
printed line. Ingest removes escape sequences whole and other C0/C1 controls from text and titles (a
build log's "\x1b[1;32mSUCCESS" is stored "SUCCESS", not "[1;32mSUCCESS"), and every print point shows
whatever is still not printable as a visible escape such as `\\x1b`.
"""
from __future__ import annotations

import re
import unicodedata

# C0 and C1 controls and DEL, except tab, newline and form feed (a page break in text files).
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0d-\x1f\x7f-\x9f]")
# Unicode categories a terminal does not show as themselves: controls, format characters (bidi
# overrides, zero-width), surrogates, private use, unassigned, line and paragraph separators.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_SHOWN = frozenset({"\u00ad"})  # a soft hyphen is common in PDF text and harmless


# A terminal's escape sequence whole: CSI (colours, cursor: ESC [ ... or the one-byte 0x9b), OSC (titles, links:
# ESC ] ... BEL or ESC \), or a two-byte escape.
# An OSC left open ends at the line's end: a stray "ESC ]" in a document takes no more than its line.
_SEQUENCE = re.compile(r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")


def remove_sequences(text: str) -> str:
    """The text without terminal escape sequences, whole, and other controls: what a user pasting coloured output
    means to type ("How long does\x1b[31m defrosting take?" is "How long does defrosting take?")."""
    return remove_controls(_SEQUENCE.sub("", text))


def remove_controls(text: str) -> str:
    """The text without C0/C1 control characters other than tab, newline and form feed."""
    return _CONTROLS.sub("", text)


def one_line(text: str) -> str:
    """The text without escape sequences and controls, its whitespace runs made single spaces (for titles)."""
    return " ".join(remove_sequences(text).split())


def visible(text: str, keep_lines: bool = False) -> str:
    """The text with every non-printable character escaped (`\\x1b`, `\\n`); `keep_lines` keeps newlines and tabs."""
    if text.isprintable():
        return text
    kept = "\n\t" if keep_lines else ""
    return "".join(ch if ch in kept or not _hidden(ch) else ascii(ch)[1:-1] for ch in text)


def _hidden(ch: str) -> bool:
    return unicodedata.category(ch) in _HIDDEN and ch not in _SHOWN
