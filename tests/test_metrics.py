"""Detector metrics against hand-computed figures, ties, and degenerate inputs."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from eval.metrics import auroc, detector_metrics


def test_hand_computed_example():
    # flagged (score < 0.5): claims 2, 3, 4; hallucinations: 3, 4 -> tp 2, fp 1, fn 0, tn 2
    m = detector_metrics([True, True, True, False, False], [0.9, 0.8, 0.3, 0.4, 0.1], threshold=0.5)
    assert m["n"] == 5
    assert m["accuracy"] == pytest.approx(4 / 5)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(1.0)
    assert m["f1"] == pytest.approx(0.8)
    assert m["balanced_accuracy"] == pytest.approx((1.0 + 2 / 3) / 2)
    # hallucinations score 0.4 and 0.1; below 0.9, 0.8, 0.3 in 5 of 6 pairs
    assert m["auroc"] == pytest.approx(5 / 6)


def test_threshold_is_inclusive_for_supported():
    m = detector_metrics([True, False], [0.5, 0.49], threshold=0.5)
    assert m["accuracy"] == 1.0 and m["precision"] == 1.0 and m["recall"] == 1.0


def test_auroc_counts_ties_as_half():
    # hallucinations 0.5, 0.2 against supported 0.5, 0.7: one tie, three wins
    assert detector_metrics([True, False, True, False], [0.5, 0.5, 0.7, 0.2], 0.5)["auroc"] == pytest.approx(3.5 / 4)
    assert auroc([True, False, True, False], [1, 1, 1, 1]) == pytest.approx(0.5)


def test_auroc_equals_pairwise_count_with_many_ties():
    rng = np.random.default_rng(7)
    labels = rng.random(300) < 0.4
    scores = rng.integers(0, 6, 300).astype(float)  # few distinct values: many ties
    pos, neg = scores[labels], scores[~labels]
    brute = np.mean([1.0 if p > q else 0.5 if p == q else 0.0 for p, q in itertools.product(pos, neg)])
    assert auroc(labels, scores) == pytest.approx(brute)


def test_perfect_and_inverted_detectors():
    labels = [True, True, False, False]
    assert detector_metrics(labels, [0.9, 0.8, 0.2, 0.1], 0.5)["auroc"] == 1.0
    worst = detector_metrics(labels, [0.1, 0.2, 0.8, 0.9], 0.5)
    assert worst["auroc"] == 0.0 and worst["accuracy"] == 0.0 and worst["f1"] == 0.0


def test_one_class_only_does_not_crash():
    all_supported = detector_metrics([True, True, True], [0.9, 0.2, 0.7], 0.5)
    assert all_supported["auroc"] is None and all_supported["recall"] is None
    assert all_supported["precision"] == 0.0 and all_supported["f1"] == 0.0  # one false alarm, nothing to catch
    assert all_supported["balanced_accuracy"] == pytest.approx(2 / 3)
    all_hallucinated = detector_metrics([False, False], [0.9, 0.8], 0.5)
    assert all_hallucinated["auroc"] is None
    assert all_hallucinated["precision"] is None  # nothing flagged
    assert all_hallucinated["recall"] == 0.0 and all_hallucinated["f1"] == 0.0


def test_empty_input_gives_undefined_figures():
    m = detector_metrics([], [], 0.5)
    assert m["n"] == 0
    assert all(m[k] is None for k in ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "auroc"))


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError):
        detector_metrics([True, False], [0.3], 0.5)
