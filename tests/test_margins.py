"""Running heads and feet are left out of a document's pages; a page's own first and last lines stay."""
from ingest.readers import read_document
from ingest.readers.margins import without_running_lines

PAGES = ["Chapter 3: Evaluation of expressions 19\nmatching from occurring, a FALSE value allows it.\nSee below.",
         "R Language Definition 20\nThe second page starts here.\nIt ends here.",
         "Chapter 3: Evaluation of expressions 21\nthe third page goes on.\nMore.",
         "R Language Definition 22\nFourth page.",
         "Chapter 3: Evaluation of expressions 23\nFifth page.",
         "R Language Definition 24\nSixth page."]


def test_a_chapter_head_with_its_page_number_is_left_out_of_every_page():
    out = without_running_lines(PAGES)
    assert out[0] == "matching from occurring, a FALSE value allows it.\nSee below."
    assert out[1] == "The second page starts here.\nIt ends here." and out[5] == "Sixth page."


def test_a_repeated_line_without_a_number_or_on_few_pages_stays():
    table = ["Name Type Default\nwidth int 3", "Name Type Default\nheight int 4", "Name Type Default\ndepth int 5"]
    assert without_running_lines(table) == table  # a table's header row repeated on each page
    two = ["Chapter 1: Start 1\nText one.", "Chapter 1: Start 2\nText two.", "Chapter 2: End 3\nText three."]
    assert without_running_lines(two) == two
    assert without_running_lines(["Page 1\nOnly page."]) == ["Page 1\nOnly page."]


def test_a_text_files_page_footers_are_left_out_at_ingest(tmp_path):
    pages = [f"RFC 793   Transmission Control Protocol   September 1981\n\nSection {n} text, "
             f"continued on the next page\n\nPostel   [Page {n}]" for n in range(1, 5)]
    path = tmp_path / "rfc793.txt"
    path.write_text("\f".join(pages))
    doc = read_document(path, "rfc")
    assert [p.text for p in doc.pages] == [f"Section {n} text, continued on the next page" for n in range(1, 5)]


def test_a_short_chapters_head_goes_by_its_page_number_and_a_section_number_stays():
    pages = [f"Chapter 1: Long chapter {n + 6}\nText of page {'abcdefgh'[n]}." for n in range(8)]
    pages[5] = "Chapter 4: Ordered and unordered factors 11\nand unordered factors differ."
    pages[6] = "5 Arrays and matrices\nAn array is a vector."  # a chapter's first page: no head
    out = without_running_lines(pages)
    assert out[5] == "and unordered factors differ." and out[6] == pages[6]
    assert out[0] == "Text of page a."


def test_lines_of_one_pattern_whose_numbers_do_not_follow_the_pages_stay():
    report = [f"{month} sales\nEast 400, West 310.\nTotal revenue: {total}"
              for month, total in (("January", 1037), ("February", 912), ("March", 1204), ("April", 988))]
    assert without_running_lines(report) == report  # each month's total is the page's answer, not its foot
    contract = [f"Section {n}\nThe tenant shall {duty}." for n, duty in
                ((2, "pay rent monthly"), (5, "give 30 days notice"), (9, "keep the premises clean"))]
    assert without_running_lines(contract) == contract
    growth = [f"Quarter {q} of {year}\nRevenue rose {rise}% in the quarter." for q, year, rise in
              ((1, 2023, 3), (2, 2023, 6), (3, 2023, 9), (4, 2023, 12))]
    assert [p.split("\n")[-1] for p in without_running_lines(growth)] == [p.split("\n")[-1] for p in growth]
    # while front matter numbered i, ii, iii still loses its feet
    pages = [f"Preface text {word}.\n{roman}" for word, roman in zip("abcd", ("i", "ii", "iii", "iv"))]
    assert without_running_lines(pages) == [f"Preface text {word}." for word in "abcd"]


def test_a_line_whose_numbers_go_their_own_way_on_any_place_is_the_pages_text():
    temperatures = (311, 298, 342, 305, 320)
    log = [f"Day {day}: reactor temperature {t} degrees\nInspector notes: valves checked." for day, t in
           enumerate(temperatures, start=1)]
    assert without_running_lines(log) == log  # the days count with the pages, the temperatures do not


def test_lines_that_are_most_pages_only_text_stay():
    tiny = [f"Tiny page {n}. The marker word is token{n}x." for n in range(1, 7)]
    assert without_running_lines(tiny) == tiny  # numbered with the pages, but all there is to read
    one_line = [f"Day {n}: all normal" for n in range(1, 6)]
    assert without_running_lines(one_line) == one_line
