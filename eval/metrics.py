"""Pure metrics of a hallucination detector: labelled claims, scores, a threshold -> figures."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def detector_metrics(labels: Sequence[bool], scores: Sequence[float], threshold: float) -> dict:
    """Figures of a hallucination detector: positive = an UNSUPPORTED claim (a hallucination).

    `labels[i]` is True when claim i is supported (as datasets and verifiers say it), `scores[i]`
    the detector's probability that it is supported; a claim is flagged when its score is below
    `threshold`. precision, recall and f1 are those of flagging hallucinations; auroc is the
    probability that a random hallucination scores below a random supported claim (ties count
    half). A figure that is undefined on the data given (auroc with one class, precision with
    nothing flagged, recall with no hallucination, f1 with neither) is None, not a made-up number.
    """
    supported = np.asarray(labels, dtype=bool)
    score = np.asarray(scores, dtype=float)
    if supported.shape != score.shape or supported.ndim != 1:
        raise ValueError(f"labels and scores must be equal-length sequences, got {supported.shape} and {score.shape}")
    hallucination, flagged = ~supported, score < threshold
    tp = int(np.sum(flagged & hallucination))
    fp = int(np.sum(flagged & supported))
    fn = int(np.sum(~flagged & hallucination))
    tn = int(np.sum(~flagged & supported))
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    class_recalls = [r for r in (recall, _ratio(tn, tn + fp)) if r is not None]
    return {
        "n": int(supported.size),
        "accuracy": _ratio(tp + tn, supported.size),
        "balanced_accuracy": float(np.mean(class_recalls)) if class_recalls else None,
        "precision": precision,
        "recall": recall,
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),  # 0 when hallucinations exist and none is caught
        "auroc": auroc(hallucination, -score),
    }


def auroc(positive: Sequence[bool], scores: Sequence[float]) -> float | None:
    """Area under the ROC curve of `scores` ranking positives first (Mann-Whitney U, ties half); None with one class."""
    pos = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = _average_ranks(np.asarray(scores, dtype=float))
    u = ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values sharing the mean of the ranks they span."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    last = np.cumsum(counts)  # rank of the last member of each group of equal values
    return (last - (counts - 1) / 2.0)[inverse]


def _ratio(num: int, den: int) -> float | None:
    return float(num / den) if den else None



def calibration_bins(labels: Sequence[bool], scores: Sequence[float], bins: int = 10) -> list[dict]:
    """Equal-width bins of the predicted probability of support: n, mean score and share supported (None when empty)."""
    supported = np.asarray(labels, dtype=float)
    score = np.clip(np.asarray(scores, dtype=float), 0.0, 1.0)
    which = np.minimum((score * bins).astype(int), bins - 1)  # a score of exactly 1 joins the top bin
    out = []
    for b in range(bins):
        mask = which == b
        n = int(mask.sum())
        out.append({"low": b / bins, "high": (b + 1) / bins, "n": n,
                    "mean_score": float(score[mask].mean()) if n else None,
                    "supported_share": float(supported[mask].mean()) if n else None})
    return out


def expected_calibration_error(bins: Sequence[dict]) -> float | None:
    """Σ_bins (n_b / n) |share supported - mean score|; None with no claims."""
    total = sum(b["n"] for b in bins)
    if not total:
        return None
    return float(sum(b["n"] / total * abs(b["supported_share"] - b["mean_score"]) for b in bins if b["n"]))
