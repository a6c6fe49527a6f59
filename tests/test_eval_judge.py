"""Evaluation that can fail: grounding figures come from a judge other than the engine's own verifier, or are
not measured; a hallucination planted past a fooled engine verifier lowers faithfulness."""
from __future__ import annotations

import json
import re

import pytest
from llm_server import FakeLLM
from pdfs import write_small_corpus

from app.cli import main as groundwork
from eval.grade import Grader
from eval.questions import Question
from eval.summary import JUDGED
from index.records import Chunk, Passage
from qa.prompt import SYSTEM
from qa.records import Answer, Citation, Sentence
from qa.verifiers import JUDGE

ROWS = [
    {"id": "pump", "question": "How long is the pump warranty?", "answers": ["two years"], "doc": "faq.md",
     "pages": [1], "answerable": True},
    {"id": "water", "question": "When should I water the tomato plants in summer?", "answers": ["every morning"],
     "doc": "care.pdf", "pages": [1], "answerable": True},
]
PLANTED = "The pump was invented by Napoleon in 1850."


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("judge")
    write_small_corpus(base / "docs")
    assert groundwork(["ingest", str(base / "docs"), "--library", str(base / "lib")]) == 0
    dataset = base / "qa.jsonl"
    dataset.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return base, dataset


def run(setup, out: str, *flags: str) -> int:
    base, dataset = setup
    return groundwork(["eval", "run", "--dataset", str(dataset), "--library", str(base / "lib"),
                       "--out", str(base / out), *flags])


def test_by_default_the_other_verifier_judges(setup, capsys):
    """The engine verifies with the cross-encoder (the default); features, the verifier it does not use, judges."""
    base, _ = setup
    assert run(setup, "default", "--mode", "extractive") == 0
    assert "faithfulness not measured" not in capsys.readouterr().out
    report = json.loads((base / "default" / "report.json").read_text())
    assert report["meta"]["verifier"] == "cross-encoder"
    checker = report["meta"]["checker"]
    assert checker.startswith("sentence-level features (threshold ") and "engine verifies with cross-encoder" in checker
    assert "a weak judge" in checker  # the report says the judge is the weaker verifier
    assert report["summary"]["metrics"]["faithfulness"]["value"] is not None
    assert "support judged by: **sentence-level features" in (base / "default" / "report.md").read_text()


def test_the_default_judge_is_whichever_verifier_the_engine_does_not_use(monkeypatch, setup):
    base, _ = setup
    monkeypatch.setenv("GROUNDWORK_VERIFIER", "features")
    assert run(setup, "cheap", "--mode", "extractive") == 0
    report = json.loads((base / "cheap" / "report.json").read_text())
    assert report["meta"]["checker"] == "sentence-level cross-encoder (the engine verifies with features)"
    assert report["meta"]["verifier"].startswith("features (threshold ")


def test_with_no_judge_grounding_is_not_measured(setup, capsys):
    base, _ = setup
    assert run(setup, "plain", "--mode", "extractive", "--judge-verifier", "none") == 0
    assert "faithfulness not measured  hallucination not measured" in capsys.readouterr().out
    report = json.loads((base / "plain" / "report.json").read_text())
    assert report["meta"]["checker"] is None and report["meta"]["verifier"] == "cross-encoder"
    assert any(not r["abstained"] for r in report["records"])
    for key in JUDGED:  # never the 1.0 / 0.0 that re-checking with the engine's verifier gives
        assert report["summary"]["metrics"][key]["value"] is None
        assert all(r["scores"][key] is None for r in report["records"])
    md = (base / "plain" / "report.md").read_text()
    assert "| faithfulness | not measured |" in md and "no judge independent of the engine's verifier" in md
    page = (base / "plain" / "report.html").read_text()
    assert re.search(r"<td>hallucination.*?</td><td class='num'>not measured</td>", page)


@pytest.mark.parametrize("gate", [["--fail-under", "faithfulness=0.9"], ["--fail-over", "hallucination=0.1"]])
def test_a_grounding_gate_without_a_judge_is_an_error(setup, capsys, gate):
    base, _ = setup
    assert run(setup, "gated", "--judge-verifier", "none", *gate) == 2
    err = capsys.readouterr().err
    assert "needs a judge other than the engine's own verifier" in err and "--judge-verifier none" in err
    assert not (base / "gated").exists()  # refused before answering anything


def test_the_judge_cannot_be_the_engines_own_verifier(setup, capsys):
    assert run(setup, "same", "--judge-verifier", "cross-encoder") == 2
    assert "is the engine's own verifier" in capsys.readouterr().err


def fooled_server(body: dict) -> str:
    """A model that answers with a quote and one invented sentence, and, as the engine's verifier, accepts all."""
    system, user = body["messages"][0]["content"], body["messages"][1]["content"]
    if system == JUDGE:
        return "yes"
    assert system == SYSTEM
    n, text = re.findall(r'<passage n="(\d+)"[^>]*>\n(.*?)\n</passage>', user, re.S)[0]
    return " ".join(text.split()).split(". ")[0].rstrip(".") + f". [{n}] {PLANTED} [{n}]"


def test_a_planted_hallucination_lowers_faithfulness(setup, monkeypatch):
    base, _ = setup
    with FakeLLM() as llm:
        llm.queue(*[fooled_server] * 100)
        monkeypatch.setenv("GROUNDWORK_LLM_URL", llm.url)
        monkeypatch.setenv("GROUNDWORK_VERIFIER", "llm-judge")
        assert run(setup, "planted", "--mode", "generative", "--judge-verifier", "features") == 0
    report = json.loads((base / "planted" / "report.json").read_text())
    assert report["meta"]["checker"].startswith("sentence-level features") and report["meta"]["verifier"] == "llm-judge"
    pump = report["records"][0]
    shown = [s for s in pump["sentences"] if s["shown"]]
    assert PLANTED in [s["text"] for s in shown]  # the engine's fooled verifier let it through
    assert [u["supported"] for s in shown for u in s["units"]] == [True, False]
    assert pump["scores"]["faithfulness"] == 0.5 and pump["scores"]["hallucination"] == 1.0
    assert report["summary"]["metrics"]["faithfulness"]["value"] < 1.0


def test_grader_without_a_checker_measures_no_grounding():
    text = "Use lm to fit models."
    p = Passage(Chunk(1, "d1", 3, 0, len(text), text), "Guide", 1.0)
    answer = Answer(f"{text} [1]", (Sentence(text, (1,), True, 0.9),), (Citation(1, p),), False, {"total": 1.0},
                    True, "extractive", (p,))
    r = Grader(None, {"d1": frozenset({"Guide"})}).record(Question("q", "How?", (), (("Guide", 3),), True), answer)
    assert all(r["scores"][k] is None for k in JUDGED) and r["scores"]["gold_cited"] == 1.0
    assert r["citations"][0]["supports"] is None and r["sentences"][0]["units"] == []


def test_the_engines_own_verifier_named_by_its_folder_is_no_judge_either(setup, capsys):
    from qa.cross_verifier import SHIPPED
    assert run(setup, "same-folder", "--judge-verifier", f"cross-encoder:{SHIPPED}") == 2
    assert "is the engine's own verifier" in capsys.readouterr().err
    assert not (setup[0] / "same-folder").exists()


def test_a_judge_that_cannot_run_fails_before_any_question_is_answered(setup, capsys, monkeypatch):
    monkeypatch.setenv("GROUNDWORK_LLM_URL", "http://127.0.0.1:9/v1")  # nothing listens there
    answered = []
    monkeypatch.setattr("qa.engine.AnswerEngine.answer", lambda *a, **k: answered.append(a) or 1 / 0)
    assert run(setup, "no-judge", "--judge-verifier", "llm-judge") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "127.0.0.1:9" in err and not answered
    assert not (setup[0] / "no-judge").exists()
