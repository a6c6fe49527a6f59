"""Accounts and their Argon2 hashes, the audit trail, feedback per reader, ingest --allow, the schema upgrade."""
import io
import json
import sqlite3

import pytest
from argon2 import PasswordHasher
from fakes import HashEmbedder, make_doc

from index import access
from index.access import AccessError, Accounts, Reader
from index.audit import AuditEntry
from index.feedback import Feedback, FeedbackLog
from index.schema import VERSION
from index.search import search
from index.store import Library, Source
from ingest.pipeline import IngestOptions, ingest

EMB = HashEmbedder()
FAST = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)


@pytest.fixture
def lib(tmp_path):
    with pytest.MonkeyPatch.context() as mp:  # a cheap Argon2 setting, except where a test says otherwise
        mp.setattr(access, "PasswordHasher", lambda: FAST)
        with Library.writing(tmp_path / "lib", create=True) as library:
            yield library


def stored_hash(lib, name):
    return lib._conn.execute("SELECT password_hash FROM users WHERE name = ?", (name,)).fetchone()[0]


def test_passwords_are_kept_as_argon2id_hashes_never_in_clear(lib):
    lib.accounts = Accounts(lib._conn, PasswordHasher())  # the default cost, once
    lib.accounts.add("alice", "correct horse battery", groups=["hr", "hr", "legal"])
    digest = stored_hash(lib, "alice")
    assert digest.startswith("$argon2id$") and "m=65536" in digest and "correct horse" not in digest
    dump = "\n".join(lib._conn.iterdump())
    assert "correct horse battery" not in dump
    assert lib.accounts.verify("alice", "correct horse battery") == Reader("alice", ("hr", "legal"), False)


def test_a_wrong_password_fails_and_is_counted_until_a_right_one(lib):
    lib.accounts.add("bob", "bob-password")
    assert lib.accounts.verify("bob", "bob-passwore") is None
    assert lib.accounts.verify("bob", "") is None
    assert lib.accounts.verify("bob", "x" * 5000) is None
    user = lib.accounts.user("bob")
    assert user.failed_logins == 3 and user.last_failed_at
    assert lib.accounts.verify("nobody", "bob-password") is None
    assert lib.accounts.verify("bob", "bob-password") == Reader("bob")
    assert lib.accounts.user("bob").failed_logins == 0


def test_account_mistakes_are_one_line_errors(lib):
    lib.accounts.add("carol", "carol-password", admin=True)
    with pytest.raises(AccessError, match="exists"):
        lib.accounts.add("carol", "another-password")
    with pytest.raises(AccessError, match="8 to 1024"):
        lib.accounts.add("dan", "short")
    for bad in ("", "two words", "-dash", "a" * 65, "tab\t"):
        with pytest.raises(AccessError, match="not allowed"):
            lib.accounts.add(bad, "long enough")
    with pytest.raises(AccessError, match="group name 'a b'"):
        lib.accounts.set_groups("carol", ["a b"])
    with pytest.raises(AccessError, match="no user 'dan'"):
        lib.accounts.remove("dan")
    with pytest.raises(AccessError, match="no user 'dan'"):
        lib.accounts.reader("dan")
    assert [(u.name, u.admin) for u in lib.accounts.users()] == [("carol", True)]


def test_a_password_rehashed_with_the_current_settings_on_sign_in(lib):
    lib.accounts.add("erin", "erin-password")
    old = stored_hash(lib, "erin")
    lib.accounts = Accounts(lib._conn, PasswordHasher(time_cost=2, memory_cost=64, parallelism=1))
    assert lib.accounts.verify("erin", "erin-password") == Reader("erin")
    assert stored_hash(lib, "erin") != old and "t=2" in stored_hash(lib, "erin")


def test_the_audit_trail_records_answers_and_only_admins_read_it(lib):
    lib.accounts.add("root", "root-password", admin=True)
    lib.accounts.add("bob", "bob-password")
    shown = ({"chunk_id": 7, "doc_id": "pz01", "page": 3},)
    verdicts = ({"supported": True, "score": 0.9},)
    first = lib.audit.record(AuditEntry("bob", "salary of x?", shown, "smollm2", "extractive", verdicts,
                                        "It is 10 [1].", at="2026-11-28T10:00:00+00:00"))
    lib.audit.record(AuditEntry("", "cli question", (), "smollm2", "guided", (), "No answer."))
    assert first.id == 1
    for admin in (None, Reader("root")):
        assert [e.question for e in lib.audit.entries(admin)] == ["salary of x?", "cli question"]
    assert lib.audit.entries(None, user="bob") == [first]
    assert [e.user for e in lib.audit.entries(None, since="2026-11-29")] == [""]
    for reader in (Reader("bob"), Reader("bob", admin=True), Reader("mallory")):
        with pytest.raises(AccessError, match="only an admin"):
            lib.audit.entries(reader)
    with pytest.raises(AccessError, match="not a date"):
        lib.audit.entries(None, since="yesterday")
    out = io.StringIO()
    assert lib.audit.export_jsonl(out, None, user="bob") == 1
    assert json.loads(out.getvalue())["passages"] == list(shown)


def test_feedback_a_reader_sees_is_its_own_on_documents_it_may_still_read(lib, tmp_path):
    for doc_id, allow in (("pub1", ()), ("hr01", ("hr",))):
        doc, chunks = make_doc(doc_id, [f"text of {doc_id}"])
        lib.write_document(doc, doc_id * 8, chunks, EMB.embed([c.text for c in chunks]),
                           Source(f"/{doc_id}.pdf", doc_id, 1, 1), EMB.name, (), allow)
    hr_chunk, pub_chunk = make_doc("hr01", ["x"])[1][0].chunk_id, make_doc("pub1", ["x"])[1][0].chunk_id
    lib.accounts.add("alice", "alice-password", groups=["hr"])
    lib.accounts.add("bob", "bob-password")
    with FeedbackLog(lib.root) as log:
        log.add(Feedback("hr q", "a", 1, ({"doc": "HR", "page": 1, "chunk_id": hr_chunk},), user="alice"))
        log.add(Feedback("pub q", "a", 1, ({"doc": "P", "page": 1, "chunk_id": pub_chunk},), user="alice"))
        log.add(Feedback("bob q", "a", -1, (), user="bob"))
        assert [f.question for f in log.entries(reader=Reader("alice"))] == ["pub q", "hr q"]
        assert [f.question for f in log.entries(reader=Reader("bob"))] == ["bob q"]
        assert len(log.entries()) == 3
        lib.accounts.set_groups("alice", [])
        out = io.StringIO()
        assert log.export_jsonl(out, reader=Reader("alice")) == 1 and "pub q" in out.getvalue()


def test_ingest_records_the_allowed_groups(lib, tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "pay.txt").write_text("The zanzibar quokka payroll runs on Fridays.\n")
    options = IngestOptions(max_tokens=40, overlap=8, allow=("hr",))
    [result] = list(ingest([tmp_path / "docs"], lib, EMB, options))
    assert result.status == "added" and lib.document(result.doc_id).groups == ("hr",)
    lib.accounts.add("bob", "bob-password")
    assert search(lib, EMB, "zanzibar quokka", 5, reader=Reader("bob")) == []
    with pytest.raises(AccessError, match="group name 'h r'"):
        IngestOptions(allow=("h r",))


def test_a_library_made_before_accounts_upgrades_in_place(tmp_path):
    root = tmp_path / "old"
    root.mkdir()
    db = sqlite3.connect(root / "library.sqlite")
    db.executescript("CREATE TABLE feedback (id INTEGER PRIMARY KEY, question TEXT NOT NULL, answer TEXT NOT NULL,"
                     " citations TEXT NOT NULL DEFAULT '[]', rating INTEGER NOT NULL, comment TEXT NOT NULL DEFAULT '',"
                     " model TEXT NOT NULL DEFAULT '', mode TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL);"
                     "INSERT INTO feedback (question, answer, rating, created_at) VALUES ('old q', 'a', 1, 'then');")
    db.commit()
    db.close()
    with Library.open(root) as lib:
        assert lib._conn.execute("PRAGMA user_version").fetchone()[0] == VERSION
        assert lib.accounts.users() == [] and lib.audit.entries(None) == []
    with FeedbackLog(root) as log:
        assert [(f.question, f.user) for f in log.entries()] == [("old q", "")]
    with Library.open(root):  # opening again changes nothing
        pass
