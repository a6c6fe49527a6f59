"""The Evaluate page under AppTest: a run over the feedback given in the UI, then its report in the page."""
import json

import pytest
from ui_helpers import build_library, page_app

from app.ui.plain import plain
from index.feedback import Feedback, FeedbackLog


@pytest.fixture
def library(tmp_path, monkeypatch):
    _, lib = build_library(tmp_path)
    monkeypatch.setenv("GROUNDWORK_LIBRARY", str(lib))
    monkeypatch.setenv("GROUNDWORK_ANSWER_MODE", "extractive")
    return lib


def test_an_evaluation_of_the_feedback_writes_a_report_the_page_shows(library):
    with FeedbackLog(library) as log:
        log.add(Feedback("How long does the warranty of the pump last?", "The warranty of the pump lasts two years. [1]",
                         1, ({"doc": "FAQ", "page": 1, "chunk_id": 1},), mode="extractive"))
    at = page_app("evaluate_page").run()
    assert "No evaluation runs yet" in at.caption[0].value
    at.selectbox[0].set_value("Feedback given in this UI")
    at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    run = next((library / "eval-runs").iterdir())
    report = json.loads((run / "report.json").read_text())
    assert report["meta"]["questions"] == 1 and report["records"][0]["error"] is None
    assert (run / "report.html").read_text().lstrip().lower().startswith("<!doctype html")
    assert run.name in at.selectbox[-1].options
    assert [m.label for m in at.metric] == ["Hit@5", "Faithfulness", "Hallucination", "Refusal"]
    # The model server was not asked to judge: the verifier the engine does not use (features) did, and is named.
    assert "the features verifier judges" in at.checkbox[0].help
    assert [m.value for m in at.metric][1:3] != ["not measured", "not measured"]
    assert report["meta"]["checker"].startswith("sentence-level features")
    assert any(c.value.startswith(plain("Support judged by: sentence-level features")) for c in at.caption)


def test_without_documents_the_page_points_to_the_library(tmp_path, monkeypatch):
    monkeypatch.setenv("GROUNDWORK_LIBRARY", str(tmp_path / "none"))
    at = page_app("evaluate_page").run()
    assert not at.exception and "No documents yet" in at.info[0].value
