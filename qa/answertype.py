"""What kind of fact a question asks for (a date, a version, a number, a code name, a default); does a text hold one?

A near-topic question the documents do not answer still retrieves passages on its subject, and every
word of it may be there: what is missing is the asked fact itself. When the question's form says what
that fact looks like ('in which year' -> a year, 'how many' -> a number), the best answer units either
hold a token of that kind or they cannot be the answer.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from qa.text import NUMBER_WORDS, STOPWORDS, stem

# Each kind of answer: the question forms that ask for it, and what such an answer looks like in a text.
_ASKS = {
    "date": r"\bwhen (?:was|were|did|is|will)\b|\b(?:what|which) (?:year|date|day|month)\b|\bsince when\b",
    "version": r"\b(?:what|which)\b[^?]{0,30}?\b(?:version|release)\b",
    "number": r"\bhow (?:many|much|long|large|big)\b|\bwhat (?:size|percentage|p-value)\b"
              r"|\b(?:maximum|minimum|default) (?:number|limit|size|length)\b",
    "size": r"\bhow much (?:ram|memory|disk|space|storage)\b|\bwhat size\b|\bin (?:bytes|megabytes|gigabytes)\b",
    "duration": r"\bhow long (?:does|do|did|will|would)\b[^?]*\btake\b|\btimeout\b|\bin (?:seconds|minutes|hours)\b",
    "frequency": r"\bhow often\b",
    "code": r"\b(?:what|which) (?:\w+ )?(?:function|command|option|argument|package)s?\b",
    # 'the default (Welch) t-test' names a thing; 'by default', 'the default number', 'when I don't give' ask a value
    "default": r"\bby default\b|\b(?:is|are) (?:the|its|\w+'s) default\b"
               r"|\bwhen I (?:do not|don't) (?:give|choose|specify|set|supply|pass)\b"
               r"|\bdefault (?:value|number|limit|size|setting|method|span|timeout|palette|colou?r)s?\b",
}
_HOLDS = {
    "date": r"(?<!\d)(?:1[89]|20)\d\d(?!\d)|\b(?:January|February|March|April|May|June|July|August|September"
            r"|October|November|December)\b",
    "version": r"(?<![\w.])\d+\.\d+\.(?:\d+|x)\b|\b(?:version|release|R|v)\s?\d+(?:\.\d+)+",
    # 'one' is left out: it is a pronoun as often as a number ('only one device can ...', 'one can ...')
    "number": r"\d|\b(?:" + "|".join(w for w in NUMBER_WORDS if w not in ("zero", "one"))
              + r"|hundred|thousand|million)\b",
    "size": r"\d\s?(?:[KMGT]i?B|[kKMG]b|bytes?|kilobytes?|megabytes?|gigabytes?)\b",
    "duration": r"\d\s?(?:ms|s|secs?|seconds?|mins?|minutes?|h|hours?|days?)\b",
    "frequency": r"\d|\b(?:once|twice|daily|weekly|monthly|yearly|hourly|every|each|per)\b"
                 r"|\ba (?:day|week|month|year)\b",
    "code": r"\w\(|[A-Za-z]\.[A-Za-z]|\w_\w|::|\$\w|<-|\w ?= ?[\w\"'(-]|(?<![\w-])--?[a-z]|\bR CMD\b",
    "default": r"\bdefault(?:s|ed)?\b|\bunless\b|\bomitted\b|\botherwise\b",
}
_ASK_RES = {kind: re.compile(pattern, re.IGNORECASE) for kind, pattern in _ASKS.items()}
# Case tells code (var.test, not Var.Test), versions (R 4.3, not r 4.3) and sizes (Mb, not mb) apart.
_HOLD_RES = {kind: re.compile(pattern, 0 if kind in ("code", "version", "size") else re.IGNORECASE)
             for kind, pattern in _HOLDS.items()}
KINDS = tuple(_ASKS)

# Slots whose value the gate also looks for, by the question's own words (not offered to the rerank):
# 'how many days' wants a count of days, not any digit ('GPL 2.0', 'section 3'); 'how long' a number
# with a unit; 'what fee' an amount of money; 'what postal address' an address. Near-topic questions
# the documents do not answer ask these of passages that hold other numbers (the licences' dev questions).
_NUMBER = (r"(?:\d+(?:[.,]\d+)*|" + "|".join(NUMBER_WORDS) + r"|thirty|forty|fifty|sixty|seventy|eighty|ninety"
           r"|hundred|thousand|million|a dozen)")
_UNIT = (r"(?:(?:milli|micro|nano)?seconds?|secs?|minutes?|mins?|hours?|days?|weeks?|months?|years?|bytes?"
         r"|[KMGT]i?B|kilobytes?|megabytes?|gigabytes?|bits?|characters?|chars?|words?|lines?|pages?|columns?"
         r"|rows?|digits?|letters?|copies|items?|entries|elements?|times?)")
_COUNTED = re.compile(r"\bhow many (?!of\b|times\b)([a-z-]+'?)(?: ([a-z-]+'?))?", re.IGNORECASE)
_NUMBER_THEN = re.compile(_NUMBER + r"(?:[\s-]+[\w-]+){0,2}?[\s-]+(\w+)", re.IGNORECASE)  # 30 (calendar) days
_NAMED_NUMBER = re.compile(r"\b([A-Za-z]+)[ -]\d+(?:[.,]\d+)*\b")  # the noun before its number: after about lag 25
# What a table's rows and columns are called where it is printed (R's str(): "4200 obs. of 8 variables").
_COUNT_SYNONYMS = {"row": ("obs", "observation", "record"), "observation": ("obs", "row"), "obs": ("observation", "row"),
                   "column": ("variabl", "field"), "variabl": ("column",)}
_QUANTITY = re.compile(r"(?<![\w.])(?:" + _NUMBER + r"|one|an?)[\s-]+(?:\w+[\s-]+)?" + _UNIT + r"\b", re.IGNORECASE)
_SLOTS = {  # slot: (the question forms that ask for it, what its value looks like in a text)
    "quantity": (re.compile(r"\bhow long\b", re.IGNORECASE), _QUANTITY),
    "money": (re.compile(r"\b(?:what|which) (?:\w+ )?(?:fee|price|cost)s?\b"
                         r"|\b(?:maximum|highest|minimum|lowest) (?:\w+ )?(?:fee|price|cost)\b", re.IGNORECASE),
              re.compile(r"[$€£¥]\s?\d|\d\s?(?:USD|EUR|GBP|dollars?|euros?|cents?)\b|\bfree of charge\b"
                         r"|\bno (?:fee|charge|cost)\b|\bany price\b", re.IGNORECASE)),
    "contact": (re.compile(r"\b(?:e-?mail|postal|mailing|street|web) address\b|\b(?:tele)?phone number\b",
                           re.IGNORECASE),
                re.compile(r"\w@\w|\bhttps?://|\+?\d[\d ()-]{6,}\d|\b\d+ \w+ (?:Street|St|Avenue|Ave|Road|Rd|Floor|Suite)\b")),
}


# A name a command or code line is made of: a call ("is.nan(", "search()"; not a plural, "licensor(s)"), a path
# ("/usr/bin/python3", "./tools/rsync-recommended"), a dotted or snake-case name, a flag ("--cfg", "-C linker=x"), an R
# operator ("%o%", "<<-", ":::"), "@path", "key=value", a hyphenated name with a capital or a digit past its first letter
# ("X-Python3-Version"; not a sentence's first word, "Self-employed").
_CODE_TOKEN = re.compile(r"[A-Za-z_][\w.]*\((?!e?s\))\)?|(?<![\w/])\.{0,2}/[\w.@+-]+(?:/[\w.@+-]*)+"
                         r"|[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+|\w+_\w+|(?<![\w-])--?[A-Za-z][\w-]*(?:=\S+)?|%\S{0,10}?%|<<-|<-"
                         r"|:::?|@\w+|\b\w+=\S+|\b(?=[A-Za-z][\w-]*[A-Z0-9])(?=[\w-]*[a-z])[A-Za-z]\w*(?:-\w+)+")
# An abbreviation's dotted letters ("e.g.", "i.e.", "U.S.") are no dotted name.
_ABBREVIATION = re.compile(r"(?:[a-z]\.)+[a-z]")
_LONGEST_CODE = 100  # characters: a longer word (a key, a blob, words run together) is no command a manual quotes
# Where a question's own clause starts: it may come after what the user did or wants ("I checked out R from
# Subversion; how do I ...").
_CLAUSE_START = r"(?:^|[;:,.!?]\s)\s*"
# A question a command, a name or a code line answers: how to do something, or which command, field, flag ... does it.
_ASKS_CODE = re.compile(_CLAUSE_START + r"(?:how (?:do|can|should|would|could|may) (?:i|you|we|one|(?:my|our) \w+)|how to"
                        r"|what(?: is|['’]s) the (?:easiest|best|simplest|quickest|right|correct|usual) way to)\b"
                        r"|\b(?:which|what) (?:\w+ ){0,2}?(?:command|function|option|argument|operator|field|program"
                        r"|package|flag|switch|setting|variable|file|path|directory|header|macro|method|keyword|tool"
                        r"|utility|syntax|expression|interpreter|crate type|name|call|value)s?\b", re.IGNORECASE)


# A why-question is answered by a reason, which a manual states in words ("The reason is that if the input file length
# is an exact multiple of CHUNK, ..."), often in the sentence after the one that says what is done.
_ASKS_REASON = re.compile(_CLAUSE_START + r"why\b", re.IGNORECASE)
_REASON = re.compile(r"\b(?:because|reasons?|so that|in order to|to avoid|to prevent|otherwise|due to)\b", re.IGNORECASE)


def offers_reason(question: str, lead: str, unit: str) -> bool:
    """Whether `unit` gives the reason a why-question asks for, where `lead` gives none."""
    return bool(_ASKS_REASON.search(question) and _REASON.search(unit) and not _REASON.search(lead))


def offers_code(question: str, lead: str, unit: str) -> bool:
    """Whether `unit` gives the command or code name a how-to or which-command question wants, where `lead` gives none.

    A manual introduces its answer: "The optional field specifies the versions supported." names the subject,
    the next sentence holds the field's name. A code name the question itself holds ("is.na() is TRUE ...") is
    no answer to it.
    """
    if not _ASKS_CODE.search(question):
        return False
    asked = question.lower()
    return bool(_new_code(unit, asked)) and not _new_code(lead, asked)


def code_names(text: str) -> set[str]:
    """The code names `text` holds (_CODE_TOKEN), lower-cased: 'is.nan(', '--no-await', '/usr/bin/python3'."""
    # No code token spans white space, so each word is matched alone: several of _CODE_TOKEN's forms may start anywhere
    # in a word and scan to its end, quadratic in its length (a 60,000-letter word in a PDF took 52 s).
    # A sentence's full stop or colon after a name is no part of it; an operator made of them (":::") is all of it.
    found = {m.group(0).lower().rstrip(".,;:") or m.group(0) for word in text.split() if len(word) <= _LONGEST_CODE
             for m in _CODE_TOKEN.finditer(word)}
    return {token for token in found if token and not _ABBREVIATION.fullmatch(token)}


def _new_code(text: str, asked: str) -> set[str]:
    return {token for token in code_names(text) if token not in asked}


# 'how many/long/big' after a verb that sets or depends on it names what the thing asked about does, not the
# fact asked: "Which argument controls how big the proposal steps are" asks an argument; "Can the calculation use
# mortality that depends on how long they have had the disease?" asks yes or no. ("Tell me how long it takes" asks.)
_EMBEDDED_HOW = re.compile(r"\b(?:control|determine|set|decide|limit|specif(?:y|ie)|change|affect|govern|adjust"
                           r"|configure|regulate|influence|depend)s? (?:on |upon )?how\b", re.IGNORECASE)


def _asked(question: str) -> str:
    """The question without its embedded 'how ...' clauses (_EMBEDDED_HOW), for reading what it asks."""
    return _EMBEDDED_HOW.sub("-", question)


def asked_kinds(question: str) -> frozenset[str]:
    """The kinds of fact the question's form asks for (empty when its form says nothing: 'how do I ...')."""
    question = _asked(question)
    return frozenset(kind for kind, pattern in _ASK_RES.items() if pattern.search(question))


def holds(text: str, kind: str) -> bool:
    """Whether `text` has a token of the `kind` of fact (one of KINDS)."""
    if kind not in _HOLD_RES:
        raise ValueError(f"unknown answer kind {kind!r}; use one of {', '.join(KINDS)}")
    return bool(_HOLD_RES[kind].search(text))


def missing_kinds(question: str, texts: Iterable[str]) -> frozenset[str]:
    """The asked kinds of fact and slots ('count', and those of _SLOTS) that none of `texts` (the best answer units) holds."""
    texts = list(texts)
    kinds = {k for k in asked_kinds(question) if not any(holds(t, k) for t in texts)}
    question = _asked(question)  # for the slots and the count, as asked_kinds reads it for the kinds
    kinds |= {slot for slot, (asks, value) in _SLOTS.items()
              if asks.search(question) and not any(value.search(t) for t in texts)}
    nouns = counted(question)
    nouns |= {other for noun in nouns for other in _COUNT_SYNONYMS.get(noun, ())}
    if nouns and not any(stem(m[1]) in nouns for t in texts for pattern in (_NUMBER_THEN, _NAMED_NUMBER)
                         for m in pattern.finditer(t)):
        kinds.add("count")
    return frozenset(kinds)


def counted(question: str) -> frozenset[str]:
    """Stems of what a 'how many NOUN' question counts (its next word or two: 'how many codegen units')."""
    m = _COUNTED.search(question)
    return frozenset(stem(w.rstrip("'")) for w in m.groups() if w and w.lower() not in STOPWORDS) if m else frozenset()
