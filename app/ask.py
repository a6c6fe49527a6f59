"""`groundwork ask` and `groundwork chat`: answers streamed to the terminal, then their evidence."""
from __future__ import annotations

import json
import sys
from collections.abc import Callable

from app.config import Config, UserError
from index.control_chars import visible
from index.store import Library
from qa.records import Answer


def engine_for(config: Config, library, mode: str | None = None):
    """The answer engine wired from configuration: library, embedder, verifier, model server."""
    from index.embedder import SentenceTransformerEmbedder, default_model
    from qa.engine import AnswerEngine, Settings
    from qa.llm import LLMClient
    from qa.verifiers import make_verifier
    mode = mode or config.answer_mode
    embedder = SentenceTransformerEmbedder(config.embedding_model or default_model(), backend=config.embedding_backend)
    needs_llm = mode != "extractive" or config.verifier == "llm-judge"
    llm = LLMClient(config.server_url) if needs_llm else None
    return AnswerEngine(library, embedder, make_verifier(config.verifier, embedder, llm), llm, Settings(mode=mode))


def print_answer(answer: Answer, streamed: bool, out=None, load: float = 0.0) -> None:
    """The verified answer, what verification removed, and the passages it cites (or the closest ones)."""
    out = out or sys.stdout
    if streamed:
        print("\n\nVerified:", file=out)
    print(visible(answer.text, keep_lines=True), file=out)
    if not answer.complete:
        print("[incomplete: the model server stopped before the answer ended]", file=out)
    for s in answer.sentences:
        if not s.supported:
            print(f"  ✗ not supported by its passages, left out: {visible(s.text)}", file=out)
    if answer.citations:
        print("\nSources:", file=out)
        for c in answer.citations:
            print(f"  [{c.n}] {visible(c.passage.doc_title)}, page {c.page}: {snippet(c.passage.chunk.text)}", file=out)
    elif answer.abstained and answer.evidence:
        print("\nClosest passages:", file=out)
        for p in answer.evidence[:3]:
            print(f"  - {visible(p.doc_title)}, page {p.chunk.page}: {snippet(p.chunk.text)}", file=out)
    times = ", ".join(f"{k} {v:.2f} s" for k, v in answer.timings.items())
    loaded = f"; models loaded in {load:.1f} s before" if load >= 0.5 else ""
    print(f"\n({answer.mode}; {times}{loaded})", file=sys.stderr)


def ask_once(engine, question: str, as_json: bool, history=(), filters=None) -> Answer:
    """Answer one question, streaming generated text to the terminal unless JSON is asked for."""
    load = engine.warm() if not history else 0.0  # so that the answer's timings are its own
    from index.search import Filters
    streamed: list[str] = []
    stream: Callable[[str], None] | None = None
    if not as_json:
        def stream(piece: str) -> None:
            streamed.append(piece)
            sys.stdout.write(visible(piece, keep_lines=True))
            sys.stdout.flush()
    answer = engine.answer(question, history=history, filters=filters or Filters(), on_text=stream)
    if as_json:
        print(json.dumps(answer.to_json()))
    else:
        if answer.query != " ".join(question.split()):
            print(f"(searched for: {visible(answer.query)})", file=sys.stderr)
        print_answer(answer, streamed=bool(streamed), load=load)
    return answer


def snippet(text: str, width: int = 160) -> str:
    """The text on one line, cut at a word boundary to `width` characters, non-printable characters escaped."""
    flat = " ".join(text.split())
    return visible(flat if len(flat) <= width else flat[:width].rsplit(" ", 1)[0] + " …")


def _answering(config: Config, args):
    """The open library, its answer engine and the filters the flags ask for."""
    from index.search import Filters
    library = Library.open(config.library)
    if library.count("documents") == 0:
        library.close()
        raise UserError(f"library {config.library} is empty; run: groundwork ingest PATH --library {config.library}")
    filters = Filters(tuple(library.resolve(d) for d in args.doc), tuple(args.tag))
    return library, engine_for(config, library, args.mode), filters


def cmd_ask(args, config: Config) -> int:
    """groundwork ask QUESTION : a verified answer with its sources."""
    library, engine, filters = _answering(config, args)
    with library:
        answer = ask_once(engine, args.question, args.json, filters=filters)
    return 0 if answer.complete else 1


def cmd_chat(args, config: Config) -> int:
    """groundwork chat : questions in a conversation, one per line, until an empty line or end of input."""
    library, engine, filters = _answering(config, args)
    history: list[tuple[str, str]] = []
    with library:
        while (question := _read_question()) is not None:
            answer = ask_once(engine, question, False, history=history, filters=filters)
            history.append((answer.query, answer.text))
    return 0


def _read_question() -> str | None:
    try:
        line = input("\nquestion> " if sys.stdin.isatty() else "")
    except EOFError:
        return None
    return line if line.strip() else None
