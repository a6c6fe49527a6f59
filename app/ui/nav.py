"""Links between pages: main.py registers the pages it navigates, and a page links to another by name.

The pages import this module and never the other way round, so no page import runs in a circle.
"""
from __future__ import annotations

import streamlit as st

_pages: dict[str, st.Page] = {}


def register(pages: dict[str, st.Page]) -> None:
    """The pages of this app by name, as main.py builds them for st.navigation."""
    _pages.clear()
    _pages.update(pages)


def link(name: str, label: str, icon: str) -> None:
    """A link to the page called `name`; nothing when a page runs alone, outside main.py's navigation."""
    if name in _pages:
        st.page_link(_pages[name], label=label, icon=icon)
