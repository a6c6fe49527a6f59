"""Records that flow unchanged from ingest to the UI (see DESIGN.md)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Page:
    """One physical page of a document; `number` is 1-based and set when read."""

    doc_id: str
    number: int
    text: str


@dataclass(frozen=True)
class Chunk:
    """A span of one page's text: `text == page.text[start:end]`."""

    chunk_id: int
    doc_id: str
    page: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Passage:
    """A search hit: a chunk, the title of its document and the hit's score."""

    chunk: Chunk
    doc_title: str
    score: float
    table_header: str = ""  # the header (pipe row or PDF line) of a table the chunk opens inside, read at answer time
    opens_inside: bool = False  # the chunk starts inside a word or a path of its page (read at answer time)
    # Across a page break, read at answer time: the sentence ending the page before that introduces the code lines this
    # page's first chunk opens with; the words on the page after that end the sentence this page's last chunk stops in
    lead_in: str = ""
    runs_on: str = ""

    @property
    def text_as_read(self) -> str:
        """The chunk's text with what was read across a page break before and after it: what a user is shown."""
        return across_breaks(self.lead_in, self.chunk.text, self.runs_on)


def across_breaks(lead_in: str, text: str, runs_on: str) -> str:
    """A passage's text between what was read across a page break before and after it, a line apart."""
    return "\n".join(t for t in (lead_in, text, runs_on) if t)


@dataclass(frozen=True)
class Document:
    """A parsed file: its pages and what was read from its metadata."""

    doc_id: str
    title: str
    pages: tuple[Page, ...]
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DocumentInfo:
    """A document as the library lists it."""

    doc_id: str
    title: str
    paths: tuple[str, ...]
    pages: int
    chunks: int
    ingested_at: str
    tags: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()  # who may read it; () means every signed-in user


@dataclass(frozen=True)
class Source:
    """A file on disk that a library document came from."""

    path: str
    doc_id: str
    size: int
    mtime_ns: int
