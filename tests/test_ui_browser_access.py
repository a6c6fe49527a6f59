"""Two people sign in to `groundwork ui` in headless Chromium and see different answers and libraries."""
import pytest
from llm_server import FakeLLM
from test_ui_browser import browser  # noqa: F401 - the shared Chromium fixture
from ui_browser import ARTIFACTS, UI
from ui_helpers import PASSWORDS, build_team_library

from app.processes import free_port
from index.store import Library

pytestmark = pytest.mark.integration  # ~60 s on 2 CPUs: a library, the UI, two browser sessions

QUESTION = "What is the bonus pool for 2027?"


def test_two_users_see_different_answers_and_libraries(tmp_path, browser):  # noqa: F811
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    lib = build_team_library(tmp_path)
    with FakeLLM() as llm:
        ui = UI(lib, free_port(), {"GROUNDWORK_LLM_URL": llm.url, "GROUNDWORK_ANSWER_MODE": "extractive"})
        try:
            ui.ready_after()
            alice, bob = (browser.new_context(viewport={"width": 1280, "height": 1350}).new_page() for _ in range(2))
            _refused(alice, ui.url)
            _sign_in(alice, "alice")
            _ask(alice)
            assert alice.get_by_text("[1] HR memo · page 1").is_visible()
            assert "forty-two thousand kroner" in alice.locator(".gw-answer").last.inner_text()
            alice.get_by_test_id("stImage").locator("img").first.wait_for(timeout=30_000)  # the memo's page
            alice.screenshot(path=str(ARTIFACTS / "access-alice.png"))
            bob.goto(ui.url)
            _sign_in(bob, "bob")
            _ask(bob)
            bob.screenshot(path=str(ARTIFACTS / "access-bob.png"))
            assert "HR memo" not in _text(bob) and "kroner" not in _text(bob)
            assert "HR memo" in _library(alice) and "HR memo" not in _library(bob)
            assert not _links(bob) & {"Evaluate", "Audit"}  # admin pages are not offered
            _sign_out(alice)
        finally:
            ui.stop()
    with Library.open(lib) as library:
        asked = [(e.user, e.question) for e in library.audit.entries(None)]
    assert asked == [("alice", QUESTION), ("bob", QUESTION)]


def _refused(page, url: str) -> None:
    """A wrong password shows one line and no page."""
    page.goto(url)
    _fill(page, "alice", "not alice's password")
    page.get_by_text("Wrong name or password.").wait_for(timeout=30_000)
    assert page.get_by_test_id("stChatInputTextArea").count() == 0


def _sign_in(page, name: str) -> None:
    _fill(page, name, PASSWORDS[name])
    page.get_by_test_id("stChatInputTextArea").wait_for(timeout=60_000)
    assert page.get_by_test_id("stSidebar").get_by_text(f"Signed in as {name}").is_visible()


def _fill(page, name: str, password: str) -> None:
    page.get_by_label("Name").wait_for(timeout=60_000)
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def _ask(page) -> None:
    """Ask, and wait for the answer's last part (its timings), whether it answers or abstains."""
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(QUESTION)
    box.press("Enter")
    page.get_by_test_id("stPopover").first.wait_for(timeout=120_000)


def _library(page) -> str:
    """The text of the Library page, with the titles offered by its document filter."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Library").click()
    page.get_by_text("Ask only about").wait_for(timeout=30_000)
    page.get_by_test_id("stMultiSelect").first.click()  # its options are the readable titles, as text
    page.get_by_role("option").first.wait_for(timeout=30_000)
    text = _text(page)
    page.keyboard.press("Escape")
    assert "Stats guide" in text  # the list was there to read
    return text


def _links(page) -> set[str]:
    return set(page.get_by_test_id("stSidebarNav").get_by_role("link").all_inner_texts())


def _sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in").wait_for(timeout=30_000)
    assert page.get_by_test_id("stChatInputTextArea").count() == 0 and "kroner" not in _text(page)


def _text(page) -> str:
    return page.locator("body").inner_text()


def test_a_trusted_proxy_header_signs_in_its_account_and_nothing_else(tmp_path, browser):  # noqa: F811
    lib = build_team_library(tmp_path)
    env = {"GROUNDWORK_ANSWER_MODE": "extractive", "GROUNDWORK_AUTH_HEADER": "X-Forwarded-User",
           "GROUNDWORK_AUTH_PROXIES": "127.0.0.1"}  # the test's browser plays the proxy on loopback
    with FakeLLM() as llm:
        ui = UI(lib, free_port(), {**env, "GROUNDWORK_LLM_URL": llm.url})
        try:
            ui.ready_after()
            bob = _page(browser, {"X-Forwarded-User": "bob"})
            bob.goto(ui.url)
            bob.get_by_test_id("stChatInputTextArea").wait_for(timeout=60_000)  # no form: the proxy vouched
            sidebar = bob.get_by_test_id("stSidebar")
            assert sidebar.get_by_text("Signed in as bob").is_visible()
            assert sidebar.get_by_text("sign out there").is_visible() and not sidebar.get_by_role("button", name="Sign out").count()
            stranger = _page(browser, {"X-Forwarded-User": "mallory"})
            stranger.goto(ui.url)
            stranger.get_by_text("has no account of that name").wait_for(timeout=60_000)
            # the form's button renders a moment after the warning above it: wait for it, then look
            stranger.get_by_role("button", name="Sign in").wait_for(timeout=30_000)
            assert stranger.get_by_role("button", name="Sign in").is_visible()
            assert stranger.get_by_test_id("stChatInputTextArea").count() == 0
        finally:
            ui.stop()


def _page(browser, headers: dict[str, str]):
    return browser.new_context(viewport={"width": 1280, "height": 1000}, extra_http_headers=headers).new_page()
