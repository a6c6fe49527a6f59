"""British and American spellings of one word made to meet: 'sublicences' finds 'Sublicensing', 'colour' finds 'color'.

`canonical` maps every spelling of a word to one form, applied alike to a question's words and a text's
(qa/text.py stems through it); `variants` lists the spellings of a word, for a full-text query over an
index that holds the words as written (index/search.py). The rules are the regular British/American
pairs (-ce/-se, -our/-or, -tre/-ter, -ise/-ize, -yse/-yze, -ogue/-og, -lled/-led, judgement); a word
no rule changes is its own canonical form.
"""
from __future__ import annotations

import re

# Words the -our rule must leave alone ('hour', 'your' are too short for it): 'detour' is no 'detor'.
_OUR_KEPT = r"(?!\w*(?:flour|scour|detour|contour|devour|paramour|velour|amour|troubadour)(?:s|ed|ing|er|ers)?$)"
# Words the -tre rule must leave alone: 'timbre' (of a sound) is no 'timber', nor French 'entre' an 'enter'.
_TRE_KEPT = r"(?!(?:timbre|entre|outre|notre)s?$)"
_OGUE = {"e": "", "es": "s", "ed": "ed", "ing": "ing"}
_DOUBLED_L = ("travel|model|label|cancel|signal|level|channel|tunnel|fuel|total|counsel|dial|marshal|panel|"
              "quarrel|rival|jewel|equal|libel|funnel|barrel|initial|parcel|pedal|pencil|shovel")
# (British pattern, American replacement) on the lower-case word, the first that matches; -ize becomes
# -ise rather than the other way: many -ise words have no -ize form ('otherwise', 'exercise', 'premise').
_TO_CANONICAL = [
    (re.compile(r"^(\w*(?:licen|defen|offen|preten))c(e|es|ed|ing|ee|ees|eless)$"), r"\1s\2"),
    (re.compile(r"^(\w*practi)s(e|es|ed|ing|er|ers)$"), r"\1c\2"),
    (re.compile(r"^(\w{3,}[iy])z(e|es|ed|ing|er|ers|ation|ations|able)$"), r"\1s\2"),
    (re.compile(r"^" + _OUR_KEPT + r"(\w{2,})our(s|ed|ing|ite|ites|able|ably|er|ers|ful|less|ist|ists|al|y)?$"),
     r"\1or\2"),
    (re.compile(r"^" + _TRE_KEPT + r"(\w{2,}[tb])re(s|d)?$"), r"\1er\2"),
    (re.compile(r"^(\w{3,})ogu(e|es|ed|ing)$"), lambda m: m[1] + "og" + _OGUE[m[2]]),
    (re.compile(r"^(\w*dg)ement(s)?$"), r"\1ment\2"),
    (re.compile(rf"^(\w*(?:{_DOUBLED_L}))l(ed|ing|er|ers)$"), r"\1\2"),
]
# The other spellings a canonical form may have been written as (kept only if they map back to it).
_FROM_CANONICAL = [
    (re.compile(r"^(\w*(?:licen|defen|offen|preten))s(e|es|ed|ing|ee|ees|eless)$"), r"\1c\2"),
    (re.compile(r"^(\w*practi)c(e|es|ed|ing|er|ers)$"), r"\1s\2"),
    (re.compile(r"^(\w{3,}[iy])s(e|es|ed|ing|er|ers|ation|ations|able)$"), r"\1z\2"),
    (re.compile(r"^(\w{2,})or(s|ed|ing|ite|ites|able|ably|er|ers|ful|less|ist|ists|al|y)?$"), r"\1our\2"),
    (re.compile(r"^(\w{2,}[tb])er(s|ed)?$"), lambda m: m[1] + "re" + {"": "", "s": "s", "ed": "d"}[m[2] or ""]),
    (re.compile(r"^(\w{3,})og(s|ed|ing)?$"), lambda m: m[1] + "ogu" + {"": "e", "s": "es", "ed": "ed", "ing": "ing"}[m[2] or ""]),
    (re.compile(r"^(\w*dg)ment(s)?$"), r"\1ement\2"),
    (re.compile(rf"^(\w*(?:{_DOUBLED_L}))(ed|ing|er|ers)$"), r"\1l\2"),
]


# The Latin ligatures a PDF's fonts draw as one glyph (pdfTeX, Texinfo): pypdf gives them as one character, and
# "ﬁtted" is then no word a user types, the full-text index finds or the embedding model's vocabulary holds.
_LIGATURES = str.maketrans({"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
                            "\ufb05": "st", "\ufb06": "st"})


def spelt_out(text: str) -> str:
    """`text` with its ligatures spelt out ("ﬁtted": "fitted"): a document's text at ingest, and a question pasted
    from a PDF viewer."""
    return text.translate(_LIGATURES)


def canonical(word: str) -> str:
    """The one spelling that all British and American spellings of `word` share (lower case)."""
    w = word.lower()
    for pattern, replacement in _TO_CANONICAL:
        changed = pattern.sub(replacement, w)
        if changed != w:
            return changed
    return w


def variants(word: str) -> list[str]:
    """`word` (lower case) first, then its other spellings: those that share its canonical form."""
    w = word.lower()
    base = canonical(w)
    found = [w, base] + [p.sub(r, base) for p, r in _FROM_CANONICAL]
    return [v for v in dict.fromkeys(found) if v == w or canonical(v) == base]
