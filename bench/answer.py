"""Models x answer modes on the question set's dev and test splits, and vLLM against a plain transformers loop.

    python bench/answer.py --library DIR                                  # extractive, dev and test
    python bench/answer.py --library DIR --models qwen2.5-coder-0.5b --modes extractive guided generative \
        --splits test --sample 30                                         # a model's modes on 30 test questions
    python bench/answer.py --library DIR --throughput-only                # vLLM vs transformers, 1 and 16 at once

Each (model, mode, split) is one `groundwork eval run` (one question at a time, as a user asks) with an
independent judge (the verifier the engine does not use), its report kept under --out. The table:
right (the expected answer AND a citation of a page that holds it), wrong (answered, not right),
wrongly abstained, unanswerable refused, the share of shown sentences the judge finds unsupported,
time to first token and total p50/p95, and output tokens/s while generating. Extractive needs no model
and runs once. vLLM is started here for each model (the served dtype and eager mode follow the config).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from eval.dataset import DEFAULT_DATASET  # noqa: E402
from index.embedder import SentenceTransformerEmbedder  # noqa: E402
from index.store import Library  # noqa: E402
from qa.engine import AnswerEngine  # noqa: E402
from qa.llm import LLMClient  # noqa: E402
from qa.prompt import answer_messages, fit_passages  # noqa: E402
from qa.verifiers import make_verifier  # noqa: E402


def run_eval(library: str, mode: str, split: str, out: Path, judge: str, sample: int | None, env: dict) -> dict:
    """One `groundwork eval run`, one question at a time; its report.json."""
    command = [sys.executable, "-m", "app.cli", "eval", "run", "--dataset", str(DEFAULT_DATASET), "--split", split,
               "--library", library, "--mode", mode, "--workers", "1", "--judge-verifier", judge, "--out", str(out)]
    if sample:
        command += ["--sample", str(sample)]
    subprocess.run(command, env=env, check=False)  # exit 1 only flags failed questions; the report still stands
    return json.loads((out / "report.json").read_text())


def row(model: str, mode: str, split: str, report: dict) -> dict:
    """The table's figures from one run's records and summary."""
    records = [r for r in report["records"] if not r.get("error")]
    yes = [r for r in records if r["answerable"]]
    no = [r for r in records if r["answerable"] is False]
    right = sum(r["scores"].get("right") == 1.0 for r in yes)
    abstained = sum(r["abstained"] for r in yes)
    shown = [s for r in records for s in r["sentences"] if s["shown"] and s["units"]]
    unsupported = sum(not all(u["supported"] for u in s["units"]) for s in shown)
    streamed = [r for r in records if r.get("tokens") and "first_token" in r["timings"]]
    seconds = sum(r["timings"]["generate"] - r["timings"]["first_token"] for r in streamed)
    latency = report["summary"]["latency"]
    return {"model": model, "mode": mode, "split": split, "answerable": len(yes), "unanswerable": len(no),
            "right": right, "wrong": len(yes) - right - abstained, "wrongly_abstained": abstained,
            "refused": sum(r["abstained"] for r in no), "shown": len(shown), "unsupported": unsupported,
            "first_token": latency.get("first_token"), "total": latency.get("total"),
            "tokens_per_s": sum(r["tokens"]["out"] for r in streamed) / seconds if seconds > 0 else None}


def markdown(rows: list[dict]) -> str:
    """The table README shows."""
    def p(stage: dict | None) -> str:
        return f"{stage['p50']:.1f} / {stage['p95']:.1f} s" if stage else "—"
    lines = ["| model | mode | split | right | wrong | wrongly abstained | unanswerable refused | unsupported shown "
             "| first token p50 / p95 | total p50 / p95 | tokens/s |", "|" + "---|" * 11]
    for r in rows:
        share = f"{r['unsupported']}/{r['shown']}" if r["shown"] else "—"
        rate = f"{r['tokens_per_s']:.1f}" if r["tokens_per_s"] else "—"
        lines.append(f"| {r['model']} | {r['mode']} | {r['split']} | {r['right']}/{r['answerable']} "
                     f"({r['right'] / max(r['answerable'], 1):.2f}) | {r['wrong']} | {r['wrongly_abstained']} | "
                     f"{r['refused']}/{r['unanswerable']} | {share} | {p(r['first_token'])} | {p(r['total'])} | {rate} |")
    return "\n".join(lines)


def table(args, config) -> list[dict]:
    """Every asked (model, mode, split), each model's server started once."""
    from app import wiring
    from app.processes import free_port
    judge = "cross-encoder" if (config.verifier or "features") == "features" else "features"
    rows, out = [], Path(args.out)
    for split in args.splits:  # extractive needs no model: once
        if "extractive" in args.modes:
            report = run_eval(args.library, "extractive", split, out / f"extractive-{split}", judge, args.sample,
                              dict(os.environ))
            rows.append(row("none", "extractive", split, report))
    for model in args.models:
        modes = [m for m in args.modes if m != "extractive"]
        if not modes:
            continue
        server = wiring.start_model_server(config, port=free_port(), model=model, say=lambda m: print(m, file=sys.stderr))
        try:
            env = {**os.environ, "GROUNDWORK_LLM_URL": server.url}
            for split in args.splits:
                for mode in modes:
                    report = run_eval(args.library, mode, split, out / f"{model}-{mode}-{split}", judge, args.sample, env)
                    rows.append(row(model, mode, split, report))
        finally:
            server.stop()
    return rows



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
    parser.add_argument("--models", nargs="*", default=[], help="prepared models for guided and generative "
                        "(groundwork models list)")
    parser.add_argument("--modes", nargs="+", default=["extractive", "guided", "generative"])
    parser.add_argument("--splits", nargs="+", default=["dev", "test"], choices=["dev", "test"])
    parser.add_argument("--sample", type=int, help="a seeded sample of this many questions per split")
    parser.add_argument("--out", default="runs/answer-table", help="folder for each run's report")
    parser.add_argument("--throughput-only", action="store_true", help="only vLLM against transformers")
    parser.add_argument("--tokens", type=int, default=64, help="tokens per answer in the throughput runs")
    args = parser.parse_args()

    from app.config import load_config
    config = load_config()
    if args.throughput_only:
        return throughput_run(args, config)
    rows = table(args, config)
    Path(args.out, "table.json").write_text(json.dumps(rows, indent=1))
    from app.serve import cpu_dtype
    print(f"\n{os.cpu_count()} CPUs, {_cpu()}, served in {cpu_dtype(config.llm_dtype)}; judge: the verifier the "
          f"engine does not use")
    print(markdown(rows))
    return 0


def _cpu() -> str:
    """The CPU's model name, for saying where a figure came from."""
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "CPU unknown"


def throughput_run(args, config) -> int:
    """vLLM against a transformers loop on the default model, with the passages `ask` would send."""
    from app import wiring
    from app.models import model_dir
    from app.processes import free_port
    rows = [json.loads(line) for line in DEFAULT_DATASET.read_text().splitlines() if line.strip()][:16]
    library = Library.open(args.library)
    embedder = SentenceTransformerEmbedder()
    server = wiring.start_model_server(config, port=free_port(), say=lambda m: print(m, file=sys.stderr))
    try:
        client = LLMClient(server.url)
        engine = AnswerEngine(library, embedder, make_verifier("features", embedder), client)
        budget, specials = client.context_length - args.tokens, client.special_tokens
        prompts = [answer_messages(r["question"], fit_passages(
            r["question"], engine.evidence(r["question"]).passages, client.count_tokens, budget, specials),
            specials) for r in rows]
        print("throughput (same prompts, same model, greedy, fixed length):")
        throughput(client, model_dir(), prompts, args.tokens)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
