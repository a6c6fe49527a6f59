"""Does the trained answer ranker find the gold page? hit@k and recall@k over the top hybrid results.

    python bench/ranker_retrieval.py --library DIR [--split test] [--depth 24] [--ranker FOLDER]

Per answerable question of the split (eval/data/r-manuals.jsonl), four orders of the same
library's passages, graded on the gold (document, page) pairs as `eval run` grades retrieval:
- dense: the embedding search alone, top `depth` (the naive baseline);
- hybrid: dense and lexical fused (what the engine retrieves);
- rerank: the engine's hand-set rerank of those `depth` hybrid passages (qa/evidence.py);
- trained: the same passages ordered by the trained ranker's best answer unit in each (qa/ranker.py).
And what the answerability gate's ranker signal costs a question (`AnswerRanker.best` over the rerank's
20 best units, as the engine builds the ranker) beside the rerank's own time, in the same run.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from eval import retrieval_metrics as rm  # noqa: E402
from eval.questions import load  # noqa: E402
from index.embedder import SentenceTransformerEmbedder, default_model  # noqa: E402
from index.search import search  # noqa: E402
from index.store import Library  # noqa: E402
from qa.evidence import headed, passage_units, rerank  # noqa: E402
from qa.ranker import SHIPPED, AnswerRanker, context_of  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ORDERS = ("dense", "hybrid", "rerank", "trained")
METRICS = (("hit@1", rm.hit_at, 1), ("hit@5", rm.hit_at, 5), ("recall@5", rm.recall_at, 5),
           ("recall@10", rm.recall_at, 10), ("recall@24", rm.recall_at, 24))


def by_ranker(library: Library, ranker: AnswerRanker, question: str, passages) -> list:
    """The passages ordered by the ranker's probability for their best answer unit (ties keep the given order).

    The units are the engine's: a passage opening inside a long pipe table has its rows under the table's header.
    """
    items, owners = [], []
    for i, p in enumerate(headed(library, p) for p in passages):
        for unit in passage_units(p):
            items.append((question, unit, context_of(unit, p.chunk.text)))
            owners.append(i)
    probs = ranker.probabilities(items) if items else np.zeros(0)
    best = np.zeros(len(passages))
    np.maximum.at(best, np.array(owners, dtype=int), probs)
    return [passages[i] for i in sorted(range(len(passages)), key=lambda i: (-best[i], i))]


def orders(library: Library, embedder, ranker: AnswerRanker, question: str, depth: int,
           gate: AnswerRanker | None = None, spent: dict[str, list] | None = None) -> dict[str, list]:
    """Each order's passages for one question; with `gate`, the seconds of the rerank and of its ranker signal."""
    qvec = embedder.embed([question], kind="query")[0]
    hybrid = search(library, embedder, question, k=depth, query_vector=qvec)
    started = time.perf_counter()
    evidence = rerank(library, embedder, question, hybrid, query_vector=qvec)
    if gate is not None and spent is not None:
        middle = time.perf_counter()
        gate.best(question, evidence.candidates)
        spent["rerank"].append(middle - started)
        spent["gate ranker"].append(time.perf_counter() - middle)
    return {"dense": search(library, embedder, question, k=depth, mode="dense", query_vector=qvec),
            "hybrid": hybrid,
            "rerank": list(evidence.passages),
            "trained": by_ranker(library, ranker, question, hybrid)}


def main(argv=None) -> int:
    """Print hit@k and recall@k of each order on the split's answerable questions."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--library", required=True, type=Path)
    ap.add_argument("--dataset", default=str(ROOT / "eval" / "data" / "r-manuals.jsonl"))
    ap.add_argument("--split", default="test", choices=("dev", "test"))
    ap.add_argument("--depth", type=int, default=24, help="hybrid results the orders share")
    ap.add_argument("--ranker", type=Path, default=SHIPPED, help="the trained ranker's folder")
    args = ap.parse_args(argv)
    questions = [q for q in load(args.dataset, split=args.split) if q.answerable and q.gold]
    embedder, ranker = SentenceTransformerEmbedder(default_model()), AnswerRanker(args.ranker, threads=1)
    gate, spent = AnswerRanker(args.ranker), {"rerank": [], "gate ranker": []}
    scores = {o: {m: [] for m, _, _ in METRICS} for o in ORDERS}
    with Library.open(args.library) as library:
        for q in questions:
            gold = {(Path(doc).stem, page) for doc, page in q.gold}
            for name, passages in orders(library, embedder, ranker, q.question, args.depth, gate, spent).items():
                ranked = [(p.doc_title, p.chunk.page) for p in passages]
                for metric, fn, k in METRICS:
                    scores[name][metric].append(fn(ranked, gold, k))
    print(f"{len(questions)} answerable {args.split} questions, top {args.depth} hybrid results")
    print("| order | " + " | ".join(m for m, _, _ in METRICS) + " |")
    print("|---|" + "---|" * len(METRICS))
    for name in ORDERS:
        print(f"| {name} | " + " | ".join(f"{np.mean(scores[name][m]):.3f}" for m, _, _ in METRICS) + " |")
    rerank_s, gate_s = (np.array(spent[k][1:] or spent[k]) for k in ("rerank", "gate ranker"))  # the first loads
    print(f"per question, p50 / p95: rerank {np.median(rerank_s):.3f} / {np.percentile(rerank_s, 95):.3f} s; "
          f"the gate's ranker signal {np.median(gate_s):.3f} / {np.percentile(gate_s, 95):.3f} s "
          f"({np.median(gate_s) / np.median(rerank_s):.2f} x the rerank)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
