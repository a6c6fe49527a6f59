"""Underscores a PDF drew as rules: "mpfr t" where the manual prints mpfr_t.

Texinfo typesets an underscore in its slanted and bold fonts (type names in a function's heading, a
variable's name) as a short drawn rule, not a glyph, so the PDF's text has a space there: "int
mpfr_set_prec (mpfr t x, mpfr prec t prec)", "asn1 node" for asn1_node. The same name is printed
with its underscore elsewhere in the document (in code, in the typewriter font). A spaced copy of
such a name is given its underscores back when one of its parts could be no English word: it holds a
digit or is a single letter (asn1_node, mpfr_t, expr_1). Names of plain words are left as they are:
"login shell" is prose in bash's manual as well as the option login_shell.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

# A lower-case name joined by underscores: C types and functions, R's expr_1. Upper case (R_HOME, an environment
# variable) is printed in the typewriter font, which has an underscore glyph.
_NAME = re.compile(r"(?<![\w.])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w])")
_PRONOUNS = {"a", "i"}  # one-letter English words: "is a" is prose, not is_a


def with_underscores(texts: Sequence[str]) -> list[str]:
    """Each page's text with the spaced copies of the document's unmistakable underscored names joined again."""
    names = {m.group(0) for text in texts for m in _NAME.finditer(text)}
    wanted = sorted((n for n in names if any(_not_a_word(p) for p in n.split("_"))), key=len, reverse=True)
    if not wanted:
        return list(texts)
    spaced = re.compile(r"(?<![\w.])(?:" + "|".join(r"[ \t]+".join(map(re.escape, n.split("_"))) for n in wanted)
                        + r")(?![\w])")
    return [spaced.sub(lambda m: "_".join(m.group(0).split()), text) for text in texts]


def _not_a_word(part: str) -> bool:
    return any(ch.isdigit() for ch in part) or (len(part) == 1 and part not in _PRONOUNS)
