"""Timing whole processes: what a user waits for, start-up and imports included.

Every row of the benchmarks is a command run through the CLI several times beside a
baseline command doing the floor of the same work (ip -batch, cp -r, loading the YAML),
in the same run, so a busy machine slows both alike. Verdicts come from medians.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5  # at least: a verdict is a median, never one sample


def netcfg(*args: str) -> list[str]:
    """The CLI as a user runs it, under this interpreter (and this checkout's code)."""
    return [sys.executable, "-m", "netcfg", "--quiet", *args]


def baseline(*args: str) -> list[str]:
    """A floor command of benchmarks/baselines.py."""
    return [sys.executable, str(ROOT / "benchmarks" / "baselines.py"), *args]


@dataclass(frozen=True, slots=True)
class Sample:
    """Wall seconds of each run, and the largest peak RSS of any run."""

    seconds: tuple[float, ...]
    peak_mib: float

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def min(self) -> float:
        return min(self.seconds)

    def as_dict(self) -> dict[str, Any]:
        return {"median_s": self.median, "min_s": self.min, "runs": len(self.seconds), "peak_mib": self.peak_mib}


def time_command(
    argv: Sequence[str],
    runs: int | None = None,
    setup: Callable[[], None] | None = None,
    ok: tuple[int, ...] = (0,),
    env: dict[str, str] | None = None,
) -> Sample:
    """Run `argv` `runs` times (`setup` before each, untimed); a run exiting outside `ok`
    is an error naming the command and its stderr."""
    seconds = []
    peak = 0
    for _ in range(runs or int(os.environ.get("NETCFG_BENCH_RUNS", RUNS))):
        if setup is not None:
            setup()
        start = time.perf_counter()
        child = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT, start_new_session=True
        )
        assert child.stderr is not None
        error = child.stderr.read()
        _, status, usage = os.wait4(child.pid, 0)
        seconds.append(time.perf_counter() - start)
        child.returncode = os.waitstatus_to_exitcode(status)
        peak = max(peak, usage.ru_maxrss)
        if child.returncode not in ok:
            tail = error.decode(errors="replace").strip().splitlines()[-3:]
            raise RuntimeError(f"{' '.join(map(str, argv[:6]))} ... exited {child.returncode}: {' | '.join(tail)}")
    return Sample(tuple(seconds), peak / 1024)


@dataclass(frozen=True, slots=True)
class Row:
    """One measured command against its baseline, and the target it is held to."""

    benchmark: str
    case: str
    command: Sample
    baseline_name: str = ""
    baseline: Sample | None = None
    target: str = ""
    ok: bool | None = None
    figures: dict[str, Any] = field(default_factory=dict)  # anything else worth printing

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline.median == 0:
            return None
        return self.command.median / self.baseline.median

    def as_dict(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "case": self.case,
            "command": self.command.as_dict(),
            "baseline_name": self.baseline_name,
            "baseline": self.baseline.as_dict() if self.baseline else None,
            "ratio": self.ratio,
            "target": self.target,
            "ok": self.ok,
            "figures": self.figures,
        }


def at_most(ratio: float | None, limit: float) -> bool | None:
    return None if ratio is None else ratio <= limit
