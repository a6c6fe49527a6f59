"""Answer units: a sentence, a sentence together with the command or code line it introduces, or a table row.

Manuals answer in code as often as in prose: "...avoid computing the eigenvectors by using the
expression" is no answer without the "> eigen(Sm, only.values = TRUE)$values" on the next line, nor
"We can use the F test to test for equality in the variances." without "> var.test(A, B)". A sentence
is joined to the console lines right after it (up to MAX_CODE_LINES), and the unit is ranked, shown
and verified whole.
When the sentence stopped mid-way (no punctuation, or a comma) and goes on in lower case after the
code ("The function sink,\n> sink(\"record.lis\")\nwill divert all subsequent output ..."), the rest
of it belongs to the unit too. A sentence that opens by pointing back ("This is called lexical
scope.") says nothing without the sentence before it, so the two are one unit; so does the first sentence
under a title on a paragraph of its own ("--test: build a test harness\n\nWhen compiling this crate, rustc
will ignore your main function ...").
A row of a pipe table (Markdown, and HTML tables as ingest writes them) is one unit with its
header row above it: "| --max-ppsize | 5000 |" means nothing without "| Option | Default |"; so is a
row of a table that PDF text gives as short lines without pipes.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from qa.answertype import code_names
from qa.text import flatten, sentence_spans

MAX_CODE_LINES = 3
MAX_COMMAND_WORDS = 12  # a command line without a prompt is short: a longer line is prose
# A line typed at a prompt: R's "> " and "+ " (continuation), a shell's "$ ", Python's ">>> ".
_CONSOLE = re.compile(r"(?:>>>|[>+$]) \S")
_CLOSED = re.compile(r"[.!?][\"')\]]*$")
_FENCE = re.compile(r"\s*(?:```|~~~)[\w+.-]*\s*$")  # a Markdown code block's fence line, with its language or not
_MID = re.compile(r"(?:\w|,)[\"')\]]*$")  # stopped mid-sentence: on a word or a comma
_CONTINUES = re.compile(r"[a-z]")  # the rest of a sentence after its code goes on in lower case
# A demonstrative subject points back to the sentence before: "This is the only way to ...", and so does one after
# a preposition: "With this instruction another element is appended." (libtasn1, of the "NEW" value before it).
_REFERS_BACK = re.compile(r"(?:(?:With|In|For|By|From|Under|After|Before|Through|Using|Unlike|Like|Because of"
                          r"|Besides|Despite|Instead of|Apart from|As with|To do) (?:this|these|those|that|such)"
                          r"|This|These|Those|That|Such)\b")
_PLAIN_LOWER = re.compile(r"[a-z]+[,;:]?")
_CAPITALISED = re.compile(r"[A-Z][a-z]+\s")  # 'The ...', 'Set ...'; not 'R CMD', 'Rscript', 'CFLAGS=...'
MAX_HEADING_WORDS = 12
_UNDERLINE = re.compile(r"[-=~^*]{3,}")  # a plain-text title's underline
# A title's underline or overline as flattened into its unit's first line: one mark, four times or more.
_RULE_RUN = re.compile(r"[ \t]*(?<!\S)([-=~^*])\1{3,}(?!\S)[ \t]*")
_NAMED = re.compile(r"[A-Za-z]{2,}")  # a title names something: a page number alone is none
# A line of a command's option listing: "-c, --check checks the syntax only", "--dry-run Performs all checks".
_OPTION_LINE = re.compile(r"-{1,2}[A-Za-z][\w-]*(?:[=\[ ]\S*)?,?\s")
MIN_PLAIN_ROWS = 3  # fewer short lines in a row are a heading or a wrapped list, not a table
PLAIN_ROW_SHARE = 0.5  # a table's row is at most half as long as the passage's longest line
# A unit longer than this is a listing, not an answer (evidence.answer_like); a licence states one condition in a
# sentence of 100-125 words (GPL-3 section 6 b, its "three years"): at 80 those were never offered.
MAX_UNIT_WORDS = 130
# ...and characters: a word may be a 30 KB key or blob. The longest unit of the eval libraries' 11,400 has 873.
MAX_UNIT_CHARS = 1200
# The category mark of a definition in a manual Texinfo made, as the line's first or second word (after the name):
# "asn1_check_version [Function]const char * ...", "[Macro]", "[Data type]". The entry's description follows in
# sentences that never name it again. The mark runs on into the signature ("[Function]int"), as in every such line
# pypdf reads in the eval PDFs; a Markdown link "[Command](x)", a usage line "git [Command] [options]" or a note
# "[Macro] ..." opens no entry.
_DEFINITION = re.compile(r"^(?:\S+[ \t]+)?\[(?:Function|Macro|Variable|Constant|Data [Tt]ype|Special Form|Command"
                         r"|User Option|Method|Instance Variable)\](?=[^\s(\[])")
_ROW = re.compile(r"^\|.*\|$")
_CELL_WORD = re.compile(r"[^\s|]+")  # a word of a pipe row: its borders are no words
_RULE = re.compile(r"^\|?(\s*:?-{3,}:?\s*\|)+\s*(:?-{3,}:?\s*)?$")


def unit_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each answer unit of `text`: sentence spans, code joined to its introduction."""
    spans, units, i, headed = _definitions_apart(text, sentence_spans(text)), [], 0, False
    while i < len(spans):
        start, end = spans[i]
        i += 1
        short = not _prose(text[start:end])
        if not short or _short_lead(text[start:end]):
            taken, alone = 0, (end, i)
            while i < len(spans) and taken < MAX_CODE_LINES and _console_line(text[spans[i][0]:spans[i][1]]):
                end, i, taken = spans[i][1], i + 1, taken + 1
            if taken and i < len(spans) and _MID.search(text[start:spans[i - taken][0]].rstrip()) \
                    and _CONTINUES.match(text[spans[i][0]:spans[i][1]]):
                end, i = spans[i][1], i + 1
            elif short:  # "For example" over a line of code is a lead-in only when the sentence goes on after it
                end, i = alone
            elif not taken and i < len(spans) and text[start:end].rstrip().endswith(":") \
                    and _listing_start(text[start:spans[i][1]].split("\n")):
                end, i = spans[i][1], i + 1  # "A trigger may be activated explicitly with:\n   dpkg-trigger NAME"
        joins = refers_back(text[start:end]) or (headed and _CLOSED.search(text[start:end].rstrip()))
        if units and joins and _joinable(text, units[-1], start, end):
            units[-1], headed = (units[-1][0], end), False
        else:
            units.append((start, end))
            headed = _heading(text[start:end], text[end:spans[i][0]] if i < len(spans) else "")
    return units


def _joinable(text: str, unit: tuple[int, int], start: int, end: int) -> bool:
    """Whether the span start:end may join `unit` before it: within both caps, and no section heading between them."""
    # A joined unit past MAX_UNIT_CHARS is dropped whole (_capped), losing both sentences.
    return len(text[unit[0]:end].split()) <= MAX_UNIT_WORDS and end - unit[0] <= MAX_UNIT_CHARS \
        and not heading_between(text, unit[1], start)


def heading_between(text: str, end: int, start: int) -> bool:
    """Whether words stand between a unit ending at `end` and the next starting at `start`: a numbered section heading
    the sentence boundary swallowed ("... significand.\n5.2 Assignment Functions\nIn this ...")."""
    return bool(re.search(r"\w", text[end:start]))


def _definitions_apart(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans, each cut before a line inside it that opens a definition entry, or before the entry's name on a line
    of its own above it: a sentence ends there, whatever its punctuation ("... if * structure was\nNULL.\n
    asn1_delete_structure2\n[Function]int asn1_delete_structure2 (...)" runs on in lower case)."""
    out = []
    for start, end in spans:
        starts = [start] + [start + m.end() for m in re.finditer(r"\n", text[start:end])]
        lines = [text[a:b].strip() for a, b in zip(starts, starts[1:] + [end])]
        marks = [k for k in range(1, len(lines)) if defines(lines[k])]
        cuts = sorted({starts[k - 1] if k > 1 and len(lines[k - 1].split()) == 1 else starts[k] for k in marks})
        bounds = [start] + cuts + [end]
        out += [(a, a + len(text[a:b].rstrip())) for a, b in zip(bounds, bounds[1:]) if text[a:b].strip()]
    return out


def _heading(unit: str, gap: str) -> bool:
    """A title on a paragraph of its own ("--explain: provide a detailed explanation", "Concepts\n--------").

    The sentence under it often leaves the title's subject unsaid ("Each error comes with a code; this will
    print out a longer explanation of it."): the title and that first sentence are one unit.
    """
    first, *rest = unit.split("\n")
    return "\n\n" in gap and all(_UNDERLINE.fullmatch(line.strip()) for line in rest) \
        and 0 < len(first.split()) <= MAX_HEADING_WORDS and not _CLOSED.search(first.rstrip()) \
        and not _console_line(first) and bool(_NAMED.search(first))


def defines(unit: str) -> bool:
    """Whether a unit opens a manual's definition entry: its first line holds a category mark such as [Function]."""
    return bool(_DEFINITION.match(unit.lstrip()))


def refers_back(unit: str) -> bool:
    """Whether a unit opens by pointing back at the sentence before it."""
    return bool(_REFERS_BACK.match(unit))


def open_end(page: str) -> str:
    """The page's last unit when it stops open, a sentence the page break cut or a lead-in to code ("... e.g. in
    another color", "... by:"): prose of three words or more, ending on a word, a comma or a colon; else ''."""
    spans = unit_spans(page)
    last = page[spans[-1][0]:spans[-1][1]] if spans else ""
    if "\n" in last.strip() and _console_line(last.strip().rsplit("\n", 1)[1]):
        return ""  # its code is on this page already
    return unit_text(last) if _prose(last) and (_MID.search(last) or last.rstrip().endswith(":")) \
        and len(last) <= MAX_UNIT_CHARS else ""


def opens_with_code(text: str) -> bool:
    """Whether a text's first line is a console line ("> plot(ocus, boundary = FALSE)")."""
    return _console_line(text.lstrip().split("\n", 1)[0].strip())


def continuation(page: str) -> str:
    """The words a page opens with when they end a sentence the page before began (a plain lower-case word first,
    not code): up to the end of its first unit; else ''."""
    spans = unit_spans(page)
    first = page[spans[0][0]:spans[0][1]] if spans else ""
    return first if first and opens_mid_sentence(first) and not _console_line(first.split("\n", 1)[0]) \
        and len(first) <= MAX_UNIT_CHARS else ""


def opens_mid_sentence(unit: str) -> bool:
    """Whether a unit starts part-way through a sentence: on a plain lower-case word or on punctuation.

    A code name may open a sentence in lower case ("install.packages can ..."), so only a plain word counts.
    """
    first = unit.split(maxsplit=1)[0] if unit.strip() else ""
    return bool(_PLAIN_LOWER.fullmatch(first)) or first[:1] in tuple(",;:)]")


def without_rules(text: str, passages: Sequence[str]) -> str:
    """A unit as a reader is shown it: a title's underline or overline (reStructuredText's "~~~~", Markdown's "====")
    left out, the title on a line of its own. Only a run of marks that one of its `passages` sets on a line of its
    own right under (or over) the same words, and only in the unit's prose: "$ echo ==== >> log" and "written as ****
    followed by ..." keep theirs. The unit keeps it for ranking and verification, as its passage does."""
    first, *rest = text.split("\n")
    if _console_line(first.strip()) or not _RULE_RUN.search(first):  # most units: no passage need be read
        return text

    def shown(m: re.Match) -> str:
        before, after = first[:m.start()].split()[-3:], first[m.end():].split()[:3]
        rule = re.escape(m.group(0).strip())
        under = r"\s+".join(map(re.escape, before)) + rf"[ \t]*\n[ \t]*{rule}[ \t]*(?:\n|$)"
        over = rf"(?:^|\n)[ \t]*{rule}[ \t]*\n\s*" + r"\s+".join(map(re.escape, after))
        ruled = (before and any(re.search(under, p) for p in passages)) or \
            (not before and after and any(re.search(over, p) for p in passages))
        return "\n" if ruled else m.group(0)

    return "\n".join([_RULE_RUN.sub(shown, first).strip(), *rest])


def unit_text(text: str) -> str:
    """A unit as shown: its prose flattened, each code line after the first line on a line of its own, as written."""
    lines, out, prose = text.split("\n"), [], []
    listing = _listing_start(lines) or len(lines)
    for n, line in enumerate(lines):
        if n and (_console_line(line.strip()) or n >= listing):
            out += [flatten("\n".join(prose))] if prose else []
            out += [line.strip()] if line.strip() else []
            prose = []
        else:
            prose.append(line)
    return "\n".join(out + ([flatten("\n".join(prose))] if prose else []))


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
    # Capped as prose is: a row with a page-long cell, shown whole under its header, is a listing, not an answer.
    units = [unit for unit in units if len(_CELL_WORD.findall(unit)) <= MAX_UNIT_WORDS]
    return "\n".join(lines[:start]), units, "\n".join(lines[end:])


def table_header(page: str, start: int) -> str:
    """The header row of the pipe table of `page` whose rule or body holds offset `start`; '' when none.

    A chunk of a long table holds only some of its rows: the header stands in an earlier chunk, and a row
    read without it names no column. A chunk that starts at its header's start holds the header itself.
    """
    lines, at = page.split("\n"), page.count("\n", 0, start)
    line_start = page.rfind("\n", 0, start) + 1
    if at + 1 < len(lines) and _ROW.match(lines[at].strip()) and _RULE.match(lines[at + 1].strip()):
        return lines[at].strip() if start > line_start else ""  # it opens inside the header row
    n = at
    while n > 0 and _ROW.match(lines[n].strip()):
        if _RULE.match(lines[n].strip()) and _ROW.match(lines[n - 1].strip()):
            return lines[n - 1].strip()
        n -= 1
    return ""


def under_header(text: str, header: str) -> str:
    """`text` from its first whole row of `header`'s table on, with the header and a rule line put before it.

    The lines before that row are pieces: of a row the chunk opens in (fewer cells), or of the header's rule.
    A row after any other line (prose, a blank line, a header over its own rule) is another table's: the
    header's table ended before it, and none of its rows is in the chunk. A table without pipes has no cells
    to count: a chunk opens `overlap` tokens before the end of the one before, at a word, so its first line
    is a piece of a row or a row the chunk before holds, and the header line takes its place where it opens
    a unit that is a table (answer_units reads one unit at a time); else the line would be a unit of its own
    or join prose, and the rows are the chunk before's.
    """
    lines = text.split("\n")
    if not _ROW.match(header):  # a header line of plain_table_header
        headed = "\n".join([header, *lines[1:]])
        s, e = next(iter(unit_spans(headed)), (0, 0))
        before, rows, _ = plain_table_split(headed[s:e], max(len(line.strip()) for line in headed.split("\n")))
        return headed if rows and not before.strip() else text
    first = next((n for n, line in enumerate(lines) if _ROW.match(line.strip()) and not _RULE.match(line.strip())
                  and _cells(line) == _cells(header)), None)
    if first is None or not all(_RULE.match(line.strip()) for line in lines[1:first]) \
            or (first + 1 < len(lines) and _RULE.match(lines[first + 1].strip())):
        return text
    return "\n".join([header, "|" + "---|" * _cells(header)] + lines[first:])


def _cells(row: str) -> int:
    return len(row.strip().strip("|").split("|"))


def opens_plain_rows(lines: list[str]) -> bool:
    """Whether a passage's second line is a row of a table without pipes (its first may be a piece of one)."""
    return len(lines) > 1 and _plain_row(lines[1], max(len(line.strip()) for line in lines))


def plain_table_header(page: str, start: int) -> str:
    """The header line of the table without pipes that offset `start` of `page` opens inside; '' when none.

    A chunk of a long PDF table holds only some of its rows: its first short line is a row (or a piece of one)
    and names no column. A chunk that starts at its header line's start holds the header itself.
    """
    lines, at = page.split("\n"), page.count("\n", 0, start)
    inside = start > page.rfind("\n", 0, start) + 1  # part-way through line `at`
    width = max(len(line.strip()) for line in lines)
    header = next((lines[n].strip() for n, end in _plain_tables(lines, width) if n < at < end or (n == at and inside)),
                  "")
    return "" if option_line(header) else header  # an option listing has no header: its rows stand alone


def plain_table_split(text: str, width: int) -> tuple[str, list[str], str]:
    """(text before a table without pipes, its rows each under its first line, text after); none: (text, [], '').

    PDF text keeps a table's rows as lines but no cell borders: "log-normal lnorm meanlog, sdlog" means
    nothing without "Distribution R name additional arguments" above it. A header line with
    MIN_PLAIN_ROWS or more lines under it, each of two words or more, none ending a sentence or a clause, all
    much shorter than the passage's longest line (`width`: wrapped prose fills it), is such a table.
    """
    lines = text.split("\n")
    for n, end in _plain_tables(lines, width):
        header = lines[n].strip()
        if option_line(header):  # an option listing names no columns: each option and what it does is a row
            rows = _option_rows(lines[n:end])
        else:
            rows = [f"{header}\n{line.strip()}" for line in lines[n + 1:end]]
        return "\n".join(lines[:n]), rows, "\n".join(lines[end:])
    return text, [], ""


def option_line(line: str) -> bool:
    """Whether `line` opens with a command-line option ('-c, --check checks ...'): a row of an option listing."""
    return bool(_OPTION_LINE.match(line.strip() + " "))


def _option_rows(lines: list[str]) -> list[str]:
    # A man page puts what an option does on the line under it ("-v, --verbose" over "explain what is being
    # done"): alone, that line names no option, so it stays with the option line above it.
    rows: list[str] = []
    for line in lines:
        if option_line(line) or not rows:
            rows.append(line.strip())
        else:
            rows[-1] += "\n" + line.strip()
    return rows


def _plain_tables(lines: list[str], width: int) -> Iterator[tuple[int, int]]:
    """(header line, end) of each run of short lines that is a table: its header and MIN_PLAIN_ROWS rows or more."""
    short = [_plain_row(line, width) for line in lines]
    n = 0
    while n < len(lines):
        end = next((k for k in range(n, len(lines)) if not short[k]), len(lines))
        if end - n > MIN_PLAIN_ROWS:
            yield n, end
        n = end + 1


def _plain_row(line: str, width: int) -> bool:
    stripped = line.strip()
    return len(stripped.split()) >= 2 and len(stripped) <= PLAIN_ROW_SHARE * width \
        and not stripped.endswith(tuple(".!?:;,")) and not _console_line(stripped)


def _filled(row: str) -> bool:
    """A row with text in two or more cells: a half-empty row answers nothing."""
    return sum(1 for cell in row.strip("|").split("|") if cell.strip()) >= 2


def lead(unit: str) -> str:
    """The prose of a unit: its lines that are not code, on one line."""
    lines = unit.split("\n")
    listing = _listing_start(lines) or len(lines)
    return " ".join([lines[0]] + [line for line in lines[1:listing] if not _console_line(line)])


def _listing_start(lines: list[str]) -> int:
    """Where the command lines that end a unit start, after a line ending in ':'; 0 when they do not.

    Manuals show commands without a prompt too ("A trigger may be activated explicitly with:" over
    "dpkg-trigger --no-await <name-of-trigger>"): up to MAX_CODE_LINES lines, each a few words holding a
    code name (qa/answertype.py code_names) and ending no sentence, blank lines between them or before them
    (an HTML or Markdown page's code block: "View the list of installed packages:\n\ncargo install --list", its
    fences too: "To reset the Widget, run the following command:\n\n```bash\nwidgetctl reset --hard\n```").
    A sentence that goes on after them is not such a listing ("... are Depends:\npython3 (>= 3.Y) and any
    python3-foo\npackages.").
    """
    n = next((k for k in range(len(lines) - 1, 0, -1) if lines[k - 1].rstrip().endswith(":")), 0)
    lines = ["" if _FENCE.match(line) else line for line in lines]  # a Markdown fence (```bash) marks, says nothing
    tail = [line for line in lines[n:] if line.strip()] if n else []  # HTML and Markdown set a code block apart
    # ... but a section's title set apart is no command ("### The CMAKE_BUILD_TYPE variable", "The ninja_syntax module")
    apart = [line for before, line in zip(lines[n - 1:], lines[n:]) if line.strip() and not before.strip()] if n else []
    return n if tail and len(tail) <= MAX_CODE_LINES and all(map(_command_line, tail)) \
        and not any(map(_titled, apart)) else 0


def _titled(line: str) -> bool:
    """A line that opens like a title, not a command: a Markdown heading, or a capitalised plain word first."""
    stripped = line.strip()
    return stripped.startswith("#") or bool(_CAPITALISED.match(stripped))


def _command_line(line: str) -> bool:
    stripped = line.strip()
    return 0 < len(stripped.split()) <= MAX_COMMAND_WORDS and not _CLOSED.search(stripped) \
        and bool(code_names(stripped))


def _prose(sentence: str) -> bool:
    """A sentence of three words or more, not itself code: the console lines right after it show what it says."""
    stripped = sentence.rstrip()
    return not _console_line(stripped) and len(stripped.split()) >= 3


def _short_lead(sentence: str) -> bool:
    """A lead-in of a word or two that a line of code completes and a sentence goes on after ("For example\n> fm2 <-
    lm(y ~ x1 + x2, data = production)\nwould fit a multiple regression model ..."; "The command\n> xnew <- edit(xold)
    \nwill allow you to edit ..."): without it the rest is quoted as a sentence with no subject."""
    stripped = sentence.strip()
    return 0 < len(stripped.split()) < 3 and stripped.count("\n") <= 1 \
        and not _console_line(stripped) and bool(_NAMED.match(stripped))


def _console_line(text: str) -> bool:
    return "\n" not in text and bool(_CONSOLE.match(text))
