"""The FAISS index returns what brute force returns, keeps ids, and IVF reaches its recall target."""
import faiss
import numpy as np
import pytest

from index.vectors import (GPU_MIN_VECTORS, TARGET_RECALL, IdFilter, VectorIndex, build_index, exact_top_k,
                           recall_at_k)


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
    _, found = index.search(q, 5, IdFilter(allowed))
    sub = vecs[::5]
    expected = allowed[np.argsort(-(q @ sub.T), axis=1)[:, :5]]
    assert (found == expected).all()


def test_an_excluding_filter_returns_the_best_of_the_rest():
    vecs = unit_vectors(500, 16)
    ids = np.arange(500, dtype=np.int64) * 7 + 3
    index, q = build_index(ids, vecs), unit_vectors(3, 16, seed=9)
    banned = ids[::2]
    _, found = index.search(q, 5, IdFilter(banned, exclude=True))
    assert (found == exact_top_k(vecs[1::2], q, 5, ids[1::2])).all()
    assert IdFilter(np.empty(0, np.int64)).allows_none() and not IdFilter(banned, exclude=True).allows_none()


def test_a_filtered_ivf_search_probes_further_until_k_hits_come_back():
    vecs, ids = unit_vectors(20_000, 16), np.arange(20_000, dtype=np.int64)
    index, queries = build_index(ids, vecs, ivf_threshold=0), unit_vectors(5, 16, seed=3)
    allowed = ids[:20]  # a handful of vectors in a few of the lists: the calibrated nprobe misses most
    _, found = index.search(queries, 10, IdFilter(allowed))
    assert (found >= 0).all() and set(found.ravel().tolist()) <= set(allowed.tolist())
    assert (found == exact_top_k(vecs[:20], queries, 10, allowed)).all()


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


class FakeGpuCopy:
    """Stands in for faiss's GPU copy of an index: it searches like the CPU index but, like GPU
    indexes and IndexShards, takes no selector (its search has no params to pass one in)."""

    def __init__(self, cpu, co=None):
        self.index, self.co, self.searches = faiss.clone_index(cpu), co, 0

    def search(self, x, k):
        self.searches += 1
        return self.index.search(x, k)


class FakeGpuParameterSpace:
    def set_index_parameter(self, index, name, value):
        assert name == "nprobe"
        faiss.extract_index_ivf(index.index).nprobe = int(value)


@pytest.fixture
def gpus(monkeypatch):
    """Pretend faiss sees `gpus.count` GPUs; `gpus.copies` lists the copies made, `gpus.fail` breaks copying."""
    import types

    import index.vectors as vectors
    state = types.SimpleNamespace(count=1, copies=[], fail=False)

    def copy(cpu, co=None):
        if state.fail:
            raise RuntimeError("Error in GpuIndexIVFPQ: Number of bytes per encoded vector / sub-quantizer "
                               "not currently supported")
        state.copies.append(FakeGpuCopy(cpu, co))
        return state.copies[-1]

    monkeypatch.setattr(vectors, "gpu_count", lambda: state.count)
    monkeypatch.setattr(faiss, "index_cpu_to_all_gpus", copy)
    monkeypatch.setattr(faiss, "GpuMultipleClonerOptions", types.SimpleNamespace, raising=False)
    monkeypatch.setattr(faiss, "GpuParameterSpace", FakeGpuParameterSpace, raising=False)
    return state


def test_an_unfiltered_search_runs_on_the_gpu_copy_made_once(gpus):
    vecs, ids = unit_vectors(GPU_MIN_VECTORS, 16), np.arange(GPU_MIN_VECTORS, dtype=np.int64) * 3
    index, queries = build_index(ids, vecs), unit_vectors(5, 16, seed=3)
    for _ in range(2):
        _, found = index.search(queries, 10)
        assert (found == exact_top_k(vecs, queries, 10, ids)).all()
    assert len(gpus.copies) == 1 and gpus.copies[0].searches == 2 and gpus.copies[0].co is None
    index.add(np.array([-5], np.int64), queries[:1])  # a change makes a fresh copy
    assert index.search(queries[:1], 1)[1][0, 0] == -5 and len(gpus.copies) == 2


def test_a_filtered_search_stays_on_the_cpu_as_gpus_ignore_selectors(gpus):
    vecs, ids = unit_vectors(GPU_MIN_VECTORS, 16), np.arange(GPU_MIN_VECTORS, dtype=np.int64)
    index, queries = build_index(ids, vecs), unit_vectors(5, 16, seed=3)
    allowed = ids[::100]
    _, found = index.search(queries, 5, IdFilter(allowed))
    assert set(found.ravel().tolist()) <= set(allowed.tolist())
    assert (found == exact_top_k(vecs[::100], queries, 5, allowed)).all()
    assert all(copy.searches == 0 for copy in gpus.copies)


def test_small_indexes_and_machines_without_gpus_search_on_the_cpu(gpus):
    small = build_index(np.arange(100, dtype=np.int64), unit_vectors(100, 8))
    small.search(unit_vectors(1, 8), 3)
    gpus.count = 0
    big = build_index(np.arange(GPU_MIN_VECTORS, dtype=np.int64), unit_vectors(GPU_MIN_VECTORS, 8))
    big.search(unit_vectors(1, 8), 3)
    assert gpus.copies == []


def test_several_gpus_shard_the_index(gpus):
    gpus.count = 2
    index = build_index(np.arange(GPU_MIN_VECTORS, dtype=np.int64), unit_vectors(GPU_MIN_VECTORS, 8))
    index.search(unit_vectors(1, 8), 3)
    assert gpus.copies[0].co.shard is True


def test_an_ivf_copy_gets_the_calibrated_nprobe(gpus):
    vecs = clustered(GPU_MIN_VECTORS, 16, clusters=40)
    ids = np.arange(GPU_MIN_VECTORS, dtype=np.int64)
    index = build_index(ids, vecs, ivf_threshold=1000)
    assert index.settings.kind == "ivf" and index.settings.nprobe > 1
    queries = unit_vectors(20, 16, seed=5)
    _, cpu_found = index.search(queries, 10, allowed=IdFilter(ids))  # the CPU index, all ids allowed
    _, gpu_found = index.search(queries, 10)
    assert faiss.extract_index_ivf(gpus.copies[-1].index).nprobe == index.settings.nprobe
    assert (gpu_found == cpu_found).all()


def test_a_gpu_copy_that_fails_leaves_search_on_the_cpu_with_one_warning(gpus, caplog):
    gpus.fail = True
    vecs, ids = unit_vectors(GPU_MIN_VECTORS, 16), np.arange(GPU_MIN_VECTORS, dtype=np.int64)
    index, queries = build_index(ids, vecs), unit_vectors(3, 16, seed=4)
    with caplog.at_level("WARNING", logger="index.vectors"):
        for _ in range(3):
            _, found = index.search(queries, 10)
            assert (found == exact_top_k(vecs, queries, 10, ids)).all()
    warnings = [r.getMessage() for r in caplog.records if r.name == "index.vectors"]
    assert len(warnings) == 1 and "searching on the CPU" in warnings[0] and "\n" not in warnings[0]
