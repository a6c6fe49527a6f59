"""The entry script of `streamlit run`: page setup and navigation between Ask, Library, Feedback and Evaluate."""
import sys
from pathlib import Path

# `streamlit run` puts this file's folder on sys.path, not the project's.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import streamlit as st  # noqa: E402

from app.ui.nav import pages  # noqa: E402

st.set_page_config(page_title="Groundwork", page_icon="📚", layout="wide")
st.navigation(list(pages().values())).run()
