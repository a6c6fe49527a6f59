"""Out-of-fold answer-ranker scores of the labelled dev questions: what the answerability gate is fitted on.

    python -m eval.ranker_oof [--pairs-file eval/data/ranker-pairs.jsonl.gz] [--out eval/data/ranker-oof.json]

The gate (qa/answerability.py) weighs the ranker's best P(answers) among a question's units. The
shipped ranker learnt from these very questions' units, so its P for them is what it was taught, not
what it says of a new question, and a gate fitted on it would trust the signal too much. So each
corpus (question set) is held out in turn: a ranker trained on the others, with the shipped one's
settings, scores its questions. `python -m eval.fit_answerability` reads the file and uses these
scores in place of the shipped ranker's for the dev questions.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from eval import ranker_data
from eval.fit_cache import shown
from eval.train_verifier import default_backbone, load_backbone, pad, train
from qa.ranker import RankerEncoder

def held_out_scores(examples: Sequence[ranker_data.RankExample], corpus: str, *, max_tokens: int = 128,
                    epochs: int = 1, batch: int = 16, lr: float = 1e-4, seed: int = 0) -> dict[str, float]:
    """Each question of `corpus`: its best unit's P from a ranker trained on the other corpora's examples."""
    import torch

    torch.manual_seed(seed)
    backbone = default_backbone()
    encoder = RankerEncoder(backbone / "tokenizer.json", max_tokens)
    training = [e for e in examples if e.corpus != corpus]
    held = [e for e in examples if e.corpus == corpus]
    model = load_backbone(backbone)
    train(model, encoder.encode([(e.question, e.unit, e.context) for e in training]), [e.answers for e in training],
          epochs=epochs, batch=batch, lr=lr, seed=seed)
    encoded = encoder.encode([(e.question, e.unit, e.context) for e in held])
    logits: list[float] = []
    with torch.no_grad():
        for start in range(0, len(encoded), 64):
            logits += model(**{k: torch.from_numpy(v) for k, v in pad(encoded[start:start + 64]).items()}).tolist()
    best: dict[str, float] = {}
    for e, logit in zip(held, logits):
        best[e.question] = max(best.get(e.question, 0.0), float(1 / (1 + np.exp(-logit))))
    return best


def main(argv: Sequence[str] | None = None) -> int:
    """Train one ranker per held-out corpus and write every dev question's out-of-fold best P."""
    ap = argparse.ArgumentParser(prog="python -m eval.ranker_oof", description=main.__doc__)
    ap.add_argument("--pairs-file", type=Path, default=ranker_data.PAIRS)
    ap.add_argument("--out", type=Path, default=ranker_data.OOF)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    try:
        examples = ranker_data.read_examples(args.pairs_file)
    except (OSError, ValueError, TypeError) as exc:
        print(f"error: {args.pairs_file}: {exc}", file=sys.stderr)
        return 1
    corpora = list(dict.fromkeys(e.corpus for e in examples))
    if len(corpora) < 2 or "" in corpora:
        print(f"error: {args.pairs_file} needs two corpora or more, each example naming its own "
              "(python -m eval.ranker_data writes them)", file=sys.stderr)
        return 1
    scores = {}
    for corpus in corpora:
        print(f"holding out {corpus}", file=sys.stderr)
        scores[corpus] = held_out_scores(examples, corpus, seed=args.seed)
    record = {"pairs_file": shown(args.pairs_file), "seed": args.seed, "scores": scores,
              "command": "python -m eval.ranker_oof " + " ".join(sys.argv[1:] if argv is None else argv),
              "seconds": round(time.perf_counter() - started)}
    args.out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {sum(len(s) for s in scores.values())} questions of {len(corpora)} corpora",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
