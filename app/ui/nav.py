"""The pages of the UI, by name, for navigation and for links between pages."""
from __future__ import annotations

import streamlit as st


def pages() -> dict[str, st.Page]:
    """Ask, Library, Feedback and Evaluate as Streamlit pages (imported here, so pages can link to each other)."""
    from app.ui import ask_page, evaluate_page, feedback_page, library_page
    return {"Ask": st.Page(ask_page.page, title="Ask", icon=":material/chat:", url_path="ask", default=True),
            "Library": st.Page(library_page.page, title="Library", icon=":material/library_books:", url_path="library"),
            "Feedback": st.Page(feedback_page.page, title="Feedback", icon=":material/thumbs_up_down:", url_path="feedback"),
            "Evaluate": st.Page(evaluate_page.page, title="Evaluate", icon=":material/analytics:", url_path="evaluate")}
