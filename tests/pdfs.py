"""Real PDF files for tests, written with reportlab and pypdf."""
from __future__ import annotations

from pathlib import Path

from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas


def write_pdf(path: Path, pages: list[str], title: str | None = None) -> Path:
    """A text PDF with one entry of `pages` per page ('' makes a blank page)."""
    c = canvas.Canvas(str(path), pagesize=A4)
    if title:
        c.setTitle(title)
    for text in pages:
        y = 800
        for line in text.split("\n"):
            c.drawString(60, y, line)
            y -= 14
        c.showPage()
    c.save()
    return path


def write_encrypted(path: Path, plain: Path, password: str = "secret") -> Path:
    """A copy of `plain` that needs a password to open."""
    writer = PdfWriter()
    for page in PdfReader(plain).pages:
        writer.add_page(page)
    writer.encrypt(user_password=password, owner_password=password + "-owner")
    with open(path, "wb") as f:
        writer.write(f)
    return path
