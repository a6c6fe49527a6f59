"""Vector search latency and recall at several library sizes, exact against IVF and IVF-PQ.

    python bench/search.py                      # 10k and 1M vectors, 384-d
    python bench/search.py --sizes 10000 100000 --queries 200
    python bench/search.py --sizes 1000000 --kinds ivf    # one kind of index only

Vectors are synthetic but shaped like real embeddings: points scattered around
many centres on the unit sphere (uniform random vectors have no structure for
any index to use, and real embeddings do). Queries are held-out points of the
same distribution. Recall@10 is measured against exact search on the same
vectors in the same run; latency is one query at a time, as a user asks.
IVF-PQ re-ranks its candidates on exact vectors held in memory here (the library
reads them from SQLite: `SQLite fetch` times that read alone, on a real file).

Permissions: a reader who may read a share of the documents (100 chunks each, picked at
random) searches through the same kind of filter the library builds (index/access.py: the
smaller of the readable or hidden id sets as a FAISS selector, built once and reused);
each row prints p50 with the filter against p50 without, and recall@10 against exact
search over the readable vectors only. The aim (issue 15): filtered p50 <= 2x unfiltered.
"""
from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from index.access import Scope, chunk_filter  # noqa: E402
from index.schema import connect  # noqa: E402
from index.vectors import (IVF_THRESHOLD, IVFPQ_THRESHOLD, REFINE_FACTOR, IdFilter, build_index,  # noqa: E402
                           exact_top_k, recall_at_k)

SHARES = (0.5, 0.1)  # of the documents a reader may read
DOC_CHUNKS = 100


def synthetic(n: int, dim: int, seed: int = 0, spread: float = 0.9) -> np.ndarray:
    """n unit vectors around n/500 centres; `spread` sets how far points sit from their centre."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(1, n // 500), dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((n, dim), np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        noise = rng.normal(scale=spread / np.sqrt(dim), size=(stop - start, dim)).astype(np.float32)
        out[start:stop] = centres[rng.integers(0, len(centres), stop - start)] + noise
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def latencies(index, queries: np.ndarray, filters: list[IdFilter | None],
              k: int = 10) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per-query seconds and the ids found for each filter, one query at a time.

    The filters take turns query by query, so a busy machine slows them all alike.
    """
    times = np.zeros((len(filters), len(queries)))
    found = np.zeros((len(filters), len(queries), k), np.int64)
    for row, q in enumerate(queries):
        for i, allowed in enumerate(filters):
            t = time.perf_counter()
            _, ids = index.search(q[None, :], k, allowed)
            times[i, row] = time.perf_counter() - t
            found[i, row] = ids[0]
    return list(zip(times, found))


def bench_size(n: int, dim: int, nq: int, kinds: list[str]) -> None:
    data = synthetic(n + nq, dim)
    vecs, queries = data[:n], data[n:]
    ids = np.arange(n, dtype=np.int64)
    t = time.perf_counter()
    truth = exact_top_k(vecs, queries, 10, ids)
    brute_s = time.perf_counter() - t
    readers = permissions(n)
    for kind, ivf_t, pq_t in (("exact", n + 1, n + 1), ("ivf", 0, n + 1), ("ivfpq", 0, 0)):
        if kind not in kinds or (kind != "exact" and n < 20_000):
            continue
        t = time.perf_counter()
        index = build_index(ids, vecs, ivf_threshold=ivf_t, pq_threshold=pq_t)
        build_s = time.perf_counter() - t
        index.fetch = lambda wanted: vecs[wanted]  # ids are row numbers here
        (secs, found), *filtered = latencies(index, queries, [None, *(f for f, _ in readers.values())])
        print(f"{n:>9,} vectors  {index.settings.kind:<5} build {build_s:7.1f} s  p50 {1e3 * np.median(secs):7.2f} ms  "
              f"p95 {1e3 * np.percentile(secs, 95):7.2f} ms  recall@10 {recall_at_k(found, truth):.3f}  "
              f"nprobe {index.settings.nprobe:<4}  calibrated recall {index.settings.measured_recall:.3f}  "
              f"RAM {index_mib(index):7.1f} MiB")
        for (share, (_, readable)), (fsecs, ffound) in zip(readers.items(), filtered):
            ftruth = exact_top_k(vecs[readable], queries, 10, ids[readable])
            print(f"{'':>9}          {index.settings.kind:<5} reader of {share:>4.0%} of documents: "
                  f"p50 {1e3 * np.median(fsecs):7.2f} ms  p95 {1e3 * np.percentile(fsecs, 95):7.2f} ms  "
                  f"filtered/unfiltered p50 {np.median(fsecs) / np.median(secs):5.2f}x  "
                  f"recall@10 {recall_at_k(ffound, ftruth):.3f}  short lists {int(((ffound < 0).sum(1) > 0).sum())}")
    for share, seconds in sqlite_filter_s(n).items():
        print(f"{'':>9}          the library's filter for a reader of {share:.0%}, read from SQLite once per "
              f"change of documents or permissions: {1e3 * seconds:.1f} ms")
    print(f"{'':>9}          SQLite fetch of {10 * REFINE_FACTOR} stored vectors a query: "
          f"{1e3 * sqlite_fetch_s(vecs[:200_000], 10 * REFINE_FACTOR):.2f} ms")
    print(f"{'':>9}          numpy brute force for {nq} queries in one batch: {brute_s:.2f} s "
          f"({1e3 * brute_s / nq:.2f} ms/query)")


def permissions(n: int, seed: int = 2) -> dict[float, tuple[IdFilter, np.ndarray]]:
    """For each share: the filter of a reader of that share of the documents, and the readable rows."""
    rng, docs = np.random.default_rng(seed), np.arange(n) // DOC_CHUNKS
    out = {}
    for share in SHARES:
        readable = np.isin(docs, np.flatnonzero(rng.random(docs[-1] + 1) < share))
        t = time.perf_counter()
        hidden = np.flatnonzero(~readable)
        allowed = (IdFilter(hidden, exclude=True) if len(hidden) <= n // 2
                   else IdFilter(np.flatnonzero(readable)))
        allowed.selector()
        print(f"{'':>9}          filter for a reader of {share:.0%}: {len(allowed.ids):,} ids "
              f"({'hidden' if allowed.exclude else 'readable'}), selector built once in "
              f"{1e3 * (time.perf_counter() - t):.1f} ms")
        out[share] = (allowed, readable)
    return out


def sqlite_filter_s(n: int, seed: int = 2) -> dict[float, float]:
    """Seconds the library takes to build a reader's chunk filter from a database of n chunks."""
    rng, out = np.random.default_rng(seed), {}
    with tempfile.TemporaryDirectory() as tmp:
        db = connect(Path(tmp) / "library.sqlite")
        db.execute("PRAGMA foreign_keys=OFF")  # rows of the tables the filter reads, nothing else
        docs = [f"d{i:07d}" for i in range(-(-n // DOC_CHUNKS))]
        db.execute("BEGIN")
        db.executemany("INSERT INTO documents VALUES (?, ?, '', 'pdf', 1, ?, '', '{}')",
                       ((d, d, DOC_CHUNKS) for d in docs))
        db.executemany("INSERT INTO chunks (chunk_id, doc_id, page, start, \"end\", text, vector) "
                       "VALUES (?, ?, 1, 0, 0, '', x'')", ((i, docs[i // DOC_CHUNKS]) for i in range(n)))
        for share in SHARES:
            db.executemany("INSERT INTO doc_groups VALUES (?, ?)",
                           ((d, "everyone" if rng.random() < share else "others") for d in docs))
            db.execute("COMMIT")
            t = time.perf_counter()
            chunk_filter(db, Scope(("everyone",)))
            out[share] = time.perf_counter() - t
            db.execute("BEGIN")
            db.execute("DELETE FROM doc_groups")
        db.execute("COMMIT")
        db.close()
    return out


def index_mib(index) -> float:
    """Size of the saved index: what it holds in RAM (IVF-PQ holds codes; exact and IVF hold floats)."""
    with tempfile.TemporaryDirectory() as tmp:
        index.save(Path(tmp) / "v.faiss")
        return (Path(tmp) / "v.faiss").stat().st_size / 2**20


def sqlite_fetch_s(vecs: np.ndarray, per_query: int, queries: int = 200) -> float:
    """Seconds to read `per_query` random vectors by id from a SQLite table like the library's."""
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(Path(tmp) / "v.sqlite")
        db.execute("CREATE TABLE chunks (chunk_id INTEGER PRIMARY KEY, vector BLOB)")
        db.executemany("INSERT INTO chunks VALUES (?,?)", ((i, v.tobytes()) for i, v in enumerate(vecs)))
        db.commit()
        rng = np.random.default_rng(1)
        start = time.perf_counter()
        for _ in range(queries):
            wanted = rng.choice(len(vecs), per_query, replace=False).tolist()
            db.execute(f"SELECT chunk_id, vector FROM chunks WHERE chunk_id IN ({','.join('?' * per_query)})",
                       wanted).fetchall()
        db.close()
        return (time.perf_counter() - start) / queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--kinds", nargs="+", default=["exact", "ivf", "ivfpq"], choices=["exact", "ivf", "ivfpq"])
    args = parser.parse_args()
    print(f"dim {args.dim}, {args.queries} queries, k=10; the library switches to IVF at {IVF_THRESHOLD:,} "
          f"vectors and to IVF-PQ at {IVFPQ_THRESHOLD:,}")
    for n in args.sizes:
        bench_size(n, args.dim, args.queries, args.kinds)


if __name__ == "__main__":
    main()
