"""The answer ranker: its training data, its encoding, a missing model, and how the engine uses it."""
import random

import pytest
from test_engine import EMB, WordVerifier, engine, library  # noqa: F401 - the engine tests' library fixture

from eval import ranker_data
from index.embedder import default_model
from qa.engine import AnswerEngine, QuestionError, Settings
from qa.evidence import Candidate
from qa.ranker import AnswerRanker, RankerEncoder, RankerError, context_of

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

    assert load_config(str(tmp_path / "none.toml"), {"GROUNDWORK_ANSWER_RANKER": "trained"}).answer_ranker == "trained"
    with pytest.raises(ConfigError, match="answer_ranker"):
        load_config(str(tmp_path / "none.toml"), {"GROUNDWORK_ANSWER_RANKER": "neural"})
