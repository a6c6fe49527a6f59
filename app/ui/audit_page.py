"""Audit (admins only): every answer given, who asked, what they were shown; filtered, and exported as JSONL."""
from __future__ import annotations

import io

import streamlit as st

from app.ui import state


def page() -> None:
    """The Audit page."""
    state.style()
    st.header("Audit trail", anchor=False)
    reader = state.user()
    library = state.library()
    if not state.manages(reader):
        st.info("Only an admin may read the audit trail.", icon=":material/lock:")
        return
    if library is None:
        st.info("No library yet: nothing has been asked.", icon=":material/library_books:")
        return
    users = sorted({e.user for e in library.audit.entries(reader)})
    who = st.selectbox("User", [None, *users], format_func=lambda u: "Everyone" if u is None else (u or "(command line)"))
    entries = library.audit.entries(reader, user=who)
    export = io.StringIO()
    count = library.audit.export_jsonl(export, reader, user=who)
    st.download_button(f"Download {count} as JSONL", export.getvalue(), file_name="groundwork-audit.jsonl",
                       mime="application/jsonl", icon=":material/download:", disabled=not count,
                       help="One JSON object per answer: when, user, question, passages, model, mode, verdicts, answer")
    if not entries:
        st.caption("No answers recorded yet.")
        return
    rows = [{"When": e.at.replace("T", " ")[:19], "User": e.user or "(command line)", "Question": e.question,
             "Answer": e.answer, "Passages": "; ".join(f"{p['doc_id']} p.{p['page']}" for p in e.passages),
             "Mode": e.mode + (f" · {e.model}" if e.model else "")} for e in reversed(entries)]
    st.dataframe(rows, hide_index=True, width="stretch")
