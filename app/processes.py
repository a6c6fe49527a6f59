"""Child servers (vLLM, Streamlit) as process groups: ports, stopping a whole group, and signals.

A server runs in its own session so that a terminal's Ctrl-C reaches only us; we then stop the
server's whole group, since vLLM's engine and worker processes may outlive its front process.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

# What ends a foreground command besides Ctrl-C: `kill`, a closed terminal.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


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
