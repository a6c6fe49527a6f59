"""A command killed outright (kill -9, the OOM killer) runs no clean-up of its own; the servers it started in
sessions of their own (vLLM, Streamlit) must not live on without it: `orphan_guard`'s watchdog stops them."""
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from app import serve
from app.processes import group_gone, stop_group

ROOT = Path(__file__).resolve().parents[1]
# A server that ignores SIGINT and SIGTERM and has a child that ignores SIGTERM: only the group's SIGKILL
# ends it, as with a vLLM engine busy in a computation.
STUBBORN = ("import signal, subprocess, sys, time\n"
            "for s in (signal.SIGINT, signal.SIGTERM): signal.signal(s, signal.SIG_IGN)\n"
            "subprocess.Popen([sys.executable, '-c', 'import signal, time; "
            "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)'])\n"
            "print('up', flush=True)\n"
            "time.sleep(600)\n")


def _command(release: bool) -> subprocess.Popen:
    """A command that starts a stubborn server in its own session under a guard, prints its pid, then
    either lives on inside the guard (to be killed) or leaves the guard and exits (serve --detach)."""
    script = textwrap.dedent(f"""
        import subprocess, sys, time
        from app.processes import orphan_guard
        with orphan_guard() as guard:
            server = subprocess.Popen([sys.executable, "-c", {STUBBORN!r}], start_new_session=True)
            guard.watch(server.pid)
            print(server.pid, flush=True)
            if not {release}:
                time.sleep(600)
    """)
    return subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)


def _server_up(command: subprocess.Popen) -> int:
    """The server's pid, once it has set its handlers and started its child (both print to the command's stdout)."""
    lines = {command.stdout.readline().strip() for _ in range(2)}
    assert "up" in lines, lines
    return int((lines - {"up"}).pop())


def test_a_command_killed_outright_takes_the_servers_it_started_with_it():
    command = _command(release=False)
    server = _server_up(command)
    try:
        command.kill()  # SIGKILL: nothing of the command's own runs
        command.wait()
        # SIGINT and SIGTERM get 2 s each and are ignored, then SIGKILL to the whole group.
        assert group_gone(server, 20.0), "the server outlived the command that started it"
    finally:
        stop_group(server, grace_s=0.1)


def test_a_released_server_runs_on_after_its_command_exits():
    command = _command(release=True)
    server = _server_up(command)
    try:
        assert command.wait(timeout=30) == 0  # the guard lets go and the command ends, as serve --detach does
        assert not group_gone(server, 0.0)
        time.sleep(5.0)  # longer than the watchdog would need to stop it (SIGINT, SIGTERM: 2 s each)
        assert not group_gone(server, 0.0), "a released server was stopped"
    finally:
        stop_group(server, grace_s=0.1)


def test_a_launched_model_server_is_put_under_the_guard(tmp_path, monkeypatch):
    watched = []

    class Guard:
        def watch(self, pgid):
            watched.append(pgid)

    monkeypatch.setattr(serve, "detect_backend", lambda: "vllm-cpu")
    monkeypatch.setattr(serve, "_command", lambda *args: [sys.executable, "-c", "import time; time.sleep(60)"])
    with serve.launch_server(tmp_path, log_path=tmp_path / "log", guard=Guard()) as server:
        assert watched == [server.pid]  # at once, before any wait for readiness
