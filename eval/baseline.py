"""Trivial answer baselines to set beside `eval run`'s figures: what retrieval alone answers, with no answer engine.

    python -m eval.baseline --dataset FILE [--split dev|test] [--library DIR]

For each question, search (hybrid, the engine's first stage) takes the top passage, and the baseline answers
with its first sentence (`first_sentence`) or the whole passage (`top_passage`). Neither ever abstains, so
refusal on unanswerable questions is 0 and false refusal 0 by construction. contains_answer is scored as
`eval run` scores it, over the answerable questions with gold answers, with a 95% bootstrap interval.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from eval import stats
from eval.answer_metrics import contains_answer
from eval.questions import Question
from qa.text import split_sentences

BASELINES: dict[str, Callable[[str], str]] = {
    "first_sentence": lambda text: (split_sentences(text) or [""])[0],
    "top_passage": lambda text: text,
}


def measure(questions: Sequence[Question], top_passage: Callable[[str], str]) -> dict:
    """contains_answer of each baseline over the answerable questions, given the top passage's text per question."""
    scored = [q for q in questions if q.answerable and q.answers]
    texts = [top_passage(q.question) for q in scored]
    out: dict = {"questions": len(questions), "answerable": len(scored)}
    for name, answer in BASELINES.items():
        values = [contains_answer(answer(text), q.answers) for q, text in zip(scored, texts)]
        ci = stats.bootstrap_ci(values)
        out[name] = {"contains_answer": stats.mean(values), "ci95": list(ci) if ci else None}
    out["refusal"], out["false_refusal"] = 0.0, 0.0
    return out


def main(argv: list[str]) -> int:
    """Print the baselines for one question set over one library as a JSON object; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m eval.baseline", description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, help="question-set JSONL")
    parser.add_argument("--split", choices=["dev", "test"], help="only that side of a split set")
    parser.add_argument("--library", default="library", help="library folder (default ./library)")
    args = parser.parse_args(argv)
    # Imported here so that `measure` needs neither the index nor a model.
    from eval.halueval import DatasetError
    from eval.questions import load
    from index.embedder import SentenceTransformerEmbedder, default_model
    from index.search import search
    from index.store import Library, LibraryError
    try:
        questions = load(args.dataset, split=args.split)
        library = Library.open(args.library)
    except (DatasetError, LibraryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    embedder = SentenceTransformerEmbedder(default_model())
    with library:
        def top(question: str) -> str:
            hits = search(library, embedder, question, k=1)
            return hits[0].chunk.text if hits else ""
        result = measure(questions, top)
    print(json.dumps({"dataset": args.dataset, "split": args.split, **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
