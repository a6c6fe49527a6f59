"""The UI's pure parts: highlighting, upload checks, the marked page image, and the `ui` command's wiring."""
import argparse
import io
import os
import re
import signal
import socket
import string
import subprocess
import sys
import threading
import time

import pytest
from PIL import Image
from pdfs import write_pdf
from ui_browser import port_answers
from ui_helpers import shown

from app.config import Config, UserError
from app.processes import free_port
from app.serve import Server
from app.ui.highlight import marked_html, sentence_html, support_spans
from app.ui.page_image import render_page
from app.ui.plain import plain
from app.ui.uploads import check_upload, safe_name, save_uploads
from app.ui_cli import _command, _start_model_server, cmd_ui, register


def test_a_verbatim_quote_is_marked_whole_across_line_breaks():
    passage = "Plotting\nUse plot(x, y) to draw\na scatter plot. Other text."
    spans = support_spans(passage, ["Use plot(x, y) to draw a scatter plot."])
    assert [passage[a:b] for a, b in spans] == ["Use plot(x, y) to draw\na scatter plot"]


def test_a_paraphrase_marks_the_shared_content_words_only():
    spans = support_spans("The warranty of the pump lasts two years.", ["How long is the pump warranty?"])
    assert [("The warranty of the pump lasts two years.")[a:b] for a, b in spans] == ["warranty", "pump"]


def test_document_and_model_text_is_escaped():
    assert marked_html("<script>x</script> & y", [(0, 8)]) == "<mark>&lt;script&gt;</mark>x&lt;/script&gt; &amp; y"
    rejected = sentence_html('It is "safe" <b>', (2,), False, 0.12, "a")
    assert "&lt;b&gt;" in rejected and 'title="The passage it cites ([2]) do not support it (support score 0.12)' in rejected
    assert sentence_html("Fine.", (1, 3), True, 0.9, "t") == 'Fine. <a class="gw-cite" href="#t-1">[1]</a>' \
                                                           '<a class="gw-cite" href="#t-3">[3]</a>'


HOSTILE = ("Evil ![x](http://evil.example/x.png) [link](https://evil.example) <img src=x onerror=alert(1)> "
           ":red[red] :material/home: :smile: $x^2$ $$y$$ **bold** ~~s~~ `code` # h\n- item me@evil.example "
           "www.evil.example")


def test_text_for_markdown_slots_is_escaped_and_shows_as_written():
    escaped = plain(HOSTILE)
    assert shown(escaped) == " ".join(HOSTILE.split())  # one line, every character kept
    assert not set(re.sub(r"\\.", "", escaped)) & set(string.punctuation)  # every mark comes escaped
    unescaped = re.sub(r"\\(.)", r"\1", escaped)  # what plugins see after Markdown parsing: joiners still in
    for pattern in (r"https?://", r"www\.", r"\w@\w", r":material/", r":smile:", r":red\["):
        assert not re.search(pattern, unescaped), pattern
    assert plain(3) == "3" and plain("Plain words") == "Plain words"


@pytest.mark.parametrize("name, safe", [("../../etc/passwd.txt", "passwd.txt"), ("C:\\Users\\me\\r é.PDF", "r_é.pdf"),
                                         ("..", "document"), (".hidden.md", "hidden.md"), ("a/b/c", "c")])
def test_safe_names_never_leave_the_folder(name, safe):
    assert safe_name(name) == safe


@pytest.mark.parametrize("name", ["日本語の取扱説明書" * 40 + ".txt", "é" * 300 + ".PDF", "a" * 400 + ".md", "x." + "é" * 300])
def test_long_names_are_cut_to_whole_characters_within_the_byte_limit(name):
    safe = safe_name(name)
    assert len(safe.encode()) <= 200 and len(f".{safe}.part".encode()) <= 255
    assert safe.rpartition(".")[2] == name.rpartition(".")[2].lower()[:16]
    assert name.lower().startswith(safe.rpartition(".")[0][:20])


def test_a_file_that_cannot_be_saved_is_refused_alone(tmp_path):
    import hashlib
    blocked = hashlib.sha256(b"blocked").hexdigest()[:16]
    (tmp_path / "uploads").mkdir()
    (tmp_path / "uploads" / blocked).write_text("a file where the upload's folder would go")
    saved = save_uploads([("a.txt", b"first"), ("日" * 200 + ".txt", b"long name"), ("b.txt", b"blocked"),
                          ("c.txt", b"last")], tmp_path, lambda sha: None, 1)
    assert [u.path is not None for u in saved] == [True, True, False, True]
    assert saved[1].path.read_bytes() == b"long name" and saved[2].problem.startswith("cannot save the file: ")


def test_uploads_are_checked_for_type_emptiness_and_size():
    assert "not supported" in check_upload("x.exe", b"MZ", 10)
    assert check_upload("empty.txt", b"", 10) == "the file is empty"
    assert check_upload("big.txt", b"x" * 3 * 2**20, 2) == "the file is 3.0 MB; the limit is 2 MB"
    assert check_upload("ok.MD", b"# hi", 10) == ""


def test_save_uploads_stores_once_per_content_inside_the_root(tmp_path):
    saved = save_uploads([("../a.txt", b"same"), ("b.txt", b"same"), ("c.txt", b"known")], tmp_path,
                         lambda sha: None, 1)
    assert saved[0].path.parent.parent == tmp_path / "uploads" and saved[0].path.read_bytes() == b"same"
    assert saved[1].path is None and saved[1].duplicate_of == "../a.txt"
    known = save_uploads([("d.txt", b"known")], tmp_path, lambda sha: "Stored doc", 1)
    assert known[0].duplicate_of == "Stored doc" and known[0].path is None


def test_the_page_image_marks_the_passage_where_it_stands(tmp_path):
    pdf = write_pdf(tmp_path / "p.pdf", ["Heading\n" + "\n" * 20 + "Water the tomato plants every morning."])
    marked = Image.open(io.BytesIO(render_page(pdf, 1, "Water the tomato plants every morning.", width_px=600)))
    plain = Image.open(io.BytesIO(render_page(pdf, 1, "words that are not on the page", width_px=600)))
    yellow = [(x, y) for x in range(0, 600, 3) for y in range(0, marked.height, 3)
              if _is_yellow(marked.getpixel((x, y)))]
    assert yellow and not any(_is_yellow(plain.getpixel((x, y))) for x, y in yellow)
    line_y = marked.height * (842 - (800 - 14 * 21)) / 842  # the line's baseline as write_pdf put it, from the top
    assert min(y for _, y in yellow) < line_y < max(y for _, y in yellow) + 10
    with pytest.raises(ValueError, match="has 1 pages"):
        render_page(pdf, 2, "x")


def _is_yellow(rgb) -> bool:
    r, g, b = rgb[:3]
    return r > 200 and g > 180 and b < 170


def test_ui_command_serves_streamlit_on_loopback_only():
    sub = argparse.ArgumentParser().add_subparsers()
    args = register(sub).parse_args(["--port", "8600", "--library", "lib"])
    assert (args.port, args.library, args.run) == (8600, "lib", cmd_ui)
    argv = _command(8600, Config(max_file_mb=12.5))
    assert argv[argv.index("--server.address") + 1] == "127.0.0.1"
    assert argv[argv.index("--server.maxUploadSize") + 1] == "13"
    assert argv[argv.index("run") + 1].endswith("app/ui/main.py")
    hosts = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--server.allowedHosts"]
    assert hosts == ["127.0.0.1", "localhost"]  # any other Host (DNS rebinding) is refused
    proxied = _command(8600, Config(ui_hosts="docs.example.org, localhost"))
    assert [proxied[i + 1] for i, arg in enumerate(proxied) if arg == "--server.allowedHosts"] == \
        ["127.0.0.1", "localhost", "docs.example.org"]


def test_ui_refuses_a_port_in_use():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        args = argparse.Namespace(port=busy.getsockname()[1], config=None, library=None)
        with pytest.raises(UserError, match="in use"):
            cmd_ui(args, Config())


def test_ui_starts_a_model_server_when_none_is_configured_or_answering(monkeypatch, capsys):
    from llm_server import FakeLLM

    from app.serve import ServeError
    launched = []

    class Launched:  # stands in for a starting vLLM; the UI must not wait for it
        url, log_path = "http://127.0.0.1:1/v1", "log"

    monkeypatch.setattr("app.wiring.launch_model_server", lambda config, guard=None: launched.append(config.serve_port) or Launched())
    monkeypatch.setattr("app.serve.wait_ready", lambda server, progress: progress("vLLM: ready (1 s)"))
    idle = free_port()
    assert _start_model_server(Config(answer_mode="generative", llm_url="http://127.0.0.1:9/v1")) is None
    assert launched == []  # a configured server is the user's to run
    with FakeLLM() as llm:
        running = int(llm.url.rsplit(":", 1)[1].split("/")[0])
        assert _start_model_server(Config(answer_mode="guided", serve_port=running)) is None
    assert launched == []  # one answers already
    assert isinstance(_start_model_server(Config(answer_mode="extractive", serve_port=idle)), Launched)
    assert launched == [idle]  # the Ask page can switch to a model's mode at any time

    def no_vllm(config, guard=None):
        raise ServeError("vLLM is not installed; install with: pip install -e '.[serve]'")
    monkeypatch.setattr("app.wiring.launch_model_server", no_vllm)
    assert _start_model_server(Config(serve_port=idle)) is None  # the UI still starts
    assert "no model server: vLLM is not installed" in capsys.readouterr().err


# Stands in for Streamlit: answers every GET with 200, and exits quietly on SIGINT.
FAKE_STREAMLIT = ("import http.server, sys\n"
                  "class Ok(http.server.BaseHTTPRequestHandler):\n"
                  "    def do_GET(self): self.send_response(200); self.end_headers()\n"
                  "    def log_message(self, *args): pass\n"
                  "try: http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), Ok).serve_forever()\n"
                  "except KeyboardInterrupt: pass\n")
QUIET_SLEEP = "import time\ntry: time.sleep(600)\nexcept KeyboardInterrupt: pass\n"  # a vLLM still starting


def test_stopping_the_ui_stops_its_model_server_without_calling_it_a_failure(tmp_path, monkeypatch, capfd):
    log = tmp_path / "vllm.log"
    log.touch()
    starting = subprocess.Popen([sys.executable, "-c", QUIET_SLEEP], start_new_session=True)
    server = Server(url=f"http://127.0.0.1:{free_port()}/v1", model="m", process=starting, log_path=log)
    monkeypatch.setattr("app.wiring.launch_model_server", lambda config, guard=None: server)
    monkeypatch.setattr("app.ui_cli._command", lambda port, config: [sys.executable, "-c", FAKE_STREAMLIT, str(port)])
    port = free_port()

    def terminate_once_up():
        while not port_answers(port):
            time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGTERM)

    threads = set(threading.enumerate())
    threading.Thread(target=terminate_once_up, daemon=True).start()
    args = argparse.Namespace(port=port, config=None, library=None)
    assert cmd_ui(args, Config(library=str(tmp_path / "lib"), serve_port=free_port())) == 0
    assert starting.poll() is not None
    for reporter in set(threading.enumerate()) - threads:  # it notices the exit within a second
        reporter.join(timeout=10)
    err = capfd.readouterr().err
    assert "starting a model server for the UI" in err and "stopping the UI" in err
    assert "no model server" not in err, err  # the UI stopped it: that is no failure to report
