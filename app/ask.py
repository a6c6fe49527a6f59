"""`groundwork ask` and `groundwork chat`: answers streamed to the terminal, then their evidence."""
from __future__ import annotations

import json
import sys
from collections.abc import Callable

from app import wiring
from app.config import Config
from index.control_chars import as_typed, visible
from qa.engine import QuestionError
from qa.records import CLOSEST, Answer


def print_answer(answer: Answer, streamed: bool, out=None, load: float = 0.0) -> None:
    """The verified answer, what verification removed, and the passages it cites (or the closest ones)."""
    out = out or sys.stdout
    if streamed:
        print("\n\nVerified:", file=out)
    print(visible(answer.text, keep_lines=True), file=out)
    if not answer.complete:
        print(f"[incomplete: {answer.stopped or 'the model server stopped before the answer ended'}]", file=out)
    for s in answer.sentences:
        if not s.supported:
            print(f"  ✗ not supported by its passages, left out: {visible(s.text)}", file=out)
    if answer.citations:
        print("\nSources:", file=out)
        for c in answer.citations:
            print(f"  [{c.n}] {visible(c.passage.doc_title)}, page {c.page}: {snippet(c.passage.text_as_read)}",
                  file=out)
    elif answer.abstained and answer.evidence:
        print("\nClosest passages:", file=out)
        for p in answer.evidence[:CLOSEST]:
            print(f"  - {visible(p.doc_title)}, page {p.chunk.page}: {snippet(p.chunk.text)}", file=out)
    times = ", ".join(f"{k} {v:.2f} s" for k, v in answer.timings.items())
    loaded = f"; models loaded in {load:.1f} s before" if load >= 0.5 else ""
    print(f"\n({answer.mode}; {times}{loaded})", file=sys.stderr)


def ask_once(engine, question: str, as_json: bool, history=(), filters=None, reader=None) -> Answer:
    """Answer one question as `reader`, streaming generated text unless JSON is asked for; audited unless read-only."""
    question = as_typed(question)  # as the engine reads it, so the audit trail records what was asked
    load = engine.warm() if not history else 0.0  # so that the answer's timings are its own
    from index.search import Filters
    streamed: list[str] = []
    stream: Callable[[str], None] | None = None
    if not as_json:
        def stream(piece: str) -> None:
            streamed.append(piece)
            sys.stdout.write(visible(piece, keep_lines=True))
            sys.stdout.flush()
    answer = engine.answer(question, history=history, filters=filters or Filters(), on_text=stream, reader=reader)
    if not engine.library.read_only:  # who asks one that is is this machine's user, who may read its file anyway
        wiring.record_answer(engine.library, reader, question, answer, wiring.answer_model(engine))
    if as_json:
        print(json.dumps(answer.to_json()))
    else:
        if answer.query != " ".join(question.split()):
            print(f"(searched for: {visible(answer.query)})", file=sys.stderr)
        print_answer(answer, streamed=bool(streamed), load=load)
    if engine.library.read_only:
        print(f"(not recorded in the audit trail: library {engine.library.root} is read-only here)", file=sys.stderr)
    return answer


def snippet(text: str, width: int = 160) -> str:
    """The text on one line, cut at a word boundary to `width` characters, non-printable characters escaped."""
    flat = " ".join(text.split())
    return visible(flat if len(flat) <= width else flat[:width].rsplit(" ", 1)[0] + " …")


def cmd_ask(args, config: Config) -> int:
    """groundwork ask QUESTION : a verified answer with its sources."""
    with wiring.answering_library(config, args.user) as (library, reader):
        chosen = wiring.filters(library, args.doc, args.tag, reader)
        answer = ask_once(wiring.answer_engine(config, library, args.mode), args.question, args.json, filters=chosen,
                          reader=reader)
    return 0 if answer.complete else 1


def cmd_chat(args, config: Config) -> int:
    """groundwork chat : questions in a conversation, one per line, until the end of input (or an empty line typed)."""
    history: list[tuple[str, str]] = []
    if hasattr(sys.stdin, "reconfigure"):  # a line that is not UTF-8 is read with its bad bytes replaced
        sys.stdin.reconfigure(errors="replace")
    with wiring.answering_library(config, args.user) as (library, reader):
        chosen = wiring.filters(library, args.doc, args.tag, reader)
        engine = wiring.answer_engine(config, library, args.mode)
        while (question := _read_question()) is not None:
            try:
                answer = ask_once(engine, question, False, history=history, filters=chosen, reader=reader)
            except QuestionError as exc:  # one question too long: the conversation goes on
                print(f"error: {exc}", file=sys.stderr)
                continue
            history.append((answer.query, answer.text))
    return 0


def _read_question() -> str | None:
    """The next question: None at the end of input, or at an empty line typed at a terminal (blank lines piped in
    are skipped)."""
    interactive = sys.stdin.isatty()
    while True:
        try:
            line = input("\nquestion> " if interactive else "")
        except EOFError:
            return None
        if line.strip():
            return line
        if interactive:
            return None
