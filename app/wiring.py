"""The one place that turns a Config into working objects; CLI commands and UI pages are adapters over it.

Heavy libraries (torch, faiss, Ray, vLLM's client) are imported inside the functions that need
them, so that `groundwork --help` and the UI's first page stay quick.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from app.config import Config, UserError
from index.store import Library

if TYPE_CHECKING:
    from app.processes import Guard
    from app.serve import Server
    from index.access import Reader
    from index.embedder import SentenceTransformerEmbedder
    from index.search import Filters
    from ingest.pipeline import FileResult, IngestOptions
    from ingest.report import JobReport
    from qa.engine import AnswerEngine
    from qa.llm import LLMClient
    from qa.records import Answer


# ---- models ---------------------------------------------------------------------
def embedder(config: Config) -> SentenceTransformerEmbedder:
    """The configured embedding model (the packaged all-MiniLM-L6-v2 unless named); it loads on first use."""
    return _embedder_factory(config)()


def _embedder_factory(config: Config) -> Callable[[], SentenceTransformerEmbedder]:
    # A partial of a class pickles, so Ray's workers can build their own copy.
    from index.embedder import SentenceTransformerEmbedder, default_model
    return partial(SentenceTransformerEmbedder, config.embedding_model or default_model(),
                   backend=config.embedding_backend)


def llm(config: Config) -> LLMClient:
    """A client of the configured model server."""
    from qa.llm import LLMClient
    return LLMClient(config.server_url, timeout=config.llm_timeout)


# ---- the library ----------------------------------------------------------------
def open_library(config: Config, create: bool = False) -> Library:
    """The configured library, open for reading (made if missing with `create`); LibraryError when there is none."""
    return Library.open(config.library, create=create, mode=config.library_mode)


def write_library(config: Config, create: bool = False) -> AbstractContextManager[Library]:
    """The configured library open for writing: under its writer lock, its vectors saved on closing."""
    return Library.writing(config.library, create=create, mode=config.library_mode)


def empty_library(config: Config, reader: Reader | None = None) -> str:
    """The one line that says the library holds no documents yet (none `reader` may read), and what to run."""
    if reader is not None:
        return (f"{reader.name} may read no document of library {config.library}; give it a group with: "
                f"groundwork users set-groups {reader.name} --group GROUP")
    return f"library {config.library} is empty; run: groundwork ingest PATH --library {config.library}"


@contextmanager
def answering_library(config: Config, user: str | None = None) -> Iterator[tuple[Library, Reader | None]]:
    """The configured library open for reading, and account `user`'s Reader; UserError when it may read nothing."""
    with open_library(config) as library:
        reader = reader_for(library, user)
        # Counted as the reader: one whose documents are all hidden is told what an empty library tells it.
        if library.count("documents", reader) == 0:
            raise UserError(empty_library(config, reader))
        yield library, reader


def filters(library: Library, docs: Sequence[str] = (), tags: Sequence[str] = (),
            reader: Reader | None = None) -> Filters:
    """The search filter for documents named by id, title or path, and for tags; `reader` may name only its own."""
    from index.search import Filters
    return Filters(tuple(library.resolve(d, reader) for d in docs), tuple(tags))


# ---- who reads ------------------------------------------------------------------
def reader_for(library: Library, user: str | None) -> Reader | None:
    """The Reader of account `user` (the CLI's --user: it scopes, it does not authenticate); None for None."""
    return None if user is None else library.accounts.reader(user)


def record_answer(library: Library, reader: Reader | None, question: str, answer: Answer, model: str) -> None:
    """Write one answer to the library's audit trail: who asked what, the passages shown, the verdicts."""
    from index.audit import AuditEntry
    passages = tuple({"chunk_id": p.chunk.chunk_id, "doc_id": p.chunk.doc_id, "page": p.chunk.page}
                     for p in answer.shown())
    verdicts = tuple({"text": s.text, "supported": s.supported, "score": round(s.score, 4),
                      "citations": list(s.citations)} for s in answer.sentences)
    library.audit.record(AuditEntry(reader.name if reader else "", question, passages, model, answer.mode,
                                    verdicts, answer.text))


def answer_model(engine: AnswerEngine) -> str:
    """The model an engine's answers name in the audit trail: its model server's, '' when it uses none."""
    return engine.llm.model if engine.llm is not None else ""


# ---- ingest ---------------------------------------------------------------------
def ingest_options(config: Config, tags: Sequence[str] = (), allow: Sequence[str] = ()) -> IngestOptions:
    """The configured chunking, size limit and parsing for one ingest run; `allow`: the groups that may read."""
    from ingest.pipeline import IngestOptions
    from ingest.readers import Limits
    return IngestOptions(max_tokens=config.chunk_tokens, overlap=config.chunk_overlap, max_file_mb=config.max_file_mb,
                         tags=tuple(tags), allow=tuple(allow), parse_workers=config.parse_workers,
                         pdf_text=config.pdf_text, limits=Limits(config.max_pages, config.max_chars))


def ingest(config: Config, paths: Sequence[str], tags: Sequence[str] = (), engine: str = "local",
           ray_address: str | None = None, on_result: Callable[[FileResult, JobReport], None] | None = None,
           model: SentenceTransformerEmbedder | None = None, allow: Sequence[str] = ()) -> tuple[JobReport, int]:
    """Ingest files into the configured library (made if missing): the job report and the documents it holds.

    `engine` is local or ray; `model` is an embedder already loaded (the UI keeps one); `allow` names
    the groups that may read the documents (none: every signed-in user may).
    """
    from ingest.report import JobReport
    report = JobReport(engine=engine)
    options = ingest_options(config, tags, allow)  # a bad group name fails before the library is made
    with write_library(config, create=True) as library:
        for result in _results(config, library, paths, options, engine, ray_address, model):
            report.add(result)
            if on_result:
                on_result(result, report)
        return report, library.count("documents")


def _results(config: Config, library: Library, paths: Sequence[str], options: IngestOptions, engine: str,
             ray_address: str | None, model: SentenceTransformerEmbedder | None) -> Iterator[FileResult]:
    """The chosen engine's results, one per file; both write through the same Library methods."""
    make_embedder = _embedder_factory(config)
    model = model or make_embedder()
    library.check_model(model.name)
    if engine == "ray":
        from ingest.ray_engine import ingest_ray
        return ingest_ray(paths, library, make_embedder, model.name, options, address=ray_address)
    from ingest.pipeline import ingest as ingest_local
    return ingest_local(paths, library, model, options)


# ---- answers --------------------------------------------------------------------
def answer_engine(config: Config, library: Library, mode: str | None = None) -> AnswerEngine:
    """The answer engine for a mode (default: the configured one): embedder, verifier, and a model server if used."""
    from qa.engine import AnswerEngine, Settings
    from qa.verifiers import make_verifier
    mode = mode or config.answer_mode
    model = embedder(config)
    client = llm(config) if mode != "extractive" or config.verifier == "llm-judge" else None
    settings = Settings(mode=mode, prompt_passages=config.prompt_passages, prompt_words=config.prompt_words,
                        answer_ranker=config.answer_ranker)
    return AnswerEngine(library, model, make_verifier(config.verifier, model, client), client, settings)


# ---- the model server -----------------------------------------------------------
def served_model(config: Config, model: str | None = None) -> str:
    """What `groundwork serve` runs: `model` or the configured one (a short name's prepared folder), else the default."""
    from app.models import resolve_model
    return resolve_model(model or config.llm_model)


def start_model_server(config: Config, port: int | None = None, say: Callable[[str], None] = print,
                       model: str | None = None, guard: Guard | None = None) -> Server:
    """vLLM on 127.0.0.1 with the served model, once it answers (`say` hears its progress); stop it with `stop()`.

    guard (app.processes.orphan_guard): stops the server should this process be killed before it is released.
    """
    from app import serve
    model = served_model(config, model)
    say(f"starting vLLM with {model}{serve.dtype_note(config.llm_dtype)}")
    return serve.start_server(model, port=port or config.serve_port, max_model_len=config.max_model_len,
                              dtype=config.llm_dtype, eager=config.eager, progress=say, guard=guard)


def launch_model_server(config: Config, guard: Guard | None = None) -> Server:
    """vLLM launched on 127.0.0.1 with the served model, not waited for (`serve.wait_ready` waits); `groundwork ui`."""
    from app import serve
    return serve.launch_server(served_model(config), port=config.serve_port, max_model_len=config.max_model_len,
                               dtype=config.llm_dtype, eager=config.eager, guard=guard)


def background_model_server(config: Config, port: int | None = None, say: Callable[[str], None] = print,
                            model: str | None = None) -> str:
    """The URL of the model server left running in the background on `port`, started when none answers there."""
    from app import serve
    from app.processes import orphan_guard
    port = port or config.serve_port
    if running := serve.detached(port):
        return running
    with orphan_guard() as guard:  # killed while vLLM starts, we leave no server that `serve --stop` cannot find
        server = start_model_server(config, port, say, model, guard)
        serve.record_detached(server, port)
    say(f"running in the background (pid {server.pid}, log {server.log_path}); stop it with: groundwork serve --stop")
    return server.url


# ---- evaluation -----------------------------------------------------------------
NO_JUDGE = "none"  # --judge-verifier none: grounding is not measured (a quicker run)


def eval_questions(config: Config, dataset: str, sample: int | None, seed: int, out: Path, split: str | None = None,
                   on_result: Callable[[FileResult, JobReport], None] | None = None,
                   say: Callable[[str], None] = lambda _: None) -> list:
    """A dataset's questions (one side of its dev/test split if asked); halueval-qa's passages are ingested first."""
    from eval import questions as qs
    if dataset != qs.HALUEVAL_QA:
        return qs.load(dataset, sample, seed, split)
    if split:
        raise UserError(f"{qs.HALUEVAL_QA} has no dev/test split; drop --split")
    _library_of_its_own(config)
    say(f"ingesting the sample's HaluEval knowledge passages into {config.library} ...")
    found, docs = qs.halueval_questions(sample or 100, seed)
    folder = out / "halueval-docs"
    qs.write_docs(docs, folder)
    report, _ = ingest(config, [str(folder)], tags=(qs.HALUEVAL_QA,), on_result=on_result)
    if report.counts["failed"]:
        first = report.failures[0]
        raise UserError(f"{report.counts['failed']} HaluEval passages could not be ingested into {config.library} "
                        f"(first: {first['path']}: {first['error']})")
    return found


def _library_of_its_own(config: Config) -> None:
    """UserError when the library that HaluEval's passages would go into holds other documents: a user's manuals
    would sit among Wikipedia passages and their answers cite them."""
    from eval.questions import HALUEVAL_QA
    if not Library.exists(config.library):
        return
    with open_library(config) as library:
        theirs = [d for d in library.documents() if HALUEVAL_QA not in d.tags]
    if theirs:
        raise UserError(f"--dataset {HALUEVAL_QA} ingests its passages into --library, and {config.library} holds "
                        f"{len(theirs)} other documents ({theirs[0].title}, ...); name a library of its own, e.g. "
                        f"--library halueval-lib")


def evaluation(config: Config, library: Library, *, mode: str | None, judge: bool, dataset: str,
               command: str | None = None, judge_verifier: str | None = None, reader: Reader | None = None):
    """Answer engine (its model metered for tokens), grader and the report's meta for one run as `reader` (CLI, UI)."""
    from eval.dataset import doc_names
    from eval.grade import Grader
    from eval.run import MeteredLLM
    engine = answer_engine(config, library, mode)
    if engine.llm is not None:
        engine.llm = MeteredLLM(engine.llm)
    model = engine.embedder
    checker = _judge(config, model, judge, judge_verifier)
    names = doc_names(library.documents(reader=reader))
    grader = Grader(checker, names, lambda texts: model.embed(texts, kind="document"))
    meta = {"dataset": dataset, "library": str(config.library), "mode": engine.settings.mode,
            "model": engine.llm.model if engine.llm else None, "checker": checker.name if checker else None,
            "verifier": engine.verifier.name, "embedder": model.name, "settings": asdict(engine.settings),
            "user": reader.name if reader else None,
            "command": " ".join(sys.argv[1:]) if command is None else command}
    return engine, grader, meta


def default_judge(verifier: str) -> str:
    """The verifier that judges an engine verifying with `verifier` unless told: features for a cross-encoder, else it.

    The judge must not be the engine's own verifier, which has already dropped every sentence it rejects.
    Features is the weaker of the two (HaluEval QA balanced accuracy 0.60 against 0.92), so a run judged by it
    finds fewer unsupported sentences than the cross-encoder would; --judge-verifier picks another.
    """
    return "features" if (verifier or "features").startswith("cross-encoder") else "cross-encoder"


def _judge(config: Config, model: SentenceTransformerEmbedder, judge: bool, judge_verifier: str | None):
    """The run's judge: the model server, or a verifier other than the engine's (default_judge unless named);
    None for --judge-verifier none."""
    from eval.checkers import ClaimJudge, SentenceChecker
    from qa.verifiers import identity, make_verifier
    if judge:
        return ClaimJudge(llm(config))
    judge_verifier = judge_verifier or default_judge(config.verifier)
    if judge_verifier == NO_JUDGE:
        return None
    if identity(judge_verifier) == identity(config.verifier):  # 'cross-encoder:qa/models/groundedness' is it too
        raise UserError(f"--judge-verifier {judge_verifier} is the engine's own verifier (configured verifier = "
                        f"{config.verifier or 'features'}); a judge must be another one, e.g. --judge-verifier "
                        f"{default_judge(config.verifier)}, or --judge")
    verifier = make_verifier(judge_verifier, model, llm(config) if judge_verifier == "llm-judge" else None)
    verifier.load()  # a judge that cannot run fails now, not after every question is answered
    weak = "; a weak judge: it misses unsupported sentences a stronger one finds" if judge_verifier == "features" else ""
    return SentenceChecker(verifier, f"sentence-level {verifier.name} (the engine verifies with {config.verifier}{weak})")


def detector_verifier(config: Config):
    """The configured verifier, as answers use it, for `eval detector` to measure."""
    from qa.verifiers import make_verifier
    return make_verifier(config.verifier, embedder(config), llm(config) if config.verifier == "llm-judge" else None)
