"""The library on disk: SQLite (documents, pages, chunks, vectors, FTS5) and a FAISS cache.

Every change is one SQLite transaction (WAL mode), so a crash or a kill leaves
the last committed library. The FAISS file is saved now and then, stamped with
the commit counter it reflects; on open, a stale one is reconciled with SQLite.
Reading is in index/queries.py; this module opens, writes and keeps the vectors.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import signal
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from index import access
from index.access import Reader
from index.audit import AuditTrail
from index.files import atomic_write
from index.queries import LibraryError, LibraryQueries, batches, marks
from index.records import Chunk, Document, Source
from index.schema import connect, is_read_only, read_only_error, writable
from index.vector_file import load_latest, save_stamped
from index.vectors import IVF_THRESHOLD, IVFPQ_THRESHOLD, VectorIndex, build_index, outgrown

FORMAT = 1
DATABASE = "library.sqlite"  # a library folder's database: documents, pages, chunks, accounts


class Library(LibraryQueries):
    """One library folder: open it, read it (LibraryQueries), and write to it under a writer lock."""

    def __init__(self, root: Path, conn: sqlite3.Connection):
        super().__init__(root, conn)
        self.read_only = is_read_only(conn)  # this process may not write the folder or its database
        self._vectors: VectorIndex | None = None
        self._lock_file = None
        self.accounts = access.Accounts(conn)
        self.audit = AuditTrail(conn)

    # ---- opening -----------------------------------------------------------------
    @staticmethod
    def exists(root: Path | str) -> bool:
        """Whether a library was made at `root` (open() finds its database there)."""
        return (Path(root) / DATABASE).exists()

    @classmethod
    def open(cls, root: Path | str, create: bool = False, mode: int = 0o700) -> Library:
        """Open the library at `root`; with `create`, make it if missing, its folder with `mode` (owner only)."""
        root = Path(root)
        db = root / DATABASE
        if root.exists() and not root.is_dir():  # ingest could not make one there either
            raise LibraryError(f"--library {root} is a file, not a library folder; name a folder")
        if not cls.exists(root) and not create:
            raise LibraryError(f"no library at {root}; run: groundwork ingest PATH --library {root}")
        # The database holds every document's text: readable by its owner only unless asked otherwise.
        # An existing folder keeps the permissions its owner gave it.
        try:
            root.mkdir(mode=mode, parents=True, exist_ok=True)
        except OSError as exc:  # a file of that name, or a folder one may not write
            raise LibraryError(f"cannot make library folder {root}: {exc.strerror or exc}; "
                               f"pick another --library") from None
        if not cls.exists(root) and not writable(db):
            raise LibraryError(f"cannot make a library in {root}: the folder is read-only; pick another --library")
        try:
            return cls(root, connect(db))
        except sqlite3.DatabaseError as exc:
            raise LibraryError(f"cannot open {db}: {exc}; is --library {root} a Groundwork library?") from None

    def close(self) -> None:
        """Close the database and release the writer lock."""
        self._conn.close()
        if self._lock_file:
            self._lock_file.close()
            self._lock_file = None

    @classmethod
    @contextlib.contextmanager
    def writing(cls, root: Path | str, create: bool = False, mode: int = 0o700) -> Iterator[Library]:
        """Open for writing (like open()): the single-writer lock is taken, and the vectors are saved on the way out."""
        with cls.open(root, create=create, mode=mode) as library:
            library._lock()
            try:
                yield library
            finally:  # also after a failure: what was committed to SQLite gets its vectors saved
                library.save_vectors()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def manifest(self) -> dict:
        """The embedding model and dimension the library was built with ({} while empty)."""
        path = self.root / "manifest.json"
        if not path.exists():
            return {}
        try:
            found = json.loads(path.read_bytes())
        except ValueError:  # not JSON, or not UTF-8 text
            found = None
        if not isinstance(found, dict):
            raise LibraryError(f"{path} is damaged (it should name the embedding model the library was built "
                               f"with); restore it from a backup, or ingest into a new --library")
        return found

    def check_model(self, model: str) -> None:
        """Refuse to mix vectors of two embedding models in one library."""
        built_with = self.manifest.get("embedding_model")
        if built_with and built_with != model:
            raise LibraryError(
                f"library {self.root} was built with embedding model {built_with!r}, not {model!r}; "
                f"set GROUNDWORK_EMBEDDING_MODEL={built_with} or ingest into a new --library"
            )

    def _ensure_manifest(self, model: str, dim: int) -> None:
        self.check_model(model)
        if not self.manifest:
            manifest = {"format": FORMAT, "embedding_model": model, "dim": dim,
                        "created_at": _now()}
            atomic_write(self.root / "manifest.json", lambda tmp: tmp.write_text(json.dumps(manifest, indent=2)))
            self._vectors = None  # the placeholder held before the dimension was known

    # ---- writing -----------------------------------------------------------------
    def _lock(self) -> None:
        """Take the single-writer lock, or fail at once if another process holds it."""
        if self._lock_file:
            return
        if self.read_only:
            raise read_only_error(self.root)
        handle = open(self.root / ".write.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise LibraryError(f"another process is writing to library {self.root}; wait for it to finish")
        self._lock_file = handle

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._check_writable()
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
            self._conn.execute(
                "INSERT INTO meta VALUES ('epoch', 1) "
                "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def _check_writable(self) -> None:
        if not self._lock_file:
            raise RuntimeError("open the library with Library.writing() to change it")

    def write_document(self, doc: Document, sha256: str, chunks: Sequence[Chunk], vectors: np.ndarray,
                       source: Source, model: str, tags: Sequence[str] = (), allow: Sequence[str] = ()) -> str:
        """Store a parsed document with its chunks and vectors; 'added' or 'updated'.

        `allow` names the groups that may read it; a changed file's new document keeps the groups
        of the one it replaces, so an update never makes a restricted file public.
        """
        self._ensure_manifest(model, vectors.shape[1])
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        previous = self.source(source.path)
        index = self.vectors  # load before the commit, or the load would already hold these
        with _signals_held():  # a commit and its vectors land together: Ctrl-C waits for both
            with self._transaction() as db:
                db.execute("INSERT INTO documents VALUES (?,?,?,?,?,?,?,?)",
                           (doc.doc_id, sha256, doc.title, Path(source.path).suffix.lower().lstrip("."),
                            len(doc.pages), len(chunks), _now(), json.dumps(doc.metadata)))
                # Groups before any text: a read on this connection mid-write never finds the text unguarded.
                inherited = access.doc_groups(db, previous.doc_id) if previous else ()
                access.record_groups(db, doc.doc_id, (*inherited, *allow))
                db.executemany("INSERT INTO pages VALUES (?,?,?)",
                               [(p.doc_id, p.number, p.text) for p in doc.pages])
                db.executemany("INSERT INTO chunks VALUES (?,?,?,?,?,?,?)",
                               [(c.chunk_id, c.doc_id, c.page, c.start, c.end, c.text, v.tobytes())
                                for c, v in zip(chunks, vectors)])
                removed = self._attach(db, source, previous, tags, ())
            index.add(np.array([c.chunk_id for c in chunks], np.int64), vectors)
            index.remove(removed)
        return "updated" if previous else "added"

    def link_source(self, source: Source, tags: Sequence[str] = (), allow: Sequence[str] = ()) -> None:
        """Point a path at a document already stored (same content), replacing what it pointed at."""
        previous = self.source(source.path)
        index = self.vectors
        with _signals_held():
            with self._transaction() as db:
                removed = self._attach(db, source, previous, tags, allow)
            index.remove(removed)

    def delete_document(self, doc_id: str) -> None:
        """Remove a document everywhere: rows, full-text entries, vectors and sources."""
        index = self.vectors
        with _signals_held():
            with self._transaction() as db:
                removed = self._delete(db, doc_id)
            index.remove(removed)

    def record_failure(self, path: str, error: str) -> None:
        """Remember why a file failed, for `docs` and the UI."""
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO failures VALUES (?,?,?)", (path, error, _now()))

    def _attach(self, db: sqlite3.Connection, s: Source, previous: Source | None, tags: Sequence[str],
                allow: Sequence[str]) -> list[int]:
        """Point the path at its document, tag it, let `allow` read it, clear its failure; drop an orphaned old one."""
        db.execute("INSERT OR REPLACE INTO sources VALUES (?,?,?,?)", (s.path, s.doc_id, s.size, s.mtime_ns))
        db.executemany("INSERT OR IGNORE INTO tags VALUES (?,?)", [(s.doc_id, t) for t in tags])
        if allow:
            access.record_groups(db, s.doc_id, allow)
        db.execute("DELETE FROM failures WHERE path = ?", (s.path,))
        if previous and previous.doc_id != s.doc_id:
            return self._drop_orphan(db, previous.doc_id)
        return []

    def _drop_orphan(self, db: sqlite3.Connection, doc_id: str) -> list[int]:
        # A changed file replaces its old document unless another file still has that content.
        still_used = db.execute("SELECT 1 FROM sources WHERE doc_id = ? LIMIT 1", (doc_id,)).fetchone()
        return [] if still_used else self._delete(db, doc_id)

    @staticmethod
    def _delete(db: sqlite3.Connection, doc_id: str) -> list[int]:
        ids = [r[0] for r in db.execute("SELECT chunk_id FROM chunks WHERE doc_id = ?", (doc_id,))]
        for table in ("chunks", "pages", "tags", "doc_groups", "sources", "documents"):
            db.execute(f"DELETE FROM {table} WHERE doc_id = ?", (doc_id,))
        return ids

    def change_groups(self, doc_id: str, allow: Sequence[str] = (), deny: Sequence[str] = (),
                      make_public: bool = False) -> tuple[str, ...]:
        """Change which groups may read a stored document, without re-ingesting it (see access.change_groups)."""
        return access.change_groups(self._conn, doc_id, allow, deny, make_public)

    # ---- vectors -----------------------------------------------------------------
    def chunk_vectors(self, ids: Sequence[int], reader: Reader | None = None) -> dict[int, np.ndarray]:
        """The stored embedding of each chunk `reader` may read, by id."""
        if not self.manifest or not len(ids):
            return {}
        if reader is not None:
            ids = list(self.chunks(ids, reader))
        found, vecs = self._stored_vectors(list(ids))
        return dict(zip(found.tolist(), vecs))

    @property
    def vectors(self) -> VectorIndex:
        """The FAISS index, loaded on first use and reconciled with SQLite."""
        if self._vectors is None:
            if not self.manifest:
                return VectorIndex(1)  # an empty library: nothing to search yet
            self._vectors = self._load_vectors()
        if self._vectors.fetch is None:  # IVF-PQ re-ranks on the exact vectors kept here
            self._vectors.fetch = self._vectors_in_order
        return self._vectors

    def _load_vectors(self) -> VectorIndex:
        saved = load_latest(self.root, self.manifest["dim"])
        if saved is None:
            return self._rebuild()
        epoch, index = saved
        if epoch != self.epoch():
            self._reconcile(index)
        return index

    def _reconcile(self, index: VectorIndex) -> None:
        stored = np.array([r[0] for r in self._conn.execute("SELECT chunk_id FROM chunks")], np.int64)
        held = index.ids()
        index.remove(np.setdiff1d(held, stored, assume_unique=True))
        missing = np.setdiff1d(stored, held, assume_unique=True)
        for part in batches(missing.tolist(), 5000):
            ids, vecs = self._stored_vectors(part)
            index.add(ids, vecs)

    def _stored_vectors(self, ids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        if ids is None:
            rows = self._conn.execute("SELECT chunk_id, vector FROM chunks").fetchall()
        else:
            rows = self._conn.execute(
                f"SELECT chunk_id, vector FROM chunks WHERE chunk_id IN ({marks(ids)})", list(ids)).fetchall()
        dim = self.manifest["dim"]
        vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(-1, dim)
        return np.array([r[0] for r in rows], np.int64), vecs

    def _vectors_in_order(self, ids: np.ndarray) -> np.ndarray:
        found = self.chunk_vectors(ids.tolist())
        return np.stack([found[int(i)] for i in ids]) if len(ids) else np.empty((0, self.manifest["dim"]), np.float32)

    def _rebuild(self, ivf_threshold: int = IVF_THRESHOLD, pq_threshold: int = IVFPQ_THRESHOLD) -> VectorIndex:
        ids, vecs = self._stored_vectors()
        return build_index(ids, vecs, ivf_threshold, pq_threshold)

    def rebuild_vectors(self, ivf_threshold: int = IVF_THRESHOLD, pq_threshold: int = IVFPQ_THRESHOLD) -> VectorIndex:
        """Rebuild the vector index from the stored vectors (exact, IVF or IVF-PQ by size); saved on closing."""
        self._check_writable()
        self._vectors = self._rebuild(ivf_threshold, pq_threshold)
        return self.vectors

    def save_vectors(self) -> None:
        """Write the FAISS index atomically, stamped with the commit it reflects."""
        if self._vectors is None or not self.manifest:
            return
        if outgrown(self._vectors):
            self._vectors = self._rebuild()  # grown past its kind: exact -> IVF -> IVF-PQ
        save_stamped(self._vectors, self.root, self.epoch())


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Inside: Ctrl-C, SIGTERM and SIGHUP wait, then reach their handlers as the block ends.

    A write commits its rows, then adds their vectors to the index in memory. Interrupted between the
    two, the next save stamped the vector file with that commit, and opening the library found nothing
    to reconcile: the document's chunks were never searched by meaning. Signals are handled in the
    main thread only, so elsewhere (the UI's ingest) nothing is held.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    stops = [sig for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
             if signal.getsignal(sig) not in (signal.SIG_IGN, None)]  # None: a handler set outside Python, left be
    previous = {sig: signal.signal(sig, lambda signum, frame: caught.append(signum)) for sig in stops}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if caught:
            signal.raise_signal(caught[0])
