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


def _steps(grace_s: float) -> tuple[tuple[signal.Signals, float], ...]:
    """How a server's group is stopped: SIGINT, then SIGTERM, then SIGKILL, with the seconds each gets to work."""
    return (signal.SIGINT, grace_s), (signal.SIGTERM, min(grace_s, 10.0)), (signal.SIGKILL, 10.0)


def stop_group(pgid: int, grace_s: float = 30.0, reap=None) -> None:
    """Stop a server's process group: SIGINT, then SIGTERM, then SIGKILL, each given time to work."""
    for sig, wait_s in _steps(grace_s):
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
        self.lost = False  # the watchdog is gone (killed, or could not start): no group is guarded any more

    def watch(self, pgid: int) -> None:
        """Stop this group (SIGINT, SIGTERM, SIGKILL) if this process dies before the guard is released.

        A watchdog that is gone costs the guard, not the command: one line says so, and the caller's own
        clean-up still stops its servers on Ctrl-C or SIGTERM.
        """
        if pgid <= 1:  # 0 and 1 would signal our own group or every process
            raise ValueError(f"not a server's process group: {pgid}")
        try:
            self.process.stdin.write(f"{pgid}\n")
            self.process.stdin.flush()
        except (OSError, ValueError):
            if not self.lost:
                print(f"warning: the watchdog (pid {self.process.pid}) is gone: if this command is killed "
                      f"outright, stop process group {pgid} yourself", file=sys.stderr)
            self.lost = True


@contextmanager
def orphan_guard() -> Iterator[Guard]:
    """Inside: the groups given to `watch` are stopped by a watchdog if this process dies, even by SIGKILL.

    The watchdog runs in a session of its own (a terminal's Ctrl-C is ours to handle) and reads group
    ids from a pipe only we hold (its write end is not inherited). The pipe closing without the release
    line means we died, or left the block by an exception, when a clean-up may have been cut short; then
    it stops every group it was given that is still the one it was given. Leaving the block normally
    releases them: each caller has stopped them by then, or (serve --detach) means them to run on.
    """
    # This file by path, with no directory put on sys.path (-P): an `app` package in the user's working
    # directory must not stand in for ours. The watchdog needs the standard library only.
    process = subprocess.Popen([sys.executable, "-P", os.path.abspath(__file__)], stdin=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, text=True, start_new_session=True)
    guard = Guard(process)
    released = False
    try:
        yield guard
        released = True
    finally:
        try:
            if released:
                process.stdin.write(RELEASE + "\n")
            process.stdin.close()
        except (OSError, ValueError):  # the watchdog is gone: nothing left to release
            pass
        if released:
            process.wait()  # else it is stopping groups: let it, in its own session, while we go on ending


def _started(pid: int) -> str | None:
    """When the process `pid` started (clock ticks since boot, /proc/PID/stat), None if there is none (or no /proc)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def _still_ours(pgid: int, started: str | None) -> bool:
    """Whether group `pgid` is still the group given, and not a stranger's that reuses its number.

    A number stays taken while its group has a member, so a group whose leader has exited, and others
    remain, is ours; a leader that started at another time is another process. A group whose leader
    could not be read when it was given (no /proc) is never signalled: better a server left running
    than a stranger stopped.
    """
    now = _started(pgid)
    return started is not None and now in (None, started)


def _watchdog(lines) -> None:
    """Read group ids until the release line; at end of input without it, stop every group read, all at once."""
    groups = {}
    for line in lines:
        if line.strip() == RELEASE:
            return
        pgid = int(line)
        if pgid > 1:
            groups[pgid] = _started(pgid)
    groups = [pgid for pgid, started in groups.items() if _still_ours(pgid, started)]
    for sig, wait_s in _steps(GUARD_GRACE_S):  # as stop_group, to every group at once
        for pgid in groups:
            _signal_group(pgid, sig)
        deadline = time.monotonic() + wait_s
        groups = [pgid for pgid in groups if not group_gone(pgid, max(0.0, deadline - time.monotonic()))]
        if not groups:
            return


if __name__ == "__main__":
    for sig in (signal.SIGINT, signal.SIGHUP):  # only the pipe's end tells the watchdog to act
        signal.signal(sig, signal.SIG_IGN)
    _watchdog(sys.stdin)
