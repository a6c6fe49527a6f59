"""Edits that turn a real sentence into a claim its passage still supports, or into one it does not (FactCC-style).

Each edit takes the sentence, the passage it came from and what the document offers to swap in
(`Pool`), and returns the edited claim or None where it does not apply. Negative edits change
one fact and leave the rest of the sentence as written, so that the only way to reject the
claim is to read that fact against the passage.
"""
from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qa.text import content_words

NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)*(?![\w])")
# R-style and Python-style names: read.table(), install.packages, sys_call, lm()
FUNCTION = re.compile(r"(?<![\w.])[A-Za-z][\w]*(?:[._][\w]+)+(?:\(\))?|(?<![\w.])[A-Za-z]\w*\(\)")
CAPITALISED = re.compile(r"(?<=[a-z,;:] )[A-Z][A-Za-z]+(?:-[A-Z][A-Za-z]+)?\b")
UNIT_GROUPS = (("bytes", "kilobytes", "megabytes", "gigabytes"), ("KB", "MB", "GB", "TB"),
               ("Kb", "Mb", "Gb"), ("bits", "bytes"), ("seconds", "minutes", "hours", "days"),
               ("milliseconds", "seconds"), ("rows", "columns"), ("Windows", "macOS", "Linux"),
               ("32-bit", "64-bit"), ("left", "right"), ("first", "last"), ("minimum", "maximum"),
               ("lower", "upper"), ("before", "after"), ("smaller", "larger"), ("increase", "decrease"))
AUXILIARIES = ("is", "are", "was", "were", "can", "could", "will", "would", "should", "must", "may",
               "does", "do", "did", "has", "have", "had")
_AUX = re.compile(r"\b(" + "|".join(AUXILIARIES) + r")\b")
_NEGATED = re.compile(r"\b(cannot|can't|won't|doesn't|don't|isn't|aren't|wasn't|weren't|shouldn't|didn't|hasn't|"
                      r"haven't)\b|\b(" + "|".join(AUXILIARIES) + r") not\b")
_POSITIVE_FORM = {"cannot": "can", "can't": "can", "won't": "will", "doesn't": "does", "don't": "do",
                  "isn't": "is", "aren't": "are", "wasn't": "was", "weren't": "were", "shouldn't": "should",
                  "didn't": "did", "hasn't": "has", "haven't": "have"}
_LEADING = re.compile(r"^(However|Thus|Also|In particular|In practice|For example|Note that|Hence|Therefore|"
                      r"Similarly|Alternatively|Currently|Generally|Usually|Typically),?\s+", re.IGNORECASE)
_DROPPABLE = (re.compile(r"\s*\([^()]{1,80}\)"), re.compile(r",\s*(?:which|e\.g\.|for example|such as)[^,;]*(?=[,;.]|$)"),
              re.compile(r";\s.*$"))


# Words a headline drops; negations and quantities never are.
_SOFT = re.compile(r"\b(?:the|a|an|also|just|really|very|actually)\s+", re.IGNORECASE)
_COORDINATION = re.compile(r",\s+(?:and|but|while|whereas)\s+|;\s+")
# First words that are capitalised only because they start the sentence: lower-cased after 'and'.
_PLAIN = frozenset("the a an this that these those it its there they he she we you if when for in on to "
                   "all some each most many when while after before by with".split())


@dataclass(frozen=True)
class Pool:
    """What a document offers to swap in: its numbers, function names and capitalised names."""

    numbers: tuple[str, ...]
    functions: tuple[str, ...]
    names: tuple[str, ...]

    @classmethod
    def of(cls, texts: Sequence[str]) -> Pool:
        """Everything swappable in a document's texts, each once, in first-seen order."""
        text = "\n".join(texts)
        found = (NUMBER.findall(text), FUNCTION.findall(text), CAPITALISED.findall(text))
        return cls(*(tuple(dict.fromkeys(items)) for items in found))


def reduction(sentence: str, rng: random.Random) -> str | None:
    """The sentence with a parenthesis, a trailing aside or a leading connective dropped: still supported."""
    options = []
    for pattern in _DROPPABLE:
        shorter = pattern.sub("", sentence, count=1).strip()
        if shorter != sentence and len(shorter.split()) >= 5:
            options.append(shorter if shorter[-1] in ".!?:" else shorter + ".")
    lead = _LEADING.sub("", sentence)
    if lead != sentence and len(lead.split()) >= 5:
        options.append(lead[0].upper() + lead[1:])
    return rng.choice(options) if options else None


def headline(sentence: str) -> str | None:
    """The sentence in a headline's words: articles and softeners dropped (a summary's style), still supported."""
    short = _SOFT.sub("", sentence)
    short = re.sub(r"\s+", " ", _LEADING.sub("", short)).strip()
    if short == sentence or len(short.split()) < 4:
        return None
    return short[0].upper() + short[1:]


def clause(sentence: str, rng: random.Random) -> str | None:
    """One whole clause of a compound sentence (before or after ', and' / ', but' / ', while'): still supported."""
    parts = [p.strip(" ,;") for p in _COORDINATION.split(sentence)]
    parts = [p for p in parts if len(p.split()) >= 5]
    if len(parts) < 2:
        return None
    part = rng.choice(parts)
    part = part[0].upper() + part[1:]
    return part if part[-1] in ".!?" else part + "."


def fuse(first: str, second: str) -> str:
    """Two statements as one sentence ('A, and b.'): supported when both are, unsupported when either is not."""
    head = first.rstrip(" .;:")
    tail = second[0].lower() + second[1:] if second[:2].istitle() and second.split()[0].lower() in _PLAIN else second
    return f"{head}, and {tail}"


def swap_number(sentence: str, passage: str, pool: Pool, rng: random.Random) -> str | None:
    """One number (or version) replaced by another the document uses and the passage does not."""
    present = set(NUMBER.findall(passage))
    return _swap(sentence, NUMBER, [n for n in pool.numbers if n not in present], rng,
                 fallback=lambda n: str(int(n) + rng.choice((1, 2, 10))) if n.isdigit() else None)


def swap_function(sentence: str, passage: str, pool: Pool, rng: random.Random) -> str | None:
    """One function or option name replaced by another of the document's, absent from the passage."""
    present = set(FUNCTION.findall(passage))
    return _swap(sentence, FUNCTION, [f for f in pool.functions if f not in present], rng)


def swap_name(sentence: str, passage: str, pool: Pool, rng: random.Random) -> str | None:
    """One capitalised name (not the first word) replaced by another of the document's, absent from the passage."""
    present = set(CAPITALISED.findall(passage))
    return _swap(sentence, CAPITALISED, [n for n in pool.names if n not in present], rng)


def swap_unit(sentence: str, passage: str, pool: Pool, rng: random.Random) -> str | None:
    """A unit or an opposite (MB/GB, seconds/minutes, first/last, before/after) replaced by another of its group."""
    found = [(m, group) for group in UNIT_GROUPS for m in re.finditer(rf"\b({'|'.join(group)})\b", sentence)]
    if not found:
        return None
    match, group = rng.choice(found)
    other = rng.choice([u for u in group if u != match.group(0)])
    return sentence[:match.start()] + other + sentence[match.end():]


def flip_negation(sentence: str, passage: str, pool: Pool, rng: random.Random) -> str | None:
    """A negation removed ("cannot" -> "can", "is not" -> "is") or added after the first auxiliary verb."""
    negated = _NEGATED.search(sentence)
    if negated:
        plain = _POSITIVE_FORM.get(negated.group(1) or "", negated.group(2))
        return sentence[:negated.start()] + plain + sentence[negated.end():]
    aux = _AUX.search(sentence)
    if not aux:
        return None
    added = "cannot" if aux.group(1) == "can" else f"{aux.group(1)} not"
    return sentence[:aux.start()] + added + sentence[aux.end():]


def recombine(sentence: str, others: Sequence[str], rng: random.Random) -> str | None:
    """The subject of the sentence joined to the predicate of another sentence of the passage: its words, not its facts."""
    head = _AUX.search(sentence)
    tails = [(s, m) for s in others if s != sentence and (m := _AUX.search(s)) and m.start() > 0]
    if not head or head.start() == 0 or not tails:
        return None
    other, tail = rng.choice(tails)
    claim = sentence[:head.start()] + other[tail.start():]
    return claim if content_words(claim) != content_words(sentence) else None


def _swap(sentence: str, pattern: re.Pattern, candidates: Sequence[str], rng: random.Random,
          fallback: Callable[[str], str | None] | None = None) -> str | None:
    """One match of pattern in the sentence replaced by a different candidate (or the fallback's choice)."""
    matches = list(pattern.finditer(sentence))
    if not matches:
        return None
    match = rng.choice(matches)
    choices = [c for c in candidates if c != match.group(0)]
    other = rng.choice(choices) if choices else fallback(match.group(0)) if fallback else None
    return None if other is None else sentence[:match.start()] + other + sentence[match.end():]


NEGATIVE_EDITS = {"number": swap_number, "function": swap_function, "name": swap_name, "unit": swap_unit,
                  "negation": flip_negation}
