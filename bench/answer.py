"""Answer modes side by side over the sample question set, and vLLM against a plain transformers loop.

    python bench/answer.py --library DIR                       # 20 questions, every mode, vLLM started here
    python bench/answer.py --library DIR --llm-url URL         # an already running server
    python bench/answer.py --library DIR --throughput-only     # vLLM vs transformers, 1 and 16 at once

Quality per mode: answerable questions answered with an expected answer string AND a citation
of the expected page, wrong answers (answered, but neither), unanswerable questions correctly
abstained, answerable ones wrongly abstained. Latency per stage p50/p95, time to first token,
and the share of end-to-end time that is not generation.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from eval.dataset import DEFAULT_DATASET, answer_in  # noqa: E402
from index.embedder import SentenceTransformerEmbedder  # noqa: E402
from index.store import Library  # noqa: E402
from qa.engine import AnswerEngine, Settings  # noqa: E402
from qa.llm import LLMClient  # noqa: E402
from qa.prompt import answer_messages, fit_passages  # noqa: E402
from qa.verifiers import make_verifier  # noqa: E402


def questions(n: int) -> list[dict]:
    """n questions, three in four answerable, spread over the set in file order."""
    rows = [json.loads(line) for line in DEFAULT_DATASET.read_text().splitlines() if line.strip()]
    yes = [r for r in rows if r["answerable"]]
    no = [r for r in rows if not r["answerable"]]
    k_yes = n - n // 4
    return [yes[i * len(yes) // k_yes] for i in range(k_yes)] + no[: n // 4]


def judge(row: dict, answer) -> str:
    """right | wrong | abstained_ok | abstained_wrong | answered_unanswerable."""
    if not row["answerable"]:
        return "abstained_ok" if answer.abstained else "answered_unanswerable"
    if answer.abstained:
        return "abstained_wrong"
    said = any(answer_in(a, answer.text) for a in row["answers"])
    cited = any(c.passage.doc_title + ".pdf" == row["doc"] and c.page in row["pages"] for c in answer.citations)
    return "right" if said and cited else "wrong"


def run_mode(engine: AnswerEngine, rows: list[dict]) -> dict:
    """Every question once through the engine: verdicts and per-stage timings."""
    verdicts, stages, generated_totals = [], {}, []
    for row in rows:
        answer = engine.answer(row["question"])
        verdicts.append(judge(row, answer))
        if "generate" in answer.timings:
            generated_totals.append(answer.timings["total"])
        for stage, seconds in answer.timings.items():
            stages.setdefault(stage, []).append(seconds)
    return {"verdicts": verdicts, "stages": stages, "generated_totals": generated_totals}


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def report(mode: str, result: dict) -> None:
    v = result["verdicts"]
    count = {k: v.count(k) for k in ("right", "wrong", "abstained_wrong", "abstained_ok", "answered_unanswerable")}
    n_yes = count["right"] + count["wrong"] + count["abstained_wrong"]
    n_no = count["abstained_ok"] + count["answered_unanswerable"]
    print(f"\n{mode}: right {count['right']}/{n_yes}, wrong {count['wrong']}, wrongly abstained "
          f"{count['abstained_wrong']}; unanswerable abstained {count['abstained_ok']}/{n_no}")
    stages = result["stages"]
    for stage, values in stages.items():
        print(f"  {stage:<12} p50 {pct(values, 50):7.3f} s   p95 {pct(values, 95):7.3f} s")
    if "generate" in stages:  # only answers that reached the model: early abstentions have no generation
        shares = [(t - g) / t for t, g in zip(result["generated_totals"], stages["generate"])]
        print(f"  not generation: p50 {pct(shares, 50):.1%}, p95 {pct(shares, 95):.1%} of end-to-end time")


def throughput(client: LLMClient, model_dir: Path, prompts: list[list[dict]], tokens: int) -> None:
    """Output tokens/s of vLLM and of a plain transformers generate loop, 1 and 16 questions at once."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()

    def hf(messages) -> int:
        ids = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        with torch.inference_mode():
            out = model.generate(**ids, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False)
        return out.shape[1] - ids["input_ids"].shape[1]

    def vllm(messages) -> int:
        reply = client._client.chat.completions.create(
            model=client.model, messages=messages, max_tokens=tokens, temperature=0.0,
            extra_body={"ignore_eos": True})
        return reply.usage.completion_tokens

    for concurrent in (1, 16):
        batch = (prompts * 16)[:concurrent]
        hf(batch[0])  # warm both before timing
        vllm(batch[0])
        start = time.perf_counter()
        hf_tokens = sum(hf(m) for m in batch)  # a plain loop: one question after another
        hf_rate = hf_tokens / (time.perf_counter() - start)
        start = time.perf_counter()
        with ThreadPoolExecutor(concurrent) as pool:
            v_tokens = sum(pool.map(vllm, batch))
        v_rate = v_tokens / (time.perf_counter() - start)
        print(f"  {concurrent:>2} at once: vLLM {v_rate:7.1f} tok/s, transformers loop {hf_rate:7.1f} tok/s, "
              f"ratio {v_rate / hf_rate:.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--library", required=True)
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--modes", nargs="+", default=["extractive", "guided", "generative"])
    parser.add_argument("--llm-url", default=os.environ.get("GROUNDWORK_LLM_URL"))
    parser.add_argument("--throughput-only", action="store_true")
    parser.add_argument("--no-throughput", action="store_true", help="skip vLLM against transformers")
    parser.add_argument("--tokens", type=int, default=64, help="tokens per answer in the throughput runs")
    args = parser.parse_args()

    from app.models import model_dir
    from app.serve import start_server
    rows = questions(args.questions)
    library = Library.open(args.library)
    embedder = SentenceTransformerEmbedder()
    verifier = make_verifier("features", embedder)
    server = None if args.llm_url else start_server(model_dir())
    client = LLMClient(args.llm_url or server.url)
    try:
        print(f"{len(rows)} questions ({sum(r['answerable'] for r in rows)} answerable), model {client.model}, "
              f"{os.cpu_count()} CPUs")
        if not args.throughput_only:
            engine = AnswerEngine(library, embedder, verifier, client, Settings(mode="extractive"))
            engine.answer(rows[0]["question"])  # warm: models load on first use
            for mode in args.modes:
                engine = AnswerEngine(library, embedder, verifier, client, Settings(mode=mode))
                report(mode, run_mode(engine, rows))
        if args.no_throughput:
            return 0
        print("\nthroughput (same prompts, same model, greedy, fixed length):")
        budget = client.context_length - args.tokens
        specials = client.special_tokens
        engine = AnswerEngine(library, embedder, verifier, client)  # the passages `ask` would put in the prompt
        prompts = [answer_messages(r["question"], fit_passages(
            r["question"], engine.evidence(r["question"]).passages, client.count_tokens, budget, specials),
            specials) for r in rows[:16]]
        throughput(client, model_dir(), prompts, args.tokens)
    finally:
        if server:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
