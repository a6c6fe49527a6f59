"""The command line as users run it: JSON shapes, exit codes, one-line errors."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main

ROOT = Path(__file__).resolve().parents[1]


def lines(out: str) -> list[dict]:
    return [json.loads(x) for x in out.splitlines() if x.strip()]


def test_ingest_json_lines(built, capsys):
    docs, lib, code = built
    assert code == 0
    code = main(["ingest", str(docs), "--library", str(lib), "--json"])
    rows = lines(capsys.readouterr().out)
    assert code == 0 and len(rows) == 3
    for row in rows:
        assert set(row) == {"path", "status", "pages", "chunks", "error"}
        assert row["status"] == "unchanged" and row["error"] is None and row["chunks"] >= 1
    assert {Path(r["path"]).name: r["pages"] for r in rows} == {"stats.pdf": 2, "care.pdf": 1, "faq.md": 1}


def test_search_json_best_first_with_one_based_pages(built, capsys):
    _, lib, _ = built
    assert main(["search", "how do I draw a scatter plot", "--library", str(lib), "-k", "3", "--json"]) == 0
    rows = lines(capsys.readouterr().out)
    assert rows and set(rows[0]) == {"doc", "doc_id", "page", "chunk_id", "score", "text"}
    assert (rows[0]["doc"], rows[0]["page"]) == ("Stats guide", 2)
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_search_asked_for_more_passages_than_the_library_holds_gives_them_all(built, capsys, mode):
    _, lib, _ = built
    assert main(["search", "plot", "--library", str(lib), "-k", str(10 ** 20), "--mode", mode, "--json"]) == 0
    rows = lines(capsys.readouterr().out)
    assert rows and len({r["chunk_id"] for r in rows}) == len(rows)


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_search_modes_and_filters(built, capsys, mode):
    _, lib, _ = built
    main(["search", "watering tomato plants", "--library", str(lib), "--mode", mode, "--json"])
    assert lines(capsys.readouterr().out)[0]["doc"] == "Garden"
    main(["search", "watering tomato plants plot", "--library", str(lib), "--mode", mode, "--doc", "Stats guide", "--json"])
    assert {r["doc"] for r in lines(capsys.readouterr().out)} == {"Stats guide"}
    main(["search", "tomato", "--library", str(lib), "--mode", mode, "--tag", "manuals", "--json"])
    assert lines(capsys.readouterr().out)


def test_docs_and_delete(built, capsys, tmp_path):
    docs, lib, _ = built
    copy = tmp_path / "lib"
    main(["ingest", str(docs / "faq.md"), str(docs / "care.pdf"), "--library", str(copy)])
    capsys.readouterr()
    assert main(["docs", "--library", str(copy), "--json"]) == 0
    rows = lines(capsys.readouterr().out)
    assert {r["title"] for r in rows} == {"FAQ", "Garden"}
    assert main(["delete", "Garden", "--library", str(copy)]) == 0
    assert "deleted Garden" in capsys.readouterr().out
    main(["search", "tomato", "--library", str(copy), "--json"])
    assert all(r["doc"] != "Garden" for r in lines(capsys.readouterr().out))


def test_a_reader_that_goes_away_ends_the_command_quietly(built):
    # `groundwork docs | head -0`: the pipe is closed before the first line is written.
    _, lib, _ = built
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "docs", "--library", str(lib)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and "Traceback" not in err and "BrokenPipe" not in err


def test_failed_file_gives_exit_1_after_ingesting_the_rest(tmp_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7 this is not really a pdf")
    (docs / "ok.txt").write_text("A perfectly fine note.")
    assert main(["ingest", str(docs), "--library", str(tmp_path / "lib"), "--json"]) == 1
    rows = {Path(r["path"]).name: r for r in lines(capsys.readouterr().out)}
    assert rows["ok.txt"]["status"] == "added"
    assert rows["broken.pdf"]["status"] == "failed" and rows["broken.pdf"]["error"]


def test_user_errors_are_one_line_without_traceback(tmp_path):
    env = {**os.environ, "GROUNDWORK_LIBRARY": str(tmp_path / "none")}
    for args in (["search", "anything"], ["docs"], ["delete", "x"]):
        proc = subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2
        assert proc.stderr.startswith("error: no library at") and "groundwork ingest" in proc.stderr
        assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1


def test_pdf_text_setting_is_checked_before_any_work(tmp_path):
    env = {**os.environ, "GROUNDWORK_PDF_TEXT": "mupdf"}
    proc = subprocess.run([sys.executable, "-m", "app.cli", "ingest", str(ROOT / "samples" / "R-data.pdf"),
                           "--library", str(tmp_path / "lib")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr == "error: setting pdf_text in environment must be one of pypdf, pdfium, not 'mupdf'\n"
    assert not (tmp_path / "lib").exists()


def test_empty_query_is_refused(built, capsys):
    _, lib, _ = built
    assert main(["search", "  ", "--library", str(lib)]) == 2
    assert "query is empty" in capsys.readouterr().err


def test_a_config_file_named_but_missing_is_an_error_not_the_defaults(tmp_path, capsys, monkeypatch):
    assert main(["--config", str(tmp_path / "mistyped.toml"), "docs", "--library", str(tmp_path / "lib")]) == 2
    err = capsys.readouterr().err
    assert "no config file" in err and "mistyped.toml" in err and err.count("\n") == 1
    monkeypatch.setenv("GROUNDWORK_CONFIG", str(tmp_path / "gone.toml"))
    assert main(["docs", "--library", str(tmp_path / "lib")]) == 2
    assert "GROUNDWORK_CONFIG" in capsys.readouterr().err
