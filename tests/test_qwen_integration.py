"""A bigger instruct model end to end: Qwen2.5-Coder-0.5B joined from its pinned parts, converted, served
by a real vLLM, writing a generative answer from a real library."""
import time
from pathlib import Path

import pytest
from vllm_server import vllm_server

from app.cli import main
from app.config import Config
from index.embedder import SentenceTransformerEmbedder
from index.store import Library
from qa.engine import AnswerEngine, Settings
from qa.llm import LLMClient
from qa.verifiers import make_verifier

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[1]
qwen = vllm_server("qwen", model="qwen2.5-coder-0.5b")


# Questions whose answer R-data states in one sentence. Whether a 0.5B model cites its sentences is
# the model's quality (README's model x mode table measures it); one answer of three is the floor here.
QUESTIONS = ("How do I read a file in SPSS format?", "What is the easiest form of data to import into R?",
             "How do I export a data frame to a text file?")


def test_qwen_writes_cited_answers_whose_shown_sentences_are_supported(qwen, tmp_path):
    assert qwen.model == "Qwen2.5-Coder-0.5B-Instruct"
    assert main(["ingest", str(ROOT / "samples" / "R-data.pdf"), "--library", str(tmp_path / "lib")]) == 0
    embedder = SentenceTransformerEmbedder()
    answered = []
    with Library.open(tmp_path / "lib") as library:
        engine = AnswerEngine(library, embedder, make_verifier(Config().verifier, embedder), LLMClient(qwen.url),
                              Settings(mode="generative"))
        for question in QUESTIONS:
            pieces, start = [], time.monotonic()
            answer = engine.answer(question, on_text=pieces.append)
            print(f"[qwen] {question!r} in {time.monotonic() - start:.1f} s, first token "
                  f"{answer.timings['first_token']:.1f} s: {answer.text!r}")
            assert pieces and answer.complete  # the model streamed a whole reply
            shown = [s for s in answer.sentences if s.text in answer.text]
            assert all(s.supported and s.citations for s in shown)  # never an unsupported sentence shown
            if not answer.abstained:
                assert shown and any(c.passage.doc_title == "R-data" for c in answer.citations)
                answered.append(question)
    assert answered, "Qwen 0.5B answered none of the questions with a cited, supported sentence"
