"""What a killed executor left running, found and stopped before `--resume` starts again.

The kernel tells only a step's own process of the executor's death (PR_SET_PDEATHSIG,
process.py): the `sleep` of `sh -c 'sleep 60; echo done'` runs on when `sh` goes. So
every step process started while `marking` carries the journal's identity in its
environment (MARKER, the journal's device and inode), which children inherit; the VM
lab's QEMUs, which outlive their step on purpose, are not step processes and do not.
`--resume`, holding the journal's lock and before it starts anything, kills every
process that carries it: nothing of the earlier run runs on beside the step started
again. A process that clears its environment escapes this; none of the engines a step
runs (ssh, ansible, virsh) does.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager

MARKER = "NETCFG_ROLLOUT_JOURNAL"
GONE_WITHIN_S = 5.0

_marker: str | None = None  # set while a run executes: see `marking`


@contextmanager
def marking(identity: str) -> Iterator[None]:
    """Meanwhile, step processes carry `identity` (`environment`)."""
    global _marker
    before, _marker = _marker, identity
    try:
        yield
    finally:
        _marker = before


def environment() -> dict[str, str] | None:
    """The environment of a step process: this one's, marked while a run executes."""
    return None if _marker is None else {**os.environ, MARKER: _marker}


def journal_identity(fd: int) -> str:
    """The journal's identity, whatever path names it: its device and inode."""
    st = os.fstat(fd)
    return f"{st.st_dev}:{st.st_ino}"


def stop_leftovers(identity: str) -> int:
    """Kill every process (but this one) whose environment carries `identity`; how many."""
    wanted = f"{MARKER}={identity}".encode()
    found = [pid for pid in _pids() if pid != os.getpid() and wanted in _environment(pid)]
    for pid in found:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + GONE_WITHIN_S
    while any(_alive(pid) for pid in found) and time.monotonic() < deadline:
        time.sleep(0.01)
    return len(found)


def _pids() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []


def _environment(pid: int) -> list[bytes]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            return handle.read().split(b"\0")
    except OSError:  # gone, or another user's
        return []


def _alive(pid: int) -> bool:
    """Running: a zombie (killed, its parent gone or not reaping yet) is not."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rpartition(b")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")
