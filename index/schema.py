"""The library database: its schema, the connection settings, and the in-place upgrade of older libraries.

schema.sql creates whatever is missing (`IF NOT EXISTS`), which is all a new table needs.
A column added to an existing table needs an ALTER, run once and recorded in
`PRAGMA user_version`, so a library made by an older Groundwork opens and upgrades itself.
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from index.queries import LibraryError

SCHEMA = (Path(__file__).with_name("schema.sql")).read_text()
# 1: documents, chunks, feedback; 2: accounts, permissions, audit, and feedback.user.
VERSION = 2
_ADDED_COLUMNS = {2: [("feedback", "user", "TEXT NOT NULL DEFAULT ''")]}


def connect(db: Path) -> sqlite3.Connection:
    """Open the database at `db` (autocommit, WAL, foreign keys) and bring its schema up to date.

    Where this process may not write it (see writable), it is opened for reading only.
    """
    if not writable(db):
        return _read_only(db)
    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # WAL+NORMAL survives a process kill
    conn.execute("PRAGMA foreign_keys=ON")
    upgrade(conn)
    return conn


def writable(db: Path) -> bool:
    """Whether this process may write the database: its file, and beside it the -wal and -shm files WAL makes."""
    return os.access(db.parent, os.W_OK) and (not db.exists() or os.access(db, os.W_OK))


def is_read_only(conn: sqlite3.Connection) -> bool:
    """Whether connect() opened the database for reading only."""
    return isinstance(conn, _ReadOnly)


def read_only_error(folder: Path) -> LibraryError:
    """The one-line error for a change to a library this process may only read."""
    return LibraryError(f"library {folder} is read-only here (its folder or database may not be written); "
                        f"ask its owner, or use a library of your own with --library DIR")


def _read_only(db: Path) -> sqlite3.Connection:
    """The database opened for reading only: a shared library owned by another user, or on a read-only disk."""
    uri = f"file:{quote(str(db.absolute()))}?mode=ro"
    try:
        conn = _reading(uri, db.parent)
    except sqlite3.OperationalError:
        # A WAL reader needs the -shm file beside the database, and none can be made in this folder. Its writers
        # keep one there while they are open, so none is writing now: read the file as it stands, without locks
        # (a writer that starts later goes unseen by this connection, which keeps the library as it was).
        conn = _reading(uri + "&immutable=1", db.parent)
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    try:
        conn.executescript(SCHEMA)  # creates nothing in a library made by this version
    except sqlite3.OperationalError:  # a table to add: an older library
        version = -1
    if version < VERSION:
        conn.close()
        raise LibraryError(f"library {db.parent} was made by an older Groundwork and is read-only here; "
                           f"open it once with write access to upgrade it (e.g. groundwork docs as its owner)")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def _reading(uri: str, folder: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, timeout=30,
                           factory=_ReadOnly)
    conn.folder = folder
    try:  # SQLite opens the file on first use; its own error (not a write refused) decides on immutable
        sqlite3.Connection.execute(conn, "SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error:
        conn.close()
        raise
    return conn


class _ReadOnly(sqlite3.Connection):
    """A connection to a library this process may only read: a write (an account, an audit entry) says so in one line."""

    folder: Path

    def execute(self, *args):
        try:
            return super().execute(*args)
        except sqlite3.OperationalError as exc:
            raise self._said(exc) from None

    def executemany(self, *args):
        try:
            return super().executemany(*args)
        except sqlite3.OperationalError as exc:
            raise self._said(exc) from None

    def _said(self, exc: sqlite3.OperationalError) -> Exception:
        return read_only_error(self.folder) if exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_READONLY else exc


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
