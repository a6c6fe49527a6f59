"""What every reader shares: the one-line ReadError, the size limits and the PDF text engines.

The readers import this module, not their package, whose read_document imports them.
"""
from __future__ import annotations

from dataclasses import dataclass

from index.errors import GroundworkError

PDF_TEXT_ENGINES = ("pypdf", "pdfium")  # what reads a PDF's text (readers/pdf.py); the first is the default
DEFAULT_PDF_TEXT = PDF_TEXT_ENGINES[0]
_MAX_REASON = 200


class ReadError(GroundworkError):
    """A file that cannot be read; str() is a one-line reason for the user."""

    def __init__(self, reason: str) -> None:
        # Parsers put newlines and whole dumps in their messages; the CLI prints one line.
        line = " ".join(str(reason).split())
        if len(line) > _MAX_REASON:
            line = line[: _MAX_REASON - 3] + "..."
        super().__init__(line)


@dataclass(frozen=True)
class Limits:
    """The most pages and characters one document may hold: a small file can expand to billions of characters."""

    max_pages: int = 5_000
    max_chars: int = 20_000_000

    def check(self, pages: int, chars: int) -> None:
        """Raise ReadError('too much text ...') once `pages` pages holding `chars` characters pass a limit."""
        if pages > self.max_pages:
            raise ReadError(f"too much text ({pages:,} pages; the limit is max_pages = {self.max_pages:,})")
        if chars > self.max_chars:
            raise ReadError(f"too much text (over {self.max_chars:,} characters in the first {pages:,} pages; "
                            f"the limit is max_chars = {self.max_chars:,})")
