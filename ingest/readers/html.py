"""HTML files: visible text with blocks on their own lines, as one page."""
from __future__ import annotations

import re

from bs4 import BeautifulSoup

from index.records import Document, Page
from ingest.readers.base import ReadError
from ingest.readers.text import normalise_newlines

_INVISIBLE = ("script", "style", "noscript", "template", "head")
# Elements that start a new line when a browser renders them.
_BLOCKS = (
    "address", "article", "aside", "blockquote", "caption", "dd", "details", "div",
    "dl", "dt", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5",
    "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary",
    "table", "td", "th", "tr", "ul",
)
_BLANK_RUNS = re.compile(r"\n{3,}")


def read_html(data: bytes, doc_id: str, stem: str) -> Document:
    """Parse HTML bytes into a one-page Document of its visible text."""
    # Bytes, not str: bs4 then honours <meta charset> and detects the rest.
    soup = BeautifulSoup(data, "html.parser")
    title = _title(soup) or stem
    for tag in soup.find_all(_INVISIBLE):
        tag.decompose()
    text = _visible_text(soup)
    if not text:
        raise ReadError("no text (the HTML has no visible text)")
    return Document(doc_id=doc_id, title=title, pages=(Page(doc_id, 1, text),))


def _pipe_rows(table) -> None:
    """Each row of `table` as one Markdown pipe row, a rule under a header row: a cell keeps its row and header.

    Cells on lines of their own (a browser's blocks) lose which row and column they were in, and
    "5000" is then no answer to "what is the default of --max-ppsize".
    """
    for n, row in enumerate(table.find_all("tr")):
        cells = row.find_all(["td", "th"], recursive=False)
        if not cells:
            continue
        texts = [" ".join(c.get_text(" ").split()).replace("|", "\\|") for c in cells]
        line = "| " + " | ".join(texts) + " |"
        if n == 0 and (row.find("th") is not None or row.find_parent("thead") is not None):
            line += "\n|" + "---|" * len(cells)
        row.replace_with(f"\n{line}")  # one newline: the rows of a table stay one block


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
    for tag in soup.find_all("br"):
        tag.replace_with("\n")
    for table in soup.find_all("table"):
        _pipe_rows(table)
    for tag in soup.find_all(_BLOCKS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    text = normalise_newlines(soup.get_text())
    # Source indentation and line wrapping are not content: collapse spaces per line.
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()
