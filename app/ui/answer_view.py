"""One turn of the conversation: the verified answer, what verification removed, sources, timings, feedback."""
from __future__ import annotations

import html

import streamlit as st

from app.ui import state
from app.ui.cards import source_card
from app.ui.highlight import rejection_reason, sentence_html
from app.ui.plain import plain
from index.feedback import Feedback, FeedbackLog, citations_of
from qa.records import Answer

STAGES = {"rewrite": "Follow-up rewrite", "retrieve": "Search", "rerank": "Rerank", "generate": "Model",
          "first_token": "First token", "verify": "Verification", "total": "Total"}


def show_turn(turn: dict, latest: bool = False) -> None:
    """The question and its answer as two chat messages."""
    with st.chat_message("user"):
        st.html(f"<div>{html.escape(turn['question'])}</div>")
    with st.chat_message("assistant"):
        show_answer(turn, latest)


def show_answer(turn: dict, latest: bool = False) -> None:
    """The answer of a turn with everything around it; the latest shows its first source open."""
    answer: Answer = turn["answer"]
    anchor = f"gw-{turn['id']}"
    if answer.abstained:
        _abstention(answer, turn["question"], anchor)
    else:
        parts = [sentence_html(s.text, s.citations, s.supported, s.score, anchor) for s in answer.sentences]
        st.html(f'<div class="gw-answer">{" ".join(parts)}</div>')
        _removed(answer)
        _sources(answer, anchor, open_first=latest)
    if not answer.complete:
        why = answer.stopped or "the model server stopped before the answer ended"
        st.warning(f"The answer is incomplete: {why}. What arrived was checked as usual.")
    _footer(turn)


def _abstention(answer: Answer, question: str, anchor: str) -> None:
    st.info("**Your documents do not answer this.** Nothing retrieved supports an answer well enough, so "
            "Groundwork abstains rather than guess. The closest passages are below.", icon=":material/search_off:")
    _removed(answer)
    if not answer.evidence:
        st.caption("No passage matched at all. Try other words, or check the document filter on the Library page.")
    for i, passage in enumerate(answer.evidence[:3], start=1):
        source_card("Closest:", passage, [question], f"{anchor}-closest-{i}")


def _removed(answer: Answer) -> None:
    rejected = [s for s in answer.sentences if not s.supported]
    if not rejected:
        return
    label = f"{len(rejected)} sentence{'s' if len(rejected) > 1 else ''} removed: not supported by the sources"
    with st.expander(f"✗ {label}"):
        for s in rejected:
            st.html(f'<p><span class="gw-unsupported">{html.escape(s.text)}</span><br>'
                    f'<small>{html.escape(rejection_reason(s.citations, s.score))}</small></p>')


def _sources(answer: Answer, anchor: str, open_first: bool) -> None:
    for i, c in enumerate(answer.citations):
        backing = [s.text for s in answer.sentences if s.supported and c.n in s.citations]
        source_card(f"[{c.n}]", c.passage, backing, f"{anchor}-{c.n}", expanded=open_first and i == 0)


def _footer(turn: dict) -> None:
    """Thumbs, timings and what answered, on one line; the comment box opens below once a thumb is chosen."""
    answer: Answer = turn["answer"]
    row = st.container(horizontal=True, vertical_alignment="center", gap="medium")
    with row:
        thumb = _thumbs(turn)
    with row.popover(f"{answer.timings.get('total', 0.0):.2f} s", icon=":material/timer:"):
        rows = [f"| {STAGES.get(k, k)} | {v:.3f} s |" for k, v in answer.timings.items()
                if v >= 0.0005 or k == "total"]  # a stage that did not run (no follow-up to rewrite) is noise
        st.markdown("| Stage | Time |\n|---|---|\n" + "\n".join(rows))
    model = f" · {plain(turn['model'])}" if turn.get("model") else ""
    rewritten = answer.query != " ".join(turn["question"].split())
    row.caption(f"{answer.mode}{model}" + (f" · searched for “{plain(answer.query)}”" if rewritten else ""))
    if thumb is not None:
        _comment(turn, 1 if thumb == 1 else -1)


def _thumbs(turn: dict) -> int | None:
    """The thumbs (1 up, 0 down), or a thank-you once the verdict is stored."""
    if turn.get("feedback"):
        icon = ":material/thumb_up:" if turn["feedback"] > 0 else ":material/thumb_down:"
        st.caption(f"{icon} Thanks — feedback saved")
        return None
    return st.feedback("thumbs", key=f"thumb-{turn['id']}")


def _comment(turn: dict, rating: int) -> None:
    with st.form(f"fb-form-{turn['id']}", border=False):
        comment = st.text_input("Comment (optional)", key=f"fb-comment-{turn['id']}",
                                placeholder="What was right or wrong?")
        if st.form_submit_button("Send feedback", type="primary"):
            _store(turn, rating, comment)
            st.rerun()


def _store(turn: dict, rating: int, comment: str) -> None:
    answer: Answer = turn["answer"]
    reader = state.user()
    with FeedbackLog(state.library_root()) as log:
        log.add(Feedback(question=turn["question"], answer=answer.text, rating=rating,
                         citations=citations_of(answer.to_json()), comment=comment,
                         model=turn.get("model", ""), mode=answer.mode, user=reader.name if reader else ""))
    turn["feedback"] = rating
