"""Replay a plan file event by event and check the invariants of docs/design.md.

Deliberately independent of the planner: it reads the plan's JSON and the inventory
with its own code, re-derives migration times with its own copy of the pre-copy
formula, and imports nothing from `netcfg.rollout.plan` or `netcfg.rollout.estimate`.
A bug would have to be made twice, the same way, to slip through.

Invariants checked (each violation carries time, host and amount):
- capacity: resident VMs plus VMs migrating in <= capacity (a migrating VM counts on
  source and target until it finishes);
- a host in maintenance holds, sends and receives nothing;
- at most `max_parallel_evacuations` hosts evacuating at once (a host evacuates from
  the start of its first outgoing migration to the end of its last one);
- at most `max_migrations_per_host` migrations touching one host at once;
- members of one service are never in maintenance together, nor two routers, and a VM
  is not maintained while it migrates;
- a router enters maintenance only once the change has proved itself elsewhere: after
  the first hot wave has ended and soaked (the policy's `soak_s`), or, with no hot wave,
  after another machine's maintenance has ended;
- hot waves: never every host of the change in one wave, no wave holding every member
  of a service;
- a migration starts where its VM is, of a VM that exists with the memory it claims,
  and lasts at least what pre-copy needs at the bandwidth it really gets (its link
  ends shared evenly among the migrations touching each end); a VM whose dirty rate
  reaches that bandwidth does not converge at all. In a jittered replay (durations
  stretched and shrunk at random, netcfg.rollout.jitter) a migration must instead get
  at least the bandwidth the plan assumed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Any

from netcfg.errors import InputError
from netcfg.limits import PLAN_SECONDS, plan_seconds
from netcfg.model.host import Kind
from netcfg.model.inventory import Inventory
from netcfg.names import MACHINE_NAME
from netcfg.problems import Location, Problem

EPS = 1e-3  # plan times are on a millisecond grid
_GBIT = 1e9 / 8 / 2**20  # MiB/s per Gbit/s
_DOWNTIME_S = 0.3
_ROUNDS = 30


# Events: (time, order, index, sub). At one instant every end precedes every start, and
# maintenance starts after migration starts so a host drained "now" is judged drained.
MIG_END, MAINT_END, MIG_START, MAINT_START = 0, 1, 2, 3
# A window that ends no later than it starts (reconfigure_s 0) is an instant: taken
# whole, after the ends and before the starts at that time (else its end, sorted
# first, left the host in maintenance for ever). A migration that short ends right
# after its own start.
ZERO, LATE = 1.5, 4


@dataclass(frozen=True, slots=True)
class Violation:
    time_s: float
    host: str
    invariant: (
        str  # capacity, maintenance, evacuations, migrations, service, routers, migration, bandwidth, waves, order
    )
    amount: float
    unit: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "time_s": round(self.time_s, 3),
            "host": self.host,
            "invariant": self.invariant,
            "amount": round(self.amount, 3),
            "unit": self.unit,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class Simulation:
    violations: tuple[Violation, ...]
    peak_gib: dict[str, float]
    capacity_gib: dict[str, float]
    peak_parallel_evacuations: int
    peak_migrations: int
    makespan_s: float
    series: dict[str, list[tuple[float, float]]] = field(repr=False)  # host -> (t, GiB) steps

    @property
    def clean(self) -> bool:
        return not self.violations

    def overcommitted(self) -> dict[str, float]:
        """Host -> worst excess over capacity, for hosts that ever exceeded it."""
        worst: dict[str, float] = {}
        for v in self.violations:
            if v.invariant == "capacity":
                worst[v.host] = max(worst.get(v.host, 0.0), v.amount)
        return worst

    def to_dict(self) -> dict[str, Any]:
        over = self.overcommitted()
        return {
            "clean": self.clean,
            "violations": [v.to_dict() for v in self.violations],
            "overcommitted_hosts": {h: round(a, 3) for h, a in sorted(over.items())},
            "peak_gib": {
                h: {"peak": round(self.peak_gib[h], 3), "capacity": self.capacity_gib[h]} for h in sorted(self.peak_gib)
            },
            "peak_parallel_evacuations": self.peak_parallel_evacuations,
            "peak_parallel_migrations": self.peak_migrations,
            "makespan_s": round(self.makespan_s, 3),
        }


def _copy_time(memory_gib: float, dirty: float, rate: float) -> float | None:
    """Pre-copy duration (own implementation, see the module docstring); None: never."""
    if rate <= 0 or dirty >= rate:
        return None
    total = memory_gib * 1024.0
    if total <= 0:
        return 0.0
    ratio = dirty / rate
    sent, this_round, rounds = 0.0, total, 0
    # Iterate the rounds literally rather than using the closed form the planner uses.
    while True:
        sent += this_round
        if ratio == 0.0 or this_round <= rate * _DOWNTIME_S or rounds >= _ROUNDS:
            break
        this_round *= ratio
        rounds += 1
    return sent / rate


def _names(*names: object) -> bool:
    return all(isinstance(n, str) and MACHINE_NAME.fullmatch(n) for n in names)


def _wave(wave: Any) -> bool:
    if not isinstance(wave, dict) or not isinstance(hosts := wave.get("hosts", []), list):
        return False
    return _times(wave, "start_s", "end_s") and _names(*hosts)


def _times(entry: dict[str, Any], start: str, end: str) -> bool:
    """A step's times: numbers (not text) within limits.PLAN_SECONDS, its end not before
    its start, as the executor requires; a wave's soak not negative."""
    begin, until = plan_seconds(entry.get(start, 0.0)), plan_seconds(entry.get(end, 0.0))
    soak = plan_seconds(entry.get("soak_s", 0.0))
    return begin is not None and until is not None and until >= begin and soak is not None and soak >= 0


def read_plan(plan: Any, source: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    where = Location(source)
    if not isinstance(plan, dict):
        raise InputError([Problem(where, "not a plan file: expected a JSON object")])
    shape = [k for k in ("waves", "migrations", "maintenance") if not isinstance(plan.get(k, []), list)]
    if shape:
        raise InputError([Problem(where, f"not a plan file: {k} is not a list") for k in shape])
    migrations: list[dict[str, Any]] = []
    windows: list[dict[str, Any]] = []
    name = ""  # the entry read, for the message
    try:
        for i, m in enumerate(plan["migrations"]):
            name = f"migrations[{i}]: "
            migrations.append(
                {
                    "vm": m["vm"],  # names: checked below, as names, not as any text
                    "src": m["from"],
                    "dst": m["to"],
                    "start": float(m["start_s"]),
                    "end": float(m["end_s"]),
                    "gib": float(m["gib"]),
                    "rate": float(m.get("rate_mib_s", 0.0)),
                }
            )
        for i, m in enumerate(plan["maintenance"]):
            name = f"maintenance[{i}]: "
            windows.append({"host": m["host"], "start": float(m["start_s"]), "end": float(m["end_s"])})
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as error:
        raise InputError(
            [
                Problem(
                    where,
                    f"not a plan file: {name}bad or missing {error}",
                    "expected migrations [{vm, from, to, start_s, end_s, gib}] "
                    "and maintenance [{host, start_s, end_s}]",
                )
            ]
        ) from None
    # JSON admits NaN and Infinity; a NaN time compares false with everything and would
    # let every check pass. A time given as text, or an end before its start, is no plan
    # the executor would run either.
    bad = [
        f"migrations[{i}]"
        for i, m in enumerate(plan["migrations"])
        if not _times(m, "start_s", "end_s") or plan_seconds(m["gib"]) is None or m["gib"] < 0
    ]
    bad += [f"maintenance[{i}]" for i, w in enumerate(plan["maintenance"]) if not _times(w, "start_s", "end_s")]
    # Waves move nothing the replay checks, but a plan with broken ones is no plan.
    bad += [f"waves[{i}]" for i, w in enumerate(plan.get("waves", [])) if not _wave(w)]
    # Names reach the terminal and the page: held to the inventory's rule, as the executor holds them.
    bad_names = [f"migrations[{i}]" for i, m in enumerate(migrations) if not _names(m["vm"], m["src"], m["dst"])]
    bad_names += [f"maintenance[{i}]" for i, w in enumerate(windows) if not _names(w["host"])]
    if bad_names:
        rule = "a name breaks the inventory's naming rule"
        raise InputError([Problem(where, f"not a plan file: {b} names no machine ({rule})") for b in bad_names])
    if bad:
        raise InputError(
            [
                Problem(
                    where,
                    f"not a plan file: {b} has a time or size that is not a number up to {PLAN_SECONDS:g}"
                    " (or an end before its start)",
                )
                for b in bad
            ]
        )
    return migrations, windows


def simulate(plan: Any, inventory: Inventory, source: str = "<plan>") -> Simulation:
    """Replay `plan` (the plan file's JSON) against `inventory`; every violation found."""
    migrations, windows = read_plan(plan, source)
    return simulate_read(plan, migrations, windows, inventory, Fleet.of(inventory))


def simulate_read(
    plan: dict[str, Any],
    migrations: list[dict[str, Any]],
    windows: list[dict[str, Any]],
    inventory: Inventory,
    fleet: Fleet,
) -> Simulation:
    """`simulate` of a plan whose migrations and windows `read_plan` gave."""
    result = replay(migrations, windows, inventory, fleet=fleet)
    waves = plan.get("waves", [])
    spans = _spans(waves)
    found = wave_violations(waves, fleet) + router_violations(windows, spans, fleet)
    makespan = max([result.makespan_s] + [end for _, end in spans])  # a hot-only plan too
    return replace(result, violations=result.violations + found, makespan_s=makespan)


def _spans(waves: list[dict[str, Any]]) -> list[tuple[float, float]]:
    return [(float(w.get("start_s", 0.0)), float(w.get("end_s", 0.0))) for w in waves]


def router_violations(
    windows: list[dict[str, Any]], waves: list[tuple[float, float]], fleet: Fleet
) -> tuple[Violation, ...]:
    """Routers' windows (at their `start`) against the proof the change must have given
    first: the first hot wave (at its time in `waves`) ended and soaked, or with no hot
    wave another machine's window ended."""
    routers = [w for w in windows if w["host"] in fleet.routers]
    if not routers:
        return ()
    if waves:
        ready = min(waves)[1] + fleet.soak_s
        why = f"the first hot wave has ended and soaked (soak_s {fleet.soak_s:g})"
    else:
        ends = [w["end"] for w in windows if w["host"] not in fleet.routers]
        if not ends:
            return ()
        ready, why = min(ends), "another machine's maintenance has ended"
    return tuple(
        Violation(
            w["start"],
            w["host"],
            "routers",
            ready - w["start"],
            "s",
            f"router {w['host']} enters maintenance before {why}, at {ready:g} s",
        )
        for w in routers
        if w["start"] + EPS < ready
    )


def wave_violations(
    waves: list[dict[str, Any]], fleet: Fleet, times: list[tuple[float, float]] | None = None
) -> tuple[Violation, ...]:
    """The hot waves' own rules (each wave at its `times`, else its planned ones): each
    wave starts once the one before it has ended and soaked (the canary proves the
    change before the rest follows); and over the waves that run at once, never every
    host of the change changing together, nor every member of a service of two or more
    machines."""
    spans = times if times is not None else _spans(waves)
    hosts = [set(w.get("hosts", [])) for w in waves]
    everyone = set().union(*hosts)
    label = [_wave_index(w, n) for n, w in enumerate(waves)]  # what the plan calls each
    found = []
    for before, n in pairwise(sorted(range(len(waves)), key=lambda n: (label[n], n))):
        start, ready = spans[n][0], spans[before][1] + float(waves[before].get("soak_s", 0.0))
        if start + EPS < ready:
            message = (
                f"wave {label[n]} starts at {start:g} s, before wave {label[before]} has ended and soaked"
                f" (at {ready:g} s)"
            )
            found.append(Violation(start, min(hosts[n], default=""), "order", ready - start, "s", message))
    seen: set[frozenset[int]] = set()
    for n, (start, end) in enumerate(spans):
        # The waves running when this one starts: any set running at once all run at
        # the latest of their starts.
        together = frozenset(
            m for m, (s, e) in enumerate(spans) if m == n or (s <= start < e) or (s == start and e == end)
        )
        if together in seen:
            continue
        seen.add(together)
        changing = set().union(*(hosts[m] for m in together))
        named = sorted(label[m] for m in together)
        which = f"wave {named[0]} holds" if len(named) == 1 else f"waves {', '.join(map(str, named))} at once hold"
        if len(everyone) > 1 and changing >= everyone:
            message = f"{which} every host of the change"
            found.append(Violation(start, min(changing), "waves", len(changing), "hosts", message))
        for service, names in fleet.services:
            if changing >= names:
                message = f"service {service}: {which} every one of its {len(names)} members"
                found.append(Violation(start, min(names), "service", len(names), "machines", message))
    return tuple(found)


def _wave_index(wave: dict[str, Any], position: int) -> int:
    """A wave's `index` (waves follow one another in its order), else its position."""
    index = wave.get("index")
    return index if isinstance(index, int) and not isinstance(index, bool) else position


@dataclass(frozen=True, slots=True)
class Fleet:
    """What a replay needs of the inventory, read once (a jittered replay runs many)."""

    hypervisors: frozenset[str]
    capacity: dict[str, float]
    nic: dict[str, float]
    host_of: dict[str, str]  # VM -> the hypervisor it runs on before the plan
    size: dict[str, float]
    services: tuple[tuple[str, frozenset[str]], ...]  # of two or more members, by name
    routers: frozenset[str]
    soak_s: float

    @staticmethod
    def of(inventory: Inventory) -> Fleet:
        machines = inventory.machines
        hypervisors = frozenset(n for n, m in machines.items() if m.kind is Kind.KVM_HOST)
        host_of, size = {}, {}
        members: dict[str, set[str]] = defaultdict(set)
        for name, machine in machines.items():
            if machine.kind is Kind.VM and machine.host in hypervisors:
                host_of[name] = str(machine.host)
                size[name] = float(machine.memory_gib or 0.0)
            if machine.service:
                members[machine.service].add(name)
        return Fleet(
            hypervisors,
            {h: float(machines[h].memory_gib or 0.0) for h in hypervisors},
            {h: float(machines[h].nic_gbit or 1.0) for h in hypervisors},
            host_of,
            size,
            tuple((s, frozenset(n)) for s, n in sorted(members.items()) if len(n) > 1),
            frozenset(n for n, m in machines.items() if m.kind is Kind.ROUTER),
            float(inventory.policy.rollout.soak_s),
        )


def replay(
    migrations: list[dict[str, Any]],
    windows: list[dict[str, Any]],
    inventory: Inventory,
    jittered: bool = False,
    fleet: Fleet | None = None,
) -> Simulation:
    """Replay migrations and maintenance windows as `read_plan` gives them. `jittered`: the
    durations are not the planned ones (netcfg.rollout.jitter), so instead of checking
    that each migration lasts what pre-copy needs, check that it gets at least the
    bandwidth the plan assumed (`rate_mib_s`): no more migrations share its links; and
    no memory curve is kept (only the timeline page draws one)."""
    rollout = inventory.policy.rollout
    machines = inventory.machines
    fleet = fleet or Fleet.of(inventory)
    hypervisors, capacity, nic, size = fleet.hypervisors, fleet.capacity, fleet.nic, fleet.size
    where: dict[str, str] = dict(fleet.host_of)
    load: dict[str, float] = defaultdict(float)
    for name, host in where.items():
        load[host] += size[name]
    found: list[Violation] = []

    def flag(t: float, host: str, invariant: str, amount: float, unit: str, message: str) -> None:
        found.append(Violation(t, host, invariant, amount, unit, message))

    for h in sorted(hypervisors):
        if load[h] > capacity[h] + 1e-9:
            flag(
                0.0,
                h,
                "capacity",
                load[h] - capacity[h],
                "GiB",
                f"{h} already holds {load[h]:g} GiB > {capacity[h]:g} GiB before the plan starts",
            )

    events: list[tuple[float, float, int, int]] = [
        (m["end"], MIG_END, i, 0) if m["end"] > m["start"] else (m["start"], LATE + MIG_END, i, 0)
        for i, m in enumerate(migrations)
    ]
    events += [(m["start"], MIG_START, i, 0) for i, m in enumerate(migrations)]
    for i, w in enumerate(windows):
        if w["end"] > w["start"]:
            events += [(w["end"], MAINT_END, i, 0), (w["start"], MAINT_START, i, 0)]
        else:
            events += [(w["start"], ZERO, i, 0), (w["start"], ZERO, i, 1)]
    events.sort()
    for w in windows:
        if w["end"] < w["start"]:
            flag(
                w["start"],
                w["host"],
                "maintenance",
                w["start"] - w["end"],
                "s",
                f"the maintenance window of {w['host']} ends before it starts",
            )

    # Evacuation spans, known up front from the plan.
    span: dict[str, list[float]] = {}
    for m in migrations:
        s = span.setdefault(m["src"], [m["start"], m["end"]])
        s[0], s[1] = min(s[0], m["start"]), max(s[1], m["end"])
    evac_events = sorted([(e, 0, h) for h, (s, e) in span.items()] + [(s, 1, h) for h, (s, e) in span.items()])
    evacuating = 0
    peak_evac = 0
    for t, kind, h in evac_events:
        if kind == 0:
            evacuating -= 1
            continue
        evacuating += 1
        peak_evac = max(peak_evac, evacuating)
        if evacuating > rollout.max_parallel_evacuations:
            flag(
                t,
                h,
                "evacuations",
                evacuating - rollout.max_parallel_evacuations,
                "hosts",
                f"{evacuating} hosts evacuating at once when {h} starts "
                f"(max_parallel_evacuations {rollout.max_parallel_evacuations})",
            )

    in_maintenance: dict[str, int] = defaultdict(int)  # host -> its windows open (two overlap: flagged)
    down_by_service: dict[str, set[str]] = defaultdict(set)
    routers_down: set[str] = set()
    touching: dict[str, set[int]] = defaultdict(set)  # host -> migrations in flight
    moving: dict[str, int] = {}  # vm -> migration in flight
    share = [[1, 1] for _ in migrations]  # most migrations seen on (src, dst) meanwhile
    counted: dict[int, float] = {}  # migration -> GiB it put on its target
    peak = {h: load[h] for h in hypervisors}
    series: dict[str, list[tuple[float, float]]] = {h: [(0.0, load[h])] for h in hypervisors}
    in_flight_peak = 0
    makespan = max([m["end"] for m in migrations] + [w["end"] for w in windows], default=0.0)

    def record(h: str, t: float) -> None:
        if load[h] > peak[h]:
            peak[h] = load[h]
        if jittered:
            return
        points = series[h]
        if points and abs(points[-1][0] - t) < 1e-9:
            points[-1] = (t, load[h])
        else:
            points.append((t, load[h]))

    for t, order, i, sub in events:
        if order == ZERO:
            kind = MAINT_END if sub else MAINT_START
        else:
            kind = int(order - LATE if order >= LATE else order)
        if kind == MIG_END:
            m = migrations[i]
            if i not in counted:
                continue  # its start was invalid and already reported
            gib = counted.pop(i)
            load[m["src"]] -= gib
            where[m["vm"]] = m["dst"]
            moving.pop(m["vm"], None)
            touching[m["src"]].discard(i)
            touching[m["dst"]].discard(i)
            record(m["src"], t)
        elif kind == MAINT_END:
            host = windows[i]["host"]
            in_maintenance[host] -= 1
            service = machines[host].service if host in machines else None
            if service and not in_maintenance[host]:
                down_by_service[service].discard(host)
            if not in_maintenance[host]:
                routers_down.discard(host)
        elif kind == MIG_START:
            m = migrations[i]
            vm, src, dst = m["vm"], m["src"], m["dst"]
            if vm not in size:
                flag(t, src, "migration", m["gib"], "GiB", f"{vm} is not a VM on a hypervisor")
                continue
            if src not in hypervisors or dst not in hypervisors:
                bad = src if src not in hypervisors else dst
                flag(t, bad, "migration", size[vm], "GiB", f"{bad} is not a hypervisor ({vm})")
                continue
            if src == dst:
                flag(t, src, "migration", size[vm], "GiB", f"{vm} migrates from {src} to {src} itself")
                continue
            if where[vm] != src:
                flag(t, src, "migration", size[vm], "GiB", f"{vm} leaves {src} but is on {where[vm]}")
            if vm in moving:
                flag(t, src, "migration", size[vm], "GiB", f"{vm} is already migrating")
            if abs(m["gib"] - size[vm]) > 1e-6:
                flag(
                    t,
                    src,
                    "migration",
                    size[vm] - m["gib"],
                    "GiB",
                    f"{vm} is {size[vm]:g} GiB, the plan says {m['gib']:g}",
                )
            if in_maintenance[vm] > 0:
                flag(t, vm, "maintenance", size[vm], "GiB", f"{vm} migrates during its own maintenance")
            for end in (src, dst):
                if in_maintenance[end] > 0:
                    flag(
                        t,
                        end,
                        "maintenance",
                        size[vm],
                        "GiB",
                        f"{end} is in maintenance but {'sends' if end == src else 'receives'} {vm}",
                    )
            moving[vm] = i
            counted[i] = size[vm]
            load[dst] += size[vm]
            record(dst, t)
            if load[dst] > capacity[dst] + 1e-9:
                flag(
                    t,
                    dst,
                    "capacity",
                    load[dst] - capacity[dst],
                    "GiB",
                    f"{dst} holds {load[dst]:g} GiB (resident + incoming) > capacity "
                    f"{capacity[dst]:g} GiB when {vm} starts arriving from {src}",
                )
            for end in (src, dst):
                touching[end].add(i)
                n = len(touching[end])
                if n > rollout.max_migrations_per_host:
                    flag(
                        t,
                        end,
                        "migrations",
                        n - rollout.max_migrations_per_host,
                        "migrations",
                        f"{n} migrations touch {end} at once "
                        f"(max_migrations_per_host {rollout.max_migrations_per_host})",
                    )
                for j in touching[end]:
                    k = 0 if migrations[j]["src"] == end else 1
                    share[j][k] = max(share[j][k], n)
            in_flight_peak = max(in_flight_peak, len(moving))
        else:  # MAINT_START
            host = windows[i]["host"]
            if host not in machines:
                flag(t, host, "maintenance", 0.0, "", f"{host} is not in the inventory")
                continue
            if host in hypervisors and load[host] > 1e-9:
                flag(
                    t,
                    host,
                    "maintenance",
                    load[host],
                    "GiB",
                    f"{host} enters maintenance holding {load[host]:g} GiB of VMs",
                )
            if host in moving:
                flag(t, host, "maintenance", size.get(host, 0.0), "GiB", f"{host} enters maintenance while migrating")
            if in_maintenance[host] > 0:
                flag(t, host, "maintenance", 0.0, "", f"{host} enters maintenance while already in maintenance")
            service = machines[host].service
            if service:
                others = down_by_service[service] - {host}
                if others:
                    flag(
                        t,
                        host,
                        "service",
                        len(others),
                        "machines",
                        f"service {service}: {host} down together with {', '.join(sorted(others))}",
                    )
                down_by_service[service].add(host)
            if machines[host].kind is Kind.ROUTER:
                if routers_down - {host}:
                    flag(
                        t,
                        host,
                        "routers",
                        len(routers_down - {host}),
                        "machines",
                        f"router {host} down together with {', '.join(sorted(routers_down - {host}))}",
                    )
                routers_down.add(host)
            in_maintenance[host] += 1

    # VMs down while their hypervisor is maintained count as down too, for anti-affinity
    # that is covered above: such a hypervisor "holds" them and was flagged already.

    for i, m in enumerate(migrations):
        if m["vm"] not in size or m["src"] not in hypervisors or m["dst"] not in hypervisors:
            continue
        k_src, k_dst = share[i]
        rate = min(nic[m["src"]] / k_src, nic[m["dst"]] / k_dst) * _GBIT * rollout.migration_efficiency
        dirty = float(machines[m["vm"]].dirty_mib_s or 0.0)
        need = _copy_time(size[m["vm"]], dirty, rate)
        planned = m["end"] - m["start"]
        if jittered and need is not None:
            if m["rate"] > 0 and rate < m["rate"] - 0.01:
                flag(
                    m["start"],
                    m["src"],
                    "bandwidth",
                    m["rate"] - rate,
                    "MiB/s",
                    f"{m['vm']} {m['src']}->{m['dst']} gets {rate:.0f} MiB/s, the plan assumed {m['rate']:.0f} "
                    f"({k_src} migrations on the source link, {k_dst} on the target link)",
                )
            continue
        if need is None:
            flag(
                m["start"],
                m["src"],
                "migration",
                dirty - rate,
                "MiB/s",
                f"{m['vm']} dirties {dirty:g} MiB/s but gets {rate:.0f} MiB/s: live migration never converges",
            )
        elif planned < need - EPS:
            flag(
                m["start"],
                m["src"],
                "migration",
                need - planned,
                "s",
                f"{m['vm']} {m['src']}->{m['dst']} is planned {planned:.0f} s but needs "
                f"{need:.0f} s at the {rate:.0f} MiB/s it gets ({k_src} on the source link, "
                f"{k_dst} on the target link)",
            )

    found.sort(key=lambda v: (v.time_s, v.host, v.invariant))
    return Simulation(tuple(found), peak, capacity, peak_evac, in_flight_peak, makespan, series)
