"""Which words of a question name a document by its title or file name, as readers abbreviate names.

A question says "GPLv3", "GNU FDL", "the Lesser GPL" or "Mozilla Public License"; the documents are
titled "GPL-3", "GFDL-1.3", "LGPL-2.1", "MPL-2.0" and their text says "this License". Both sides are
reduced to name keys: each word, a word with the version number after it ("GPL-3", "GPLv3", "GPL
version 3" -> gpl3), and the initials of a run of capitalised words ("Free Documentation License" ->
fdl; a final all-capital word is kept whole: "GNU FDL" -> gfdl). A question's word names a document
when one of the keys it is part of is a key of the document's title or of a file name it was read from.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from pathlib import PurePath

# A word, or a number with its dotted parts; a 'v' between a name and its number is a version mark.
_TOKEN = re.compile(r"[^\W\d_]+|\d+(?:\.\d+)*")
_VERSION_MARK = re.compile(r"(?<=[^\W\d_])v(?=\d)", re.IGNORECASE)
_VERSION_WORDS = frozenset({"version", "v", "ver"})
_MIN_ACRONYM = 3  # two initials ("dm", "of") match far too much
# No name has more initials ("GNU Free Documentation License": 4); without a bound a run of n capitalised words
# made n^2 acronyms of up to n letters, and a 6,900-character HTML title cost every question 33 s.
_MAX_ACRONYM = 8


def name_keys(text: str) -> dict[str, frozenset[int]]:
    """Each name key of `text` with the positions of the tokens (of `_TOKEN` over the text) it is made from."""
    toks = _tokens(text)
    keys: dict[str, set[int]] = {}

    def add(key: str, parts: Iterable[int]) -> None:
        keys.setdefault(key, set()).update(parts)

    for i, tok in enumerate(toks):
        if tok[0].isdigit():
            continue
        if len(tok) > 1:
            add(tok.lower(), [i])
        j = i + 1 + (i + 1 < len(toks) and toks[i + 1].lower() in _VERSION_WORDS)
        if j < len(toks) and toks[j][0].isdigit():
            add(tok.lower() + _short_number(toks[j]), range(i, j + 1))
    for run in _capitalised_runs(toks):
        for a in range(len(run)):
            for b in range(a + 2, min(len(run), a + _MAX_ACRONYM) + 1):
                part = [toks[k] for k in run[a:b]]
                last = part[-1] if part[-1].isupper() and len(part[-1]) > 1 else part[-1][0]
                acronym = "".join(t[0] for t in part[:-1]).lower() + last.lower()
                if len(acronym) >= _MIN_ACRONYM:
                    add(acronym, run[a:b])
    return {k: frozenset(v) for k, v in keys.items()}


def document_keys(title: str, paths: Iterable[str] = ()) -> frozenset[str]:
    """The name keys of a document: of its title and of the names (less suffix) of the files it was read from.

    A title's single plain word is no name of it ('data' of 'R-data', 'options' of 'Codegen Options'): the text
    holds such words where they matter, and counting them for every passage drew answers to the wrong manual
    (R dev). A single word counts when written in capitals, as abbreviations are ('GPL', 'FAQ').
    """
    keys = set()
    for name in [title, *(PurePath(p).stem for p in paths)]:
        toks = _tokens(name)
        keys |= {k for k, parts in name_keys(name).items() if len(parts) > 1 or toks[min(parts)].isupper()}
    return frozenset(keys)


def title_words(question: str, keys: frozenset[str]) -> frozenset[str]:
    """The question's name parts (lower case) that belong to a name the document's `keys` hold."""
    toks, asked = _question_names(question)
    return frozenset(toks[i] for key, parts in asked if key in keys for i in parts)


@functools.lru_cache(maxsize=64)
def _question_names(question: str) -> tuple[tuple[str, ...], tuple[tuple[str, frozenset[int]], ...]]:
    # Read once per question, not once per document it is compared with (~80 us each).
    return tuple(name_parts(question)), tuple(name_keys(question).items())


def name_parts(text: str) -> list[str]:
    """The words and numbers names are made of, lower case: 'GPLv3' -> gpl, 3."""
    return [t.lower() for t in _tokens(text)]


def _tokens(text: str) -> list[str]:
    """`text`'s words and numbers as written, a version mark split off ('GPLv3' -> GPL, 3)."""
    return _TOKEN.findall(_VERSION_MARK.sub(" ", text))


def _short_number(number: str) -> str:
    """A version number without trailing zero parts: '2.0' and '2' name the same version."""
    parts = number.split(".")
    while len(parts) > 1 and parts[-1].strip("0") == "":
        parts.pop()
    return ".".join(parts)


def _capitalised_runs(toks: list[str]) -> list[list[int]]:
    """Positions of runs of two or more consecutive capitalised words."""
    runs, current = [], []
    for i, tok in enumerate(toks):
        if tok[0].isupper():
            current.append(i)
            continue
        if len(current) > 1:
            runs.append(current)
        current = []
    if len(current) > 1:
        runs.append(current)
    return runs
