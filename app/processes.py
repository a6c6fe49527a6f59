"""Child servers (vLLM, Streamlit) as process groups: ports, stopping a whole group, and signals.

A server runs in its own session so that a terminal's Ctrl-C reaches only us; we then stop the
server's whole group, since vLLM's engine and worker processes may outlive its front process.
A server in a session of its own also outlives us when we are killed outright (kill -9, the OOM
killer), where no clean-up of ours runs: `orphan_guard` starts a watchdog that stops such groups then.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

# What ends a foreground command besides Ctrl-C: `kill`, a closed terminal.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
# Seconds the watchdog gives each of SIGINT and SIGTERM before SIGKILL, as `groundwork ui` does.
GUARD_GRACE_S = 2.0
RELEASE = "release"  # the guarded command ended as it meant to: its groups are its own business again


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_free(host: str, port: int) -> bool:
    """Whether a server could listen on port on host now (nobody listens there)."""
    with socket.socket() as sock:
        # As servers bind (uvicorn, Tornado): else connections of a server stopped a moment ago, left in
        # TIME_WAIT for ~60 s, make the port look taken although a new server binds it fine.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """Inside: SIGTERM and SIGHUP raise KeyboardInterrupt like Ctrl-C, so the same clean-up runs.

    Without this, SIGTERM ends Python at once, and servers in their own sessions live on orphaned.
    """
    def interrupt(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    # A signal ignored when we started stays ignored: `nohup groundwork ui &` must outlive its terminal.
    previous = {sig: signal.signal(sig, interrupt) for sig in STOP_SIGNALS
                if signal.getsignal(sig) is not signal.SIG_IGN}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def signals_ignored() -> Iterator[None]:
    """Inside: a second Ctrl-C or SIGTERM cannot cut a clean-up short and leave servers running."""
    stops = (signal.SIGINT, *STOP_SIGNALS)
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in stops}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


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
        if group_gone(pgid, wait_s):
            return


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def group_gone(pgid: int, wait_s: float) -> bool:
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


class Guard:
    """The watchdog's end of the pipe: tell it which process groups to stop should we die."""

    def __init__(self, process: subprocess.Popen):
        self.process = process

    def watch(self, pgid: int) -> None:
        """Stop this group (SIGINT, SIGTERM, SIGKILL) if this process dies before the guard is released."""
        self.process.stdin.write(f"{pgid}\n")
        self.process.stdin.flush()


@contextmanager
def orphan_guard() -> Iterator[Guard]:
    """Inside: the groups given to `watch` are stopped by a watchdog if this process dies, even by SIGKILL.

    The watchdog runs in a session of its own (a terminal's Ctrl-C is ours to handle) and reads group
    ids from a pipe only we hold; the pipe closing without the release line means we died. Leaving the
    block releases the groups: each caller has stopped them by then, or (serve --detach) means them
    to run on.
    """
    process = subprocess.Popen([sys.executable, "-m", "app.processes"], stdin=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        yield Guard(process)
    finally:
        try:
            process.stdin.write(RELEASE + "\n")
            process.stdin.close()
        except (BrokenPipeError, ValueError):  # the watchdog died: nothing left to release
            pass
        process.wait()


def _watchdog(lines) -> None:
    """Read group ids until the release line; at end of input without it, stop every group read."""
    groups = []
    for line in lines:
        if line.strip() == RELEASE:
            return
        groups.append(int(line))
    for pgid in groups:
        stop_group(pgid, GUARD_GRACE_S)


if __name__ == "__main__":
    for sig in (signal.SIGINT, signal.SIGHUP):  # only the pipe's end tells the watchdog to act
        signal.signal(sig, signal.SIG_IGN)
    _watchdog(sys.stdin)
