"""Models x answer modes on the question set's dev and test splits, and vLLM against a plain transformers loop.

    python bench/answer.py --library DIR                                  # extractive, dev and test
    python bench/answer.py --library DIR --models qwen2.5-coder-0.5b --modes extractive guided generative \
        --splits test --sample 30                                         # a model's modes on 30 test questions
    python bench/answer.py --library DIR --verifiers features cross-encoder   # each engine verifier, judged by the other
    python bench/answer.py --library DIR --throughput-only                # vLLM vs transformers, 1 and 16 at once

Each (model, mode, split, engine verifier) is one `groundwork eval run` (one question at a time, as a
user asks) with an independent judge (the verifier the engine does not use: app.wiring.default_judge),
its report kept under --out. The table: right (the expected answer AND a citation of a page that holds
it), wrong (answered, not right), wrongly abstained, unanswerable refused, the share of shown sentences
the judge finds unsupported, and the same share as the cross-encoder judges it (not independent when the
engine verifies with it), time to first token, verification and total p50/p95, and output tokens/s
while generating. `--verifiers features cross-encoder` runs each cell with each engine verifier
(default: the configured one). Extractive needs no model and runs once per verifier. vLLM is started
here once for each model (the served dtype and eager mode follow the config).
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
from index.records import Passage  # noqa: E402
from index.store import Library  # noqa: E402
from qa.engine import AnswerEngine, Settings  # noqa: E402
from qa.llm import LLMClient  # noqa: E402
from qa.prompt import answer_messages  # noqa: E402
from qa.verifiers import make_verifier  # noqa: E402


def run_eval(library: str, mode: str, split: str, out: Path, judge: str, sample: int | None, env: dict) -> dict:
    """One `groundwork eval run`, one question at a time; its report.json."""
    command = [sys.executable, "-m", "app.cli", "eval", "run", "--dataset", str(DEFAULT_DATASET), "--split", split,
               "--library", library, "--mode", mode, "--workers", "1", "--judge-verifier", judge, "--out", str(out)]
    if sample:
        command += ["--sample", str(sample)]
    subprocess.run(command, env=env, check=False)  # exit 1 only flags failed questions; the report still stands
    return json.loads((out / "report.json").read_text())


def row(model: str, mode: str, split: str, report: dict, rejudged: int | None = None) -> dict:
    """The table's figures from one run's records and summary; `rejudged`: shown sentences the cross-encoder rejects."""
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
    return {"model": model, "mode": mode, "split": split, "verifier": report["meta"]["verifier"],
            "judge": report["meta"]["checker"], "answerable": len(yes), "unanswerable": len(no),
            "right": right, "wrong": len(yes) - right - abstained, "wrongly_abstained": abstained,
            "refused": sum(r["abstained"] for r in no), "shown": len(shown), "unsupported": unsupported,
            "cross_encoder_unsupported": rejudged, "first_token": latency.get("first_token"),
            "verify": latency.get("verify"), "total": latency.get("total"),
            "tokens_per_s": sum(r["tokens"]["out"] for r in streamed) / seconds if seconds > 0 else None}


def rejudge(report: dict, library: Library, verifier) -> int:
    """How many shown sentences of a run `verifier` finds unsupported by the passages they cite (read from the library)."""
    items = []
    for record in report["records"]:
        chunks = [p["chunk_id"] for p in record.get("retrieved", [])]
        stored = library.chunks(chunks)
        for s in record.get("sentences", []):
            if s["shown"]:
                ids = [chunks[n - 1] for n in s["citations"] if 0 < n <= len(chunks)]
                items.append((s["text"], [Passage(*stored[i], 0.0) for i in ids]))
    # One sentence at a time, as the engine verifies: the int8 graph quantizes each batch as a whole, so a
    # sentence's score moves with its batch-mates (by up to 0.07 on the R manuals' extractive answers).
    return sum(not verifier.verify(text, passages)[0] for text, passages in items)


def markdown(rows: list[dict]) -> str:
    """The table README shows."""
    def p(stage: dict | None) -> str:
        return f"{stage['p50']:.1f} / {stage['p95']:.1f} s" if stage else "—"
    lines = ["| model | mode | split | verifier / judge | right | wrong | wrongly abstained | unanswerable refused "
             "| unsupported shown (judge) | (cross-encoder) | first token p50 / p95 | verify p50 | total p50 / p95 "
             "| tokens/s |", "|" + "---|" * 14]
    for r in rows:
        share = f"{r['unsupported']}/{r['shown']}" if r["shown"] else "—"
        cross = f"{r['cross_encoder_unsupported']}/{r['shown']}" if r["shown"] else "—"
        rate = f"{r['tokens_per_s']:.1f}" if r["tokens_per_s"] else "—"
        verify = f"{r['verify']['p50'] * 1000:.0f} ms" if r["verify"] else "—"
        judge = (r["judge"] or "none").split(" (")[0].removeprefix("sentence-level ")
        lines.append(f"| {r['model']} | {r['mode']} | {r['split']} | {r['verifier']} / {judge} | "
                     f"{r['right']}/{r['answerable']} ({r['right'] / max(r['answerable'], 1):.2f}) | {r['wrong']} | "
                     f"{r['wrongly_abstained']} | {r['refused']}/{r['unanswerable']} | {share} | {cross} | "
                     f"{p(r['first_token'])} | {verify} | {p(r['total'])} | {rate} |")
    return "\n".join(lines)


def table(args, config) -> list[dict]:
    """Every asked (model, mode, split, engine verifier), each model's server started once."""
    from app import wiring
    from app.processes import free_port, orphan_guard
    rows, out = [], Path(args.out)
    library = Library.open(args.library)
    checker = make_verifier("cross-encoder")

    def cell(model: str, mode: str, split: str, env: dict) -> None:
        for verifier in args.verifiers or [config.verifier]:
            judge = wiring.default_judge(verifier)
            # A verifier given as cross-encoder:/some/folder names one folder, not a path under --out.
            folder = f"{model}-{mode}-{split}-{verifier}".replace("/", "_").replace(":", "_")
            report = run_eval(args.library, mode, split, out / folder, judge,
                              args.sample, {**env, "GROUNDWORK_VERIFIER": verifier})
            rows.append(row(model, mode, split, report, rejudge(report, library, checker)))

    for split in args.splits:  # extractive needs no model: once
        if "extractive" in args.modes:
            cell("none", "extractive", split, dict(os.environ))
    for model in args.models:
        modes = [m for m in args.modes if m != "extractive"]
        if not modes:
            continue
        with orphan_guard() as guard:  # a bench killed outright (SIGTERM, -9) leaves no vLLM behind
            server = wiring.start_model_server(config, port=free_port(), model=model, guard=guard,
                                               say=lambda m: print(m, file=sys.stderr))
            try:
                env = {**os.environ, "GROUNDWORK_LLM_URL": server.url}
                for split in args.splits:
                    for mode in modes:
                        cell(model, mode, split, env)
            finally:
                server.stop()
    library.close()
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
    parser.add_argument("--verifiers", nargs="+", help="engine verifiers to run each cell with (default: the "
                        "configured one); each is judged by the other (app.wiring.default_judge)")
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
          f"engine does not use; (cross-encoder): the same sentences judged by the cross-encoder")
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
    from app.processes import free_port, orphan_guard
    rows = [json.loads(line) for line in DEFAULT_DATASET.read_text().splitlines() if line.strip()][:16]
    library = Library.open(args.library)
    embedder = SentenceTransformerEmbedder()
    with orphan_guard() as guard:  # a bench killed outright (SIGTERM, -9) leaves no vLLM behind
        server = wiring.start_model_server(config, port=free_port(), guard=guard, say=lambda m: print(m, file=sys.stderr))
        try:
            client = LLMClient(server.url)
            engine = AnswerEngine(library, embedder, make_verifier("features", embedder), client,
                                  Settings(prompt_passages=config.prompt_passages, prompt_words=config.prompt_words))
            prompts = [answer_messages(r["question"], engine.shown_passages(r["question"],
                                                                            engine.evidence(r["question"])),
                                       client.special_tokens) for r in rows]
            print("throughput (same prompts, same model, greedy, fixed length):")
            throughput(client, model_dir(), prompts, args.tokens)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
