"""Watch a starting vLLM server: say what it is doing, and tell a slow start from a stalled one.

A first start on a small CPU compiles for minutes, and how long depends on the CPU and the load,
so no fixed timeout fits every machine. vLLM is given time for as long as it shows progress: its
log grows or its processes use the CPU. It is given up on only when it exits, or when it has
written nothing and used (almost) no CPU for `stall_s` seconds.
"""
from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

STALL_S = 300.0
REPORT_EVERY_S = 30.0
# Busy: vLLM's processes together used at least this share of one core since the last check. It
# is low because a loaded 2-core machine gives a compiling vLLM only a slice; a hung one uses ~0.
BUSY_CPU_SHARE = 0.05
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

# What a line of vLLM's log says it is doing; the last match in new output wins.
PHASES = (
    (re.compile(r"Resolved architecture|non-default args"), "reading the model's configuration"),
    (re.compile(r"Initializing a V1 LLM engine|DP group leader"), "starting the engine processes"),
    (re.compile(r"Starting to load model|Loading safetensors|Loading weights"), "loading the weights"),
    # Not a bare "torch.compile": eager mode logs "disabling torch.compile".
    (re.compile(r"Warming up model for the compilation|Compiling a graph|Dynamo bytecode"),
     "compiling the model (the first start takes minutes on a small CPU; later starts use the cache)"),
    (re.compile(r"KV cache size|Maximum concurrency"), "allocating the KV cache"),
    (re.compile(r"init engine .* took"), "warming up the API server"),
    (re.compile(r"Starting vLLM (API )?server|Available routes"), "opening the HTTP endpoint"),
)


def phase_of(text: str) -> str | None:
    """The phase the latest recognised line of `text` (new log output) names, if any."""
    found, at = None, -1
    for pattern, phase in PHASES:
        for match in pattern.finditer(text):
            if match.start() > at:
                found, at = phase, match.start()
    return found


def group_cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) used so far by the live processes of process group `pgid` (Linux /proc)."""
    total = 0
    try:
        entries = list(os.scandir("/proc"))
    except OSError:  # no /proc (not Linux): only the log shows progress then
        return 0.0
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        fields = stat[stat.rfind(")") + 2:].split()  # after "(comm)", which may hold spaces
        if int(fields[2]) == pgid:  # field 5 of stat: the process group
            total += int(fields[11]) + int(fields[12])  # fields 14 and 15: utime, stime
    return total / _TICKS


@dataclass
class StartWatch:
    """Progress of one server start: the log read so far, CPU used, and when it last moved."""

    pgid: int
    log_path: Path
    say: Callable[[str], None]
    stall_s: float = STALL_S
    started: float = field(default_factory=time.monotonic)
    phase: str = "starting Python and importing vLLM"
    _offset: int = 0
    _cpu: float = 0.0
    _checked: float = field(default_factory=time.monotonic)
    _moved: float = field(default_factory=time.monotonic)
    _reported: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.say(f"vLLM: {self.phase} ...")

    def check(self) -> None:
        """Read what is new; report a new phase, or every REPORT_EVERY_S how long this one takes."""
        now = time.monotonic()
        new_text = self._read_new()
        cpu = group_cpu_seconds(self.pgid)
        if new_text or cpu - self._cpu >= BUSY_CPU_SHARE * (now - self._checked):
            self._moved = now
        self._cpu, self._checked = cpu, now
        phase = phase_of(new_text)
        if phase and phase != self.phase:
            self.phase, self._reported = phase, now
            self.say(f"vLLM: {phase} ... ({self.elapsed():.0f} s)")
        elif now - self._reported >= REPORT_EVERY_S:
            self._reported = now
            self.say(f"vLLM: still {self.phase} ({self.elapsed():.0f} s so far)")

    def stalled(self) -> bool:
        """Whether vLLM has written nothing and used no CPU for stall_s seconds."""
        return time.monotonic() - self._moved > self.stall_s

    def elapsed(self) -> float:
        """Seconds since the start."""
        return time.monotonic() - self.started

    def _read_new(self) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self._offset)
                data = log.read()
        except OSError:
            return ""
        self._offset += len(data)
        return data.decode("utf-8", "replace")
