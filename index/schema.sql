-- The library's SQLite schema. Chunks hold their vectors: SQLite is the one
-- source of truth, and the FAISS file is a cache that is reconciled with it.
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    doc_id      TEXT PRIMARY KEY,
    sha256      TEXT NOT NULL UNIQUE,
    title       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    pages       INTEGER NOT NULL,
    chunks      INTEGER NOT NULL,
    ingested_at TEXT NOT NULL,
    metadata    TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS sources (
    path     TEXT PRIMARY KEY,
    doc_id   TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    size     INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sources_doc ON sources(doc_id);
CREATE TABLE IF NOT EXISTS pages (
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    text   TEXT NOT NULL,
    PRIMARY KEY (doc_id, number)
);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id INTEGER PRIMARY KEY,
    doc_id   TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    page     INTEGER NOT NULL,
    start    INTEGER NOT NULL,
    "end"    INTEGER NOT NULL,
    text     TEXT NOT NULL,
    vector   BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, content='chunks', content_rowid='chunk_id',
    tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS chunks_fts_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, text) VALUES (new.chunk_id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS chunks_fts_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.chunk_id, old.text);
END;
CREATE TABLE IF NOT EXISTS tags (
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    tag    TEXT NOT NULL,
    PRIMARY KEY (doc_id, tag)
);
CREATE TABLE IF NOT EXISTS failures (
    path  TEXT PRIMARY KEY,
    error TEXT NOT NULL,
    at    TEXT NOT NULL
);
-- What users said about answers (the UI's thumbs and comments), exported as JSONL for evaluation.
CREATE TABLE IF NOT EXISTS feedback (
    id         INTEGER PRIMARY KEY,
    question   TEXT NOT NULL,
    answer     TEXT NOT NULL,
    citations  TEXT NOT NULL DEFAULT '[]',
    rating     INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    comment    TEXT NOT NULL DEFAULT '',
    model      TEXT NOT NULL DEFAULT '',
    mode       TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    user       TEXT NOT NULL DEFAULT ''  -- who gave it; '' for the machine's own CLI user
);
-- Local accounts (index/access.py): passwords only as Argon2id hashes.
CREATE TABLE IF NOT EXISTS users (
    name           TEXT PRIMARY KEY,
    password_hash  TEXT NOT NULL,
    admin          INTEGER NOT NULL DEFAULT 0,
    failed_logins  INTEGER NOT NULL DEFAULT 0,
    last_failed_at TEXT NOT NULL DEFAULT '',
    created_at     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS user_groups (
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    grp  TEXT NOT NULL,
    PRIMARY KEY (user, grp)
);
-- Which groups may read a document; a document without rows here is readable by every user.
CREATE TABLE IF NOT EXISTS doc_groups (
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    grp    TEXT NOT NULL,
    PRIMARY KEY (doc_id, grp)
);
CREATE INDEX IF NOT EXISTS doc_groups_grp ON doc_groups(grp);
-- Every answer given (index/audit.py), readable by admins only.
CREATE TABLE IF NOT EXISTS audit (
    id       INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,
    user     TEXT NOT NULL,
    question TEXT NOT NULL,
    passages TEXT NOT NULL,
    model    TEXT NOT NULL,
    mode     TEXT NOT NULL,
    verdicts TEXT NOT NULL,
    answer   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_user_at ON audit(user, at);
CREATE INDEX IF NOT EXISTS audit_at ON audit(at);
