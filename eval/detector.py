"""How well the answer-time verifier detects hallucinations on labelled claims: figures and a calibration plot.

`halueval-qa` measures on the QA rows eval.fit_verifier held out of the fit (split by passage, seed 0),
so the verifier is never scored on claims it was fitted on; dialogue and summarization were never seen.
Beside the verifier, the same pairs measure two trivial detectors (BASELINES): a verifier that does
not beat them has learnt nothing about support.
"""
from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path

import numpy as np

from eval import halueval, plots
from eval.fit_verifier import HELDOUT_SHARE, best_threshold, split_by_passage
from eval.halueval import DatasetError, Pair
from eval.html import fmt
from eval.metrics import calibration_bins, detector_metrics, expected_calibration_error
from eval.verifier_figures import length_score, recall_score
from index.records import Chunk, Passage
from qa.verify import Verifier

DATASETS = ("halueval-qa", "halueval-dialogue", "halueval-summarization")
SHOWN = ("dataset", "n", "accuracy", "balanced_accuracy", "precision", "recall", "f1", "auroc")
BATCH = 128
BASELINES = {"claim_length": "claim length in words alone, shorter = supported",
             "word_recall": "share of the claim's content words found in the passage"}


def labelled_pairs(name: str, sample: int | None = 500, seed: int = 0) -> list[Pair]:
    """Claims with labels: a HaluEval subset (a seeded sample of rows; QA from the held-out part) or a JSONL FILE."""
    if name in DATASETS:
        subset = name.removeprefix("halueval-")
        if subset == "qa":
            pairs = split_by_passage(halueval.pairs("qa"), HELDOUT_SHARE, 0)[1]
            rows = sorted({p.passage for p in pairs})
            if sample is not None and sample < len(rows):
                keep = set(random.Random(seed).sample(rows, sample))
                pairs = [p for p in pairs if p.passage in keep]
            return pairs
        return halueval.pairs(subset, sample=sample, seed=seed)
    return _file_pairs(Path(name))


def _file_pairs(path: Path) -> list[Pair]:
    if not path.is_file():
        raise DatasetError(f"no dataset {path}: use one of {', '.join(DATASETS)} or a JSONL file of "
                           '{"passage", "claim", "supported"}')
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                row = json.loads(line)
                out.append(Pair(str(row["passage"]), str(row["claim"]), _boolean(row["supported"])))
            except (ValueError, KeyError, TypeError) as exc:
                raise DatasetError(f"{path} line {n}: need passage, claim and supported true/false ({exc})") from None
    return out


def _boolean(value) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"supported is {value!r}, not true or false")
    return value


def measure(pairs: Sequence[Pair], verifier: Verifier, progress: Callable[[int, int], None] | None = None) -> dict:
    """The detector figures of the verifier's verdicts (auroc from its scores), calibration bins and ECE."""
    verdicts: list[tuple[bool, float]] = []
    batch = getattr(verifier, "verify_many", None)
    for start in range(0, len(pairs), BATCH):
        items = [(p.claim, [_passage(p.passage)]) for p in pairs[start:start + BATCH]]
        verdicts += batch(items) if batch else [verifier.verify(c, ps) for c, ps in items]
        if progress:
            progress(len(verdicts), len(pairs))
    labels = [p.supported for p in pairs]
    # Figures from the verdicts, so that any Verifier's own threshold is the one measured.
    figures = detector_metrics(labels, [1.0 if ok else 0.0 for ok, _ in verdicts], 0.5)
    scores = [s for _, s in verdicts]
    figures["auroc"] = detector_metrics(labels, scores, 0.5)["auroc"]
    bins = calibration_bins(labels, scores)
    return {**figures, "ece": expected_calibration_error(bins), "calibration": bins}


def baselines(pairs: Sequence[Pair]) -> dict[str, dict]:
    """Balanced accuracy and AUROC of each BASELINE on the pairs, its threshold the best one on these same pairs.

    Choosing the threshold on the measured set flatters the baselines: a verifier compared with them
    is compared with the best they could do.
    """
    labels = np.array([p.supported for p in pairs], bool)
    scores = {"claim_length": length_score(pairs), "word_recall": recall_score(pairs)}
    out = {}
    for name, score in scores.items():
        threshold = best_threshold(labels, score)
        figures = detector_metrics(labels, score, threshold)
        out[name] = {"balanced_accuracy": figures["balanced_accuracy"], "auroc": figures["auroc"],
                     "threshold": threshold, "what": BASELINES[name]}
    return out


def _passage(text: str) -> Passage:
    return Passage(Chunk(0, "labelled", 1, 0, len(text), text), "labelled", 1.0)


def write(result: dict, out: Path) -> None:
    """detector.json and detector.html (figures and the calibration plot) in out."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "detector.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    rows = "".join(f"<tr><td>{k}</td><td>{fmt(result[k]) if isinstance(result[k], float) else escape(str(result[k]))}"
                   f"</td></tr>" for k in (*SHOWN, "ece", "verifier") if k in result)
    rows += "".join(f"<tr><td>baseline: {escape(b['what'])}</td><td>balanced accuracy {fmt(b['balanced_accuracy'])}, "
                    f"auroc {fmt(b['auroc'])}</td></tr>" for b in result.get("baselines", {}).values())
    image = plots.calibration(result["calibration"])
    (out / "detector.html").write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>Detector {escape(result['dataset'])}</title></head>"
        f"<body style='font-family:sans-serif'><h1>Detector: {escape(result['dataset'])}</h1>"
        f"<p>Positive = a hallucination (an unsupported claim).</p><table border=1 cellpadding=4>{rows}</table>"
        f"<h2>Calibration</h2><img alt='calibration' src='data:image/png;base64,{image}'></body></html>",
        encoding="utf-8")
