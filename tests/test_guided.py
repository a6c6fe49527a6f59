"""Guided mode's choice: two orders read as one judgment, combined with the ranker's scores; its fit on dev."""
import json
import math

import pytest

from eval.fit_guided import best, outcome, sweep
from qa.guided import Judgment, Rule, both_orders, pick

LOG = math.log


def test_a_bias_for_a_position_counts_once_near_the_top_and_once_near_the_bottom():
    # A model that gives the first position 0.7 whatever it holds, and slightly prefers candidate C.
    forward = [LOG(0.05), LOG(0.7), LOG(0.1), LOG(0.15)]   # none, A, B, C as the ranker orders them
    backward = [LOG(0.05), LOG(0.75), LOG(0.1), LOG(0.1)]  # none, C, B, A: reversed
    judged = both_orders(forward, backward)
    assert sum(math.exp(v) for v in (judged.none, *judged.candidates)) == pytest.approx(1.0)
    a, b, c = judged.candidates
    assert c > a > b  # C wins once the position's favour is shared out; read alone, the forward order says A
    assert a - b == pytest.approx((LOG(0.7) + LOG(0.1) - 2 * LOG(0.1)) / 2)


def test_the_weight_sets_how_much_ranker_score_outweighs_the_models_preference():
    judged = Judgment(LOG(0.1), (LOG(0.2), LOG(0.7)))
    scores = [0.60, 0.50]
    assert pick(judged, scores, Rule(0.0)) == 1  # the model alone
    assert pick(judged, scores, Rule(10.0)) == 1  # 1.25 nats of preference against 1.0 of ranker score
    assert pick(judged, scores, Rule(20.0)) == 0  # against 2.0: the ranker's best
    assert pick(judged, scores, Rule(None)) == 0
    assert pick(judged, scores, Rule(0.0, abstain=0.1)) is None and pick(judged, scores, Rule(0.0, 0.2)) == 1


def test_the_rule_comes_from_the_served_models_entry_else_the_default_else_the_ranker_alone(tmp_path):
    path = tmp_path / "guided.json"
    assert Rule.for_model("any", path) == Rule(None, None) and not Rule(None).asks
    path.write_text(json.dumps({"rules": {"m": {"weight": 5.0, "abstain": 0.9}}}))
    assert Rule.for_model("m", path) == Rule(5.0, 0.9) and Rule.for_model("other", path) == Rule(None)
    path.write_text(json.dumps({"rules": {"m": {"weight": 5.0}, "default": {"weight": 20.0}}}))
    assert Rule.for_model("other", path) == Rule(20.0)


def fact(answerable=True, gated=True, ranker_right=False, right=(False, True), model_likes=1, none=0.01):
    """One dev question's cached facts: the model likes candidate `model_likes` in both orders."""
    n = len(right)
    p = [none] + [0.9 if i == model_likes else 0.05 for i in range(n)]
    forward = [LOG(v) for v in p]
    backward = [forward[0], *reversed(forward[1:])]
    return {"answerable": answerable, "gated": gated, "ranker_abstained": False, "ranker_right": ranker_right,
            "forward": forward, "backward": backward, "scores": [0.6, 0.5], "right": list(right)}


def test_the_sweep_keeps_the_ranker_alone_unless_the_model_adds_right_answers():
    agrees = [fact(ranker_right=True, right=(True, False), model_likes=0)]
    rows = sweep(agrees)
    assert (best(rows)["weight"], best(rows)["abstain"]) == (None, None) and best(rows)["right"] == 1
    helps = agrees + [fact(ranker_right=False, right=(False, True), model_likes=1)]
    chosen = best(sweep(helps))
    assert chosen["right"] == 2 and chosen["weight"] is not None  # the model's pick wins the second question


def test_outcomes_follow_the_gate_and_the_models_none():
    assert outcome(fact(gated=False), "both", Rule(0.0)) == "abstained"
    assert outcome(fact(answerable=False, none=0.95), "both", Rule(0.0, 0.5)) == "refused"
    assert outcome(fact(answerable=False), "both", Rule(None)) == "answered"
    assert outcome(fact(model_likes=1), "forward", Rule(0.0)) == "right"


@pytest.mark.parametrize("text", ["{not json", '{"rules": []}', '{"rules": {"m": {"weight": "2"}}}',
                                  '{"rules": {"m": 3}}', '[]'])
def test_a_malformed_rules_file_is_a_one_line_error_that_names_it(tmp_path, text):
    from index.errors import GroundworkError
    path = tmp_path / "guided.json"
    path.write_text(text)
    with pytest.raises(GroundworkError, match="guided.json") as caught:
        Rule.for_model("m", path)
    assert "\n" not in str(caught.value)


def test_the_fit_reuses_cached_facts_only_for_the_library_they_were_asked_of(tmp_path):
    from argparse import Namespace

    from llm_server import FakeLLM

    from eval.fit_cache import source_hash
    from eval.fit_guided import FACT_SOURCES, collect
    from eval.questions import Question
    from index.store import LibraryError
    cache = tmp_path / "facts.json"
    with FakeLLM() as llm:
        asked_of, code = str((tmp_path / "a").resolve()), source_hash(FACT_SOURCES)
        cache.write_text(json.dumps({"model": llm.model, "library": asked_of, "code": code, "facts": {"Q?": fact()}}))
        args = Namespace(url=llm.url, library=str(tmp_path / "a"), cache=cache)
        assert collect(args, [Question("q1", "Q?")]) == ([fact()], llm.model)
        args.library = str(tmp_path / "b")  # another library: its facts must be asked again (here: none to ask)
        with pytest.raises(LibraryError):
            collect(args, [Question("q1", "Q?")])


def test_cached_facts_that_other_code_computed_are_asked_again_and_it_says_so(tmp_path, monkeypatch, capsys):
    from argparse import Namespace

    from fakes import HashEmbedder
    from llm_server import FakeLLM

    import index.embedder
    from eval import fit_guided
    from eval.fit_cache import source_hash
    from eval.questions import Question
    from index.store import Library
    with Library.writing(tmp_path / "lib", create=True):
        pass
    monkeypatch.setattr(index.embedder, "SentenceTransformerEmbedder", lambda path: HashEmbedder())
    asked = []
    monkeypatch.setattr(fit_guided, "facts", lambda engine, llm, q, names: asked.append(q.question) or fact())
    cache, questions = tmp_path / "facts.json", [Question("q1", "Q?")]
    with FakeLLM() as llm:
        old = {"model": llm.model, "library": str((tmp_path / "lib").resolve()), "code": "0123456789abcdef"}
        cache.write_text(json.dumps({**old, "facts": {"Q?": fact(answerable=False)}}))
        args = Namespace(url=llm.url, library=str(tmp_path / "lib"), cache=cache)
        assert fit_guided.collect(args, questions) == ([fact()], llm.model) and asked == ["Q?"]
        assert "stale (code changed); computing them again" in capsys.readouterr().err
        assert json.loads(cache.read_text())["code"] == source_hash(fit_guided.FACT_SOURCES)
        assert fit_guided.collect(args, questions) == ([fact()], llm.model) and asked == ["Q?"]  # now reused
        assert "stale" not in capsys.readouterr().err


class _Shown:
    """An engine whose extractive answer is fixed and whose gate stays shut (so no model is asked)."""

    def __init__(self, answer):
        self.answer = lambda question, evidence=None: answer
        self.evidence = lambda question: None


@pytest.mark.parametrize("title, gold, names", [
    ("R 4.3 notes", "R 4.3 notes", None),  # a dotted title: its 'stem' is not its name
    ("An Introduction to R", "R-intro.pdf", {"d1": frozenset({"An Introduction to R", "R-intro.pdf", "R-intro"})}),
    ("Guide", "Guide", None),
])
def test_the_fit_counts_as_right_what_the_report_counts_as_right(title, gold, names):
    from eval.fit_guided import facts
    from eval.grade import Grader
    from eval.questions import Question
    from index.records import Chunk, Passage
    from qa.records import Answer, Citation, Sentence
    text = "Use lm to fit linear models."
    p = Passage(Chunk(1, "d1", 3, 0, len(text), text), title, 1.0)
    answer = Answer(f"{text} [1]", (Sentence(text, (1,), True, 0.9),), (Citation(1, p),), False, {}, True,
                    "extractive", (p,), answerability={"p_answerable": 0.1, "threshold": 0.5})
    q = Question("q", "How are linear models fitted?", ("fit linear models",), ((gold, 3),), True)
    report = Grader(None, names or {}).record(q, answer)["scores"]["right"]
    named = {"names": names} if names else {}  # facts names the documents as `eval run` does when told how
    assert report == 1.0 and facts(_Shown(answer), None, q, **named)["ranker_right"] is True


def test_the_fit_retrieves_each_questions_evidence_once(monkeypatch, tmp_path):
    from fakes import HashEmbedder, WordVerifier, put

    from eval.fit_guided import facts
    from eval.questions import Question
    from index.store import Library
    from qa import engine as engine_module
    from qa.answerability import Gate
    from qa.engine import AnswerEngine, Settings
    searched = []
    search = engine_module.search
    monkeypatch.setattr(engine_module, "search", lambda *a, **k: searched.append(a[2]) or search(*a, **k))

    class Model:  # the model's log-probabilities: it prefers the first statement listed
        special_tokens = ()

        def choice_logprobs(self, messages, choices):
            return {c: -float(n + 1) for n, c in enumerate(choices)}

    with Library.writing(tmp_path / "lib", create=True) as library:
        put(library, "/lm.pdf", "lm00", ["The function lm fits ordinary linear models by least squares."], "Models")
        engine = AnswerEngine(library, HashEmbedder(), WordVerifier(), None, Settings(), Gate.strength_only(0.0))
        fact = facts(engine, Model(), Question("q", "Which function fits linear models?", ("lm",), (("Models", 1),)))
    assert fact["gated"] and fact["forward"] and searched == ["Which function fits linear models?"]
