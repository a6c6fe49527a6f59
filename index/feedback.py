"""Feedback on answers, kept in the library's SQLite: add it, list it, export it as JSONL.

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

from index.store import SCHEMA, LibraryError

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

    def to_json(self) -> dict:
        """The JSONL row of an export."""
        return {"id": self.id, "question": self.question, "answer": self.answer, "citations": list(self.citations),
                "rating": self.rating, "comment": self.comment, "model": self.model, "mode": self.mode,
                "created_at": self.created_at}


@dataclass
class FeedbackLog:
    """The feedback table of the library at `root`."""

    root: Path
    _conn: sqlite3.Connection = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        db = self.root / "library.sqlite"
        if not db.exists():
            raise LibraryError(f"no library at {self.root}; run: groundwork ingest PATH --library {self.root}")
        self._conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False, timeout=30)
        self._conn.executescript(SCHEMA)  # a library made before feedback existed gains the table

    def add(self, item: Feedback) -> Feedback:
        """Store one verdict; returns it with its id and time."""
        if item.rating not in RATINGS:
            raise ValueError(f"rating must be -1 or 1, not {item.rating!r}")
        at = item.created_at or datetime.now(timezone.utc).isoformat(timespec="seconds")
        cursor = self._conn.execute(
            "INSERT INTO feedback (question, answer, citations, rating, comment, model, mode, created_at) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (item.question, item.answer, json.dumps(list(item.citations)), item.rating, item.comment.strip(),
             item.model, item.mode, at))
        return Feedback(**{**item.__dict__, "created_at": at, "comment": item.comment.strip(), "id": cursor.lastrowid})

    def entries(self, rating: int | None = None) -> list[Feedback]:
        """Every verdict (or those with one rating), newest first."""
        where, args = ("WHERE rating = ?", (rating,)) if rating is not None else ("", ())
        rows = self._conn.execute(
            "SELECT question, answer, rating, citations, comment, model, mode, created_at, id "
            f"FROM feedback {where} ORDER BY id DESC", args).fetchall()
        return [Feedback(r[0], r[1], r[2], tuple(json.loads(r[3])), *r[4:]) for r in rows]

    def export_jsonl(self, out: IO[str], rating: int | None = None) -> int:
        """Write the verdicts as JSON lines, oldest first; returns how many."""
        items = list(reversed(self.entries(rating)))
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

