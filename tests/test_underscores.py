"""A PDF's underscores drawn as rules come back: "mpfr t x" in a function's heading is mpfr_t x."""
from __future__ import annotations

import io
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from ingest.readers import read_document
from ingest.readers.underscores import with_underscores


def test_spaced_names_with_a_digit_or_a_letter_part_are_joined_across_pages():
    pages = ["[Function] void mpfr_set_prec (mpfr t x, mpfr prec t prec)\nasn1 delete structure",
             "Declare it as mpfr_t x; set it with mpfr_prec_t p.\nFree it with asn1_delete_structure()."]
    out = with_underscores(pages)
    assert out[0] == "[Function] void mpfr_set_prec (mpfr_t x, mpfr_prec_t prec)\nasn1_delete_structure"
    assert out[1] == pages[1]


def test_names_of_plain_words_and_prose_stay_as_written():
    pages = ["A login shell reads its profile. The default value is 3. This is a test; is a list?",
             "shopt -s login_shell; default_value = 3; is_a(x)"]
    assert with_underscores(pages) == pages


def test_only_names_the_document_prints_with_underscores_are_joined():
    pages = ["Use mpfr t for ... and R HOME", "R_HOME is set; gmp_t is another name"]
    assert with_underscores(pages) == pages  # no mpfr_t in the document; upper case has its glyph


def _first_page_text(tmp_path: Path, draw) -> str:
    """The text the PDF reader gives of a one-page PDF that `draw(canvas)` draws."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    draw(c)
    c.showPage()
    c.save()
    path = tmp_path / "doc.pdf"
    path.write_bytes(buf.getvalue())
    return read_document(path, "doc").pages[0].text


def _ruled_heading(c: canvas.Canvas) -> None:
    head = "void mpfr_clear (mpfr"
    width = c.stringWidth(head, "Helvetica-Oblique", 10)
    text = c.beginText(60, 800)
    text.setFont("Helvetica-Oblique", 10)
    text.textOut(head)
    text.setTextOrigin(60 + width + 5, 800)  # a gap where Texinfo draws the underscore as a rule
    text.textOut("t x)")
    c.drawText(text)
    c.rect(60 + width + 0.5, 799, 4, 0.6, stroke=0, fill=1)
    c.setFont("Courier", 10)
    c.drawString(60, 780, "mpfr_t x; mpfr_init (x);")


def test_a_pdf_heading_whose_underscore_is_a_drawn_rule_reads_with_it(tmp_path: Path):
    assert _first_page_text(tmp_path, _ruled_heading).splitlines()[0] == "void mpfr_clear (mpfr_t x)"


def test_text_files_keep_their_characters(tmp_path: Path):
    path = tmp_path / "notes.txt"
    path.write_text("Declare mpfr_t x.\nThe letters mpfr t are spaced here on purpose.\n", encoding="utf-8")
    assert "mpfr t are" in read_document(path, "notes").pages[0].text


def test_spacing_around_a_joined_name_and_in_other_runs_is_kept():
    pages = ["see  mpfr t\tx and  some   spaced words", "mpfr_t"]
    assert with_underscores(pages)[0] == "see  mpfr_t\tx and  some   spaced words"


def test_a_number_with_a_decimal_point_is_no_name_s_part():
    pages = ["python_3 = True; expr_1 <- 2", "needs python 3.12; at expr 1.5 the curve; expr 1 ends."]
    assert with_underscores(pages)[1] == "needs python 3.12; at expr 1.5 the curve; expr_1 ends."


def _stats_page(c: canvas.Canvas) -> None:
    c.setFont("Courier", 10)
    c.drawString(60, 800, "fit <- k_means(data); plot(fit, x_axis = 'log'); t_test(fit)")
    c.setFont("Helvetica", 10)
    c.drawString(60, 780, "Run k means clustering first; the x axis is logarithmic and a t test follows.")


def test_a_letter_before_a_word_is_prose_in_a_pdf_that_prints_the_name(tmp_path: Path):
    text = _first_page_text(tmp_path, _stats_page)
    assert "Run k means clustering first; the x axis is logarithmic and a t test follows." in text


def test_a_name_of_hundreds_of_parts_leaves_the_pass_linear():
    import time
    endless = "_".join(["x"] * 300 + ["1"])
    pages = [f"{endless} and asn1_find_structure_from_oid", " ".join(["x"] * 50_000) + " asn1 find structure from oid"]
    began = time.perf_counter()
    out = with_underscores(pages)
    assert time.perf_counter() - began < 5  # was minutes: every word tried against all 301 lengths
    assert out[1].endswith(" asn1_find_structure_from_oid") and out[1].startswith("x x x")


def test_a_formula_s_subscripts_stay_spaced_beside_the_code_s_names():
    pages = ["The model is y = b 0 + b 1 x 1 + e, where expr 1 is evaluated first.",
             "fit <- lm(y ~ x_1); coef(fit)[\"b_0\"], b_1; expr_1 <- 2"]
    assert with_underscores(pages)[0] == "The model is y = b 0 + b 1 x 1 + e, where expr_1 is evaluated first."
