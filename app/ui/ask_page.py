"""Ask: a chat over the library. Answers stream in, then show verified and cited."""
from __future__ import annotations

import html
import uuid

import streamlit as st

from app import wiring
from app.ui import nav, state
from app.ui.answer_view import show_answer, show_turn
from app.ui.plain import plain
from index.access import Reader
from index.search import Filters
from index.store import LibraryError
from qa.engine import QuestionError
from qa.llm import LLMError


def page() -> None:
    """The Ask page."""
    state.style()
    reader = state.user()
    library = state.library()
    docs = library.documents(reader=reader) if library else []
    mode = _settings(len(docs))
    st.header("Ask your documents", anchor=False)
    if not docs:
        st.info("No documents yet — upload some on the Library page.", icon=":material/library_books:")
        nav.link("Library", label="Go to the Library", icon=":material/arrow_forward:")
        return
    _filter_note(docs)
    turns: list[dict] = st.session_state.setdefault("turns", [])
    _forget_unreadable(turns, {d.doc_id for d in docs})
    if not turns:
        st.caption(f"Ask a question about your {len(docs)} document{'s' if len(docs) > 1 else ''}. Every "
                   "sentence of an answer is checked against the passages it cites; follow-ups use the conversation.")
    for i, turn in enumerate(turns):
        show_turn(turn, latest=i == len(turns) - 1)
    question = st.chat_input("Ask a question about your documents")
    if question and _model_ready(mode):
        _ask(question, mode, turns, reader)


def _forget_unreadable(turns: list[dict], readable: set[str]) -> None:
    """Drop answers that cite a document this reader may no longer read (a group taken away mid-conversation)."""
    turns[:] = [t for t in turns if {p.chunk.doc_id for p in t["answer"].shown()} <= readable]


def _settings(n_docs: int) -> str:
    """The sidebar: answer mode, a new conversation; returns the mode."""
    with st.sidebar:
        modes = list(state.MODES)
        chosen = st.session_state.get("answer_mode", state.config().answer_mode)
        st.radio("Answer mode", modes, index=modes.index(chosen) if chosen in modes else 0,
                 format_func=lambda m: state.MODES[m], key="_answer_mode",
                 on_change=lambda: st.session_state.update(answer_mode=st.session_state["_answer_mode"]))
        if st.button("New conversation", icon=":material/restart_alt:", disabled=not st.session_state.get("turns")):
            st.session_state["turns"] = []
        st.caption(f"Library: {plain(state.library_root())} · {n_docs} documents")
    return st.session_state.get("_answer_mode", chosen)


def _filter_note(docs) -> None:
    doc_ids, tags = state.filters()
    if not doc_ids and not tags:
        return
    titles = [d.title for d in docs if d.doc_id in doc_ids]
    scope = ", ".join(titles + [f"tag {t}" for t in tags])
    note, clear = st.columns([5, 1], vertical_alignment="center")
    note.caption(f"Searching only: {plain(scope)} (set on the Library page)")
    if clear.button("Search all", key="clear-filter"):
        st.session_state["filter_docs"], st.session_state["filter_tags"] = [], []
        st.rerun()


def _model_ready(mode: str) -> bool:
    """Guided and generative answers need a model server; say how to start one when none answers."""
    if mode == "extractive":
        return True
    name, why = state.model_server(state.config().server_url)
    if not name:
        st.warning(f"{mode.capitalize()} answers need a model server, and {plain(why)}. Start one with "
                   "`groundwork serve --detach`, or choose Extractive in the sidebar.", icon=":material/warning:")
    return bool(name)


def _ask(question: str, mode: str, turns: list[dict], reader: Reader | None) -> None:
    """Answer one question from what `reader` may read, streaming what the model writes; record it, keep the turn."""
    with st.chat_message("user"):
        st.html(f"<div>{html.escape(question)}</div>")
    with st.chat_message("assistant"):
        live = st.empty()
        pieces: list[str] = []

        def stream(piece: str) -> None:
            pieces.append(piece)
            live.html(f'<div class="gw-answer">{html.escape("".join(pieces))}▌</div>')

        try:
            with st.spinner("Searching your documents …"):
                engine = state.engine(mode)
                answer = engine.answer(question, history=[(t["answer"].query, t["answer"].text) for t in turns],
                                       filters=Filters(*state.filters()), on_text=stream, reader=reader)
                model = wiring.answer_model(engine)
                # Recorded before it is shown: an answer the audit trail lacks is not given.
                wiring.record_answer(state.library(), reader, question, answer, model)
        except (QuestionError, LLMError, LibraryError) as exc:
            live.empty()
            st.error(plain(exc), icon=":material/warning:")
            return
        except Exception as exc:  # noqa: BLE001 - the page shows one line; the terminal gets the traceback
            state.log.exception("answering %r failed", question)
            live.empty()
            st.error(f"Something went wrong while answering ({type(exc).__name__}: {plain(exc)}). "
                     "The details are in the terminal that runs `groundwork ui`.", icon=":material/warning:")
            return
        live.empty()
        turn = {"id": uuid.uuid4().hex[:8], "question": question, "answer": answer, "model": model}
        turns.append(turn)
        show_answer(turn, latest=True)
