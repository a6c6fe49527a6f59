"""Feedback in the library's SQLite, and the Feedback page that lists and exports it."""
import io
import json

import pytest
from ui_helpers import page_app

from index.feedback import Feedback, FeedbackLog
from index.store import Library, LibraryError

CITES = ({"doc": "FAQ", "page": 1, "chunk_id": 7},)


@pytest.fixture
def library(tmp_path, monkeypatch):
    Library.open(tmp_path / "lib", create=True).close()
    monkeypatch.setenv("GROUNDWORK_LIBRARY", str(tmp_path / "lib"))
    return tmp_path / "lib"


def test_feedback_round_trips_and_exports_as_jsonl(library):
    with FeedbackLog(library) as log:
        first = log.add(Feedback("How long is the warranty?", "Two years [1].", 1, CITES, " spot on ", "", "extractive"))
        log.add(Feedback("Who made it?", "The documents do not say.", -1, (), "", "smollm2", "generative"))
        out = io.StringIO()
        assert log.export_jsonl(out) == 2
        assert [e.rating for e in log.entries(-1)] == [-1]
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert rows[0] == {"id": first.id, "question": "How long is the warranty?", "answer": "Two years [1].",
                       "citations": list(CITES), "rating": 1, "comment": "spot on", "model": "",
                       "mode": "extractive", "created_at": first.created_at, "user": ""}
    assert rows[1]["model"] == "smollm2" and first.created_at.endswith("+00:00")


def test_the_export_is_a_dataset_the_evaluation_harness_reads(library, tmp_path):
    from eval.questions import load
    with FeedbackLog(library) as log:
        log.add(Feedback("How long is the warranty?", "Two years [1].", 1, CITES))
        log.add(Feedback("Who made it?", "The documents do not say.", -1))
        with open(tmp_path / "fb.jsonl", "w") as out:
            log.export_jsonl(out)
    liked, disliked = load(str(tmp_path / "fb.jsonl"))
    assert (liked.question, liked.gold, liked.answers, liked.answerable) == \
        ("How long is the warranty?", (("FAQ", 1),), ("Two years [1].",), True)
    assert disliked.answerable is True and not disliked.gold  # an abstention the user disliked


def test_feedback_refuses_odd_ratings_and_missing_libraries(library, tmp_path):
    with FeedbackLog(library) as log, pytest.raises(ValueError, match="-1 or 1"):
        log.add(Feedback("q", "a", 0))
    with pytest.raises(LibraryError, match="no library at"):
        FeedbackLog(tmp_path / "elsewhere")


def test_feedback_does_not_move_the_commit_counter(library):
    with Library.open(library) as lib:
        before = lib.epoch()
        with FeedbackLog(library) as log:
            log.add(Feedback("q", "a", 1))
        assert lib.epoch() == before  # rating an answer must not invalidate the cached search index


def test_the_page_says_how_to_give_feedback_when_there_is_none(library):
    at = page_app("feedback_page").run()
    assert not at.exception and "No feedback yet" in at.info[0].value


def test_the_page_lists_counts_and_offers_the_export(library):
    with FeedbackLog(library) as log:
        log.add(Feedback("How long is the warranty?", "Two years [1].", 1, CITES, "good"))
        log.add(Feedback("Who made it?", "The documents do not say.", -1))
    at = page_app("feedback_page").run()
    assert [m.value for m in at.metric] == ["2", "1", "1"]
    table = at.dataframe[0].value
    assert table["Rating"].tolist() == ["Not helpful", "Helpful"] and table["Sources"].tolist() == ["", "FAQ p.1"]
    assert at.download_button[0].label == "Download 2 as JSONL"
    at.segmented_control[0].set_value(":material/thumb_down: Not helpful").run()
    assert at.dataframe[0].value["Question"].tolist() == ["Who made it?"]
    assert at.download_button[0].label == "Download 1 as JSONL"
