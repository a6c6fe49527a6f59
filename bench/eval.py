"""The eval harness's own cost, and what answering questions concurrently buys against vLLM.

    python bench/eval.py --library DIR                    # extractive only (no model)
    python bench/eval.py --library DIR --llm-url URL      # also generative, 1 at a time vs --workers at once

Prints, per run: wall time, thread-seconds answering vs grading, report-writing time, and the overhead
share (grading + report) / (answering + grading + report), which the issue wants under 10%; then
the wall-time speed-up of answering --workers questions at once over one at a time.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from eval import questions as qs  # noqa: E402
from eval import report  # noqa: E402
from eval.checkers import SentenceChecker  # noqa: E402
from eval.dataset import DEFAULT_DATASET  # noqa: E402
from eval.dataset import doc_names  # noqa: E402
from eval.grade import Grader  # noqa: E402
from eval.run import MeteredLLM, run_questions  # noqa: E402
from index.embedder import SentenceTransformerEmbedder  # noqa: E402
from index.store import Library  # noqa: E402
from qa.engine import AnswerEngine, Settings  # noqa: E402
from qa.llm import LLMClient  # noqa: E402
from qa.verifiers import make_verifier  # noqa: E402


def one_run(library, embedder, questions, mode: str, workers: int, url: str | None) -> dict:
    """A whole eval run (answers, grading, the three report files); its timing figures."""
    llm = MeteredLLM(LLMClient(url)) if url and mode != "extractive" else None
    verifier = make_verifier("features", embedder)
    engine = AnswerEngine(library, embedder, verifier, llm, Settings(mode=mode))
    grader = Grader(SentenceChecker(verifier), doc_names(library.documents()),
                    lambda texts: embedder.embed(texts, kind="document"))
    result = run_questions(engine, questions, grader, workers)
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        written = report.write(report.build(result, {"dataset": "bench", "mode": mode, "checker": "bench"}), Path(out))
        wall = result.wall_s + time.perf_counter() - started
    t = written["meta"]["time"]
    return {"mode": mode, "workers": workers, "wall_s": wall, "answer_s": t["answer_s"], "grade_s": t["grade_s"],
            "report_s": t["report_s"], "overhead_share": t["overhead_share"],
            "errors": written["summary"]["counts"]["errors"]}


def show(r: dict) -> None:
    print(f"{r['mode']:<11} workers {r['workers']:>2}: wall {r['wall_s']:6.1f} s, answering {r['answer_s']:6.1f} s, "
          f"grading {r['grade_s']:5.2f} s, report {r['report_s']:4.2f} s -> overhead {r['overhead_share']:.1%}"
          + (f"  ({r['errors']} errors)" if r["errors"] else ""), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--library", required=True)
    parser.add_argument("--dataset", default=str(DEFAULT_DATASET))
    parser.add_argument("--questions", type=int, default=16, help="a seeded sample of the dataset")
    parser.add_argument("--llm-url", default=os.environ.get("GROUNDWORK_LLM_URL"))
    parser.add_argument("--workers", type=int, default=4, help="questions at once in the concurrent run")
    args = parser.parse_args()
    questions = qs.load(args.dataset, args.questions, seed=0)
    embedder = SentenceTransformerEmbedder()
    with Library.open(args.library) as library:
        embedder.embed(["warm up"], kind="query")
        print(f"{len(questions)} questions from {args.dataset}; library {args.library}; {os.cpu_count()} CPUs")
        show(one_run(library, embedder, questions, "extractive", 1, None))
        if not args.llm_url:
            print("no --llm-url: generative runs and the concurrency speed-up skipped")
            return 0
        one_run(library, embedder, questions[:2], "generative", 1, args.llm_url)  # warm the server's caches
        serial = one_run(library, embedder, questions, "generative", 1, args.llm_url)
        show(serial)
        together = one_run(library, embedder, questions, "generative", args.workers, args.llm_url)
        show(together)
        print(f"concurrency speed-up, {args.workers} at once vs 1: {serial['wall_s'] / together['wall_s']:.2f}x wall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
