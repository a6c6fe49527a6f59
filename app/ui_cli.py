"""`groundwork ui`: Streamlit on 127.0.0.1 over a library, with a model server started when none runs."""
from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from app import wiring
from app.config import Config, UserError
from app.processes import Guard, orphan_guard, port_free, signals_ignored, signals_interrupt, stop_group

ENTRY = Path(__file__).with_name("ui") / "main.py"
READY_TIMEOUT_S = 60.0
# Seconds each of SIGINT and SIGTERM gets before the next step (then SIGKILL): a busy 2-core
# machine once kept Streamlit past a 30 s wait on SIGINT alone.
STOP_GRACE_S = 2.0
# Host names the UI answers to; any other Host header (DNS rebinding) is refused.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


def register(sub) -> argparse.ArgumentParser:
    """Add the `ui` command to the `groundwork` subparsers."""
    help = "open the web UI (Ask, Library, Feedback) on 127.0.0.1"
    p = sub.add_parser("ui", help=help, description=help)
    p.add_argument("--library", help="library folder (default: $GROUNDWORK_LIBRARY, else ./library)")
    p.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    p.set_defaults(run=cmd_ui)
    return p


def cmd_ui(args, config: Config) -> int:
    """groundwork ui : start Streamlit, print its URL, and stop it (and a model server it started) on a signal.

    Ctrl-C, SIGTERM and SIGHUP all stop both within seconds: Streamlit keeps nothing that a
    kill could lose (the library commits each write in one transaction).
    """
    note = check_sign_in(config)
    if note:
        print(f"note: {note}", file=sys.stderr)
    if not port_free("127.0.0.1", args.port):
        raise UserError(f"port {args.port} on 127.0.0.1 is in use; choose another with: groundwork ui --port PORT")
    children = []
    with signals_interrupt(), orphan_guard() as guard:  # a kill -9 of the UI stops its servers too
        try:
            model_server = _start_model_server(config, guard)
            children += [model_server] if model_server else []
            process = subprocess.Popen(_command(args.port, config), env=_environment(args, config),
                                       stdin=subprocess.DEVNULL, start_new_session=True)
            children.insert(0, process)  # first: a Ctrl-C from here on stops it
            guard.watch(process.pid)
            url = _wait_ready(process, args.port)
            print(f"Groundwork UI: {url}  (library {Path(config.library).resolve()}; Ctrl-C stops it)", flush=True)
            process.wait()
            raise UserError(f"Streamlit exited on its own (code {process.returncode}); its messages are above")
        except KeyboardInterrupt:
            print("stopping the UI ...", file=sys.stderr)
        finally:
            with signals_ignored():
                _stop(children)
    return 0


def check_sign_in(config: Config) -> str:
    """UserError for a proxy header no proxy may send; a note when no configured proxy can reach the UI."""
    if not config.auth_header:
        return ""
    if not config.auth_proxies:
        raise UserError(f"auth_header is {config.auth_header} but auth_proxies is empty, so no proxy's header would "
                        "be believed; set auth_proxies = \"127.0.0.1\" (the UI listens there, so the proxy runs on "
                        "this machine)")
    from app.ui.login import proxy_user
    if proxy_user(config.auth_header, config.auth_proxies, None, ["probe"]) is None:
        return (f"the UI listens on 127.0.0.1 only, and auth_proxies ({config.auth_proxies}) holds no loopback "
                f"address: no request will carry a believed {config.auth_header}, so everyone signs in with a password")
    return ""


def _stop(children: list) -> None:
    """Stop Streamlit, then the model server this command started, each as a whole process group."""
    for child in children:
        if isinstance(child, subprocess.Popen):
            stop_group(child.pid, grace_s=STOP_GRACE_S, reap=child.wait)
        else:
            child.stop(grace_s=STOP_GRACE_S)


def _command(port: int, config: Config) -> list[str]:
    """Streamlit's argv: loopback only, no browser, no telemetry, no file watching, our upload limit."""
    return [sys.executable, "-m", "streamlit", "run", str(ENTRY),
            "--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless", "true",
            "--server.fileWatcherType", "none", "--server.runOnSave", "false",
            "--server.maxUploadSize", str(max(1, math.ceil(config.max_file_mb))),
            *[arg for host in allowed_hosts(config) for arg in ("--server.allowedHosts", host)],
            "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal",
            "--theme.base", "light", "--theme.primaryColor", "#2f5fd0"]


def allowed_hosts(config: Config) -> list[str]:
    """The Host names Streamlit accepts a websocket for: loopback, and those the user configured."""
    return list(dict.fromkeys([*LOOPBACK_HOSTS, *(h.strip() for h in config.ui_hosts.split(",") if h.strip())]))


def _environment(args, config: Config) -> dict[str, str]:
    """The child reads configuration like the CLI does; the library and config file are made absolute."""
    env = dict(os.environ, GROUNDWORK_LIBRARY=str(Path(config.library).expanduser().resolve()))
    if getattr(args, "config", None):
        env["GROUNDWORK_CONFIG"] = str(Path(args.config).resolve())
    env.setdefault("HF_HUB_OFFLINE", "1")  # models come from packages; a hub lookup only costs timeouts
    return env


def _start_model_server(config: Config, guard: Guard | None = None):
    """Launch vLLM when no model server is configured or answering, without waiting for it.

    Any mode: the Ask page lets a user switch to guided or generative at any time, and answers
    extractively until the server is ready (a first start on a small CPU takes minutes). Without
    vLLM installed the UI still starts, and says why in one line. Returns the Server, or None.
    """
    from app.models import ModelError
    from app.serve import ServeError, wait_ready
    from qa.llm import LLMClient, LLMError
    if config.llm_url:
        return None  # a configured URL is the user's server to run
    try:
        LLMClient(config.server_url, timeout=3.0, retries=0).model
        return None
    except LLMError:
        pass
    try:
        server = wiring.launch_model_server(config, guard)
    except (ServeError, ModelError) as exc:
        print(f"no model server: {exc}; the UI answers in extractive mode until one runs", file=sys.stderr)
        return None
    say = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    say(f"starting a model server for the UI at {server.url} (log {server.log_path}); "
        "until it is ready, answers are extractive")
    threading.Thread(target=_report_ready, args=(server, wait_ready, say), daemon=True).start()
    return server


def _report_ready(server, wait_ready, say) -> None:
    """In the background: say when the model server answers, or why it will not."""
    from app.serve import ServeError
    try:
        wait_ready(server, progress=say)
    except ServeError as exc:
        if not server.stopping:  # the UI stopping it on Ctrl-C or SIGTERM is no failure to report
            say(f"no model server: {exc}")


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
