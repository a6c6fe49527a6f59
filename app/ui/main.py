"""The entry script of `streamlit run`: page setup, sign-in, and navigation between the pages a reader may use."""
import sys
from pathlib import Path

# `streamlit run` puts this file's folder on sys.path, not the project's.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import streamlit as st  # noqa: E402

from app.ui import ask_page, audit_page, evaluate_page, feedback_page, library_page, nav, signin, state  # noqa: E402

st.set_page_config(page_title="Groundwork", page_icon="📚", layout="wide")
admin = state.manages(signin.gate())  # nothing below runs until someone is signed in, where accounts exist
pages = {"Ask": st.Page(ask_page.page, title="Ask", icon=":material/chat:", url_path="ask", default=True),
         "Library": st.Page(library_page.page, title="Library", icon=":material/library_books:", url_path="library"),
         "Feedback": st.Page(feedback_page.page, title="Feedback", icon=":material/thumbs_up_down:",
                             url_path="feedback")}
if admin:  # evaluation reports and the audit trail quote every document: admins only
    pages["Evaluate"] = st.Page(evaluate_page.page, title="Evaluate", icon=":material/analytics:", url_path="evaluate")
    pages["Audit"] = st.Page(audit_page.page, title="Audit", icon=":material/policy:", url_path="audit")
nav.register(pages)
st.navigation(list(pages.values())).run()
