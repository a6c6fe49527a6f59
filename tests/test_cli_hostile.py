"""The command line against hostile input: wildcard references, escape sequences, odd names, links, limits."""
import io
import json
import os
from pathlib import Path

import pytest
from llm_server import FakeLLM

from app.cli import main

ESC = "\x1b]0;owned\x07\x1b[2J"


def ingest(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["ingest", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def one_doc(tmp_path, capsys) -> tuple[Path, str]:
    """A library of one document, where any pattern that matches at all matches it alone."""
    (tmp_path / "pump.txt").write_text("The pump warranty lasts two years.")
    lib = tmp_path / "lib"
    assert ingest(capsys, str(tmp_path / "pump.txt"), "--library", str(lib))[0] == 0
    return lib, doc_ids(capsys, lib)[0]


def doc_ids(capsys, lib) -> list[str]:
    main(["docs", "--library", str(lib), "--json"])
    return [row["doc_id"] for row in map(json.loads, capsys.readouterr().out.splitlines()) if "doc_id" in row]


REFS = [lambda i: "", lambda i: " ", lambda i: "%", lambda i: "_" * len(i), lambda i: "%" + i[5:],
        lambda i: i[:4] + "%", lambda i: i[:4] + "\\", lambda i: "%ump"]


@pytest.mark.parametrize("ref", REFS)
def test_delete_acts_only_on_a_document_named_unambiguously(one_doc, capsys, ref):
    lib, doc_id = one_doc
    assert main(["delete", ref(doc_id), "--library", str(lib)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert doc_ids(capsys, lib) == [doc_id]


def test_a_unique_id_prefix_still_deletes_its_document(one_doc, capsys):
    lib, doc_id = one_doc
    assert main(["delete", doc_id[:8], "--library", str(lib)]) == 0
    assert capsys.readouterr().out.startswith("deleted pump")
    assert doc_ids(capsys, lib) == []


def test_search_doc_filter_is_literal(one_doc, capsys):
    lib, doc_id = one_doc
    assert main(["search", "warranty", "--doc", "%" + doc_id[5:], "--library", str(lib)]) == 2
    assert "no document '%" in capsys.readouterr().err
    assert main(["search", "warranty", "--doc", "pump", "--library", str(lib), "--json"]) == 0
    assert {json.loads(r)["doc"] for r in capsys.readouterr().out.splitlines()} == {"pump"}


def test_escape_sequences_and_newlines_never_reach_the_terminal(tmp_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / f"evil{ESC}\nname.md").write_text(f"# Title {ESC}\n\nThe pump {ESC} warranty lasts two years.")
    (docs / "binary.txt").write_bytes(b"\x00\x01\x02")
    lib = str(tmp_path / "lib")
    code, out, err = ingest(capsys, str(docs), "--library", lib)
    assert code == 1 and "binary file, not text" in err
    for command in (["docs"], ["search", "pump warranty"]):
        main([*command, "--library", lib])
        more = capsys.readouterr()
        out, err = out + more.out, err + more.err
    assert "\x1b" not in out + err and "\x07" not in out + err
    assert "evil\\x1b]0;owned\\x07\\x1b[2J\\nname.md: 1 pages" in out  # the name on one line, escaped
    assert "1. Title, page 1" in out and "# Title The pump warranty" in out  # sequences removed whole at ingest


def test_an_answer_streamed_from_the_model_is_shown_escaped(built, capsys, monkeypatch):
    _, lib, _ = built
    with FakeLLM() as server:
        monkeypatch.setenv("GROUNDWORK_LLM_URL", server.url)
        server.queue(f"{ESC}The warranty of the pump lasts two years [1].")
        main(["ask", "How long does the pump warranty last?", "--library", str(lib), "--mode", "generative"])
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\\x1b]0;owned\\x07\\x1b[2J" in out


def test_a_link_out_of_the_folder_is_followed_and_said(tmp_path, capsys):
    outside = tmp_path / "outside.txt"
    outside.write_text("A note kept outside the folder.")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "link.txt").symlink_to(outside)
    lib = str(tmp_path / "lib")
    assert "link.txt: 1 pages, 1 chunks (followed link to " + str(outside) + ")" in ingest(
        capsys, str(docs), "--library", lib)[1]
    row = json.loads(ingest(capsys, str(docs), "--library", lib, "--json")[1])
    assert row["followed_link"] == str(outside) and row["status"] == "unchanged"


def test_a_file_name_with_a_newline_is_one_path(tmp_path, capsys):
    odd = tmp_path / "new\nline.txt"
    odd.write_text("Some text about valves.")
    lib = str(tmp_path / "lib")
    assert ingest(capsys, str(odd), "--library", lib)[0] == 0
    assert main(["docs", "--json", "--library", lib]) == 0
    [row] = map(json.loads, capsys.readouterr().out.splitlines())
    assert row["paths"] == [str(odd)]


def test_limits_and_folder_mode_come_from_the_environment(tmp_path, capsys, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "long.txt").write_text("word " * 400)
    (docs / "short.txt").write_text("A short note.")
    monkeypatch.setenv("GROUNDWORK_MAX_CHARS", "1000")
    code, out, err = ingest(capsys, str(docs), "--library", str(tmp_path / "lib"))
    assert code == 1 and "added      " + str(docs / "short.txt") in out
    assert f"failed     {docs / 'long.txt'}: too much text (over 1,000 characters" in err
    assert (tmp_path / "lib").stat().st_mode & 0o077 == 0  # the owner's only
    monkeypatch.setenv("GROUNDWORK_LIBRARY_MODE", "750")
    monkeypatch.setenv("GROUNDWORK_MAX_PAGES", "0")
    code, _, err = ingest(capsys, str(docs), "--library", str(tmp_path / "shared"))
    assert code == 1 and "the limit is max_pages = 0" in err
    assert (tmp_path / "shared").stat().st_mode & 0o777 == 0o750 & ~_umask()
    for bad in ("rw-r", "999"):  # 999 is a number, but no folder mode: the error says what one looks like
        monkeypatch.setenv("GROUNDWORK_LIBRARY_MODE", bad)
        assert main(["docs", "--library", str(tmp_path / "lib")]) == 2
        assert f"setting library_mode in environment must be a folder mode in octal digits 0-7, at most 777, " \
               f"such as 700 or 750, not '{bad}'" in capsys.readouterr().err


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_question_typed_oddly_is_read_as_meant_and_bytes_that_are_not_utf8_never_crash(built, capsys, monkeypatch):
    _, lib, _ = built
    answers = []
    for question in ("How long does the pump warranty last?", "How long does the pump war\u200branty last?",
                     "How long does the ｐｕｍｐ warranty last?", "How long does the pump warranty last? caf\udce9"):
        assert main(["ask", question, "--library", str(lib), "--json"]) == 0
        answers.append(json.loads(capsys.readouterr().out)["answer"])
    assert len(set(answers)) == 1 and "two years" in answers[0]  # zero-width, full-width, a Latin-1 byte
    # pasted from a PDF viewer: "\ufb01tting" is the "fitting" the library holds, for search as for ask
    assert main(["search", "\ufb01tting", "--mode", "lexical", "--json", "--library", str(lib)]) == 0
    assert "lm(y ~ x)" in json.loads(capsys.readouterr().out.splitlines()[0])["text"]
    code = main(["ask", "warranty", "--doc", "caf\udce9", "--library", str(lib)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: '\\udce9' in 'caf\\udce9' is not UTF-8 text") and "Traceback" not in err
    # piped into chat: a line that is not UTF-8 and a blank line go by, the chat goes on
    piped = io.TextIOWrapper(io.BytesIO(b"caf\xe9 pump?\n\nHow long does the pump warranty last?\n"), encoding="utf-8")
    monkeypatch.setattr("sys.stdin", piped)
    assert main(["chat", "--library", str(lib)]) == 0
    assert "two years" in capsys.readouterr().out
