"""Evaluate: run the evaluation harness on a question set over this library, and browse its reports."""
from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from app import wiring
from app.ui import state
from app.ui.plain import plain
from index.feedback import FeedbackLog

RUNS = "eval-runs"  # inside the library folder: reports belong to the library they measured
PACKAGED = Path(__file__).resolve().parents[2] / "eval" / "data"
FEEDBACK = "Feedback given in this UI"
HEADLINE = (("hit@5", "Hit@5"), ("faithfulness", "Faithfulness"), ("hallucination", "Hallucination"),
            ("refusal", "Refusal"))


def page() -> None:
    """The Evaluate page."""
    state.style()
    st.header("Evaluate", anchor=False)
    if not state.manages(state.user()):
        # A run reads the whole library and its reports quote any document: not for a reader with a scope.
        st.info("Only an admin may run evaluations and read their reports.", icon=":material/lock:")
        return
    if state.library() is None or not state.library().documents():
        st.info("No documents yet — upload some on the Library page, then evaluate answers over them.",
                icon=":material/library_books:")
        return
    runs = state.library_root() / RUNS
    _start(runs)
    _reports(runs)


def _datasets() -> dict[str, str]:
    found = {f"{p.stem} (packaged question set)": str(p) for p in sorted(PACKAGED.glob("*.jsonl"))}
    return {**found, FEEDBACK: FEEDBACK}


def _start(runs: Path) -> None:
    """Pick a question set, a sample and a mode; run it with a progress bar."""
    with st.form("eval-start", border=True):
        sets = _datasets()
        left, middle, right = st.columns([3, 1, 2])
        label = left.selectbox("Question set", list(sets))
        sample = middle.number_input("Questions", min_value=1, max_value=1000, value=20,
                                     help="a seeded sample of the set; a run answers each in turn")
        mode = right.selectbox("Answer mode", list(state.MODES), format_func=lambda m: m.capitalize(),
                               index=list(state.MODES).index(state.config().answer_mode))
        other = wiring.default_judge(state.config().verifier)
        judge = st.checkbox("Judge grounding with the model server", help="faithfulness and hallucination need a "
                            f"judge other than the engine's own verifier; unticked, the {other} verifier judges"
                            + (" (a weak judge: it misses unsupported sentences)" if other == "features" else ""))
        if not st.form_submit_button("Start evaluation", type="primary", icon=":material/play_arrow:"):
            return
    out = runs / f"{time.strftime('%Y%m%d-%H%M%S')}-{mode}"
    try:
        questions = _questions(sets[label], int(sample), out)
        _run(questions, label, mode, out, judge)
    except Exception as exc:  # noqa: BLE001 - the page shows one line; the terminal gets the traceback
        state.log.exception("evaluation failed")
        st.error(f"The evaluation stopped: {plain(exc)}", icon=":material/warning:")
        return
    st.session_state["eval_run"] = out.name
    st.success(f"Evaluation of {len(questions)} question{'s' if len(questions) != 1 else ''} written to {plain(out)}.",
               icon=":material/check_circle:")


def _questions(source: str, sample: int, out: Path):
    if source == FEEDBACK:
        out.mkdir(parents=True, exist_ok=True)
        exported = out / "feedback.jsonl"
        with FeedbackLog(state.library_root()) as log, open(exported, "w", encoding="utf-8") as f:
            if not log.export_jsonl(f):
                raise ValueError("no feedback yet: rate some answers on the Ask page first")
        source = str(exported)
    return wiring.eval_questions(state.config(), source, sample, 0, out)


def _run(questions, label: str, mode: str, out: Path, judge: bool) -> None:
    """Answer and grade every question, advancing a bar; then write report.json, .md and .html."""
    from eval import report
    from eval.run import run_questions
    bar = st.progress(0.0, text=f"Answering {len(questions)} questions …")

    def advance(done: int, total: int, record: dict) -> None:
        bar.progress(done / total, text=f"{done} of {total} answered — {plain(record['question'][:80])}")

    cfg = state.config()
    with wiring.answering_library(cfg) as (library, _):  # the wiring `groundwork eval run` uses: the same figures
        engine, grader, meta = wiring.evaluation(
            cfg, library, mode=mode, judge=judge, dataset=label,
            command=f"groundwork ui (Evaluate page): {label}, {len(questions)} questions, {mode}")
        result = run_questions(engine, questions, grader, workers=1, on_done=advance)
    report.write(report.build(result, meta), out)
    bar.empty()


def _reports(runs: Path) -> None:
    """The runs of this library, newest first; the chosen one's headline figures and its HTML report."""
    done = sorted((p for p in runs.glob("*") if (p / "report.json").exists()), reverse=True)
    if not done:
        st.caption("No evaluation runs yet. Start one above; its report appears here.")
        return
    from eval import report
    st.subheader("Reports", anchor=False)
    names = [p.name for p in done]
    chosen = st.session_state.get("eval_run")
    name = st.selectbox("Run", names, index=names.index(chosen) if chosen in names else 0)
    data = report.load(runs / name)
    from eval.html import judge_line, value
    columns = st.columns(len(HEADLINE))
    for column, (key, title) in zip(columns, HEADLINE):
        column.metric(title, value(data, key))
    st.caption(plain(f"Support judged by: {judge_line(data['meta'])}."))
    meta = {key: plain(data["meta"].get(key, "")) for key in ("dataset", "mode", "questions", "created")}
    st.caption(f"{meta['dataset']} · {meta['mode']} · {meta['questions']} "
               f"questions · {meta['created']}")
    st.iframe(runs / name / "report.html", height=900)
