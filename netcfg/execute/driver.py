"""The driver protocol: what the executor needs of whatever does a step's work.

The executor knows the plan's graph and when a step may start; a driver knows how to
move a VM or reconfigure a host (virsh, a command template, the VM lab over QMP). A
driver starts a step and returns at once; the executor polls what it started, so one
thread runs any number of steps and a signal is noticed within one poll.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class StepKind(enum.Enum):
    HOT = "hot"  # a wave of hosts whose change applies live
    MIGRATION = "migration"  # one VM live-migrated from one hypervisor to another
    MAINTENANCE = "maintenance"  # one host reconfigured in a window


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    kind: StepKind
    after: tuple[str, ...]
    hosts: tuple[str, ...]  # HOT: the wave's hosts; MAINTENANCE: (host,); MIGRATION: (from, to)
    vm: str | None = None  # MIGRATION only
    source: str | None = None  # MIGRATION: "from"
    target: str | None = None  # MIGRATION: "to"
    planned_start_s: float = 0.0
    planned_duration_s: float = 0.0
    soak_s: float = 0.0  # HOT: how long its dependants wait after it ends (the plan's clock)


@dataclass(frozen=True, slots=True)
class StepResult:
    ok: bool
    detail: str = ""  # one line: why it failed, or what was measured


class Running(Protocol):
    def poll(self) -> StepResult | None:
        """Non-blocking; None while the step still runs."""
        ...

    def cancel(self) -> None:
        """Best effort: stop the step (cancel a migration); poll reports how it ended."""
        ...


class Driver(Protocol):
    name: str

    def start(self, step: Step) -> Running:
        """Start `step` and return at once: the work happens in the background."""
        ...

    def recheck(self, step: Step) -> StepResult | None:
        """For --resume, a step journaled as started and not ended OK: StepResult(ok=True)
        when its effect is already in place (the VM already runs on its target), None to
        run it again."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Clocked(Protocol):
    """A driver whose steps run on a clock of their own (the VM lab runs the plan's
    clock faster): the executor asks it how long the plan's waits last."""

    def real_seconds(self, plan_seconds: float) -> float: ...
