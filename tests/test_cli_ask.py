"""`groundwork ask` and `chat` as users run them: JSON shape, streaming, one-line errors."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from llm_server import FakeLLM, Reply

from app.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def llm(monkeypatch):
    with FakeLLM() as server:
        monkeypatch.setenv("GROUNDWORK_LLM_URL", server.url)
        yield server


def test_ask_json_quotes_and_cites_the_page(built, capsys):
    _, lib, _ = built
    assert main(["ask", "How long does the warranty of the pump last?", "--library", str(lib), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert set(answer) >= {"answer", "abstained", "citations", "sentences", "timings"}
    assert not answer["abstained"] and "two years" in answer["answer"]
    assert [(c["doc"], c["page"]) for c in answer["citations"]] == [("FAQ", 1)]
    assert all(s["supported"] for s in answer["sentences"])


def test_ask_streams_a_generated_answer_then_shows_what_was_verified(built, llm, capsys):
    _, lib, _ = built
    def reply(body):  # cite the passage that holds the warranty, as a model would
        blocks = body["messages"][1]["content"].split("<passage n=")[1:]
        n = next(i for i, b in enumerate(blocks, start=1) if "warranty" in b)
        return f"The warranty of the pump lasts two years [{n}]. It also covers floods [{n}]."
    llm.queue(reply)
    code = main(["ask", "How long does the warranty of the pump last?", "--library", str(lib),
                 "--mode", "generative"])
    out = capsys.readouterr().out
    assert code == 0
    streamed, verified = out.split("Verified:")
    assert "It also covers floods" in streamed  # the draft as it arrived
    assert "lasts two years" in verified and "not supported" in verified and "Sources:" in verified


def test_a_server_dying_mid_answer_is_marked_incomplete_with_exit_1(built, llm, capsys):
    _, lib, _ = built
    llm.queue(Reply("The warranty of the pump lasts two years [1]. And", cut_after=9))
    code = main(["ask", "How long does the warranty of the pump last?", "--library", str(lib),
                 "--mode", "generative", "--json"])
    assert code == 1 and json.loads(capsys.readouterr().out)["complete"] is False


def test_a_server_silent_past_llm_timeout_says_so_and_which_setting_waits(built, llm, capsys, monkeypatch):
    _, lib, _ = built
    monkeypatch.setenv("GROUNDWORK_LLM_TIMEOUT", "0.5")
    llm.queue(Reply("The warranty of the pump lasts two years [1].", stall_s=1.5))
    code = main(["ask", "How long does the warranty of the pump last?", "--library", str(lib), "--mode", "generative"])
    out = capsys.readouterr().out
    assert code == 1 and "[incomplete: the model server at" in out and "sent nothing for 0.5 s (llm_timeout)" in out
    llm.queue(Reply("The warranty of the pump lasts two years [1].", stall_s=1.5))
    assert main(["ask", "How long does the warranty of the pump last?", "--library", str(lib), "--mode", "generative",
                 "--json"]) == 1
    assert "llm_timeout" in json.loads(capsys.readouterr().out)["stopped"]


def test_chat_rewrites_follow_ups(built, capsys, monkeypatch):
    _, lib, _ = built
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("How do I fit a linear regression model?\n"
                                                                 "and plot it?\n"))
    assert main(["chat", "--library", str(lib)]) == 0
    captured = capsys.readouterr()
    assert "lm(y ~ x)" in captured.out
    assert "searched for: and plot it? (" in captured.err


def test_a_question_chat_refuses_does_not_end_the_conversation(built, capsys, monkeypatch):
    _, lib, _ = built
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("x" * 3000 + "\nHow long does the warranty of the pump last?\n"))
    assert main(["chat", "--library", str(lib)]) == 0
    captured = capsys.readouterr()
    assert "question is 3000 characters long" in captured.err and "two years" in captured.out


def test_ask_errors_are_one_line_and_say_what_to_run(built, tmp_path):
    _, lib, _ = built
    env = {**os.environ, "GROUNDWORK_LLM_URL": "http://127.0.0.1:9/v1"}
    cases = [
        (["ask", "how?", "--library", str(tmp_path / "none")], "no library at"),
        (["ask", "   ", "--library", str(lib)], "question is empty"),
        (["ask", "How long does the pump warranty last?", "--library", str(lib), "--mode", "generative"],
         "run: groundwork serve"),
    ]
    for args, message in cases:
        proc = subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("error: ") and message in proc.stderr
        assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1


def test_an_empty_library_says_how_to_fill_it(tmp_path, capsys):
    lib = tmp_path / "lib"
    lib.mkdir()
    from index.store import Library
    Library.open(lib, create=True).close()
    assert main(["ask", "anything?", "--library", str(lib)]) == 2
    assert "is empty; run: groundwork ingest" in capsys.readouterr().err
