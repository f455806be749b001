"""Processes of the lab: started in a hypervisor's namespace and memory cgroup, and told
apart from whatever process later reuses their pid (a pid with its start time)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Proc:
    pid: int
    start: int  # clock ticks after boot (/proc/PID/stat field 22): the same across exec

    def to_json(self) -> dict[str, int]:
        return {"pid": self.pid, "start": self.start}


def spawn(argv: list[str], *, netns: str, cgroup_procs: str, log: str) -> tuple[subprocess.Popen[bytes], Proc]:
    """Start `argv` in network namespace `netns`, inside the cgroup of `cgroup_procs`,
    in a session of its own (it outlives the command that started it), output to `log`."""
    command = [sys.executable, "-m", "netcfg.vmlab.spawn", cgroup_procs, "--", "ip", "netns", "exec", netns, *argv]
    with open(log, "ab") as output:
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    begun = start_time(child.pid)
    return child, Proc(child.pid, begun if begun is not None else 0)


def start_time(pid: int) -> int | None:
    stat = _stat(pid)
    return int(stat[19]) if stat else None


def alive(proc: Proc) -> bool:
    """Whether `proc` still runs: its pid exists, started when it did, and is not a zombie."""
    stat = _stat(proc.pid)
    return stat is not None and int(stat[19]) == proc.start and stat[0] not in ("Z", "X")


def kill(proc: Proc, timeout_s: float = 10.0) -> None:
    """SIGKILL `proc` (if it is still that process) and wait until its memory is free."""
    if not alive(proc):
        wait_gone(proc, timeout_s)
        return
    try:
        os.kill(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    wait_gone(proc, timeout_s)


def wait_gone(proc: Proc, timeout_s: float = 10.0) -> None:
    """Wait until every thread of `proc` has exited, so its memory is no longer charged
    anywhere. Its main thread turns zombie as soon as it is killed, while QEMU's other
    threads may still be exiting and holding the process's memory."""
    deadline = time.monotonic() + timeout_s
    while not _gone(proc) and time.monotonic() < deadline:
        time.sleep(0.02)


def _gone(proc: Proc) -> bool:
    stat = _stat(proc.pid)
    if stat is None or int(stat[19]) != proc.start:
        return True
    if stat[0] not in ("Z", "X"):
        return False
    try:
        with open(f"/proc/{proc.pid}/status", encoding="ascii", errors="replace") as handle:
            threads = [line for line in handle if line.startswith("Threads:")]
    except FileNotFoundError:
        return True
    return not threads or int(threads[0].split()[1]) <= 1


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat's fields after the command name (field 3, the state, first)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            text = handle.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text[text.rindex(")") + 2 :].split()
