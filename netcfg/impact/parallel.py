"""Render the candidate machines on both sides and diff them, in parallel when large.

Rendering and diffing are pure and independent per machine, so a fleet-wide change
over thousands of machines is split by machine over forked worker processes (they
inherit both inventories copy-on-write; only the small HostDiffs travel back). Small
changes, platforms without fork, and jobs=1 run in process.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from collections.abc import Sequence

from netcfg.designs import render
from netcfg.impact.diff import diff_configs
from netcfg.impact.model import HostDiff
from netcfg.model.host import DesignName
from netcfg.model.inventory import Inventory

PARALLEL_MIN = 2_000  # below this many candidates, forking costs more than it saves
MAX_JOBS = 4

# The job a forked worker runs: set in the parent just before forking, so the worker
# reads it from its copy of memory instead of receiving pickled inventories.
_JOB: tuple[Inventory, Inventory, DesignName, DesignName] | None = None


def default_jobs() -> int:
    """Worker processes worth forking here: the CPUs this process may use, at most MAX_JOBS."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(MAX_JOBS, cpus))


def render_and_diff(
    base: Inventory,
    head: Inventory,
    base_design: DesignName,
    head_design: DesignName,
    names: Sequence[str],
    jobs: int = 1,
) -> dict[str, HostDiff]:
    """Diffs of the machines `names` (changed ones only, by name), over up to `jobs`
    processes."""
    workers = max(1, jobs)
    # Forking a process that runs other threads can deadlock the child on a lock one of
    # them held: a library caller with threads gets the in-process path.
    if workers == 1 or len(names) < PARALLEL_MIN or sys.platform != "linux" or threading.active_count() > 1:
        return _chunk(base, head, base_design, head_design, names)
    global _JOB
    _JOB = (base, head, base_design, head_design)
    try:
        ctx = multiprocessing.get_context("fork")
        chunks = [list(names[i::workers]) for i in range(workers)]
        pipes = []
        for chunk in chunks[1:]:
            receive, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_worker, args=(send, chunk), daemon=True)
            proc.start()
            send.close()
            pipes.append((proc, receive))
        out = _chunk(base, head, base_design, head_design, chunks[0])
        for proc, receive in pipes:
            status, value = receive.recv()
            proc.join()
            if status != "ok":
                raise RuntimeError(f"impact worker failed: {value}")
            out.update(value)
    finally:
        _JOB = None
    return dict(sorted(out.items()))


def _chunk(
    base: Inventory, head: Inventory, base_design: DesignName, head_design: DesignName, names: Sequence[str]
) -> dict[str, HostDiff]:
    base_configs = render(base, base_design, [base.machines[n] for n in names if n in base.machines])
    head_configs = render(head, head_design, [head.machines[n] for n in names if n in head.machines])
    return diff_configs(base_configs, head_configs)


def _worker(send, names: list[str]) -> None:  # runs in a forked child
    try:
        assert _JOB is not None
        send.send(("ok", _chunk(*_JOB, names)))
    except BaseException as error:
        send.send(("error", repr(error)))
    finally:
        send.close()
        os._exit(0)  # skip atexit handlers and buffers inherited from the parent
