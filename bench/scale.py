"""Ray engine against the local engine on samples/, the single writer alone, and a paper scaling model.

    python bench/scale.py                  # the bundled samples/ (360 PDF pages)
    python bench/scale.py --pages 10000000 --workers 8 64 512

Measured here: wall time, chunks/s and peak memory (process tree, Ray's workers
included) of `groundwork ingest --engine local|ray`; parse pages/s in one
process; embed chunks/s on this machine's cores; the writer's docs/s and
chunks/s with parsing and embedding done beforehand. The projection to N
workers is arithmetic on those rates, not a measurement; the GPU embedding
rate is an assumption stated on the command line.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
_spec = importlib.util.spec_from_file_location("bench_ingest", ROOT / "bench" / "ingest.py")
bench_ingest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_ingest)

from app import wiring  # noqa: E402
from app.config import load_config  # noqa: E402
from index.store import Library, Source  # noqa: E402
from ingest.chunking import chunk_pages  # noqa: E402
from ingest.pipeline import Pending, discover, write_parsed  # noqa: E402


def writer_rates(docs, chunks_per_doc, dim: int) -> tuple[float, float]:
    """Docs/s and chunks/s of the single writer alone: parsed, chunked, embedded input given."""
    rng = np.random.default_rng(0)
    vectors = [rng.normal(size=(len(c), dim)).astype(np.float32) for c in chunks_per_doc]
    with tempfile.TemporaryDirectory() as tmp, Library.writing(Path(tmp) / "lib", create=True) as library:
        start = time.perf_counter()
        for i, (doc, chunks, vecs) in enumerate(zip(docs, chunks_per_doc, vectors)):
            item = Pending(Source(f"/bench/{i}.pdf", doc.doc_id, 1, i), f"{i:064x}")
            list(write_parsed(library, item, doc, chunks, vecs, "bench/model", ()))
        library.save_vectors()  # inside the timing, as an ingest saves before it ends
        secs = time.perf_counter() - start
    return len(docs) / secs, sum(len(c) for c in chunks_per_doc) / secs


def project(pages: int, chunks_per_page: float, workers: int, parse_rate: float, embed_rate: float,
            writer_chunks: float) -> tuple[float, str]:
    """Hours for `pages` on `workers` workers, and the stage that sets it."""
    hours = {"parsing": pages / (workers * parse_rate) / 3600,
             "embedding": pages * chunks_per_page / (workers * embed_rate) / 3600,
             "the single writer": pages * chunks_per_page / writer_chunks / 3600}
    limit = max(hours, key=hours.get)
    return hours[limit], limit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "samples")
    parser.add_argument("--pages", type=int, default=10_000_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[8, 64, 512])
    parser.add_argument("--gpu-chunks-per-s", type=float, default=3000.0,
                        help="ASSUMED embed rate of one GPU worker for MiniLM-L6 (not measured here: no GPU)")
    args = parser.parse_args()
    config, cores = load_config(), os.cpu_count()
    files, _ = discover([args.corpus])
    docs, parse_s = bench_ingest.timed(lambda: bench_ingest.parse_all(files, config.pdf_text))
    pages = sum(len(d.pages) for d in docs)
    embedder = wiring.embedder(config)
    budget = min(config.chunk_tokens, embedder.max_tokens)
    chunked = [chunk_pages(d.pages, embedder, budget, config.chunk_overlap) for d in docs]
    texts = [c.text for cs in chunked for c in cs]
    embedder.embed(texts[:8], kind="document")
    _, embed_s = bench_ingest.timed(lambda: embedder.embed(texts, kind="document"))
    parse_rate, embed_core = pages / parse_s, len(texts) / embed_s / cores
    docs_s, chunks_s = writer_rates(docs, chunked, embedder.dim)
    print(f"corpus: {len(files)} files, {pages} pages, {len(texts)} chunks; {cores} cores")
    print(f"parse: {parse_rate:.1f} pages/s per process (PDF text by {config.pdf_text}); embed: {embed_core:.1f} chunks/s per core "
          f"({len(texts) / embed_s:.1f} on {cores} cores); writer alone: {docs_s:.1f} docs/s, {chunks_s:.0f} chunks/s")
    walls = {}
    for engine in ("local", "ray"):
        with tempfile.TemporaryDirectory() as tmp:
            walls[engine], peak = bench_ingest.run_ingest(args.corpus, Path(tmp) / "lib", ("--engine", engine))
        print(f"--engine {engine:<5}: {walls[engine]:6.1f} s wall, {len(texts) / walls[engine]:6.1f} chunks/s, "
              f"peak memory {peak / 2**20:.0f} MiB (process tree)")
    print(f"ray / local wall time: {walls['ray'] / walls['local']:.2f}")
    per_page = len(texts) / pages
    print(f"\nprojection for {args.pages:,} pages ({per_page:.2f} chunks/page), a worker = one core or one GPU:")
    for n in args.workers:
        cpu_h, cpu_limit = project(args.pages, per_page, n, parse_rate, embed_core, chunks_s)
        gpu_h, gpu_limit = project(args.pages, per_page, n, parse_rate * 8, args.gpu_chunks_per_s, chunks_s)
        print(f"  {n:>4} workers: CPU embedding {cpu_h:8.1f} h (limit: {cpu_limit}); "
              f"GPU embedding, 8 parse cores a GPU {gpu_h:7.1f} h (limit: {gpu_limit})")


if __name__ == "__main__":
    main()
