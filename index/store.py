"""The library on disk: SQLite (documents, pages, chunks, vectors, FTS5) and a FAISS cache.

Every change is one SQLite transaction (WAL mode), so a crash or a kill leaves
the last committed library. The FAISS file is saved now and then, stamped with
the commit counter it reflects; on open, a stale one is reconciled with SQLite.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from index import access
from index.access import Reader
from index.audit import AuditTrail
from index.control_chars import visible
from index.records import Chunk, Document, DocumentInfo
from index.errors import GroundworkError
from index.files import atomic_write
from index.schema import connect
from index.vector_file import load_latest, save_stamped
from index.vectors import IVF_THRESHOLD, IVFPQ_THRESHOLD, IdFilter, VectorIndex, build_index, outgrown

FORMAT = 1
_LISTED = 10  # documents an ambiguous reference lists: the error stays one readable line
_PER_DOCUMENT = ("documents", "pages", "chunks", "sources", "tags", "doc_groups")


class LibraryError(GroundworkError):
    """A one-line problem with a library that a user can act on."""


@dataclass(frozen=True)
class Source:
    """A file on disk that a library document came from."""

    path: str
    doc_id: str
    size: int
    mtime_ns: int


class Library:
    """One library folder: open it, read it, and write to it under a writer lock."""

    def __init__(self, root: Path, conn: sqlite3.Connection):
        self.root = root
        self._conn = conn
        self._vectors: VectorIndex | None = None
        self._lock_file = None
        self._df: dict[str, int] = {}  # document frequencies for the answer engine's word weights
        self._filters = access.FilterCache()  # each reader scope's chunk filter for dense search
        self.accounts = access.Accounts(conn)
        self.audit = AuditTrail(conn)

    # ---- opening -----------------------------------------------------------------
    @classmethod
    def open(cls, root: Path | str, create: bool = False, mode: int = 0o700) -> Library:
        """Open the library at `root`; with `create`, make it if missing, its folder with `mode` (owner only)."""
        root = Path(root)
        db = root / "library.sqlite"
        if not db.exists() and not create:
            raise LibraryError(f"no library at {root}; run: groundwork ingest PATH --library {root}")
        # The database holds every document's text: readable by its owner only unless asked otherwise.
        # An existing folder keeps the permissions its owner gave it.
        root.mkdir(mode=mode, parents=True, exist_ok=True)
        return cls(root, connect(db))

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
        return json.loads(path.read_text()) if path.exists() else {}

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
            self._df.clear()
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
        with self._transaction() as db:
            removed = self._attach(db, source, previous, tags, allow)
        index.remove(removed)

    def delete_document(self, doc_id: str) -> None:
        """Remove a document everywhere: rows, full-text entries, vectors and sources."""
        index = self.vectors
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

    # ---- reading -----------------------------------------------------------------
    def source(self, path: str) -> Source | None:
        """What the library knows of a file path, if anything."""
        row = self._conn.execute("SELECT * FROM sources WHERE path = ?", (path,)).fetchone()
        return Source(*row) if row else None

    def doc_by_sha(self, sha256: str) -> str | None:
        """The id of the document with this content, if stored."""
        row = self._conn.execute("SELECT doc_id FROM documents WHERE sha256 = ?", (sha256,)).fetchone()
        return row[0] if row else None

    def documents(self, doc_id: str | None = None, reader: Reader | None = None) -> list[DocumentInfo]:
        """Every document `reader` may read (or the one with `doc_id`), most recently ingested first."""
        clause, args = access.doc_clause("d.doc_id", self.scope(reader))
        if doc_id:
            clause, args = f"{clause} AND d.doc_id = ?", [*args, doc_id]
        rows = self._conn.execute(
            "SELECT d.doc_id, d.title, d.pages, d.chunks, d.ingested_at, "
            "(SELECT group_concat(path, char(10)) FROM sources s WHERE s.doc_id = d.doc_id), "
            "(SELECT group_concat(tag, char(10)) FROM tags t WHERE t.doc_id = d.doc_id), "
            "(SELECT group_concat(grp, char(10)) FROM doc_groups g WHERE g.doc_id = d.doc_id) "
            f"FROM documents d WHERE {clause} ORDER BY d.ingested_at DESC, d.title", args).fetchall()
        return [DocumentInfo(doc_id=r[0], title=r[1], pages=r[2], chunks=r[3], ingested_at=r[4],
                             paths=_lines(r[5]), tags=_lines(r[6]), groups=_lines(r[7]))
                for r in rows]

    def document(self, doc_id: str, reader: Reader | None = None) -> DocumentInfo | None:
        """One document's listing, if stored and `reader` may read it."""
        found = self.documents(doc_id, reader)
        return found[0] if found else None

    def failures(self, reader: Reader | None = None) -> list[tuple[str, str, str]]:
        """Files whose last ingest failed: (path, reason, when); admins only, as paths name documents."""
        if self.scope(reader) is not None:
            return []
        return self._conn.execute("SELECT path, error, at FROM failures ORDER BY path").fetchall()

    def resolve(self, ref: str, reader: Reader | None = None) -> str:
        """The doc id for a document named exactly by id, title or source path, else by a unique id prefix.

        The reference is compared literally (no wildcards); one that names no document or several
        raises LibraryError, listing the candidates, so a caller never acts on a guess. Documents
        `reader` may not read are not candidates: the error for them is that for no document.
        """
        if not ref.strip():
            raise LibraryError("the document reference is empty; name a document id, title or path "
                               "from: groundwork docs")
        db = self._conn
        clause, args = access.doc_clause("doc_id", self.scope(reader))
        exact = {r[0] for r in db.execute(
            f"SELECT doc_id FROM (SELECT doc_id FROM documents WHERE doc_id = ? OR title = ? "
            f"UNION SELECT doc_id FROM sources WHERE path = ?) WHERE {clause}", (ref, ref, _as_path(ref), *args))}
        found = exact or {r[0] for r in db.execute(
            f"SELECT doc_id FROM documents WHERE substr(doc_id, 1, length(?)) = ? AND {clause}", (ref, ref, *args))}
        if len(found) == 1:
            return found.pop()
        if found:
            shown = sorted(found)[:_LISTED]
            named = ", ".join(f"{d.doc_id} ({visible(d.title)})" for d in map(self.document, shown) if d)
            more = f" and {len(found) - len(shown)} more" if len(found) > len(shown) else ""
            raise LibraryError(f"{ref!r} names {len(found)} documents: {named}{more}; "
                               f"name one by its full document id")
        raise LibraryError(f"no document {ref!r} in library {self.root}; list them with: groundwork docs")

    def select_docs(self, doc_ids: Sequence[str] = (), tags: Sequence[str] = (),
                    reader: Reader | None = None) -> list[str]:
        """Ids of the documents named, plus those carrying any of the tags, that `reader` may read."""
        clause, args = access.doc_clause("doc_id", self.scope(reader))
        rows = self._conn.execute(
            f"SELECT doc_id FROM (SELECT doc_id FROM documents WHERE doc_id IN ({_marks(doc_ids)}) "
            f"UNION SELECT doc_id FROM tags WHERE tag IN ({_marks(tags)})) WHERE {clause}",
            (*doc_ids, *tags, *args)).fetchall()
        return sorted(r[0] for r in rows)

    def chunk_ids_for(self, doc_ids: Sequence[str]) -> np.ndarray:
        """Chunk ids of these documents."""
        rows = self._conn.execute(
            f"SELECT chunk_id FROM chunks WHERE doc_id IN ({_marks(doc_ids)})", list(doc_ids)).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def chunks(self, ids: Sequence[int], reader: Reader | None = None) -> dict[int, tuple[Chunk, str]]:
        """Chunks by id, each with its document's title; those `reader` may not read are left out."""
        found: dict[int, tuple[Chunk, str]] = {}
        clause, args = access.doc_clause("c.doc_id", self.scope(reader))
        for part in _batches(list(ids), 500):
            rows = self._conn.execute(
                'SELECT c.chunk_id, c.doc_id, c.page, c.start, c."end", c.text, d.title '
                f"FROM chunks c JOIN documents d USING (doc_id) WHERE c.chunk_id IN ({_marks(part)}) AND {clause}",
                (*part, *args))
            found.update({r[0]: (Chunk(*r[:6]), r[6]) for r in rows})
        return found

    def page_text(self, doc_id: str, number: int, reader: Reader | None = None) -> str | None:
        """The stored text of one page, if `reader` may read its document."""
        clause, args = access.doc_clause("doc_id", self.scope(reader))
        row = self._conn.execute(f"SELECT text FROM pages WHERE doc_id = ? AND number = ? AND {clause}",
                                 (doc_id, number, *args)).fetchone()
        return row[0] if row else None

    def lexical(self, match: str, limit: int, allowed_docs: Sequence[str] | None = None,
                reader: Reader | None = None) -> list[tuple[int, float]]:
        """(chunk id, score; higher is better) for an FTS5 MATCH expression, in documents `reader` may read.

        The permission is a condition of the query itself (each match's document is looked up in the
        readable set, made once per query), so the LIMIT counts readable matches only. The score is
        BM25, except for a restricted reader: FTS5 weighs words by counts over the whole table, so a
        BM25 value would tell how many hidden chunks hold a word; such a reader gets 1 / rank instead.
        """
        scope = self.scope(reader)
        clause, args = access.doc_clause("c.doc_id", scope)
        if allowed_docs is not None:
            clause, args = f"{clause} AND c.doc_id IN ({_marks(allowed_docs)})", [*args, *allowed_docs]
        join = "JOIN chunks c ON c.chunk_id = f.rowid" if scope is not None or allowed_docs is not None else ""
        rows = self._conn.execute(
            f"SELECT f.rowid, bm25(chunks_fts) FROM chunks_fts f {join} "
            f"WHERE chunks_fts MATCH ? AND {clause} ORDER BY bm25(chunks_fts) LIMIT ?",
            (match, *args, limit)).fetchall()
        if scope is not None:
            return [(r[0], 1.0 / rank) for rank, r in enumerate(rows, start=1)]
        return [(r[0], -r[1]) for r in rows]

    def chunk_vectors(self, ids: Sequence[int], reader: Reader | None = None) -> dict[int, np.ndarray]:
        """The stored embedding of each chunk `reader` may read, by id."""
        if not self.manifest or not len(ids):
            return {}
        if reader is not None:
            ids = list(self.chunks(ids, reader))
        found, vecs = self._stored_vectors(list(ids))
        return dict(zip(found.tolist(), vecs))

    def doc_freq(self, word: str, reader: Reader | None = None) -> int:
        """How many chunks `reader` may read contain `word`, as FTS5 tokenises it (so 'models' counts 'model')."""
        match = '"' + word.replace('"', '""') + '"'
        scope = self.scope(reader)
        if scope is not None:  # not cached: groups may change between two questions
            clause, args = access.doc_clause("c.doc_id", scope)
            return self._conn.execute(
                "SELECT count(*) FROM chunks_fts f JOIN chunks c ON c.chunk_id = f.rowid "
                f"WHERE chunks_fts MATCH ? AND {clause}", (match, *args)).fetchone()[0]
        if word not in self._df:
            self._df[word] = self._conn.execute(
                "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", (match,)).fetchone()[0]
        return self._df[word]

    def count(self, table: str, reader: Reader | None = None) -> int:
        """Rows in one of the library's tables; for a reader, only rows of documents it may read."""
        scope = self.scope(reader)
        if scope is None:
            return self._conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        if table not in _PER_DOCUMENT:
            raise LibraryError(f"only an admin may count the rows of {table}")
        clause, args = access.doc_clause("doc_id", scope)
        return self._conn.execute(f"SELECT count(*) FROM {table} WHERE {clause}", args).fetchone()[0]

    # ---- who may read what (index/access.py) ---------------------------------------
    def scope(self, reader: Reader | None) -> access.Scope | None:
        """What `reader` may read now, from the accounts as they stand; None means everything."""
        return access.scope_of(self._conn, reader)

    def chunk_filter(self, reader: Reader | None) -> IdFilter | None:
        """The dense-search filter of the chunks `reader` may read; None when it may read them all."""
        scope = self.scope(reader)
        return None if scope is None else self._filters.get(self._conn, scope)

    def change_groups(self, doc_id: str, allow: Sequence[str] = (), deny: Sequence[str] = (),
                      make_public: bool = False) -> tuple[str, ...]:
        """Change which groups may read a stored document, without re-ingesting it (see access.change_groups)."""
        return access.change_groups(self._conn, doc_id, allow, deny, make_public)

    def epoch(self) -> int:
        """The commit counter: it grows by one with every write."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
        return int(row[0]) if row else 0

    # ---- vectors -----------------------------------------------------------------
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
        for part in _batches(missing.tolist(), 5000):
            ids, vecs = self._stored_vectors(part)
            index.add(ids, vecs)

    def _stored_vectors(self, ids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        if ids is None:
            rows = self._conn.execute("SELECT chunk_id, vector FROM chunks").fetchall()
        else:
            rows = self._conn.execute(
                f"SELECT chunk_id, vector FROM chunks WHERE chunk_id IN ({_marks(ids)})", list(ids)).fetchall()
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


def _as_path(ref: str) -> str:
    """The absolute form of a reference read as a file path ('' when it cannot be one)."""
    try:
        return str(Path(ref).resolve())
    except (OSError, ValueError):  # a NUL byte, a loop of links
        return ""


def _lines(joined: str | None) -> tuple[str, ...]:
    return tuple(sorted(joined.split("\n"))) if joined else ()


def _marks(items: Sequence) -> str:
    return ",".join("?" * len(items))


def _batches(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


