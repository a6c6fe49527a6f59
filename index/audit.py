"""The audit trail: every answer given, who asked, what they were shown; readable by admins only."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO

from index.access import AccessError, Reader, scope_of


@dataclass(frozen=True)
class AuditEntry:
    """One answer as given: passages are {"chunk_id", "doc_id", "page"}, verdicts one dict a sentence."""

    user: str  # '' for the machine's own CLI user
    question: str
    passages: tuple[dict, ...]
    model: str
    mode: str
    verdicts: tuple[dict, ...]  # e.g. {"supported": true, "score": 0.93, "citations": [1]}
    answer: str
    at: str = ""
    id: int | None = None

    def to_json(self) -> dict:
        """The JSONL row of an export."""
        return {"id": self.id, "at": self.at, "user": self.user, "question": self.question,
                "passages": list(self.passages), "model": self.model, "mode": self.mode,
                "verdicts": list(self.verdicts), "answer": self.answer}


class AuditTrail:
    """The audit table of a library: written on every answer, read through admin-only calls."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    def record(self, entry: AuditEntry) -> AuditEntry:
        """Store one answer (outside the writer lock: an answer never changes the documents)."""
        at = entry.at or datetime.now(timezone.utc).isoformat(timespec="seconds")
        cursor = self._conn.execute(
            "INSERT INTO audit (at, user, question, passages, model, mode, verdicts, answer) VALUES (?,?,?,?,?,?,?,?)",
            (at, entry.user, entry.question, json.dumps(list(entry.passages)), entry.model, entry.mode,
             json.dumps(list(entry.verdicts)), entry.answer))
        return AuditEntry(**{**entry.__dict__, "at": at, "id": cursor.lastrowid})

    def entries(self, reader: Reader | None, user: str | None = None, since: str | None = None) -> list[AuditEntry]:
        """The answers recorded, oldest first, optionally one user's and from `since` (ISO date or time, UTC)."""
        if scope_of(self._conn, reader) is not None:
            raise AccessError("only an admin may read the audit trail")
        where, args = ["1"], []
        if user is not None:
            where, args = [*where, "user = ?"], [*args, user]
        if since is not None:
            where, args = [*where, "at >= ?"], [*args, _utc(since)]
        rows = self._conn.execute(
            "SELECT user, question, passages, model, mode, verdicts, answer, at, id FROM audit "
            f"WHERE {' AND '.join(where)} ORDER BY at, id", args).fetchall()
        return [AuditEntry(r[0], r[1], tuple(json.loads(r[2])), r[3], r[4], tuple(json.loads(r[5])), *r[6:])
                for r in rows]

    def export_jsonl(self, out: IO[str], reader: Reader | None, user: str | None = None,
                     since: str | None = None) -> int:
        """Write the entries as JSON lines (admins only); returns how many."""
        items = self.entries(reader, user, since)
        for item in items:
            out.write(json.dumps(item.to_json(), ensure_ascii=False) + "\n")
        return len(items)


def _utc(when: str) -> str:
    """An ISO date or time as the stored UTC form, so that strings compare as times."""
    try:
        moment = datetime.fromisoformat(when)
    except (TypeError, ValueError):
        raise AccessError(f"--since {when!r} is not a date or time; write it like 2026-11-29 or "
                          f"2026-11-29T18:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")
