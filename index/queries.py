"""The read side of a library: what it holds and who may read it, one SQLite query each.

Every query takes the `reader` it answers for and keeps to what that reader may read
(index/access.py), inside the query itself, so a caller never filters results afterwards.
Library (index/store.py) adds opening, writing and the FAISS vectors on top.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from index import access
from index.access import Reader
from index.control_chars import visible
from index.errors import GroundworkError
from index.records import Chunk, DocumentInfo, Source
from index.spelling import variants
from index.titles import document_keys
from index.vectors import IdFilter

_LISTED = 10  # documents an ambiguous reference lists: the error stays one readable line
_PER_DOCUMENT = ("documents", "pages", "chunks", "sources", "tags", "doc_groups")


class LibraryError(GroundworkError):
    """A one-line problem with a library that a user can act on."""


class LibraryQueries:
    """The queries over one open library database; the base of Library, which also writes."""

    def __init__(self, root: Path, conn: sqlite3.Connection):
        self.root = root
        self._conn = conn
        self._df = access.ScopeCache(lambda conn, scope: {}, size=1)  # word -> chunks holding it, as the library stands
        self._filters = access.ScopeCache(access.chunk_filter)  # each reader scope's chunk filter for dense search
        self._named = access.ScopeCache(self._named_in)  # each scope's documents with their name keys, per question

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
        return self._listed(self.scope(reader), doc_id)

    def named_documents(self, reader: Reader | None = None) -> list[tuple[DocumentInfo, frozenset[str]]]:
        """Every document `reader` may read with its name keys (index/titles.py), built once per library state."""
        return self._named.get(self._conn, self.scope(reader))

    def _named_in(self, conn: sqlite3.Connection, scope: access.Scope | None) -> list:
        return [(d, document_keys(d.title, d.paths)) for d in self._listed(scope)]

    def _listed(self, scope: access.Scope | None, doc_id: str | None = None) -> list[DocumentInfo]:
        clause, args = access.doc_clause("d.doc_id", scope)
        if doc_id:
            clause, args = f"{clause} AND d.doc_id = ?", [*args, doc_id]
        rows = self._conn.execute(
            "SELECT d.doc_id, d.title, d.pages, d.chunks, d.ingested_at, "
            "(SELECT json_group_array(path) FROM sources s WHERE s.doc_id = d.doc_id), "
            "(SELECT json_group_array(tag) FROM tags t WHERE t.doc_id = d.doc_id), "
            "(SELECT json_group_array(grp) FROM doc_groups g WHERE g.doc_id = d.doc_id) "
            f"FROM documents d WHERE {clause} ORDER BY d.ingested_at DESC, d.title", args).fetchall()
        return [DocumentInfo(doc_id=r[0], title=r[1], pages=r[2], chunks=r[3], ingested_at=r[4],
                             paths=_sorted(r[5]), tags=_sorted(r[6]), groups=_sorted(r[7]))
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
            f"SELECT doc_id FROM (SELECT doc_id FROM documents WHERE doc_id IN ({marks(doc_ids)}) "
            f"UNION SELECT doc_id FROM tags WHERE tag IN ({marks(tags)})) WHERE {clause}",
            (*doc_ids, *tags, *args)).fetchall()
        return sorted(r[0] for r in rows)

    def chunk_ids_for(self, doc_ids: Sequence[str]) -> np.ndarray:
        """Chunk ids of these documents."""
        rows = self._conn.execute(
            f"SELECT chunk_id FROM chunks WHERE doc_id IN ({marks(doc_ids)})", list(doc_ids)).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def chunks(self, ids: Sequence[int], reader: Reader | None = None) -> dict[int, tuple[Chunk, str]]:
        """Chunks by id, each with its document's title; those `reader` may not read are left out."""
        found: dict[int, tuple[Chunk, str]] = {}
        clause, args = access.doc_clause("c.doc_id", self.scope(reader))
        for part in batches(list(ids), 500):
            rows = self._conn.execute(
                'SELECT c.chunk_id, c.doc_id, c.page, c.start, c."end", c.text, d.title '
                f"FROM chunks c JOIN documents d USING (doc_id) WHERE c.chunk_id IN ({marks(part)}) AND {clause}",
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
            clause, args = f"{clause} AND c.doc_id IN ({marks(allowed_docs)})", [*args, *allowed_docs]
        join = "JOIN chunks c ON c.chunk_id = f.rowid" if scope is not None or allowed_docs is not None else ""
        rows = self._conn.execute(
            f"SELECT f.rowid, bm25(chunks_fts) FROM chunks_fts f {join} "
            f"WHERE chunks_fts MATCH ? AND {clause} ORDER BY bm25(chunks_fts) LIMIT ?",
            (match, *args, limit)).fetchall()
        if scope is not None:
            return [(r[0], 1.0 / rank) for rank, r in enumerate(rows, start=1)]
        return [(r[0], -r[1]) for r in rows]

    def doc_freq(self, word: str, reader: Reader | None = None) -> int:
        """How many chunks `reader` may read contain `word`, as FTS5 tokenises it (so 'models' counts 'model'),
        in any of its spellings ('licence' counts 'license')."""
        match = " OR ".join('"' + v.replace('"', '""') + '"' for v in variants(word))
        scope = self.scope(reader)
        if scope is not None:  # not cached: groups may change between two questions
            clause, args = access.doc_clause("c.doc_id", scope)
            return self._conn.execute(
                "SELECT count(*) FROM chunks_fts f JOIN chunks c ON c.chunk_id = f.rowid "
                f"WHERE chunks_fts MATCH ? AND {clause}", (match, *args)).fetchone()[0]
        counts = self._df.get(self._conn, None)  # a fresh dict once any process has written since
        if word not in counts:
            counts[word] = self._conn.execute(
                "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", (match,)).fetchone()[0]
        return counts[word]

    def count(self, table: str, reader: Reader | None = None) -> int:
        """Rows in one of the library's tables; for a reader, only rows of documents it may read."""
        scope = self.scope(reader)
        if scope is None:
            return self._conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        if table not in _PER_DOCUMENT:
            raise LibraryError(f"only an admin may count the rows of {table}")
        clause, args = access.doc_clause("doc_id", scope)
        return self._conn.execute(f"SELECT count(*) FROM {table} WHERE {clause}", args).fetchone()[0]

    def scope(self, reader: Reader | None) -> access.Scope | None:
        """What `reader` may read now, from the accounts as they stand; None means everything."""
        return access.scope_of(self._conn, reader)

    def chunk_filter(self, reader: Reader | None) -> IdFilter | None:
        """The dense-search filter of the chunks `reader` may read; None when it may read them all."""
        scope = self.scope(reader)
        return None if scope is None else self._filters.get(self._conn, scope)

    def epoch(self) -> int:
        """The commit counter: it grows by one with every write."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
        return int(row[0]) if row else 0


def _as_path(ref: str) -> str:
    """The absolute form of a reference read as a file path ('' when it cannot be one)."""
    try:
        return str(Path(ref).resolve())
    except (OSError, ValueError):  # a NUL byte, a loop of links
        return ""


def _sorted(array: str) -> tuple[str, ...]:
    """The strings of a JSON array from json_group_array, sorted: any character, a newline too, may be in a file name."""
    return tuple(sorted(json.loads(array)))


def marks(items: Sequence) -> str:
    """SQL placeholders for the items of an IN (...) list."""
    return ",".join("?" * len(items))


def batches(items: list, size: int) -> Iterator[list]:
    """The items in lists of at most `size`: SQLite bounds the variables of one statement."""
    for i in range(0, len(items), size):
        yield items[i:i + size]

