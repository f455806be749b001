"""The rollout planner: waves for hot changes (waves.py), an evacuation for every
hypervisor with a disruptive change (evacuation.py), and a maintenance slot for every
other disruptive machine (a router only once the change has proved itself elsewhere,
and never two routers at once), judged against a lower bound (bounds.py); the timetable then
becomes a dependency graph (graph.py). The plan is checked by `netcfg.rollout.simulate`,
which shares none of this code.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace

from netcfg.errors import InputError
from netcfg.impact.model import ChangeClass
from netcfg.model.host import Kind
from netcfg.model.inventory import Inventory
from netcfg.problems import Problem
from netcfg.rollout.bounds import lower_bound_parts
from netcfg.rollout.evacuation import Evacuation, check_spare_memory, non_converging, where
from netcfg.rollout.graph import link
from netcfg.rollout.model import Change, Maintenance, Migration, Plan
from netcfg.rollout.waves import hot_waves


def plan_rollout(inventory: Inventory, changes: Iterable[Change]) -> Plan:
    """A plan for applying `changes` (touched machines, hot or disruptive) to `inventory`.

    Raises InputError naming the hosts and the memory missing when no evacuation can
    keep the capacity invariant."""
    changes = sorted(set(changes), key=_order)  # a key: the dataclass's own __lt__ is slow at 40k machines
    _check_changes(inventory, changes)
    # A machine listed twice is as disruptive as its worst entry.
    worst = {c.host: c.change for c in changes if c.change is ChangeClass.DISRUPTIVE}
    changes = sorted({Change(c.host, worst.get(c.host, c.change)) for c in changes}, key=_order)
    policy = inventory.policy.rollout
    hot = [c.host for c in changes if c.change is ChangeClass.HOT]
    disruptive = [c.host for c in changes if c.change is ChangeClass.DISRUPTIVE]

    waves = hot_waves(inventory, hot, policy.soak_s)
    kvm = [h for h in disruptive if inventory.machines[h].kind is Kind.KVM_HOST]
    others = [h for h in disruptive if inventory.machines[h].kind is not Kind.KVM_HOST]

    cannot_move = non_converging(inventory, kvm)
    held = tuple(sorted({n.host for n in cannot_move}))
    evacuate = [h for h in kvm if h not in held]
    check_spare_memory(inventory, evacuate)

    try:
        migrations, kvm_maintenance = Evacuation(inventory, evacuate, held).run()
    except InputError as stuck:
        # Mixed links: the fast hosts may have filled up with VMs any link carries,
        # leaving the VMs that converge only over a fast link nowhere to go. Try again
        # keeping room on fast hosts for them; if that fails too, report the first.
        try:
            migrations, kvm_maintenance = Evacuation(inventory, evacuate, held, keep_fast_room=True).run()
        except InputError:
            raise stuck from None
    # A router restarted before the change has proved itself elsewhere, or beside
    # another router, takes down the routing of whole segments: routers go one at a
    # time, after the canary wave has soaked (the canary soaks even when it is the only
    # wave), or without hot waves after the first other maintenance window has ended.
    routers = [h for h in others if inventory.machines[h].kind is Kind.ROUTER]
    if routers and waves and waves[0].soak_s < policy.soak_s:
        waves[0] = replace(waves[0], soak_s=float(policy.soak_s))
    maintenance = kvm_maintenance + _maintenance_slots(
        inventory, [h for h in others if h not in routers], migrations, kvm_maintenance
    )
    if waves:
        routers_from = waves[0].end_s + waves[0].soak_s
    else:
        routers_from = min((m.end_s for m in maintenance), default=0.0)
    maintenance += _maintenance_slots(inventory, routers, migrations, maintenance, routers_from, one_at_a_time=True)
    ends = [w.end_s for w in waves] + [m.end_s for m in migrations] + [m.end_s for m in maintenance]
    scheduled = [h for h in disruptive if h not in held]
    parts = lower_bound_parts(inventory, waves, evacuate, scheduled)
    timetable = Plan(
        waves=tuple(waves),
        migrations=tuple(sorted(migrations, key=lambda m: (m.start_s, m.source, m.vm))),
        maintenance=tuple(sorted(maintenance, key=lambda m: (m.start_s, m.host))),
        makespan_s=max(ends, default=0.0),
        lower_bound_s=max((v for k, v in parts if not k.endswith("(GiB)")), default=0.0),
        non_converging=tuple(cannot_move),
        unscheduled=held,
        lower_bound_parts=tuple(parts),
    )
    return link(timetable, inventory)


def _order(change: Change) -> tuple[str, str]:
    return change.host, str(change.change)


def _check_changes(inventory: Inventory, changes: Sequence[Change]) -> None:
    problems = []
    for c in changes:
        machine = inventory.machines.get(c.host)
        if machine is None:
            problems.append(Problem(where(inventory), f"touched host {c.host!r} is not in the inventory"))
        if not isinstance(c.change, ChangeClass):
            problems.append(
                Problem(where(inventory), f"{c.host}: unknown change kind {c.change!r}", "hot or disruptive")
            )
    if problems:
        raise InputError(problems)


def _free_after(start: float, duration: float, busy: list[tuple[float, float]]) -> float:
    """Earliest t >= start with [t, t+duration) overlapping none of `busy` (sorted)."""
    t = start
    for b_start, b_end in busy:
        if b_end <= t:
            continue
        if b_start >= t + duration:
            break
        t = b_end
    return t


def _maintenance_slots(
    inventory: Inventory,
    hosts: Sequence[str],
    migrations: Sequence[Migration],
    fixed: Sequence[Maintenance],
    start: float = 0.0,
    one_at_a_time: bool = False,
) -> list[Maintenance]:
    """Each machine gets `reconfigure_s` from `start` on; members of one service never
    together; a VM never while it migrates; with `one_at_a_time`, never two of `hosts`
    together."""
    if not hosts:
        return []  # no routers, say: 40,000 migrations need not be gathered for nothing
    duration = float(inventory.policy.rollout.reconfigure_s)
    moving: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for m in migrations:
        moving[m.vm].append((m.start_s, m.end_s))
    service_busy: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for window in fixed:
        service = inventory.machines[window.host].service
        if service:
            service_busy[service].append((window.start_s, window.end_s))
    taken: list[tuple[float, float]] = []
    slots = []
    for name in sorted(hosts, key=lambda h: (inventory.machines[h].service or "", h)):
        service = inventory.machines[name].service
        busy = sorted(moving.get(name, []) + (service_busy[service] if service else []) + taken)
        begin = _free_after(start, duration, busy)
        slots.append(Maintenance(name, begin, begin + duration))
        if service:
            service_busy[service].append((begin, begin + duration))
        if one_at_a_time:
            taken.append((begin, begin + duration))
    return slots
