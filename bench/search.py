"""Vector search latency and recall at several library sizes, exact against IVF.

    python bench/search.py                      # 10k and 1M vectors, 384-d
    python bench/search.py --sizes 10000 100000 --queries 200

Vectors are synthetic but shaped like real embeddings: points scattered around
many centres on the unit sphere (uniform random vectors have no structure for
any index to use, and real embeddings do). Queries are held-out points of the
same distribution. Recall@10 is measured against exact search on the same
vectors in the same run; latency is one query at a time, as a user asks.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from index.vectors import IVF_THRESHOLD, build_index, exact_top_k, recall_at_k  # noqa: E402


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


def latencies(index, queries: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Per-query seconds and the ids found, one query at a time."""
    times, found = [], []
    for q in queries:
        t = time.perf_counter()
        _, ids = index.search(q[None, :], k)
        times.append(time.perf_counter() - t)
        found.append(ids[0])
    return np.array(times), np.array(found)


def bench_size(n: int, dim: int, nq: int) -> None:
    data = synthetic(n + nq, dim)
    vecs, queries = data[:n], data[n:]
    ids = np.arange(n, dtype=np.int64)
    t = time.perf_counter()
    truth = exact_top_k(vecs, queries, 10, ids)
    brute_s = time.perf_counter() - t
    for kind, threshold in (("exact", n + 1), ("ivf", 0)):
        if kind == "ivf" and n < 20_000:
            continue
        t = time.perf_counter()
        index = build_index(ids, vecs, ivf_threshold=threshold)
        build_s = time.perf_counter() - t
        secs, found = latencies(index, queries)
        print(f"{n:>9,} vectors  {kind:<5} build {build_s:7.1f} s  p50 {1e3 * np.median(secs):7.2f} ms  "
              f"p95 {1e3 * np.percentile(secs, 95):7.2f} ms  recall@10 {recall_at_k(found, truth):.3f}  "
              f"nprobe {index.settings.nprobe:<4}  calibrated recall {index.settings.measured_recall:.3f}")
    print(f"{'':>9}          numpy brute force for {nq} queries in one batch: {brute_s:.2f} s "
          f"({1e3 * brute_s / nq:.2f} ms/query)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    print(f"dim {args.dim}, {args.queries} queries, k=10; the library switches to IVF at {IVF_THRESHOLD:,} vectors")
    for n in args.sizes:
        bench_size(n, args.dim, args.queries)


if __name__ == "__main__":
    main()
