"""A run's report: report.json (every figure and record), report.md (the same numbers for a pull request), report.html."""
from __future__ import annotations

import json
import time
from pathlib import Path

from eval import html
from eval.html import fmt, gate_cell, judge_line, unsupported, value
from eval.run import RunResult
from eval.summary import METRICS, summarise, worst
from index.errors import GroundworkError
from index.files import atomic_write


def build(result: RunResult, meta: dict, seed: int = 0) -> dict:
    """The report object: meta (what ran, with which judge), summary, metric definitions, records."""
    return {"meta": {**meta, "workers": result.workers, "questions": len(result.records),
                     "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                     "time": {"wall_s": round(result.wall_s, 3), "answer_s": round(result.answer_s, 3),
                              "grade_s": round(result.grade_s, 3)}},
            "summary": summarise(result.records, seed),
            "definitions": [{"key": m.key, "group": m.group, "formula": m.formula, "over": m.over,
                             "higher_is_better": m.higher_is_better, "judged": m.judged} for m in METRICS],
            "records": result.records}


def write(report: dict, out: Path) -> dict:
    """Write report.md, report.html and then report.json (which records how long the other two took).

    Each file is written whole or not at all, and a last run's report.json goes first: a run killed part-way
    leaves no report.json, never one of another run beside this run's report.md, nor half a file.
    """
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").unlink(missing_ok=True)
    started = time.perf_counter()
    _write(out / "report.md", markdown(report))
    _write(out / "report.html", html.page(report))
    t = report["meta"]["time"]
    t["report_s"] = round(time.perf_counter() - started, 3)
    spent = t["answer_s"] + t["grade_s"] + t["report_s"]
    # Thread-seconds, so that concurrent answering does not hide the evaluation's own work.
    t["overhead_share"] = round((t["grade_s"] + t["report_s"]) / spent, 4) if spent else None
    _write(out / "report.json", json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    return report


def _write(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def load(run_dir: Path) -> dict:
    """A report.json written by `write`, from its run folder (or the file itself)."""
    path = run_dir / "report.json" if run_dir.is_dir() else run_dir
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GroundworkError(f"{path} is no report eval run wrote ({exc}); make it again with: groundwork eval run "
                              f"--dataset FILE --out {path.parent}") from None


def markdown(report: dict) -> str:
    """report.md: the same numbers as report.html, as tables."""
    meta, summary = report["meta"], report["summary"]
    c = summary["counts"]
    lines = [f"# Eval report: {meta.get('dataset', '?')}", "",
             f"- library `{meta.get('library')}`, mode **{meta.get('mode')}**, model {meta.get('model') or 'none'}",
             f"- support judged by: **{judge_line(meta)}**",
             f"- {c['questions']} questions ({c['answerable']} answerable, {c['unanswerable']} unanswerable, "
             f"{c['unlabelled']} unlabelled): {c['answered']} answered, {c['abstained']} abstained, "
             f"{c['incomplete']} incomplete, {c['errors']} errors",
             f"- {meta['workers']} at once; wall {meta['time']['wall_s']:.1f} s", "",
             "| metric | value | 95% CI | n | formula | over |", "|---|---|---|---|---|---|"]
    for d in report["definitions"]:
        m = summary["metrics"][d["key"]]
        ci = f"{fmt(m['ci'][0])} – {fmt(m['ci'][1])}" if m["ci"] else "-"
        arrow = "" if d["higher_is_better"] else " (lower is better)"
        lines.append(f"| {d['key']}{arrow} | {value(report, d['key'])} | {ci} | {m['n']} | {d['formula']} | {d['over']} |")
    lines += _gate_table(summary.get("gates") or {})
    lines += ["", "| stage | p50 s | p95 s | n |", "|---|---|---|---|"]
    lines += [f"| {k} | {fmt(v['p50'])} | {fmt(v['p95'])} | {v['n']} |" for k, v in summary["latency"].items()]
    tok = summary["tokens"]
    lines += ["", f"Tokens: {tok['in_total']} in, {tok['out_total']} out ({tok['in_mean']:.0f} / "
              f"{tok['out_mean']:.0f} per question)" if tok else "Tokens: no model was called.", "",
              "## Worst questions", "", "| id | question | answer | unsupported |", "|---|---|---|---|"]
    for r in worst(report["records"]):
        lines.append(f"| {r['id']} | {_cell(r['question'])} | {_cell(r.get('answer') or r.get('error') or '')} | "
                     f"{_cell('; '.join(unsupported(r)))} |")
    return "\n".join(lines) + "\n"


def _gate_table(gates: dict) -> list[str]:
    """The abstention gate alone beside trivial gates, on the run's own questions."""
    if not gates:
        return []
    return ["", "Abstention gate alone, on the same evidence (the engine's refusal above adds verification's):", "",
            "| gate | refusal (unanswerable) | false refusal (answerable) |", "|---|---|---|",
            *(f"| {name} | {gate_cell(g['refusal'])} | {gate_cell(g['false_refusal'])} |" for name, g in gates.items())]


def _cell(text: str, width: int = 160) -> str:
    flat = " ".join(text.split()).replace("|", "\\|")
    return flat if len(flat) <= width else flat[:width] + " …"
