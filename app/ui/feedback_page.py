"""Feedback: what users said about answers (a non-admin sees its own), and its export as JSONL for evaluation."""
from __future__ import annotations

import io

import streamlit as st

from app.ui import state
from index.feedback import FeedbackLog

FILTERS = {"All": None, ":material/thumb_up: Helpful": 1, ":material/thumb_down: Not helpful": -1}


def page() -> None:
    """The Feedback page."""
    state.style()
    st.header("Feedback", anchor=False)
    reader = state.user()
    if state.library() is None:
        st.info("No library yet — upload documents on the Library page, then ask on the Ask page.", icon=":material/library_books:")
        return
    with FeedbackLog(state.library_root()) as log:
        everything = log.entries(reader=reader)
        shown = st.segmented_control("Show", list(FILTERS), default="All", key="fb-filter") or "All"
        items = log.entries(FILTERS[shown], reader=reader)
        export = io.StringIO()
        count = log.export_jsonl(export, FILTERS[shown], reader=reader)
    if not everything:
        st.info("No feedback yet — rate answers with the thumbs under each answer on the Ask page.", icon=":material/chat:")
        return
    up = sum(i.rating > 0 for i in everything)
    total, good, bad = st.columns(3)
    total.metric("Answers rated", len(everything))
    good.metric(":material/thumb_up: Helpful", up)
    bad.metric(":material/thumb_down: Not helpful", len(everything) - up)
    st.download_button(f"Download {count} as JSONL", export.getvalue(), file_name="groundwork-feedback.jsonl",
                       mime="application/jsonl", icon=":material/download:", disabled=not count,
                       help="One JSON object per line: question, answer, citations, rating, comment, model, mode")
    rows = [{"When": i.created_at.replace("T", " ")[:16], "Rating": "Helpful" if i.rating > 0 else "Not helpful",
             "Question": i.question, "Answer": i.answer, "Comment": i.comment,
             "Sources": "; ".join(f"{c['doc']} p.{c['page']}" for c in i.citations),
             "Mode": i.mode + (f" · {i.model}" if i.model else "")} for i in items]
    st.dataframe(rows, hide_index=True, width="stretch")
