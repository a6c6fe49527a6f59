"""The one text toolkit of qa/ (answer engine and verifier alike): sentences, words, stems, numbers, negation,
whether a sentence states anything, and how prose-like a text is."""
from __future__ import annotations

import re

from index.spelling import canonical

# A sentence ends at . ! ? (optionally closed by a quote or bracket) followed by space and a capital, digit, quote
# or bracket, or by a line that opens with a command-line option (a manual's listing: "... This is how GNU gzip
# behaves.\n-k --keep\nKeep (don't delete) input files ..."); or at a blank line. PDF text breaks lines
# mid-sentence, so a single line break is a boundary only after a colon or semicolon, before a line of code (a
# console prompt or comment: "> lm(y ~ x)"), or after a numbered heading ("11.2 Linear models"), the heading
# itself and a last word or three it wrapped onto a line of its own ("11.7 Nonlinear least squares and maximum
# likelihood\nmodels\nCertain forms ...": left in, "models Certain forms of nonlinear model ..." was quoted).
_HEADING = (r"[ \t]*\d+(?:\.\d+)*[ \t]+[A-Z][^\n.]{0,60}\n"
            r"(?:[ \t]*[a-z][a-z-]*(?:[ \t]+[a-z][a-z-]*){0,2}[ \t]*\n(?=[ \t]*[A-Z]))?")
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9\"'(\[`])|\n\s*\n|(?<=[:;])[ \t]*\n"
                       r"|(?<=[.!?])[\"')\]]*[ \t]*\n(?=[ \t]*--?[A-Za-z])"
                       r"|\n(?=[ \t]*[>#$+] )|(?<=\n)" + _HEADING + "|^" + _HEADING)
_CODE_LINE_END = re.compile(r"(?m)^[ \t]*[>+$] [^\n]*(\n)")  # a console line ends its own sentence
# Extracted text often glues sentences ("...in 1844.First for Women"): a capitalised word right after
# the full stop of a plain word or number is a boundary; after a dotted name ("java.lang.String",
# "e.g.") it is not.
_GLUED = re.compile(r"(?<=[.!?])(?=[A-Z][a-z])")
_GLUED_AFTER = re.compile(r"(?:^|(?<=\s))(?:[A-Za-z]*[a-z]|\d+)[.!?]$")
# A word starts with a letter and may hold digits, joining apostrophes and underscores, and dots that
# lead on to a lower-case letter or digit, so that code names stay whole ("read.csv", "lm_fit", "v2.0")
# while glued sentences split; a number may hold decimal points and thousands separators.
_WORD = re.compile(r"[^\W\d_](?:[^\W_]|[_'’](?=[^\W_])|\.(?=[a-z0-9]))*|\d+(?:[.,]\d+)*")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_CLITIC = re.compile(r"['’](?:s|m|re|ve|ll|d)?$")  # Arthur's, I'm, they've -> Arthur, I, they
# A list item's number alone ("1.", "2)") is no sentence: the item's text after it belongs to it.
_MARKER_ONLY = re.compile(r"\(?\d{1,3}[.)]")
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "cf.", "vs.", "Fig.", "fig.", "No.", "Dr.", "Mr.", "Ms.", "et al.")
NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty".split())}
NEGATIONS = frozenset("not no never none nobody nothing neither nor cannot without".split())
# Function words, and words that carry no fact of their own in a question or an answer ("how do I
# use ...", "yes, well, I think ...").
STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have
having he her here hers herself him himself his how i if in into is it its itself just me more most my
myself of off on once only or other our ours ourselves out over own same she should so some such than
that the their theirs them themselves then there these they this those through to too under until up
very was we were what when where which while who whom why will with would you your yours yourself
yourselves yes yeah well oh sure like know think really many much one may might must shall use used
using get gets way ways want
""".split()) | NEGATIONS
# Syntax only code has: a call, a dotted or snake_case name, a scope, an R variable, an assignment.
_CODE = re.compile(r"\w\(|\w\.\w|\w_\w|::|\$\w|<-|\w\s*=")
_LIST_MARKER = re.compile(r"^\s*(?:\(?\d+[.)]|[-*•])\s+")
# "Based on the information provided in the passages, ", "According to the first passage [2], ": a lead-in
# naming only the documents in general (never a named source, such as "According to the R FAQ").
_SOURCE = r"(?:passages?|documents?|context|text|information|sources?|excerpts?)"
_ATTRIBUTION = re.compile(
    r"^\s*(?:based on|according to|as (?:stated|described|mentioned|shown|given) in|from)\s+(?:the\s+)?"
    r"(?:(?:information|details|text|context)\s+(?:(?:provided|given)\s+)?(?:in\s+)?(?:the\s+)?)?"
    r"(?:(?:first|second|third|fourth|fifth|sixth|above|given|provided|retrieved|numbered)\s+)?"
    + _SOURCE + r"(?:\s+(?:provided|given|above))?(?:\s*\[\d+\])*\s*,\s*", re.IGNORECASE)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`, surrounding space excluded."""
    spans, start = [], 0
    for b_start, b_end in _boundaries(text):
        if b_start < start or _ends_with_abbreviation(text[start:b_start]) \
                or _MARKER_ONLY.fullmatch(text[start:b_start].strip()):
            continue
        spans.append((start, b_start))
        start = b_end
    spans.append((start, len(text)))
    return [_strip(text, s, e) for s, e in spans if text[s:e].strip()]


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, with line breaks inside a sentence turned into spaces."""
    return [flatten(text[s:e]) for s, e in sentence_spans(text)]


def flatten(text: str) -> str:
    """One line: hyphenated line ends joined, runs of white space collapsed."""
    text = re.sub(r"(\w)-\n(\w)", r"\1\2", text)
    return re.sub(r"\s+", " ", text).strip()


def tokens(text: str) -> list[str]:
    """The words and numbers of `text` as written, in order."""
    return _WORD.findall(text)


def words(text: str) -> list[str]:
    """Lower-case words and numbers, in order."""
    return [w.lower() for w in tokens(text)]


def content_tokens(text: str) -> list[str]:
    """The tokens that carry meaning, as written: no stop words, contractions or single letters."""
    return [t for t in tokens(text) if _carries_meaning(t)]


def content_words(text: str) -> list[str]:
    """Stems of the words that carry meaning, in order, so that 'models' meets 'model'."""
    return [stem(t) for t in content_tokens(text)]


def name_words(text: str) -> set[str]:
    """Stems of the words the dotted and underscored names of `text` are made of: asn1_find_structure_from_oid
    holds 'find', 'structure' and 'oid', read.csv holds 'read' and 'csv'. A number is no name: 3.4 holds no 4."""
    return {w for t in tokens(text) if t[0].isalpha() and ("_" in t or "." in t)
            for w in content_words(" ".join(re.split(r"[._]", t)))}


def stem(word: str) -> str:
    """A light suffix-stripping stem, so 'directed', 'directs' and 'directing' meet (and 'licence', 'licensing':
    British and American spellings are made one first); number words become digits."""
    w = canonical(_CLITIC.sub("", word.lower()))
    if w in NUMBER_WORDS:
        return NUMBER_WORDS[w]
    if any(c.isdigit() for c in w):
        return w.replace(",", "") if _THOUSANDS.fullmatch(w) else w  # 1844 is no plural of 184
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    for suffix in ("ing", "ed", "ly", "es", "s"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3 and not w.endswith(("ss", "us", "is")):
            w = w[:-len(suffix)]
            break
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
        w = w[:-1]  # stopped -> stop
    return w[:-1] if len(w) > 3 and w.endswith("e") else w  # based, base -> bas


def numbers(text: str) -> set[str]:
    """Numbers written in digits (thousands separators dropped) or as words up to twenty."""
    digits = {n.replace(",", "") for n in _NUMBER.findall(text)}
    return digits | {NUMBER_WORDS[w] for w in words(text) if w in NUMBER_WORDS}


def negated(text: str) -> bool:
    """Whether `text` holds a negation ('not', 'never', 'isn't', ...)."""
    return any(w in NEGATIONS or w.endswith(("n't", "n’t")) for w in words(text))


def states_something(sentence: str) -> bool:
    """Whether a sentence can assert a fact at all, and so be supported or not.

    It needs a content word that is not a number, and more than one distinct word, unless its one word
    is code: "Use readxl." and "read.csv()" state something; "1.", "PWNED", "42", "Yes." and "..." do
    not, however often a passage repeats them (a list marker in front changes nothing).
    """
    text = _LIST_MARKER.sub("", sentence)
    if not any(not t[0].isdigit() for t in content_tokens(text)):
        return False
    return len(set(words(text))) > 1 or bool(_CODE.search(text))


def claim(sentence: str) -> str:
    """The sentence without a lead-in that only points at the documents ("Based on the information provided in
    the passages, X" -> "X"); unchanged when it has none.

    The lead-in asserts nothing a passage could support, and a model that writes it is still asserting X;
    left in, it made the cross-encoder reject right answers (0.28 against 0.91 for R's 8MB stack size).
    """
    return _ATTRIBUTION.sub("", sentence, count=1)  # not recapitalised: "lm fits ..." must not become "Lm"


def prose_ratio(text: str) -> float:
    """Share of white-space separated tokens that are words: low for index pages, tables and code."""
    parts = text.split()
    if not parts:
        return 0.0
    wordy = sum(1 for t in parts if re.fullmatch(r"[(\"']?[A-Za-z][a-z'-]*[A-Za-z]?[.,;:)\"']*", t))
    return wordy / len(parts)


def _carries_meaning(token: str) -> bool:
    base = _CLITIC.sub("", token.lower())
    return base not in STOPWORDS and not base.endswith(("n't", "n’t")) and (len(base) > 1 or base.isdigit())


def _boundaries(text: str) -> list[tuple[int, int]]:
    found = [m.span() for m in _BOUNDARY.finditer(text)] + [m.span(1) for m in _CODE_LINE_END.finditer(text)]
    found += [m.span() for m in _GLUED.finditer(text) if _GLUED_AFTER.search(text, max(0, m.start() - 40), m.start())]
    return sorted(found)


def _ends_with_abbreviation(text: str) -> bool:
    return text.endswith(_ABBREVIATIONS) or bool(re.search(r"\b[A-Z]\.$", text))


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
