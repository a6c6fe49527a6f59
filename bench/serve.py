"""vLLM on this CPU: start-up and first-token time for eager vs compiled, bf16 vs float32, and the cores it computes on.

    python bench/serve.py                          # the prepared default model, all four variants
    python bench/serve.py --model DIR --variants eager:float32,compiled:float32
    python bench/serve.py --variants eager:float32:vllm,eager:float32:all   # vLLM's core binding against all cores

Each variant starts a fresh server (`groundwork serve`'s own launch and wait), measures the
seconds until it answers, then streams answers to --prompts prompts of about 1.5k tokens (each
different, so no prefix cache helps) and reports time to first token and generation speed, p50
over the prompts, and start-to-first-answer: the wait a user has after `serve`. Ratios are against
the first variant, measured in the same run. It names the CPU and whether bf16 is native there.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.models import model_dir  # noqa: E402
from app.serve import cpu_dtype, cpu_flags, start_server  # noqa: E402
from ingest.readers import read_document  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def prompts(n: int, chars: int = 5500) -> list[str]:
    """n prompts of sample-manual pages (about 1.5k tokens each), each from different pages."""
    pages = [p.text for p in read_document(SAMPLES / "R-intro.pdf", "bench").pages if len(p.text) > 1500]
    out = []
    for i in range(n):
        text = " ".join(pages[i * 3: i * 3 + 4])[:chars]
        out.append(f"{text}\n\nQuestion {i}: which function reads a data file? Answer in one sentence.")
    return out


def stream(url: str, model: str, prompt: str, max_tokens: int = 48) -> tuple[float, float, int]:
    """(seconds to first token, total seconds, tokens) for one streamed chat completion."""
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens,
            "temperature": 0, "stream": True, "stream_options": {"include_usage": True}}
    request = urllib.request.Request(f"{url}/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    start, first, tokens = time.monotonic(), None, 0
    with urllib.request.urlopen(request, timeout=900) as response:
        for line in response:
            if not line.startswith(b"data: {"):
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                tokens = chunk["usage"]["completion_tokens"]
            if chunk["choices"] and chunk["choices"][0]["delta"].get("content") and first is None:
                first = time.monotonic()
    return first - start, time.monotonic() - start, tokens


def measure(model: str, eager: bool, dtype: str, texts: list[str], cores: str = "") -> dict:
    """Start a server with this variant, time it, ask every prompt, stop it; `cores`: VLLM_CPU_OMP_THREADS_BIND's
    value, or '' for serve's own choice."""
    start = time.monotonic()
    with _bound(cores), start_server(model, dtype=dtype, eager=eager) as server:
        ready = time.monotonic() - start
        runs = [stream(server.url, server.model, text) for text in texts]
    ttft = statistics.median(r[0] for r in runs)
    speed = statistics.median((r[2] - 1) / max(r[1] - r[0], 1e-9) for r in runs)
    return {"ready_s": ready, "ttft_p50_s": ttft, "tokens_per_s": speed, "first_answer_s": ready + runs[0][1]}


@contextlib.contextmanager
def _bound(cores: str):
    before = os.environ.get("VLLM_CPU_OMP_THREADS_BIND")
    if cores:
        os.environ["VLLM_CPU_OMP_THREADS_BIND"] = cores
    try:
        yield
    finally:
        os.environ.pop("VLLM_CPU_OMP_THREADS_BIND", None)
        if before is not None:
            os.environ["VLLM_CPU_OMP_THREADS_BIND"] = before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model folder (default: the prepared default model)")
    parser.add_argument("--variants", default="eager:bfloat16,compiled:bfloat16,eager:float32,compiled:float32")
    parser.add_argument("--prompts", type=int, default=3)
    args = parser.parse_args()
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"CPU: {cpu}; native bf16: {cpu_dtype('auto') == 'bfloat16'} "
          f"(avx512_bf16 {'avx512_bf16' in cpu_flags()}, amx_bf16 {'amx_bf16' in cpu_flags()})")
    model, texts, rows = str(args.model or model_dir()), prompts(args.prompts), []
    for variant in args.variants.split(","):
        mode, dtype, cores = (variant.split(":") + [""])[:3]
        bind = {"vllm": "auto", "all": ",".join(map(str, sorted(os.sched_getaffinity(0))))}.get(cores, cores)
        row = {"variant": variant, **measure(model, mode == "eager", dtype, texts, bind)}
        rows.append(row)
        base = rows[0]
        print(f"{variant:<22} ready {row['ready_s']:6.1f} s ({row['ready_s'] / base['ready_s']:.2f}x)  "
              f"first token p50 {row['ttft_p50_s']:5.2f} s ({row['ttft_p50_s'] / base['ttft_p50_s']:.2f}x)  "
              f"{row['tokens_per_s']:5.1f} tokens/s  start to first answer {row['first_answer_s']:6.1f} s "
              f"({row['first_answer_s'] / base['first_answer_s']:.2f}x)", flush=True)


if __name__ == "__main__":
    main()
