"""Who may read what, attacked through the command line: search, ask, chat, docs, feedback export, eval run,
--doc references and FTS5 syntax as `--user`; accounts, permissions and the audit trail as the machine's admin."""
import io
import json
import shutil
import stat

import pytest
from argon2 import PasswordHasher
from fakes import HashEmbedder

from app import wiring
from app.cli import main
from index import access
from index.access import AccessError
from index.feedback import Feedback, FeedbackLog
from index.store import Library

SECRET = "xylomorphix"  # only the HR document holds it
HR_ONLY = "four thousand euros"
PUBLIC = ("# Staff handbook\n\nThe monthly salary is paid on the last working day of each month.\n\n"
          "Holidays are booked through the staff portal before the end of the year.\n")
HR = (f"# Director pay\n\nThe {SECRET} bonus paid with the monthly salary is {HR_ONLY} for each director.\n\n"
      f"Every {SECRET} payment is approved by the board in the monthly salary run.\n")
QUESTION = f"What is the {SECRET} bonus paid with the monthly salary?"


def lines(out: str) -> list[dict]:
    return [json.loads(x) for x in out.splitlines() if x.strip()]


def fast(mp) -> None:
    mp.setattr(wiring, "_embedder_factory", lambda config: HashEmbedder)  # no model to load
    mp.setattr(access, "PasswordHasher", lambda: PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A library of a public handbook and an HR document only group hr may read; alice (hr), bob, carol (admin)."""
    base = tmp_path_factory.mktemp("access-cli")
    (base / "pub").mkdir()
    (base / "hr").mkdir()
    (base / "pub" / "handbook.md").write_text(PUBLIC)
    (base / "hr" / "pay.md").write_text(HR)
    root = str(base / "lib")
    with pytest.MonkeyPatch.context() as mp:
        fast(mp)
        assert main(["ingest", str(base / "pub"), "--library", root]) == 0
        assert main(["ingest", str(base / "hr"), "--library", root, "--allow", "hr", "--tag", "payroll"]) == 0
        for name, flags in (("alice", ["--group", "hr"]), ("bob", []), ("carol", ["--admin"])):
            mp.setattr("sys.stdin", io.StringIO(f"{name}-password\n"))
            assert main(["users", "add", name, *flags, "--password-stdin", "--library", root]) == 0
    return base


@pytest.fixture
def lib(built, tmp_path, monkeypatch, capsys):
    """A copy of the built library for one test to change."""
    fast(monkeypatch)
    shutil.copytree(built / "pub", tmp_path / "pub")
    shutil.copytree(built / "lib", tmp_path / "lib")
    capsys.readouterr()
    return str(tmp_path / "lib")


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def hr_id(lib) -> str:
    with Library.open(lib) as library:
        return library.resolve("Director pay")


def leaks(text: str, lib) -> bool:
    """Whether printed output names or quotes the HR document (beyond the question asked, which echoes SECRET)."""
    return any(s in text for s in (HR_ONLY, "approved by the board", "Director pay", "pay.md", hr_id(lib)))


def test_ingest_allow_records_the_groups_and_permissions_shows_them(lib, capsys):
    doc = hr_id(lib)
    code, out, _ = run(capsys, "permissions", "Director pay", "--library", lib)
    assert code == 0 and out.strip() == f"{doc}  Director pay: readable by hr (and admins)"
    _, out, _ = run(capsys, "permissions", "Staff handbook", "--library", lib)
    assert "readable by every signed-in user" in out


def test_bad_group_names_and_unknown_users_fail_in_one_line(lib, capsys, tmp_path):
    code, out, err = run(capsys, "ingest", str(tmp_path / "pub"), "--library", str(tmp_path / "new"), "--allow", "a b")
    assert code == 2 and err.startswith("error: group name 'a b' is not allowed") and len(err.splitlines()) == 1
    assert not (tmp_path / "new").exists()
    for argv in (["search", "salary"], ["ask", "salary?"], ["docs"], ["feedback", "export"]):
        code, _, err = run(capsys, *argv, "--library", lib, "--user", "mallory")
        assert code == 2 and err == "error: no user 'mallory'; list them with: groundwork users list\n"


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_search_as_a_user_without_the_group_finds_nothing_of_the_forbidden_document(lib, capsys, mode):
    code, out, err = run(capsys, "search", QUESTION, "--library", lib, "--mode", mode, "--json", "--user", "bob")
    assert code == 0 and {r["doc"] for r in lines(out)} == {"Staff handbook"} and not leaks(out + err, lib)
    _, out, _ = run(capsys, "search", QUESTION, "--library", lib, "--mode", mode, "--json", "--user", "alice")
    assert lines(out)[0]["doc"] == "Director pay"


@pytest.mark.parametrize("query", [f'"{SECRET}" OR *', f"NEAR({SECRET} bonus)", f"text:{SECRET}", f"{{text}}: {SECRET}",
                                   f"{SECRET}*", "xylomorph*", f"{SECRET} AND NOT salary",
                                   f"title:{SECRET} OR doc_id:x"])
def test_fts5_syntax_as_a_user_reaches_nothing_more_than_plain_words(lib, capsys, query):
    code, out, err = run(capsys, "search", query, "--library", lib, "--mode", "lexical", "--json", "--user", "bob")
    assert code == 0 and not leaks(out + err, lib)
    _, mine, _ = run(capsys, "search", query, "--library", lib, "--mode", "lexical", "--json", "--user", "alice")
    assert ("Director pay" in mine) == (SECRET in query)  # the same words do reach it for a reader of group hr


def test_a_doc_reference_to_a_forbidden_document_fails_as_an_unknown_one_does(lib, capsys):
    doc = hr_id(lib)
    for command in (["search", "salary"], ["ask", "What is the salary?"]):
        _, _, unknown = run(capsys, *command, "--library", lib, "--doc", "no-such-doc", "--user", "bob")
        for ref in (doc, doc[:4], "Director pay", "pay.md"):
            code, out, err = run(capsys, *command, "--library", lib, "--doc", ref, "--user", "bob")
            assert code == 2 and out == "" and err == unknown.replace("no-such-doc", ref)
        assert run(capsys, *command, "--library", lib, "--doc", doc, "--user", "alice")[0] == 0


def test_a_tag_only_forbidden_documents_carry_finds_what_an_unknown_tag_finds(lib, capsys):
    for command in (["search", "salary"], ["ask", "What is the salary?", "--json"]):
        unknown = run(capsys, *command, "--library", lib, "--tag", "no-such-tag", "--user", "bob")
        hidden = run(capsys, *command, "--library", lib, "--tag", "payroll", "--user", "bob")
        assert hidden[0] == unknown[0] == 0 and not leaks(hidden[1] + hidden[2], lib)
        assert hidden[1] == unknown[1] or json.loads(hidden[1])["answer"] == json.loads(unknown[1])["answer"]
        assert "Director pay" in run(capsys, *command, "--library", lib, "--tag", "payroll", "--user", "alice")[1]


def test_ask_and_chat_as_a_user_without_the_group_give_nothing_of_it_and_are_audited(lib, capsys, monkeypatch):
    code, out, err = run(capsys, "ask", QUESTION, "--library", lib, "--json", "--user", "bob")
    answer = json.loads(out)
    assert code == 0 and not leaks(out + err, lib)
    assert {c["doc"] for c in answer["citations"]} <= {"Staff handbook"}
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{QUESTION}\nwho approves it?\n"))
    code, out, err = run(capsys, "chat", "--library", lib, "--user", "bob")
    assert code == 0 and not leaks(out + err, lib)
    code, out, _ = run(capsys, "ask", QUESTION, "--library", lib, "--json", "--user", "alice")
    assert HR_ONLY in json.loads(out)["answer"]
    _, out, _ = run(capsys, "audit", "--library", lib, "--json")
    entries = lines(out)
    assert [(e["user"], e["question"]) for e in entries] == [("bob", QUESTION), ("bob", QUESTION),
                                                            ("bob", "who approves it?"), ("alice", QUESTION)]
    assert all(p["doc_id"] != hr_id(lib) for e in entries[:3] for p in e["passages"])
    assert {p["doc_id"] for p in entries[3]["passages"]} == {hr_id(lib)} and entries[3]["mode"] == "extractive"
    assert entries[3]["answer"] == json.loads(out.splitlines()[3])["answer"] and entries[3]["verdicts"]


def test_docs_as_a_user_lists_and_counts_only_what_it_may_read(lib, capsys):
    code, out, err = run(capsys, "docs", "--library", lib, "--json", "--user", "bob")
    assert code == 0 and [r["title"] for r in lines(out)] == ["Staff handbook"] and not leaks(out + err, lib)
    _, out, _ = run(capsys, "docs", "--library", lib, "--json", "--user", "carol")
    assert len(lines(out)) == 2
    assert run(capsys, "users", "set-groups", "bob", "--group", "legal", "--library", lib)[0] == 0
    with Library.writing(lib) as library:  # the handbook becomes legal's: bob's next listing is empty
        library.change_groups(library.resolve("Staff handbook"), allow=["hr"])
    code, out, _ = run(capsys, "docs", "--library", lib, "--user", "bob")
    assert out.startswith("bob may read no document of library") and "set-groups bob" in out


def test_taking_a_group_away_applies_to_the_users_next_command(lib, capsys):
    _, out, _ = run(capsys, "search", SECRET, "--library", lib, "--json", "--user", "alice")
    assert "Director pay" in out
    code, out, _ = run(capsys, "users", "set-groups", "alice", "--library", lib)
    assert code == 0 and out.startswith("alice (no groups)")
    _, out, err = run(capsys, "search", SECRET, "--library", lib, "--json", "--user", "alice")
    assert not leaks(out + err, lib)
    _, out, _ = run(capsys, "ask", QUESTION, "--library", lib, "--json", "--user", "alice")
    assert not leaks(out, lib)
    assert run(capsys, "users", "remove", "alice", "--library", lib)[0] == 0
    assert run(capsys, "search", SECRET, "--library", lib, "--user", "alice")[0] == 2


def test_a_group_named_admin_is_never_listed_as_an_administrator(lib, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("dave-password\n"))
    code, out, _ = run(capsys, "users", "add", "dave", "--group", "admin", "--password-stdin", "--library", lib)
    assert code == 0 and out == "added dave (groups: admin)\n"
    _, out, _ = run(capsys, "users", "list", "--library", lib)
    listed = {line.split(" (")[0]: line for line in out.splitlines()}
    assert "administrator" in listed["carol"] and "administrator" not in listed["dave"]


def test_removing_the_last_admin_while_others_keep_their_accounts_is_refused(lib, capsys, monkeypatch):
    code, _, err = run(capsys, "users", "remove", "carol", "--library", lib)
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("error: carol is the last admin") and err.endswith("groundwork users add NAME --admin\n")
    monkeypatch.setattr("sys.stdin", io.StringIO("dave-password\n"))
    assert run(capsys, "users", "add", "dave", "--admin", "--password-stdin", "--library", lib)[0] == 0
    assert run(capsys, "users", "remove", "carol", "--library", lib)[0] == 0
    _, out, _ = run(capsys, "users", "list", "--library", lib, "--json")
    assert [(r["name"], r["admin"]) for r in lines(out)] == [("alice", False), ("bob", False), ("dave", True)]


def test_permissions_change_who_reads_without_reingesting(lib, capsys):
    doc = hr_id(lib)
    code, out, _ = run(capsys, "permissions", doc, "--allow", "legal", "--deny", "hr", "--library", lib)
    assert code == 0 and "readable by legal" in out
    _, out, _ = run(capsys, "search", SECRET, "--library", lib, "--json", "--user", "alice")
    assert "Director pay" not in out
    code, _, err = run(capsys, "permissions", doc, "--deny", "legal", "--library", lib)
    assert code == 2 and f"groundwork permissions {doc} --deny ... --make-public" in err
    code, out, _ = run(capsys, "permissions", doc, "--deny", "legal", "--make-public", "--library", lib)
    assert code == 0 and "readable by every signed-in user" in out
    _, out, _ = run(capsys, "search", SECRET, "--library", lib, "--json", "--user", "bob")
    assert "Director pay" in out
    code, _, err = run(capsys, "permissions", "no-such-doc", "--allow", "hr", "--library", lib)
    assert code == 2 and "no document 'no-such-doc'" in err


def test_users_are_listed_without_hashes_and_passwords_are_checked(lib, capsys, monkeypatch, tmp_path):
    code, out, _ = run(capsys, "users", "list", "--library", lib, "--json")
    rows = lines(out)
    assert code == 0 and [(r["name"], r["groups"], r["admin"]) for r in rows] == [
        ("alice", ["hr"], False), ("bob", [], False), ("carol", [], True)]
    assert "password" not in out and "argon2" not in out
    assert b"alice-password" not in (tmp_path / "lib" / "library.sqlite").read_bytes()
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    code, _, err = run(capsys, "users", "add", "dave", "--password-stdin", "--library", lib)
    assert code == 2 and "a password needs 8" in err
    monkeypatch.setattr("sys.stdin", io.StringIO("dave-password\n"))
    _, _, err = run(capsys, "users", "add", "alice", "--password-stdin", "--library", lib)
    assert err.startswith("error: user 'alice' exists")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal: no prompt to hang on
    assert "--password-stdin" in run(capsys, "users", "add", "dave", "--library", lib)[2]
    answers = iter(["dave-password", "dave-passw0rd"])
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    code, _, err = run(capsys, "users", "add", "dave", "--library", lib)
    assert code == 2 and "the two passwords differ" in err
    with Library.open(lib) as library:
        assert library.accounts.user("dave") is None and library.accounts.verify("alice", "alice-password")


def test_the_audit_trail_filters_exports_privately_and_is_refused_to_non_admins(lib, capsys, tmp_path):
    for user in ("alice", "bob"):
        run(capsys, "ask", QUESTION, "--library", lib, "--json", "--user", user)
    run(capsys, "ask", "When is the salary paid?", "--library", lib, "--json")
    _, out, _ = run(capsys, "audit", "--library", lib, "--user", "bob", "--json")
    assert [e["user"] for e in lines(out)] == ["bob"]
    _, out, _ = run(capsys, "audit", "--library", lib, "--user", "", "--json")
    assert [e["question"] for e in lines(out)] == ["When is the salary paid?"]
    _, out, _ = run(capsys, "audit", "--library", lib, "--since", "2999-01-01")
    assert out == "no answers recorded for these filters\n"
    code, _, err = run(capsys, "audit", "--library", lib, "--since", "yesterday")
    assert code == 2 and "--since 'yesterday' is not a date" in err
    _, out, _ = run(capsys, "audit", "--library", lib)
    assert "asked: " + QUESTION in out and "(cli)" in out
    export = tmp_path / "audit.jsonl"
    code, out, _ = run(capsys, "audit", "--library", lib, "--export", str(export))
    assert code == 0 and out == f"wrote 3 audit entries to {export}\n" and len(lines(export.read_text())) == 3
    assert stat.S_IMODE(export.stat().st_mode) == 0o600
    with Library.open(lib) as library:
        for name in ("alice", "bob"):
            with pytest.raises(AccessError, match="only an admin"):
                library.audit.entries(wiring.reader_for(library, name))
        assert len(library.audit.entries(wiring.reader_for(library, "carol"))) == 3


def test_feedback_export_as_a_user_holds_only_its_own_on_documents_it_may_still_read(lib, capsys):
    with Library.open(lib) as library:
        hr_chunk = library.lexical(f'"{SECRET}"', 1)[0][0]
        pub_chunk = library.lexical('"holidays"', 1)[0][0]
    with FeedbackLog(lib) as log:
        log.add(Feedback(QUESTION, HR_ONLY, 1, ({"doc": "Director pay", "page": 1, "chunk_id": hr_chunk},),
                         user="alice"))
        log.add(Feedback("Holidays?", "Booked on the portal.", 1, ({"doc": "Staff handbook", "page": 1,
                                                                    "chunk_id": pub_chunk},), user="bob"))
        log.add(Feedback("Who?", "Nobody.", -1, user=""))
    _, out, _ = run(capsys, "feedback", "export", "--library", lib, "--user", "bob")
    assert [r["question"] for r in lines(out)] == ["Holidays?"] and not leaks(out, lib)
    _, out, _ = run(capsys, "feedback", "export", "--library", lib, "--user", "alice")
    assert [r["question"] for r in lines(out)] == [QUESTION]
    run(capsys, "users", "set-groups", "alice", "--library", lib)
    _, out, err = run(capsys, "feedback", "export", "--library", lib, "--user", "alice")
    assert out == "" and err == "exported 0 feedback entries\n"
    _, out, _ = run(capsys, "feedback", "export", "--library", lib, "--rating", "down")
    assert [r["question"] for r in lines(out)] == ["Who?"]


def test_an_evaluation_run_as_a_user_never_reads_a_forbidden_document(lib, capsys, tmp_path):
    dataset = tmp_path / "questions.jsonl"
    dataset.write_text(json.dumps({"id": "hr-01", "question": QUESTION, "answers": ["four thousand"],
                                   "doc": "Director pay", "pages": [1], "answerable": True}) + "\n")
    reports = {}
    for user in ("bob", "alice"):
        run(capsys, "eval", "run", "--dataset", str(dataset), "--library", lib, "--out", str(tmp_path / user),
            "--user", user)
        reports[user] = json.loads((tmp_path / user / "report.json").read_text())
    bob, alice = (reports[u]["records"][0] for u in ("bob", "alice"))
    assert reports["bob"]["meta"]["user"] == "bob"
    assert all(r["doc"] != "Director pay" for r in bob["retrieved"] + bob["citations"])
    assert HR_ONLY not in bob["answer"] and bob["scores"]["hit@5"] == 0.0
    assert HR_ONLY in alice["answer"] and alice["scores"]["hit@5"] == 1.0
    for name in ("report.json", "report.md", "report.html"):  # the dataset's own words aside, nothing of it
        assert not leaks((tmp_path / "bob" / name).read_text().replace("Director pay", ""), lib)
