"""Underscores a PDF drew as rules: "mpfr t" where the manual prints mpfr_t.

Texinfo typesets an underscore in its slanted and bold fonts (type names in a function's heading, a
variable's name) as a short drawn rule, not a glyph, so the PDF's text has a space there: "int
mpfr_set_prec (mpfr t x, mpfr prec t prec)", "asn1 node" for asn1_node. The same name is printed
with its underscore elsewhere in the document (in code, in the typewriter font). A spaced copy of
such a name is given its underscores back when one of its parts could be no English word: it holds a
digit or is a single letter after the first part (asn1_node, mpfr_t, expr_1). Names of plain words are left as
they are: "login shell" is prose in bash's manual as well as the option login_shell, "k means" beside k_means.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

# A lower-case name joined by underscores: C types and functions, R's expr_1. Upper case (R_HOME, an environment
# variable) is printed in the typewriter font, which has an underscore glyph.
_NAME = re.compile(r"(?<![\w.])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w])")
_PRONOUNS = {"a", "i"}  # one-letter English words: "is a" is prose, not is_a
# Most parts of a name looked for: each word of a run is tried against every length up to the longest name's, so one
# 300-part string (a key, a generated label) made a 2-MB page take minutes. The eval PDFs' longest names have 5.
_MOST_PARTS = 8


def with_underscores(texts: Sequence[str]) -> list[str]:
    """Each page's text with the spaced copies of the document's unmistakable underscored names joined again."""
    names = {tuple(m.group(0).split("_")) for text in texts for m in _NAME.finditer(text)}
    wanted = {parts for parts in names if len(parts) <= _MOST_PARTS and _unmistakable(parts)}
    if not wanted:
        return list(texts)
    longest = max(map(len, wanted))
    return [_RUN.sub(lambda m: _joined(m.group(0), wanted, longest), text) for text in texts]


# A run of lower-case words on one line, where a spaced copy may stand. Each run is read word by word and looked
# up in a set, so the time grows with the text, not with the text times the number of names. A run ends before a
# word, and before a decimal point: "python 3.12" is a version, not python_3 followed by ".12".
_RUN = re.compile(r"(?<![\w.])[a-z][a-z0-9]*(?:[ \t]+[a-z0-9]+)+(?![\w]|\.\d)")


def _joined(run: str, wanted: set[tuple[str, ...]], longest: int) -> str:
    """`run` with each longest spaced copy of a wanted name in it joined by underscores, the rest as written."""
    spans = [(m.start(), m.end()) for m in re.finditer(r"\S+", run)]
    words = [run[a:b] for a, b in spans]
    out, at, i = [], 0, 0
    while i < len(words):
        size = next((k for k in range(min(longest, len(words) - i), 1, -1) if tuple(words[i:i + k]) in wanted), 1)
        if size > 1:
            out += [run[at:spans[i][0]], "_".join(words[i:i + size])]
            at = spans[i + size - 1][1]
        i += size
    return "".join(out) + run[at:]


def _unmistakable(parts: tuple[str, ...]) -> bool:
    """Whether a name's spaced copy could be no prose: a part holds a digit, or a part after the first is one letter.

    A letter before a word is an English compound ("k means", "the x axis", "a t test", "the p value"), which
    prose writes beside the k_means, x_axis of the code; a letter after one is a C type's suffix (mpfr_t). A letter
    and numbers alone are a formula's subscripts ("x 1 + x 2" beside the code's x_1), not a name's spaced copy.
    """
    if len(parts[0]) == 1 and all(part.isdigit() for part in parts[1:]):
        return False
    return any(ch.isdigit() for part in parts for ch in part) \
        or any(len(part) == 1 and part not in _PRONOUNS for part in parts[1:])
