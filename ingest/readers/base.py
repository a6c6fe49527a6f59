"""What every reader shares: the one-line ReadError and the PDF text engines; the readers import it, not the package."""
from __future__ import annotations

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
