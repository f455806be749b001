"""Render the candidate machines on both sides and diff them, in parallel when large.

Rendering and diffing are pure and independent per machine, so a fleet-wide change
over thousands of machines is split by machine over forked worker processes (they
inherit both inventories copy-on-write; only the small HostDiffs travel back). Small
changes, platforms without fork, and jobs=1 run in process.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess

from netcfg.designs import render
from netcfg.impact.diff import diff_configs
from netcfg.impact.model import HostDiff
from netcfg.model.host import DesignName
from netcfg.model.inventory import Inventory
from netcfg.progress import Progress, silent
from netcfg.words import plural

PARALLEL_MIN = 2_000  # below this many candidates, forking costs more than it saves
SLICE = 5_000  # machines rendered per call between two reports of progress: the designs share
# their work within a call, so a smaller slice costs time (1,000: +14 % CPU at 10k machines)
MAX_JOBS = 4

# The job a forked worker runs: set in the parent just before forking, so the worker
# reads it from its copy of memory instead of receiving pickled inventories.
_JOB: tuple[Inventory, Inventory, DesignName | None, DesignName | None] | None = None


def default_jobs() -> int:
    """Worker processes worth forking here: the CPUs this process may use, at most MAX_JOBS."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(MAX_JOBS, cpus))


def render_and_diff(
    base: Inventory,
    head: Inventory,
    base_design: DesignName | None,
    head_design: DesignName | None,
    names: Sequence[str],
    jobs: int = 1,
    progress: Progress = silent,
) -> dict[str, HostDiff]:
    """Diffs of the machines `names` (changed ones only, by name), over up to `jobs`
    processes."""
    stage = f"rendering and comparing {plural(len(names), 'machine')}"
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        progress(stage, done, len(names))

    progress(stage, 0, len(names))
    workers = max(1, jobs)
    # Forking a process that runs other threads can deadlock the child on a lock one of
    # them held (a progress bar's refresh thread is only ever waiting on a timer): a
    # library caller with threads gets the in-process path.
    if workers == 1 or len(names) < PARALLEL_MIN or sys.platform != "linux" or _other_threads():
        return _chunk(base, head, base_design, head_design, names, advance)
    global _JOB
    _JOB = (base, head, base_design, head_design)
    try:
        ctx = multiprocessing.get_context("fork")
        chunks = [list(names[i::workers]) for i in range(workers)]
        # Per worker: its process, and its diffs once it sent them.
        workers_out: dict[Connection, tuple[BaseProcess, dict[str, HostDiff] | None]] = {}
        for chunk in chunks[1:]:
            receive, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_worker, args=(send, chunk), daemon=True)
            proc.start()
            send.close()
            workers_out[receive] = (proc, None)

        def drain(timeout: float | None) -> None:
            """Read what the workers have sent: slices done, or their result."""
            for connection in wait([c for c, (_, v) in workers_out.items() if v is None], timeout):
                assert isinstance(connection, Connection)
                proc = workers_out[connection][0]
                try:
                    status, value = connection.recv()
                except EOFError:
                    # Killed (the OOM killer, a signal): a bug or a machine too small for
                    # the job, never an interruption the caller could mistake for Ctrl-C.
                    proc.join()
                    raise RuntimeError(f"impact worker {proc.pid} died: {_death(proc.exitcode)}") from None
                if status == "slice":
                    advance(value)
                elif status == "ok":
                    workers_out[connection] = (proc, value)
                else:
                    raise RuntimeError(f"impact worker failed: {value}")

        def advance_and_drain(count: int) -> None:
            advance(count)
            drain(0)

        out = _chunk(base, head, base_design, head_design, chunks[0], advance_and_drain)
        while any(v is None for _, v in workers_out.values()):
            drain(None)
        for worker, diffs in workers_out.values():
            worker.join()
            assert diffs is not None
            out.update(diffs)
    finally:
        _JOB = None
    return dict(sorted(out.items()))


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"killed by signal {signal.Signals(-exitcode).name}" + (
            " (the kernel's OOM killer sends it when memory runs out)" if exitcode == -signal.SIGKILL else ""
        )
    return f"exit status {exitcode}"


def _other_threads() -> bool:
    return any(t is not threading.current_thread() and not _is_progress(t) for t in threading.enumerate())


def _is_progress(thread: threading.Thread) -> bool:
    # rich's refresh thread: it holds a lock only while drawing to stderr, which a
    # forked worker never does.
    return type(thread).__module__.startswith("rich.")


def _chunk(
    base: Inventory,
    head: Inventory,
    base_design: DesignName | None,
    head_design: DesignName | None,
    names: Sequence[str],
    advance: Callable[[int], None] = lambda count: None,
) -> dict[str, HostDiff]:
    out: dict[str, HostDiff] = {}
    # In slices, to say how far it got; each large enough to share most of what the
    # machines of a slice have in common (the designs build it once per call).
    for start in range(0, len(names), SLICE):
        part = names[start : start + SLICE]
        base_configs = render(base, base_design, [base.machines[n] for n in part if n in base.machines])
        head_configs = render(head, head_design, [head.machines[n] for n in part if n in head.machines])
        out.update(diff_configs(base_configs, head_configs))
        advance(len(part))
    return out


def _worker(send: Connection, names: list[str]) -> None:  # runs in a forked child
    try:
        assert _JOB is not None
        send.send(("ok", _chunk(*_JOB, names, lambda count: send.send(("slice", count)))))
    except BaseException as error:
        send.send(("error", repr(error)))
    finally:
        send.close()
        os._exit(0)  # skip atexit handlers and buffers inherited from the parent
