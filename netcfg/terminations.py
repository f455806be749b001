"""SIGTERM and SIGHUP for work that must clean up after itself when stopped.

By default both end the process at once, without unwinding: a lab stopped half built
(`timeout 120 netcfg vmlab up ...`, a CI job cancelled) would leave its QEMUs,
namespaces and cgroups behind. Inside `raised` they raise `Terminated`, which unwinds
like Ctrl-C's KeyboardInterrupt through the clean-up; `deferred` holds all three stop
signals back while a clean-up runs.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from netcfg.errors import NetcfgError

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Terminated(NetcfgError):
    """SIGTERM or SIGHUP: the exit code a shell gives a process that signal killed."""

    def __init__(self, signum: int, what: str) -> None:
        super().__init__(f"{what}: stopped by {signal.Signals(signum).name}")
        self.exit_code = 128 + signum


@contextmanager
def raised(what: str) -> Iterator[None]:
    """SIGTERM and SIGHUP raise Terminated (saying `what` was stopped) inside, SIGINT
    KeyboardInterrupt as always, in this process only; the previous handlers are put
    back on exit. Python runs handlers in the main thread only: elsewhere nothing is
    installed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    owner = os.getpid()

    def handler(signum: int, frame: FrameType | None) -> None:
        if os.getpid() != owner:
            # A child forked without exec (pyroute2 forks one per namespace socket) must
            # not unwind through its parent's stack and clean-up: it dies as by default.
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Terminated(signum, what)

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            # None: a handler not installed from Python; the default is the honest guess.
            signal.signal(sig, old if old is not None else signal.SIG_DFL)


@contextmanager
def deferred() -> Iterator[None]:
    """Stop signals held back (delivered on exit): for a clean-up that must not be cut
    in half by the exception a signal raises."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
