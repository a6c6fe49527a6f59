"""Who may read what, attacked the way a user or a careless admin would: what `--user` learns of a
library whose every document is hidden, exports over files that were readable by all, and sign-in
names a browser makes huge."""
import io
import json
import stat

import pytest
from test_access_cli import HR, fast, run
from test_ui_login import FAST

from app.cli import main
from app.ui.login import PasswordSignIn
from index.store import Library


@pytest.fixture
def libs(tmp_path, monkeypatch, capsys):
    """Two libraries with the same account bob (no groups): one holds only an HR document, one nothing."""
    fast(monkeypatch)
    (tmp_path / "hr").mkdir()
    (tmp_path / "hr" / "pay.md").write_text(HR)
    roots = {"hidden": str(tmp_path / "hidden"), "empty": str(tmp_path / "empty")}
    assert main(["ingest", str(tmp_path / "hr"), "--library", roots["hidden"], "--allow", "hr"]) == 0
    for root in roots.values():
        monkeypatch.setattr("sys.stdin", io.StringIO("bob-password\n"))
        assert main(["users", "add", "bob", "--password-stdin", "--library", root]) == 0
    capsys.readouterr()
    return roots


@pytest.mark.parametrize("command", [["ask", "What is paid?"], ["chat"]])
def test_a_user_cannot_tell_a_library_of_hidden_documents_from_an_empty_one(libs, capsys, monkeypatch, command):
    said = {}
    for kind, root in libs.items():
        monkeypatch.setattr("sys.stdin", io.StringIO("What is paid?\n"))
        code, out, err = run(capsys, *command, "--library", root, "--user", "bob")
        said[kind] = (code, out, err.replace(root, "LIB"))
    assert said["hidden"] == said["empty"]
    assert said["empty"][0] == 2 and "bob may read no document" in said["empty"][2]


@pytest.mark.parametrize("command", [["audit", "--export"], ["feedback", "export", "--out"]])
def test_an_export_over_a_file_others_could_read_is_made_private(libs, capsys, tmp_path, command):
    target = tmp_path / "out.jsonl"
    target.write_text("an older export\n")
    target.chmod(0o644)
    code, _, _ = run(capsys, *command, str(target), "--library", libs["hidden"])
    assert code == 0 and "older" not in target.read_text()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_huge_made_up_names_cannot_fill_the_memory(tmp_path):
    with Library.open(tmp_path / "lib", create=True) as library:
        library.accounts._hasher = FAST
        library.accounts.add("alice", "right password")
        sign_in = PasswordSignIn(library.accounts, remembered=3)
        for i in range(5):
            assert sign_in.attempt(f"{i}" * 200_000, "wrong password").reader is None
        kept = sum(len(name) for name in sign_in._unknown)
        assert len(sign_in._unknown) == 3 and kept < 1_000
        for _ in range(4):  # a long name is still refused after five failures, as any other name is
            sign_in.attempt("4" * 200_000, "wrong password")
        assert sign_in.attempt("4" * 200_000, "right password").message.startswith("Too many failed sign-ins")


def test_removing_the_last_account_which_opens_the_ui_to_anyone_takes_a_flag(libs, capsys, monkeypatch):
    from ui_helpers import ask_app

    from app.ui.state import SIGNED_IN
    monkeypatch.setenv("GROUNDWORK_LIBRARY", libs["hidden"])
    at = ask_app()
    at.session_state[SIGNED_IN] = "bob"

    def sidebar() -> str:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return " ".join(c.value for c in at.sidebar.caption)

    assert "Signed in as **bob**" in sidebar()
    code, _, err = run(capsys, "users", "remove", "bob", "--library", libs["hidden"])
    last = err.splitlines()[-1]  # (above it: Streamlit's own warnings, from the AppTest run)
    assert code == 2 and last.startswith("error: bob is the last account") and last.endswith("--make-single-user")
    assert "Signed in as **bob**" in sidebar()  # not promoted to a single-user library's full access
    code, out, _ = run(capsys, "users", "remove", "bob", "--make-single-user", "--library", libs["hidden"])
    assert code == 0 and out.startswith("removed bob")
    assert "Single-user library" in sidebar()


def test_an_open_session_of_a_removed_account_is_not_the_new_account_of_that_name(libs, monkeypatch):
    from test_ui_access import sign_in
    from ui_helpers import ask_app

    from index import access
    monkeypatch.setenv("GROUNDWORK_LIBRARY", libs["hidden"])
    monkeypatch.setenv("GROUNDWORK_ANSWER_MODE", "extractive")
    with Library.open(libs["hidden"]) as library:
        library.accounts.add("dave", "dave's old password", groups=["hr"])
    at = sign_in(ask_app().run(), "dave", "dave's old password")
    assert at.chat_input
    monkeypatch.setattr(access, "_now", lambda: "2999-01-01T00:00:00+00:00")  # later, someone else called dave
    with Library.open(libs["hidden"]) as library:
        library.accounts.remove("dave")
        library.accounts.add("dave", "the new dave's password", groups=["hr"])
    at.run()
    assert not at.chat_input and [t.label for t in at.text_input] == ["Name", "Password"]


def test_a_page_image_is_not_drawn_from_a_file_changed_since_it_was_ingested(tmp_path, monkeypatch):
    from pdfs import write_pdf
    from test_ui_access import sign_in
    from ui_helpers import PASSWORDS, ask_app, build_team_library
    lib = build_team_library(tmp_path)
    monkeypatch.setenv("GROUNDWORK_LIBRARY", str(lib))
    monkeypatch.setenv("GROUNDWORK_ANSWER_MODE", "extractive")
    at = sign_in(ask_app().run(), "bob", PASSWORDS["bob"])
    at.chat_input[0].set_value("How do I fit a linear regression model?").run()
    assert len(at.image) == 1  # the Stats guide's page, as ingested
    # The file is saved over with text bob may not read (to be ingested for hr later, say).
    write_pdf(tmp_path / "docs" / "stats.pdf", ["Salaries\nThe director earns nine hundred thousand."], title="Pay")
    at.run()
    assert not at.exception and not at.image
    assert any("changed since it was ingested" in c.value for c in at.caption)


def test_an_identical_copy_ingested_with_other_readers_changes_nobodys_access(libs, capsys, tmp_path):
    from test_access_cli import PUBLIC
    root = libs["hidden"]
    (tmp_path / "pub").mkdir()
    (tmp_path / "pub" / "handbook.md").write_text(PUBLIC)
    assert run(capsys, "ingest", str(tmp_path / "pub"), "--library", root)[0] == 0
    (tmp_path / "copies").mkdir()
    (tmp_path / "copies" / "handbook-for-hr.md").write_text(PUBLIC)
    (tmp_path / "copies" / "pay-for-all.md").write_text(HR)
    code, _, err = run(capsys, "ingest", str(tmp_path / "copies" / "handbook-for-hr.md"), "--allow", "hr",
                       "--library", root)
    assert code == 1 and len(err.splitlines()) == 1
    assert "same content as 'Staff handbook'" in err and err.rstrip().endswith("--allow hr")
    code, _, err = run(capsys, "ingest", str(tmp_path / "copies" / "pay-for-all.md"), "--library", root)
    assert code == 1 and "same content as 'Director pay'" in err and err.rstrip().endswith("--deny hr --make-public")
    _, out, _ = run(capsys, "search", "salary", "--library", root, "--user", "bob", "--json")
    assert "Staff handbook" in out and "Director pay" not in out  # as before either copy
    code, out, _ = run(capsys, "ingest", str(tmp_path / "copies" / "handbook-for-hr.md"), "--library", root)
    assert code == 0 and "unchanged" in out and "same content as Staff handbook" in out  # same readers: one copy


def test_ingesting_an_untouched_file_again_with_allow_or_tag_applies_them(libs, capsys, tmp_path):
    from test_access_cli import PUBLIC
    root = libs["hidden"]
    (tmp_path / "pub").mkdir()
    (tmp_path / "pub" / "handbook.md").write_text(PUBLIC)
    assert run(capsys, "ingest", str(tmp_path / "pub"), "--library", root)[0] == 0
    report = tmp_path / "report.json"
    code, out, err = run(capsys, "ingest", str(tmp_path / "pub"), "--allow", "hr", "--tag", "policy", "--library", root,
                         "--json", "--report", str(report))
    line = json.loads(out)  # it says what happened: "unchanged" read as "nothing happened"
    assert (line["status"], line["changed"]) == ("updated", ["readers", "tags"])
    summary = json.loads(report.read_text())  # nothing was read or written again: no pages to count
    assert (summary["updated"], summary["unchanged"], summary["pages"], summary["chunks"]) == (1, 0, 0, 0)
    assert "1 updated, 0 unchanged" in err
    with Library.open(root) as library:
        info = library.document(library.resolve("Staff handbook"))
    assert info.groups == ("hr",) and "policy" in info.tags
    _, out, _ = run(capsys, "search", "handbook", "--library", root, "--user", "bob", "--json")
    assert "Staff handbook" not in out  # bob is not in hr: the ingest's --allow holds
    code, out, _ = run(capsys, "ingest", str(tmp_path / "pub"), "--tag", "policy", "--library", root)
    assert code == 0 and "unchanged" in out  # asks nothing new: nothing happens, and it says so
    (tmp_path / "pub" / "handbook.md").touch()  # touched, same content: settled from the hash
    code, out, _ = run(capsys, "ingest", str(tmp_path / "pub"), "--tag", "manual", "--library", root)
    assert code == 0 and "updated" in out and "tags added" in out and "1 updated, 0 unchanged" in out
