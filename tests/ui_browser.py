"""For the browser test: start `groundwork ui` as a process, and find headless Chromium."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "ui"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage"]


def chromium() -> str:
    """The Chromium binary; the test fails (never skips) without one, naming the install command."""
    for candidate in (os.environ.get("GROUNDWORK_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        found = candidate and shutil.which(candidate)
        if found:
            return found
    pytest.fail("no Chromium for the browser test; install it with: apt-get install -y chromium "
                "(or point GROUNDWORK_CHROMIUM at a Chrome or Chromium binary)", pytrace=False)


def _as_from_a_terminal() -> None:
    """Ctrl-C and hang-up reach the UI as they do from a terminal, however the tests were launched.

    `nohup` and a script's `cmd &` start the test run with SIGHUP or SIGINT ignored; the UI keeps
    an ignored signal ignored (so that `nohup groundwork ui &` outlives its terminal), and would
    then not stop on the signal these tests send.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


class UI:
    """`groundwork ui` on a free loopback port, until stop()."""

    def __init__(self, library: Path, port: int, env: dict[str, str]):
        self.port, self.url = port, f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen([sys.executable, "-m", "app.cli", "ui", "--port", str(port), "--library", str(library)],
                                        cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, preexec_fn=_as_from_a_terminal)
        self.started, self.lines = time.monotonic(), []
        # Drain the output all along: a full pipe would block the server.
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    def ready_after(self, timeout_s: float = 90.0) -> float:
        """Seconds from launch until the command printed its URL (once Streamlit answers)."""
        while time.monotonic() - self.started < timeout_s:
            if any(self.url in line for line in self.lines):
                return time.monotonic() - self.started
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        pytest.fail(f"`groundwork ui` did not start: {''.join(self.lines)}", pytrace=False)

    def stop(self) -> int:
        """Ctrl-C, as a user would; returns the exit code."""
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()


def port_answers(port: int) -> bool:
    """Whether anything still serves HTTP on the port."""
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
        return True
    except OSError:
        return False
