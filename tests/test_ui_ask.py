"""The Ask page under streamlit's AppTest: cited answers, rejected sentences, abstention, follow-ups, feedback."""
import pytest
from llm_server import FakeLLM, Reply
from ui_helpers import ask_app, build_library, citing, html_text, shown, visible_text

from index.feedback import FeedbackLog


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    return build_library(tmp_path_factory.mktemp("ui-ask"))[1]


@pytest.fixture
def app(library, monkeypatch):
    monkeypatch.setenv("GROUNDWORK_LIBRARY", str(library))
    monkeypatch.setenv("GROUNDWORK_ANSWER_MODE", "extractive")
    return ask_app().run()


def ask(at, question: str):
    at.chat_input[0].set_value(question).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_an_empty_library_points_to_the_library_page(tmp_path, monkeypatch):
    monkeypatch.setenv("GROUNDWORK_LIBRARY", str(tmp_path / "nothing-yet"))
    at = ask_app().run()
    assert not at.exception
    assert "No documents yet — upload some on the Library page" in at.info[0].value
    assert not at.chat_input


def test_an_answer_cites_a_source_card_with_the_page_marked(app):
    ask(app, "How do I draw a scatter plot?")
    markup = html_text(app)
    answer = next(h.value for h in app.html if 'class="gw-answer"' in h.value)
    assert "plot(x, y)" in answer and 'href="#gw-' in answer
    anchor = answer.split('href="#')[1].split('"')[0]
    assert f'id="{anchor}"' in markup  # the citation link lands on its source card
    assert [e.label for e in app.expander if e.label.startswith("[")] == ["[1] Stats guide · page 2"]
    assert "<mark>" in markup and "Use plot(x, y) to draw a scatter plot" in visible_text(markup)
    assert len(app.image) == 1  # the PDF page, rendered


def test_unsupported_sentences_are_marked_with_the_reason(library, monkeypatch):
    with FakeLLM() as llm:
        monkeypatch.setenv("GROUNDWORK_LIBRARY", str(library))
        monkeypatch.setenv("GROUNDWORK_LLM_URL", llm.url)
        monkeypatch.setenv("GROUNDWORK_ANSWER_MODE", "generative")
        llm.queue(citing("warranty", "The warranty of the pump lasts two years [n].",
                         "It also covers damage from floods and fire [n]."))
        at = ask(ask_app().run(), "How long does the warranty of the pump last?")
        assert llm.requests[-1]["stream"] is True  # the answer was streamed
    answer = next(h.value for h in at.html if 'class="gw-answer"' in h.value)
    assert "lasts two years" in answer
    assert 'class="gw-unsupported" title="The passage it cites' in answer and "floods" in answer
    assert any(e.label.startswith("✗ 1 sentence removed") for e in at.expander)
    assert any("generative · test/fake-llm" in shown(c.value) for c in at.caption)


def test_a_model_server_silent_past_llm_timeout_is_named_in_the_answer(library, monkeypatch):
    with FakeLLM() as llm:
        monkeypatch.setenv("GROUNDWORK_LIBRARY", str(library))
        monkeypatch.setenv("GROUNDWORK_LLM_URL", llm.url)
        monkeypatch.setenv("GROUNDWORK_ANSWER_MODE", "generative")
        monkeypatch.setenv("GROUNDWORK_LLM_TIMEOUT", "0.5")
        llm.queue(Reply(citing("warranty", "The warranty of the pump lasts two years [n]."), stall_s=1.5))
        at = ask(ask_app().run(), "How long does the warranty of the pump last?")
    warned = [shown(w.value) for w in at.warning]
    assert any("The answer is incomplete" in w and "sent nothing for 0.5 s (llm_timeout)" in w for w in warned)


def test_a_question_the_documents_do_not_answer_abstains_with_the_closest_passages(app):
    ask(app, "What is the boiling point of mercury on Venus?")
    assert "do not answer this" in app.info[0].value
    assert not any('class="gw-answer"' in h.value for h in app.html)
    assert any(e.label.startswith("Closest:") for e in app.expander)


def test_a_follow_up_uses_the_conversation(app):
    ask(app, "How do I fit a linear regression model?")
    ask(app, "and plot it?")
    turns = app.session_state["turns"]
    assert len(turns) == 2 and turns[1]["answer"].query != "and plot it?"
    assert len(app.chat_message) == 4


def test_thumbs_and_a_comment_are_stored_in_the_library(app, library):
    ask(app, "How long does the warranty of the pump last?")
    app.feedback[0].set_value(0).run()  # thumbs down
    app.text_input[0].set_value("It should mention the serial number")
    app.button(key="FormSubmitter:fb-form-" + app.session_state["turns"][0]["id"] + "-Send feedback").click().run()
    assert not app.exception
    with FeedbackLog(library) as log:
        entry = log.entries()[0]
    assert (entry.rating, entry.comment, entry.mode) == (-1, "It should mention the serial number", "extractive")
    assert entry.question == "How long does the warranty of the pump last?" and "two years" in entry.answer
    assert entry.citations == ({"doc": "FAQ", "page": 1, "chunk_id": entry.citations[0]["chunk_id"]},)
    assert any("feedback saved" in c.value for c in app.caption)
