"""Who may read what: local accounts (Argon2id password hashes), their groups, and document permissions.

A document with no groups is readable by every signed-in user; one with groups by the members
of any of them; admins, and the machine's own CLI user (reader None), read everything. Every
read in index/ turns its Reader into a Scope here from the accounts as they stand at that
moment, so a change to someone's groups applies to their next request, and an account that
no longer exists reads nothing.
"""
from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Generic, TypeVar

import numpy as np
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from index.errors import GroundworkError
from index.vectors import IdFilter

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # hashing a megabyte-long "password" is a cheap way to load the server
T = TypeVar("T")  # what a ScopeCache keeps


class AccessError(GroundworkError):
    """A one-line problem with accounts or permissions that a user can act on."""


@dataclass(frozen=True)
class Reader:
    """Who is reading: an account's name, with its groups and admin flag as they were at sign-in.

    Only the name counts for permissions: what the account may read is looked up again at each read.
    """

    name: str
    groups: tuple[str, ...] = ()
    admin: bool = False


@dataclass(frozen=True)
class User:
    """A local account as listed (never its hash)."""

    name: str
    groups: tuple[str, ...]
    admin: bool
    created_at: str
    failed_logins: int = 0  # wrong passwords since the last right one: the UI limits attempts on it
    last_failed_at: str = ""


@dataclass(frozen=True)
class Scope:
    """What one non-admin reader may read now: documents without groups and those of `groups`."""

    groups: tuple[str, ...]
    known: bool = True  # False for a name with no account: it reads nothing

    def readable_docs(self) -> tuple[str, list]:
        """A SQL query of the readable doc ids, and its arguments."""
        if not self.known:
            return "SELECT doc_id FROM documents WHERE 0", []
        marks = ",".join("?" * len(self.groups))
        return ("SELECT doc_id FROM documents WHERE doc_id NOT IN (SELECT doc_id FROM doc_groups) "
                f"UNION SELECT doc_id FROM doc_groups WHERE grp IN ({marks})", list(self.groups))


def scope_of(conn: sqlite3.Connection, reader: Reader | None) -> Scope | None:
    """What `reader` may read now; None means everything (no reader, or an admin)."""
    if reader is None:
        return None
    row = conn.execute("SELECT admin FROM users WHERE name = ?", (reader.name,)).fetchone()
    if row is None:
        return Scope((), known=False)
    return None if row[0] else Scope(_groups(conn, reader.name))


def doc_clause(column: str, scope: Scope | None) -> tuple[str, list]:
    """A SQL condition true where `column` (a doc id) is readable in `scope`, with its arguments."""
    if scope is None:
        return "1", []
    query, args = scope.readable_docs()
    return f"{column} IN ({query})", args


def check_names(names: Sequence[str], what: str = "group") -> tuple[str, ...]:
    """The names, sorted and deduplicated, or AccessError for one that is not a plain name."""
    for name in names:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise AccessError(f"{what} name {name!r} is not allowed: use 1-64 letters, digits, '.', '_', '@' "
                              f"or '-', starting with a letter or digit")
    return tuple(sorted(set(names)))


class Accounts:
    """The library's local accounts: add, remove, list, set groups, verify a password."""

    def __init__(self, conn: sqlite3.Connection, hasher: PasswordHasher | None = None):
        self._conn = conn
        self._hasher = hasher or PasswordHasher()  # Argon2id, RFC 9106's low-memory profile (64 MiB)
        self._dummy = ""  # a hash to verify against for unknown names, so they take as long as known ones

    def add(self, name: str, password: str, groups: Sequence[str] = (), admin: bool = False) -> User:
        """Create an account; its password is kept only as an Argon2id hash."""
        check_names([name], "user")
        groups = check_names(groups)
        digest = self._hasher.hash(_checked_password(password))
        with immediate(self._conn) as db:
            if db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise AccessError(f"user {name!r} exists; change it with: groundwork users set-groups {name}")
            db.execute("INSERT INTO users (name, password_hash, admin, created_at) VALUES (?,?,?,?)",
                       (name, digest, int(admin), _now()))
            db.executemany("INSERT INTO user_groups VALUES (?,?)", [(name, g) for g in groups])
        return self.user(name)

    def remove(self, name: str, make_single_user: bool = False) -> None:
        """Delete an account; its next request reads nothing.

        A library without accounts is single-user: the UI opens to anyone, with full access (and
        sessions still open as a removed account get it too), so removing the last one takes `make_single_user`.
        Removing the last admin while other accounts remain is refused: nobody signed in could then
        upload, delete, evaluate or read the audit trail.
        """
        with immediate(self._conn) as db:
            was_admin = db.execute("SELECT admin FROM users WHERE name = ?", (name,)).fetchone()
            if was_admin is None:
                raise _unknown(name)
            db.execute("DELETE FROM users WHERE name = ?", (name,))
            left = db.execute("SELECT count(*), coalesce(max(admin), 0) FROM users").fetchone()
            if not make_single_user and not left[0]:
                raise AccessError(f"{name} is the last account: without one the UI opens to anyone, with full "
                                  f"access; add another first, or: groundwork users remove {name} --make-single-user")
            if was_admin[0] and left[0] and not left[1]:
                raise AccessError(f"{name} is the last admin: without one nobody signed in may upload, delete, "
                                  "evaluate or read the audit trail; add another admin first: "
                                  "groundwork users add NAME --admin")
            db.execute("DELETE FROM user_groups WHERE user = ?", (name,))

    def set_groups(self, name: str, groups: Sequence[str]) -> User:
        """Replace an account's groups; its next request reads with these."""
        groups = check_names(groups)
        with immediate(self._conn) as db:
            if not db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise _unknown(name)
            db.execute("DELETE FROM user_groups WHERE user = ?", (name,))
            db.executemany("INSERT INTO user_groups VALUES (?,?)", [(name, g) for g in groups])
        return self.user(name)

    def users(self, name: str | None = None) -> list[User]:
        """Every account (or the one called `name`), by name."""
        where, args = ("WHERE name = ?", (name,)) if name is not None else ("", ())
        rows = self._conn.execute("SELECT name, admin, created_at, failed_logins, last_failed_at "
                                  f"FROM users {where} ORDER BY name", args).fetchall()
        return [User(r[0], _groups(self._conn, r[0]), bool(r[1]), r[2], r[3], r[4]) for r in rows]

    def user(self, name: str) -> User | None:
        """One account, if it exists."""
        found = self.users(name)
        return found[0] if found else None

    def reader(self, name: str) -> Reader:
        """The Reader for an existing account (the CLI's --user), or AccessError."""
        user = self.user(name)
        if user is None:
            raise _unknown(name)
        return Reader(user.name, user.groups, user.admin)

    def verify(self, name: str, password: str) -> Reader | None:
        """The account's Reader if the password is right, else None (counted as a failed attempt)."""
        if not self._dummy:
            self._dummy = self._hasher.hash("not a password: only spent time on")
        row = self._conn.execute("SELECT password_hash FROM users WHERE name = ?", (name,)).fetchone()
        stored = row[0] if row else self._dummy
        sane = isinstance(password, str) and len(password) <= MAX_PASSWORD
        try:
            right = self._hasher.verify(stored, password if sane else "") and sane
        except (VerificationError, InvalidHashError):  # a mismatch, or a hash that is not Argon2
            right = False
        if row is None:
            return None
        if not right:
            self._conn.execute("UPDATE users SET failed_logins = failed_logins + 1, last_failed_at = ? "
                               "WHERE name = ?", (_now(), name))
            return None
        fresh = self._hasher.hash(password) if self._hasher.check_needs_rehash(stored) else stored
        self._conn.execute("UPDATE users SET failed_logins = 0, password_hash = ? WHERE name = ?", (fresh, name))
        return self.reader(name)


def doc_groups(conn: sqlite3.Connection, doc_id: str) -> tuple[str, ...]:
    """The groups that may read a document; () means every user may."""
    return tuple(r[0] for r in conn.execute("SELECT grp FROM doc_groups WHERE doc_id = ? ORDER BY grp", (doc_id,)))


def change_groups(conn: sqlite3.Connection, doc_id: str, allow: Sequence[str] = (), deny: Sequence[str] = (),
                  make_public: bool = False) -> tuple[str, ...]:
    """Add and remove groups that may read a stored document; its groups afterwards.

    Removing a document's last group would make it readable by everyone, so that takes `make_public`.
    """
    allow, deny = check_names(allow), check_names(deny)
    with immediate(conn) as db:
        if not db.execute("SELECT 1 FROM documents WHERE doc_id = ?", (doc_id,)).fetchone():
            raise AccessError(f"no document {doc_id!r}; list them with: groundwork docs")
        before = doc_groups(db, doc_id)
        # Adding before removing: a read on this connection mid-change never sees the document with no group.
        db.executemany("INSERT OR IGNORE INTO doc_groups VALUES (?,?)", [(doc_id, g) for g in allow])
        db.executemany("DELETE FROM doc_groups WHERE doc_id = ? AND grp = ?", [(doc_id, g) for g in deny])
        after = doc_groups(db, doc_id)
        if before and not after and not make_public:
            raise AccessError(f"removing {', '.join(before)} would let every user read {doc_id}; allow another "
                              f"group, or make it public: groundwork permissions {doc_id} --deny ... --make-public")
        bump_access(db)
    return after


def record_groups(db: sqlite3.Connection, doc_id: str, groups: Sequence[str]) -> None:
    """Inside a caller's transaction: let `groups` read the document too (ingest's --allow)."""
    db.executemany("INSERT OR IGNORE INTO doc_groups VALUES (?,?)", [(doc_id, g) for g in check_names(groups)])
    bump_access(db)


def bump_access(db: sqlite3.Connection) -> None:
    """Count a change of permissions, so cached chunk filters are rebuilt."""
    db.execute("INSERT INTO meta VALUES ('access', 1) "
               "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")


class ScopeCache(Generic[T]):
    """What `build(conn, scope)` gives, kept per reader scope until documents or permissions change.

    A chunk filter reads every chunk id a reader may (or may not) read: about a second at a million
    chunks, far more than a search; the documents' name keys are read for every question. Each is
    built once per scope and library state, which another process's ingest moves on too.
    """

    def __init__(self, build: Callable[[sqlite3.Connection, Scope | None], T], size: int = 16):
        self._build = build
        self._size = size
        self._values: OrderedDict[tuple, T] = OrderedDict()
        self._lock = threading.Lock()  # the UI shares one library between sessions' threads

    def get(self, conn: sqlite3.Connection, scope: Scope | None) -> T:
        """The value for `scope` (None: everything) in the library as it stands."""
        # The state is read before the value is built: a write in between makes the entry newer than
        # its key, and the next read, seeing the newer state, builds another; an entry is never older.
        state = tuple(conn.execute("SELECT key, value FROM meta WHERE key IN ('epoch', 'access') "
                                   "ORDER BY key").fetchall())
        key = (scope, state)
        with self._lock:
            if key not in self._values:
                self._values[key] = self._build(conn, scope)
                while len(self._values) > self._size:
                    self._values.popitem(last=False)
            self._values.move_to_end(key)
            return self._values[key]


def chunk_filter(conn: sqlite3.Connection, scope: Scope) -> IdFilter | None:
    """Whichever of the readable or the hidden chunk ids is fewer, as a filter; None when nothing is hidden."""
    # Counted per document and read through the doc_id index: at a million chunks in 10,000
    # documents this takes ~1 s where scanning the chunks takes ~5 s (bench/search.py).
    query, args = scope.readable_docs()
    hidden_docs, hidden, total = conn.execute(
        f"SELECT coalesce(sum(doc_id NOT IN ({query})), 0), coalesce(sum(chunks * (doc_id NOT IN ({query}))), 0), "
        "coalesce(sum(chunks), 0) FROM documents", [*args, *args]).fetchone()
    if not hidden_docs:
        return None
    exclude = hidden <= total // 2
    rows = conn.execute("SELECT chunk_id FROM chunks WHERE doc_id IN "
                        f"(SELECT doc_id FROM documents WHERE doc_id {'NOT IN' if exclude else 'IN'} ({query}))", args)
    return IdFilter(np.fromiter((r[0] for r in rows), dtype=np.int64), exclude=exclude)


@contextlib.contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction outside the library's writer lock (accounts and permissions are not documents)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _groups(conn: sqlite3.Connection, name: str) -> tuple[str, ...]:
    return tuple(r[0] for r in conn.execute("SELECT grp FROM user_groups WHERE user = ? ORDER BY grp", (name,)))


def _checked_password(password: str) -> str:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AccessError(f"a password needs {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return password


def _unknown(name: str) -> AccessError:
    return AccessError(f"no user {name!r}; list them with: groundwork users list")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
