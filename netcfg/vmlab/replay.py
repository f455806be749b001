"""A plan replayed on the lab through the qemu driver, in dependency order: each step
starts as soon as every step it waits for has ended, and no new step starts once one
has failed (running ones finish), as `netcfg rollout run` does.

The dependencies are the plan's `after` lists. A plan without them (the naive plan of
examples/incident-2017, written before plans were graphs) gets the ones its timetable
implies: a step waits for every earlier step that touches one of its machines (a
migration touches its VM and both hypervisors) or, with the inventory, a member of
the same service, and that ended, in the plan, before it starts. Steps that overlap in
the timetable may overlap here too, so the replay keeps whatever the timetable
promised, and no more: the naive plan's simultaneous evacuations stay simultaneous.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from netcfg.model.inventory import Inventory
from netcfg.vmlab.protocol import Driver, Running, Step, StepKind, StepResult
from netcfg.vmlab.scale import Scale

POLL_S = 0.1
Say = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True, slots=True)
class Replay:
    results: Mapping[str, StepResult]  # step id -> how it ended; steps never started are absent
    started: Mapping[str, float]  # step id -> seconds from the replay's start
    ended: Mapping[str, float]
    makespan_s: float  # first start to last end
    stopped: bool  # a step failed, so some steps were never started

    @property
    def failed(self) -> list[str]:
        return [i for i, r in self.results.items() if not r.ok]


def steps_of(plan: Mapping[str, Any], inventory: Inventory | None = None) -> list[Step]:
    """The plan's steps, with their dependencies (given or implied by the timetable)."""
    steps: list[Step] = []
    for n, w in enumerate(plan.get("waves", [])):
        hosts = tuple(str(h) for h in w["hosts"])
        steps.append(_step(w, f"hot-{w.get('index', n)}", StepKind.HOT, hosts))
    for n, m in enumerate(plan.get("migrations", [])):
        steps.append(
            _step(
                m,
                f"migrate-{n}",
                StepKind.MIGRATION,
                (str(m["from"]), str(m["to"])),
                vm=str(m["vm"]),
                source=str(m["from"]),
                target=str(m["to"]),
            )
        )
    for m in plan.get("maintenance", []):
        steps.append(_step(m, f"maint-{m['host']}", StepKind.MAINTENANCE, (str(m["host"]),)))
    has_graph = all("after" in entry for key in ("waves", "migrations", "maintenance") for entry in plan.get(key, []))
    return steps if has_graph else _implied(steps, inventory)


def _step(entry: Mapping[str, Any], default_id: str, kind: StepKind, hosts: tuple[str, ...], **more: Any) -> Step:
    start, end = float(entry["start_s"]), float(entry["end_s"])
    return Step(
        id=str(entry.get("id", default_id)),
        kind=kind,
        after=tuple(str(a) for a in entry.get("after", ())),
        hosts=hosts,
        planned_start_s=start,
        planned_duration_s=end - start,
        **more,
    )


def _touches(step: Step, services: Mapping[str, str]) -> set[str]:
    machines = set(step.hosts) | ({step.vm} if step.vm else set())
    if step.kind is not StepKind.MIGRATION:
        machines |= {f"service:{services[m]}" for m in step.hosts if m in services}
    return machines


def _implied(steps: Sequence[Step], inventory: Inventory | None) -> list[Step]:
    services = {m.name: m.service for m in inventory.machines.values() if m.service} if inventory else {}
    touched = [_touches(s, services) for s in steps]
    implied = []
    for i, step in enumerate(steps):
        after = tuple(
            other.id
            for j, other in enumerate(steps)
            if j != i
            and other.planned_start_s + other.planned_duration_s <= step.planned_start_s
            and touched[i] & touched[j]
        )
        implied.append(
            Step(
                step.id,
                step.kind,
                after,
                step.hosts,
                step.vm,
                step.source,
                step.target,
                step.planned_start_s,
                step.planned_duration_s,
            )
        )
    return implied


def replay(driver: Driver, steps: Sequence[Step], say: Say = _quiet) -> Replay:
    """Run `steps` through `driver` in dependency order; returns when nothing runs."""
    pending = {s.id: s for s in steps}
    running: dict[str, Running] = {}
    results: dict[str, StepResult] = {}
    started: dict[str, float] = {}
    ended: dict[str, float] = {}
    stopped = False
    begin = time.monotonic()
    try:
        while pending or running:
            if not stopped:
                ready = [s for s in pending.values() if all(a in results and results[a].ok for a in s.after)]
                for step in sorted(ready, key=lambda s: (s.planned_start_s, s.id)):
                    del pending[step.id]
                    started[step.id] = time.monotonic() - begin
                    running[step.id] = driver.start(step)
                    say(f"{started[step.id]:7.1f} s start {step.id}")
                if not running and pending:
                    # Nothing runs and nothing can start: a step waits for one the plan lacks.
                    missing = sorted({a for s in pending.values() for a in s.after if a not in results})
                    raise ValueError(f"steps wait for steps that never run: {', '.join(missing[:5])}")
            if stopped and not running:
                break
            time.sleep(POLL_S)
            for step_id, handle in list(running.items()):
                result = handle.poll()
                if result is None:
                    continue
                del running[step_id]
                results[step_id] = result
                ended[step_id] = time.monotonic() - begin
                say(f"{ended[step_id]:7.1f} s {'done' if result.ok else 'FAILED'} {step_id}: {result.detail}")
                if not result.ok:
                    stopped = True
    except BaseException:
        for handle in running.values():
            handle.cancel()
        raise
    makespan = max(ended.values(), default=0.0) - min(started.values(), default=0.0)
    return Replay(results, started, ended, makespan, stopped or bool(pending))


def planned_hosts(plan: Mapping[str, Any], inventory: Inventory) -> dict[str, str]:
    """Where each VM of the inventory is when the plan has run: its last migration's
    target, or where it was."""
    where = {m.name: m.host for m in inventory.machines.values() if m.host}
    for m in sorted(plan.get("migrations", []), key=lambda m: float(m["end_s"])):
        where[str(m["vm"])] = str(m["to"])
    return {vm: host for vm, host in where.items() if host is not None}


@dataclass(frozen=True, slots=True)
class LabRun:
    """A plan replayed on a lab of its own: what happened to the VMs, and how long it took."""

    replay: Replay
    planned_makespan_s: float  # the plan's makespan on the lab's clock (divided by speedup)
    lost: tuple[str, ...]  # VMs whose QEMU is gone: OOM-killed
    misplaced: Mapping[str, tuple[str, str]]  # VM -> (where it runs, where the plan puts it)
    steps: int  # in the plan

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "steps_ok": sum(1 for r in self.replay.results.values() if r.ok),
            "steps_failed": self.replay.failed,
            "stopped": self.replay.stopped,
            "lost": list(self.lost),
            "misplaced": {vm: {"runs_on": a, "planned": b} for vm, (a, b) in self.misplaced.items()},
            "measured_makespan_s": round(self.replay.makespan_s, 1),
            "planned_makespan_s": round(self.planned_makespan_s, 1),
        }


def run_on_lab(
    inventory: Inventory,
    plan: Mapping[str, Any],
    name: str,
    *,
    run_dir: str,
    cache_dir: str,
    scale: Scale | None = None,
    jitter: tuple[float, float] | None = None,
    seed: int | None = None,
    say: Say = _quiet,
) -> LabRun:
    """Build a lab of `inventory`, replay `plan` on it, look where every VM ended, and
    take the lab down again (also on failure)."""
    from netcfg.vmlab import lab
    from netcfg.vmlab.driver import QemuDriver

    chosen = scale or Scale()
    steps = steps_of(plan, inventory)
    lab.up(inventory, name, scale=chosen, run_dir=run_dir, cache_dir=cache_dir, say=say)
    try:
        driver = QemuDriver(name, run_dir, jitter, seed)
        try:
            done = replay(driver, steps, say)
        finally:
            driver.close()
        status = lab.status(name, run_dir)
    finally:
        lab.down(name, run_dir=run_dir)
    lost = tuple(v.name for v in status.vms if v.state.value == "lost")
    planned = planned_hosts(plan, inventory)
    misplaced = {
        v.name: (v.host, planned[v.name]) for v in status.vms if v.name not in lost and v.host != planned.get(v.name)
    }
    return LabRun(done, chosen.seconds(float(plan.get("makespan_s", 0.0))), lost, misplaced, len(steps))
