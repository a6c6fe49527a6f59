"""Starting vLLM on any CPU: the dtype follows the CPU, the wait follows vLLM's progress, logs stay private."""
import math
import os
import stat
import sys
import textwrap
import time

import pytest

from app import serve
from app.serve import ServeError, launch_server, start_server, wait_ready
from app.serve_watch import phase_of

AVX2_ONLY = frozenset({"fpu", "sse4_2", "avx", "avx2", "fma", "f16c"})
ZEN4 = AVX2_ONLY | {"avx512f", "avx512_bf16"}
SAPPHIRE_RAPIDS = AVX2_ONLY | {"avx512f", "amx_bf16", "amx_tile"}


def test_bf16_only_where_the_cpu_computes_it_natively():
    assert serve.cpu_dtype("auto", AVX2_ONLY) == "float32"  # emulated bf16 is ~25x slower there
    assert serve.cpu_dtype("auto", ZEN4) == "bfloat16"
    assert serve.cpu_dtype("auto", SAPPHIRE_RAPIDS) == "bfloat16"
    assert serve.cpu_dtype("bfloat16", AVX2_ONLY) == "bfloat16"  # a setting is the user's choice


def test_cpu_servers_run_eager_in_the_cpus_dtype(monkeypatch, tmp_path):
    monkeypatch.setattr(serve, "cpu_flags", lambda: AVX2_ONLY)
    argv = []
    monkeypatch.setattr(serve.subprocess, "Popen", lambda command, **kw: argv.append(command) or _Exited())
    for backend in ("vllm-cpu", "vllm"):
        monkeypatch.setattr(serve, "detect_backend", lambda: backend)
        launch_server(tmp_path, log_path=tmp_path / "log")
    cpu, gpu = argv
    assert cpu[cpu.index("--dtype") + 1] == "float32" and "--enforce-eager" in cpu
    assert "--dtype" not in gpu and "--enforce-eager" not in gpu  # vLLM's own choices on a GPU


class _Exited:
    pid, returncode = 0, 0

    def poll(self):
        return 0


def test_phases_are_read_from_vllms_own_log_lines():
    lines = {
        "(APIServer pid=1) INFO 11-29 18:03:47 [model.py:733] Resolved architecture: LlamaForCausalLM":
            "reading the model's configuration",
        "(Worker pid=2) INFO 11-29 18:04:53 [cpu_model_runner.py:68] Starting to load model /m...":
            "loading the weights",
        "(Worker pid=2) INFO 11-29 18:04:58 [cpu_model_runner.py:87] Warming up model for the compilation...":
            "compiling the model",
        "(EngineCore pid=3) INFO 11-29 18:07:42 [kv_cache_utils.py:2327] CPU KV cache size: 46,592 tokens":
            "allocating the KV cache",
    }
    for line, phase in lines.items():
        assert phase_of(line).startswith(phase), line
    assert phase_of("Loading weights took 1.5 s\nWarming up model for the compilation...").startswith("compiling")
    assert phase_of("Found ulimit of 20000") is None
    eager = "(APIServer pid=1) WARNING [vllm.py:1703] Enforce eager set, disabling torch.compile, CUDAGraphs"
    assert phase_of(eager) is None  # eager mode compiles nothing


def _fake_server(monkeypatch, script: str):
    """launch_server with vLLM's argv replaced by a Python script (its stdout is the log)."""
    monkeypatch.setattr(serve, "detect_backend", lambda: "vllm-cpu")
    monkeypatch.setattr(serve, "_command", lambda *args: [sys.executable, "-c", textwrap.dedent(script)])


def test_a_busy_start_is_waited_for_and_a_silent_one_is_given_up(tmp_path, monkeypatch):
    # Busy: 4 s of CPU with no output, longer than the 2 s stall limit, then silence.
    _fake_server(monkeypatch, """
        import time
        print('Warming up model for the compilation...', flush=True)
        end = time.monotonic() + 4
        while time.monotonic() < end: pass
        time.sleep(60)
    """)
    said = []
    server = launch_server(tmp_path, log_path=tmp_path / "log")
    start = time.monotonic()
    with server, pytest.raises(ServeError, match="stalled while compiling the model") as err:
        wait_ready(server, stall_s=2.0, progress=said.append)
    assert time.monotonic() - start > 5  # not given up while it computed
    assert "Warming up model" in str(err.value)  # the end of its log comes with the error
    assert any("compiling the model" in line for line in said)


def test_ready_once_the_model_is_listed_saying_each_phase(tmp_path, monkeypatch):
    from app.processes import free_port
    port = free_port()
    _fake_server(monkeypatch, f"""
        import json, time
        from http.server import BaseHTTPRequestHandler, HTTPServer
        for line in ('Resolved architecture: X', 'Starting to load model /m...', 'CPU KV cache size: 9 tokens'):
            print(line, flush=True); time.sleep(1.2)
        class Models(BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps({{"data": [{{"id": "m"}}]}}).encode()
                self.send_response(200); self.end_headers(); self.wfile.write(body)
        HTTPServer(("127.0.0.1", {port}), Models).serve_forever()
    """)
    said = []
    (tmp_path / "m").mkdir()  # the served name is the model folder's
    with launch_server(tmp_path / "m", port=port, log_path=tmp_path / "log") as server:
        wait_ready(server, stall_s=30, progress=said.append)
    phases = [line for line in said if "vLLM:" in line]
    for phase in ("reading the model's configuration", "loading the weights", "allocating the KV cache", "ready"):
        assert any(phase in line for line in phases), (phase, phases)


def test_a_port_is_served_again_at_once_after_its_server_stopped(tmp_path, monkeypatch):
    # The readiness polls leave the server's side of their connections in TIME_WAIT for ~60 s after it
    # stops; a new server binds with SO_REUSEADDR (as vLLM's uvicorn does), so the port is free to it.
    from app.processes import free_port, port_free
    port = free_port()
    _fake_server(monkeypatch, f"""
        import json
        from http.server import BaseHTTPRequestHandler, HTTPServer
        class Models(BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps({{"data": [{{"id": "m"}}]}}).encode()
                self.send_response(200); self.end_headers(); self.wfile.write(body)
        HTTPServer(("127.0.0.1", {port}), Models).serve_forever()
    """)
    (tmp_path / "m").mkdir()
    for _ in range(2):  # serve, stop, serve again
        with start_server(tmp_path / "m", port=port, log_path=tmp_path / "log", stall_s=30) as server:
            assert not port_free("127.0.0.1", port)  # while it listens, nobody else may take the port
        assert server.process.returncode is not None


def test_the_log_is_private_and_a_planted_link_is_not_followed(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    _fake_server(monkeypatch, "print('hello', flush=True)")
    with launch_server(tmp_path) as server:
        server.process.wait()
    assert server.log_path.parent == tmp_path / "state" / "groundwork" / "logs"
    assert stat.S_IMODE(server.log_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(server.log_path.parent.stat().st_mode) == 0o700
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    link = tmp_path / "state" / "groundwork" / "logs" / "planted.log"
    os.symlink(victim, link)
    with pytest.raises(ServeError, match="symbolic link"):
        launch_server(tmp_path, log_path=link)
    assert victim.read_text() == "keep me"


def test_llm_eager_setting_reaches_the_launch(monkeypatch, tmp_path):
    from app.config import ConfigError, load_config
    argv = []
    monkeypatch.setattr(serve.subprocess, "Popen", lambda command, **kw: argv.append(command) or _Exited())
    monkeypatch.setattr(serve, "detect_backend", lambda: "vllm-cpu")
    for value in ("off", "on"):
        config = load_config(environ={"GROUNDWORK_LLM_EAGER": value})
        launch_server(tmp_path, log_path=tmp_path / "log", eager=config.eager)
    assert ["--enforce-eager" in command for command in argv] == [False, True]
    with pytest.raises(ConfigError, match="llm_eager"):
        load_config(environ={"GROUNDWORK_LLM_EAGER": "yes please"})


def test_a_cpu_server_survives_a_model_step_longer_than_vllm_s_300_s(monkeypatch, tmp_path):
    # vLLM kills its engine when one step (on a CPU: reading a whole prompt) outlasts the limit.
    envs = []
    monkeypatch.setattr(serve.subprocess, "Popen", lambda command, env, **kw: envs.append(env) or _Exited())
    monkeypatch.delenv("VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS", raising=False)
    for backend in ("vllm-cpu", "vllm"):
        monkeypatch.setattr(serve, "detect_backend", lambda: backend)
        launch_server(tmp_path, log_path=tmp_path / "log")
    assert int(envs[0]["VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS"]) >= 3600
    assert "VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS" not in envs[1]  # a GPU step that slow is a hang: vLLM's own limit
    monkeypatch.setenv("VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS", "900")
    monkeypatch.setattr(serve, "detect_backend", lambda: "vllm-cpu")
    launch_server(tmp_path, log_path=tmp_path / "log")
    assert envs[2]["VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS"] == "900"  # the user's own value is kept


def test_llm_timeout_is_seconds_above_0_and_reaches_the_client():
    from app import wiring
    from app.config import ConfigError, load_config
    assert wiring.llm(load_config(environ={"GROUNDWORK_LLM_TIMEOUT": "600"})).timeout == 600.0
    for bad in ("0", "-5", "nan", "inf", "ten"):
        with pytest.raises(ConfigError, match=r"llm_timeout in environment must be a number of seconds above 0"):
            load_config(environ={"GROUNDWORK_LLM_TIMEOUT": bad})


def test_a_stop_signal_ignored_at_start_stays_ignored():
    import signal

    from app.processes import signals_interrupt
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as `nohup` starts a command
    try:
        with signals_interrupt():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN  # the UI outlives its terminal
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # SIGTERM still stops it cleanly
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_a_cpu_server_on_few_cores_computes_on_all_of_them(monkeypatch, tmp_path):
    # vLLM keeps one core for its scheduler: on 2 cores the model computed on one, its first token twice as late.
    envs = []
    monkeypatch.setattr(serve.subprocess, "Popen", lambda command, env, **kw: envs.append(env) or _Exited())
    monkeypatch.delenv("VLLM_CPU_OMP_THREADS_BIND", raising=False)
    monkeypatch.setattr(serve, "detect_backend", lambda: "vllm-cpu")
    monkeypatch.setattr(serve, "cpu_quota", lambda: math.inf)  # whatever quota the machine running this has
    for cores in ({0, 1}, {2, 5}, set(range(16))):
        monkeypatch.setattr(serve.os, "sched_getaffinity", lambda pid, cores=cores: cores)
        launch_server(tmp_path, log_path=tmp_path / "log")
    assert envs[0]["VLLM_CPU_OMP_THREADS_BIND"] == "0,1"
    assert envs[1]["VLLM_CPU_OMP_THREADS_BIND"] == "2,5"        # the cores this process may use, not 0..n-1
    assert "VLLM_CPU_OMP_THREADS_BIND" not in envs[2]           # many cores: vLLM's own binding
    monkeypatch.setattr(serve, "detect_backend", lambda: "vllm")
    monkeypatch.setattr(serve.os, "sched_getaffinity", lambda pid: {0, 1})
    launch_server(tmp_path, log_path=tmp_path / "log")
    assert "VLLM_CPU_OMP_THREADS_BIND" not in envs[3]           # a GPU server binds nothing
    monkeypatch.setenv("VLLM_CPU_OMP_THREADS_BIND", "1")
    monkeypatch.setattr(serve, "detect_backend", lambda: "vllm-cpu")
    launch_server(tmp_path, log_path=tmp_path / "log")
    assert envs[4]["VLLM_CPU_OMP_THREADS_BIND"] == "1"          # the user's own value is kept


def test_a_cpu_quota_below_the_visible_cores_keeps_vllm_s_binding(monkeypatch, tmp_path):
    # `docker --cpus=1` shows both cores in the affinity mask: two threads there would be throttled to one CPU.
    for text, quota in (("max 100000\n", math.inf), ("100000 100000\n", 1.0), ("250000 100000", 2.5), ("junk", math.inf)):
        (tmp_path / "cpu.max").write_text(text)
        assert serve.cpu_quota(tmp_path) == quota
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("150000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert serve.cpu_quota(tmp_path) == 1.5                      # cgroup v1
    assert serve.cpu_quota(tmp_path / "none") == math.inf         # nothing to read: no limit known
    envs = []
    monkeypatch.setattr(serve.subprocess, "Popen", lambda command, env, **kw: envs.append(env) or _Exited())
    monkeypatch.delenv("VLLM_CPU_OMP_THREADS_BIND", raising=False)
    monkeypatch.setattr(serve, "detect_backend", lambda: "vllm-cpu")
    monkeypatch.setattr(serve.os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(serve, "cpu_quota", lambda: 1.0)
    launch_server(tmp_path, log_path=tmp_path / "log")
    assert "VLLM_CPU_OMP_THREADS_BIND" not in envs[0]
