"""The groundedness model's figures: per kind of held-out pair, so a trade between kinds shows."""
import numpy as np

from eval.verifier_data import Example
from eval.verifier_figures import by_kind, kinds_table


def test_a_lenient_detector_shows_which_negatives_it_lets_through_though_overall_figures_hide_it():
    pairs = [Example("p", "right", True, "sentence")] * 4 + [Example("p", "reworded", True, "headline")] * 2 \
        + [Example("p", "not so", False, "negation")] * 3 + [Example("p", "swapped", False, "number")]
    # Accepts every supported pair and the number swap, lets every negation through too.
    scores = np.array([0.9] * 6 + [0.8] * 3 + [0.1])
    kinds = by_kind(pairs, scores, threshold=0.5)
    assert kinds["negation"] == {"n": 3, "supported": False, "accuracy": 0.0}
    assert kinds["number"]["accuracy"] == 1.0 and kinds["sentence"] == {"n": 4, "supported": True, "accuracy": 1.0}
    table = kinds_table({"synthetic_kinds": kinds}).splitlines()
    assert "| negation | unsupported | 3 | 0.00 |" in table and len(table) == 2 + 4


def test_pairs_without_a_kind_are_counted_together_and_their_label_said_to_be_both():
    kinds = by_kind([Example("p", "c", True), Example("p", "d", False)], np.array([0.7, 0.7]), threshold=0.6)
    assert kinds == {"unnamed": {"n": 2, "supported": None, "accuracy": 0.5}}
    assert "| unnamed | both | 2 | 0.50 |" in kinds_table({"synthetic_kinds": kinds})
