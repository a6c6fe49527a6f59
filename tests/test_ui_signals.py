"""`groundwork ui` stops on Ctrl-C, SIGTERM and SIGHUP within seconds, taking Streamlit and a model
server it started with it; Streamlit refuses a websocket whose Host is not loopback (DNS rebinding)."""
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import psutil
import pytest
from ui_browser import UI, port_answers

from app.config import Config
from app.processes import free_port, group_gone
from app.serve import Server

pytestmark = pytest.mark.integration  # each case starts a real Streamlit (~5-15 s on 2 busy cores)

STOP_WITHIN_S = 10.0  # SIGINT and SIGTERM get 2 s each, then SIGKILL


def _handshake(port: int, host: str) -> str:
    """The status line Streamlit answers a websocket upgrade with, for this Host header."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall((f"GET /_stcore/stream HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: streamlit\r\n\r\n").encode())
        return sock.recv(200).split(b"\r\n")[0].decode()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name)
def test_a_signal_stops_the_ui_and_streamlit_within_seconds(tmp_path, sig):
    ui = UI(tmp_path / "lib", free_port(), {"GROUNDWORK_LLM_URL": "http://127.0.0.1:9/v1"})
    ui.ready_after()
    children = psutil.Process(ui.process.pid).children(recursive=True)
    assert children  # Streamlit, in a session of its own
    if sig == signal.SIGTERM:  # DNS rebinding: only the loopback names reach the app
        assert "403" in _handshake(ui.port, f"evil.example:{ui.port}")
        assert "101" in _handshake(ui.port, f"127.0.0.1:{ui.port}")
    start = time.monotonic()
    ui.process.send_signal(sig)
    code = ui.process.wait(timeout=30)
    stopped_s = time.monotonic() - start
    assert code == 0 and stopped_s < STOP_WITHIN_S, (code, stopped_s, "".join(ui.lines))
    assert not port_answers(ui.port)
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]


def test_a_ui_killed_outright_leaves_no_streamlit_behind(tmp_path):
    # kill -9 (or the OOM killer) runs none of the UI's clean-up; its watchdog stops Streamlit's group.
    ui = UI(tmp_path / "lib", free_port(), {"GROUNDWORK_LLM_URL": "http://127.0.0.1:9/v1"})
    ui.ready_after()
    children = psutil.Process(ui.process.pid).children(recursive=True)
    assert children
    ui.process.kill()
    ui.process.wait(timeout=30)
    deadline = time.monotonic() + 30  # Streamlit gets SIGINT, then SIGTERM, 2 s each
    while port_answers(ui.port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not port_answers(ui.port)
    alive = lambda: [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]  # noqa: E731
    while alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive()  # Streamlit, and the watchdog, which ends once it has stopped it


def test_sigterm_also_stops_the_model_server_the_ui_started(tmp_path, monkeypatch):
    # A stand-in model server that ignores SIGINT and SIGTERM and has a child: only the whole
    # group's SIGKILL ends it, as with a vLLM engine stuck in a computation.
    stubborn = ("import signal, subprocess, sys, time\n"
                "for s in (signal.SIGINT, signal.SIGTERM): signal.signal(s, signal.SIG_IGN)\n"
                "subprocess.Popen([sys.executable, '-c', 'import signal, time; "
                "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)'])\n"
                "time.sleep(600)\n")
    model = subprocess.Popen([sys.executable, "-c", stubborn], start_new_session=True)
    server = Server(url="http://127.0.0.1:9/v1", model="m", process=model, log_path=tmp_path / "log")
    monkeypatch.setattr("app.ui_cli._start_model_server", lambda config, guard: server)
    from app.ui_cli import cmd_ui
    port = free_port()

    def terminate_once_up():
        while not port_answers(port):
            time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=terminate_once_up, daemon=True).start()
    args = type("Args", (), {"port": port, "config": None})()
    start = time.monotonic()
    assert cmd_ui(args, Config(library=str(tmp_path / "lib"))) == 0
    assert time.monotonic() - start < 120  # Streamlit's start included
    assert group_gone(model.pid, 0.0) and model.returncode is not None
    assert not port_answers(port)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
