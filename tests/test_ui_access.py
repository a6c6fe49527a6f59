"""The UI with accounts, under AppTest: sign-in first, and every page reads as the signed-in user."""
import pytest
from ui_helpers import PASSWORDS, ask_app, build_team_library, html_text, page_app, shown

from app.ui.state import SIGNED_IN
from index.feedback import Feedback, FeedbackLog
from index.store import Library

QUESTION = "What is the bonus pool for 2027?"


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    return build_team_library(tmp_path_factory.mktemp("ui-access"))


@pytest.fixture
def env(library, monkeypatch):
    monkeypatch.setenv("GROUNDWORK_LIBRARY", str(library))
    monkeypatch.setenv("GROUNDWORK_ANSWER_MODE", "extractive")
    return library


def sign_in(at, name: str, password: str):
    at.text_input(key="sign-in-name").set_value(name)
    at.text_input(key="sign-in-password").set_value(password)
    at.button(key="FormSubmitter:sign-in-Sign in").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def signed_in(name: str):
    at = ask_app().run()
    return sign_in(at, name, PASSWORDS[name])


def ask(at, question: str = QUESTION):
    at.chat_input[0].set_value(question).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def titles_cited(at) -> list[str]:
    return [e.label for e in at.expander if e.label.startswith(("[", "Closest"))]


def test_with_accounts_nothing_but_the_sign_in_form_shows(env):
    at = ask_app().run()
    assert not at.exception
    assert not at.chat_input and not at.dataframe and not at.expander  # no page ran
    assert [t.label for t in at.text_input] == ["Name", "Password"]


def test_a_wrong_password_is_refused_without_saying_whether_the_name_exists(env):
    at = sign_in(ask_app().run(), "alice", "not alice's password")
    assert [e.value for e in at.error] == ["Wrong name or password."]
    assert not at.chat_input
    at = sign_in(at, "nobody-here", "not anyone's password")
    assert [e.value for e in at.error] == ["Wrong name or password."]


def test_the_reader_with_the_group_gets_the_answer_and_its_citation(env):
    at = ask(signed_in("alice"))
    assert any("Signed in as **alice**" in c.value for c in at.sidebar.caption)
    assert titles_cited(at)[0] == "[1] HR memo · page 1"
    assert "forty-two thousand kroner" in html_text(at) and len(at.image) == 1  # the memo's page, drawn
    assert any(shown(c.value).endswith("· 4 documents") for c in at.sidebar.caption)


def test_a_reader_without_the_group_gets_nothing_of_the_memo(env):
    at = ask(signed_in("bob"))
    assert not any("HR memo" in label for label in titles_cited(at))
    assert "kroner" not in html_text(at)
    assert all("HR memo" not in shown(c.value) for c in at.caption)
    assert any(shown(c.value).endswith("· 3 documents") for c in at.sidebar.caption)  # counts leave it out too


def test_every_answer_is_recorded_with_who_asked(env):
    ask(signed_in("bob"), "How long does the warranty of the pump last?")
    with Library.open(env) as library:
        last = library.audit.entries(None)[-1]
    assert (last.user, last.question) == ("bob", "How long does the warranty of the pump last?")
    assert last.passages and all(p["doc_id"] != _doc_id(env, "HR memo") for p in last.passages)


def test_signing_out_forgets_the_session(env):
    at = ask(signed_in("alice"))
    at.sidebar.button(key="sign-out").click().run()
    assert not at.chat_input and [t.label for t in at.text_input] == ["Name", "Password"]
    assert "kroner" not in html_text(at) and SIGNED_IN not in at.session_state


def test_a_group_taken_away_hides_earlier_answers_and_their_page_images(env):
    with Library.open(env) as library:
        library.accounts.add("carol", "carol's long password", groups=["hr"])
    at = sign_in(ask_app().run(), "carol", "carol's long password")
    assert titles_cited(ask(at))[0] == "[1] HR memo · page 1"
    with Library.open(env) as library:
        library.accounts.set_groups("carol", [])
    at.run()
    assert not titles_cited(at) and "kroner" not in html_text(at) and not at.image


def test_a_removed_account_is_signed_out_on_its_next_request(env):
    with Library.open(env) as library:
        library.accounts.add("dave", "dave's long password")
    at = sign_in(ask_app().run(), "dave", "dave's long password")
    assert at.chat_input
    with Library.open(env) as library:
        library.accounts.remove("dave")
    at.run()
    assert not at.chat_input and [t.label for t in at.text_input] == ["Name", "Password"]


def test_the_library_page_lists_only_readable_documents_and_no_upload_for_a_non_admin(env):
    bob = _page_as("library_page", "bob")
    assert not bob.file_uploader and not any(b.label == "Delete" for b in bob.button)
    assert "HR memo" not in set(bob.dataframe[0].value["Title"])
    assert "HR memo" not in bob.multiselect[0].options and "3 documents" in bob.subheader[0].value
    root = _page_as("library_page", "root")
    assert root.file_uploader and "HR memo" in set(root.dataframe[0].value["Title"])


def test_a_page_run_without_signing_in_shows_nothing(env):
    at = page_app("library_page").run()
    assert not at.exception and not at.dataframe and not at.file_uploader


def test_feedback_a_non_admin_sees_is_its_own(env):
    with FeedbackLog(env) as log:
        log.add(Feedback("alice asks", "an answer", 1, user="alice"))
        log.add(Feedback("bob asks", "another answer", -1, user="bob"))
    questions = set(_page_as("feedback_page", "bob").dataframe[0].value["Question"])
    assert "bob asks" in questions and "alice asks" not in questions
    assert {"alice asks", "bob asks"} <= set(_page_as("feedback_page", "root").dataframe[0].value["Question"])


def test_evaluation_and_the_audit_trail_are_for_admins_only(env):
    for module in ("evaluate_page", "audit_page"):
        bob = _page_as(module, "bob")
        assert "Only an admin" in bob.info[0].value and not bob.button and not bob.dataframe
    assert "Start evaluation" in [b.label for b in _page_as("evaluate_page", "root").button]
    assert _page_as("audit_page", "root").get("download_button")


def test_a_library_without_accounts_is_single_user_and_says_so(tmp_path, monkeypatch):
    from ui_helpers import build_library
    _, lib = build_library(tmp_path)
    monkeypatch.setenv("GROUNDWORK_LIBRARY", str(lib))
    at = ask_app().run()
    assert at.chat_input and not at.text_input
    assert any("Single-user library" in c.value for c in at.sidebar.caption)


def _page_as(module: str, name: str):
    at = page_app(module)
    at.session_state[SIGNED_IN] = name
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_an_admin_uploads_for_a_group_and_a_re_ingest_keeps_it(env, tmp_path):
    from pdfs import write_pdf
    pdf = write_pdf(tmp_path / "pay.pdf", ["Pay scales\nThe pay scale review happens in March."], title="Pay scales")
    root = _page_as("library_page", "root")
    root.file_uploader[0].set_value([("pay.pdf", pdf.read_bytes(), "application/pdf")])
    root.text_input(key="groups-0").set_value("hr, not a group!").run()
    root.button[0].click().run()
    assert "not allowed" in root.error[0].value and _groups(env, "Pay scales") is None  # nothing ingested
    root.text_input(key="groups-0").set_value("hr").run()
    root.button[0].click().run()
    assert _groups(env, "Pay scales") == ("hr",)
    rows = root.dataframe[-1].value.set_index("Title")["Readable by"]
    assert rows["Pay scales"] == "hr" and rows["Stats guide"] == "everyone"
    assert "Pay scales" not in set(_page_as("library_page", "bob").dataframe[0].value["Title"])
    root.selectbox(key="manage-doc").set_value(_doc_id(env, "Pay scales")).run()
    next(b for b in root.button if b.label == "Re-ingest").click().run()
    assert not root.exception and _groups(env, "Pay scales") == ("hr",)  # never public by a re-ingest


def _groups(lib, title: str):
    with Library.open(lib) as library:
        return next((d.groups for d in library.documents() if d.title == title), None)


def _doc_id(lib, title: str) -> str:
    with Library.open(lib) as library:
        return library.resolve(title)
