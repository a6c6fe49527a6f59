"""report.html: one self-contained page (inline CSS, plots as base64 PNG) that opens offline."""
from __future__ import annotations

from html import escape

from eval import plots
from eval.summary import JUDGED, STAGES, worst

_CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ddd;padding:3px 7px;vertical-align:top}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
mark.bad{background:#f8c9c9}mark.ok{background:#d5f0d5}.small{font-size:12px;color:#555}img{max-width:100%}"""


NOT_MEASURED = "not measured"
NO_JUDGE = ("no judge independent of the engine's verifier, so faithfulness, hallucination and citation "
            "precision are not measured (add --judge or --judge-verifier)")


def fmt(value: float | None, digits: int = 3) -> str:
    """A figure for a table: '-' when undefined."""
    return "-" if value is None else f"{value:.{digits}f}"


def value(report: dict, key: str) -> str:
    """A report's figure for a table: 'not measured' where the run had no judge to measure it, else fmt's."""
    if report["meta"].get("checker") is None and key in JUDGED:
        return NOT_MEASURED
    return fmt(report["summary"]["metrics"][key]["value"])


def judge_line(meta: dict) -> str:
    """Who judged support in a run, or why nothing did."""
    return meta.get("checker") or NO_JUDGE


def gate_cell(m: dict) -> str:
    """A gate's rate with its 95% interval and n, for a table: '-' when no question applies."""
    return f"{fmt(m['value'])} [{fmt(m['ci'][0])}, {fmt(m['ci'][1])}] (n {m['n']})" if m["ci"] else "-"


def unsupported(record: dict) -> list[str]:
    """The units shown in an answer that its passages do not support."""
    return [u["text"] for s in record.get("sentences", []) for u in s["units"] if not u["supported"]]


def page(report: dict) -> str:
    """The whole HTML page of a report."""
    meta, summary = report["meta"], report["summary"]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Eval {escape(str(meta.get('dataset')))}"
             f"</title><style>{_CSS}</style></head><body>",
             f"<h1>Eval report: {escape(str(meta.get('dataset')))}</h1>", _meta(meta, summary["counts"]),
             "<h2>Summary</h2>", _summary_table(report), _gates(summary.get("gates") or {}),
             "<h2>Metrics</h2>", _img(_bars(report)),
             "<h2>Retrieval: rank of the first gold passage</h2>",
             _img(plots.rank_histogram(summary["gold_ranks"])) if summary["gold_ranks"] else "<p>No gold pages.</p>",
             "<h2>Latency</h2>", _latency(report), "<h2>Worst questions</h2>", _worst(report["records"]),
             "</body></html>"]
    return "\n".join(parts)


def _meta(meta: dict, c: dict) -> str:
    t = meta["time"]
    return (f"<p>Library <code>{escape(str(meta.get('library')))}</code>, mode <b>{escape(str(meta.get('mode')))}</b>, "
            f"model {escape(str(meta.get('model') or 'none'))}; support judged by <b>{escape(judge_line(meta))}</b>."
            f"<br>{c['questions']} questions ({c['answerable']} answerable, {c['unanswerable']} unanswerable, "
            f"{c['unlabelled']} unlabelled): {c['answered']} answered, {c['abstained']} abstained, "
            f"{c['incomplete']} incomplete, {c['errors']} errors. {meta['workers']} at once, wall {t['wall_s']:.1f} s "
            f"(answering {t['answer_s']:.1f} s, grading {t['grade_s']:.1f} s). {escape(meta.get('created', ''))}</p>")


def _summary_table(report: dict) -> str:
    rows = ["<table><tr><th>group</th><th>metric</th><th>value</th><th>95% CI</th><th>n</th><th>formula</th>"
            "<th>over</th></tr>"]
    for d in report["definitions"]:
        m = report["summary"]["metrics"][d["key"]]
        ci = f"{fmt(m['ci'][0])} – {fmt(m['ci'][1])}" if m["ci"] else "-"
        better = "" if d["higher_is_better"] else " <span class='small'>(lower is better)</span>"
        rows.append(f"<tr><td>{d['group']}</td><td>{escape(d['key'])}{better}</td><td class='num'>{value(report, d['key'])}"
                    f"</td><td class='num'>{ci}</td><td class='num'>{m['n']}</td><td>{escape(d['formula'])}</td>"
                    f"<td>{escape(d['over'])}</td></tr>")
    return "".join(rows) + "</table>"


def _gates(gates: dict) -> str:
    """The abstention gate alone beside trivial gates, on the run's own questions."""
    if not gates:
        return ""
    rows = "".join(f"<tr><td>{escape(name)}</td><td class='num'>{gate_cell(g['refusal'])}</td>"
                   f"<td class='num'>{gate_cell(g['false_refusal'])}</td></tr>" for name, g in gates.items())
    return ("<p>Abstention gate alone, on the same evidence (the engine's refusal above adds verification's):</p>"
            "<table><tr><th>gate</th><th>refusal (unanswerable)</th><th>false refusal (answerable)</th></tr>"
            f"{rows}</table>")


def _bars(report: dict) -> str | None:
    metrics = report["summary"]["metrics"]
    rows = [(d["key"], d["group"], metrics[d["key"]]["value"], metrics[d["key"]]["ci"])
            for d in report["definitions"] if metrics[d["key"]]["value"] is not None]
    return plots.metric_bars(rows) if rows else None


def _latency(report: dict) -> str:
    lat, tok = report["summary"]["latency"], report["summary"]["tokens"]
    table = "<table><tr><th>stage</th><th>p50 s</th><th>p95 s</th><th>n</th></tr>" + "".join(
        f"<tr><td>{k}</td><td class='num'>{fmt(v['p50'])}</td><td class='num'>{fmt(v['p95'])}</td>"
        f"<td class='num'>{v['n']}</td></tr>" for k, v in lat.items()) + "</table>"
    series = {s: [r["timings"][s] for r in report["records"] if s in r.get("timings", {})] for s in STAGES}
    series = {s: v for s, v in series.items() if v and max(v) > 0}  # a stage that never ran (rewrite) says nothing
    tokens = (f"<p>Tokens: {tok['in_total']} in, {tok['out_total']} out ({tok['in_mean']:.0f} / {tok['out_mean']:.0f} "
              f"per question).</p>") if tok else "<p>Tokens: no model was called.</p>"
    return table + (_img(plots.latency_boxes(series)) if series else "") + tokens


def _worst(records: list[dict]) -> str:
    rows = ["<table><tr><th>id</th><th>question</th><th>gold</th><th>answer (unsupported highlighted)</th>"
            "<th>citations</th><th>scores</th></tr>"]
    for r in worst(records):
        gold = ", ".join(f"{d} p{p}" for d, p in r.get("gold", []))
        answers = "; ".join(r.get("answers", []))
        cites = "<br>".join(f"[{c['n']}] {escape(c['doc'])} p{c['page']}" + (" ✓gold" if c["gold"] else "")
                            + ("" if c["supports"] else " <mark class='bad'>no support</mark>")
                            for c in r.get("citations", []))
        scores = ", ".join(f"{k} {fmt(v, 2)}" for k, v in r.get("scores", {}).items()
                           if v is not None and k in ("faithfulness", "hallucination", "contains_answer",
                                                      "refusal", "false_refusal", "recall@5"))
        rows.append(f"<tr><td>{escape(r['id'])}</td><td>{escape(r['question'])}</td>"
                    f"<td>{escape(answers)}<br><span class='small'>{escape(gold)}</span></td>"
                    f"<td>{_answer(r)}</td><td>{cites}</td><td class='small'>{scores}</td></tr>")
    return "".join(rows) + "</table>" if len(rows) > 1 else "<p>No question went wrong.</p>"


def _answer(record: dict) -> str:
    if record.get("error"):
        return f"<mark class='bad'>error: {escape(record['error'])}</mark>"
    shown = [s for s in record.get("sentences", []) if s["shown"]]
    if record.get("abstained") or not shown:
        tried = "".join(f"<br><span class='small'>rejected: {escape(s['text'])}</span>"
                        for s in record.get("sentences", []) if not s["engine_supported"])
        return f"<i>{escape(record.get('answer', ''))}</i>{tried}"
    out = []
    for s in shown:
        bad = [u["text"] for u in s["units"] if not u["supported"]]
        text = escape(s["text"]) + "".join(f"[{n}]" for n in s["citations"])
        out.append(f"<mark class='bad'>{text}</mark>" if bad else text)
        out += [f"<br><span class='small'>unsupported claim: <mark class='bad'>{escape(b)}</mark></span>"
                for b in bad if b != s["text"]]
    return " ".join(out)


def _img(data: str | None) -> str:
    return f"<img alt='plot' src='data:image/png;base64,{data}'>" if data else "<p>Nothing to plot.</p>"
