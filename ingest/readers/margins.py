"""Running heads and feet: a line printed at the top or the foot of many pages, not part of their text.

A manual's PDF opens each page with its chapter and page number ("Chapter 3: Evaluation of
expressions 19"); an RFC's text ends each with "Postel [Page 5]". Read as text, that line runs into
the sentence the page continues ("Chapter 3: Evaluation of expressions 19 matching from occurring,
a FALSE value allows it ..."), which became an answer unit beginning with a chapter title, and it
counts as the page's words for every question on that chapter.
"""
from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence

MIN_PAGES = 3  # a line opening (or closing) fewer pages than this is the page's own
MIN_NUMBERED = 5  # pages whose edge lines count with the pages' order before that counts as page numbering
MAX_CHARS = 120  # a running line is short: a title, a date, a page number
MAX_NUMBERS = 4  # numbers in a running line read as fixed or counting with the pages, each way (2^4 readings)
_NUMBERS = re.compile(r"\d+|\b[ivxlc]+\b", re.IGNORECASE)
_ROMAN = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100}
_PRINTED = re.compile(r"(?<![\d.])(\d{1,4})\W*$")  # a number that ends the line: "... expressions 19", "[Page 5]"


def without_running_lines(texts: Sequence[str]) -> list[str]:
    """Each page's text without a first or last line that, numbers aside, opens or closes MIN_PAGES pages or more
    (with the same numbers, or one that follows the pages' order),
    or that ends in the page's printed number."""
    firsts, lasts = [_edge(t, 0) for t in texts], [_edge(t, -1) for t in texts]
    heads, feet = _running_pages(firsts), _running_pages(lasts)
    offset = _page_offset(firsts, lasts)
    out = [_trim(t, i in heads, i in feet, None if offset is None else i + offset) for i, t in enumerate(texts)]
    # Lines that are most pages' only text are the text: a log of one line a page ("Day 3: ..."), not its heads.
    emptied = sum(bool(t.strip()) and not o.strip() for t, o in zip(texts, out))
    return list(texts) if emptied * 2 > sum(bool(t.strip()) for t in texts) else out


def _page_offset(firsts: Sequence[str], lasts: Sequence[str]) -> int | None:
    """printed number − page index shared by the edge lines of MIN_NUMBERED pages and a quarter of them, or None.

    A short chapter's head ("Chapter 4: Ordered and unordered factors 19") opens too few pages to
    repeat, but its number follows the pages' order as every other head's does.
    """
    offsets = Counter(n - i for i, edges in enumerate(zip(firsts, lasts)) for n in {_printed(e) for e in edges}
                      if n is not None)
    if not offsets:
        return None
    offset, count = offsets.most_common(1)[0]
    return offset if count >= max(MIN_NUMBERED, len(firsts) / 4) else None


def _printed(line: str) -> int | None:
    m = _PRINTED.search(line) if len(line.strip()) <= MAX_CHARS else None
    return int(m[1]) if m else None


def _running_pages(edges: Sequence[str]) -> set[int]:
    """Indices of the pages whose first (or last) line, of `edges`, numbers aside, opens (or closes)
    MIN_PAGES pages or more, the same line on each or with a number that follows the pages' order.

    Lines of one pattern whose numbers go their own way are the pages' text: a report's
    "Total revenue: 1037" closing each month's page, a contract's "Section 12" heading.
    """
    by_key: dict[str, list[tuple[int, list[str]]]] = {}
    for i, line in enumerate(edges):
        key = _key(line)
        if "#" in key and len(line.strip()) <= MAX_CHARS:
            by_key.setdefault(key, []).append((i, _NUMBERS.findall(line)))
    # A line of numbers alone ("12", "- iii -") is a page number whichever series it belongs to.
    return {i for key, pages in by_key.items() if len(pages) >= MIN_PAGES
            for i in (_in_series(pages) if any(c.isalpha() for c in key) else {i for i, _ in pages})}


def _in_series(pages: list[tuple[int, list[str]]]) -> set[int]:
    """Pages sharing, with MIN_PAGES - 1 others, each number of their line: at each place the same number, or the
    same number minus the page index.

    By place and offset, not by pattern: "i", "ii" head the contents pages and "3", "4" the text's. A number that
    goes its own way at any place is the page's text: "Day 3: reactor temperature 342 degrees" opening each page
    of a log counts days with the pages, but its temperatures follow nothing.
    """
    series: dict[tuple, set[int]] = {}
    for i, numbers in pages:
        values = [_value(n) for n in numbers]
        # each place read as fixed (0) or as counting with the pages (1); a line of many numbers, as fixed only
        for steps in itertools.product((0, 1), repeat=len(values)) if len(values) <= MAX_NUMBERS else [()]:
            key = (steps, *(v - i * step for v, step in zip(values, steps))) if steps else ("same", *numbers)
            series.setdefault(key, set()).add(i)
    return {i for members in series.values() if len(members) >= MIN_PAGES for i in members}


def _value(number: str) -> int:
    """A number's value, a roman one's too (front matter is numbered i, ii, iii ...)."""
    if number.isdigit():
        return int(number)
    values = [_ROMAN[c] for c in number.lower()]
    return sum(-v if v < after else v for v, after in zip(values, values[1:] + [0]))


def _trim(text: str, head: bool, foot: bool, number: int | None) -> str:
    lines = text.split("\n")
    cut = False
    for running, end in ((head, 0), (foot, -1)):
        at = _edge_index(lines, end)
        if at is not None and (running or (number is not None and _printed(lines[at]) == number)):
            del lines[at]
            cut = True
    return "\n".join(lines).strip("\n") if cut else text


def _edge_index(lines: list[str], end: int) -> int | None:
    """Index of the first (end 0) or last (end -1) line with text, or None."""
    order = range(len(lines)) if end == 0 else range(len(lines) - 1, -1, -1)
    return next((i for i in order if lines[i].strip()), None)


def _edge(text: str, end: int) -> str:
    lines = text.split("\n")
    at = _edge_index(lines, end)
    return lines[at] if at is not None else ""


def _key(line: str) -> str:
    """The line with its numbers (page numbers, roman ones too) as '#' and its spaces collapsed."""
    return " ".join(_NUMBERS.sub("#", line).split())
