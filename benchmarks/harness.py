"""Timing whole processes: what a user waits for, start-up and imports included.

Every row of the benchmarks is a command run through the CLI several times beside a
baseline command doing the floor of the same work (ip -batch, cp -r, loading the YAML),
in the same run and by turns (time_pair), so a busy machine slows both alike. Verdicts
come from medians.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5  # at least: a verdict is a median, never one sample
# Rows of a fraction of a second take this many at least: on this machine a median of 5
# moved by a tenth between two runs of the benchmark, and 21 runs cost seconds.
SHORT_RUNS = 21


def netcfg(*args: str) -> list[str]:
    """The CLI as a user runs it: the installed `netcfg` beside this interpreter (runpy's
    `python -m` costs a few milliseconds more), else this checkout's code under it."""
    script = Path(sys.executable).parent / "netcfg"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "netcfg"]
    return [*command, "--quiet", *args]


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


@dataclass(frozen=True, slots=True)
class Run:
    """A command to time: `setup` runs before each run, untimed; an exit outside `ok`
    is an error naming the command and its stderr."""

    argv: Sequence[str]
    setup: Callable[[], None] | None = None
    ok: tuple[int, ...] = (0,)
    env: dict[str, str] | None = None


def time_command(
    argv: Sequence[str],
    runs: int | None = None,
    setup: Callable[[], None] | None = None,
    ok: tuple[int, ...] = (0,),
    env: dict[str, str] | None = None,
) -> Sample:
    """Run `argv` `runs` times."""
    return _time([Run(argv, setup, ok, env)], runs)[0]


def time_pair(command: Run, floor: Run, runs: int | None = None) -> tuple[Sample, Sample]:
    """A command and its floor, run by turns: this machine's speed drifts over minutes,
    and taking turns slows both alike (all runs of one, then all of the other, can put
    them on either side of a drift)."""
    command_sample, floor_sample = _time([command, floor], runs)
    return command_sample, floor_sample


def configured_runs() -> int:
    """Runs per command: `run.py --runs N` (NETCFG_BENCH_RUNS), else RUNS."""
    return int(os.environ.get("NETCFG_BENCH_RUNS", RUNS))


def short_runs() -> int:
    """Runs per command of a row that takes a fraction of a second (SHORT_RUNS at least)."""
    return max(SHORT_RUNS, configured_runs())


def _time(commands: Sequence[Run], runs: int | None) -> list[Sample]:
    seconds: list[list[float]] = [[] for _ in commands]
    peaks = [0.0] * len(commands)
    for _ in range(runs or configured_runs()):
        for i, run in enumerate(commands):
            done = _once(run)
            seconds[i].append(done.seconds)
            peaks[i] = max(peaks[i], done.peak_mib)
    return [Sample(tuple(s), peak) for s, peak in zip(seconds, peaks, strict=True)]


def _once(run: Run) -> Finished:
    """One run of `run`, after its setup; an exit outside `run.ok` is an error."""
    if run.setup is not None:
        run.setup()
    done = run_once(run.argv, run.env, keep_stdout=False)
    if done.returncode not in run.ok:
        tail = done.stderr.strip().splitlines()[-3:]
        raise RuntimeError(f"{' '.join(map(str, run.argv[:6]))} ... exited {done.returncode}: {' | '.join(tail)}")
    return done


@dataclass(frozen=True, slots=True)
class Finished:
    """One whole process: wall and CPU seconds, its own peak RSS (with what it waited
    for), exit code and output."""

    seconds: float
    cpu_s: float
    peak_mib: float
    returncode: int
    stdout: str
    stderr: str


def run_once(
    argv: Sequence[str], env: dict[str, str] | None = None, cwd: Path = ROOT, keep_stdout: bool = True
) -> Finished:
    """Run `argv` once in a session of its own, its stderr kept, and its stdout unless
    `keep_stdout` is false (a timed row's report goes to /dev/null, as it always did).
    The peak is this child's (wait4): RUSAGE_CHILDREN would give the largest child this
    benchmark process ever had, in run.py the 100,000-machine check's."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out if keep_stdout else subprocess.DEVNULL,
            stderr=err,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, for wait4's rusage
        out.seek(0)
        err.seek(0)
        return Finished(
            seconds,
            usage.ru_utime + usage.ru_stime,
            usage.ru_maxrss / 1024,
            child.returncode,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
        )


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
