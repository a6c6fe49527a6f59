"""Plain text and Markdown: decode whatever the encoding, split pages on form feeds."""
from __future__ import annotations

import codecs
import re

import charset_normalizer

from index.records import Document, Page
from ingest.readers.base import ReadError

# Longest BOMs first: the UTF-32-LE BOM starts with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# UTF-16 without a byte-order mark: read from the first _WIDE_SAMPLE bytes, where at least _WIDE_NUL_SHARE of one
# side's bytes are NUL (Latin text: nearly all; a non-Latin line now and then lowers it) and hardly any of the other
# side's (U+0100, U+4E00 have one); the text it decodes to holds at most _WIDE_CONTROL_SHARE controls, as text does.
_WIDE_SAMPLE = 4096
_WIDE_NUL_SHARE = 0.6
_WIDE_OTHER_NULS = 0.02
_WIDE_CONTROL_SHARE = 0.01
_WIDE_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")
# Real Western text has few accented letters; cp1251/cp1253 bytes read as
# cp1252 turn almost every letter into an accented one.
_MAX_ACCENTED_SHARE = 0.3
# Non-letters that legitimately sit between two letters in Western text.
_INSIDE_WORDS = "\u2019\u00b7\u00ad"
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_ASCII_LETTER = re.compile(r"[A-Za-z]")
_HEADING = re.compile(r"^#[ \t]+(.+?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^[ \t]*(```|~~~)")
# A reStructuredText section adornment: one punctuation character repeated (=====, -----, ~~~~~).
_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1+\s*$")


def read_text(data: bytes, doc_id: str, stem: str, markup: str = "") -> Document:
    """Parse text, Markdown ("markdown") or reStructuredText ("rst") bytes into a Document; form feeds separate pages.

    Markup is read as the text it is (a quote shows `.. code-block::` as written); only the title comes from it.
    """
    text = normalise_newlines(decode(data))
    if not text.strip():
        raise ReadError("no text (the file holds only whitespace)")
    parts = text.split("\f")
    if len(parts) > 1 and not parts[-1].strip():
        parts.pop()  # a final form feed ends the last page; it does not open a new one
    pages = tuple(Page(doc_id, number, part) for number, part in enumerate(parts, start=1))
    title = {"markdown": markdown_title, "rst": rst_title}.get(markup, lambda _: "")(text) or stem
    return Document(doc_id=doc_id, title=title, pages=pages)


def decode(data: bytes) -> str:
    """Decode bytes: BOM, then UTF-16 without one, then UTF-8, then Western cp1252, then the detector, then latin-1."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    wide = utf16_without_bom(data)
    if wide is not None:
        return wide
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # charset-normalizer guesses poorly on short Western text (it reads b"caf\xe9"
    # as cp1006), and cp1252 is by far the most common legacy encoding we meet.
    western = _as_western(data)
    if western is not None:
        return western
    best = charset_normalizer.from_bytes(data).best()
    if best is not None:
        return str(best)
    return data.decode("latin-1")  # never fails: every byte is a character


def utf16_without_bom(data: bytes) -> str | None:
    """The text of UTF-16 written without a byte-order mark (some Windows tools and exports), else None: Latin text
    puts a NUL in every other byte, on one side only; no binary file does that and reads as UTF-16 throughout."""
    head = data[:_WIDE_SAMPLE]  # an even number of bytes
    if len(data) % 2 or b"\x00" not in head:
        return None
    for encoding, nuls, others in (("utf-16-le", head[1::2], head[0::2]), ("utf-16-be", head[0::2], head[1::2])):
        if nuls.count(0) >= _WIDE_NUL_SHARE * len(nuls) and others.count(0) <= _WIDE_OTHER_NULS * len(others):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                continue
            if len(_WIDE_CONTROLS.findall(text)) <= _WIDE_CONTROL_SHARE * len(text):
                return text
    return None


def _as_western(data: bytes) -> str | None:
    """The cp1252 reading of the bytes when it looks like Western European text."""
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        return None
    accented = 0
    for match in _NON_ASCII.finditer(text):
        char, at = match.group(), match.start()
        if char.isalpha():
            accented += 1
        elif char not in _INSIDE_WORDS and _letter_at(text, at - 1) and _letter_at(text, at + 1):
            return None  # a symbol inside a word, like "Za¿ó³æ": Polish bytes, not cp1252
    letters = accented + len(_ASCII_LETTER.findall(text))
    if letters and accented / letters > _MAX_ACCENTED_SHARE:
        return None
    return text


def _letter_at(text: str, at: int) -> bool:
    """Whether text[at] exists and is a letter."""
    return 0 <= at < len(text) and text[at].isalpha()


def normalise_newlines(text: str) -> str:
    """Drop NULs and turn CRLF and lone CR into LF."""
    return text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")


def markdown_title(text: str) -> str:
    """The front-matter title or the first level-1 ATX heading outside code fences, else ''."""
    lines = text.split("\n")
    if lines and lines[0].strip() == "---":
        for line in lines[1:]:
            if line.strip() in ("---", "..."):
                break
            key, _, value = line.partition(":")
            if key.strip().lower() == "title" and value.strip():
                return value.strip().strip("\"'").strip()
    in_fence = False
    for line in lines:
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (match := _HEADING.match(line)):
            return match.group(1)
    return ""


def rst_title(text: str) -> str:
    """The first section title of reStructuredText: a line with an adornment under it as long or longer, else ''.

    Its first title is the document's (coverage.py's config.rst: "Configuration reference" between two
    lines of '='); a line of marks alone, a directive's or a literal block's indented lines are no title.
    """
    lines = text.split("\n")
    for i, line in enumerate(lines[:-1]):
        title, under = line.strip(), lines[i + 1].rstrip()
        if (title and line == line.lstrip() and not _ADORNMENT.match(line) and not title.startswith("..")
                and _ADORNMENT.match(under) and len(under) >= len(title)):
            return title
    return ""
