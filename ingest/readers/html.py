"""HTML files: visible text with blocks on their own lines, as one page."""
from __future__ import annotations

import re

from bs4 import BeautifulSoup
from bs4.dammit import EncodingDetector

from index.records import Document, Page
from ingest.readers.base import ReadError
from ingest.readers.text import decode, normalise_newlines

_INVISIBLE = ("script", "style", "noscript", "template", "head", "iframe")  # an iframe's text shows only without frames
# Inline styles that hide an element: text a reader never sees must not become what an answer quotes
# (a planted instruction hides best where nobody looks).
_HIDDEN_STYLE = re.compile(r"(?:^|;)\s*(?:display\s*:\s*none|visibility\s*:\s*hidden)\b", re.IGNORECASE)
# Elements that start a new line when a browser renders them.
_BLOCKS = (
    "address", "article", "aside", "blockquote", "caption", "dd", "details", "div",
    "dl", "dt", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5",
    "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary",
    "table", "td", "th", "tr", "ul", "textarea", "option", "svg", "text",  # svg's <text>: a label of its own
)
_BLANK_RUNS = re.compile(r"\n{3,}")


def read_html(data: bytes, doc_id: str, stem: str) -> Document:
    """Parse HTML bytes into a one-page Document of its visible text."""
    soup = BeautifulSoup(_markup(data), "html.parser")
    title = _title(soup) or stem
    for tag in soup.find_all(_INVISIBLE):
        tag.decompose()
    for tag in soup.find_all(_hidden):
        tag.decompose()
    text = _visible_text(soup)
    if not text:
        raise ReadError("no text (the HTML has no visible text)")
    return Document(doc_id=doc_id, title=title, pages=(Page(doc_id, 1, text),))


def _markup(data: bytes) -> bytes | str:
    """The HTML as bs4 should read it: bytes where a <meta charset> says how, else text as a text file's is read.

    Undeclared, bs4's detector took Windows-1252 ("“the béret costs 5€”") for another code page and stored
    "ōthe bķret costs 5Ćö"; text files are decoded by their byte-order mark, then UTF-8, then as Western
    European where that reads as such (readers/text.py decode).
    """
    return data if EncodingDetector.find_declared_encoding(data, is_html=True) else decode(data)


def _pipe_row(row) -> str | None:
    """A table row as one Markdown pipe row, a rule under a header row; None for a row without cells of its own.

    Cells on lines of their own (a browser's blocks) lose which row and column they were in, and
    "5000" is then no answer to "what is the default of --max-ppsize".
    """
    cells = row.find_all(["td", "th"], recursive=False)
    if not cells:
        return None
    texts = [" ".join(c.get_text(" ").split()).replace("|", "\\|") for c in cells]
    line = "| " + " | ".join(texts) + " |"
    table = row.find_parents("table")  # the outermost table numbers its rows, nested ones included
    if table and table[-1].find("tr") is row and (row.find("th") is not None or row.find_parent("thead") is not None):
        line += "\n|" + "---|" * len(cells)
    return line


def _hidden(tag) -> bool:
    """Whether a browser hides the element: the `hidden` attribute, or display: none / visibility: hidden inline."""
    return tag.has_attr("hidden") or bool(_HIDDEN_STYLE.search(str(tag.get("style") or "")))


def _title(soup: BeautifulSoup) -> str:
    """The <title>, else the first <h1>, as one line; '' when neither has text."""
    for name in ("title", "h1"):
        tag = soup.find(name)
        if tag is not None:
            text = " ".join(tag.get_text(" ").split())
            if text:
                return text
    return ""


def _visible_text(soup: BeautifulSoup) -> str:
    """Text with each block element on its own lines, table rows as pipe rows, and blank-line runs collapsed."""
    # One walk in document order, never editing the tree: bs4 finds a node's place among its siblings
    # by a linear scan, so inserting a newline beside each of 20,000 paragraphs took 267 s.
    parts: list[str] = []
    stack: list = [soup]
    while stack:
        node = stack.pop()
        if isinstance(node, str):  # page text (comments and the like give ''), or a newline closing a block
            parts.append(node if type(node) is str else node.get_text())
            continue
        line = _pipe_row(node) if node.name == "tr" else None
        if node.name == "br" or line is not None:
            parts.append("\n" if line is None else f"\n{line}")  # one newline: a table's rows stay one block
            continue
        if node.name in _BLOCKS:
            parts.append("\n")
            stack.append("\n")
        stack.extend(reversed(node.contents))
    text = normalise_newlines("".join(parts))
    # Source indentation and line wrapping are not content: collapse spaces per line.
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()
