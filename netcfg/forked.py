"""Work split over forked worker processes that inherit the caller's memory.

The impact analysis (rendering and diffing both sides of a change) and `render`
(templates and files) are independent per machine. On Linux they split their machines
over worker processes forked from the caller: a worker reads its inputs from its copy
of memory (nothing is pickled in), and sends back only its result and its progress.
The caller runs the first chunk itself.

A worker that dies (the kernel's OOM killer, a signal) is an internal error naming the
cause, never an interruption the caller could mistake for Ctrl-C; a worker ignores
SIGINT, which Ctrl-C sends the caller too. An error of netcfg's
own in a worker (a user's template failing: exit 2) is raised again in the caller as it
was; anything else is an internal error. When the caller's own chunk fails, the workers
are stopped before the error goes on, so none of them keeps working behind its back.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from netcfg.errors import NetcfgError

T = TypeVar("T")
R = TypeVar("R")

MAX_JOBS = 4
PR_SET_PDEATHSIG = 1  # linux/prctl.h
REPORT_EVERY = 0.1  # seconds between two progress messages of a worker

Work = Callable[[Sequence[T], Callable[[int], None]], R]  # (chunk, advance) -> result


def default_jobs() -> int:
    """Worker processes worth forking here: the CPUs this process may use, at most MAX_JOBS."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(MAX_JOBS, cpus))


def can_fork() -> bool:
    """Whether forking is safe here: Linux, and no thread but ours that could hold a lock
    the child would then wait on forever (a progress bar's refresh thread holds one only
    while drawing to stderr, which a worker never does)."""
    return sys.platform == "linux" and not any(
        t is not threading.current_thread() and not type(t).__module__.startswith("rich.")
        for t in threading.enumerate()
    )


def run_split(work: Work[T, R], items: Sequence[T], jobs: int, advance: Callable[[int], None], what: str) -> list[R]:
    """`work(chunk, advance)` for `jobs` interleaved chunks of `items`: the first in this
    process, each other in a forked worker. The results, in chunk order."""
    chunks = [items[i::jobs] for i in range(jobs)]
    ctx = multiprocessing.get_context("fork")
    # Per worker: its process, and its result once it sent it.
    running: dict[Connection, tuple[BaseProcess, list[R]]] = {}
    order: list[Connection] = []
    try:
        for chunk in chunks[1:]:
            receive, send = ctx.Pipe(duplex=False)
            child = ctx.Process(target=_worker, args=(send, work, chunk, os.getpid()), daemon=True)
            child.start()
            send.close()
            running[receive] = (child, [])
            order.append(receive)

        def drain(timeout: float | None) -> None:
            """Read what the workers have sent: progress, or their result."""
            pending = [c for c, (_, result) in running.items() if not result]
            for connection in wait(pending, timeout):
                assert isinstance(connection, Connection)
                proc, result = running[connection]
                try:
                    status, value = connection.recv()
                except EOFError:
                    proc.join()
                    raise RuntimeError(f"{what} worker {proc.pid} died: {_death(proc.exitcode)}") from None
                if status == "advance":
                    advance(value)
                elif status == "ok":
                    result.append(value)
                elif isinstance(value, NetcfgError):
                    raise value
                elif isinstance(value, KeyboardInterrupt):  # a SIGINT before it could ignore one
                    raise RuntimeError(f"{what} worker {proc.pid} died: interrupted by SIGINT, sent to it alone")
                else:
                    raise RuntimeError(f"{what} worker failed: {value}")

        def advance_and_drain(count: int) -> None:
            advance(count)
            drain(0)

        results = [work(chunks[0], advance_and_drain)]
        while any(not result for _, result in running.values()):
            drain(None)
        for connection in order:
            proc, result = running[connection]
            proc.join()
            results.append(result[0])
        return results
    except BaseException:
        for proc, _ in running.values():
            proc.kill()
            proc.join()
        raise
    finally:
        for connection in running:
            connection.close()


def beside(here: Callable[[], R], there: Callable[[], T], what: str) -> tuple[R, T]:
    """`here()` in this process while `there()` runs in a forked worker: both results.
    An error in either is raised here, as run_split raises it."""
    tasks: list[Callable[[], Any]] = [here, there]
    first, second = run_split(lambda chunk, _: chunk[0](), tasks, 2, lambda _: None, what)
    return first, second


def _worker(send: Connection, work: Work[Any, Any], chunk: Sequence[Any], parent: int) -> None:  # a forked child
    # Ctrl-C is the caller's: it reaches the whole process group, and the caller stops
    # its workers. A SIGINT sent to a worker alone is no reason to lose its work.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with(parent)
    pending, last = 0, time.monotonic()

    def advance(count: int) -> None:
        nonlocal pending, last
        pending += count
        if time.monotonic() - last >= REPORT_EVERY:
            send.send(("advance", pending))
            pending, last = 0, time.monotonic()

    try:
        result = work(chunk, advance)
        if pending:
            send.send(("advance", pending))
        send.send(("ok", result))
    except BaseException as error:
        try:
            send.send(("error", error))
        except Exception:  # an error that does not pickle
            send.send(("error", repr(error)))
    finally:
        send.close()
        os._exit(0)  # skip atexit handlers and buffers inherited from the parent


def _die_with(parent: int) -> None:
    """End this worker when the caller ends, even by SIGKILL: no worker may go on
    writing files behind a caller that is gone."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it ended before prctl took effect
        os._exit(1)


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"killed by signal {signal.Signals(-exitcode).name}" + (
            " (the kernel's OOM killer sends it when memory runs out)" if exitcode == -signal.SIGKILL else ""
        )
    return f"exit status {exitcode}"
