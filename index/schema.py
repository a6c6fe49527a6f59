"""The library database: its schema, the connection settings, and the in-place upgrade of older libraries.

schema.sql creates whatever is missing (`IF NOT EXISTS`), which is all a new table needs.
A column added to an existing table needs an ALTER, run once and recorded in
`PRAGMA user_version`, so a library made by an older Groundwork opens and upgrades itself.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA = (Path(__file__).with_name("schema.sql")).read_text()
# 1: documents, chunks, feedback; 2: accounts, permissions, audit, and feedback.user.
VERSION = 2
_ADDED_COLUMNS = {2: [("feedback", "user", "TEXT NOT NULL DEFAULT ''")]}


def connect(db: Path) -> sqlite3.Connection:
    """Open the database at `db` (autocommit, WAL, foreign keys) and bring its schema up to date."""
    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # WAL+NORMAL survives a process kill
    conn.execute("PRAGMA foreign_keys=ON")
    upgrade(conn)
    return conn


def upgrade(conn: sqlite3.Connection) -> None:
    """Create missing tables, then add the columns an older library lacks (once, under a write lock)."""
    conn.executescript(SCHEMA)
    if conn.execute("PRAGMA user_version").fetchone()[0] >= VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")  # two processes opening an old library at once: one upgrades
    try:
        for _, columns in sorted(_ADDED_COLUMNS.items()):
            for table, column, decl in columns:
                have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
                if column not in have:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
        conn.execute(f"PRAGMA user_version = {VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
