"""The sign-in gate main.py runs before any page: a form for local accounts, or a trusted proxy's header.

A single-user library (no accounts, no proxy header configured) opens as before, with full
access, and the sidebar says so. Otherwise nothing but this form shows until someone signs in.
Streamlit keeps no cookie of ours: a reload of the page is a new session, which signs in again.
"""
from __future__ import annotations

import streamlit as st

from app import wiring
from app.ui import state
from app.ui.login import PasswordSignIn, proxy_user
from app.ui.plain import plain
from index.access import Reader
from index.errors import GroundworkError
from index.store import Library

BY_PROXY = "signed_in_by_proxy"


def gate() -> Reader | None:
    """The reader this session uses (None: single-user library); shows the form and stops the run until then."""
    library = state.library()
    if not state.sign_in_required(library):
        st.session_state.pop(state.SIGNED_IN, None)  # the last account is gone: the library is single-user again
        _single_user_note()
        return None
    if library is None:
        st.error("This UI signs people in, but there is no library with accounts yet. Add one with: "
                 "groundwork users add NAME --admin", icon=":material/lock:")
        st.stop()
    _from_proxy(library)
    reader = state.signed_in(library)
    if reader is None:
        _form(library)
        st.stop()
    _sidebar(reader)
    return reader


def _from_proxy(library: Library) -> None:
    """Sign the session in as the user a configured proxy vouches for, if this request came through one."""
    cfg = state.config()
    if not cfg.auth_header:
        return
    # Streamlit reports a loopback peer as None; without a session (AppTest) it is None and no headers come.
    name = proxy_user(cfg.auth_header, cfg.auth_proxies, st.context.ip_address,
                      st.context.headers.get_all(cfg.auth_header))
    if name is None:
        return
    try:
        wiring.reader_for(library, name)
    except GroundworkError:
        st.error(f"Your sign-on names you {plain(name)}, and this library has no account of that name. "
                 "An admin adds it with: groundwork users add NAME", icon=":material/lock:")
        return
    if st.session_state.get(state.SIGNED_IN) != name:
        st.session_state.clear()
        st.session_state.update({state.SIGNED_IN: name, BY_PROXY: True})


def _form(library: Library) -> None:
    """The sign-in form; on success the session starts afresh as that account."""
    _, middle, _ = st.columns([1, 2, 1])
    with middle, st.form("sign-in", clear_on_submit=True):
        st.subheader("Sign in to Groundwork", anchor=False)
        name = st.text_input("Name", autocomplete="username", key="sign-in-name")
        password = st.text_input("Password", type="password", autocomplete="current-password", key="sign-in-password")
        if not st.form_submit_button("Sign in", type="primary", icon=":material/login:"):
            return
        outcome = _password_sign_in(str(library.root)).attempt(name, password)
        if outcome.reader is None:
            st.error(outcome.message, icon=":material/lock:")
            return
    account = library.accounts.user(outcome.reader.name)
    if account is None:  # removed since its password was checked
        return
    st.session_state.clear()  # nothing of an earlier user's session (answers, filters) carries over
    st.session_state.update({state.SIGNED_IN: account.name, state.SIGNED_IN_SINCE: account.created_at})
    st.rerun()


@st.cache_resource(show_spinner=False)
def _password_sign_in(root: str) -> PasswordSignIn:
    """One per library and process: it remembers failures of names without an account across sessions."""
    return PasswordSignIn(state.library().accounts)


def _sidebar(reader: Reader) -> None:
    """Who is signed in, and the way out."""
    with st.sidebar:
        role = "admin" if state.manages(reader) else ", ".join(reader.groups) or "no groups"
        st.caption(f":material/person: Signed in as **{plain(reader.name)}** ({plain(role)})")
        if st.session_state.get(BY_PROXY):
            st.caption("Signed in by your organisation's sign-on; sign out there.")
        elif st.button("Sign out", icon=":material/logout:", key="sign-out"):
            st.session_state.clear()
            st.rerun()


def _single_user_note() -> None:
    with st.sidebar:
        st.caption(":material/person: Single-user library: no accounts, so whoever opens this page reads and "
                   "manages every document. Add accounts with `groundwork users add NAME`.")
