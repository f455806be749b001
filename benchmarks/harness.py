"""Measurement helpers shared by every benchmark: wall time and peak memory of one case.

Each case runs in a fresh forked child so its peak RSS is its own, not the runner's.
"""

from __future__ import annotations

import multiprocessing
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Result:
    benchmark: str  # e.g. "validate"
    case: str  # e.g. "10,000 machines / 500 networks"
    metric: str  # e.g. "seconds", "peak MiB", "machines/s", "ratio"
    value: float
    target: str = ""  # e.g. "< 3 s"
    ok: bool | None = None  # None: no target

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _child(conn, func, args):  # runs in the forked child
    try:
        start = time.perf_counter()
        extra = func(*args)
        seconds = time.perf_counter() - start
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        conn.send(("ok", seconds, peak_mib, extra))
    except BaseException as error:
        conn.send(("error", repr(error), 0.0, None))
    finally:
        conn.close()


def measure(func: Callable[..., Any], *args: Any) -> tuple[float, float, Any]:
    """Run func(*args) in a forked child: (seconds, peak MiB of the child, func's result).

    The result must be picklable; setup done before the timed call belongs in the
    caller's arguments (prepared in the parent) so it is not timed."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, func, args))
    proc.start()
    child.close()
    status, seconds, peak, extra = parent.recv()
    proc.join()
    if status != "ok":
        raise RuntimeError(f"benchmark case failed: {seconds}")
    return seconds, peak, extra
