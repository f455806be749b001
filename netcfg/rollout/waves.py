"""Hot changes: a canary, then growing waves with soak time between them, by risk.

- The canary holds one low-risk machine per segment the change touches: VMs first,
  then physical hosts; a hypervisor or a router only when the change touches nothing
  else. Among machines of one kind, one whose service has other members (they carry
  the load while it is watched) before a service's only member, then the machine that
  covers the most segments not yet covered, then the name; a machine that would make
  the canary hold every member of its service only when its segment offers no other.
  The canary never holds a whole service: its riskiest member is then left out, and
  the canary is chosen again without it.
- The other machines follow by risk (VMs, physical hosts, hypervisors, routers): a
  hypervisor or a router comes only after every VM and physical host, so they fill the
  last waves. Members of one service are spread: by the share of their service already
  changed, so each service's first member comes before any service's second.
- No wave holds every member of a service (of two or more machines): one moves to the
  next wave.
- Sizes from policy `rollout.waves` (netcfg.model.waves; default canary, 5 %, 25 %,
  rest). Never every machine in one wave.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from netcfg.model.host import Kind
from netcfg.model.inventory import Inventory, Machine
from netcfg.model.waves import wave_plan
from netcfg.rollout.estimate import HOT_S
from netcfg.rollout.model import Wave

RISK = {Kind.VM: 0, Kind.PHYSICAL: 1, Kind.KVM_HOST: 2, Kind.ROUTER: 3}
LOW_RISK = 1  # VMs and physical hosts


def hot_waves(inventory: Inventory, hosts: Sequence[str], soak_s: float) -> list[Wave]:
    """Waves for the machines `hosts` whose change is hot, `soak_s` apart."""
    remaining = sorted(set(hosts))
    if not remaining:
        return []
    machines = inventory.machines
    members = _service_members(inventory)
    plan = wave_plan(inventory.policy.rollout.waves)
    groups: list[list[str]] = []
    if plan.canary:
        canary = _canary(inventory, remaining, members)
        if len(canary) >= len(remaining) and len(remaining) > 1:
            canary = canary[: max(1, len(remaining) // 2)]
        groups.append(canary)
    chosen = {h for g in groups for h in g}
    rest = _by_risk(inventory, [h for h in remaining if h not in chosen], members, chosen)
    total = len(remaining)
    for entry in plan.sizes:
        size = plan.size(entry, total)
        if not groups and len(rest) > 1:
            size = min(size, len(rest) - 1)  # no canary: a first wave of 99 % must not take all
        if rest and size < len(rest):
            groups.append(rest[:size])
            rest = rest[size:]
    if rest:
        groups.append(rest)
    groups = _spread_services(groups, machines, members, plan.canary)
    waves, start = [], 0.0
    for index, group in enumerate(groups):
        last = index == len(groups) - 1
        soak = 0.0 if last else float(soak_s)
        waves.append(Wave(index, start, start + HOT_S, tuple(group), soak, canary=plan.canary and index == 0))
        start += HOT_S + soak_s
    return waves


def _service_members(inventory: Inventory) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for machine in inventory.machines.values():
        if machine.service:
            counts[machine.service] += 1
    return counts


def _risk(machine: Machine) -> int:
    return RISK.get(machine.kind, len(RISK))


def _canary(inventory: Inventory, hosts: list[str], members: dict[str, int]) -> list[str]:
    """One low-risk machine per segment the change touches (see the module docstring),
    never every member of a service: such a service's riskiest member is left out and
    the segments it covered are covered again without it."""
    machines = inventory.machines
    lowest = min(_risk(machines[h]) for h in hosts)
    # VMs and physical hosts are one pool; hypervisors, then routers, only alone.
    pool = [h for h in hosts if _risk(machines[h]) <= max(lowest, LOW_RISK)]
    segments = sorted({i.segment for h in hosts for i in machines[h].interfaces})
    while True:
        canary = _cover(machines, pool, segments, members)
        whole = _whole_services(canary, machines, members)
        if not whole:
            return canary or [min(hosts, key=lambda h: (_risk(machines[h]), h))]
        pool = [h for h in pool if h not in whole]  # shrinks every round: the loop ends


def _cover(machines: Mapping[str, Machine], pool: list[str], segments: list[str], members: dict[str, int]) -> list[str]:
    covered: set[str] = set()
    canary: list[str] = []
    held: dict[str, int] = defaultdict(int)  # service -> its members in the canary
    for segment in segments:
        if segment in covered:
            continue
        on_segment = [h for h in pool if h not in canary and any(i.segment == segment for i in machines[h].interfaces)]
        if not on_segment:
            continue  # only riskier machines there: they go in the later waves

        done = frozenset(covered)
        pick = min(on_segment, key=lambda h: _canary_key(machines[h], members, held, done))
        canary.append(pick)
        covered |= {i.segment for i in machines[pick].interfaces}
        if service := machines[pick].service:
            held[service] += 1
    return canary


def _canary_key(
    machine: Machine, members: dict[str, int], held: dict[str, int], covered: frozenset[str]
) -> tuple[int, int, int, int, str]:
    # A pick that completes its service in the canary would be moved out of it again
    # (no wave holds a whole service), leaving its segments uncovered: last resort.
    size = members.get(machine.service, 0) if machine.service else 0
    completes = 1 if size > 1 and held.get(str(machine.service), 0) + 1 >= size else 0
    alone = 0 if size > 1 else 1
    new = len({i.segment for i in machine.interfaces} - covered)
    return completes, _risk(machine), alone, -new, machine.name


def _by_risk(inventory: Inventory, hosts: list[str], members: dict[str, int], earlier: set[str]) -> list[str]:
    """Least risky first: by kind; then by the share of its service already changed
    before it (each service's first member before any service's second, and a member of
    24 before the third of 3), a service's only member after those that have others to
    carry the load, larger services first; then the name."""
    machines = inventory.machines
    rank: dict[str, int] = {}
    seen: dict[str, int] = defaultdict(int)
    for h in earlier:  # the canary's members come first
        service = machines[h].service
        if service:
            seen[service] += 1
    for h in hosts:  # in name order
        service = machines[h].service
        if service:
            rank[h] = seen[service]
            seen[service] += 1

    def key(h: str) -> tuple[int, float, int, int, str, str]:
        m = machines[h]
        size = members.get(m.service, 1) if m.service else 1
        share = rank.get(h, 0) / size
        return _risk(m), share, 1 if size < 2 else 0, -size, m.service or "", h

    return sorted(hosts, key=key)


def _spread_services(
    groups: list[list[str]], machines: Mapping[str, Machine], members: dict[str, int], canary: bool
) -> list[list[str]]:
    """No wave holds every member of a service of two or more machines: its riskiest
    member (the last of those) moves to the next wave, and a VM or physical host moving
    on takes the wave's hypervisors and routers along, so none is changed before it.
    From the last wave a member moves to the one before, if that one is not the canary
    and at least as large as what moves (a first wave of 1 must not grow to 23), else to
    a wave of their own just before the last; a hypervisor or router still beside VMs or
    physical hosts, to a wave of its own after the last. Either way the riskiest machines
    stay last. A moved member never completes a service in the wave it joins, since the
    others stay where they were; machines taken along are checked in their new wave."""
    groups = [list(g) for g in groups]

    def risky(h: str) -> bool:
        return _risk(machines[h]) > LOW_RISK

    index = 0
    while index < len(groups):
        # Two or more members, all here: moving one leaves the wave non-empty.
        movers = _whole_services(groups[index], machines, members)
        if movers:
            moved = set(movers)
            groups[index] = [h for h in groups[index] if h not in moved]
            if index + 1 < len(groups):
                if not all(map(risky, movers)):
                    # The mover's fellow members stay (no riskier than it): never empty.
                    movers += [h for h in groups[index] if risky(h)]
                    groups[index] = [h for h in groups[index] if not risky(h)]
                groups[index + 1].extend(movers)
            else:
                if any(not risky(h) for h in groups[index]):
                    if last := [h for h in movers if risky(h)]:
                        groups.append(last)
                    movers = [h for h in movers if not risky(h)]
                if movers and index - 1 >= (1 if canary else 0) and len(groups[index - 1]) >= len(movers):
                    groups[index - 1].extend(movers)
                elif movers:
                    groups.insert(index, movers)
                    index += 1
        index += 1
    return [sorted(g) for g in groups]


def _whole_services(group: list[str], machines: Mapping[str, Machine], members: dict[str, int]) -> list[str]:
    """For each service of two or more machines that `group` holds whole, its riskiest
    member (the last of those in `group`), by service name."""
    held: dict[str, list[str]] = defaultdict(list)
    for h in group:
        if (service := machines[h].service) and members.get(service, 0) > 1:
            held[service].append(h)
    return [_riskiest(hs, machines) for s, hs in sorted(held.items()) if len(hs) == members[s]]


def _riskiest(hosts: list[str], machines: Mapping[str, Machine]) -> str:
    """The riskiest of `hosts`, the last of those in their order."""
    return max(enumerate(hosts), key=lambda p: (_risk(machines[p[1]]), p[0]))[1]
