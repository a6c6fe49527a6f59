"""`groundwork ui` in headless Chromium: ask a question, see the answer and a citation; screenshots as artifacts."""
import json
import time
from urllib.parse import urlsplit

import pytest
from llm_server import FakeLLM
from pdfs import write_pdf
from ui_browser import ARTIFACTS, CHROMIUM_FLAGS, UI, chromium, port_answers
from ui_helpers import build_library

from app.cli import main
from app.processes import free_port

pytestmark = pytest.mark.integration  # ~40 s on 2 CPUs: two embedding-model loads and a browser


def model(body: dict) -> str:
    """The fake model: a cited answer for answer prompts, the question itself for follow-up rewrites."""
    content = body["messages"][-1]["content"]
    blocks = content.split("<passage n=")[1:]
    if not blocks:
        return "How do I draw a scatter plot?"
    n = next((i for i, b in enumerate(blocks, start=1) if "plot(x, y)" in b), 1)
    return f"Use plot(x, y) to draw a scatter plot [{n}]. It also exports the plot to Excel [{n}]."


@pytest.fixture(scope="module")
def browser():
    executable = chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is missing; install the dev extras: pip install -e '.[dev]'", pytrace=False)
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


def test_ask_in_the_browser_shows_the_answer_and_its_citation(tmp_path, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    _, lib = build_library(tmp_path)
    with FakeLLM() as llm:
        llm.queue(*[model] * 4)
        ui = UI(lib, free_port(), {"GROUNDWORK_LLM_URL": llm.url, "GROUNDWORK_ANSWER_MODE": "generative"})
        try:
            figures = {"ui_ready_s": ui.ready_after()}
            # Streamlit scrolls inside its own pane, so a tall window stands in for a full-page shot.
            page = browser.new_page(viewport={"width": 1280, "height": 1350})
            figures.update(_ask(page, ui.url, "How do I draw a scatter plot?"))
            page.screenshot(path=str(ARTIFACTS / "ask.png"))
            page.set_viewport_size({"width": 1024, "height": 768})  # a small laptop
            page.screenshot(path=str(ARTIFACTS / "ask-1024px.png"))
            figures["follow_up_s"] = _follow_up(page, "and how do I fit a model?")
            page.set_viewport_size({"width": 1280, "height": 1000})
            _feedback(page)
            _library(page)
        finally:
            code = ui.stop()
    assert code == 0 and not port_answers(ui.port)  # Ctrl-C stops Streamlit with the command
    (ARTIFACTS / "figures.json").write_text(json.dumps(figures, indent=2))


def _ask(page, url: str, question: str) -> dict:
    """Load the Ask page, ask, and wait for the verified answer; the seconds each step took."""
    started = time.monotonic()
    page.goto(url)
    box = page.get_by_test_id("stChatInputTextArea")
    box.wait_for(timeout=30_000)
    loaded = time.monotonic()
    box.fill(question)
    box.press("Enter")
    answer = page.locator(".gw-answer").first
    answer.wait_for(timeout=90_000)
    first_text = time.monotonic()
    cite = page.locator("a.gw-cite").first
    cite.wait_for(timeout=90_000)
    done = time.monotonic()
    page.get_by_test_id("stImage").locator("img").first.wait_for(timeout=30_000)  # the PDF page
    page.get_by_test_id("stPopover").first.wait_for(timeout=30_000)  # the timings: the answer's last part
    page.screenshot(path=str(ARTIFACTS / "ask.png"), full_page=True)  # before checking, to see a failure
    text = page.locator(".gw-answer").last.inner_text()
    assert "Use plot(x, y) to draw a scatter plot" in text and "[1]" in text
    assert "Excel" in page.locator(".gw-unsupported").first.inner_text()  # marked, not hidden
    assert page.get_by_text("[1] Stats guide · page 2").is_visible()
    cite.click()  # the citation leads to its source card
    assert "Use plot(x, y) to draw a scatter plot" in page.locator("mark").first.inner_text()
    return {"page_load_s": loaded - started, "first_answer_text_s": first_text - loaded,
            "verified_answer_s": done - loaded}


def _follow_up(page, question: str) -> float:
    """Seconds until the second answer's citations show; the embedding model is warm by now."""
    started = time.monotonic()
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(question)
    box.press("Enter")
    page.locator(".gw-answer").nth(1).locator("a.gw-cite").first.wait_for(timeout=60_000)
    return time.monotonic() - started


def _feedback(page) -> None:
    """Thumbs up on the first answer with a comment; the Feedback page lists it."""
    page.get_by_role("radio", name="Thumbs up").first.click()
    page.get_by_label("Comment (optional)").fill("Clear and cited")
    page.get_by_role("button", name="Send feedback").click()
    page.get_by_text("Thanks — feedback saved").wait_for(timeout=30_000)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Feedback").click()
    page.get_by_text("Answers rated").wait_for(timeout=30_000)
    page.wait_for_timeout(1000)  # the table draws on a canvas after it is attached
    page.screenshot(path=str(ARTIFACTS / "feedback.png"))


def _library(page) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Library").click()
    page.get_by_text("Ask only about").wait_for(timeout=30_000)  # the page's last part
    page.get_by_test_id("stDataFrame").first.locator("canvas").first.wait_for(timeout=30_000)
    page.wait_for_timeout(1000)  # the table draws on a canvas after it is attached
    page.screenshot(path=str(ARTIFACTS / "library.png"))
    assert page.get_by_test_id("stFileUploaderDropzone").is_visible()


EVIL_TITLE = ('Evil ![x](http://evil.example/x.png) [link](https://evil.example/l) '
              '<img src="http://evil.example/y.png"> :red[red] $x^2$ **bold** :material/home: www.evil.example')
EVIL_FILE = ":red[f] $y$ **b**.pdf"


def test_titles_and_file_names_show_as_written_and_the_page_calls_no_other_host(tmp_path, browser):
    docs, lib = tmp_path / "docs", tmp_path / "lib"
    docs.mkdir()
    write_pdf(docs / EVIL_FILE, ["Pruning\nPrune the roses in early spring."], title=EVIL_TITLE)
    assert main(["ingest", str(docs), "--library", str(lib)]) == 0
    with FakeLLM() as llm:
        ui = UI(lib, free_port(), {"GROUNDWORK_LLM_URL": llm.url, "GROUNDWORK_ANSWER_MODE": "extractive"})
        try:
            ui.ready_after()
            page = browser.new_page(viewport={"width": 1280, "height": 1350})
            hosts: set[str] = set()
            page.on("request", lambda r: hosts.add(urlsplit(r.url).netloc))
            page.on("websocket", lambda w: hosts.add(urlsplit(w.url).netloc))
            page.goto(ui.url)
            box = page.get_by_test_id("stChatInputTextArea")
            box.wait_for(timeout=30_000)
            box.fill("When should I prune the roses?")
            box.press("Enter")
            page.get_by_test_id("stImage").locator("img").first.wait_for(timeout=90_000)
            page.wait_for_timeout(1000)
            page.screenshot(path=str(ARTIFACTS / "hostile-title.png"))
            card = _shown(page.get_by_test_id("stExpander").first.inner_text())
            assert f"[1] {EVIL_TITLE} · page 1" in card and f"Page 1 of {EVIL_FILE}, the passage marked" in card
            _no_markup(page)
            page.get_by_test_id("stSidebarNav").get_by_role("link", name="Library").click()
            page.get_by_role("button", name="Delete").click()
            warning = page.get_by_test_id("stAlert").filter(has_text="from the library?")
            assert f"Delete “{EVIL_TITLE}”" in _shown(warning.inner_text(timeout=30_000))
            _no_markup(page)
        finally:
            ui.stop()
    assert hosts == {f"127.0.0.1:{ui.port}"}  # a title's image or link never calls out


def _shown(text: str) -> str:
    """Text as a reader sees it: the invisible word joiners that break autolinks dropped, spaces collapsed."""
    return " ".join(text.replace("\u2060", "").split())


def _no_markup(page) -> None:
    """Nothing on the page was made from a document's Markdown: no outside images or links, no maths, no colour."""
    made = ("img[src*='evil'], a[href*='evil'], .katex, strong:has-text('bold'), [class*='stMarkdownColored'], "
            "[aria-label='home icon']")
    assert page.locator(made).count() == 0
