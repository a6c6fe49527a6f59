"""Real PDF files for tests, written with reportlab and pypdf."""
from __future__ import annotations

import io
from pathlib import Path

from pypdf import PdfReader, PdfWriter
from pypdf.generic import NameObject
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


def write_small_corpus(docs) -> None:
    """Two PDFs and a Markdown file whose answers tests know: lm, plot, tomato watering, pump warranty."""
    docs.mkdir(parents=True, exist_ok=True)
    write_pdf(docs / "stats.pdf", ["Fitting models\nUse lm(y ~ x) to fit a linear regression model.",
                                   "Plotting\nUse plot(x, y) to draw a scatter plot."], title="Stats guide")
    write_pdf(docs / "care.pdf", ["Watering\nWater the tomato plants every morning in summer."], title="Garden")
    (docs / "faq.md").write_text("# FAQ\n\nThe warranty of the pump lasts two years.\n")


FILES = 24  # reports written by write_reports


def write_reports(docs: Path) -> Path:
    """FILES three-page PDFs, big enough that a kill lands mid-run."""
    docs.mkdir()
    for i in range(FILES):
        write_pdf(docs / f"report{i:02d}.pdf", [f"Report {i} page {p}. " + f"topic{i} measurement value {i * 7 + p}. " * 40
                                                 for p in range(1, 4)])
    return docs
def write_shared_pages(path: Path, pages: int, lines: int, line: str = "Open the valve before priming the pump. ") -> Path:
    """A small PDF whose `pages` pages all draw one content stream of `lines` lines: its text grows with pages, its size does not."""
    first_page = io.BytesIO()
    c = canvas.Canvas(first_page, pagesize=A4)
    text = c.beginText(20, 820)
    text.setFont("Helvetica", 4)
    for _ in range(lines):
        text.textLine(line * 3)
    c.drawText(text)
    c.showPage()
    c.save()
    writer = PdfWriter()
    first = writer.add_page(PdfReader(first_page).pages[0])
    for _ in range(pages - 1):
        page = writer.add_blank_page(*A4)
        page[NameObject("/Contents")] = first.raw_get("/Contents")  # the same stream object, stored once
        page[NameObject("/Resources")] = first.raw_get("/Resources")
    with open(path, "wb") as f:
        writer.write(f)
    return path
