"""The figures of a run: each metric's definition, its mean over the questions it applies to, and a bootstrap interval."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from eval import stats
from qa.answerability import BEFORE_FIT


@dataclass(frozen=True)
class Metric:
    """A per-question score and how a report explains it."""

    key: str
    group: str
    formula: str
    over: str
    higher_is_better: bool = True
    judged: bool = False  # decided by the run's judge: not measured when the run has none


_GOLD = "answerable questions with gold pages"
_ANSWERED = "answered questions (not abstained)"
METRICS = (
    *(Metric(f"hit@{k}", "retrieval", f"1 if a gold (doc, page) is among the first {k} reranked passages, else 0", _GOLD)
      for k in (1, 3, 5)),
    *(Metric(f"recall@{k}", "retrieval", f"|gold pages in the first {k} passages| / |gold pages|", _GOLD) for k in (5, 10)),
    Metric("mrr", "retrieval", "1 / rank of the first gold passage (0 when none is retrieved)", _GOLD),
    Metric("ndcg@10", "retrieval", "Σ_{first hits r≤10} 1/log2(r+1) / Σ_{r≤min(10,|gold|)} 1/log2(r+1)", _GOLD),
    Metric("contains_answer", "answer", "1 if the answer contains a gold answer (casefolded, spaces collapsed)",
           "answerable questions with gold answers; an abstention scores 0"),
    Metric("right", "answer", "1 if the answer contains a gold answer and cites a gold page",
           "answerable questions with gold answers and pages; an abstention scores 0"),
    Metric("token_f1", "answer", "max over gold answers of 2PR/(P+R) on SQuAD-normalised tokens",
           "answerable questions with gold answers; an abstention scores 0"),
    Metric("exact_match", "answer", "1 if the normalised answer equals a normalised gold answer",
           "answerable questions with gold answers; an abstention scores 0"),
    Metric("semantic_similarity", "answer", "max cosine of the answer's embedding with a gold answer's",
           "answerable questions with gold answers; an abstention scores 0"),
    Metric("faithfulness", "grounding", "supported units / units shown (a unit: a sentence, or a claim with a judge)",
           _ANSWERED, judged=True),
    Metric("hallucination", "grounding", "1 if any unit shown is unsupported", _ANSWERED, False, judged=True),
    Metric("draft_hallucination", "grounding", "1 if the engine's verification rejected any sentence the mode drafted",
           "questions where the mode drafted a sentence", False),
    Metric("citation_precision", "grounding", "cited passages that support a sentence citing them / cited passages",
           _ANSWERED, judged=True),
    Metric("gold_cited", "grounding", "1 if the answer cites a gold page (a question's gold pages are alternatives)",
           "answered questions with gold pages"),
    Metric("refusal", "abstention", "1 if the answer abstains", "unanswerable questions"),
    Metric("false_refusal", "abstention", "1 if the answer abstains", "answerable questions", False),
)
BY_KEY = {m.key: m for m in METRICS}
JUDGED = tuple(m.key for m in METRICS if m.judged)
STAGES = ("rewrite", "retrieve", "rerank", "generate", "first_token", "verify", "total")


def column(records: Sequence[dict], key: str) -> list[float | None]:
    """A metric's per-question values, None where it does not apply."""
    return [r.get("scores", {}).get(key) for r in records]


def summarise(records: Sequence[dict], seed: int = 0) -> dict:
    """Counts, every metric (mean, 95% bootstrap interval, n), latency per stage and tokens."""
    metrics = {}
    for m in METRICS:
        values = column(records, m.key)
        ci = stats.bootstrap_ci(values, seed=seed)
        metrics[m.key] = {"value": stats.mean(values), "ci": list(ci) if ci else None,
                          "n": int(stats.defined(values).size)}
    return {"counts": counts(records), "metrics": metrics, "latency": latency(records), "tokens": tokens(records),
            "gold_ranks": rank_histogram(records), "gates": gates(records, seed)}


def gates(records: Sequence[dict], seed: int = 0) -> dict[str, dict]:
    """Refusal and false refusal (95% bootstrap intervals) of the abstention gate alone, beside trivial gates.

    Measured on the same questions and evidence as the run: the fitted gate (abstain when
    P(answerable) < its threshold), the hand-set rule it replaced (best candidate score < BEFORE_FIT),
    and never abstaining. The engine's own refusal adds abstentions after verification.
    """
    seen = [r for r in records if r.get("answerability") and r["answerable"] is not None]
    if not seen:
        return {}
    rules = {"fitted gate": lambda a: a["p_answerable"] < a["threshold"],
             f"best score < {BEFORE_FIT} (hand-set)": lambda a: a["strength"] < BEFORE_FIT,
             "never abstain": lambda a: False}
    out = {}
    for name, refuses in rules.items():
        out[name] = {}
        for key, answerable in (("refusal", False), ("false_refusal", True)):
            values = [float(refuses(r["answerability"])) for r in seen if r["answerable"] is answerable]
            ci = stats.bootstrap_ci(values, seed=seed)
            out[name][key] = {"value": stats.mean(values), "ci": list(ci) if ci else None, "n": len(values)}
    return out


def counts(records: Sequence[dict]) -> dict[str, int]:
    """How many questions of each kind, and what became of them."""
    ok = [r for r in records if not r.get("error")]
    return {"questions": len(records), "answerable": sum(r["answerable"] is True for r in records),
            "unanswerable": sum(r["answerable"] is False for r in records),
            "unlabelled": sum(r["answerable"] is None for r in records),
            "answered": sum(not r["abstained"] for r in ok), "abstained": sum(r["abstained"] for r in ok),
            "incomplete": sum(not r["complete"] for r in ok), "errors": len(records) - len(ok)}


def latency(records: Sequence[dict]) -> dict[str, dict]:
    """p50 and p95 seconds of each answer stage that ran."""
    out = {}
    for stage in STAGES:
        values = [r["timings"][stage] for r in records if stage in r.get("timings", {})]
        if values:
            out[stage] = {"p50": stats.percentile(values, 50), "p95": stats.percentile(values, 95), "n": len(values)}
    return out


def tokens(records: Sequence[dict]) -> dict | None:
    """Tokens in and out, total and per question; None when no model was called."""
    counted = [r["tokens"] for r in records if r.get("tokens")]
    if not counted:
        return None
    total_in, total_out = sum(t["in"] for t in counted), sum(t["out"] for t in counted)
    return {"in_total": total_in, "out_total": total_out, "in_mean": total_in / len(counted),
            "out_mean": total_out / len(counted), "n": len(counted)}


def rank_histogram(records: Sequence[dict]) -> dict[str, int]:
    """How many questions first found gold at each rank ('none': not retrieved), over questions with gold."""
    ranks = Counter(str(r.get("gold_rank") or "none") for r in records if r.get("gold") and not r.get("error"))
    return dict(sorted(ranks.items(), key=lambda kv: (kv[0] == "none", int(kv[0]) if kv[0] != "none" else 0)))


def worst(records: Sequence[dict], n: int = 15) -> list[dict]:
    """The questions that went worst: errors, hallucinations, answered-unanswerable, false refusals, misses."""
    def badness(r: dict) -> tuple:
        s = r.get("scores", {})
        return (bool(r.get("error")), s.get("hallucination") == 1.0, s.get("refusal") == 0.0,
                s.get("false_refusal") == 1.0, s.get("contains_answer") == 0.0, -(s.get("faithfulness") or 1.0))
    bad = [r for r in records if any(badness(r)[:5])]
    return sorted(bad, key=badness, reverse=True)[:n]
