"""From a timetable to a dependency graph: every step gets an id and the ids it waits for,
so that the plan stays safe in ANY timing in which a step starts only after the steps it
waits for have ended (estimates are wrong in practice; docs/design.md, "A plan is a
dependency graph").

Each rule of the rollout is a resource, and the timetable says in which order the steps
use it; the dependencies pass the resource from the step that frees it to the next step
that takes it, so every resource is used as a chain (or by at most its limit of chains):

- a VM: its migrations and its own maintenance, one after another;
- a hypervisor's migration lanes (`max_migrations_per_host`): the migrations touching
  a host, split into at most that many chains (as few as the timetable needs, so a
  host that receives one migration at a time in the timetable still does);
- evacuation slots (`max_parallel_evacuations`): evacuations split into that many
  chains; each evacuation's first migrations wait for the previous one's last;
- memory: each migration into a host takes its memory from what is free there; what
  is not free at the start was freed by a migration out of the host, which it then
  waits for (first-freed memory used first, so the dependencies reach back as far as
  they can);
- a host evacuates once what it was receiving has landed, is maintained once its last
  VM has left, and receives again only after its maintenance;
- a service's maintenance windows, one after another (anti-affinity);
- hot waves, one after another.

The times stay the projection under the estimates: every dependency goes from a step
that ends, in the timetable, no later than the one that waits for it starts.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import replace

from netcfg.model.host import Kind
from netcfg.model.inventory import Inventory
from netcfg.rollout.model import Limits, Plan

EPS = 1e-9  # the planner's times are exact sums; this only absorbs float noise
GIB_EPS = 1e-6  # memory the planner may round over (it compares with 1e-9 per VM)


def wave_id(index: int) -> str:
    return f"hot-{index}"


def migration_id(position: int) -> str:
    return f"migrate-{position}"


def maintenance_id(host: str) -> str:
    return f"maint-{host}"


class _Graph:
    """Step keys: ("w", i), ("m", i), ("x", i) for waves, migrations, maintenance."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.after: dict[tuple[str, int], set[tuple[str, int]]] = defaultdict(set)

    def times(self, step: tuple[str, int]) -> tuple[float, float]:
        kind, i = step
        item = (
            self.plan.waves[i] if kind == "w" else self.plan.migrations[i] if kind == "m" else self.plan.maintenance[i]
        )
        return item.start_s, item.end_s

    def edge(self, first: tuple[str, int], then: tuple[str, int]) -> None:
        if first == then:
            return
        if self.times(first)[1] > self.times(then)[0] + EPS:
            raise RuntimeError(f"dependency against the timetable: {first} ends after {then} starts")
        self.after[then].add(first)

    def chain(self, steps: Iterable[tuple[str, int]]) -> None:
        previous = None
        for step in steps:
            if previous is not None:
                self.edge(previous, step)
            previous = step


def link(plan: Plan, inventory: Inventory) -> Plan:
    """`plan` with ids and dependencies (see the module docstring); raises RuntimeError
    when the timetable itself breaks a limit (a bug in the planner)."""
    graph = _Graph(plan)
    policy = inventory.policy.rollout
    migrations = plan.migrations
    window_of = {w.host: j for j, w in enumerate(plan.maintenance)}
    if len(window_of) != len(plan.maintenance):
        raise RuntimeError("a machine has two maintenance windows")

    graph.chain(("w", i) for i in range(len(plan.waves)))
    _vm_chains(graph, plan, window_of)
    lanes = _host_lanes(graph, plan, max(1, policy.max_migrations_per_host))
    heads, tails = _evacuations(graph, plan, lanes)
    _evacuation_slots(graph, plan, heads, tails, max(1, policy.max_parallel_evacuations))
    _memory(graph, plan, inventory)
    _maintenance(graph, plan, lanes, window_of)
    _services(graph, plan, inventory)

    def ids(step: tuple[str, int]) -> tuple[str, ...]:
        order = {"w": 0, "m": 1, "x": 2}
        return tuple(_id(plan, s) for s in sorted(graph.after.get(step, ()), key=lambda s: (order[s[0]], s[1])))

    return replace(
        plan,
        waves=tuple(replace(w, id=wave_id(w.index), after=ids(("w", i))) for i, w in enumerate(plan.waves)),
        migrations=tuple(replace(m, id=migration_id(i), after=ids(("m", i))) for i, m in enumerate(migrations)),
        maintenance=tuple(
            replace(w, id=maintenance_id(w.host), after=ids(("x", j))) for j, w in enumerate(plan.maintenance)
        ),
        limits=Limits(max(1, policy.max_parallel_evacuations), max(1, policy.max_migrations_per_host)),
    )


def _id(plan: Plan, step: tuple[str, int]) -> str:
    kind, i = step
    if kind == "w":
        return wave_id(plan.waves[i].index)
    if kind == "m":
        return migration_id(i)
    return maintenance_id(plan.maintenance[i].host)


def _vm_chains(graph: _Graph, plan: Plan, window_of: dict[str, int]) -> None:
    """A VM is in one place at a time: its migrations and its maintenance in order."""
    steps: dict[str, list[tuple[float, float, tuple[str, int]]]] = defaultdict(list)
    for i, m in enumerate(plan.migrations):
        steps[m.vm].append((m.start_s, m.end_s, ("m", i)))
    for vm, items in steps.items():
        if vm in window_of:
            w = plan.maintenance[window_of[vm]]
            items.append((w.start_s, w.end_s, ("x", window_of[vm])))
        items.sort()
        graph.chain(step for _, _, step in items)


def _host_lanes(graph: _Graph, plan: Plan, limit: int) -> dict[str, list[list[int]]]:
    """Per hypervisor, the migrations touching it split into at most `limit` chains, as
    few as the timetable needs: each migration continues the free lane that was used
    last (so migrations one after another in the timetable stay one chain)."""
    touching: dict[str, list[int]] = defaultdict(list)
    for i, m in enumerate(plan.migrations):
        touching[m.source].append(i)
        touching[m.target].append(i)
    lanes: dict[str, list[list[int]]] = {}
    for host, items in touching.items():
        items.sort(key=lambda i: (plan.migrations[i].start_s, plan.migrations[i].end_s, i))
        host_lanes: list[list[int]] = []
        for i in items:
            start = plan.migrations[i].start_s
            free = [lane for lane in host_lanes if plan.migrations[lane[-1]].end_s <= start + EPS]
            if free:
                lane = max(free, key=lambda lane: plan.migrations[lane[-1]].end_s)
                graph.edge(("m", lane[-1]), ("m", i))
                lane.append(i)
            elif len(host_lanes) < limit:
                host_lanes.append([i])
            else:
                raise RuntimeError(f"the timetable has more than {limit} migrations touching {host} at once")
        lanes[host] = host_lanes
    return lanes


def _evacuations(
    graph: _Graph, plan: Plan, lanes: dict[str, list[list[int]]]
) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """Per evacuated host, the first (heads) and last (tails) of its outgoing migrations
    in each lane; the heads wait for what the host was receiving before (it evacuates
    once that has landed)."""
    heads: dict[str, list[int]] = {}
    tails: dict[str, list[int]] = {}
    for host, host_lanes in lanes.items():
        outgoing = [[i for i in lane if plan.migrations[i].source == host] for lane in host_lanes]
        if not any(outgoing):
            continue
        heads[host] = [lane[0] for lane in outgoing if lane]
        tails[host] = [lane[-1] for lane in outgoing if lane]
        start = min(plan.migrations[i].start_s for i in heads[host])
        landed = []
        for lane in host_lanes:
            before = [i for i in lane if plan.migrations[i].end_s <= start + EPS and plan.migrations[i].target == host]
            if before:
                landed.append(before[-1])
        for head in heads[host]:
            for i in landed:
                graph.edge(("m", i), ("m", head))
    return heads, tails


def _evacuation_slots(
    graph: _Graph, plan: Plan, heads: dict[str, list[int]], tails: dict[str, list[int]], slots: int
) -> None:
    """At most `slots` hosts evacuate at once (from the start of a host's first outgoing
    migration to the end of its last): evacuations as that many chains."""
    spans = sorted(
        (
            min(plan.migrations[i].start_s for i in heads[h]),
            max(plan.migrations[i].end_s for i in tails[h]),
            h,
        )
        for h in heads
    )
    chains: list[tuple[float, str]] = []  # (end of its last evacuation, that host)
    for start, end, host in spans:
        free = [k for k, (last_end, _) in enumerate(chains) if last_end <= start + EPS]
        if free:
            k = max(free, key=lambda k: chains[k][0])
            previous = chains[k][1]
            for head in heads[host]:
                for tail in tails[previous]:
                    graph.edge(("m", tail), ("m", head))
            chains[k] = (end, host)
        elif len(chains) < slots:
            chains.append((end, host))
        else:
            raise RuntimeError(f"the timetable has more than {slots} hosts evacuating at once ({host})")


def _memory(graph: _Graph, plan: Plan, inventory: Inventory) -> None:
    """Each migration into a host takes its memory from what is free there: at first
    the host's unused capacity, then what migrations out of it freed (the first freed
    first), and waits for the migrations whose memory it takes."""
    machines = inventory.machines
    load: dict[str, float] = defaultdict(float)
    for vm in machines.values():
        if vm.kind is Kind.VM and vm.host is not None and vm.host in machines:
            load[vm.host] += float(vm.memory_gib or 0.0)
    events: dict[str, list[tuple[float, int, int]]] = defaultdict(list)  # (time, 0 free / 1 take, migration)
    for i, m in enumerate(plan.migrations):
        events[m.source].append((m.end_s, 0, i))
        events[m.target].append((m.start_s, 1, i))
    for host, items in events.items():
        items.sort()
        capacity = float(machines[host].memory_gib or 0.0)
        pool: deque[list] = deque()  # [migration that freed it or None, GiB]
        if capacity - load[host] > 0:
            pool.append([None, capacity - load[host]])
        for _, kind, i in items:
            gib = plan.migrations[i].gib
            if kind == 0:
                pool.append([i, gib])
                continue
            need = gib
            while need > GIB_EPS:
                if not pool:
                    raise RuntimeError(f"the timetable overcommits {host} when migration {i} starts")
                chunk = pool[0]
                taken = min(chunk[1], need)
                if chunk[0] is not None:
                    graph.edge(("m", chunk[0]), ("m", i))
                chunk[1] -= taken
                need -= taken
                if chunk[1] <= GIB_EPS:
                    pool.popleft()


def _maintenance(graph: _Graph, plan: Plan, lanes: dict[str, list[list[int]]], window_of: dict[str, int]) -> None:
    """A hypervisor is maintained once the last migration of each lane before its window
    has ended, and the first migration of each lane after it waits for the window."""
    for host, host_lanes in lanes.items():
        if host not in window_of:
            continue
        j = window_of[host]
        window = plan.maintenance[j]
        for lane in host_lanes:
            before = [i for i in lane if plan.migrations[i].end_s <= window.start_s + EPS]
            after = [i for i in lane if plan.migrations[i].start_s >= window.end_s - EPS and i not in before]
            if len(before) + len(after) != len(lane):
                raise RuntimeError(f"a migration touches {host} during its maintenance")
            if before:
                graph.edge(("m", before[-1]), ("x", j))
            if after:
                graph.edge(("x", j), ("m", after[0]))


def _services(graph: _Graph, plan: Plan, inventory: Inventory) -> None:
    """Members of one service are maintained one after another."""
    windows: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    for j, w in enumerate(plan.maintenance):
        machine = inventory.machines.get(w.host)
        if machine is not None and machine.service:
            windows[machine.service].append((w.start_s, w.end_s, j))
    for items in windows.values():
        items.sort()
        graph.chain(("x", j) for _, _, j in items)
