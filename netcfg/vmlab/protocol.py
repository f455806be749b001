"""The executor's driver protocol (docs: the shared interface of `netcfg rollout run`),
copied here until netcfg/execute/driver.py lands on main; then the driver imports it
from there and this module goes."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


class StepKind(enum.Enum):
    HOT = "hot"
    MIGRATION = "migration"
    MAINTENANCE = "maintenance"


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


@dataclass(frozen=True, slots=True)
class StepResult:
    ok: bool
    detail: str = ""  # one line: why it failed, or what was measured


class Running(Protocol):
    def poll(self) -> StepResult | None: ...

    def cancel(self) -> None: ...


class Driver(Protocol):
    name: str

    def start(self, step: Step) -> Running: ...

    def recheck(self, step: Step) -> StepResult | None: ...

    def close(self) -> None: ...
