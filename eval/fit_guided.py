"""Fit guided mode's rule (qa/guided.py) for one served model on the DEV questions, by a sweep.

    python -m eval.fit_guided --library DIR --url URL [--cache FILE] [--write]

Each dev question is answered once in extractive mode (the ranker's choice, the gate's verdict) and
the model is asked once per order (the ranker's, reversed) for its log-probabilities over the
candidates; all of it is cached (until the code that computed it, FACT_SOURCES, changes), so the sweep
costs nothing. A candidate is right when it holds an expected answer and lies on a gold page (the
report's `right`; candidates are verbatim quotes).
The sweep: which orders are read (the ranker's, the reverse, both), the weight of the ranker's
score (WEIGHTS, and the ranker alone), and the abstention rule (P(none) at least ABSTAIN, or never).
The rule kept has the most right answers, then the most refused unanswerable questions, then the
fewest model requests; the ranker alone is tried first, so guided is never chosen worse than
extractive on dev. --write stores it under the served model's name in qa/guided.json.
The dataset is read with split="dev" only, so no test row reaches the fit.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from eval.fit_answerability import DATASET, SIGNAL_SOURCES, dev_questions
from eval.fit_cache import say_stale, source_hash
from eval.grade import Names, answer_right
from eval.questions import Question
from qa import guided

WEIGHTS = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
ABSTAIN = (0.1, 0.2, 0.3, 0.5, 0.7, 0.9)
ORDERS = ("both", "forward", "backward")
# What computes the facts: the signals' code, the gate, the model's prompt and client, and the grader's `right`.
FACT_SOURCES = (*SIGNAL_SOURCES, "qa/answerability.json", "eval/grade.py", "eval/answer_metrics.py", "eval/dataset.py")


def facts(engine, llm, q: Question, names: Names | None = None) -> dict:
    """What the sweep needs of one question: the ranker's answer, each candidate's rightness, the model's logprobs.

    Right is the report's `right` (eval.grade.answer_right), with the documents named as `eval run` names them.
    """
    evidence = engine.evidence(q.question)  # once: for the answer and for the candidates offered to the model
    shown = engine.answer(q.question, evidence=evidence)  # extractive: the ranker's choice, gated and verified
    gated = shown.answerability["p_answerable"] >= shown.answerability["threshold"]
    out = {"answerable": bool(q.answerable), "gated": gated, "ranker_abstained": shown.abstained,
           "ranker_right": _right(q, shown.text, [c.passage for c in shown.citations], names, shown.abstained)}
    if not gated:
        return out
    offered = list(engine.picks(q.question, evidence)[: engine.settings.statements])
    texts, started = [c.text for c in offered], time.perf_counter()
    out["forward"] = guided.ask_order(llm, q.question, texts, llm.special_tokens)
    out["backward"] = guided.ask_order(llm, q.question, texts[::-1], llm.special_tokens)
    out["seconds"] = time.perf_counter() - started
    out["scores"] = [c.score for c in offered]
    out["right"] = [_right(q, c.text, [c.passage], names) for c in offered]
    return out


def _right(q: Question, text: str, cited, names: Names | None, abstained: bool = False) -> bool:
    return answer_right(q, text, cited, names, abstained) == 1.0


def judgment(order: str, forward: Sequence[float], backward: Sequence[float]) -> guided.Judgment:
    """The model's judgment read from both orders, or from one of them alone."""
    if order == "forward":
        backward = [forward[0], *reversed(forward[1:])]  # the forward answers, laid out as the reverse's
    elif order == "backward":
        forward = [backward[0], *reversed(backward[1:])]
    return guided.both_orders(forward, backward)


def outcome(fact: dict, order: str, rule: guided.Rule) -> str:
    """right, wrong, abstained (answerable) or refused, answered (unanswerable) under one rule."""
    index = 0
    if fact["gated"] and rule.asks:
        index = guided.pick(judgment(order, fact["forward"], fact["backward"]), fact["scores"], rule)
    abstained = not fact["gated"] or index is None or (index == 0 and fact["ranker_abstained"])
    if not fact["answerable"]:
        return "refused" if abstained else "answered"
    if abstained:
        return "abstained"
    right = fact["ranker_right"] if index == 0 else fact["right"][index]
    return "right" if right else "wrong"


def sweep(facts_: Sequence[dict]) -> list[dict]:
    """Every (order, rule) with its counts, the ranker alone first."""
    # The ranker alone first, then the weights nearest to it: among equals the first is kept.
    rules = [guided.Rule(w, a) for a in (None, *ABSTAIN) for w in (None, *sorted(WEIGHTS, reverse=True))]
    rows = []
    for order in ORDERS:
        for rule in rules:
            counts = {k: 0 for k in ("right", "wrong", "abstained", "refused", "answered")}
            for fact in facts_:
                counts[outcome(fact, order, rule)] += 1
            rows.append({"order": order, "weight": rule.weight, "abstain": rule.abstain, **counts})
    return rows


def best(rows: Sequence[dict]) -> dict:
    """The most right, then the most refused; among ties the first (the ranker alone, then higher weights)."""
    return max(rows, key=lambda r: (r["right"], r["refused"]))  # max keeps the first of equals


def collect(args, questions: Sequence[Question]) -> tuple[list[dict], str]:
    """Each question's facts, from the cache where it holds them for this model and library, else asked and cached."""
    from eval.dataset import doc_names
    from index.embedder import SentenceTransformerEmbedder, default_model
    from index.store import Library
    from qa.engine import AnswerEngine, Settings
    from qa.llm import LLMClient
    from qa.verifiers import make_verifier
    llm = LLMClient(args.url)
    stored = json.loads(args.cache.read_text()) if args.cache and args.cache.is_file() else {}
    # Facts are one model's, over one library (ranker scores, right or not), as this code computes them.
    key = {"model": llm.model, "library": str(Path(args.library).resolve()), "code": source_hash(FACT_SOURCES)}
    known = stored.get("facts", {}) if {k: stored.get(k) for k in key} == key else {}
    if stored and not known:
        say_stale(args.cache, stored, key)
    missing = [q for q in questions if q.question not in known]
    if missing:
        embedder = SentenceTransformerEmbedder(default_model())
        with Library.open(args.library) as library:
            engine = AnswerEngine(library, embedder, make_verifier("features", embedder), None, Settings())
            names = doc_names(library.documents())
            for n, q in enumerate(missing, start=1):
                known[q.question] = facts(engine, llm, q, names)
                print(f"\r{n}/{len(missing)} questions asked", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        if args.cache:
            args.cache.write_text(json.dumps({**key, "facts": known}))
    return [known[q.question] for q in questions], llm.model


def main(argv: Sequence[str] | None = None) -> int:
    """Ask, sweep, print the figures; write the best rule when asked."""
    ap = argparse.ArgumentParser(prog="python -m eval.fit_guided", description=__doc__.splitlines()[0])
    ap.add_argument("--library", required=True, help="library the questions are asked of")
    ap.add_argument("--url", required=True, help="the OpenAI-compatible server of the model (vLLM)")
    ap.add_argument("--dataset", default=DATASET, help=f"split question set (default {DATASET}); dev rows only")
    ap.add_argument("--cache", type=Path, help="JSON file of each question's facts, reused for the same model")
    ap.add_argument("--write", action="store_true", help=f"store the rule for the model in {guided.RULES_PATH.name}")
    args = ap.parse_args(argv)
    facts_, model = collect(args, dev_questions(args.dataset))
    rows = sweep(facts_)
    asked = [f["seconds"] for f in facts_ if "seconds" in f]
    print(f"{model}: {len(facts_)} dev questions, {sum(f['answerable'] for f in facts_)} answerable; "
          f"two requests take {sorted(asked)[len(asked) // 2]:.2f} s (p50)" if asked else "")
    print("order     weight  abstain  right wrong abstained refused")
    for r in rows:
        if r["abstain"] is None or r is best(rows):  # the weights without abstention, and the best row of all
            print(f"{r['order']:<9} {_show(r['weight']):>6}  {_show(r['abstain']):>7}  {r['right']:>5} {r['wrong']:>5} "
                  f"{r['abstained']:>9} {r['refused']:>7}")
    chosen = best([r for r in rows if r["order"] == "both"])  # the rule the engine applies reads both orders
    print(f"chosen: weight {_show(chosen['weight'])}, abstain {_show(chosen['abstain'])} ({chosen['right']} right)")
    if args.write:
        write(model, chosen)
    return 0


def write(model: str, row: dict, path: Path = guided.RULES_PATH) -> None:
    """Store the rule and its dev figures under the model's name."""
    stored = json.loads(path.read_text()) if path.exists() else {"rules": {}}
    stored["rules"][model] = {"weight": row["weight"], "abstain": row["abstain"],
                              "dev": {k: row[k] for k in ("right", "wrong", "abstained", "refused", "answered")}}
    path.write_text(json.dumps(stored, indent=1) + "\n")
    print(f"wrote the rule for {model} to {path}")


def _show(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


if __name__ == "__main__":
    sys.exit(main())
