"""`groundwork ui`: Streamlit on 127.0.0.1 over a library, with a model server started when none runs."""
from __future__ import annotations

import argparse
import math
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from app.config import Config, UserError

ENTRY = Path(__file__).with_name("ui") / "main.py"
READY_TIMEOUT_S = 60.0


def register(sub) -> argparse.ArgumentParser:
    """Add the `ui` command to the `groundwork` subparsers."""
    help = "open the web UI (Ask, Library, Feedback) on 127.0.0.1"
    p = sub.add_parser("ui", help=help, description=help)
    p.add_argument("--library", help="library folder (default: $GROUNDWORK_LIBRARY, else ./library)")
    p.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    p.set_defaults(run=cmd_ui)
    return p


def cmd_ui(args, config: Config) -> int:
    """groundwork ui : start Streamlit, print its URL, and stop it cleanly on Ctrl-C."""
    from app.serve import stop_group
    if not _port_free(args.port):
        raise UserError(f"port {args.port} on 127.0.0.1 is in use; choose another with: groundwork ui --port PORT")
    _ensure_model_server(args, config)
    process = subprocess.Popen(_command(args.port, config), env=_environment(args, config),
                               stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        url = _wait_ready(process, args.port)
        print(f"Groundwork UI: {url}  (library {Path(config.library).resolve()}; Ctrl-C stops it)", flush=True)
        process.wait()
        raise UserError(f"Streamlit exited on its own (code {process.returncode}); its messages are above")
    except KeyboardInterrupt:
        print("stopping the UI ...", file=sys.stderr)
    finally:
        stop_group(process.pid, grace_s=10.0, reap=process.wait)
    return 0


def _command(port: int, config: Config) -> list[str]:
    """Streamlit's argv: loopback only, no browser, no telemetry, no file watching, our upload limit."""
    return [sys.executable, "-m", "streamlit", "run", str(ENTRY),
            "--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless", "true",
            "--server.fileWatcherType", "none", "--server.runOnSave", "false",
            "--server.maxUploadSize", str(max(1, math.ceil(config.max_file_mb))),
            "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal",
            "--theme.base", "light", "--theme.primaryColor", "#2f5fd0"]


def _environment(args, config: Config) -> dict[str, str]:
    """The child reads configuration like the CLI does; the library and config file are made absolute."""
    env = dict(os.environ, GROUNDWORK_LIBRARY=str(Path(config.library).expanduser().resolve()))
    if getattr(args, "config", None):
        env["GROUNDWORK_CONFIG"] = str(Path(args.config).resolve())
    env.setdefault("HF_HUB_OFFLINE", "1")  # models come from packages; a hub lookup only costs timeouts
    return env


def _ensure_model_server(args, config: Config) -> None:
    """Start `groundwork serve --detach` when no model server is configured or answering.

    Any mode: the Ask page lets a user switch to guided or generative at any time. Without
    vLLM installed the UI still starts, answering extractively, and says why in one line.
    """
    from app.models import ModelError
    from app.serve import ServeError
    from qa.llm import LLMClient, LLMError
    if config.llm_url:
        return  # a configured URL is the user's server to run
    try:
        LLMClient(config.server_url, timeout=3.0, retries=0).model
        return
    except LLMError:
        pass
    from app.cli import cmd_serve
    try:
        cmd_serve(argparse.Namespace(port=None, detach=True, stop=False), config)
    except (ServeError, ModelError) as exc:
        print(f"no model server: {exc}; the UI answers in extractive mode until one runs", file=sys.stderr)


def _wait_ready(process: subprocess.Popen, port: int) -> str:
    """Poll Streamlit's health endpoint until it answers; UserError if it exits or stays silent."""
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise UserError(f"Streamlit exited with code {process.returncode} before it was ready; "
                            "its messages are above (is streamlit installed? reinstall with: pip install -e .)")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return url
        except OSError:
            time.sleep(0.3)
    raise UserError(f"Streamlit did not answer at {url} within {READY_TIMEOUT_S:.0f} s")


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
