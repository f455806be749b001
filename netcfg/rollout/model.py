"""The rollout plan as data: frozen values, and their JSON form (the plan file).

The JSON keys are the contract of docs/design.md ("The rollout") and of `netcfg simulate`,
which reads a plan file with its own code; `to_dict` and `plan_from_dict` are the
only places that know the key names.

A plan is a dependency graph: every step (a hot wave, a migration, a maintenance) has an
`id` and the ids it waits for (`after`); the times are the projection of that graph
under the estimates (netcfg.rollout.graph derives the dependencies).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from netcfg.errors import InputError
from netcfg.impact.model import ChangeClass
from netcfg.problems import Location, Problem


@dataclass(frozen=True, slots=True, order=True)
class Change:
    """One touched machine and how badly: the planner's whole input besides the inventory."""

    host: str
    change: ChangeClass


@dataclass(frozen=True, slots=True)
class Wave:
    """Hosts whose hot change is applied together, then left to soak."""

    index: int
    start_s: float
    end_s: float
    hosts: tuple[str, ...]
    soak_s: float = 0.0  # how long the next wave waits after this one ends
    id: str = ""
    after: tuple[str, ...] = ()
    canary: bool = False  # one low-risk machine per segment, watched before the rest

    @property
    def name(self) -> str:
        return "canary" if self.canary else f"wave {self.index}"


@dataclass(frozen=True, slots=True)
class Migration:
    vm: str
    source: str
    target: str
    start_s: float
    end_s: float
    gib: float
    data_gib: float = 0.0  # what pre-copy sends, dirtied pages included
    rate_mib_s: float = 0.0  # the bandwidth the planner assumed
    id: str = ""
    after: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Maintenance:
    host: str
    start_s: float
    end_s: float
    id: str = ""
    after: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Limits:
    """What an executor must never exceed, whatever the timing: the dependencies already
    keep it, this is the safety net an executor may check too."""

    max_parallel_evacuations: int
    max_migrations_per_host: int


@dataclass(frozen=True, slots=True)
class NonConverging:
    """A VM whose pre-copy migration never converges: the operator must act."""

    vm: str
    host: str
    dirty_mib_s: float
    rate_mib_s: float
    advice: str


@dataclass(frozen=True, slots=True)
class Plan:
    waves: tuple[Wave, ...]
    migrations: tuple[Migration, ...]
    maintenance: tuple[Maintenance, ...]
    makespan_s: float
    lower_bound_s: float
    non_converging: tuple[NonConverging, ...] = ()
    unscheduled: tuple[str, ...] = ()  # hosts left out until the operator acts
    lower_bound_parts: tuple[tuple[str, float], ...] = ()  # which bound is which
    limits: Limits | None = None

    @property
    def ratio(self) -> float:
        return self.makespan_s / self.lower_bound_s if self.lower_bound_s > 0 else 1.0

    @property
    def evacuated(self) -> tuple[str, ...]:
        return tuple(sorted({m.source for m in self.migrations}))

    def to_dict(self) -> dict[str, Any]:
        return {
            "waves": [
                {
                    "id": w.id,
                    "index": w.index,
                    "start_s": _r(w.start_s),
                    "end_s": _r(w.end_s),
                    "hosts": list(w.hosts),
                    "soak_s": _r(w.soak_s),
                    "canary": w.canary,
                    "after": list(w.after),
                }
                for w in self.waves
            ],
            "migrations": [
                {
                    "id": m.id,
                    "vm": m.vm,
                    "from": m.source,
                    "to": m.target,
                    "start_s": _r(m.start_s),
                    "end_s": _r(m.end_s),
                    "gib": m.gib,
                    "data_gib": _r(m.data_gib),
                    "rate_mib_s": _r(m.rate_mib_s),
                    "after": list(m.after),
                }
                for m in self.migrations
            ],
            "maintenance": [
                {"id": m.id, "host": m.host, "start_s": _r(m.start_s), "end_s": _r(m.end_s), "after": list(m.after)}
                for m in self.maintenance
            ],
            "makespan_s": _r(self.makespan_s),
            "lower_bound_s": _r(self.lower_bound_s),
            "ratio": round(self.ratio, 4),
            "lower_bound_parts": {k: _r(v) for k, v in self.lower_bound_parts},
            "non_converging": [
                {
                    "vm": n.vm,
                    "host": n.host,
                    "dirty_mib_s": n.dirty_mib_s,
                    "rate_mib_s": _r(n.rate_mib_s),
                    "advice": n.advice,
                }
                for n in self.non_converging
            ],
            "unscheduled": list(self.unscheduled),
        } | (
            {
                "limits": {
                    "max_parallel_evacuations": self.limits.max_parallel_evacuations,
                    "max_migrations_per_host": self.limits.max_migrations_per_host,
                }
            }
            if self.limits is not None
            else {}
        )


def plan_text(data: dict[str, Any]) -> str:
    """The plan file: one step per line. Readable, diffable, and written by json's C
    encoder (`indent` makes json fall back to pure Python: a second for 40,000 steps)."""
    compact = json.JSONEncoder(separators=(", ", ": "), ensure_ascii=False).encode
    lines = []
    for key, value in data.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            inner = ",\n".join("  " + compact(v) for v in value)
            lines.append(f" {compact(key)}: [\n{inner}\n ]")
        else:
            lines.append(f" {compact(key)}: {compact(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _r(value: float) -> float:
    # Milliseconds are plenty; rounding keeps plan files byte-stable and readable.
    return round(float(value), 3)


def plan_from_dict(data: Any, source: str = "<plan>") -> Plan:
    """Read a plan file's JSON; raises InputError naming the first malformed entry.
    `id` and `after` are optional (a plan written by hand or by an older netcfg)."""
    where = Location(source)
    try:
        waves = tuple(
            Wave(
                int(w["index"]),
                float(w["start_s"]),
                float(w["end_s"]),
                tuple(str(h) for h in w["hosts"]),
                float(w.get("soak_s", 0.0)),
                *_step(w),
                bool(w.get("canary", int(w["index"]) == 0)),  # older plans: wave 0 was always the canary
            )
            for w in data.get("waves", [])
        )
        migrations = tuple(
            Migration(
                str(m["vm"]),
                str(m["from"]),
                str(m["to"]),
                float(m["start_s"]),
                float(m["end_s"]),
                float(m["gib"]),
                float(m.get("data_gib", 0.0)),
                float(m.get("rate_mib_s", 0.0)),
                *_step(m),
            )
            for m in data["migrations"]
        )
        maintenance = tuple(
            Maintenance(str(m["host"]), float(m["start_s"]), float(m["end_s"]), *_step(m)) for m in data["maintenance"]
        )
        makespan = float(data.get("makespan_s", 0.0))
        lower = float(data.get("lower_bound_s", 0.0))
        unscheduled = tuple(str(h) for h in data.get("unscheduled", []))
        limits_data = data.get("limits")
        limits = (
            Limits(int(limits_data["max_parallel_evacuations"]), int(limits_data["max_migrations_per_host"]))
            if limits_data is not None
            else None
        )
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as error:
        raise InputError(
            [Problem(where, f"not a plan file: bad or missing {error}", "expected keys waves, migrations, maintenance")]
        ) from None
    return Plan(waves, migrations, maintenance, makespan, lower, unscheduled=unscheduled, limits=limits)


def _step(entry: Any) -> tuple[str, tuple[str, ...]]:
    after = entry.get("after", [])
    if not isinstance(after, list):
        raise TypeError("after: expected a list of step ids")
    return str(entry.get("id", "")), tuple(str(a) for a in after)
