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
- a service's maintenance windows, one after another (anti-affinity), and the routers',
  the first after the canary wave (and its soak), or with no hot wave after the other
  maintenance window that ends first;
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
from netcfg.rollout.model import Limits, Maintenance, Migration, Plan, Wave

EPS = 1e-9  # the planner's times are exact sums; this only absorbs float noise
GIB_EPS = 1e-6  # memory the planner may round over (it compares with 1e-9 per VM)


def wave_id(index: int) -> str:
    return f"hot-{index}"


def migration_id(position: int) -> str:
    return f"migrate-{position}"


def maintenance_id(host: str) -> str:
    return f"maint-{host}"


class _Graph:
    """Steps are numbered: waves first, then migrations, then maintenance windows; per
    migration its ends, VM and size in flat lists (tens of thousands of them)."""

    def __init__(self, plan: Plan):
        self.m0 = len(plan.waves)  # the step number of migration 0
        self.x0 = self.m0 + len(plan.migrations)  # of maintenance window 0
        items: tuple[Wave | Migration | Maintenance, ...] = (*plan.waves, *plan.migrations, *plan.maintenance)
        self.start = [item.start_s for item in items]
        self.end = [item.end_s for item in items]
        self.after: list[set[int]] = [set() for _ in items]
        self.migrations = range(self.m0, self.x0)
        self.src = dict(zip(self.migrations, (m.source for m in plan.migrations), strict=True))
        self.dst = dict(zip(self.migrations, (m.target for m in plan.migrations), strict=True))
        self.vm = dict(zip(self.migrations, (m.vm for m in plan.migrations), strict=True))
        self.gib = dict(zip(self.migrations, (m.gib for m in plan.migrations), strict=True))
        self.host_of_window = {self.x0 + j: w.host for j, w in enumerate(plan.maintenance)}

    def edge(self, first: int, then: int) -> None:
        if first == then:
            return
        if self.end[first] > self.start[then] + EPS:
            raise RuntimeError(f"dependency against the timetable: step {first} ends after step {then} starts")
        self.after[then].add(first)

    def chain(self, steps: Iterable[int]) -> None:
        previous = None
        for step in steps:
            if previous is not None:
                self.edge(previous, step)
            previous = step

    def in_order(self, steps: list[int]) -> list[int]:
        start, end = self.start, self.end
        return sorted(steps, key=lambda s: (start[s], end[s], s))


def link(plan: Plan, inventory: Inventory) -> Plan:
    """`plan` with ids and dependencies (see the module docstring); raises RuntimeError
    when the timetable itself breaks a limit (a bug in the planner)."""
    graph = _Graph(plan)
    policy = inventory.policy.rollout
    window_of = {host: step for step, host in graph.host_of_window.items()}
    if len(window_of) != len(plan.maintenance):
        raise RuntimeError("a machine has two maintenance windows")

    graph.chain(range(len(plan.waves)))
    _vm_chains(graph, window_of)
    lanes = _host_lanes(graph, max(1, policy.max_migrations_per_host))
    heads, tails = _evacuations(graph, lanes)
    _evacuation_slots(graph, heads, tails, max(1, policy.max_parallel_evacuations))
    _memory(graph, inventory)
    _maintenance(graph, lanes, window_of)
    _services(graph, inventory)

    ids = [wave_id(w.index) for w in plan.waves]
    ids += [migration_id(i) for i in range(len(plan.migrations))]
    ids += [maintenance_id(w.host) for w in plan.maintenance]
    after = [
        () if not steps else (ids[next(iter(steps))],) if len(steps) == 1 else tuple(ids[s] for s in sorted(steps))
        for steps in graph.after
    ]
    m0, x0 = graph.m0, graph.x0
    return replace(
        plan,
        waves=tuple(
            Wave(w.index, w.start_s, w.end_s, w.hosts, w.soak_s, ids[i], after[i], w.canary)
            for i, w in enumerate(plan.waves)
        ),
        migrations=tuple(
            Migration(m.vm, m.source, m.target, m.start_s, m.end_s, m.gib, m.data_gib, m.rate_mib_s, ids[s], after[s])
            for s, m in enumerate(plan.migrations, start=m0)
        ),
        maintenance=tuple(
            Maintenance(w.host, w.start_s, w.end_s, ids[s], after[s]) for s, w in enumerate(plan.maintenance, start=x0)
        ),
        limits=Limits(max(1, policy.max_parallel_evacuations), max(1, policy.max_migrations_per_host)),
    )


def _vm_chains(graph: _Graph, window_of: dict[str, int]) -> None:
    """A VM is in one place at a time: its migrations and its maintenance in order."""
    steps: dict[str, list[int]] = defaultdict(list)
    for s in graph.migrations:
        steps[graph.vm[s]].append(s)
    for vm, items in steps.items():
        if vm in window_of:
            items.append(window_of[vm])
        if len(items) == 2:  # the usual VM: one migration, and its own window or none
            a, b = items
            key_a, key_b = (graph.start[a], graph.end[a], a), (graph.start[b], graph.end[b], b)
            graph.edge(*((a, b) if key_a <= key_b else (b, a)))
        elif len(items) > 2:
            graph.chain(graph.in_order(items))


def _host_lanes(graph: _Graph, limit: int) -> dict[str, list[list[int]]]:
    """Per hypervisor, the migrations touching it split into at most `limit` chains, as
    few as the timetable needs: each migration continues the free lane that was used
    last (so migrations one after another in the timetable stay one chain)."""
    touching: dict[str, list[int]] = defaultdict(list)
    for s in graph.migrations:
        touching[graph.src[s]].append(s)
        touching[graph.dst[s]].append(s)
    start, end = graph.start, graph.end
    lanes: dict[str, list[list[int]]] = {}
    for host, items in touching.items():
        host_lanes: list[list[int]] = []
        for s in graph.in_order(items):
            best = None
            for lane in host_lanes:
                last_end = end[lane[-1]]
                if last_end <= start[s] + EPS and (best is None or last_end > end[best[-1]]):
                    best = lane
            if best is not None:
                graph.edge(best[-1], s)
                best.append(s)
            elif len(host_lanes) < limit:
                host_lanes.append([s])
            else:
                raise RuntimeError(f"the timetable has more than {limit} migrations touching {host} at once")
        lanes[host] = host_lanes
    return lanes


def _evacuations(graph: _Graph, lanes: dict[str, list[list[int]]]) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """Per evacuated host, the first (heads) and last (tails) of its outgoing migrations
    in each lane; the heads wait for what the host was receiving before (it evacuates
    once that has landed)."""
    heads: dict[str, list[int]] = {}
    tails: dict[str, list[int]] = {}
    src, dst, start, end = graph.src, graph.dst, graph.start, graph.end
    for host, host_lanes in lanes.items():
        outgoing = [[s for s in lane if src[s] == host] for lane in host_lanes]
        if not any(outgoing):
            continue
        heads[host] = [lane[0] for lane in outgoing if lane]
        tails[host] = [lane[-1] for lane in outgoing if lane]
        first = min(start[s] for s in heads[host])
        landed = []
        for lane in host_lanes:
            before = [s for s in lane if end[s] <= first + EPS and dst[s] == host]
            if before:
                landed.append(before[-1])
        for head in heads[host]:
            for s in landed:
                graph.edge(s, head)
    return heads, tails


def _evacuation_slots(graph: _Graph, heads: dict[str, list[int]], tails: dict[str, list[int]], slots: int) -> None:
    """At most `slots` hosts evacuate at once (from the start of a host's first outgoing
    migration to the end of its last): evacuations as that many chains."""
    spans = sorted((min(graph.start[s] for s in heads[h]), max(graph.end[s] for s in tails[h]), h) for h in heads)
    chains: list[tuple[float, str]] = []  # (end of its last evacuation, that host)
    for start, end, host in spans:
        free = [k for k, (last_end, _) in enumerate(chains) if last_end <= start + EPS]
        if free:
            k = max(free, key=lambda k: chains[k][0])
            previous = chains[k][1]
            for head in heads[host]:
                for tail in tails[previous]:
                    graph.edge(tail, head)
            chains[k] = (end, host)
        elif len(chains) < slots:
            chains.append((end, host))
        else:
            raise RuntimeError(f"the timetable has more than {slots} hosts evacuating at once ({host})")


def _memory(graph: _Graph, inventory: Inventory) -> None:
    """Each migration into a host takes its memory from what is free there: at first
    the host's unused capacity, then what migrations out of it freed (the first freed
    first), and waits for the migrations whose memory it takes."""
    machines = inventory.machines
    load: dict[str, float] = defaultdict(float)
    for vm in machines.values():
        if vm.kind is Kind.VM and vm.host is not None and vm.host in machines:
            load[vm.host] += float(vm.memory_gib or 0.0)
    events: dict[str, list[tuple[float, int, int]]] = defaultdict(list)  # (time, 0 free / 1 take, migration)
    for s in graph.migrations:
        events[graph.src[s]].append((graph.end[s], 0, s))
        events[graph.dst[s]].append((graph.start[s], 1, s))
    for host, items in events.items():
        items.sort()
        capacity = float(machines[host].memory_gib or 0.0)
        pool: deque[list] = deque()  # [migration that freed it or None, GiB]
        if capacity - load[host] > 0:
            pool.append([None, capacity - load[host]])
        for _, kind, s in items:
            gib = graph.gib[s]
            if kind == 0:
                pool.append([s, gib])
                continue
            need = gib
            while need > GIB_EPS:
                if not pool:
                    raise RuntimeError(f"the timetable overcommits {host} when step {s} starts")
                chunk = pool[0]
                taken = min(chunk[1], need)
                if chunk[0] is not None:
                    graph.edge(chunk[0], s)
                chunk[1] -= taken
                need -= taken
                if chunk[1] <= GIB_EPS:
                    pool.popleft()


def _maintenance(graph: _Graph, lanes: dict[str, list[list[int]]], window_of: dict[str, int]) -> None:
    """A hypervisor is maintained once the last migration of each lane before its window
    has ended, and the first migration of each lane after it waits for the window."""
    start, end = graph.start, graph.end
    for host, host_lanes in lanes.items():
        window = window_of.get(host)
        if window is None:
            continue
        for lane in host_lanes:
            before = [s for s in lane if end[s] <= start[window] + EPS]
            after = [s for s in lane[len(before) :] if start[s] >= end[window] - EPS]
            if len(before) + len(after) != len(lane):
                raise RuntimeError(f"a migration touches {host} during its maintenance")
            if before:
                graph.edge(before[-1], window)
            if after:
                graph.edge(window, after[0])


def _services(graph: _Graph, inventory: Inventory) -> None:
    """Members of one service are maintained one after another, and so are routers, the
    first after the canary wave, or with no hot wave after the first other window."""
    windows: dict[str, list[int]] = defaultdict(list)
    routers: list[int] = []
    machines = inventory.machines
    for step, host in graph.host_of_window.items():
        machine = machines.get(host)
        if machine is not None and machine.service:
            windows[machine.service].append(step)
        if machine is not None and machine.kind is Kind.ROUTER:
            routers.append(step)
    for items in windows.values():
        graph.chain(graph.in_order(items))
    if routers:
        routed = set(routers)
        others = [s for s in graph.host_of_window if s not in routed]
        proof = [0] if graph.m0 else [min(others, key=lambda s: (graph.end[s], graph.start[s], s))] if others else []
        graph.chain(proof + graph.in_order(routers))
