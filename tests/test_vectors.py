"""The FAISS index returns what brute force returns, keeps ids, and IVF reaches its recall target."""
import numpy as np
import pytest

from index.vectors import TARGET_RECALL, VectorIndex, build_index, exact_top_k, recall_at_k


def unit_vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def clustered(n: int, dim: int, clusters: int, seed: int = 0) -> np.ndarray:
    """Points around a few centres, like real embeddings (uniform noise has no structure to index)."""
    rng = np.random.default_rng(seed)
    centres = unit_vectors(clusters, dim, seed + 1)
    x = centres[rng.integers(0, clusters, n)] + rng.normal(scale=0.08, size=(n, dim)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_flat_search_equals_brute_force():
    vecs = unit_vectors(2000, 32)
    ids = np.arange(10_000, 12_000, dtype=np.int64)
    index = build_index(ids, vecs)
    queries = unit_vectors(25, 32, seed=7)
    scores, found = index.search(queries, 10)
    brute = queries @ vecs.T
    expected = ids[np.argsort(-brute, axis=1)[:, :10]]
    assert (found == expected).all()
    np.testing.assert_allclose(scores, np.sort(brute, axis=1)[:, ::-1][:, :10], rtol=1e-5)


def test_allowed_ids_restrict_the_hits_exactly():
    vecs = unit_vectors(500, 16)
    ids = np.arange(500, dtype=np.int64) * 7 + 3
    index = build_index(ids, vecs)
    allowed = ids[::5]
    q = unit_vectors(3, 16, seed=9)
    _, found = index.search(q, 5, allowed)
    sub = vecs[::5]
    expected = allowed[np.argsort(-(q @ sub.T), axis=1)[:, :5]]
    assert (found == expected).all()


def test_remove_and_ids():
    vecs = unit_vectors(100, 8)
    ids = np.arange(100, dtype=np.int64) + 1
    index = build_index(ids, vecs)
    index.remove([1, 2, 3, 999])
    assert index.ntotal == 97
    assert set(index.ids().tolist()) == set(range(4, 101))
    _, found = index.search(vecs[:3], 1)
    assert not set(found.ravel().tolist()) & {1, 2, 3}


def test_search_on_empty_index_returns_nothing():
    scores, ids = VectorIndex(8).search(unit_vectors(2, 8), 5)
    assert scores.shape == (2, 0) and ids.shape == (2, 0)


def test_ivf_reaches_target_recall_and_supports_updates(tmp_path):
    data = clustered(20_300, 48, clusters=200)
    vecs, queries = data[:20_000], data[20_000:]  # held-out points of the same distribution
    ids = np.arange(20_000, dtype=np.int64) * 3
    index = build_index(ids, vecs, ivf_threshold=10_000)
    assert index.settings.kind == "ivf"
    assert index.settings.measured_recall >= TARGET_RECALL
    _, found = index.search(queries, 10)
    assert recall_at_k(found, exact_top_k(vecs, queries, 10, ids)) >= TARGET_RECALL - 0.03
    index.remove(ids[:100])
    assert index.ntotal == 19_900
    assert set(ids[:100].tolist()).isdisjoint(index.ids().tolist())
    path = tmp_path / "v.faiss"
    index.save(path)
    again = VectorIndex.load(path, 48, index.settings)
    assert again.ntotal == 19_900


def test_load_refuses_wrong_dimension(tmp_path):
    index = build_index(np.arange(10, dtype=np.int64), unit_vectors(10, 8))
    index.save(tmp_path / "v.faiss")
    with pytest.raises(ValueError, match="dimension 8"):
        VectorIndex.load(tmp_path / "v.faiss", 16, index.settings)


def test_ivfpq_reranked_reaches_target_recall_and_supports_updates(tmp_path):
    data = clustered(20_300, 48, clusters=200)
    vecs, queries = data[:20_000], data[20_000:]
    ids = np.arange(20_000, dtype=np.int64) * 5 + 1
    index = build_index(ids, vecs, ivf_threshold=10_000, pq_threshold=15_000)
    assert (index.settings.kind, index.settings.k_factor) == ("ivfpq", 10)
    assert index.settings.measured_recall >= TARGET_RECALL and index.fetch is None  # no floats kept
    with pytest.raises(RuntimeError, match="fetch"):
        index.search(queries, 10)
    by_id = dict(zip(ids.tolist(), vecs))
    index.fetch = lambda wanted: np.stack([by_id[int(i)] for i in wanted])
    scores, found = index.search(queries, 10)
    assert recall_at_k(found, exact_top_k(vecs, queries, 10, ids)) >= TARGET_RECALL - 0.03
    np.testing.assert_allclose(scores[:, 0], np.einsum("ij,ij->i", queries, index.fetch(found[:, 0])), rtol=1e-5)
    index.remove(ids[:100])
    assert index.ntotal == 19_900 and set(ids[:100].tolist()).isdisjoint(index.ids().tolist())
    index.save(tmp_path / "v.faiss")
    assert VectorIndex.load(tmp_path / "v.faiss", 48, index.settings).ntotal == 19_900


def test_ivfpq_too_coarse_for_the_data_stays_ivf_flat(monkeypatch):
    import index.vectors
    monkeypatch.setattr(index.vectors, "REFINE_FACTOR", 1)  # PQ distances alone, on structureless vectors
    vecs = unit_vectors(12_000, 64, seed=3)
    built = build_index(np.arange(12_000, dtype=np.int64), vecs, ivf_threshold=1000, pq_threshold=5000)
    assert built.settings.kind == "ivf" and built.settings.measured_recall >= TARGET_RECALL
