"""The sentence-transformers embedder on the real packaged model (all-MiniLM-L6-v2, loads in ~2 s)."""
from __future__ import annotations

import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

from index.embedder import DEFAULT_NAME, EmbedderError, SentenceTransformerEmbedder, default_model
from index.errors import GroundworkError

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
QUESTIONS = ["How do I read data from a file?", "How do I make a vector of numbers?", "What is a factor?",
             "How do I get help on a function?", "How are missing values shown?", "How do I quit R?",
             "How do I index an array?", "What is a list?", "How do I start R?", "How do I sort values?"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """One ONNX cache for the module, so the graph is exported once, not in the user's home."""
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def fp32() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(backend="torch", device="cpu")


@pytest.fixture(scope="module", params=["torch", "onnx", "auto"])
def emb(request, cache) -> SentenceTransformerEmbedder:
    """Every backend the embedder picks by itself (auto) or that keeps float32's results."""
    return SentenceTransformerEmbedder(backend=request.param, device="cpu", cache_dir=cache)


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    """Paragraph-sized passages from pages 10-30 of the R manual."""
    from ingest.readers import read_document

    pages = read_document(SAMPLES / "R-intro.pdf", "r-intro").pages[9:30]
    text = " ".join(" ".join(p.text.split()) for p in pages)
    return [text[i:i + 600] for i in range(0, len(text), 600)]


def test_vectors_are_unit_float32_of_dim_384(emb):
    vecs = emb.embed(["R is a language for statistics.", "Grüße, 日本語", ""], kind="document")
    assert emb.dim == 384 and vecs.shape == (3, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


def test_same_text_gives_the_same_vector_whatever_the_batch(emb):
    text = "Vectors are the simplest data structure in R."
    alone = emb.embed([text], kind="document")[0]
    again = emb.embed([text], kind="document")[0]
    batched = emb.embed(["x", text, "a much longer text " * 20], kind="document")[1]
    assert np.array_equal(alone, again)
    assert float(alone @ batched) > 0.999  # padding changes the arithmetic, not the meaning


def test_query_finds_its_paraphrase_among_distractors(emb):
    docs = ["The function read.table() reads a file laid out as a table and creates a data frame from it.",
            "Graphics are drawn with plot(), which takes x and y coordinates.",
            "The operator %*% multiplies two matrices.",
            "A for loop repeats an expression for each element of a sequence.",
            "Packages are installed from CRAN with install.packages()."]
    query = emb.embed(["How can I load tabular data from a text file into R?"], kind="query")
    scores = query @ emb.embed(docs, kind="document").T
    assert int(np.argmax(scores)) == 0


def test_empty_input_gives_an_empty_matrix(emb):
    assert emb.embed([], kind="query").shape == (0, 384)


def test_unknown_kind_is_refused(fp32):
    with pytest.raises(ValueError, match="kind"):
        fp32.embed(["text"], kind="passage")  # type: ignore[arg-type]


def test_token_spans_cover_unicode_text(fp32):
    text = ("Grüße aus Köln: naïve café, e\u0301lan, 日本語のテキスト, emoji 😀 and\ttabs\u00a0nbsp, "
            "ﬁ ligature, Ωmega ÅÆØ, Здравствуйте мир.")
    spans = fp32.token_spans(text)
    assert all(0 <= s < e <= len(text) for s, e in spans)
    assert all(e <= s for (_, e), (s, _) in zip(spans, spans[1:])), "sorted and disjoint"
    assert not any(c.isspace() for s, e in spans for c in text[s:e])
    covered = {i for s, e in spans for i in range(s, e)}
    assert covered == {i for i, c in enumerate(text) if not c.isspace()}


def test_token_spans_of_a_long_text_are_all_there_and_silent(fp32, capfd):
    text = "The quick brown fox jumps over the lazy dog. " * 2000  # ~22k tokens, far past 256
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spans = fp32.token_spans(text)
    assert len(spans) == 2000 * 10 and spans[-1][1] == len(text.rstrip())
    assert capfd.readouterr() == ("", "")


def test_max_tokens_leaves_room_for_special_tokens(fp32):
    assert fp32.max_tokens == 256 - 2


def top5(embedder: SentenceTransformerEmbedder, corpus: list[str]) -> np.ndarray:
    """Ids of the five best passages for each question, by exact inner product."""
    scores = embedder.embed(QUESTIONS, kind="query") @ embedder.embed(corpus, kind="document").T
    return np.argsort(-scores, axis=1, kind="stable")[:, :5]


@pytest.fixture(scope="module")
def fp32_top5(fp32, corpus) -> np.ndarray:
    return top5(fp32, corpus)


def test_fast_backends_keep_float32_top_results(emb, fp32_top5, corpus):
    got = top5(emb, corpus)
    assert (got[:, 0] == fp32_top5[:, 0]).all()
    assert np.mean([len(set(a) & set(b)) / 5 for a, b in zip(got, fp32_top5)]) >= 0.9


def test_onnx_vectors_equal_torch_and_the_export_is_reused(fp32, cache):
    texts = ["Matrices are two-dimensional arrays.", "q()", "A list is an ordered collection of objects."]
    onnx = SentenceTransformerEmbedder(backend="onnx", device="cpu", cache_dir=cache)
    assert np.allclose(onnx.embed(texts, kind="document"), fp32.embed(texts, kind="document"), atol=1e-5)
    graphs = list(cache.glob("*/model.onnx"))
    assert len(graphs) == 1
    stamp = graphs[0].stat().st_mtime_ns
    SentenceTransformerEmbedder(backend="onnx", device="cpu", cache_dir=cache).embed(["again"], kind="query")
    assert graphs[0].stat().st_mtime_ns == stamp and list(cache.glob("*/*.tmp")) == []


def test_a_torch_without_the_torchscript_exporter_gets_the_dynamo_graph(fp32, tmp_path, monkeypatch):
    import torch

    export = torch.onnx.export
    used = []

    def dynamo_only(*args, dynamo=True, **kwargs):
        used.append(dynamo)
        if not dynamo:
            raise RuntimeError("the TorchScript-based exporter has been removed")
        return export(*args, dynamo=dynamo, **kwargs)

    monkeypatch.setattr(torch.onnx, "export", dynamo_only)
    texts = ["Matrices are two-dimensional arrays.", "q()", "A list is an ordered collection of objects."]
    onnx = SentenceTransformerEmbedder(backend="onnx", device="cpu", cache_dir=tmp_path)
    assert np.allclose(onnx.embed(texts, kind="document"), fp32.embed(texts, kind="document"), atol=1e-5)
    assert used == [False, True] and onnx.backend == "onnx"


def test_names_say_the_model_and_only_vector_changing_backends(cache):
    assert SentenceTransformerEmbedder().name == DEFAULT_NAME
    assert SentenceTransformerEmbedder(default_model(), backend="onnx").name == DEFAULT_NAME
    assert SentenceTransformerEmbedder(backend="torch-bf16").name == DEFAULT_NAME
    assert SentenceTransformerEmbedder(backend="onnx-int8").name == DEFAULT_NAME + "@onnx-int8"


def test_a_bad_model_path_is_one_clear_line(tmp_path):
    missing = str(tmp_path / "no-such-model")
    embedder = SentenceTransformerEmbedder(missing)  # cheap: nothing is loaded yet
    assert embedder.name == missing
    with pytest.raises(EmbedderError) as info:
        embedder.embed(["text"], kind="query")
    assert isinstance(info.value, GroundworkError)  # the CLI prints it as one line
    assert missing in str(info.value) and "\n" not in str(info.value)


def test_an_unknown_backend_is_refused_at_once():
    with pytest.raises(EmbedderError, match="tensorrt"):
        SentenceTransformerEmbedder(backend="tensorrt")


def test_threads_racing_to_first_use_all_get_vectors():
    embedder = SentenceTransformerEmbedder(backend="torch", device="cpu")
    results: list[np.ndarray] = []
    threads = [threading.Thread(target=lambda: results.append(embedder.embed(["same text"], kind="query")))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and all(np.array_equal(r, results[0]) for r in results)


def test_a_later_load_runs_the_cached_graph_without_sentence_transformers(fp32, tmp_path):
    """What every CLI search relies on: the second process embeds in ~0.3 s, with torch's vectors."""
    import json
    import subprocess
    import sys

    SentenceTransformerEmbedder(backend="onnx", device="cpu", cache_dir=tmp_path).embed(["export"], kind="query")
    texts = ["Matrices are two-dimensional arrays.", "  q()  ", "Café crème — naïve", "long " * 300]
    probe = f"""
import json, sys
from index.embedder import SentenceTransformerEmbedder
e = SentenceTransformerEmbedder(cache_dir={str(tmp_path)!r})
vecs = e.embed({texts!r}, kind="document").tolist()
print(json.dumps({{"vecs": vecs, "spans": e.token_spans({texts[2]!r}), "max_tokens": e.max_tokens,
                  "backend": e.backend, "st": "sentence_transformers" in sys.modules}}))
"""
    proc = subprocess.run([sys.executable, "-c", probe], cwd=Path(__file__).resolve().parents[1],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["st"] is False and out["backend"] == "onnx"
    assert np.allclose(np.array(out["vecs"]), fp32.embed(texts, kind="document"), atol=1e-5)
    assert [tuple(s) for s in out["spans"]] == fp32.token_spans(texts[2])
    assert out["max_tokens"] == fp32.max_tokens


def test_a_changed_model_folder_is_not_taken_for_the_cached_one(tmp_path):
    import os
    import shutil

    from index import onnx_graph

    model = tmp_path / "model"
    shutil.copytree(default_model(), model)
    SentenceTransformerEmbedder(str(model), backend="onnx", device="cpu", cache_dir=tmp_path / "cache").embed(["x"])
    assert onnx_graph.cached(str(model), tmp_path / "cache", int8=False) is not None
    weights = model / "model.safetensors"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    assert onnx_graph.cached(str(model), tmp_path / "cache", int8=False) is None
    assert onnx_graph.cached(str(model), tmp_path / "cache", int8=True) is None


def test_tokens_that_differ_from_sentence_transformers_are_not_trusted(fp32):
    from dataclasses import replace

    from index import onnx_graph

    st = fp32._loaded().st  # the torch backend tokenises through sentence-transformers
    spec = onnx_graph.Spec(dim=384, max_seq_length=256, special_tokens=2, prompts={"query": None, "document": None},
                           inputs=("input_ids", "token_type_ids", "attention_mask"), pad_id=0, pad_token="[PAD]")
    tokenizer = Path(default_model()) / "tokenizer.json"
    assert onnx_graph._same_tokens(st, onnx_graph.Tokens(tokenizer, spec), {None})
    shorter = onnx_graph.Tokens(tokenizer, replace(spec, max_seq_length=128))  # truncates where ST does not
    assert not onnx_graph._same_tokens(st, shorter, {None})
    assert onnx_graph._same_tokens(st, onnx_graph.Tokens(tokenizer, spec), {"query: "})  # prompts prepend alike


@pytest.fixture(scope="module")
def prompted(tmp_path_factory) -> Path:
    """The packaged model with query and document prompts, as e5-style models have."""
    import json
    import shutil

    folder = tmp_path_factory.mktemp("prompted") / "model"
    shutil.copytree(default_model(), folder)
    config = folder / "config_sentence_transformers.json"
    config.write_text(json.dumps({**json.loads(config.read_text()),
                                  "prompts": {"query": "query: ", "document": "passage: "}}))
    return folder


@pytest.mark.parametrize("fast_path", [False, True])
def test_onnx_gives_torch_vectors_with_prompts_on_either_path(prompted, tmp_path, monkeypatch, fast_path):
    """With a tokenizer.json the graph runs on the fast path; without one, through sentence-transformers."""
    from index import onnx_graph

    texts = ["Matrices are two-dimensional arrays.", "  q()  ", "long " * 300]
    torch_st = SentenceTransformerEmbedder(str(prompted), backend="torch", device="cpu")
    if not fast_path:
        monkeypatch.setattr(onnx_graph, "remember", lambda *args, **kwargs: None)
    first = SentenceTransformerEmbedder(str(prompted), backend="onnx", device="cpu", cache_dir=tmp_path)
    again = SentenceTransformerEmbedder(str(prompted), backend="onnx", device="cpu", cache_dir=tmp_path)
    for onnx in (first, again):
        for kind in ("query", "document"):
            assert np.allclose(onnx.embed(texts, kind=kind), torch_st.embed(texts, kind=kind), atol=1e-5)
        assert onnx.max_tokens == torch_st.max_tokens < 254  # the document prompt takes its tokens
    assert isinstance(again._loaded(), onnx_graph.Tokens) is fast_path
