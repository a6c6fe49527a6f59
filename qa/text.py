"""Plain-text helpers shared by the answer engine: sentences, words, and how prose-like a text is."""
from __future__ import annotations

import re

# A sentence ends at . ! ? (optionally closed by a quote or bracket) followed by space and a
# capital, digit, quote or bracket; or at a blank line. PDF text breaks lines mid-sentence, so a
# single line break is a boundary only after a colon or semicolon, before a line of code (a
# console prompt or comment: "> lm(y ~ x)"), or after a numbered heading ("11.2 Linear models").
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9\"'(\[`])|\n\s*\n|(?<=[:;])[ \t]*\n"
                       r"|\n(?=[ \t]*[>#$+] )|(?<=\n)[ \t]*\d+(?:\.\d+)*[ \t]+[A-Z][^\n.]{0,60}\n"
                       r"|^[ \t]*\d+(?:\.\d+)*[ \t]+[A-Z][^\n.]{0,60}\n")
_CODE_LINE_END = re.compile(r"(?m)^[ \t]*[>+$] [^\n]*(\n)")  # a console line ends its own sentence
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.']*[A-Za-z0-9]|[A-Za-z]|\d+(?:\.\d+)?")
_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)*\b")
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "cf.", "vs.", "Fig.", "fig.", "No.", "Dr.", "Mr.", "Ms.", "et al.")
STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between
both but by can could did do does doing down during each few for from further had has have having he her
here hers him his how i if in into is it its itself just me more most my no nor not now of off on once only
or other our out over own same she should so some such than that the their them then there these they this
those through to too under until up very was we were what when where which while who whom why will with
would you your yours use used using one also may might must shall get gets way ways want
""".split())


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`, surrounding space excluded."""
    spans, start = [], 0
    for b_start, b_end in _boundaries(text):
        if b_start < start or _ends_with_abbreviation(text[start:b_start]):
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


def words(text: str) -> list[str]:
    """Lower-case words and numbers, in order."""
    return [w.lower() for w in _WORD.findall(text)]


def content_words(text: str) -> list[str]:
    """Words that carry meaning: no stop words, reduced to a crude stem so 'models' meets 'model'."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


def stem(word: str) -> str:
    """A light suffix strip; enough to match plural and tense variants of the same word."""
    for suffix, keep in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: len(word) - len(suffix)] + keep
    return word


def numbers(text: str) -> set[str]:
    """The numbers written in `text`, thousands separators removed."""
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


def prose_ratio(text: str) -> float:
    """Share of white-space separated tokens that are words: low for index pages, tables and code."""
    tokens = text.split()
    if not tokens:
        return 0.0
    wordy = sum(1 for t in tokens if re.fullmatch(r"[(\"']?[A-Za-z][a-z'-]*[A-Za-z]?[.,;:)\"']*", t))
    return wordy / len(tokens)


def _boundaries(text: str) -> list[tuple[int, int]]:
    found = [m.span() for m in _BOUNDARY.finditer(text)] + [m.span(1) for m in _CODE_LINE_END.finditer(text)]
    return sorted(found)


def _ends_with_abbreviation(text: str) -> bool:
    return text.endswith(_ABBREVIATIONS) or bool(re.search(r"\b[A-Z]\.$", text))


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
