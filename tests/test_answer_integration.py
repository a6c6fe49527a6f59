"""Real answers: the sample manuals in a real library, SmolLM2 served by a real vLLM, every answer mode."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from vllm_server import vllm_server

from index.embedder import SentenceTransformerEmbedder
from index.store import Library
from qa.engine import AnswerEngine, Settings
from qa.guided import Rule
from qa.llm import LLMClient
from qa.text import flatten
from qa.verify import FeatureVerifier

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[1]
vllm = vllm_server()


@pytest.fixture(scope="module")
def library(sample_library):
    with Library.open(sample_library("R-data.pdf", "R-intro.pdf")) as lib:
        yield lib


@pytest.fixture(scope="module")
def embedder():
    return SentenceTransformerEmbedder()


def engine(library, embedder, mode, server=None, **settings):
    llm = LLMClient(server.url) if server else None
    return AnswerEngine(library, embedder, FeatureVerifier(embedder), llm, Settings(mode=mode, **settings))


def test_extractive_quotes_the_page_that_answers(library, embedder):
    answer = engine(library, embedder, "extractive").answer("How can I read data from an Excel spreadsheet?")
    assert not answer.abstained
    assert any(c.passage.doc_title == "R-data" and c.page == 36 for c in answer.citations)
    assert "Excel" in answer.text and all(s.supported for s in answer.sentences)


@pytest.mark.parametrize("mode", ["extractive", "guided", "generative"])
def test_every_mode_abstains_when_the_manuals_do_not_say(library, embedder, vllm, mode):
    answer = engine(library, embedder, mode, vllm).answer("Who won the football world cup in 1954?")
    assert answer.abstained and answer.text == "The documents do not say." and not answer.citations
    assert answer.evidence  # the closest passages, to show instead


def test_generative_shows_only_sentences_its_passages_support(library, embedder, vllm):
    pieces = []
    answer = engine(library, embedder, "generative", vllm).answer(
        "How can I read data from an Excel spreadsheet?", on_text=pieces.append)
    assert len(pieces) > 3 and answer.timings["first_token"] < answer.timings["generate"]
    assert answer.complete and answer.sentences  # the draft was streamed, then every sentence checked
    shown = [s for s in answer.sentences if s.text in answer.text]
    assert all(s.supported and s.citations for s in shown)
    assert answer.abstained or {c.n for c in answer.citations} == {n for s in shown for n in s.citations}


def test_the_real_server_gives_a_probability_to_every_choice(vllm):
    logprobs = LLMClient(vllm.url).choice_logprobs([{"role": "user", "content": "Pick 1, 2 or 3."}], ["0", "1", "2", "3"])
    assert set(logprobs) == {"0", "1", "2", "3"} and sum(math.exp(v) for v in logprobs.values()) == pytest.approx(1.0)


def test_guided_answers_with_a_verbatim_quote_of_a_retrieved_passage(library, embedder, vllm):
    # A weight that lets the model's judgment change the ranker's choice, so that the model is asked.
    answer = engine(library, embedder, "guided", vllm, guided_rule=Rule(0.0)).answer(
        "How can I read data from an Excel spreadsheet?")
    assert not answer.abstained and answer.sentences
    for sentence in answer.sentences:  # whatever the model picks is a quote, never its own words
        cited = next(c for c in answer.citations if c.n == sentence.citations[0])
        assert sentence.supported and sentence.text in flatten(cited.passage.chunk.text)


def test_cli_ask_json_against_the_real_server(library, vllm):
    env = {**os.environ, "GROUNDWORK_LLM_URL": vllm.url}
    proc = subprocess.run([sys.executable, "-m", "app.cli", "ask", "How do I read an Excel spreadsheet?",
                           "--library", str(library.root), "--mode", "generative", "--json"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert set(answer) >= {"answer", "abstained", "citations", "sentences", "timings"}
    assert {"retrieve", "rerank", "generate", "verify"} <= set(answer["timings"])
