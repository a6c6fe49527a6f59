"""FAISS vectors keyed by chunk id: exact while small, IVF past a measured size, IVF-PQ past another.

This is the one module that imports faiss. The index is a derived cache of the
vectors stored in SQLite; `VectorIndex.reconcile` makes it match them again
after a crash, so the SQLite transaction is the only commit that matters.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

log = logging.getLogger(__name__)

# bench/search.py on 2 cores, 384-d: exact search takes ~0.5 ms at 10k vectors, tens of
# ms from 30k-100k, 123 ms at 1M; IVF stays under 0.2 ms at recall@10 >= 0.95. Past this
# size the library switches to IVF.
IVF_THRESHOLD = 50_000
# bench/search.py --pq: at 1M x 384, IVF flat holds 1.5 GB of floats in RAM; IVF-PQ with
# 4 dims a byte-code (96 B a vector, 16x less) and re-ranking 10x the candidates on the
# exact vectors (read from SQLite by the library) keeps recall@10 >= 0.95, which PQ codes
# alone do not reach. Below this size the floats fit and IVF flat is simpler and faster.
IVFPQ_THRESHOLD = 1_000_000
REFINE_FACTOR = 10
# Below this many vectors a CPU search (~0.5 ms at 10k) beats copying the index to a GPU.
GPU_MIN_VECTORS = 10_000
TARGET_RECALL = 0.95
# Calibrate to a little more than the target: held-out queries came out ~0.01 below
# the calibration queries in bench/search.py.
_CALIBRATION_MARGIN = 0.02


def gpu_count() -> int:
    """GPUs FAISS can use; 0 where faiss-cpu is installed or no GPU is present."""
    try:
        return faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0
    except RuntimeError:  # faiss-gpu imports without a driver and fails on first use
        return 0


@dataclass
class IndexSettings:
    """How the index searches: its kind and, for IVF, the probes that reach the target recall."""

    kind: str = "flat"  # flat | ivf | ivfpq
    nprobe: int = 1
    measured_recall: float = 1.0
    k_factor: int = 1  # ivfpq: candidates fetched per hit, re-ranked on exact vectors


class IdFilter:
    """The chunk ids a search may return: those in `ids`, or with `exclude` every id but those.

    The FAISS selector is built once and kept, so a filter reused across searches (a reader's
    permissions) costs its set lookups only, not rebuilding a set of up to a million ids.
    bench/search.py, 1M x 384 on 2 busy cores: a reader of half the documents searches IVF at
    1.83x the unfiltered p50 (0.38 vs 0.21 ms) and IVF-PQ at 1.46x; a reader of a tenth, 0.99x
    and 1.96x (IVF-PQ probes more lists to find its 10x candidates); exact search is faster filtered.
    """

    def __init__(self, ids: np.ndarray, exclude: bool = False):
        self.ids = np.asarray(ids, dtype=np.int64)
        self.exclude = exclude
        self._selector = None

    def selector(self):
        """The FAISS IDSelector for this filter."""
        if self._selector is None:
            batch = faiss.IDSelectorBatch(self.ids)
            # IDSelectorNot does not own `batch`: keep both alive together.
            self._selector = (faiss.IDSelectorNot(batch), batch) if self.exclude else (batch, None)
        return self._selector[0]

    def allows_none(self) -> bool:
        """True when no id can pass."""
        return not self.exclude and not len(self.ids)

    def at_most(self, ntotal: int) -> int:
        """How many of an index's `ntotal` vectors can pass, at most."""
        return max(0, ntotal - len(self.ids)) if self.exclude else min(ntotal, len(self.ids))


class VectorIndex:
    """Inner-product search over L2-normalised vectors with int64 chunk ids."""

    def __init__(self, dim: int, index=None, settings: IndexSettings | None = None):
        self.dim = dim
        self.settings = settings or IndexSettings()
        self._cpu = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._gpu = None  # a GPU copy for search, made on first search where a GPU exists
        self._gpu_nprobe = 0  # the nprobe last set on the GPU copy
        self._gpu_failed = False  # the copy failed once: search on the CPU from then on
        # ivfpq re-ranks on exact vectors: chunk ids -> their float vectors, in that order
        self.fetch: Callable[[np.ndarray], np.ndarray] | None = None

    @property
    def ntotal(self) -> int:
        return int(self._cpu.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors under their chunk ids."""
        if len(ids):
            self._cpu.add_with_ids(_f32(vectors), np.asarray(ids, dtype=np.int64))
            self._gpu = None

    def remove(self, ids: Iterable[int]) -> None:
        """Remove vectors by chunk id; unknown ids are ignored."""
        ids = np.fromiter(ids, dtype=np.int64)
        if len(ids):
            self._cpu.remove_ids(faiss.IDSelectorBatch(ids))
            self._gpu = None

    def ids(self) -> np.ndarray:
        """Every chunk id held by the index."""
        if self.settings.kind == "flat":
            return faiss.vector_to_array(self._cpu.id_map).astype(np.int64)
        invlists = faiss.extract_index_ivf(self._cpu).invlists
        parts = [
            faiss.rev_swig_ptr(invlists.get_ids(i), invlists.list_size(i)).copy()
            for i in range(invlists.nlist)
            if invlists.list_size(i)
        ]
        return np.concatenate(parts).astype(np.int64) if parts else np.empty(0, np.int64)

    def search(self, queries: np.ndarray, k: int, allowed: IdFilter | None = None):
        """Top-k (scores, ids) per query; `allowed` restricts the hits to the chunk ids it lets through."""
        k = min(k, self.ntotal)
        if k <= 0:
            n = len(queries)
            return np.empty((n, 0), np.float32), np.empty((n, 0), np.int64)
        wide = min(k * self.settings.k_factor, self.ntotal)
        gpu = self._gpu_copy() if allowed is None else None
        if gpu is not None:
            scores, ids = gpu.search(_f32(queries), wide)
        elif allowed is None or self.settings.kind == "flat":
            scores, ids = self._cpu.search(_f32(queries), wide, params=self._params(allowed, self.settings.nprobe))
        else:
            scores, ids = self._filtered_ivf(_f32(queries), wide, allowed)
        return self._refine(_f32(queries), ids, k) if self.settings.kind == "ivfpq" else (scores, ids)

    def _filtered_ivf(self, queries: np.ndarray, wide: int, allowed: IdFilter):
        """An IVF search through a filter, probing more lists until each query has its `wide` hits.

        The calibrated nprobe finds k hits among all vectors; when a filter lets few through, the
        lists it probes may hold fewer than k allowed ones, and the caller would get short lists.
        """
        want, nlist = min(wide, allowed.at_most(self.ntotal)), faiss.extract_index_ivf(self._cpu).nlist
        nprobe = self.settings.nprobe
        while True:
            scores, ids = self._cpu.search(queries, wide, params=self._params(allowed, nprobe))
            if nprobe >= nlist or (ids >= 0).sum(axis=1).min() >= want:
                return scores, ids
            nprobe = min(nlist, nprobe * 4)

    def _refine(self, queries: np.ndarray, candidates: np.ndarray, k: int):
        """Exact scores for the PQ candidates, best k first (PQ distances alone miss the 0.95 target)."""
        if self.fetch is None:
            raise RuntimeError("an IVF-PQ index needs `fetch` (stored vectors by id) to re-rank")
        scores = np.full((len(queries), k), -np.inf, np.float32)
        ids = np.full((len(queries), k), -1, np.int64)
        for row, (query, found) in enumerate(zip(queries, candidates)):
            found = found[found >= 0]
            exact = self.fetch(found) @ query
            best = np.argsort(-exact, kind="stable")[:k]
            scores[row, :len(best)], ids[row, :len(best)] = exact[best], found[best]
        return scores, ids

    def _params(self, allowed: IdFilter | None, nprobe: int):
        sel = allowed.selector() if allowed is not None else None
        if self.settings.kind in ("ivf", "ivfpq"):
            return faiss.SearchParametersIVF(sel=sel, nprobe=nprobe)
        return faiss.SearchParameters(sel=sel) if sel is not None else None

    def _gpu_copy(self):
        """The index copied onto the GPUs, where they exist and it is big enough; else None.

        Filtered searches never come here: GPU indexes and IndexShards ignore an IDSelector
        without a word (faiss issues 3114, 3924, 5584), so they run on the CPU index, which
        also stays the one that is saved.
        """
        if self._gpu is None:  # every add or remove drops the copy, so these are asked only when making one
            if self._gpu_failed or self.ntotal < GPU_MIN_VECTORS or gpu_count() == 0:
                return None
            self._gpu = _to_gpus(self._cpu)
            self._gpu_failed, self._gpu_nprobe = self._gpu is None, 0
        if self._gpu is not None and self.settings.kind != "flat" and self._gpu_nprobe != self.settings.nprobe:
            faiss.GpuParameterSpace().set_index_parameter(self._gpu, "nprobe", self.settings.nprobe)
            self._gpu_nprobe = self.settings.nprobe
        return self._gpu

    def save(self, path: Path) -> None:
        """Write the CPU index to `path` (the caller makes it atomic)."""
        faiss.write_index(self._cpu, str(path))

    @classmethod
    def load(cls, path: Path, dim: int, settings: IndexSettings) -> VectorIndex:
        """Read an index written by `save`."""
        index = faiss.read_index(str(path))
        if index.d != dim:
            raise ValueError(f"vector index {path} has dimension {index.d}, expected {dim}")
        return cls(dim, index, settings)


def _to_gpus(index):
    """`index` copied onto every GPU, sharded across several (each holds 1/n); None if it cannot be."""
    try:
        if gpu_count() > 1:
            options = faiss.GpuMultipleClonerOptions()
            options.shard = True  # IndexShards: n GPUs hold n times the vectors one can
            return faiss.index_cpu_to_all_gpus(index, co=options)
        return faiss.index_cpu_to_all_gpus(index)
    except Exception as exc:  # noqa: BLE001 - e.g. a PQ code size without GPU kernels: the CPU still searches
        log.warning("FAISS cannot copy the %s index to the GPU (%s); searching on the CPU",
                    type(index).__name__, str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
        return None


def kind_for(n: int, ivf_threshold: int = IVF_THRESHOLD, pq_threshold: int = IVFPQ_THRESHOLD) -> str:
    """The index kind for a library of `n` vectors."""
    return "flat" if n < ivf_threshold else "ivf" if n < pq_threshold else "ivfpq"


def outgrown(index: VectorIndex) -> bool:
    """True when the index holds more vectors than its kind is meant for (the library rebuilds it)."""
    kinds = ("flat", "ivf", "ivfpq")
    return kinds.index(kind_for(index.ntotal)) > kinds.index(index.settings.kind)


def build_index(ids: np.ndarray, vectors: np.ndarray, ivf_threshold: int = IVF_THRESHOLD,
                pq_threshold: int = IVFPQ_THRESHOLD) -> VectorIndex:
    """Build the right index for this many vectors: exact, then IVF, then IVF-PQ as it grows."""
    dim = vectors.shape[1]
    kind = kind_for(len(ids), ivf_threshold, pq_threshold)
    if kind == "flat":
        index = VectorIndex(dim)
        index.add(ids, vectors)
        return index
    return _build_ivf(ids, _f32(vectors), pq=kind == "ivfpq")


def _build_ivf(ids: np.ndarray, vectors: np.ndarray, pq: bool) -> VectorIndex:
    n, dim = vectors.shape
    nlist = int(min(65536, 4 * math.sqrt(n), n // 39))  # FAISS wants >= 39 training points a list
    rng = np.random.default_rng(0)
    # PQ trains 256 centroids a sub-quantizer: it wants more points than the lists alone.
    sample = vectors[rng.choice(n, size=min(n, max(64 * nlist, 256 * 39 if pq else 0)), replace=False)]
    quantizer = faiss.IndexFlatIP(dim)
    if pq:  # one byte-code per 4 dims (the largest divisor of dim up to dim/4)
        m = next(m for m in range(max(1, dim // 4), 0, -1) if dim % m == 0)
        ivf = faiss.IndexIVFPQ(quantizer, dim, nlist, m, 8, faiss.METRIC_INNER_PRODUCT)
    else:
        ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.train(sample)
    ivf.add_with_ids(vectors, np.asarray(ids, np.int64))
    kind, k_factor = ("ivfpq", REFINE_FACTOR) if pq else ("ivf", 1)
    index = VectorIndex(dim, ivf, IndexSettings(kind, 1, 1.0, k_factor))
    if pq:  # re-rank on the vectors in hand while calibrating; the library supplies its own after
        index.fetch = _lookup(ids, vectors)
    index.settings = calibrate_nprobe(index, ids, vectors, rng)
    index.fetch = None  # do not keep the float vectors alive: that is what PQ saves
    if pq and index.settings.measured_recall < TARGET_RECALL:  # codes too coarse for this data
        log.warning("IVF-PQ reached recall@10 %.3f only; keeping IVF flat", index.settings.measured_recall)
        return _build_ivf(ids, vectors, pq=False)
    log.info("built %s index: %d vectors, %d lists, nprobe %d, recall@10 %.3f",
             kind, n, nlist, index.settings.nprobe, index.settings.measured_recall)
    return index


def _lookup(ids: np.ndarray, vectors: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    order = np.argsort(ids)
    return lambda wanted: vectors[order[np.searchsorted(ids, wanted, sorter=order)]]


def calibrate_nprobe(index: VectorIndex, ids: np.ndarray, vectors: np.ndarray, rng,
                     queries: int = 200) -> IndexSettings:
    """Smallest nprobe whose recall@10 against exact search reaches TARGET_RECALL."""
    # Queries are stored vectors plus noise as long as the vector (cosine ~0.7 to it):
    # real questions sit that far from their best passage, where IVF is hardest.
    picks = vectors[rng.choice(len(vectors), size=min(queries, len(vectors)), replace=False)]
    noise = rng.normal(scale=1 / math.sqrt(vectors.shape[1]), size=picks.shape).astype(np.float32)
    noisy = _normalise(picks + noise)
    exact_ids = exact_top_k(vectors, noisy, 10, ids)
    nlist = faiss.extract_index_ivf(index._cpu).nlist
    probes = [p for p in (2 ** i for i in range(17)) if p < nlist] + [nlist]
    kind, k_factor = index.settings.kind, index.settings.k_factor
    # Probing every list is exact search for IVF flat, so that loop ends on target; for PQ the last
    # step's recall is what the codes and re-ranking give, recorded in `measured_recall`.
    for nprobe in probes:
        index.settings = IndexSettings(kind, nprobe, 1.0, k_factor)
        _, found = index.search(noisy, 10)
        recall = recall_at_k(found, exact_ids)
        if recall >= TARGET_RECALL + _CALIBRATION_MARGIN:
            break
    return IndexSettings(kind, nprobe, recall, k_factor)


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int, ids: np.ndarray | None = None) -> np.ndarray:
    """Brute-force top-k ids by inner product, in blocks to bound memory."""
    best = []
    for q in np.array_split(queries, max(1, len(queries) // 64)):
        scores = q @ vectors.T
        top = np.argpartition(-scores, min(k, scores.shape[1] - 1), axis=1)[:, :k]
        order = np.take_along_axis(scores, top, 1).argsort(axis=1)[:, ::-1]
        best.append(np.take_along_axis(top, order, 1))
    rows = np.concatenate(best)
    return ids[rows] if ids is not None else rows


def recall_at_k(found: np.ndarray, exact: np.ndarray) -> float:
    """Share of the exact top-k ids that the approximate search also returned."""
    hits = sum(len(set(f.tolist()) & set(e.tolist())) for f, e in zip(found, exact))
    return hits / exact.size


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _f32(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32)
