"""A bigger instruct model end to end: Qwen2.5-Coder-0.5B joined from its pinned parts, converted, served
by a real vLLM, writing a generative answer from a real library."""
import time
from pathlib import Path

import pytest
from vllm_server import vllm_server

from app.cli import main
from index.embedder import SentenceTransformerEmbedder
from index.store import Library
from qa.engine import AnswerEngine, Settings
from qa.llm import LLMClient
from qa.verify import FeatureVerifier

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[1]
qwen = vllm_server("qwen", model="qwen2.5-coder-0.5b")


def test_qwen_writes_a_cited_answer_whose_shown_sentences_are_supported(qwen, tmp_path):
    assert qwen.model == "Qwen2.5-Coder-0.5B-Instruct"
    assert main(["ingest", str(ROOT / "samples" / "R-data.pdf"), "--library", str(tmp_path / "lib")]) == 0
    embedder = SentenceTransformerEmbedder()
    with Library.open(tmp_path / "lib") as library:
        engine = AnswerEngine(library, embedder, FeatureVerifier(embedder), LLMClient(qwen.url),
                              Settings(mode="generative"))
        pieces, start = [], time.monotonic()
        answer = engine.answer("How can I read data from an Excel spreadsheet?", on_text=pieces.append)
    print(f"[qwen] answered in {time.monotonic() - start:.1f} s, first token {answer.timings['first_token']:.1f} s:"
          f" {answer.text!r}")
    assert pieces and answer.complete and not answer.abstained  # generated, and not all of it rejected
    shown = [s for s in answer.sentences if s.text in answer.text]
    assert shown and all(s.supported and s.citations for s in shown)
    assert any(c.passage.doc_title == "R-data" for c in answer.citations)
