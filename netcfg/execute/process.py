"""Steps as child processes: started without a shell, watched without blocking.

Each child runs in its own session, so a Ctrl-C at the terminal reaches the executor
only, which decides (finish, or cancel through `cancel`). Each child is also asked to
receive SIGTERM should the executor die (SIGKILL, a crash): an orphan nobody watches
would run on beside the step `--resume` starts again. Its own children the kernel does
not tell: `--resume` finds them by their environment (leftovers.py). Its output goes
to anonymous temporary files; the last line of its stderr (else stdout) is the step's
detail.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from typing import IO

from netcfg.errors import printable
from netcfg.execute import leftovers
from netcfg.execute.driver import StepResult

TAIL_BYTES = 4096  # of a child's output, read for the detail
DETAIL_CHARS = 200
KILL_AFTER_S = 10.0  # after a cancel's first signal, SIGKILL the rest of the session
FAN_OUT = 32  # processes of one step at once (a hot template run once per host of a wave)
PR_SET_PDEATHSIG = 1

try:
    _libc: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True)
except OSError:  # not glibc or musl: children then outlive a killed executor
    _libc = None


def _die_with_parent(parent: int) -> None:
    # Runs in the child between fork and exec: only async-signal-safe work.
    if _libc is not None:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the executor died before the line above took effect
        os._exit(1)


class ProcessRunning:
    """One child process as a `Running`."""

    def __init__(self, argv: Sequence[str], cancel_signal: signal.Signals = signal.SIGTERM):
        self.argv = list(argv)
        self._cancel_signal = cancel_signal
        self._cancelled_at: float | None = None
        self._killed = False
        self._result: StepResult | None = None
        # Closed in _finish, when the step has ended: they outlive this call.
        self._out: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self._err: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        parent = os.getpid()
        try:
            self._process: subprocess.Popen[bytes] | None = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=self._out,
                stderr=self._err,
                start_new_session=True,
                env=leftovers.environment(),
                preexec_fn=lambda: _die_with_parent(parent),
                close_fds=True,
            )
        except OSError as error:
            self._process = None
            self._finish(StepResult(False, f"cannot run {printable(self.argv[0])}: {error.strerror or error}"))

    def poll(self) -> StepResult | None:
        if self._result is not None or self._process is None:
            return self._result
        # Looked at without reaping: until it is reaped, the child's pid (its session's
        # id) cannot be reused, so signalling the session can reach nobody else.
        exited = os.waitid(os.P_PID, self._process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if exited is None:
            overdue = self._cancelled_at is not None and time.monotonic() - self._cancelled_at > KILL_AFTER_S
            if overdue and not self._killed:
                self._signal(signal.SIGKILL)
                self._killed = True
            return None
        # A step has ended when nothing of it runs: what it left in its session goes too.
        self._signal(signal.SIGKILL)
        code = self._process.wait()
        self._finish(self._verdict(code))
        return self._result

    def cancel(self) -> None:
        if self._result is None and self._cancelled_at is None:
            self._cancelled_at = time.monotonic()
            self._signal(self._cancel_signal)

    def _signal(self, sig: signal.Signals) -> None:
        if self._process is None:
            return
        try:
            os.killpg(self._process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass  # the session is gone

    def _verdict(self, code: int) -> StepResult:
        if code == 0:
            return StepResult(True, "")
        tail = _last_line(self._err) or _last_line(self._out)
        if self._cancelled_at is not None:
            how = "cancelled"
        elif code < 0:
            how = f"killed by {signal.Signals(-code).name}"
        else:
            how = f"exit status {code}"
        return StepResult(False, f"{how}: {tail}" if tail else how)

    def _finish(self, result: StepResult) -> None:
        self._result = result
        self._out.close()
        self._err.close()


def _last_line(handle: IO[bytes]) -> str:
    size = handle.seek(0, os.SEEK_END)
    handle.seek(max(0, size - TAIL_BYTES))
    text = handle.read().decode("utf-8", "replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    line = printable(lines[-1])
    return line if len(line) <= DETAIL_CHARS else line[: DETAIL_CHARS - 1] + "…"


class FanOutRunning:
    """Several processes as one step (a hot wave run once per host): at most `at_once` at
    a time, the next starting as one ends; OK when every one exits 0. After a failure, a
    hold (a stop request: what runs finishes) or a cancel, no more of them start, as no
    step starts after a failed one; the detail names the first host that failed and
    counts those never started."""

    def __init__(self, runs: Sequence[tuple[str, Sequence[str]]], at_once: int = FAN_OUT):
        self._waiting = list(runs)[::-1]  # popped from the end: in order
        self._total = len(runs)
        self._at_once = at_once
        self._running: list[tuple[str, ProcessRunning]] = []
        self._failed: list[tuple[str, StepResult]] = []
        self._stopped = False
        self._start_more()

    def _start_more(self) -> None:
        while self._waiting and not self._stopped and len(self._running) < self._at_once:
            label, argv = self._waiting.pop()
            self._running.append((label, ProcessRunning(argv)))

    def poll(self) -> StepResult | None:
        still = []
        for label, running in self._running:
            result = running.poll()
            if result is None:
                still.append((label, running))
            elif not result.ok:
                self._failed.append((label, result))
                self._stopped = True
        self._running = still
        self._start_more()
        if self._running:
            return None
        if not self._failed and not self._waiting:
            return StepResult(True, "")
        never = f"; {len(self._waiting)} not started" if self._waiting else ""
        if not self._failed:
            return StepResult(False, f"stopped{never}")
        label, first = self._failed[0]
        return StepResult(False, f"{len(self._failed)} of {self._total} failed; {label}: {first.detail}{never}")

    def hold(self) -> None:
        self._stopped = True

    def cancel(self) -> None:
        self._stopped = True
        for _, running in self._running:
            running.cancel()
