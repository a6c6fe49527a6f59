"""Answer units: a sentence, a sentence together with the command or code line it introduces, or a table row.

Manuals answer in code as often as in prose: "...avoid computing the eigenvectors by using the
expression" is no answer without the "> eigen(Sm, only.values = TRUE)$values" on the next line.
A sentence that stops without closing punctuation, or with a colon, is joined to the console
lines right after it (up to MAX_CODE_LINES), and the unit is ranked, shown and verified whole.
A row of a pipe table (Markdown, and HTML tables as ingest writes them) is one unit with its
header row above it: "| --max-ppsize | 5000 |" means nothing without "| Option | Default |".
"""
from __future__ import annotations

import re

from qa.text import flatten, sentence_spans

MAX_CODE_LINES = 3
# A line typed at a prompt: R's "> " and "+ " (continuation), a shell's "$ ", Python's ">>> ".
_CONSOLE = re.compile(r"(?:>>>|[>+$]) \S")
_CLOSED = re.compile(r"[.!?][\"')\]]*$")
_ROW = re.compile(r"^\|.*\|$")
_RULE = re.compile(r"^\|?(\s*:?-{3,}:?\s*\|)+\s*(:?-{3,}:?\s*)?$")


def unit_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each answer unit of `text`: sentence spans, code joined to its introduction."""
    spans, units, i = sentence_spans(text), [], 0
    while i < len(spans):
        start, end = spans[i]
        i += 1
        if _introduces(text[start:end]):
            taken = 0
            while i < len(spans) and taken < MAX_CODE_LINES and _console_line(text[spans[i][0]:spans[i][1]]):
                end, i, taken = spans[i][1], i + 1, taken + 1
        units.append((start, end))
    return units


def unit_text(text: str) -> str:
    """A unit as shown: its sentence on one line, each code line on a line of its own, as written."""
    lines = text.split("\n")
    code_from = next((n for n in range(1, len(lines)) if _console_line(lines[n].strip())
                      and all(_console_line(rest.strip()) for rest in lines[n:])), len(lines))
    return "\n".join([flatten("\n".join(lines[:code_from]))] + [line.strip() for line in lines[code_from:]])


def table_split(text: str) -> tuple[str, list[str], str]:
    """(text before a pipe table, its rows each under the header row, text after); no table: (text, [], '')."""
    lines = text.split("\n")
    rows = [line.strip() for line in lines]
    start = next((n for n in range(len(rows) - 2) if _ROW.match(rows[n]) and _RULE.match(rows[n + 1])), None)
    if start is None:
        return text, [], ""
    end = next((n for n in range(start + 2, len(rows)) if not _ROW.match(rows[n])), len(rows))
    header = rows[start]
    units = [f"{header}\n{row}" for row in rows[start + 2:end] if _filled(row)]
    return "\n".join(lines[:start]), units, "\n".join(lines[end:])


def _filled(row: str) -> bool:
    """A row with text in two or more cells: a half-empty row answers nothing."""
    return sum(1 for cell in row.strip("|").split("|") if cell.strip()) >= 2


def lead(unit: str) -> str:
    """The prose that opens a unit (its first line)."""
    return unit.split("\n", 1)[0]


def _introduces(sentence: str) -> bool:
    """Prose that stops short (no closing punctuation, or a colon): what follows completes it."""
    stripped = sentence.rstrip()
    return not _console_line(stripped) and len(stripped.split()) >= 3 and not _CLOSED.search(stripped)


def _console_line(text: str) -> bool:
    return "\n" not in text and bool(_CONSOLE.match(text))
