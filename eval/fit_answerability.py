"""Fit the answerability gate (qa/answerability.py) on the DEV questions of a split question set, never the test ones.

    python -m eval.fit_answerability --library DIR [--dataset eval/data/r-manuals.jsonl] [--out qa/answerability.json]

Each dev question is asked through the answer engine (extractive) to read its evidence signals; they are
cached in --cache, so a refit does not ask again. An L2 logistic regression over the signals, each weight
kept to its expected sign, gives P(answerable). The threshold is chosen by stratified k-fold
cross-validation inside dev: the highest refusal of unanswerable questions whose out-of-fold false
refusal of answerable ones stays at or under --max-false-refusal. The dataset is read with split="dev"
only, so no test row reaches the fit.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from eval import stats
from eval.fit_verifier import fit_logistic
from eval.metrics import auroc
from eval.questions import Question
from qa.answerability import BEFORE_FIT, FEATURES, PARAMS_PATH, SIGNS, Gate, rows
from qa.verify import VerifierParams

DATASET = "eval/data/r-manuals.jsonl"
L2S = (0.1, 1.0, 10.0)  # regularisation strengths tried; the one with the best out-of-fold AUROC is kept
FOLDS = 5
MAX_FALSE_REFUSAL = 0.10
SignalsOf = Callable[[Question], dict[str, float]]


def dev_questions(dataset: str) -> list[Question]:
    """The dev side of a split question set (its test rows are dropped as the file is read)."""
    from eval.questions import load
    return load(dataset, split="dev")


def collect(questions: Sequence[Question], signals_of: SignalsOf, cache: Path | None, key: dict) -> list[dict]:
    """Each question's signals, from the cache where it holds them under the same `key`, else asked and cached."""
    stored = json.loads(cache.read_text(encoding="utf-8")) if cache and cache.is_file() else {}
    known = stored.get("signals", {}) if stored.get("key") == key else {}
    out = []
    for n, q in enumerate(questions, start=1):
        if q.question not in known:
            known[q.question] = signals_of(q)
            print(f"\r{n}/{len(questions)} questions", end="", file=sys.stderr, flush=True)
        out.append(known[q.question])
    if cache:
        cache.write_text(json.dumps({"key": key, "signals": known}, indent=1) + "\n", encoding="utf-8")
    return out


def folds(answerable: np.ndarray, k: int, seed: int) -> np.ndarray:
    """A fold number per question, each class dealt round the folds in a seeded order (stratified)."""
    out = np.empty(len(answerable), int)
    rng = np.random.default_rng(seed)
    for label in (False, True):
        idx = rng.permutation(np.flatnonzero(answerable == label))
        out[idx] = np.arange(len(idx)) % k
    return out


def out_of_fold(x: np.ndarray, answerable: np.ndarray, k: int, seed: int, l2: float) -> np.ndarray:
    """P(answerable) of each question from a model fitted on the other folds."""
    fold, p = folds(answerable, k, seed), np.empty(len(x))
    for f in range(k):
        held = fold == f
        p[held] = _fit(x[~held], answerable[~held], l2).probability(x[held])
    return p


def choose_threshold(p: np.ndarray, answerable: np.ndarray, max_false_refusal: float) -> float:
    """The threshold (abstain when p < it) with the most refusals whose false refusal is <= max_false_refusal."""
    values = np.unique(p)
    cuts = np.concatenate([[0.0], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-9]])  # between neighbours
    best, best_key = 0.0, (-1.0, 0.0)
    for t in cuts:
        refused = rates(p, answerable, t)
        if refused["false_refusal"] <= max_false_refusal:
            key = (refused["refusal"], -refused["false_refusal"])  # then the fewest false refusals
            if key > best_key:
                best, best_key = float(t), key
    return best


def rates(p: np.ndarray, answerable: np.ndarray, threshold: float) -> dict:
    """Refusal of unanswerable and false refusal of answerable questions at `threshold`, with 95% intervals."""
    refused = (p < threshold).astype(float)
    out: dict = {"threshold": round(float(threshold), 6)}
    for name, mask in (("refusal", ~answerable), ("false_refusal", answerable)):
        values = list(refused[mask])
        ci = stats.bootstrap_ci(values)
        out |= {name: stats.mean(values), f"{name}_ci": [round(c, 4) for c in ci] if ci else None,
                f"{name}_n": int(mask.sum())}
    return out


def fit(signals: Sequence[dict], answerable: Sequence[bool], k: int = FOLDS, seed: int = 0,
        max_false_refusal: float = MAX_FALSE_REFUSAL) -> tuple[VerifierParams, dict]:
    """The gate fitted on all the questions given, its L2 and threshold from k-fold CV, its figures beside baselines."""
    x, y = rows(signals), np.asarray(answerable, bool)
    if y.all() or not y.any() or min(y.sum(), (~y).sum()) < k:
        raise ValueError(f"fitting needs at least {k} answerable and {k} unanswerable questions")
    tried = {l2: out_of_fold(x, y, k, seed, l2) for l2 in L2S}
    l2 = max(L2S, key=lambda c: (auroc(y, tried[c]), c))  # ties: the stronger regularisation
    oof = tried[l2]
    threshold = choose_threshold(oof, y, max_false_refusal)
    params = replace(_fit(x, y, l2), threshold=threshold)
    strength = x[:, FEATURES.index("strength")]
    figures = {"l2": l2, "cv": {**rates(oof, y, threshold), "auroc": _auroc(y, oof)},
               "in_sample": rates(params.probability(x), y, threshold),
               f"strength_{BEFORE_FIT}": {**rates(strength, y, BEFORE_FIT), "auroc": _auroc(y, strength)},
               "never_abstain": rates(np.ones(len(y)), y, 0.0)}
    return params, figures


def _fit(x: np.ndarray, y: np.ndarray, l2: float) -> VerifierParams:
    return fit_logistic(x, y.astype(float), signs=SIGNS, l2=l2, names=FEATURES)


def _auroc(answerable: np.ndarray, scores: np.ndarray) -> float | None:
    value = auroc(answerable, scores)
    return None if value is None else round(value, 4)


def _signals_of(args: argparse.Namespace) -> tuple[SignalsOf, dict, Callable[[], None]]:
    """Reads one question's signals through the engine; the cache key; and how to close the library."""
    from index.embedder import SentenceTransformerEmbedder, default_model
    from index.store import Library
    from qa.engine import AnswerEngine, Settings
    from qa.verifiers import make_verifier
    library = Library.open(args.library)
    embedder = SentenceTransformerEmbedder(default_model())
    # The gate shut: signals are read before it decides, and nothing is drafted.
    engine = AnswerEngine(library, embedder, make_verifier(args.verifier, embedder), None,
                          Settings(mode="extractive"), gate=Gate.strength_only(math.inf))
    key = {"library": str(Path(args.library).resolve()), "epoch": library.epoch(), "verifier": args.verifier,
           "features": list(FEATURES)}
    return (lambda q: engine.answer(q.question).answerability), key, library.close


def main(argv: Sequence[str] | None = None) -> int:
    """Read the dev signals, fit, print the figures and write the gate's parameters."""
    ap = argparse.ArgumentParser(prog="python -m eval.fit_answerability", description=__doc__.splitlines()[0])
    ap.add_argument("--library", required=True, help="library the questions are asked of")
    ap.add_argument("--dataset", default=DATASET, help=f"split question set (default {DATASET}); dev rows only")
    ap.add_argument("--out", type=Path, default=PARAMS_PATH, help="where to write the gate (JSON)")
    ap.add_argument("--cache", type=Path, help="JSON file of each question's signals, reused while it matches")
    ap.add_argument("--verifier", default="features", help="verifier whose support score is a signal (default "
                    "features: it gets weight 0, so the gate serves any verifier; the cross-encoder's did no better "
                    "in dev CV); an engine refuses a gate that weighs another verifier's support")
    ap.add_argument("--max-false-refusal", type=float, default=MAX_FALSE_REFUSAL)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    from eval.halueval import DatasetError
    from index.store import LibraryError
    started = time.perf_counter()
    try:
        questions = dev_questions(args.dataset)
        signals_of, key, close = _signals_of(args)
    except (DatasetError, LibraryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        signals = collect(questions, signals_of, args.cache, key)
    finally:
        close()
    labels = [bool(q.answerable) for q in questions]
    try:
        params, figures = fit(signals, labels, seed=args.seed, max_false_refusal=args.max_false_refusal)
    except ValueError as exc:
        print(f"\nerror: {args.dataset} dev: {exc}", file=sys.stderr)
        return 2
    record = {**params.to_dict(), "signs": SIGNS,
              "fitted_on": {"dataset": args.dataset, "split": "dev", "questions": len(labels),
                            "unanswerable": labels.count(False), "verifier": args.verifier, "l2_tried": list(L2S),
                            "folds": FOLDS, "seed": args.seed, "max_false_refusal": args.max_false_refusal},
              "figures": figures,
              "command": "python -m eval.fit_answerability " + " ".join(sys.argv[1:] if argv is None else argv),
              "seconds": round(time.perf_counter() - started, 1)}
    args.out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print("\n" + json.dumps(figures))
    print("weights: " + ", ".join(f"{n} {w:+.3f}" for n, w in zip(FEATURES, params.weights)) +
          f"; threshold {params.threshold:.3f}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
