"""Batch ingestion: discover files -> triage by content hash -> parse -> chunk -> embed -> write.

Parsing runs in a worker process while the main process embeds, so the two
overlap; files go smallest first, so a huge one lands last instead of holding
back the rest. Each document is written in one transaction as soon as it is
embedded, so a killed run leaves every document either fully in the library or
not at all, and the next run carries on from there. The Ray engine (ingest/ray_engine.py) shares triage,
parsing and writing with this one and differs only in where parse and embed run.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import hashlib
import multiprocessing
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from dataclasses import replace as _replace
from pathlib import Path

import numpy as np

from index.access import check_names
from index.records import Chunk, Document
from index.store import Library, LibraryError, Source
from ingest.chunking import chunk_pages
from ingest.readers import DEFAULT_PDF_TEXT, SUPPORTED_SUFFIXES, Limits, ReadError, read_document

if TYPE_CHECKING:  # the embedder module pulls in torch; only its protocol is needed here
    from index.embedder import Embedder


@dataclass(frozen=True)
class IngestOptions:
    """Knobs of one ingest run."""

    max_tokens: int = 256
    overlap: int = 32
    max_file_mb: float = 200.0
    tags: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()  # groups that may read the documents; () leaves them readable by every user
    parse_workers: int = 1
    pdf_text: str = DEFAULT_PDF_TEXT  # or "pdfium": ~7x faster PDF parsing (readers/pdf.py)
    limits: Limits = Limits()  # pages and characters per document, checked while parsing
    batch_chunks: int = 64  # embed up to this many chunks at once, across small files
    flush_seconds: float = 2.0  # the longest a parsed document waits for others to fill its batch
    checkpoint_seconds: float = 30.0

    def __post_init__(self) -> None:
        check_names(self.allow)  # a bad group name fails the run before any file is read
        if any(not tag.strip() for tag in self.tags):  # `--tag ""` would store a tag no filter can name
            raise LibraryError("a tag needs a name: --tag '' tags nothing")


@dataclass(frozen=True)
class FileResult:
    """What happened to one file; its JSON form is the CLI contract."""

    path: str
    status: str  # added | updated | unchanged | failed
    pages: int = 0
    chunks: int = 0
    error: str | None = None
    doc_id: str | None = None
    duplicate_of: str | None = None
    followed_link: str | None = None  # the file a symbolic link on the path led to
    changed: tuple[str, ...] = ()  # what an ingest of unchanged content gave its document: readers, tags

    def to_json(self) -> dict:
        """The JSON line of `groundwork ingest --json`."""
        out = {"path": self.path, "status": self.status, "pages": self.pages,
               "chunks": self.chunks, "error": self.error}
        if self.duplicate_of:
            out["duplicate_of"] = self.duplicate_of
        if self.followed_link:
            out["followed_link"] = self.followed_link
        if self.changed:
            out["changed"] = list(self.changed)
        return out


@dataclass
class Pending:
    """A file that needs parsing, and any identical files found in the same run."""

    source: Source
    sha256: str
    twins: list[Source] = field(default_factory=list)


def discover(paths: Iterable[str | Path]) -> tuple[list[Path], list[FileResult]]:
    """Supported files under the paths (recursively, sorted), and failures for bad paths; each file once.

    A file named more than once (a folder given twice, a link and its target) is taken once, as first
    named: its failure is said and counted once, its content read once.
    """
    found: dict[str, Path] = {}
    failed: dict[str, FileResult] = {}
    for named, outcome in _named(paths):
        key = _identity(named)
        if key not in found and key not in failed:
            (found if isinstance(outcome, Path) else failed)[key] = outcome
    return list(found.values()), list(failed.values())


def _named(paths: Iterable[str | Path]) -> Iterator[tuple[Path, Path | FileResult]]:
    """Each file under the paths as named (absolute), with the file to read or why it cannot be read."""
    for raw in paths:
        given = Path(raw).expanduser().absolute()
        path = given.resolve()
        if path.is_dir():
            entries = sorted(path.rglob("*"))  # one walk of the tree for both
            for p in entries:
                if _wanted(p, path):
                    yield p, p
                elif _broken_link(p, path):
                    yield p, FileResult(str(p), "failed", error=f"broken symbolic link to {os.readlink(p)}")
        elif not path.exists():
            yield given, FileResult(str(path), "failed", error="no such file or directory")
        elif path.suffix.lower() in SUPPORTED_SUFFIXES:
            yield given, path
        else:
            kinds = ", ".join(sorted(SUPPORTED_SUFFIXES))
            yield given, FileResult(str(path), "failed",
                                    error=f"unsupported file type {path.suffix or '(none)'} (supported: {kinds})")


def _identity(named: Path) -> str:
    """The file a name leads to: its real path; for a name that leads nowhere, the name in its real folder."""
    try:
        return os.path.realpath(named, strict=True)
    except OSError:  # a broken link, a missing file, a loop of links
        return os.path.join(os.path.realpath(named.parent), named.name)


def _named_like_a_document(path: Path, root: Path) -> bool:
    hidden = any(part.startswith(".") for part in path.relative_to(root).parts)
    return not hidden and path.suffix.lower() in SUPPORTED_SUFFIXES


def _broken_link(path: Path, root: Path) -> bool:
    """A link to a file that is gone, named like a document: a user would expect it in, so it is said."""
    return _named_like_a_document(path, root) and path.is_symlink() and not path.exists()


def _wanted(path: Path, root: Path) -> bool:
    return _named_like_a_document(path, root) and path.is_file()


def ingest(paths: Iterable[str | Path], library: Library, embedder: Embedder,
           options: IngestOptions = IngestOptions()) -> Iterator[FileResult]:
    """Ingest every supported file under `paths` into a library open for writing, one result per file as it lands."""
    pending: dict[str, Pending] = {}
    yield from with_links(triage_all(paths, library, options, pending))
    yield from with_links(_parse_embed_write(library, embedder, smallest_first(pending), options))


def smallest_first(pending: dict[str, Pending]) -> list[Pending]:
    """The files to parse, smallest first (in path order among equals): a huge file, whose embedding
    takes minutes, lands after the others instead of holding back every file behind it."""
    return sorted(pending.values(), key=lambda item: item.source.size)


def with_links(results: Iterable[FileResult]) -> Iterator[FileResult]:
    """Each result, saying where its path led when a symbolic link inside a folder was followed."""
    # Paths named on the command line are resolved by discover(); a path found in a folder that
    # differs from its real path went through a link, possibly to a file outside that folder.
    for result in results:
        target = os.path.realpath(result.path)
        yield result if target == result.path else _replace(result, followed_link=target)


def triage_all(paths: Iterable[str | Path], library: Library, options: IngestOptions,
               pending: dict[str, Pending]) -> Iterator[FileResult]:
    """Settle every file that needs no parsing, and queue the rest in `pending`."""
    files, failed = discover(paths)
    for result in failed:
        yield fail(library, result.path, result.error)
    for path in files:
        result = _triage(library, path, options, pending)
        if result is not None:
            yield result


def _triage(library: Library, path: Path, options: IngestOptions,
            pending: dict[str, Pending]) -> FileResult | None:
    """Settle a file without parsing when possible; else queue it in `pending`."""
    try:
        stat = path.stat()
        if stat.st_size == 0:
            return fail(library, str(path), "empty file (0 bytes)")
        if stat.st_size > options.max_file_mb * 2**20:
            return fail(library, str(path), f"file too large ({stat.st_size / 2**20:.0f} MB; "
                                             f"the limit is {options.max_file_mb:.0f} MB)")
        known = library.source(str(path))
        if known and (known.size, known.mtime_ns) == (stat.st_size, stat.st_mtime_ns) \
                and not _asks_more(library, known.doc_id, options):
            return _unchanged(library, known.doc_id, str(path))
        sha = _sha256(path)
    except OSError as exc:
        return fail(library, str(path), f"cannot read file: {exc.strerror or exc}")
    source = Source(str(path), sha[:16], stat.st_size, stat.st_mtime_ns)
    stored = library.doc_by_sha(sha)
    if stored is not None:  # same content as a stored document: keep one copy
        same_path = known is not None and known.doc_id == stored
        clash = "" if same_path else _readers_clash(library, stored, known, options.allow)
        if clash:
            return fail(library, str(path), clash)
        changed = _asks_more(library, stored, options)  # before the link gives them
        library.link_source(Source(source.path, stored, source.size, source.mtime_ns), options.tags, options.allow)
        result = _unchanged(library, stored, str(path), changed, duplicate=not same_path)
        return result if known is None or same_path else _replace(result, status="updated")
    if sha in pending:
        pending[sha].twins.append(source)
        return None
    pending[sha] = Pending(source, sha)
    return None


def _asks_more(library: Library, doc_id: str, options: IngestOptions) -> tuple[str, ...]:
    """What this ingest gives a stored document that it lacks: ("readers", "tags"), either, or ().

    An untouched file was settled from its size and time alone, so `ingest FILE --allow hr` on it
    said "unchanged" and left it readable by everyone, the asked groups silently dropped.
    """
    info = library.document(doc_id)
    if info is None:
        return ()
    return (("readers",) * bool(set(options.allow) - set(info.groups))
            + ("tags",) * bool(set(options.tags) - set(info.tags)))


def _readers_clash(library: Library, stored: str, known: Source | None, allow: Sequence[str]) -> str:
    """Why a copy of a stored document cannot have the readers this ingest gives it ('' when it has them).

    The content is kept once, with one set of readers: a copy that changed them would silently take
    the document from its readers (a public one made hr's) or show it to others (an hr one made public).
    """
    info = library.document(stored)
    previous = library.document(known.doc_id) if known else None
    asked = check_names((*(previous.groups if previous else ()), *allow))  # a changed file keeps its groups
    if asked == info.groups:
        return ""
    change = [f"--allow {g}" for g in asked if g not in info.groups]
    change += [f"--deny {g}" for g in info.groups if g not in asked] + ([] if asked else ["--make-public"])
    return (f"same content as {info.title!r}, which {_readers(info.groups)} may read, not {_readers(asked)} as "
            f"asked; the content is kept once, so change who reads it with: groundwork permissions {stored} "
            f"{' '.join(change)}")


def _readers(groups: Sequence[str]) -> str:
    return f"group{'s' * (len(groups) > 1)} {', '.join(groups)}" if groups else "every user"


def _parse_embed_write(library: Library, embedder: Embedder, todo: list[Pending],
                       options: IngestOptions) -> Iterator[FileResult]:
    """Parse in worker processes ahead of the embedder; write each document as soon as it is embedded.

    Small documents are embedded together, up to `batch_chunks` chunks, but none waits long for
    another: the batch is embedded and written before a document that would overflow it joins (a long
    document is chunked and embedded alone, after those before it are written), and once its first
    document has waited `flush_seconds`, for more documents or for the next file's parse. Each write
    is one commit, so an interrupted run keeps every document written before it.
    """
    if not todo:
        return
    budget = min(options.max_tokens, embedder.max_tokens)
    ready: list[tuple[Pending, Document, list[Chunk]]] = []
    since = 0.0  # when the first document in `ready` was chunked
    last_save = time.monotonic()
    for item, parsed in _parsed_in_order(todo, options):
        if isinstance(parsed, str):
            yield fail(library, item.source.path, parsed)
        elif parsed is not None:  # None: the next file's parse has taken `flush_seconds` so far
            if ready and sum(len(p.text) for p in parsed.pages) > options.batch_chunks * budget * 4:
                # A batch's worth of text or more (~4 characters a token): write the others before
                # chunking it, which takes a while too (10 s for 2.4 MB of text on a 2-core CPU).
                yield from _embed_and_write(library, embedder, ready, options)
                ready = []
            chunks = chunk_pages(parsed.pages, embedder, budget, options.overlap)
            if ready and _chunk_count(ready) + len(chunks) > options.batch_chunks:
                yield from _embed_and_write(library, embedder, ready, options)
                ready = []
            since = since if ready else time.monotonic()
            ready.append((item, parsed, chunks))
        if ready and (parsed is None or _chunk_count(ready) >= options.batch_chunks
                      or time.monotonic() - since >= options.flush_seconds):
            yield from _embed_and_write(library, embedder, ready, options)
            ready = []
        last_save = checkpoint(library, last_save, options.checkpoint_seconds)
    yield from _embed_and_write(library, embedder, ready, options)


def _chunk_count(ready: list[tuple[Pending, Document, list[Chunk]]]) -> int:
    return sum(len(chunks) for _, _, chunks in ready)


def _embed_and_write(library: Library, embedder: Embedder, ready, options: IngestOptions) -> Iterator[FileResult]:
    texts = [c.text for _, _, chunks in ready for c in chunks]
    vectors = embedder.embed(texts, kind="document") if texts else np.empty((0, embedder.dim), np.float32)
    offset = 0
    for item, doc, chunks in ready:
        own = vectors[offset:offset + len(chunks)]
        offset += len(chunks)
        yield from write_parsed(library, item, doc, chunks, own, embedder.name, options.tags, options.allow)


def write_parsed(library: Library, item: Pending, doc: Document, chunks: list[Chunk], vectors: np.ndarray,
                 model: str, tags: Sequence[str], allow: Sequence[str] = ()) -> Iterator[FileResult]:
    """Write one embedded document, its tags and the groups that may read it in one transaction; then its twins."""
    if _changed_since(item.source):  # its text would be stored under the hash of what it held before
        yield fail(library, item.source.path, "the file changed while it was being ingested; run ingest again")
        return
    status = library.write_document(doc, item.sha256, chunks, vectors, item.source, model, tags, allow)
    yield FileResult(item.source.path, status, len(doc.pages), len(chunks), doc_id=doc.doc_id)
    for twin in item.twins:
        library.link_source(twin, tags, allow)
        yield _unchanged(library, doc.doc_id, twin.path, duplicate=True)


def checkpoint(library: Library, last_save: float, seconds: float) -> float:
    """Save the vector index when `seconds` have passed since `last_save`; the time of the last save."""
    if time.monotonic() - last_save <= seconds:
        return last_save
    library.save_vectors()
    return time.monotonic()


def _parsed_in_order(todo: Sequence[Pending],
                     options: IngestOptions) -> Iterator[tuple[Pending, Document | str | None]]:
    """(item, Document or a one-line error) in input order, parsing a few files ahead.

    (item, None) before an item's result says that its parse has taken `options.flush_seconds` so far.
    """
    workers, how = options.parse_workers, (options.pdf_text, options.limits)
    context = multiprocessing.get_context("spawn")  # fork after torch threads start is unsafe
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_die_with_parent, initargs=(os.getpid(),))
    queue: deque[tuple[Pending, Future]] = deque()
    items = iter(todo)
    try:
        while True:
            while len(queue) < workers + 2:  # a little read-ahead, bounded memory
                item = next(items, None)
                if item is None:
                    break
                queue.append((item, pool.submit(parse_file, item.source.path, item.source.doc_id, *how)))
            if not queue:
                return
            item, future = queue.popleft()
            try:
                if wait([future], timeout=options.flush_seconds).not_done:
                    yield item, None
                yield item, future.result()
            except BrokenProcessPool:
                yield item, "the parser process died (out of memory or a crash in the PDF library)"
                pool.shutdown(cancel_futures=True)
                pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_die_with_parent, initargs=(os.getpid(),))
                queue = deque((i, pool.submit(parse_file, i.source.path, i.source.doc_id, *how)) for i, _ in queue)
    finally:
        pool.shutdown(cancel_futures=True)


def _die_with_parent(parent: int) -> None:
    """In a parser worker: exit when the ingest process dies, even by kill -9 (Linux only), and quietly on Ctrl-C.

    A terminal's Ctrl-C reaches the whole process group: the worker printed a KeyboardInterrupt traceback
    above the ingest's own one-line "interrupted" (which says what was kept), so it leaves without one.
    """
    signal.signal(signal.SIGINT, lambda signum, frame: os._exit(128 + signum))
    if sys.platform.startswith("linux"):
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG; without it an orphan keeps parsing
        if os.getppid() != parent:  # the parent died before the line above took effect
            os._exit(1)


def parse_file(path: str, doc_id: str, pdf_text: str = DEFAULT_PDF_TEXT, limits: Limits = Limits()) -> Document | str:
    """Read one file into a Document, or return why it cannot be read (runs in a worker)."""
    try:
        return read_document(Path(path), doc_id, pdf_text, limits)
    except ReadError as exc:
        return str(exc)
    except MemoryError:
        return "out of memory while reading the file"
    except Exception as exc:  # a reader bug must fail this file alone, not the batch
        return f"unexpected error reading the file: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def _changed_since(source: Source) -> bool:
    """Whether the file's size or modification time differ from those seen when it was hashed."""
    try:
        stat = os.stat(source.path)
    except OSError:
        return True
    return (stat.st_size, stat.st_mtime_ns) != (source.size, source.mtime_ns)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _unchanged(library: Library, doc_id: str, path: str, changed: tuple[str, ...] = (),
               duplicate: bool = False) -> FileResult:
    """A file whose content is stored: "unchanged", or "updated" when this ingest `changed` its readers or tags."""
    info = library.document(doc_id)
    return FileResult(path, "updated" if changed else "unchanged", info.pages if info else 0,
                      info.chunks if info else 0, doc_id=doc_id, changed=changed,
                      duplicate_of=(info.title if info else doc_id) if duplicate else None)


def fail(library: Library, path: str, error: str) -> FileResult:
    """Record why a file failed, so `groundwork docs` lists it, and say so as a result.

    A file ingested before keeps its last good version in the library (a corrupt copy loses nothing), and
    the error says so: answers still quote it.
    """
    if library.source(path) is not None:
        error = f"{error}; its version ingested before stays in the library (groundwork delete removes it)"
    library.record_failure(path, error)
    return FileResult(path, "failed", error=error)

