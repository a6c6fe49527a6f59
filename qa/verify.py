"""Sentence verification: does a sentence rest on the passages it cites?

`FeatureVerifier`, the cheap option (`verifier = "features"`; the default is the trained cross-encoder,
qa/cross_verifier.py), scores cheap features (content-word and bigram recall, numbers, names, negation,
best embedding cosine) with a logistic regression that `python -m eval.fit_verifier` fits on HaluEval QA;
its parameters ship as qa/verifier.json.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from index.records import Passage
from index.errors import GroundworkError
from qa.text import content_tokens, content_words, negated, numbers, split_sentences, stem

if TYPE_CHECKING:
    from index.embedder import Embedder

FEATURES = ("recall", "missing", "bigram_recall", "number_missing", "entity_missing", "negation_mismatch", "cosine")
PARAMS_PATH = Path(__file__).with_name("verifier.json")
Embed = Callable[[Sequence[str]], np.ndarray]  # texts -> L2-normalised rows


class VerifierError(GroundworkError):
    """Verifier parameters that cannot be read or do not fit these features, said in one line."""


class Verifier(Protocol):
    """Says whether a sentence is supported by passages, with the probability that it is."""

    def verify(self, sentence: str, passages: Sequence[Passage]) -> tuple[bool, float]:
        """(supported, score in [0, 1]); no passages means unsupported."""


def read_params(path: str | Path, refit: str = "python -m eval.fit_verifier") -> dict:
    """The JSON object of a parameters file written by `refit`; VerifierError when it cannot be read."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise VerifierError(f"cannot read parameters {path} ({exc}); refit them with `{refit} --out {path}`") from exc
    if not isinstance(data, dict):
        raise VerifierError(f"cannot read parameters {path} (not a JSON object); refit them with "
                            f"`{refit} --out {path}`")
    return data


@dataclass(frozen=True)
class VerifierParams:
    """A logistic regression over standardised features and the threshold that turns it into a verdict.

    The verifier's (FEATURES) and the answerability gate's (qa/answerability.py) both take this form.
    """

    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float

    @classmethod
    def load(cls, path: str | Path = PARAMS_PATH, features: tuple[str, ...] = FEATURES,
             refit: str = "python -m eval.fit_verifier") -> VerifierParams:
        """Parameters over `features` from a JSON file written by `refit` (eval/fit_verifier.py by default)."""
        return cls.from_dict(read_params(path, refit), path, features, refit)

    @classmethod
    def from_dict(cls, data: dict, path: str | Path, features: tuple[str, ...] = FEATURES,
                  refit: str = "python -m eval.fit_verifier") -> VerifierParams:
        """Parameters over `features` from the object read_params() read from `path` (named in errors)."""
        try:
            params = cls(tuple(data["features"]), *(np.asarray(data[k], float) for k in ("mean", "scale", "weights")),
                         float(data["bias"]), float(data["threshold"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise VerifierError(f"cannot read parameters {path} ({exc}); refit them with "
                                f"`{refit} --out {path}`") from exc
        shapes = {params.mean.shape, params.scale.shape, params.weights.shape}
        if params.names != features or shapes != {(len(features),)}:
            raise VerifierError(f"parameters {path} fit features {list(params.names)}, not {list(features)}; "
                                f"refit them with `{refit} --out {path}`")
        return params

    def to_dict(self) -> dict:
        """The JSON form `load` reads."""
        return {"features": list(self.names), "mean": _floats(self.mean), "scale": _floats(self.scale),
                "weights": _floats(self.weights), "bias": round(self.bias, 6), "threshold": round(self.threshold, 6)}

    def probability(self, x: np.ndarray) -> np.ndarray:
        """Probability that each row of features is a supported claim."""
        z = ((np.atleast_2d(x) - self.mean) / self.scale) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


class FeatureVerifier:
    """The cheap offline Verifier: features fitted on HaluEval QA; model and parameters load on first use."""

    def __init__(self, embedder: Embedder | None = None, params: VerifierParams | None = None):
        self._embedder, self._params = embedder, params

    @property
    def name(self) -> str:
        """'features' and the threshold it verifies with, as reports name it."""
        self._params = self._params or VerifierParams.load()
        return f"features (threshold {self._params.threshold:.3f})"

    def verify(self, sentence: str, passages: Sequence[Passage]) -> tuple[bool, float]:
        """(supported, probability) of one sentence against the passages it cites."""
        return self.verify_many([(sentence, passages)])[0]

    def verify_many(self, items: Sequence[tuple[str, Sequence[Passage]]]) -> list[tuple[bool, float]]:
        """verify() for many sentences, their passages embedded in one call."""
        cited = [i for i, (_, passages) in enumerate(items) if passages]
        out = [(False, 0.0)] * len(items)
        if not cited:
            return out
        params = self._params = self._params or VerifierParams.load()
        # A fit that gave the cosine no weight needs no embedding: skip the model and its cost.
        embed = self._embed if params.weights[FEATURES.index("cosine")] else None
        x = feature_matrix([(items[i][0], [p.chunk.text for p in items[i][1]]) for i in cited], embed)
        for i, p in zip(cited, params.probability(x)):
            out[i] = (bool(p >= params.threshold), float(p))
        return out

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        if self._embedder is None:
            from index.embedder import SentenceTransformerEmbedder

            self._embedder = SentenceTransformerEmbedder()
        return self._embedder.embed(texts, kind="document")


def features(sentence: str, passages: Sequence[str], embed: Embed | None) -> np.ndarray:
    """The FEATURES of one sentence against passage texts (cosine 0 without `embed`)."""
    return feature_matrix([(sentence, passages)], embed)[0]


def feature_matrix(items: Sequence[tuple[str, Sequence[str]]], embed: Embed | None) -> np.ndarray:
    """FEATURES of each (sentence, passage texts), all texts embedded in one call (cosine 0 without `embed`)."""
    windows = [_windows(passages) for _, passages in items] if embed else [[] for _ in items]
    texts = list(dict.fromkeys([sentence for sentence, _ in items] + [t for group in windows for t in group]))
    vectors = np.asarray(embed(texts), np.float32) if embed else np.empty((0, 0), np.float32)
    row = {t: i for i, t in enumerate(texts)}
    lookups: dict[tuple[str, ...], _Lookup] = {}
    out = np.empty((len(items), len(FEATURES)))
    for n, (sentence, passages) in enumerate(items):
        key = tuple(passages)
        if key not in lookups:  # answers cite the same passages from several sentences
            lookups[key] = _Lookup.of(passages)
        cosine = _best_cosine(vectors, row[sentence], [row[t] for t in windows[n]])
        out[n] = _lexical(sentence, lookups[key]) + (cosine,)
    return out


def _windows(passages: Sequence[str]) -> list[str]:
    """Each passage's sentences and pairs of neighbouring sentences: a claim may join two of them."""
    out = []
    for passage in passages:
        sentences = split_sentences(passage)
        out += sentences + [f"{a} {b}" for a, b in zip(sentences, sentences[1:])]
    return out


def _best_cosine(vectors: np.ndarray, claim_row: int, window_rows: list[int]) -> float:
    """The claim's best cosine with any window of its passages."""
    return float((vectors[window_rows] @ vectors[claim_row]).max()) if window_rows else 0.0


@dataclass(frozen=True)
class _Lookup:
    """What the lexical features look up in a set of passages."""

    stems: frozenset[str]
    bigrams: frozenset[tuple[str, str]]
    numbers: frozenset[str]
    negated: bool

    @classmethod
    def of(cls, passages: Sequence[str]) -> _Lookup:
        stems, bigrams, found, negation = set(), set(), set(), False
        for passage in passages:
            words = content_words(passage)
            stems.update(words)
            bigrams.update(zip(words, words[1:]))
            found.update(numbers(passage))
            negation = negation or negated(passage)
        return cls(frozenset(stems), frozenset(bigrams), frozenset(found), negation)


def _lexical(sentence: str, lookup: _Lookup) -> tuple[float, ...]:
    """recall, missing, bigram_recall, number_missing, entity_missing, negation_mismatch."""
    words = content_words(sentence)
    absent = sum(w not in lookup.stems for w in words)
    recall = 1.0 - absent / len(words) if words else 1.0  # vacuous; make_verifier's ContentGate refuses such sentences
    bigrams = list(zip(words, words[1:]))
    # With under two content words there is no bigram to check: fall back on word recall.
    bigram_recall = sum(b in lookup.bigrams for b in bigrams) / len(bigrams) if bigrams else recall
    entities = {stem(w) for w in content_tokens(sentence) if w[0].isupper()}
    return (recall, math.log1p(absent), bigram_recall, _share_missing(numbers(sentence), lookup.numbers),
            _share_missing(entities, lookup.stems), float(negated(sentence) and not lookup.negated))


def _share_missing(wanted: set[str], have: frozenset[str]) -> float:
    return sum(w not in have for w in wanted) / len(wanted) if wanted else 0.0


def _floats(values: np.ndarray) -> list[float]:
    return [round(float(v), 6) for v in values]
