"""Eval metrics on hand-computed cases, and their edge cases: no gold, no sentences, all abstain."""
from __future__ import annotations

import math

import numpy as np
import pytest

from eval import answer_metrics as am
from eval import retrieval_metrics as rm
from eval import stats
from eval.compare import compare, gate_failures, parse_gates, text
from eval.metrics import calibration_bins, expected_calibration_error
from eval.summary import METRICS, summarise

A1, A2, B1, C1 = ("a", 1), ("a", 2), ("b", 1), ("c", 1)


def test_retrieval_hand_computed():
    ranked = [C1, A2, C1, A1, B1]  # gold A1 and A2 at ranks 4 and 2; C1 repeats
    gold = {A1, A2}
    assert rm.hit_at(ranked, gold, 1) == 0.0 and rm.hit_at(ranked, gold, 2) == 1.0
    assert rm.recall_at(ranked, gold, 3) == 0.5 and rm.recall_at(ranked, gold, 5) == 1.0
    assert rm.reciprocal_rank(ranked, gold) == 0.5
    assert rm.first_gold_rank(ranked, gold) == 2
    ideal = 1 + 1 / math.log2(3)
    assert rm.ndcg_at(ranked, gold, 10) == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / ideal)


def test_ndcg_counts_a_page_found_twice_once():
    assert rm.ndcg_at([A1, A1], {A1}) == 1.0
    assert rm.ndcg_at([A1, A1], {A1, A2}) == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_retrieval_without_gold_is_undefined_and_a_miss_is_zero():
    for f in (lambda r, g: rm.hit_at(r, g, 5), lambda r, g: rm.recall_at(r, g, 5), rm.reciprocal_rank, rm.ndcg_at):
        assert f([A1], set()) is None
        assert f([B1, C1], {A1}) == 0.0
    assert rm.first_gold_rank([B1], {A1}) is None


def test_answer_metrics_hand_computed():
    # tokens lm, function, 1 against lm: P = 1/3, R = 1, F1 = 2PR/(P+R) = 0.5
    assert am.token_f1("the lm function [1]", ["lm"]) == pytest.approx(0.5)
    assert am.token_f1("use lm", ["glm", "lm function"]) == pytest.approx(0.5)
    assert am.exact_match("The  LM.", ["lm"]) == 1.0 and am.exact_match("lm()", ["glm"]) == 0.0
    assert am.contains_answer("Call  Sink() first", ["sink()"]) == 1.0
    assert am.contains_answer("nothing", ["sink"]) == 0.0
    assert am.strip_markers("Use lm. [1][2] Then plot. [3]") == "Use lm. Then plot."
    v = np.array([[1.0, 0.0], [0.6, 0.8]])
    assert am.best_cosine(np.array([0.0, 1.0]), v) == pytest.approx(0.8)
    for f in (am.token_f1, am.exact_match, am.contains_answer):
        assert f("anything", []) is None
    assert am.best_cosine(np.array([1.0]), np.empty((0, 1))) is None


def test_grounding_metrics_and_no_sentences():
    assert am.faithfulness([True, False, True, True]) == 0.75
    assert am.hallucinated([True, False]) == 1.0 and am.hallucinated([True]) == 0.0
    assert am.faithfulness([]) is None and am.hallucinated([]) is None and am.citation_precision([]) is None
    # Gold pages are alternatives: citing one of two is enough; no gold, no figure.
    assert am.gold_cited({A1, B1}, {A1, A2}) == 1.0 and am.gold_cited({B1}, {A1, A2}) == 0.0
    assert am.gold_cited({A1}, set()) is None


def test_right_needs_the_answer_and_a_gold_citation():
    assert am.right(1.0, 1.0) == 1.0
    assert am.right(1.0, 0.0) == 0.0 and am.right(0.0, 1.0) == 0.0
    assert am.right(None, 1.0) is None and am.right(1.0, None) is None


def test_refusal_applies_by_kind():
    assert am.refusal(True, False) == (1.0, None)
    assert am.refusal(False, False) == (0.0, None)
    assert am.refusal(True, True) == (None, 1.0)
    assert am.refusal(False, None) == (None, None)


def test_stats_skip_undefined_and_bootstrap_brackets_the_mean():
    assert stats.mean([None, 1.0, 0.0]) == 0.5 and stats.mean([None]) is None
    assert stats.percentile([1, 2, 3, 4, None], 50) == 2.5
    low, high = stats.bootstrap_ci([0, 1] * 50)
    assert low < 0.5 < high and high - low < 0.3
    assert stats.bootstrap_ci([1.0, 1.0]) == (1.0, 1.0) and stats.bootstrap_ci([]) is None
    d = stats.paired_delta([0, 0, 1, None], [1, 1, 1, 1])
    assert d["delta"] == pytest.approx(2 / 3) and d["n"] == 3 and d["low"] <= d["delta"] <= d["high"]


def _record(qid, answerable, abstained, scores):
    return {"id": qid, "question": qid, "answerable": answerable, "abstained": abstained, "complete": True,
            "gold": [["a", 1]] if answerable else [], "timings": {"total": 1.0}, "tokens": None,
            "scores": scores}


def test_summary_when_every_answer_abstains():
    records = [_record("q1", True, True, {"faithfulness": None, "false_refusal": 1.0, "contains_answer": 0.0}),
               _record("q2", False, True, {"faithfulness": None, "refusal": 1.0})]
    s = summarise(records)
    assert s["counts"] | {} == {"questions": 2, "answerable": 1, "unanswerable": 1, "unlabelled": 0, "answered": 0,
                                "abstained": 2, "incomplete": 0, "errors": 0}
    m = s["metrics"]
    assert m["faithfulness"] == {"value": None, "ci": None, "n": 0}
    assert m["refusal"]["value"] == 1.0 and m["false_refusal"]["value"] == 1.0 and m["contains_answer"]["value"] == 0.0
    assert set(m) == {x.key for x in METRICS} and s["tokens"] is None


def test_gates_parse_and_fail():
    gates = parse_gates("faithfulness=0.9, recall@5=0.8")
    assert gates == {"faithfulness": 0.9, "recall@5": 0.8}
    summary = {"metrics": {"faithfulness": {"value": 0.95}, "recall@5": {"value": 0.5}, "hallucination": {"value": None}}}
    assert gate_failures(summary, gates, {}) == ["recall@5 = 0.500 is under 0.8"]
    assert gate_failures(summary, {}, {"hallucination": 0.1}) == [
        "hallucination is not measured by this run (gate: over 0.1)"]  # a gate that cannot be checked fails
    for bad in ("faithfulness", "nonsense=1", "faithfulness=high"):
        with pytest.raises(ValueError, match="bad gate"):
            parse_gates(bad)


def test_compare_pairs_questions_and_lists_regressions():
    a = {"meta": {}, "records": [_record(f"q{i}", True, False, {"contains_answer": 1.0, "hallucination": 0.0})
                                 for i in range(20)]}
    b = {"meta": {}, "records": [_record(f"q{i}", True, False, {"contains_answer": float(i >= 10),
                                                                 "hallucination": 0.0}) for i in range(20)]}
    b["records"].append(_record("new", True, False, {"contains_answer": 1.0}))
    c = compare(a, b)
    d = c["deltas"]["contains_answer"]
    assert d["delta"] == -0.5 and d["high"] < 0 and d["significant"] and d["better"] is False
    assert c["deltas"]["hallucination"]["delta"] == 0 and not c["deltas"]["hallucination"]["significant"]
    assert c["shared"] == 20 and c["only_b"] == 1
    b["records"][0]["scores"]["faithfulness"] = 0.5  # defined in B only: not part of any pair
    assert compare(a, b)["deltas"]["faithfulness"] is None
    assert [r["id"] for r in c["regressed"]] == [f"q{i}" for i in range(10)]
    assert c["regressed"][0]["worse"] == {"contains_answer": [1.0, 0.0]}
    # One run judged, the other not (--judge-verifier none): grounding is not compared, and the table says why.
    a["meta"], b["meta"] = {"checker": "sentence-level features"}, {"checker": None}
    c = compare(a, b)
    assert c["deltas"]["hallucination"] is None and c["deltas"]["contains_answer"]["delta"] == -0.5
    assert "B measured no grounding" in c["notes"][0] and "B measured no grounding" in text(c)


def test_calibration_bins_hand_computed():
    bins = calibration_bins([True, False, True, True], [0.05, 0.15, 0.95, 1.0], bins=10)
    assert [b["n"] for b in bins] == [1, 1, 0, 0, 0, 0, 0, 0, 0, 2]
    assert bins[9]["mean_score"] == pytest.approx(0.975) and bins[9]["supported_share"] == 1.0
    assert bins[2]["mean_score"] is None
    # |1 - 0.05|, |0 - 0.15|, |1 - 0.975| weighted 1, 1, 2 of 4
    assert expected_calibration_error(bins) == pytest.approx((0.95 + 0.15 + 2 * 0.025) / 4)
    assert expected_calibration_error(calibration_bins([], [])) is None
