"""`groundwork eval run` end to end over a small real library: extractive, and generative against the queued-reply
LLM server (which also plays the claim judge); the report files and their numbers; gates; compare."""
from __future__ import annotations

import json
import re
from html import escape

import pytest
from llm_server import FakeLLM
from pdfs import write_small_corpus

from app.cli import main as cli_main
from eval import questions, stats
from eval.answer_metrics import strip_markers
from eval.checkers import CLAIMS, JUDGE
from eval.dataset import answer_in
from eval.grade import Grader
from eval.questions import Question
from eval.html import gate_cell
from eval.summary import METRICS
from index.records import Chunk, Passage
from qa.answerability import BEFORE_FIT
from qa.prompt import SYSTEM
from qa.records import Answer, Citation, Sentence
from qa.text import content_words

ROWS = [
    {"id": "lm", "question": "Which function fits a linear regression model?", "answers": ["lm(y ~ x)"],
     "doc": "stats.pdf", "pages": [1], "answerable": True},
    {"id": "plot", "question": "How do I draw a scatter plot?", "answers": ["plot(x, y)"], "doc": "stats.pdf",
     "pages": [2], "answerable": True},
    {"id": "water", "question": "When should I water the tomato plants in summer?", "answers": ["every morning"],
     "doc": "care.pdf", "pages": [1], "answerable": True},
    {"id": "pump", "question": "How long is the pump warranty?", "answers": ["two years"], "doc": "faq.md",
     "pages": [1], "answerable": True},
    {"id": "cup", "question": "Who won the football world cup in 1954?", "answers": [], "doc": None, "pages": [],
     "answerable": False},
]


def groundwork(argv: list[str]) -> int:
    """The command line as users run it."""
    return cli_main(argv)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("evalrun")
    docs = base / "docs"
    write_small_corpus(docs)
    assert cli_main(["ingest", str(docs), "--library", str(base / "lib")]) == 0
    dataset = base / "qa.jsonl"
    dataset.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return base, dataset


class Router:
    """Replies as a small model would: quote the passage sharing most words with the question, and cite it;
    for the pump question also invent a sentence. As the judge: claims split at 'and'; a claim is
    supported when its passages hold all its content words."""

    def __init__(self):
        self.replies: dict[str, str] = {}

    def __call__(self, body: dict) -> str:
        system, user = body["messages"][0]["content"], body["messages"][1]["content"]
        if system == CLAIMS:
            return "\n".join(f"- {part}" for part in user.split(" and "))
        blocks = re.findall(r'<passage n="(\d+)"[^>]*>\n(.*?)\n</passage>', user, re.S)
        if system == JUDGE:
            claim = user.rsplit("Claim:", 1)[1]
            have = {w for _, text in blocks for w in content_words(text)}
            return "yes" if set(content_words(claim)) <= have else "no"
        assert system == SYSTEM
        question = user.rsplit("Question:", 1)[1].strip()
        words = set(content_words(question))
        n, text = max(blocks, key=lambda b: len(words & set(content_words(b[1]))))
        reply = " ".join(text.split()).split(". ")[0].rstrip(".") + f". [{n}]"
        if "pump" in question:
            reply += f" The pump was invented by Napoleon in 1850. [{n}]"
        self.replies[question] = reply
        return reply


@pytest.fixture(scope="module")
def runs(setup):
    base, dataset = setup
    lib = str(base / "lib")
    extractive = groundwork(["eval", "run", "--dataset", str(dataset), "--library", lib, "--out",
                             str(base / "ext"), "--mode", "extractive"])
    router = Router()
    with FakeLLM() as llm:
        llm.queue(*[router] * 200)
        import os
        os.environ["GROUNDWORK_LLM_URL"] = llm.url
        try:
            generative = groundwork(["eval", "run", "--dataset", str(dataset), "--library", lib, "--out",
                                     str(base / "gen"), "--mode", "generative", "--judge", "--workers", "3"])
        finally:
            del os.environ["GROUNDWORK_LLM_URL"]
    return base, extractive, generative, router


def load(base, name):
    return json.loads((base / name / "report.json").read_text())


def test_extractive_report_numbers_are_the_means_of_the_records(runs):
    base, code, _, _ = runs
    assert code == 0
    report = load(base, "ext")
    records, summary = report["records"], report["summary"]
    assert [r["id"] for r in records] == [r["id"] for r in ROWS]
    assert summary["counts"]["questions"] == 5 and summary["counts"]["unanswerable"] == 1
    for m in METRICS:
        values = [r["scores"][m.key] for r in records]
        figure = summary["metrics"][m.key]
        assert figure["value"] == stats.mean(values) and figure["n"] == len(stats.defined(values))
        if figure["ci"]:
            assert figure["ci"][0] <= figure["value"] <= figure["ci"][1]
    for r, row in zip(records, ROWS):
        s = r["scores"]
        if row["answerable"]:
            assert s["hit@1"] == float(r["retrieved"][0]["gold"])
            assert s["recall@10"] == 1.0  # five chunks in all: every page is retrieved
            expected = 0.0 if r["abstained"] else float(any(answer_in(a, strip_markers(r["answer"])) for a in row["answers"]))
            assert s["contains_answer"] == expected and s["refusal"] is None and s["false_refusal"] == float(r["abstained"])
            assert s["right"] == float(expected == 1.0 and any(c["gold"] for c in r["citations"]))
        else:
            assert s["refusal"] == float(r["abstained"]) and s["hit@1"] is None and s["contains_answer"] is None
    # The engine verifies with the default cross-encoder; the verifier it does not use judges.
    assert report["meta"]["checker"].startswith("sentence-level features") and report["meta"]["verifier"] == "cross-encoder"
    assert summary["tokens"] is None and {"retrieve", "rerank", "total"} <= set(summary["latency"])


def test_markdown_and_html_carry_the_same_numbers(runs):
    base = runs[0]
    report = load(base, "ext")
    md = (base / "ext" / "report.md").read_text()
    page = (base / "ext" / "report.html").read_text()
    for key in ("hit@1", "mrr", "faithfulness", "refusal"):
        value = report["summary"]["metrics"][key]["value"]
        shown = "-" if value is None else f"{value:.3f}"
        assert f"| {key}" in md and shown in md.split(f"| {key}", 1)[1].split("\n")[0]
        assert shown in page.split(f"<td>{key}", 1)[1].split("</tr>")[0]
    gates = report["summary"]["gates"]
    assert list(gates) == ["fitted gate", f"best score < {BEFORE_FIT} (hand-set)", "never abstain"]
    assert gates["never abstain"]["refusal"]["value"] == 0.0 and gates["fitted gate"]["refusal"]["n"] == 1
    for name, g in gates.items():
        shown = gate_cell(g["false_refusal"])
        assert f"| {name} |" in md and shown in md.split(f"| {name} |", 1)[1].split("\n")[0]
        assert shown in page.split(f"<td>{escape(name)}</td>", 1)[1].split("</tr>")[0]
    assert page.count("src='data:image/png;base64,") >= 3
    assert not re.search(r"(src|href)=['\"]https?:", page)  # opens offline
    assert report["meta"]["time"]["overhead_share"] is not None


def test_generative_run_judges_claims_counts_tokens_and_keeps_dataset_order(runs):
    base, _, code, router = runs
    assert code == 0
    report = load(base, "gen")
    assert report["meta"]["checker"] == "claim-level LLM judge (test/fake-llm)" and report["meta"]["workers"] == 3
    records = {r["id"]: r for r in report["records"]}
    assert list(records) == [r["id"] for r in ROWS]
    pump = records["pump"]
    assert pump["scores"]["draft_hallucination"] == 1.0
    assert not any("Napoleon" in s["text"] for s in pump["sentences"] if s["shown"])
    for r in records.values():
        if r["question"] in router.replies:
            assert r["tokens"]["out"] == len(router.replies[r["question"]].split())
            assert r["tokens"]["in"] > 50
        if not r["abstained"]:
            units = [u["supported"] for s in r["sentences"] if s["shown"] for u in s["units"]]
            assert units and r["scores"]["faithfulness"] == sum(units) / len(units)
    assert report["summary"]["tokens"]["n"] >= 1 and "generate" in report["summary"]["latency"]


def test_gates_fail_the_run_and_compare_lists_deltas(runs, setup, capsys):
    base, dataset = setup
    capsys.readouterr()
    code = groundwork(["eval", "run", "--dataset", str(dataset), "--library", str(base / "lib"), "--out",
                       str(base / "gated"), "--fail-under", "hit@1=1.01,recall@10=0.5", "--fail-over", "false_refusal=0.5"])
    assert code == 1 and "gate failed: hit@1 = " in capsys.readouterr().err
    assert groundwork(["eval", "compare", str(base / "ext"), str(base / "gen")]) == 0
    out = capsys.readouterr().out
    assert "metric" in out and "questions regressed" in out and re.search(r"^hit@1 ", out, re.M)
    assert groundwork(["eval", "compare", str(base / "ext"), str(base / "gen"), "--json"]) == 0
    c = json.loads(capsys.readouterr().out)
    assert c["shared"] == 5 and "contains_answer" in c["deltas"]
    # extractive was judged by the features verifier, generative by the model: their faithfulness is not compared
    assert c["deltas"]["faithfulness"] is None and c["notes"][0].startswith("faithfulness")
    assert "A was judged by sentence-level features" in c["notes"][0] and "B by claim-level LLM judge" in c["notes"][0]
    assert "not compared" in out


def _passage(cid, text, page=1, title="Guide"):
    return Passage(Chunk(cid, "d1", page, 0, len(text), text), title, 1.0)


def test_grader_on_a_hand_made_answer():
    class NoMoon:
        name = "test"

        def check_many(self, items):
            return [[(s, "moon" not in s and bool(ps))] for s, ps in items]

    p1, p2 = _passage(1, "Use lm to fit models.", 3), _passage(2, "The moon is far.", 4)
    sentences = (Sentence("Use lm to fit models.", (2,), True, 0.9), Sentence("lm was made on the moon.", (1, 2), True, 0.6),
                 Sentence("lm is fast.", (2,), False, 0.1))  # rejected by the engine: drafted, not shown
    answer = Answer("Use lm to fit models. [2] lm was made on the moon. [1][2]", sentences,
                    (Citation(1, p2), Citation(2, p1)), False, {"total": 1.0}, True, "generative", (p2, p1))
    grader = Grader(NoMoon(), {"d1": frozenset({"Guide", "guide.pdf"})})
    r = grader.record(Question("q", "How do I fit models?", ("lm",), (("guide.pdf", 3),), True), answer)
    s = r["scores"]
    assert s["faithfulness"] == 0.5 and s["hallucination"] == 1.0 and s["draft_hallucination"] == 1.0
    # [1] is cited only by the moon sentence, which it does not support; [2] supports "Use lm to fit models."
    assert [c["supports"] for c in r["citations"]] == [False, True] and s["citation_precision"] == 0.5
    assert s["hit@1"] == 0.0 and s["mrr"] == 0.5 and s["gold_cited"] == 1.0 and r["gold_rank"] == 2
    assert s["contains_answer"] == 1.0 and s["semantic_similarity"] is None and s["refusal"] is None
    assert s["right"] == 1.0
    assert [x["shown"] for x in r["sentences"]] == [True, True, False]


def test_generate_drafts_rows_whose_answer_is_in_their_chunk(setup, tmp_path, monkeypatch, capsys):
    base, _ = setup

    def reply(body: dict) -> str:
        passage = body["messages"][1]["content"].split("<passage>\n", 1)[1].split("\n</passage>")[0]
        words = passage.split()
        if "pump" in passage:  # an answer the chunk does not hold: the row is dropped
            return "Question: How long is the warranty?\nAnswer: ten years"
        return f"Question: What does the text say about {words[1]}?\nAnswer: {' '.join(words[1:3])}"

    with FakeLLM() as llm:
        llm.queue(*[reply] * 10)
        monkeypatch.setenv("GROUNDWORK_LLM_URL", llm.url)
        out = tmp_path / "drafts.jsonl"
        assert groundwork(["eval", "generate", "--library", str(base / "lib"), "--n", "10", "--out", str(out)]) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 3 and "1 chunks gave no usable question" in capsys.readouterr().out
    loaded = {q.id: q for q in questions.load(str(out))}
    assert set(loaded) == {r["id"] for r in rows}
    assert {r["doc"] for r in rows} == {"stats.pdf", "care.pdf"} and all(r["answerable"] for r in rows)


def test_halueval_qa_runs_end_to_end_through_the_cli(tmp_path, capsys):
    """Its knowledge passages are ingested through the same wiring as `groundwork ingest`, then answered."""
    from index.store import Library
    lib, out = tmp_path / "lib", tmp_path / "run"
    code = cli_main(["eval", "run", "--dataset", "halueval-qa", "--sample", "5", "--library", str(lib),
                     "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    data = load(tmp_path, "run")
    assert data["meta"]["dataset"] == "halueval-qa" and len(data["records"]) == 5
    assert all(r["id"].startswith("halueval-qa-") for r in data["records"])
    with Library.open(lib) as library:
        docs = library.documents()
    assert len(docs) == 5 and {d.tags for d in docs} == {("halueval-qa",)}
    assert data["summary"]["metrics"]["hit@5"]["value"] > 0.5  # each question's passage is in the library
    again = cli_main(["eval", "run", "--dataset", "halueval-qa", "--sample", "3", "--library", str(lib),
                      "--out", str(tmp_path / "again")])
    assert again == 0  # a library of HaluEval's passages alone takes more of them


def test_halueval_qa_is_not_ingested_into_a_library_of_other_documents(setup, capsys):
    from index.store import Library
    base, _ = setup
    with Library.open(base / "lib") as library:
        before = len(library.documents())
    code = cli_main(["eval", "run", "--dataset", "halueval-qa", "--sample", "2", "--library", str(base / "lib"),
                     "--out", str(base / "halu")])
    err = capsys.readouterr().err
    assert code == 2 and "name a library of its own" in err and err.count("\n") == 1
    with Library.open(base / "lib") as library:
        assert len(library.documents()) == before


def test_a_run_killed_while_writing_its_report_leaves_no_other_runs_report_json(runs, tmp_path, monkeypatch):
    from eval import html, report
    base = runs[0]
    written = load(base, "ext")
    out = tmp_path / "run"
    report.write(json.loads(json.dumps(written)), out)  # the last run's report

    def killed(_):
        raise KeyboardInterrupt  # SIGTERM's end, between report.md and report.html

    monkeypatch.setattr(html, "page", killed)
    with pytest.raises(KeyboardInterrupt):
        report.write(json.loads(json.dumps(written)), out)
    assert not (out / "report.json").exists()  # report.md is this run's: the last run's figures would not match it
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.md"]  # no temporary file left


def test_compare_names_a_damaged_report_json_in_one_line(runs, tmp_path, capsys):
    base = runs[0]
    (tmp_path / "cut").mkdir()
    (tmp_path / "cut" / "report.json").write_text((base / "ext" / "report.json").read_text()[:500])
    capsys.readouterr()
    assert groundwork(["eval", "compare", str(base / "ext"), str(tmp_path / "cut")]) == 2
    err = capsys.readouterr().err
    assert "report.json is no report eval run wrote" in err and "Traceback" not in err
