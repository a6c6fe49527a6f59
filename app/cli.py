"""The `groundwork` command line: parse flags, wire objects, print results."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence

from app import wiring
from app.config import Config, UserError, load_config
from index.control_chars import visible
from index.errors import GroundworkError
from qa.records import MODES

EXIT_FAILED_FILES = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool whose output reader went away


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `groundwork` console script."""
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config, library=args.library)
        return args.run(args, config)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except GroundworkError as exc:  # every known failure is shown as one line
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except UnicodeEncodeError as exc:  # a name typed in a terminal that is not UTF-8 ("caf\udce9"), for the database
        print(f"error: {exc.object[exc.start:exc.end]!r} in {exc.object!r} is not UTF-8 text; "
              "type it in a UTF-8 terminal", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `groundwork audit | head`: the reader left; no traceback, and none at exit's flush
        _drop_stdout()
        return EXIT_PIPE


def _drop_stdout() -> None:
    """Point stdout at /dev/null, so that Python's final flush does not raise again."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout is not a file (a test's capture): nothing to flush
        pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="groundwork", description="Grounded answers from your own documents.")
    parser.add_argument("--config", help="TOML config file (default: $GROUNDWORK_CONFIG or ./groundwork.toml)")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, run, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument("--library", help="library folder (default: $GROUNDWORK_LIBRARY, else ./library)")
        p.set_defaults(run=run)
        return p

    p = command("ingest", cmd_ingest, "ingest PDF, text, Markdown and HTML files into a library")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders (searched recursively)")
    p.add_argument("--tag", action="append", default=[], help="tag the ingested documents (repeatable)")
    p.add_argument("--allow", action="append", default=[], metavar="GROUP",
                   help="only this group (and admins) may read the documents (repeatable; default: every user)")
    p.add_argument("--json", action="store_true", help="one JSON object per file on stdout")
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local: in this process; ray: parse and embed on Ray Data (pip install 'groundwork[scale]')")
    p.add_argument("--ray-address", help="with --engine ray: a cluster (auto or ray://host:port); default: start one here")
    p.add_argument("--report", metavar="FILE", help="write the job report (counts, failures, throughput) as JSON")

    from app.accounts_cli import add_user_flag
    p = add_user_flag(command("search", cmd_search, "search a library"))
    p.add_argument("query")
    p.add_argument("-k", type=int, default=5, help="how many passages (default 5)")
    p.add_argument("--mode", choices=["hybrid", "dense", "lexical"], default="hybrid")
    p.add_argument("--doc", action="append", default=[], help="only this document (id, title or path; repeatable)")
    p.add_argument("--tag", action="append", default=[], help="only documents with this tag (repeatable)")
    p.add_argument("--json", action="store_true", help="one JSON object per passage on stdout")

    from app.ask import cmd_ask, cmd_chat
    for name, run, text in (("ask", cmd_ask, "answer a question from a library, citing pages"),
                            ("chat", cmd_chat, "ask questions in a conversation, one a line; follow-ups use what "
                                               "came before; an empty line typed, or the end of input, ends it")):
        p = add_user_flag(command(name, run, text))
        if name == "ask":
            p.add_argument("question")
            p.add_argument("--json", action="store_true", help="print the answer as one JSON object")
        p.add_argument("--mode", choices=MODES,
                       help="extractive quotes, guided lets the model pick a quote, generative writes")
        p.add_argument("--doc", action="append", default=[], help="only this document (repeatable)")
        p.add_argument("--tag", action="append", default=[], help="only documents with this tag (repeatable)")

    from app.models import DEFAULT_MODEL, MODELS
    p = sub.add_parser("models", help="manage model weights", description="manage model weights")
    p.add_argument("action", choices=["prepare", "list"],
                   help="prepare: put a generator in the cache; list: the models, their sizes and folders")
    p.add_argument("--model", choices=list(MODELS), default=DEFAULT_MODEL, help=f"default: {DEFAULT_MODEL}")
    p.set_defaults(run=cmd_models, library=None)

    p = sub.add_parser("serve", help="start vLLM's OpenAI-compatible server with the configured model",
                       description="start vLLM's OpenAI-compatible server on 127.0.0.1 and print its URL")
    p.add_argument("--port", type=int, help="port (default: serve_port, 8000)")
    p.add_argument("--detach", action="store_true", help="leave the server running in the background and return")
    p.add_argument("--stop", action="store_true", help="stop the server a --detach started")
    p.add_argument("--model", help="a name from `groundwork models list`, or a model folder "
                                   "(default: llm_model, else the default model)")
    p.set_defaults(run=cmd_serve, library=None)

    p = add_user_flag(command("docs", cmd_docs, "list the documents of a library"))
    p.add_argument("--json", action="store_true", help="one JSON object per document on stdout")

    p = command("delete", cmd_delete, "remove a document from a library everywhere")
    p.add_argument("doc", help="document id (or unique prefix), title or source path")

    from app.accounts_cli import register as add_accounts
    from app.eval_cli import register as add_eval
    from app.feedback_cli import register as add_feedback
    from app.index_cli import register as add_index
    from app.ui_cli import register as add_ui
    add_index(sub)
    add_eval(sub)
    add_ui(sub)
    add_accounts(sub)
    add_feedback(sub)
    return parser


def cmd_ingest(args, config: Config) -> int:
    """groundwork ingest PATH... : ingest files, print a line per file and a summary."""
    from app.processes import signals_interrupt
    # SIGTERM and SIGHUP end it as Ctrl-C does: the vectors are saved and the user told what was kept
    try:
        with signals_interrupt(), _progress() as bar:
            def show(result, report) -> None:
                _report_file(result, args.json, bar)
                _advance(bar, report.started, report.pages, report.chunks)
            report, total_docs = wiring.ingest(config, args.paths, args.tag, args.engine, args.ray_address, show,
                                               allow=args.allow)
    except KeyboardInterrupt:
        print("interrupted; what was committed stays in the library, and the next run resumes", file=sys.stderr)
        return EXIT_INTERRUPTED
    s = report.summary()
    if args.report:
        report.write(args.report)
    summary = (f"{s['files']} files: {s['added']} added, {s['updated']} updated, "
               f"{s['unchanged']} unchanged, {s['failed']} failed; {s['pages']} pages, {s['chunks']} chunks "
               f"in {s['wall_s']:.1f} s ({s['pages_per_s']:.1f} pages/s, {s['chunks_per_s']:.1f} chunks/s); "
               f"library {config.library} holds {total_docs} documents")
    print(summary, file=sys.stderr if args.json else sys.stdout)
    return EXIT_FAILED_FILES if s["failed"] else 0


def _progress():
    from tqdm import tqdm
    return tqdm(unit="file", file=sys.stderr, disable=None, dynamic_ncols=True, leave=False)


def _advance(bar, start: float, pages: int, chunks: int) -> None:
    elapsed = max(time.monotonic() - start, 1e-9)
    bar.set_postfix_str(f"{pages / elapsed:.1f} pages/s, {chunks / elapsed:.1f} chunks/s", refresh=False)
    bar.update(1)


def _report_file(result, as_json: bool, bar) -> None:
    path = visible(result.path)  # a newline or an ESC in a file name must not reach the terminal raw
    link = f" (followed link to {visible(result.followed_link)})" if result.followed_link else ""
    if as_json:
        bar.write(json.dumps(result.to_json()), file=sys.stdout)
    elif result.status == "failed":
        bar.write(f"failed     {path}: {visible(result.error)}{link}", file=sys.stderr)
    else:
        twin = f" (same content as {visible(result.duplicate_of)})" if result.duplicate_of else ""
        twin += f" ({' and '.join(result.changed)} added; content unchanged)" if result.changed else ""
        bar.write(f"{result.status:<10} {path}: {result.pages} pages, {result.chunks} chunks{twin}{link}",
                  file=sys.stdout)


def cmd_search(args, config: Config) -> int:
    """groundwork search QUERY : print the best passages with document, page and score."""
    from app.ask import snippet
    from index.control_chars import as_typed
    from index.search import search
    args.query = " ".join(as_typed(args.query).split())  # as `ask` reads a question
    if not args.query:
        raise UserError("the query is empty; try: groundwork search \"how do I fit a linear model\"")
    if args.k < 1:
        raise UserError("-k must be at least 1")
    with wiring.open_library(config) as library:
        reader = wiring.reader_for(library, args.user)
        chosen = wiring.filters(library, args.doc, args.tag, reader)
        k = min(args.k, max(library.count("chunks", reader), 1))  # more than there are is all of them
        passages = search(library, wiring.embedder(config), args.query, k, args.mode, chosen, reader=reader)
        empty = library.count("documents", reader) == 0
    if not passages:
        print(wiring.empty_library(config, reader) if empty else "no passages found", file=sys.stderr)
    for rank, p in enumerate(passages, start=1):
        c = p.chunk
        if args.json:
            print(json.dumps({"doc": p.doc_title, "doc_id": c.doc_id, "page": c.page, "chunk_id": c.chunk_id,
                              "score": round(p.score, 6), "text": c.text}))
        else:
            print(f"{rank}. {visible(p.doc_title)}, page {c.page}  (score {p.score:.4f}, doc {c.doc_id})")
            print(f"   {snippet(c.text, 300)}\n")
    return 0


def cmd_models(args, config: Config) -> int:
    """groundwork models prepare|list : a generator, converted for vLLM, in the cache; or what there is."""
    from app.models import model_table, prepare_model
    if args.action == "list":
        print("\n".join(model_table()))
        return 0
    print(prepare_model(args.model, progress=lambda line: print(line, file=sys.stderr)))
    return 0


def cmd_serve(args, config: Config) -> int:
    """groundwork serve : vLLM on 127.0.0.1 until Ctrl-C (or in the background with --detach)."""
    from app import serve
    from app.processes import signals_interrupt
    port = args.port or config.serve_port
    if args.stop:
        print(serve.stop_detached(port))
        return 0
    # SIGTERM and SIGHUP stop vLLM as Ctrl-C does: else Python ends at once and vLLM, in its own session, lives
    # on unrecorded (serve --stop cannot find it, and the next serve finds its port taken).
    with signals_interrupt():
        return _serve(args, config, port)


def _serve(args, config: Config, port: int) -> int:
    say = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    if args.detach:
        print(wiring.background_model_server(config, port, say=say, model=args.model))
        return 0
    from app.processes import orphan_guard
    with orphan_guard() as guard:  # a kill -9 of this command stops vLLM too
        server = wiring.start_model_server(config, port, say=say, model=args.model, guard=guard)
        print(server.url)
        print("serving; Ctrl-C stops it", file=sys.stderr)
        try:
            server.process.wait()
            raise UserError(f"vLLM exited on its own (code {server.process.returncode}); see {server.log_path}")
        except KeyboardInterrupt:
            print("stopping vLLM ...", file=sys.stderr)
        finally:
            server.stop()
    return 0


def cmd_docs(args, config: Config) -> int:
    """groundwork docs : list documents and files that failed."""
    with wiring.open_library(config) as library:
        reader = wiring.reader_for(library, args.user)
        docs, failures = library.documents(reader=reader), library.failures(reader)
    for d in docs:
        if args.json:
            print(json.dumps({"doc_id": d.doc_id, "title": d.title, "pages": d.pages, "chunks": d.chunks,
                              "ingested_at": d.ingested_at, "paths": list(d.paths), "tags": list(d.tags)}))
        else:
            tags = f"  [{', '.join(d.tags)}]" if d.tags else ""
            print(f"{d.doc_id}  {visible(d.title)}  {d.pages} pages, {d.chunks} chunks, ingested {d.ingested_at}{tags}")
    if not docs and not args.json:
        print(wiring.empty_library(config, reader))
    for path, error, at in failures:
        if args.json:
            print(json.dumps({"path": path, "status": "failed", "error": error, "at": at}))
        else:
            print(f"failed  {visible(path)}: {visible(error)} ({at})")
    return 0


def cmd_delete(args, config: Config) -> int:
    """groundwork delete DOC : remove a document from the library."""
    with wiring.write_library(config) as library:
        doc_id = library.resolve(args.doc)
        info = library.document(doc_id)
        library.delete_document(doc_id)
    print(f"deleted {visible(info.title)} ({doc_id}): {info.pages} pages, {info.chunks} chunks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
