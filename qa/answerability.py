"""Do the documents answer the question at all? Signals of its evidence, and a fitted logistic gate over them.

A near-topic question the documents do not answer still retrieves passages on its subject, so the
best candidate's score alone separates little. What gives it away is a specific term of the
question (a function name, a version, an option, a product) that no retrieved passage holds, and
how little of the question's rare vocabulary the best passages cover, and a question whose form asks for
a kind of fact (a year, a version, a number) that none of the best answer units holds. `python -m
eval.fit_answerability` fits the gate on the dev questions only; its parameters ship as
qa/answerability.json, and the engine abstains when P(answerable) is below their threshold.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from index.spelling import variants
from qa.answertype import missing_kinds
from qa.evidence import Evidence, body, coverage, question_idf
from qa.text import STOPWORDS, content_words, stem, words
from qa.verify import VerifierError, VerifierParams, read_params

if TYPE_CHECKING:
    from index.access import Reader
    from index.store import Library
    from qa.verify import Verifier

FEATURES = ("strength", "margin", "passage", "coverage", "missing_share", "missing_specific", "support", "missing_kind",
            "ranker")
PARAMS_PATH = Path(__file__).with_name("answerability.json")
REFIT = "python -m eval.fit_answerability --library DIR"
TYPED_UNITS = 3  # the best answer units read for the asked kind of fact (1, 3 and 5 tried by 5-fold CV on dev)
BEFORE_FIT = 0.45  # the hand-set min_strength the fitted gate replaced: answer when the best candidate scores this
# Expected signs: more evidence, more answerable; a question term nowhere in the evidence, less.
SIGNS = {"strength": 1, "margin": 1, "passage": 1, "coverage": 1, "missing_share": -1, "missing_specific": -1,
         "support": 1, "missing_kind": -1, "ranker": 1}
# A term written like code or a name: dotted or underscored (wilcox.test, R_MAX_VSIZE), with a digit
# (4.3, x64), camel case (setRefClass), called (loess()), or capitalised inside the sentence (Feather, CUDA).
_SPECIFIC = re.compile(r"(?<![\w.])(?:\w*[._]\w+|\w*\d\w*|[a-z]+[A-Z]\w*|\w+(?=\(\))|[A-Z]\w*)(?![\w])")
# A name written as initials, with a version after it or not (GPLv3, GFDL-1.3, FDL).
_INITIALS = re.compile(r"(?<![\w.-])([A-Z]{2,8})(?:[v-]?(\d+(?:\.\d+)?))?(?![\w-]|\.\d)")
_LINKING = {"a", "an", "and", "for", "in", "of", "on", "the", "to"}  # skipped in a name spelled out
# A name joined with hyphens, dots or underscores that holds a capital or a digit (AES-GCM-SIV, SHAKE-128,
# x86_64), not ending in a lower-case word (an Apache-licensed work, an 8-second run): its parts are each
# common in a manual on the subject, so the name is looked for whole, however its joins are written.
_COMPOUND = re.compile(r"(?<![\w.-])[A-Za-z0-9]+(?:[-_.][A-Za-z0-9]+)+(?![\w-]|\.\w)")
_JOINS = re.compile(r"[-_.\s]+")
_CLITIC = re.compile(r"['’](?:s|m|re|ve|ll|d)?$")


@dataclass(frozen=True)
class Gate:
    """A logistic model of P(answerable) over FEATURES, and the threshold below which the engine abstains."""

    params: VerifierParams
    verifier: str = ""  # the verifier whose `support` scores it was fitted on ('' when not recorded)

    @classmethod
    def load(cls, path: str | Path = PARAMS_PATH) -> Gate:
        """The gate written by eval/fit_answerability.py (VerifierError when it cannot be read)."""
        data = read_params(path, REFIT)  # once: the parameters and what they were fitted on
        fitted_on = data.get("fitted_on", {})
        if not isinstance(fitted_on, dict):
            raise VerifierError(f"cannot read the gate {path} (fitted_on is not an object); "
                                f"refit it: {REFIT} --out {path}")
        return cls(VerifierParams.from_dict(data, path, FEATURES, REFIT), str(fitted_on.get("verifier", "")))

    @classmethod
    def for_verifier(cls, verifier: str, path: str | Path | None = None) -> Gate:
        """The gate for an engine verifying with `verifier`; VerifierError when it weighs another verifier's support.

        Verifiers score support on their own scales (features ~0.7 for most sentences, the cross-encoder
        near 0 or 1), so a gate that gives `support` weight is calibrated for the verifier it was fitted
        on only. One that gives it weight 0 decides the same whichever verifier the engine uses.
        """
        path = path or PARAMS_PATH
        gate = cls.load(path)
        if gate.weighs("support") and gate.verifier != verifier:
            raise VerifierError(f"the answerability gate {path} weighs the support of verifier {gate.verifier!r}, "
                                f"not of {verifier!r}; refit it: {REFIT} --verifier {verifier} --out {path}")
        return gate

    @classmethod
    def shut(cls) -> Gate:
        """A gate that weighs every signal, so the engine reads them all, and never opens: how the fit reads them."""
        n = len(FEATURES)
        return cls(VerifierParams(FEATURES, np.zeros(n), np.ones(n), np.ones(n), -1e6, 0.5))

    def weighs(self, feature: str) -> bool:
        """Whether `feature` moves this gate's decision (one it gives weight 0 need not be computed)."""
        return bool(self.params.weights[FEATURES.index(feature)] != 0)

    @classmethod
    def strength_only(cls, min_strength: float) -> Gate:
        """The hand-set rule before the fit: answer when the best candidate scores at least `min_strength`."""
        one_hot = np.array([1.0 if f == "strength" else 0.0 for f in FEATURES])
        return cls(VerifierParams(FEATURES, np.zeros(len(FEATURES)), np.ones(len(FEATURES)), 50.0 * one_hot,
                                  -50.0 * min_strength, 0.5))

    def probability(self, signals: dict[str, float]) -> float:
        """P(answerable) of one question's signals; the engine answers when it is at least params.threshold."""
        return float(self.params.probability(rows([signals]))[0])


def signals(library: Library, question: str, evidence: Evidence, verifier: Verifier | None, keep: int,
            reader: Reader | None = None, ranker: float = 0.0) -> dict[str, float]:
    """FEATURES of one question's evidence, as `reader` sees the library (0 but the missing ones with no evidence).

    `support` needs a verifier call (a third of an extractive answer's time with the cross-encoder):
    with `verifier` None it is left 0, for a gate that gives it no weight. `ranker` is the trained answer
    ranker's best P(answers) among the candidates (qa/ranker.py `best`), which the caller reads.
    """
    idf = question_idf(library, question, reader)
    # What the passages say, without their table-of-contents lines: a contents page holds every
    # section's title, so it 'covered' any question on a subject the manual lists and never explains.
    texts = [body(p.chunk.text) for p in evidence.passages]
    seen = {w for text in texts for w in content_words(text)}
    total = sum(idf.values())
    initials = {n.lower() for m in _INITIALS.finditer(question) if spelled_out(m[0], texts) for n in (m[0], m[1])}
    titled = _title_held(evidence)
    held = texts + [p.doc_title for p in evidence.passages]  # a document names itself by its title (Apache-2.0)
    specific = [t for t in specific_missing(question, held, unknown_terms(library, question, reader))
                if t.lower() not in initials and not (content_words(t) and set(content_words(t)) <= titled)]
    out = {"strength": evidence.strength, "margin": 0.0, "passage": 0.0, "coverage": 0.0,
           "missing_share": sum(v for w, v in idf.items() if w not in seen) / total if total else 0.0,
           "missing_specific": float(bool(specific)), "support": 0.0,
           "missing_kind": float(bool(missing_kinds(question, [c.text for c in evidence.candidates[:TYPED_UNITS]]))),
           "ranker": float(ranker)}
    if not evidence.candidates:
        return out
    best = evidence.candidates[0]
    runner_up = evidence.candidates[1].score if len(evidence.candidates) > 1 else 0.0
    shown = " ".join(texts[:keep])
    # The question restated with its best answer, as a claim: does the passage it comes from support both?
    _, support = verifier.verify(f"{question} {best.text}", [best.passage]) if verifier else (False, 0.0)
    return out | {"margin": best.score - runner_up, "passage": evidence.passages[0].score,
                  "coverage": coverage(shown, idf), "support": float(support)}


def specific_terms(question: str) -> list[str]:
    """The question's terms written like code or names (a sentence's first word excepted: it is capitalised anyway)."""
    found = [_CLITIC.sub("", m.group(0)) for m in _SPECIFIC.finditer(question)
             if question[:m.start()].rstrip()[-1:] not in ("", ".", "?", "!", ";")]
    return [t.strip("._") for t in found if t.strip("._") and t.lower() not in ("r", "i")]


def unknown_terms(library: Library, question: str, reader: Reader | None = None) -> list[str]:
    """Question words no chunk `reader` may read holds that are not ordinary words either (conda, testthat, winget).

    An ordinary word absent from the library is usually a paraphrase ('glues', 'forgot'); a word the
    packaged embedder's vocabulary does not hold whole is a name or a term of art the documents never use.
    """
    vocabulary = _vocabulary()
    if not vocabulary:
        return []
    out = []
    for word in dict.fromkeys(_CLITIC.sub("", w) for w in words(question)):
        spellings = variants(word)  # the embedder's vocabulary and most manuals spell 'normalise' -ize
        ordinary = {f for s in spellings for f in (s, stem(s), s.rstrip("s"), stem(s) + "e")} & vocabulary
        if word not in STOPWORDS and not ordinary and not library.doc_freq(word, reader):  # counts every spelling
            out.append(word)
    return out


@functools.cache
def _vocabulary() -> frozenset[str]:
    """Whole words of the packaged embedding model's WordPiece vocabulary (empty when it is not installed)."""
    try:
        from index.embedder import default_model
        lines = (Path(default_model()) / "vocab.txt").read_text(encoding="utf-8").split()
    except (ImportError, OSError):
        return frozenset()
    return frozenset(w for w in lines if w.isalpha())


def spelled_out(term: str, texts: Sequence[str]) -> bool:
    """Whether `term` is initials (GFDL; a version may follow: GPLv3) that a text spells out in capitalised words.

    Users name a document or body by its initials (GPLv3, GFDL) where the text writes it in full ('GNU
    Free Documentation License', 'General Public License ... Version 3'): such a term is not missing.
    """
    m = _INITIALS.fullmatch(term)
    if not m:
        return False
    letters, version = m[1].lower(), m[2]
    for text in texts:
        found = [w for w in re.findall(r"[A-Za-z]+", text) if w.lower() not in _LINKING]
        initials, capital = "".join(w[0].lower() for w in found), [w[0].isupper() for w in found]
        starts = (i for i in range(len(initials)) if initials.startswith(letters, i))
        if any(all(capital[i:i + len(letters)]) for i in starts) and (
                not version or re.search(rf"(?<![\w.]){re.escape(version)}(?![\w]|\.\d)", text)):
            return True
    return False


def _title_held(evidence: Evidence) -> set[str]:
    """Stems of the question's names that a retrieved passage's document title or file name holds ('GPLv3': GPL-3).

    A licence or a standard calls itself "this License" in its text; its reader names it as its title does.
    The rerank found them (Evidence.named), reading every document's title once for the question.
    """
    return set().union(*(evidence.named.get(p.chunk.doc_id, frozenset()) for p in evidence.passages))


def specific_missing(question: str, texts: Sequence[str], unknown: Sequence[str] = ()) -> list[str]:
    """The specific terms of the question that none of `texts` holds as a whole word, and its compound names none holds.

    `unknown` (unknown_terms: words no chunk of the library holds) are missing too, unless part of a held compound.

    A compound is matched with its joins left out on both sides (SHAKE-256 is held by 'shake256', x86_64
    by 'x86-64'), so only a name the texts never write, in any spelling, is missing; the parts of one held
    are not looked for as written either ('256' is no word of 'shake256', nor SIV_CMAC of 'SIV-CMAC').
    """
    texts = [text.lower() for text in texts]
    joined = [_JOINS.sub("", text) for text in texts]
    held, missing = [], []
    for c in compound_terms(question):
        (held if any(_JOINS.sub("", c.lower()) in text for text in joined) else missing).append(c)
    parts = {part.lower() for c in held for part in (c, *_JOINS.split(c))}
    absent = [t for t in specific_terms(question)
              if not any(re.search(rf"(?<!\w){re.escape(t.lower())}(?!\w)", text) for text in texts)]
    return [t for t in absent + list(unknown) if t.lower() not in parts] + missing


def compound_terms(question: str) -> list[str]:
    """The question's names joined with hyphens, dots or underscores that hold a capital or a digit (AES-GCM-SIV)."""
    found = (m.group(0) for m in _COMPOUND.finditer(question))
    return [c for c in found if re.search(r"[A-Z0-9]", c) and not re.search(r"[-_.][a-z]+$", c)
            and not re.fullmatch(r"[\d.]+", c)]


def rows(items: Sequence[dict[str, float]]) -> np.ndarray:
    """A feature matrix (FEATURES order) of many questions' signals, as the fit reads them."""
    return np.array([[float(s[f]) for f in FEATURES] for s in items], dtype=float).reshape(len(items), len(FEATURES))
