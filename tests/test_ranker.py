"""The answer ranker: its training data, its encoding, a missing model, and how the engine uses it."""
import random

import numpy as np
import pytest
from test_engine import EMB, WordVerifier, engine, library  # noqa: F401 - the engine tests' library fixture

from eval import ranker_data
from index.embedder import default_model
from qa.engine import AnswerEngine, QuestionError, Settings
from qa.evidence import Candidate
from qa.ranker import BLEND_WEIGHT, CANDIDATES, AnswerRanker, RankerEncoder, RankerError, context_of

TOKENIZER = f"{default_model()}/tokenizer.json"
PAGE = """11 Statistical models in R
11.2 Linear models
The basic function for fitting ordinary multiple models is lm(), and a streamlined version
of the call is as follows:
> fitted.model <- lm(formula, data = data.frame)
A factor is a vector object used to specify a discrete classification of the components of other vectors.
Generic functions for extracting model information are summarized in the table of the appendix on page 12.
"""


def test_only_the_question_sets_dev_documents_are_trained_on():
    assert ranker_data.dev_documents() == {"R-intro", "R-admin"}


def test_halueval_rows_give_the_sentence_holding_the_answer_against_the_others():
    row = {"knowledge": "Paris is large. The Louvre opened in 1793 in Paris. It holds the Mona Lisa.",
           "question": "When did the Louvre open?", "right_answer": "1793"}
    made = ranker_data.halueval_examples([row], seed=0)
    assert [(e.unit, e.answers) for e in made if e.answers] == [("The Louvre opened in 1793 in Paris.", True)]
    assert {e.unit for e in made if not e.answers} == {"Paris is large.", "It holds the Mona Lisa."}
    assert ranker_data.halueval_examples([{**row, "right_answer": "Paris"}], seed=0) == []  # two sentences hold it


def test_document_questions_come_from_headings_definitions_and_cloze_gaps():
    pages = [("R-intro", 1, PAGE), ("R-intro", 2, PAGE.replace("11.2 Linear models", "11.3 Generic functions"))]
    made = [e for part in ranker_data.document_questions(pages, seed=0).values() for e in part]
    right = {(e.kind, e.question): e.unit for e in made if e.answers}
    assert right[("definition", "What is a factor?")].startswith("A factor is a vector object")
    heading = next(u for (k, q), u in right.items() if k == "heading" and "linear models" in q)
    assert heading.startswith("The basic function") and heading.endswith("lm(formula, data = data.frame)")
    assert any(k == "cloze" and q.endswith(" what?") for k, q in right)
    for question in {e.question for e in made}:  # each question: one answering unit, and others that do not
        group = [e for e in made if e.question == question]
        assert sum(e.answers for e in group) >= 1 and not all(e.answers for e in group)


def test_the_encoder_puts_the_question_first_and_the_units_context_last_within_the_window():
    enc = RankerEncoder(TOKENIZER, 32)
    (ids, types), (long_ids, long_types) = enc.encode([("Which function?", "lm fits models.", "Linear models"),
                                                       ("Which function?", "word " * 200, "context")])
    assert ids[0] == 101 and types[:3] == [0, 0, 0] and types[-1] == 1 and len(long_ids) == 32
    assert context_of("A call such as lm(y ~ x) fits.", "Linear models are common.\nA call such\nas lm(y ~ x) fits.") \
        == "Linear models are common."


def test_a_missing_model_says_how_to_train_one(tmp_path):
    with pytest.raises(RankerError, match="python -m eval.train_ranker"):
        AnswerRanker(tmp_path).probabilities([("q", "u", "")])


class Reverse:
    """A ranker that prefers what the rerank put last: the engine must follow it."""

    def order(self, question, candidates):
        return tuple(Candidate(c.text, c.passage, 0.9 - 0.1 * i) for i, c in enumerate(reversed(candidates)))

    def best(self, question, candidates):  # what the gate reads: sure that some unit answers
        return 0.9


def test_the_trained_ranker_chooses_the_quote_and_the_rerank_still_decides_answerability(library):  # noqa: F811
    question = "Which function fits ordinary linear models?"
    plain = engine(library).answer(question)
    eng = AnswerEngine(library, EMB, WordVerifier(), settings=Settings(answer_ranker="trained", min_strength=0.2),
                       ranker=Reverse())
    ranked = eng.answer(question)
    candidates = eng.evidence(question).candidates
    assert plain.sentences[0].text == candidates[0].text
    assert ranked.sentences[0].text == candidates[-1].text and "rank" in ranked.timings
    assert ranked.answerability["strength"] == plain.answerability["strength"]


def test_an_unknown_ranker_is_refused_in_one_line(library):  # noqa: F811
    with pytest.raises(QuestionError, match="unknown answer ranker 'neural'"):
        engine(library, answer_ranker="neural")


def test_the_setting_takes_only_the_known_rankers(tmp_path):
    from app.config import ConfigError, load_config
    (tmp_path / "none.toml").write_text("")  # an empty file: no ./groundwork.toml is read

    assert load_config(str(tmp_path / "none.toml"), {"GROUNDWORK_ANSWER_RANKER": "trained"}).answer_ranker == "trained"
    with pytest.raises(ConfigError, match="answer_ranker"):
        load_config(str(tmp_path / "none.toml"), {"GROUNDWORK_ANSWER_RANKER": "neural"})


class Fixed(AnswerRanker):
    """The real blend over fixed probabilities: P by the unit's text."""

    def __init__(self, probs):
        super().__init__("unused")
        self.probs = probs

    def probabilities(self, items):
        return np.array([self.probs.get(unit, 0.0) for _, unit, _ in items])


def test_blend_adds_the_weighted_probability_to_the_rerank_score_of_the_best_units_only():
    from index.records import Chunk, Passage
    passage = Passage(Chunk(1, "d", 1, 0, 1, "x"), "doc.pdf", 0.5)
    cands = [Candidate(f"u{i} text", passage, 1.0 - 0.01 * i) for i in range(CANDIDATES + 2)]
    blended = Fixed({"u3 text": 1.0, "u21 text": 1.0}).blend("q", cands)
    assert [c.text for c in blended[:2]] == ["u3 text", "u0 text"]
    assert blended[0].score == pytest.approx(0.97 + BLEND_WEIGHT)
    assert [c.text for c in blended[-2:]] == ["u20 text", "u21 text"]  # beyond CANDIDATES: not read, order kept
    assert len(blended) == len(cands)


def test_the_engine_blends_when_asked(library):  # noqa: F811
    question = "Which function fits ordinary linear models?"
    last = engine(library).evidence(question).candidates[:CANDIDATES][-1].text
    eng = AnswerEngine(library, EMB, WordVerifier(), settings=Settings(answer_ranker="blend", min_strength=0.2),
                       ranker=Fixed({last: 50.0}))
    assert eng.answer(question).sentences[0].text == last


def test_question_pairs_label_units_holding_an_expected_answer_and_read_back_in_order(library, tmp_path):  # noqa: F811
    from eval.questions import Question
    questions = [Question("a", "Which function fits ordinary linear models?", ("lm",), (("doc", 1),)),
                 Question("b", "Which function fits a quantum model?", (), (), answerable=False)]
    made = ranker_data.question_examples(engine(library), questions)
    assert any(e.answers for e in made if e.question == questions[0].question)
    assert not any(e.answers for e in made if e.question == questions[1].question)
    assert all(("lm" in e.unit) == e.answers for e in made if e.question == questions[0].question)
    ranker_data.write_examples(made, tmp_path / "p.jsonl.gz")
    assert ranker_data.read_examples(tmp_path / "p.jsonl.gz") == made


def test_a_pairs_file_that_is_not_one_fails_in_one_line(tmp_path, capsys):
    from eval import train_ranker
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_text("not gzip")
    assert train_ranker.main(["--pairs-file", str(bad), "--out", str(tmp_path / "m")]) == 1
    assert capsys.readouterr().err.startswith("error: ")


class Counted(Fixed):
    calls = 0

    def probabilities(self, items):
        self.calls += 1
        return super().probabilities(items)


def ranker_gate(weight):
    """A gate that answers when the ranker's best P is over 0.5 (weight > 0), or on nothing but its bias."""
    from qa.answerability import FEATURES, Gate
    from qa.verify import VerifierParams
    n = len(FEATURES)
    weights = np.array([weight if f == "ranker" else 0.0 for f in FEATURES])
    return Gate(VerifierParams(FEATURES, np.zeros(n), np.ones(n), weights, -0.5 * weight if weight else 1.0, 0.5))


def test_the_gate_reads_the_rankers_best_unit_and_asks_the_ranker_only_when_it_weighs_it(library):  # noqa: F811
    question = "Which function fits ordinary linear models?"
    best = engine(library).evidence(question).candidates[0].text
    sure, unsure = Counted({best: 0.9}), Counted({})
    answered = AnswerEngine(library, EMB, WordVerifier(), settings=Settings(), gate=ranker_gate(20.0), ranker=sure)
    refused = AnswerEngine(library, EMB, WordVerifier(), settings=Settings(), gate=ranker_gate(20.0), ranker=unsure)
    assert answered.answer(question).answerability["ranker"] == pytest.approx(0.9) and not answered.answer(question).abstained
    assert refused.answer(question).abstained and refused.answer(question).answerability["ranker"] == 0.0
    assert sure.calls == 1  # the same question's units are scored once, however often the gate and blend ask
    blind = Counted({best: 0.9})
    AnswerEngine(library, EMB, WordVerifier(), settings=Settings(), gate=ranker_gate(0.0), ranker=blind).answer(question)
    assert blind.calls == 0


def test_a_missing_shipped_ranker_says_how_to_train_it_again(monkeypatch):
    import qa.ranker
    monkeypatch.setattr(qa.ranker, "GRAPH", "gone.onnx")
    with pytest.raises(RankerError, match="--pairs-file eval/data/ranker-pairs.jsonl.gz"):
        AnswerRanker().probabilities([("q", "u", "")])


def test_out_of_fold_scores_need_a_readable_file_of_two_corpora_or_more(tmp_path, capsys):
    from eval import ranker_oof
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_text("not gzip")
    assert ranker_oof.main(["--pairs-file", str(bad), "--out", str(tmp_path / "o.json")]) == 1
    one = tmp_path / "one.jsonl.gz"
    ranker_data.write_examples([ranker_data.RankExample("q", "u", "", True, "question", "a")], one)
    assert ranker_oof.main(["--pairs-file", str(one), "--out", str(tmp_path / "o.json")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("error: ") and "two corpora" in err[1] and not (tmp_path / "o.json").exists()
