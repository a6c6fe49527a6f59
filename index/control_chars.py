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

from index.spelling import spelt_out

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


# Full-width forms of ASCII (a CJK input method's "ｂａｔｔｅｒｙ") and the ideographic space: what was meant
# is ASCII.
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def as_typed(text: str) -> str:
    """A question or query as its user meant it: bytes that were not UTF-8 replaced (a terminal in Latin-1 gives
    "caf\udce9"), escape sequences and controls removed, full-width letters made ASCII, ligatures spelt out (pasted
    from a PDF viewer: "\ufb01tted" is the "fitted" the library holds) and invisible format characters (zero-width
    spaces and joiners, direction marks) dropped, none of which a user means to type.
    """
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    text = spelt_out(remove_sequences(text).translate(_FULL_WIDTH))
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


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
