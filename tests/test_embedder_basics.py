"""The packaged embedding model, as ingest and search use it."""
import numpy as np
import pytest

from index.embedder import DEFAULT_NAME, EmbedderError, SentenceTransformerEmbedder


@pytest.fixture(scope="module")
def emb():
    return SentenceTransformerEmbedder()


def test_vectors_are_normalised_and_deterministic(emb):
    texts = ["Use lm to fit a linear model.", "Tomatoes need water.", "x"]
    a, b = emb.embed(texts, kind="document"), emb.embed(texts, kind="document")
    assert a.shape == (3, 384) and a.dtype == np.float32 and emb.dim == 384
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert emb.name == DEFAULT_NAME


def test_default_backend_matches_torch(emb):
    texts = ["The warranty of the pump lasts two years.", "Residuals of a fitted linear model."] * 3
    torch_emb = SentenceTransformerEmbedder(backend="torch")
    cos = (emb.embed(texts, kind="document") * torch_emb.embed(texts, kind="document")).sum(1)
    assert cos.min() > 0.9999
    assert torch_emb.name == emb.name  # same vectors, so libraries are interchangeable


def test_a_question_finds_its_passage(emb):
    passages = ["lm(y ~ x) fits a linear regression of y on x.", "Water tomato plants every morning.",
                "The capacitor of the pump was replaced.", "read.csv reads a comma separated file."]
    q = emb.embed(["how do I fit a linear model"], kind="query")
    assert int(np.argmax(emb.embed(passages, kind="document") @ q[0])) == 0


def test_token_spans_cover_long_unicode_text_without_truncation(emb):
    text = "Café naïve — résumé 北京 " * 200
    spans = emb.token_spans(text)
    assert len(spans) > emb.max_tokens
    assert all(0 <= s < e <= len(text) for s, e in spans)
    assert [text[s:e] for s, e in spans[:3]] == ["Café", "naïve", "—"] or text[spans[0][0]:spans[0][1]].lower().startswith("caf")


def test_bad_model_path_is_one_clear_error(tmp_path):
    with pytest.raises(EmbedderError, match=str(tmp_path / "nope")):
        SentenceTransformerEmbedder(str(tmp_path / "nope")).embed(["x"], kind="query")
    with pytest.raises(EmbedderError, match="unknown embedding backend"):
        SentenceTransformerEmbedder(backend="tpu")
