"""Fit the answerability gate (qa/answerability.py) on the DEV questions of split question sets, never the test ones.

    python -m eval.fit_answerability --library DIR [--dataset eval/data/r-manuals.jsonl] [--out qa/answerability.json]
    python -m eval.fit_answerability --dataset A.jsonl --library LIB_A --dataset B.jsonl --library LIB_B ...

Each (dataset, library) pair is a corpus: its dev questions are asked of its library through the answer
engine (extractive) to read their evidence signals; they are cached in --cache, so a refit does not ask
again while the code that reads them (SIGNAL_SOURCES) is unchanged. An L2 logistic regression over all the corpora's signals, each weight kept to its expected sign,
gives P(answerable). The threshold is chosen by k-fold cross-validation inside dev, the folds stratified
by corpus and label: the highest mean refusal of unanswerable questions whose out-of-fold false refusal
of answerable ones stays at or under --max-false-refusal on every corpus, since a gate meant for
unseen documents must hold on each kind seen. With several corpora each one is also held out whole
(fitted on the others) to show how the gate carries to documents it was not fitted on. Every dataset is
read with split="dev" only, so no test row reaches the fit.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from eval import stats
from eval.fit_cache import say_stale, shown, source_hash
from eval.fit_verifier import fit_logistic
from eval.metrics import auroc
from eval.questions import Question
from eval.ranker_data import OOF, PAIRS, read_examples
from qa.answerability import BEFORE_FIT, FEATURES, PARAMS_PATH, SIGNS, Gate, rows
from qa.verify import VerifierParams

DATASET = "eval/data/r-manuals.jsonl"
L2S = (0.1, 1.0, 10.0)  # regularisation strengths tried; the one with the best out-of-fold AUROC is kept
FOLDS = 5
MAX_FALSE_REFUSAL = 0.10
OOF_COMMAND = "python -m eval.ranker_oof"
SignalsOf = Callable[[Question], dict[str, float]]
# What computes a question's signals (retrieval, rerank, answer units, signals, the verifier's support): a
# cache read by other code is stale. Folders count by their Python files; the fit's own output is not here.
SIGNAL_SOURCES = ("index", "qa", "qa/verifier.json", "qa/models/groundedness/model.onnx",
                  "qa/models/answer_ranker/model.onnx")


def dev_questions(dataset: str) -> list[Question]:
    """The dev side of a split question set (its test rows are dropped as the file is read)."""
    from eval.questions import load
    return load(dataset, split="dev")


def collect(questions: Sequence[Question], signals_of: SignalsOf, cache: Path | None, key: dict) -> list[dict]:
    """Each question's signals, from the cache where it holds them under the same `key`, else asked and cached.

    The cache holds one entry per library (its key: cache_key), so one file serves a fit over several
    corpora; an entry whose key no longer matches is replaced, and a line says what changed.
    """
    stored = json.loads(cache.read_text(encoding="utf-8")) if cache and cache.is_file() else {}
    entries = [e for e in stored.get("entries", []) if e.get("key", {}).get("library") != key.get("library")]
    mine = [e for e in stored.get("entries", []) if e not in entries]
    known = next((e["signals"] for e in mine if e.get("key") == key), None)
    if mine and known is None:
        say_stale(cache, mine[0].get("key", {}), key)
    known = known or {}
    out = []
    for n, q in enumerate(questions, start=1):
        if q.question not in known:
            known[q.question] = signals_of(q)
            print(f"\r{n}/{len(questions)} questions", end="", file=sys.stderr, flush=True)
        out.append(known[q.question])
    if cache:
        entries.append({"key": key, "signals": known})
        cache.write_text(json.dumps({"entries": entries}, indent=1) + "\n", encoding="utf-8")
    return out


def folds(answerable: np.ndarray, k: int, seed: int, corpus: np.ndarray | None = None) -> np.ndarray:
    """A fold number per question, each (corpus, class) dealt round the folds in a seeded order (stratified)."""
    corpus = np.zeros(len(answerable), int) if corpus is None else corpus
    out = np.empty(len(answerable), int)
    rng = np.random.default_rng(seed)
    for c in np.unique(corpus):
        for label in (False, True):
            idx = rng.permutation(np.flatnonzero((answerable == label) & (corpus == c)))
            out[idx] = np.arange(len(idx)) % k
    return out


def out_of_fold(x: np.ndarray, answerable: np.ndarray, k: int, seed: int, l2: float,
                corpus: np.ndarray | None = None) -> np.ndarray:
    """P(answerable) of each question from a model fitted on the other folds."""
    fold, p = folds(answerable, k, seed, corpus), np.empty(len(x))
    for f in range(k):
        held = fold == f
        p[held] = _fit(x[~held], answerable[~held], l2).probability(x[held])
    return p


def choose_threshold(p: np.ndarray, answerable: np.ndarray, max_false_refusal: float,
                     corpus: np.ndarray | None = None) -> float:
    """The threshold (abstain when p < it) with the most refusals (mean over corpora) whose false refusal
    is <= max_false_refusal on every corpus."""
    corpus = np.zeros(len(p), int) if corpus is None else corpus
    values = np.unique(p)
    cuts = np.concatenate([[0.0], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-9]])  # between neighbours
    best, best_key = 0.0, (-1.0, 0.0)
    for t in cuts:
        each = [_rates_at(p[corpus == c], answerable[corpus == c], t) for c in np.unique(corpus)]
        if max(fr for _, fr in each) <= max_false_refusal:
            key = (np.mean([r for r, _ in each]), -np.mean([fr for _, fr in each]))  # then the fewest false refusals
            if key > best_key:
                best, best_key = float(t), key
    return best


def _rates_at(p: np.ndarray, answerable: np.ndarray, threshold: float) -> tuple[float, float]:
    """Refusal of the unanswerable and false refusal of the answerable questions (0 for a class not there)."""
    refused = p < threshold
    return (float(refused[~answerable].mean()) if (~answerable).any() else 0.0,
            float(refused[answerable].mean()) if answerable.any() else 0.0)


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
        max_false_refusal: float = MAX_FALSE_REFUSAL,
        corpora: Sequence[str] | None = None) -> tuple[VerifierParams, dict]:
    """The gate fitted on all the questions given, its L2 and threshold from k-fold CV, its figures beside baselines.

    `corpora` names each question's corpus (one corpus when omitted): the folds and the false-refusal
    limit are per corpus, and with several the figures hold each corpus's CV and held-out rates.
    """
    x, y = rows(signals), np.asarray(answerable, bool)
    names = list(corpora) if corpora is not None else [""] * len(y)
    if len(names) != len(y):
        raise ValueError("one corpus name per question is needed")
    if y.all() or not y.any() or min(y.sum(), (~y).sum()) < k:
        raise ValueError(f"fitting needs at least {k} answerable and {k} unanswerable questions")
    order = list(dict.fromkeys(names))
    corpus = np.array([order.index(n) for n in names])
    params, oof, l2 = _cross_validated(x, y, corpus, k, seed, max_false_refusal)
    threshold = params.threshold
    strength = x[:, FEATURES.index("strength")]
    figures = {"l2": l2, "cv": {**rates(oof, y, threshold), "auroc": _auroc(y, oof)},
               "in_sample": rates(params.probability(x), y, threshold),
               f"strength_{BEFORE_FIT}": {**rates(strength, y, BEFORE_FIT), "auroc": _auroc(y, strength)},
               "never_abstain": rates(np.ones(len(y)), y, 0.0)}
    if len(order) > 1:
        figures["corpora"] = {name: _corpus_figures(x, y, corpus, c, oof, threshold, k, seed, max_false_refusal)
                              for c, name in enumerate(order)}
    return params, figures


def _cross_validated(x: np.ndarray, y: np.ndarray, corpus: np.ndarray, k: int, seed: int,
                     max_false_refusal: float) -> tuple[VerifierParams, np.ndarray, float]:
    """The gate fitted on all of x with the L2 and threshold k-fold CV chose; the out-of-fold P; the L2."""
    tried = {l2: out_of_fold(x, y, k, seed, l2, corpus) for l2 in L2S}
    l2 = max(L2S, key=lambda c: (auroc(y, tried[c]), c))  # ties: the stronger regularisation
    threshold = choose_threshold(tried[l2], y, max_false_refusal, corpus)
    return replace(_fit(x, y, l2), threshold=threshold), tried[l2], l2


def _corpus_figures(x: np.ndarray, y: np.ndarray, corpus: np.ndarray, c: int, oof: np.ndarray, threshold: float,
                    k: int, seed: int, max_false_refusal: float) -> dict:
    """One corpus's out-of-fold rates, and its rates under a gate fitted (with its own CV) on the other corpora."""
    mine = corpus == c
    others, _, _ = _cross_validated(x[~mine], y[~mine], corpus[~mine], k, seed, max_false_refusal)
    held = others.probability(x[mine])
    return {"cv": {**rates(oof[mine], y[mine], threshold), "auroc": _auroc(y[mine], oof[mine])},
            "held_out": {**rates(held, y[mine], others.threshold), "auroc": _auroc(y[mine], held)}}


def _fit(x: np.ndarray, y: np.ndarray, l2: float) -> VerifierParams:
    return fit_logistic(x, y.astype(float), signs=SIGNS, l2=l2, names=FEATURES)


def _auroc(answerable: np.ndarray, scores: np.ndarray) -> float | None:
    value = auroc(answerable, scores)
    return None if value is None else round(value, 4)


def _signals_of(library_dir: str, verifier: str) -> tuple[SignalsOf, dict, Callable[[], None]]:
    """Reads one question's signals through the engine; the cache key; and how to close the library."""
    from index.embedder import SentenceTransformerEmbedder, default_model
    from index.store import Library
    from qa.engine import AnswerEngine, Settings
    from qa.verifiers import make_verifier
    library = Library.open(library_dir)
    embedder = SentenceTransformerEmbedder(default_model())
    # The gate shut: signals are read before it decides, and nothing is drafted.
    engine = AnswerEngine(library, embedder, make_verifier(verifier, embedder), None,
                          Settings(mode="extractive"), gate=Gate.shut())
    key = cache_key(library_dir, library.epoch(), verifier)
    return (lambda q: engine.answer(q.question).answerability), key, library.close


def cache_key(library_dir: str, epoch: int, verifier: str) -> dict:
    """What cached signals hold for: the library and its epoch, the verifier, the features and the code."""
    return {"library": str(Path(library_dir).resolve()), "epoch": epoch, "verifier": verifier,
            "features": list(FEATURES), "code": source_hash(SIGNAL_SOURCES)}


def corpora_of(datasets: Sequence[str] | None, libraries: Sequence[str]) -> list[tuple[str, str]]:
    """The (dataset, library) pairs, in the order given; one library alone is asked the default dataset."""
    datasets = list(datasets or ([DATASET] if len(libraries) == 1 else []))
    if len(datasets) != len(libraries):
        raise ValueError(f"give one --library per --dataset, in pairs ({len(datasets)} datasets, "
                         f"{len(libraries)} libraries)")
    if len(set(datasets)) != len(datasets):
        raise ValueError("each --dataset may be given once")
    return list(zip(datasets, libraries))


def read_corpora(pairs: Sequence[tuple[str, str]], verifier: str, cache: Path | None,
                 oof: Path | None = None) -> tuple[list, list, list]:
    """Every pair's dev questions asked of its library: their signals, labels and corpus (dataset) names.

    With `oof` (eval/ranker_oof.py's file) each question's `ranker` signal is its out-of-fold score there; a
    corpus the shipped ranker never learnt from keeps the shipped ranker's own score, which is out of sample.
    """
    held = read_oof(oof) if oof else None
    signals, labels, names = [], [], []
    for dataset, library in pairs:
        questions = dev_questions(dataset)
        signals_of, key, close = _signals_of(library, verifier)
        try:
            found = collect(questions, signals_of, cache, key)
        finally:
            close()
        signals += found if held is None else with_held_out_ranker(found, questions, held, dataset)
        labels += [bool(q.answerable) for q in questions]
        names += [dataset] * len(questions)
    return signals, labels, names


def read_oof(path: Path) -> dict[str, dict[str, float]]:
    """Per corpus (question set's file stem), each question's out-of-fold ranker score; ValueError if unreadable."""
    try:
        return {c: {q: float(p) for q, p in scores.items()}
                for c, scores in json.loads(path.read_text(encoding="utf-8"))["scores"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"cannot read out-of-fold ranker scores {path} ({exc}); write them: {OOF_COMMAND}") from None


def learnt_questions(pairs: Path | None = None) -> set[str]:
    """The questions the shipped ranker learnt from (those of its pairs file, PAIRS unless given); ValueError if the
    file is unreadable or holds none."""
    pairs = pairs or PAIRS
    again = "python -m eval.ranker_data (README, The answer ranker)"
    try:
        questions = {e.question for e in read_examples(pairs)}
    except (OSError, ValueError, TypeError, EOFError) as exc:
        raise ValueError(f"cannot read the shipped ranker's pairs {pairs} ({exc}); write them: {again}") from None
    if not questions:
        raise ValueError(f"the shipped ranker's pairs {pairs} hold no question; write them: {again}")
    return questions


def with_held_out_ranker(signals: Sequence[dict], questions: Sequence[Question], held: dict[str, dict[str, float]],
                         dataset: str) -> list[dict]:
    """The signals with `ranker` replaced by the out-of-fold score (0 for a question that had no units to score).

    The shipped ranker learnt from these questions' units: its own score of them is not what it says of
    a new question, so a gate fitted on it would trust the signal too much. A corpus the out-of-fold scores
    lack keeps the shipped ranker's score only when none of its questions is one the ranker learnt from
    (its pairs file, read only then): that is what the ranker says of a new question.
    """
    corpus = Path(dataset).stem
    if corpus in held:
        return [s | {"ranker": held[corpus].get(q.question, 0.0)} for s, q in zip(signals, questions)]
    learnt = learnt_questions()
    if not any(q.question in learnt for q in questions):
        return list(signals)
    raise ValueError(f"no out-of-fold ranker scores for {corpus} (they hold {', '.join(held) or 'none'}), whose "
                     f"questions the shipped ranker learnt from; write them: {OOF_COMMAND}")


def main(argv: Sequence[str] | None = None) -> int:
    """Read the dev signals of every corpus, fit, print the figures and write the gate's parameters."""
    ap = argparse.ArgumentParser(prog="python -m eval.fit_answerability", description=__doc__.splitlines()[0])
    ap.add_argument("--library", action="append", required=True,
                    help="library the questions are asked of (repeatable: one per --dataset, in order)")
    ap.add_argument("--dataset", action="append",
                    help=f"split question set (repeatable; default {DATASET}); dev rows only")
    ap.add_argument("--out", type=Path, default=PARAMS_PATH, help="where to write the gate (JSON)")
    ap.add_argument("--cache", type=Path, help="JSON file of each question's signals, reused while it matches")
    ap.add_argument("--verifier", default="features", help="verifier whose support score is a signal (default "
                    "features: its support is left out of the fit, weight 0, so the gate serves any verifier; the "
                    "cross-encoder's did no better in dev CV); an engine refuses a gate that weighs another "
                    "verifier's support")
    ap.add_argument("--ranker-oof", type=Path, default=OOF,
                    help=f"out-of-fold answer-ranker scores of the dev questions (default {OOF}; 'none': the "
                         "signal is left out, weight 0)")
    ap.add_argument("--max-false-refusal", type=float, default=MAX_FALSE_REFUSAL)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    from eval.halueval import DatasetError
    from index.store import LibraryError
    started = time.perf_counter()
    try:
        pairs = corpora_of(args.dataset, args.library)
        oof = None if str(args.ranker_oof) == "none" else args.ranker_oof
        signals, labels, names = read_corpora(pairs, args.verifier, args.cache, oof)
        if args.verifier == "features":  # its support is left out, so that the gate serves any verifier
            signals = [s | {"support": 0.0} for s in signals]
        if oof is None:  # no honest scores of the dev questions: the signal is left out
            signals = [s | {"ranker": 0.0} for s in signals]
        params, figures = fit(signals, labels, seed=args.seed, max_false_refusal=args.max_false_refusal,
                              corpora=names)
    except (DatasetError, LibraryError, ValueError) as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 2
    sets = [{"dataset": d, "questions": names.count(d), "unanswerable": sum(1 for n, a in zip(names, labels)
                                                                             if n == d and not a)} for d, _ in pairs]
    record = {**params.to_dict(), "signs": SIGNS,
              "fitted_on": {"datasets": sets, "split": "dev", "questions": len(labels),
                            "ranker_scores": shown(oof) if oof else None,
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
