"""The entry script of `streamlit run`: page setup and navigation between Ask, Library, Feedback and Evaluate."""
import sys
from pathlib import Path

# `streamlit run` puts this file's folder on sys.path, not the project's.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import streamlit as st  # noqa: E402

from app.ui import ask_page, evaluate_page, feedback_page, library_page, nav  # noqa: E402

st.set_page_config(page_title="Groundwork", page_icon="📚", layout="wide")
pages = {"Ask": st.Page(ask_page.page, title="Ask", icon=":material/chat:", url_path="ask", default=True),
         "Library": st.Page(library_page.page, title="Library", icon=":material/library_books:", url_path="library"),
         "Feedback": st.Page(feedback_page.page, title="Feedback", icon=":material/thumbs_up_down:",
                             url_path="feedback"),
         "Evaluate": st.Page(evaluate_page.page, title="Evaluate", icon=":material/analytics:", url_path="evaluate")}
nav.register(pages)
st.navigation(list(pages.values())).run()
