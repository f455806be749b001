"""Walking a plan's step graph: a step starts when every step it waits for has ended OK.

One thread: the executor starts steps through a driver, polls what runs, and journals
every start (before the driver is asked) and every end. The first failure stops all
new starts; what already runs finishes. A stop request (Ctrl-C, SIGTERM, SIGHUP) does
the same (a step made of several processes, a hot wave run host by host, starts no more
of them); a second one cancels the running migrations through the driver (a maintenance
or hot step cut short could leave a host half reconfigured: it is waited for); a third
stops waiting.
The plan's `limits`, when present, are a safety net over its dependencies: a step they
hold back waits even when its dependencies have ended.
"""

from __future__ import annotations

import enum
import os
import select
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Protocol

from netcfg.execute.driver import Clocked, Driver, Running, Step, StepKind, StepResult
from netcfg.execute.graph import Limits, StepGraph, dependents_of
from netcfg.execute.journal import Journal, JournalState
from netcfg.words import plural

POLL_MIN_S = 0.002  # right after something happened: short steps end soon
POLL_MAX_S = 0.1  # nothing happening: a signal or an end is noticed within this


class State(enum.Enum):
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    NOT_STARTED = "not_started"


@dataclass(frozen=True, slots=True)
class StepOutcome:
    step: Step
    state: State
    actual_s: float | None
    detail: str


@dataclass(frozen=True, slots=True)
class Outcome:
    steps: tuple[StepOutcome, ...]  # in plan order
    elapsed_s: float  # this run, first start to last end
    planned_makespan_s: float
    interrupted: bool  # a stop request came
    stuck: bool  # the plan's limits held back every ready step with nothing running
    clock: float = 1.0  # the driver's seconds per plan second (the VM lab runs faster)

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(o.step.id for o in self.steps if o.state is State.FAILED)

    @property
    def complete(self) -> bool:
        return all(o.state is State.DONE for o in self.steps)


class Watcher(Protocol):
    """Who is told what happens (the CLI's progress view); the executor prints nothing."""

    def started(self, step: Step) -> None: ...
    def ended(self, step: Step, state: State, detail: str, actual_s: float) -> None: ...
    def notice(self, text: str) -> None: ...
    def tick(self, elapsed_s: float, running: Mapping[str, float]) -> None: ...


@dataclass(slots=True)
class Stop:
    """How many times a stop was asked for (signals, or a caller), and how the executor
    waits between polls: woken at once by any signal with a handler (a child's exit,
    SIGCHLD, or a stop request) when `stop_signals` set up a wake-up pipe."""

    requests: int = 0
    signal_name: str = ""
    wakeup: int | None = None  # read end of the signal wake-up pipe

    def wait(self, seconds: float) -> None:
        if self.wakeup is None:
            time.sleep(seconds)
            return
        if select.select([self.wakeup], [], [], seconds)[0]:
            try:
                while os.read(self.wakeup, 512):
                    pass
            except BlockingIOError:
                pass  # drained


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def stop_signals() -> Iterator[Stop]:
    """SIGINT, SIGTERM and SIGHUP count as stop requests instead of ending the process:
    the executor decides what happens to the steps that run. SIGCHLD and those three
    wake the executor's wait at once, so a short step's end is seen when it comes.
    Previous handlers are put back on exit. Python delivers signals to the main thread
    only: elsewhere nothing is installed and the executor polls on its own."""
    stop = Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.requests += 1
        stop.signal_name = signal.Signals(signum).name

    def child_exited(signum: int, frame: FrameType | None) -> None:
        pass  # the wake-up pipe has done its work

    read_end, write_end = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    previous = {sig: signal.getsignal(sig) for sig in (*STOP_SIGNALS, signal.SIGCHLD)}
    previous_wakeup = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    for sig in STOP_SIGNALS:
        signal.signal(sig, handler)
    signal.signal(signal.SIGCHLD, child_exited)
    stop.wakeup = read_end
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)
        signal.set_wakeup_fd(previous_wakeup)
        os.close(read_end)
        os.close(write_end)


# ------------------------------------------------------------------ what may start


@dataclass(slots=True)
class _Load:
    """What runs now, as the limits count it."""

    per_host: dict[str, int]  # migrations touching each host
    evacuating: set[str]  # hosts with a migration away started and one not yet ended OK


def choose(ready: list[Step], limits: Limits, load: _Load) -> list[Step]:
    """Of the `ready` steps (in the order they should go), those the limits let start
    now; `load` is updated for what is chosen."""
    chosen = []
    for step in ready:
        if step.kind is StepKind.MIGRATION:
            assert step.source is not None and step.target is not None
            cap = limits.max_migrations_per_host
            if cap is not None and (
                load.per_host.get(step.source, 0) >= cap or load.per_host.get(step.target, 0) >= cap
            ):
                continue
            evac = limits.max_parallel_evacuations
            if evac is not None and step.source not in load.evacuating and len(load.evacuating) >= evac:
                continue
            for h in (step.source, step.target):
                load.per_host[h] = load.per_host.get(h, 0) + 1
            load.evacuating.add(step.source)
        chosen.append(step)
    return chosen


# ------------------------------------------------------------------ the run


class _Quiet:
    def started(self, step: Step) -> None:
        pass

    def ended(self, step: Step, state: State, detail: str, actual_s: float) -> None:
        pass

    def notice(self, text: str) -> None:
        pass

    def tick(self, elapsed_s: float, running: Mapping[str, float]) -> None:
        pass


def run(
    graph: StepGraph,
    driver: Driver,
    journal: Journal,
    earlier: JournalState | None = None,
    stop: Stop | None = None,
    watcher: Watcher | None = None,
) -> Outcome:
    """Execute `graph` through `driver`, journaling into `journal` (already begun)."""
    return _Run(graph, driver, journal, earlier, stop or Stop(), watcher or _Quiet()).execute()


class _Run:
    def __init__(
        self,
        graph: StepGraph,
        driver: Driver,
        journal: Journal,
        earlier: JournalState | None,
        stop: Stop,
        watcher: Watcher,
    ):
        self.graph, self.driver, self.journal, self.stop, self.watcher = graph, driver, journal, stop, watcher
        self.earlier = earlier
        self.by_id = graph.by_id()
        self.order = {s.id: n for n, s in enumerate(graph.steps)}
        # The order ready steps go in: planned start, then plan order (ranked once).
        ranked = sorted(graph.steps, key=lambda s: (s.planned_start_s, self.order[s.id]))
        self.rank = {s.id: n for n, s in enumerate(ranked)}
        self.outcomes: dict[str, StepOutcome] = {}
        self.running: dict[str, tuple[Running, float]] = {}  # id -> (running, started at t)
        self.cancelling: set[str] = set()
        self.waiting = {s.id: len(s.after) for s in graph.steps}
        self.dependents: dict[str, list[str]] = {}
        for s in graph.steps:
            for a in s.after:
                self.dependents.setdefault(a, []).append(s.id)
        self.ready: set[str] = set()
        self.out_total: dict[str, int] = {}
        for s in graph.steps:
            if s.kind is StepKind.MIGRATION and s.source is not None:
                self.out_total[s.source] = self.out_total.get(s.source, 0) + 1
        self.out_done: dict[str, int] = {}
        self.out_started: dict[str, int] = {}
        self.soaking: dict[str, float] = {}  # a done hot wave -> when its dependants may start
        self.halted_by: str | None = None  # the first failed step: nothing starts after it
        self.stuck = False
        self.first_start: float | None = None

    # -- bookkeeping

    def _done(self, step: Step, outcome: StepOutcome, soak_s: float = 0.0) -> None:
        self.outcomes[step.id] = outcome
        self.ready.discard(step.id)  # done in an earlier run, after its own were
        if outcome.state is not State.DONE:
            return
        if step.kind is StepKind.MIGRATION and step.source is not None:
            self.out_done[step.source] = self.out_done.get(step.source, 0) + 1
        if soak_s > 0 and self.dependents.get(step.id):
            self.soaking[step.id] = time.monotonic() + soak_s
            self.watcher.notice(f"{step.id} soaks {soak_s:.0f} s before the steps after it start")
            return
        self._release(step.id)

    def _release(self, step_id: str) -> None:
        for d in self.dependents.get(step_id, ()):
            self.waiting[d] -= 1
            if self.waiting[d] == 0 and d not in self.outcomes:
                self.ready.add(d)

    def _soaked(self) -> bool:
        """Release the dependants of the waves whose soak is over; whether any was."""
        now = time.monotonic()
        over = [i for i, until in self.soaking.items() if until <= now]
        for step_id in over:
            del self.soaking[step_id]
            self._release(step_id)
        return bool(over)

    def _soak_s(self, step: Step) -> float:
        return self._real_seconds(step.soak_s)

    def _real_seconds(self, plan_seconds: float) -> float:
        if isinstance(self.driver, Clocked):
            return self.driver.real_seconds(plan_seconds)
        return plan_seconds

    def _load(self) -> _Load:
        per_host: dict[str, int] = {}
        for step_id in self.running:
            step = self.by_id[step_id]
            if step.kind is StepKind.MIGRATION:
                for h in step.hosts:
                    per_host[h] = per_host.get(h, 0) + 1
        evacuating = {
            h
            for h, started in self.out_started.items()
            if started and self.out_done.get(h, 0) < self.out_total.get(h, 0)
        }
        return _Load(per_host, evacuating)

    # -- the phases

    def execute(self) -> Outcome:
        try:
            self._resume()
            for step in self.graph.steps:
                if step.id not in self.outcomes and self.waiting[step.id] == 0:
                    self.ready.add(step.id)
            self._loop()
        finally:
            for running, _ in self.running.values():  # only after an unexpected error
                _cancel(running)
            self.driver.close()
        return self._outcome()

    def _resume(self) -> None:
        """Steps earlier runs finished are done; one started and not ended OK is asked
        about (driver.recheck): in place, it is journaled as ended; else it runs again."""
        if self.earlier is None:
            return
        for step in self.graph.steps:
            before = self.earlier.steps.get(step.id)
            if before is None:
                continue
            if before.ok:
                # A wave's soak goes on from when it ended, not from now, nor skipped:
                # a Ctrl-C and --resume must not cut a canary's soak short.
                soak = self._soak_s(step)
                if soak > 0:
                    since = time.time() - before.ended_at if before.ended_at is not None else 0.0
                    soak = max(0.0, soak - max(0.0, since))
                self._mark_earlier(step, before.actual_s, before.detail or "done in an earlier run", soak)
                continue
            try:
                result = self.driver.recheck(step)
            except Exception as error:  # a driver's trouble is this step's, not the run's
                result = StepResult(False, _error(error))
            if result is not None and result.ok:
                detail = f"rechecked: {result.detail}" if result.detail else "rechecked: already in place"
                self.journal.append("end", step.id, step.kind.value, True, detail)
                self._mark_earlier(step, None, detail)

    def _mark_earlier(self, step: Step, actual_s: float | None, detail: str, soak_s: float = 0.0) -> None:
        if step.kind is StepKind.MIGRATION and step.source is not None:
            self.out_started[step.source] = self.out_started.get(step.source, 0) + 1
        self._done(step, StepOutcome(step, State.DONE, actual_s, detail), soak_s)

    def _loop(self) -> None:
        interval = POLL_MIN_S
        changed = True
        announced = 0
        while True:
            changed |= self._reap()
            changed |= self._soaked()
            if self.stop.requests > announced:
                announced = self.stop.requests
                changed = True
                if self._on_stop(announced):
                    return
            if changed and self.halted_by is None and not self.stop.requests:
                self._start_ready()
            going_on = self.halted_by is None and not self.stop.requests
            if not self.running and not (self.soaking and going_on):
                if self.ready and going_on:
                    self.stuck = True
                return
            self.watcher.tick(self.journal.elapsed(), {i: t for i, (_, t) in self.running.items()})
            interval = POLL_MIN_S if changed else min(POLL_MAX_S, interval * 2)
            if self.soaking:
                interval = max(0.0, min(interval, min(self.soaking.values()) - time.monotonic()))
            changed = False
            self.stop.wait(interval)

    def _on_stop(self, requests: int) -> bool:
        """React to the n-th stop request; True to stop waiting at once."""
        name = self.stop.signal_name or "a stop request"
        migrations = [i for i in self.running if self.by_id[i].kind is StepKind.MIGRATION]
        if requests == 1:
            for step_id, (running, _) in self.running.items():
                hold = getattr(running, "hold", None)
                if hold is not None:
                    self.cancelling.add(step_id)  # what it leaves unstarted is not a failure
                    hold()
            if self.running:
                self.watcher.notice(
                    f"{name}: starting no more steps; waiting for {len(self.running)} running"
                    + (" (Ctrl-C again cancels the running migrations)" if migrations else "")
                )
            return False
        if requests == 2:
            others = len(self.running) - len(migrations)
            waiting = f"waiting for {plural(others, 'running step')} (Ctrl-C again stops waiting)"
            if not migrations:
                self.watcher.notice(f"{name} again: no migration to cancel; {waiting}")
            else:
                self.watcher.notice(
                    f"{name} again: cancelling {plural(len(migrations), 'running migration')}"
                    + (f"; {waiting}" if others else "")
                )
            for step_id in migrations:
                self.cancelling.add(step_id)
                _cancel(self.running[step_id][0])
            return False
        self.watcher.notice(f"{name} a third time: not waiting for {len(self.running)} steps")
        for step_id, (_, started) in list(self.running.items()):
            self._end(step_id, StepResult(False, "abandoned: netcfg stopped waiting for it"), started, State.CANCELLED)
        return True

    def _start_ready(self) -> None:
        ready = [self.by_id[i] for i in sorted(self.ready, key=self.rank.__getitem__)]
        for step in choose(ready, self.graph.limits, self._load()):
            self.ready.discard(step.id)
            t = self.journal.append("start", step.id, step.kind.value)
            if self.first_start is None:
                self.first_start = t
            if step.kind is StepKind.MIGRATION and step.source is not None:
                self.out_started[step.source] = self.out_started.get(step.source, 0) + 1
            self.watcher.started(step)
            try:
                running: Running = self.driver.start(step)
            except Exception as error:
                running = _Failed(StepResult(False, _error(error)))
            self.running[step.id] = (running, t)

    def _reap(self) -> bool:
        changed = False
        for step_id, (running, started) in list(self.running.items()):
            try:
                result = running.poll()
            except Exception as error:
                result = StepResult(False, _error(error))
            if result is None:
                continue
            changed = True
            if result.ok:
                state = State.DONE
            elif step_id in self.cancelling:
                state = State.CANCELLED
            else:
                state = State.FAILED
            self._end(step_id, result, started, state)
        return changed

    def _end(self, step_id: str, result: StepResult, started: float, state: State) -> None:
        step = self.by_id[step_id]
        detail = result.detail if state is not State.CANCELLED or result.detail else "cancelled"
        t = self.journal.append("end", step_id, step.kind.value, result.ok, detail)
        del self.running[step_id]
        if state is State.FAILED and self.halted_by is None:
            self.halted_by = step_id
            if self.running:
                self.watcher.notice(
                    f"{step_id} failed: starting no more steps; waiting for {len(self.running)} running"
                )
        self.watcher.ended(step, state, detail, t - started)
        self._done(step, StepOutcome(step, state, t - started, detail), self._soak_s(step))

    def _outcome(self) -> Outcome:
        broken = [s.id for s in self.graph.steps if self.outcomes.get(s.id, _NONE).state in _BROKEN]
        cause: dict[str, str] = {}
        for b in broken:  # a step waiting on several broken ones names the first in plan order
            for d in dependents_of(self.graph.steps, {b}):
                cause.setdefault(d, b)
        results = []
        for step in self.graph.steps:
            outcome = self.outcomes.get(step.id)
            if outcome is None:
                outcome = StepOutcome(step, State.NOT_STARTED, None, self._why_not(cause.get(step.id)))
            results.append(outcome)
        end = self.journal.elapsed()
        return Outcome(
            steps=tuple(results),
            elapsed_s=end - (self.first_start if self.first_start is not None else end),
            planned_makespan_s=self.graph.planned_makespan_s,
            interrupted=self.stop.requests > 0,
            stuck=self.stuck,
            clock=self._real_seconds(1.0),
        )

    def _why_not(self, cause: str | None) -> str:
        if cause is not None:
            return f"waits for {cause}, which did not end OK"
        if self.stop.requests:
            return "not started: interrupted"
        if self.halted_by is not None:
            return f"not started: the run stopped when {self.halted_by} failed"
        if self.stuck:
            return "held back: the plan's limits and its dependencies leave nothing that may start"
        return "not started"


_BROKEN = (State.FAILED, State.CANCELLED)
_NONE = StepOutcome(Step("", StepKind.HOT, (), ()), State.NOT_STARTED, None, "")


class _Failed:
    """A step whose driver could not start it."""

    def __init__(self, result: StepResult):
        self._result = result

    def poll(self) -> StepResult | None:
        return self._result

    def cancel(self) -> None:
        pass


def _cancel(running: Running) -> None:
    try:
        running.cancel()
    except Exception:
        pass  # best effort, as the protocol says: poll tells how the step ended


def _error(error: Exception) -> str:
    return f"driver error: {type(error).__name__}: {error}"
