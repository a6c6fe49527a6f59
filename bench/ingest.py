"""Ingestion throughput on the sample corpus: parse, embed, end to end, re-ingest, memory.

    python bench/ingest.py                 # the bundled samples/ (360 PDF pages)
    python bench/ingest.py --corpus DIR

Every ratio compares figures measured in this same run:
- parsing: PDF text by PDFium against pypdf (the `pdf_text` setting), same files;
- embedding: the production embedder against a plain `SentenceTransformer.encode`
  loop (batches of 32, in file order, fp32) over the same chunks;
- end to end, once per PDF text engine: chunks/s of the ingest pipeline against
  embedding alone (parsing and writing should overlap with embedding, not add to it);
- `groundwork ingest` as a user runs it (the configured engine), and
- re-ingest: an unchanged second run against the first.
Peak memory is the largest resident set of the ingest process plus its parser
worker, sampled every 50 ms.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import psutil  # noqa: E402

from app import wiring  # noqa: E402
from app.config import load_config  # noqa: E402
from ingest.chunking import chunk_pages  # noqa: E402
from index.store import Library  # noqa: E402
from index.embedder import default_model  # noqa: E402
from ingest.pipeline import discover, ingest, parse_file  # noqa: E402
from ingest.readers import PDF_TEXT_ENGINES  # noqa: E402


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def parse_all(files, pdf_text: str):
    docs = [parse_file(str(f), f"bench{i}", pdf_text) for i, f in enumerate(files)]
    return [d for d in docs if not isinstance(d, str)]


def plain_encode_loop(texts, model_path: str) -> float:
    """Seconds for the baseline: SentenceTransformer.encode over batches of 32, fp32, file order."""
    from sentence_transformers import SentenceTransformer
    model = SentenceTransformer(model_path, device="cpu")
    model.encode(texts[:8])  # warm-up, as the production embedder gets
    _, secs = timed(lambda: [model.encode(texts[i:i + 32]) for i in range(0, len(texts), 32)])
    return secs


def run_ingest(corpus: Path, library: Path, extra: tuple[str, ...] = ()) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes, process tree) of `groundwork ingest` as a user runs it."""
    cmd = [sys.executable, "-m", "app.cli", "ingest", str(corpus), "--library", str(library), *extra]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]

    def sample():
        parent = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                tree = [parent, *parent.children(recursive=True)]
                peak[0] = max(peak[0], sum(p.memory_info().rss for p in tree))
            except psutil.Error:
                pass
            time.sleep(0.05)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    out, err = proc.communicate()
    secs = time.perf_counter() - start
    watcher.join()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"ingest failed: {err.strip().splitlines()[-1] if err.strip() else proc.returncode}")
    print("   ", out.strip().splitlines()[-1])
    return secs, peak[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "samples")
    args = parser.parse_args()
    config = load_config()
    files, _ = discover([args.corpus])
    parsed, parse_s = {}, {}
    for engine in PDF_TEXT_ENGINES:
        parsed[engine], parse_s[engine] = timed(lambda: parse_all(files, engine))
    docs = parsed["pypdf"]  # the chunks embedded below; pdfium's differ by a few (3 of 1252 here)
    pages = sum(len(d.pages) for d in docs)
    print(f"corpus: {len(files)} files, {pages} pages ({args.corpus})")
    for engine, secs in parse_s.items():
        print(f"parse only:  {pages / secs:8.1f} pages/s   ({secs:.1f} s, one process, PDF text by {engine})")
    print(f"PDF text by pdfium: {parse_s['pypdf'] / parse_s['pdfium']:.1f}x the pages/s of pypdf")

    embedder = wiring.embedder(config)
    budget = min(config.chunk_tokens, embedder.max_tokens)
    chunks, chunk_s = timed(lambda: [c for d in docs for c in chunk_pages(d.pages, embedder, budget, config.chunk_overlap)])
    texts = [c.text for c in chunks]
    print(f"chunk only:  {pages / chunk_s:8.1f} pages/s   ({len(chunks)} chunks of <= {budget} tokens)")

    embedder.embed(texts[:8], kind="document")  # load and warm up outside the timing
    _, embed_s = timed(lambda: embedder.embed(texts, kind="document"))
    base_s = plain_encode_loop(texts, config.embedding_model or default_model())
    print(f"embed only:  {len(texts) / embed_s:8.1f} chunks/s  ({embedder.name}, backend {config.embedding_backend})")
    print(f"baseline:    {len(texts) / base_s:8.1f} chunks/s  (plain SentenceTransformer.encode loop, batches of 32)")
    print(f"embedding speed-up over the baseline: {base_s / embed_s:.2f}x")

    for engine in PDF_TEXT_ENGINES:
        options = replace(wiring.ingest_options(config), pdf_text=engine)
        with tempfile.TemporaryDirectory() as tmp, Library.writing(Path(tmp) / "lib", create=True) as library:
            def run() -> list:
                done = list(ingest([args.corpus], library, embedder, options))
                library.save_vectors()  # timed, as the write context saves before a run ends
                return done
            results, pipeline_s = timed(run)
        pipeline = sum(r.chunks for r in results) / pipeline_s
        print(f"pipeline:    {pipeline:8.1f} chunks/s, {pages / pipeline_s:.1f} pages/s  "
              f"(ingest() in process, model loaded, PDF text by {engine})")
        print(f"pipeline / embed only: {pipeline / (len(texts) / embed_s):.2f}  (target >= 0.90; PDF text by {engine})")
    with tempfile.TemporaryDirectory() as tmp:
        first_s, peak = run_ingest(args.corpus, Path(tmp) / "lib")
        again_s, _ = run_ingest(args.corpus, Path(tmp) / "lib")
    print(f"groundwork ingest: {first_s:.1f} s wall, {len(texts) / first_s:.1f} chunks/s "
          f"(process start and model load included; PDF text by {config.pdf_text}, the configured engine)")
    print(f"re-ingest unchanged: {again_s:.1f} s = {again_s / first_s:.2f} of the first run")
    print(f"peak memory of the ingest (process tree): {peak / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
