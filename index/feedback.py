"""Feedback on answers, kept in the library's SQLite: add it, list it, export it as JSONL.

Admins (and the machine's CLI user, reader None) see every verdict; any other reader sees its
own only, as verdicts hold others' questions and answers quoting documents it may not read.

Feedback is not part of the documents, so it is written outside the library's writer lock
and commit counter: rating an answer never invalidates the search index, and works while
an ingest holds the lock.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from index.access import Reader, Scope, doc_clause, scope_of
from index.store import DATABASE, LibraryError
from index.schema import connect

RATINGS = (-1, 1)


@dataclass(frozen=True)
class Feedback:
    """One user's verdict on one answer; citations are {"doc", "page", "chunk_id"} dicts."""

    question: str
    answer: str
    rating: int
    citations: tuple[dict, ...] = ()
    comment: str = ""
    model: str = ""
    mode: str = ""
    created_at: str = ""
    id: int | None = None
    user: str = ""  # who gave it; '' for the machine's own CLI user

    def to_json(self) -> dict:
        """The JSONL row of an export."""
        return {"id": self.id, "question": self.question, "answer": self.answer, "citations": list(self.citations),
                "rating": self.rating, "comment": self.comment, "model": self.model, "mode": self.mode,
                "created_at": self.created_at, "user": self.user}


@dataclass
class FeedbackLog:
    """The feedback table of the library at `root`."""

    root: Path
    _conn: sqlite3.Connection = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        db = self.root / DATABASE
        if not db.exists():
            raise LibraryError(f"no library at {self.root}; run: groundwork ingest PATH --library {self.root}")
        self._conn = connect(db)  # a library made before feedback existed gains the table

    def add(self, item: Feedback) -> Feedback:
        """Store one verdict; returns it with its id and time."""
        if item.rating not in RATINGS:
            raise ValueError(f"rating must be -1 or 1, not {item.rating!r}")
        at = item.created_at or datetime.now(timezone.utc).isoformat(timespec="seconds")
        cursor = self._conn.execute(
            "INSERT INTO feedback (question, answer, citations, rating, comment, model, mode, created_at, user) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            (item.question, item.answer, json.dumps(list(item.citations)), item.rating, item.comment.strip(),
             item.model, item.mode, at, item.user))
        return Feedback(**{**item.__dict__, "created_at": at, "comment": item.comment.strip(), "id": cursor.lastrowid})

    def entries(self, rating: int | None = None, reader: Reader | None = None) -> list[Feedback]:
        """Every verdict `reader` may see (or those with one rating), newest first."""
        where, args = ["1"], []
        if rating is not None:
            where, args = [*where, "rating = ?"], [*args, rating]
        scope = scope_of(self._conn, reader)
        if scope is not None:
            where, args = [*where, "user = ?"], [*args, reader.name]
        rows = self._conn.execute(
            "SELECT question, answer, rating, citations, comment, model, mode, created_at, id, user "
            f"FROM feedback WHERE {' AND '.join(where)} ORDER BY id DESC", args).fetchall()
        items = [Feedback(r[0], r[1], r[2], tuple(json.loads(r[3])), *r[4:]) for r in rows]
        return items if scope is None else self._still_readable(items, scope)

    def _still_readable(self, items: list[Feedback], scope: Scope) -> list[Feedback]:
        """The verdicts whose every cited passage the scope may still read (groups can be taken away)."""
        cited = sorted({c["chunk_id"] for item in items for c in item.citations})
        clause, args = doc_clause("doc_id", scope)
        readable = {r[0] for r in self._conn.execute(
            f"SELECT chunk_id FROM chunks WHERE chunk_id IN ({','.join('?' * len(cited))}) AND {clause}",
            (*cited, *args))}
        return [item for item in items if all(c["chunk_id"] in readable for c in item.citations)]

    def export_jsonl(self, out: IO[str], rating: int | None = None, reader: Reader | None = None) -> int:
        """Write the verdicts `reader` may see as JSON lines, oldest first; returns how many."""
        items = list(reversed(self.entries(rating, reader)))
        for item in items:
            out.write(json.dumps(item.to_json(), ensure_ascii=False) + "\n")
        return len(items)

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()

    def __enter__(self) -> FeedbackLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def citations_of(answer_json: dict) -> tuple[dict, ...]:
    """The {"doc", "page", "chunk_id"} of each citation in an answer's JSON object."""
    return tuple({"doc": c["doc"], "page": c["page"], "chunk_id": c["chunk_id"]}
                 for c in answer_json.get("citations", ()))

