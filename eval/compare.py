"""Two runs side by side: each metric's change with a paired bootstrap interval, and the questions that got worse."""
from __future__ import annotations

from eval import stats
from eval.html import fmt
from eval.summary import BY_KEY, JUDGED, METRICS

# Per-question scores whose change says a question regressed (retrieval ranks move too often to list).
WATCHED = ("contains_answer", "hallucination", "faithfulness", "right", "gold_cited", "refusal", "false_refusal", "hit@5")


def compare(a: dict, b: dict, seed: int = 0) -> dict:
    """Deltas (b - a) over the questions both runs share, and per question what got worse."""
    ra, rb = ({r["id"]: r for r in rep["records"]} for rep in (a, b))
    shared = [i for i in ra if i in rb]
    deltas, notes = {}, []
    judges = a["meta"].get("checker"), b["meta"].get("checker")
    if judges[0] != judges[1] and all(judges):  # each judge finds what it finds: a change of judge is no change of answers
        notes.append(f"{', '.join(JUDGED)} not compared: A was judged by {judges[0]}, B by {judges[1]}")
    unjudged = [name for name, run in zip("AB", (a, b)) if "checker" in run["meta"] and not run["meta"]["checker"]]
    if unjudged:
        notes.append(f"{', '.join(JUDGED)} not compared: {' and '.join(unjudged)} measured no grounding "
                     f"(--judge-verifier none)")
    for m in METRICS:
        if notes and m.key in JUDGED:
            deltas[m.key] = None
            continue
        va = [ra[i].get("scores", {}).get(m.key) for i in shared]
        vb = [rb[i].get("scores", {}).get(m.key) for i in shared]
        d = stats.paired_delta(va, vb, seed=seed)
        both = [(x, y) for x, y in zip(va, vb) if x is not None and y is not None]
        if d:  # A and B over the same questions as the delta, so that B - A is the delta shown
            d |= {"a": stats.mean([x for x, _ in both]), "b": stats.mean([y for _, y in both]),
                  "significant": d["low"] > 0 or d["high"] < 0,
                  "better": (d["delta"] > 0) == m.higher_is_better if d["delta"] else None}
        deltas[m.key] = d
    return {"a": a["meta"], "b": b["meta"], "shared": len(shared), "only_a": len(ra) - len(shared),
            "only_b": len(rb) - len(shared), "deltas": deltas, "notes": notes,
            "regressed": [x for i in shared if (x := _regression(ra[i], rb[i]))]}


def _regression(a: dict, b: dict) -> dict | None:
    """What got worse for one question, or None."""
    worse = {}
    for key in WATCHED:
        x, y = a.get("scores", {}).get(key), b.get("scores", {}).get(key)
        if x is not None and y is not None and (y < x if BY_KEY[key].higher_is_better else y > x):
            worse[key] = [x, y]
    if b.get("error") and not a.get("error"):
        worse["error"] = [None, b["error"]]
    return {"id": b["id"], "question": b["question"], "worse": worse, "answer_a": a.get("answer"),
            "answer_b": b.get("answer")} if worse else None


def text(c: dict) -> str:
    """The comparison as a plain-text table and a list of regressed questions."""
    lines = [f"A: {c['a'].get('mode')} {c['a'].get('created', '')}  B: {c['b'].get('mode')} {c['b'].get('created', '')}",
             f"{c['shared']} questions in both ({c['only_a']} only in A, {c['only_b']} only in B); "
             f"delta = B - A, 95% paired bootstrap interval over questions", *c.get("notes", ()), "",
             f"{'metric':<22}{'A':>8}{'B':>8}{'delta':>9}  {'interval':<19}{'n':>5}"]
    for key, d in c["deltas"].items():
        if d is None:
            continue
        mark = "" if not d["significant"] else ("  better" if d["better"] else "  WORSE")
        lines.append(f"{key:<22}{fmt(d['a']):>8}{fmt(d['b']):>8}{d['delta']:>+9.3f}  "
                     f"[{d['low']:+.3f}, {d['high']:+.3f}]  {d['n']:>5}{mark}")
    lines += ["", f"{len(c['regressed'])} questions regressed:"]
    for r in c["regressed"]:
        what = ", ".join(f"{k} {fmt(x, 2) if not isinstance(x, str) else x}->{fmt(y, 2) if not isinstance(y, str) else y}"
                         for k, (x, y) in r["worse"].items())
        lines.append(f"  {r['id']}: {what}  | {r['question'][:80]}")
    return "\n".join(lines)


def parse_gates(spec: str) -> dict[str, float]:
    """'faithfulness=0.9,recall@5=0.8' -> {metric: threshold}; ValueError naming the bad part."""
    gates = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key, sep, value = part.partition("=")
        if not sep or key.strip() not in BY_KEY:
            raise ValueError(f"bad gate {part!r}: write METRIC=NUMBER with METRIC one of {', '.join(BY_KEY)}")
        try:
            gates[key.strip()] = float(value)
        except ValueError:
            raise ValueError(f"bad gate {part!r}: {value!r} is not a number") from None
    return gates


def gate_failures(summary: dict, under: dict[str, float], over: dict[str, float]) -> list[str]:
    """A line per gate the run fails: a metric under its floor or over its ceiling, or not measured by this run (a
    refusal rate of a set with no unanswerable question): a gate that cannot be checked does not pass."""
    out = []
    for key, floor in under.items():
        value = summary["metrics"][key]["value"]
        if value is None or value < floor:
            out.append(f"{key} is not measured by this run (gate: under {floor})" if value is None
                       else f"{key} = {fmt(value)} is under {floor}")
    for key, ceiling in over.items():
        value = summary["metrics"][key]["value"]
        if value is None or value > ceiling:
            out.append(f"{key} is not measured by this run (gate: over {ceiling})" if value is None
                       else f"{key} = {fmt(value)} is over {ceiling}")
    return out
