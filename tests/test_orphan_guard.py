"""A command killed outright (kill -9, the OOM killer) runs no clean-up of its own; the servers it started in
sessions of their own (vLLM, Streamlit) must not live on without it: `orphan_guard`'s watchdog stops them."""
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from app import serve
from app.processes import _started, _still_ours, group_gone, orphan_guard, stop_group

ROOT = Path(__file__).resolve().parents[1]
# A server that ignores SIGINT and SIGTERM and has a child that ignores SIGTERM: only the group's SIGKILL
# ends it, as with a vLLM engine busy in a computation.
STUBBORN = ("import signal, subprocess, sys, time\n"
            "for s in (signal.SIGINT, signal.SIGTERM): signal.signal(s, signal.SIG_IGN)\n"
            "subprocess.Popen([sys.executable, '-c', 'import signal, time; "
            "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)'])\n"
            "print('up', flush=True)\n"
            "time.sleep(600)\n")


def _command(tmp_path: Path, end: str) -> subprocess.Popen:
    """A command that starts a stubborn server in its own session under a guard, prints its pid, then ends
    its guarded block as `end` says: "sleep" (lives on inside it, to be killed), "release" (leaves it and
    exits, as serve --detach does) or "raise" (an error out of the block). It runs in a folder that holds an
    `app` package of its own, whose processes.py would end a watchdog started as `python -m app.processes`."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "processes.py").write_text("raise SystemExit('not the watchdog')\n")
    script = textwrap.dedent(f"""
        import subprocess, sys, time
        from app.processes import orphan_guard
        with orphan_guard() as guard:
            server = subprocess.Popen([sys.executable, "-c", {STUBBORN!r}], start_new_session=True)
            guard.watch(server.pid)
            print(server.pid, flush=True)
            if {end!r} == "sleep":
                time.sleep(600)
            if {end!r} == "raise":
                time.sleep(1.0)  # the server is up (it printed), so a stop would reach its handlers
                raise RuntimeError("a clean-up cut short")
    """)
    # -P: the command imports our app (PYTHONPATH), not the folder's; the watchdog must do the same by itself.
    return subprocess.Popen([sys.executable, "-P", "-c", script], cwd=tmp_path, stdout=subprocess.PIPE, text=True,
                            stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})


def _server_up(command: subprocess.Popen) -> int:
    """The server's pid, once it has set its handlers and started its child (both print to the command's stdout)."""
    lines = {command.stdout.readline().strip() for _ in range(2)}
    assert "up" in lines, lines
    return int((lines - {"up"}).pop())


def test_a_command_killed_outright_takes_the_servers_it_started_with_it(tmp_path):
    command = _command(tmp_path, "sleep")
    server = _server_up(command)
    try:
        command.kill()  # SIGKILL: nothing of the command's own runs
        command.wait()
        # SIGINT and SIGTERM get 2 s each and are ignored, then SIGKILL to the whole group.
        assert group_gone(server, 20.0), "the server outlived the command that started it"
    finally:
        stop_group(server, grace_s=0.1)


def test_a_released_server_runs_on_after_its_command_exits(tmp_path):
    command = _command(tmp_path, "release")
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


def test_an_error_out_of_the_guarded_block_stops_its_servers(tmp_path):
    # serve --detach cut short while vLLM starts, or a second Ctrl-C during a stop: no release, the watchdog stops it.
    command = _command(tmp_path, "raise")
    server = _server_up(command)
    try:
        assert command.wait(timeout=30) == 1
        assert group_gone(server, 20.0)
    finally:
        stop_group(server, grace_s=0.1)


def test_a_number_reused_by_another_process_is_not_signalled():
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        started = _started(stranger.pid)
        assert started and _still_ours(stranger.pid, started)
        # The group given has ended and a stranger holds its number: it started at another time.
        assert not _still_ours(stranger.pid, str(int(started) - 1))
        assert not _still_ours(stranger.pid, None)  # never read when given: never signalled
    finally:
        stranger.kill()
        stranger.wait()
    assert _still_ours(stranger.pid, started)  # its leader gone (and any members left are ours)


def test_a_lost_watchdog_costs_the_guard_not_the_command(capsys):
    with orphan_guard() as guard:
        with pytest.raises(ValueError):
            guard.watch(1)  # would signal every process
        guard.process.kill()
        guard.process.wait()
        guard.watch(os.getpid())  # one warning, no error: the command's own clean-up still stops its servers
        guard.watch(os.getpid())
    assert capsys.readouterr().err.count("the watchdog") == 1
