"""What the pages share: configuration, the library, who reads it, the answer engine, the model server's state.

The engine is cached per library, mode and commit counter: after an ingest or a delete the
counter moves, and the next question gets an engine whose search index holds the change.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import streamlit as st

from app import wiring
from app.config import Config, load_config
from index.access import Reader
from index.store import Library
from qa.records import MODES as ANSWER_MODES

log = logging.getLogger("groundwork.ui")
MODES = dict(zip(ANSWER_MODES, ("Extractive — quotes the documents (no model)",
                                "Guided — the model picks the best quote",
                                "Generative — the model writes, every sentence checked")))


def config() -> Config:
    """Configuration as `groundwork ui` passed it: GROUNDWORK_CONFIG and GROUNDWORK_* variables."""
    return load_config(os.environ.get("GROUNDWORK_CONFIG"))


def library_root() -> Path:
    """The library folder, absolute."""
    return Path(config().library).expanduser().resolve()


SIGNED_IN = "signed_in"  # session key: the account this session signed in as (app/ui/signin.py sets it)
SIGNED_IN_SINCE = "signed_in_since"  # and when that account was made: a new account of the same name is someone else


def library() -> Library | None:
    """The library for listing and reading pages, or None while it does not exist yet."""
    root = library_root()
    if not Library.exists(root):
        return None
    return _library(str(root), config())


@st.cache_resource(show_spinner=False)
def _library(root: str, _cfg: Config) -> Library:
    return wiring.open_library(_cfg)


def sign_in_required(found: Library | None) -> bool:
    """Whether this UI signs people in: once the library has an account, or a proxy header is configured."""
    return bool(config().auth_header) or (found is not None and found.count("users") > 0)


def user() -> Reader | None:
    """Who this session reads as: the signed-in account, or None on a single-user library (full access).

    Anyone else (not signed in, or an account removed since) is stopped here, so a page never runs
    for them even when it runs outside main.py's sign-in gate.
    """
    found = library()
    if not sign_in_required(found):
        return None
    reader = signed_in(found)
    if reader is None:
        st.stop()
    return reader


def signed_in(found: Library | None) -> Reader | None:
    """The account this session signed in as, while it exists; a removed account's session is forgotten."""
    name = st.session_state.get(SIGNED_IN)
    if name is None or found is None:
        return None
    account = found.accounts.user(name)
    # A password signs in one account, not a name: one removed and made again (a newcomer, say) is not it.
    # A proxy's session sets no time: the proxy vouches for the name on every request.
    since = st.session_state.get(SIGNED_IN_SINCE)
    if account is None or since not in (None, account.created_at):
        st.session_state.clear()
        return None
    return Reader(account.name, account.groups, account.admin)  # from the one lookup: a removal in between cannot raise


def manages(reader: Reader | None) -> bool:
    """Whether `reader` may upload, delete, evaluate and read the audit trail: an admin, or a single-user library."""
    found = library()
    return found is None or found.scope(reader) is None


def engine(mode: str):
    """The answer engine for the library as it stands now (None without a library)."""
    found = library()
    if found is None:
        return None
    cfg = config()
    return _engine(str(found.root), mode, found.epoch(), repr(cfg), cfg)


@st.cache_resource(show_spinner="Loading the search index …", max_entries=2)
def _engine(root: str, mode: str, epoch: int, config_key: str, _cfg: Config):
    return wiring.answer_engine(_cfg, wiring.open_library(_cfg), mode)


def embedder():
    """The embedding model ingestion uses, loaded once per process and configuration."""
    cfg = config()
    return _embedder(cfg.embedding_model, cfg.embedding_backend, cfg)


@st.cache_resource(show_spinner="Loading the embedding model …")
def _embedder(model: str, backend: str, _cfg: Config):
    return wiring.embedder(_cfg)


@st.cache_data(ttl=10, show_spinner=False)
def model_server(url: str) -> tuple[str, str]:
    """(served model name, '') when a model server answers at url, else ('', why not)."""
    from qa.llm import LLMClient, LLMError
    try:
        return LLMClient(url, timeout=3.0, retries=0).model, ""
    except LLMError as exc:
        return "", str(exc)


def filters() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The (document ids, tags) questions are limited to; empty means the whole library."""
    return tuple(st.session_state.get("filter_docs", ())), tuple(st.session_state.get("filter_tags", ()))


def style() -> None:
    """The few styles the pages share: marks, rejected sentences, citation links."""
    st.html("""<style>
    .gw-answer { font-size: 1.02rem; line-height: 1.6; }
    .gw-cite { text-decoration: none; font-size: .78em; vertical-align: super; margin-left: 1px; }
    .gw-unsupported { text-decoration: line-through; color: #b42318; background: #fef3f2;
                      border-radius: 3px; padding: 0 2px; cursor: help; }
    .gw-why { color: #b42318; font-size: .8em; }
    .gw-passage { font-size: .92rem; line-height: 1.5; max-height: 22rem; overflow-y: auto; }
    .gw-passage mark { background: #ffe066; padding: 0 1px; border-radius: 2px; }
    .gw-anchor { scroll-margin-top: 4rem; }
    [data-testid="stExpander"] [data-testid="stImage"] img { border: 1px solid #d0d4dc;
                      box-shadow: 0 1px 4px rgba(0, 0, 0, .12); }
    </style>""")
