"""A PDF page rendered as an image (pypdfium2), with a passage's lines marked on it.

The library stores text read by pypdf (or PDFium); rendering reads the page with its own spacing,
so the passage is found line by line with pdfium's text search rather than by offsets.
"""
from __future__ import annotations

import io
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, ImageDraw

MARK = (255, 213, 0, 90)      # translucent yellow over the passage
EDGE = (230, 150, 0, 255)     # and a bar in the margin, visible on a small image
MIN_LINE_CHARS = 4            # shorter lines match too many places on a page


def render_page(pdf_path: str | Path, page: int, passage: str, width_px: int = 900) -> bytes:
    """PNG of the 1-based `page` of a PDF, the passage's lines marked; ValueError if the page is absent."""
    pdf = pdfium.PdfDocument(str(pdf_path))
    try:
        if not 1 <= page <= len(pdf):
            raise ValueError(f"the PDF has {len(pdf)} pages, not {page}")
        pdf_page = pdf[page - 1]
        width, height = pdf_page.get_size()
        scale = width_px / width
        image = pdf_page.render(scale=scale).to_pil().convert("RGBA")
        rects = passage_rects(pdf_page, passage)
        return _png(_marked(image, rects, scale, height))
    finally:
        pdf.close()


def passage_rects(pdf_page, passage: str) -> list[tuple[float, float, float, float]]:
    """(left, bottom, right, top) in PDF points of each passage line found on the page, in order."""
    textpage = pdf_page.get_textpage()
    rects: list[tuple[float, float, float, float]] = []
    after = 0  # lines follow each other: search past the last match, so repeated lines map in order
    for line in (" ".join(raw.split()) for raw in passage.splitlines()):
        if len(line) < MIN_LINE_CHARS:
            continue
        found = textpage.search(line, index=after, match_case=True).get_next()
        if found is None:
            continue
        start, count = found
        rects += [textpage.get_rect(i) for i in range(textpage.count_rects(start, count))]
        after = start + count
    return rects


def _marked(image: Image.Image, rects, scale: float, page_height: float) -> Image.Image:
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    pad = 2 * scale
    margin = min((r[0] for r in rects), default=0) * scale - pad  # one bar left of the whole passage
    for left, bottom, right, top in rects:
        box = (left * scale - pad, (page_height - top) * scale - pad, right * scale + pad, (page_height - bottom) * scale + pad)
        draw.rectangle(box, fill=MARK)
        draw.rectangle((max(margin - 8 * scale, 0), box[1], max(margin - 5 * scale, 1), box[3]), fill=EDGE)
    return Image.alpha_composite(image, overlay).convert("RGB")


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def pdf_source(paths: tuple[str, ...]) -> Path | None:
    """The first of a document's source files that is a PDF still on disk."""
    for path in paths:
        candidate = Path(path)
        if candidate.suffix.lower() == ".pdf" and candidate.is_file():
            return candidate
    return None
