"""Guided mode's choice: the model's judgment of the ranker's candidates, on top of the ranker's order.

The model is asked for its probability over the numbers of the candidates (and 0, none), once
with the candidates in the ranker's order and once reversed. Small models favour a position
whatever it holds; averaging each candidate's log-probability over both orders counts that
favour once near the top and once near the bottom for every candidate, so what is left is
mostly the model's view of the text. The candidate shown maximises
    log p_model(candidate) + weight * ranker score,
so a large weight keeps the ranker's choice (what extractive shows) and 0 trusts the model alone.
A rule per served model, fitted on the dev questions, lives in qa/guided.json.
"""
from __future__ import annotations

import json
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from index.errors import GroundworkError
from qa import prompt
from qa.llm import logsumexp
from qa.special_tokens import FALLBACK

if TYPE_CHECKING:
    from qa.llm import LLMClient

RULES_PATH = Path(__file__).with_name("guided.json")
REFIT = "python -m eval.fit_guided --library DIR --url URL"
MAX_STATEMENTS = 9  # each choice is one digit, read as the model's first token


class GuidedError(GroundworkError):
    """qa/guided.json (or the rules file given) cannot be read."""


@dataclass(frozen=True)
class Rule:
    """How the model's probabilities and the ranker's scores make guided mode's choice."""

    weight: float | None = None   # model nats one unit of ranker score is worth; None: the ranker alone
    abstain: float | None = None  # abstain when the model's P(none) is at least this; None: the gate alone decides

    @property
    def asks(self) -> bool:
        """Whether the rule needs the model at all."""
        return self.weight is not None or self.abstain is not None

    @classmethod
    def for_model(cls, model: str, path: str | Path = RULES_PATH) -> Rule:
        """The rule fitted for `model` in qa/guided.json, else its `default` (the ranker alone when there is none)."""
        try:
            rules = json.loads(Path(path).read_text())["rules"] if Path(path).exists() else {}
            found = rules.get(model, rules.get("default", {}))
            values = found.get("weight"), found.get("abstain")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise GuidedError(f"cannot read the guided rules in {path} ({type(exc).__name__}); "
                              f"refit: {REFIT}") from None
        if not all(v is None or isinstance(v, (int, float)) for v in values):
            raise GuidedError(f"the guided rule for {model} in {path} is no number or null; refit: {REFIT}")
        return cls(*values)


@dataclass(frozen=True)
class Judgment:
    """The model's log-probabilities of 'none' and of each candidate (in the ranker's order), normalised."""

    none: float
    candidates: tuple[float, ...]


def ask_order(llm: LLMClient, question: str, statements: Sequence[str],
              specials: Collection[str] = FALLBACK) -> list[float]:
    """Log-probabilities of 0 (none) and of each statement's number, the statements listed as given."""
    if not 0 < len(statements) <= MAX_STATEMENTS:
        raise ValueError(f"guided mode offers 1 to {MAX_STATEMENTS} statements, not {len(statements)}")
    choices = [str(n) for n in range(len(statements) + 1)]
    logprobs = llm.choice_logprobs(prompt.choice_messages(question, statements, specials), choices)
    return [logprobs[c] for c in choices]


def both_orders(forward: Sequence[float], backward: Sequence[float]) -> Judgment:
    """The judgment from the answers to the ranker's order and to its reverse (each: none, then by position)."""
    n = len(forward) - 1
    per = [(forward[1 + i] + backward[n - i]) / 2 for i in range(n)]
    none = (forward[0] + backward[0]) / 2
    total = logsumexp([none, *per])
    return Judgment(none - total, tuple(p - total for p in per))


def judge(llm: LLMClient, question: str, statements: Sequence[str], specials: Collection[str] = FALLBACK) -> Judgment:
    """The model's judgment of `statements` (best first by the ranker), asked in both orders."""
    forward = ask_order(llm, question, statements, specials)
    backward = ask_order(llm, question, list(reversed(statements)), specials)
    return both_orders(forward, backward)


def pick(judgment: Judgment, scores: Sequence[float], rule: Rule) -> int | None:
    """Index of the candidate to show (0: the ranker's best), or None to abstain."""
    if rule.abstain is not None and math.exp(judgment.none) >= rule.abstain:
        return None
    if rule.weight is None:
        return 0
    combined = [lp + rule.weight * s for lp, s in zip(judgment.candidates, scores)]
    return max(range(len(combined)), key=combined.__getitem__)  # the first best: ties keep the ranker's order
