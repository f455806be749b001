"""Which flows a change moves: the flow classes present before and after it whose path
is not the same (newly dropped, delivered again, now through a router, now direct,
another way), counted by class, with examples. `check` and `impact` report them, and
a change that drops flows is blocked whatever its size.

Most changes cannot move a flow (a network added, an address changed within its
network, a VM moved to another hypervisor, the seatbelt retuned): `may_move` says so
from the inventories alone, and nothing is rendered or counted. Adding a network never
moves an existing flow: no address of either side is in it. A host's routing is its
design and, per interface, its networks in order: an address replaced by another of
the same network ends one flow and starts another, and moves none. An address moved
to another network is compared with the one it replaces (`joint.Renumbered`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from netcfg.designs import render
from netcfg.gc_tuning import rare_full_collections
from netcfg.model.host import DesignName, HostConfig, Kind
from netcfg.model.inventory import Inventory, Machine
from netcfg.progress import Progress, silent
from netcfg.verify.classes import build
from netcfg.verify.engine import Joint, Key, Side, Verdict, Witness, verdict_of_path
from netcfg.verify.fib import RpFilter
from netcfg.verify.joint import Counted, JointRef, prefix_on, tally
from netcfg.verify.path import Fleet, FlowPath
from netcfg.verify.prefix import Prefix, format_address

EXAMPLES = 10


class Change:
    DROPPED = "newly dropped"
    RESTORED = "delivered again"
    VIA_ROUTER = "now through a router"
    DIRECT = "now direct"
    OTHER = "another path"


def path_of(v: Verdict) -> tuple[object, ...]:
    """What a flow class's path is, without who is at its ends."""
    return (v.delivered, v.reason, v.direction, v.at, v.request_via, v.reply_via)


def _change(key: Key) -> str | None:
    a, b = key
    return change_of(a, b) if a is not None and b is not None else None


def change_of(before: Verdict, after: Verdict) -> str | None:
    if path_of(before) == path_of(after):
        return None
    if before.delivered and not after.delivered:
        return Change.DROPPED
    if after.delivered and not before.delivered:
        return Change.RESTORED
    if before.direct and not after.direct:
        return Change.VIA_ROUTER
    if after.direct and not before.direct:
        return Change.DIRECT
    return Change.OTHER


@dataclass(frozen=True, slots=True)
class MovedFlow:
    """One concrete flow of a moved class, before and after."""

    change: str
    source: str
    source_address: str
    destination: str
    destination_address: str
    before: str
    after: str
    # Where and why it is dropped after, when it is: the machine, the detail, and
    # whether the route that decided is a default route (the preferred segment's).
    dropped_at: str = ""
    detail: str = ""
    by_default_route: bool = False

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "by_default_route"}

    def __str__(self) -> str:
        return (
            f"{self.source} {self.source_address} -> {self.destination} {self.destination_address}: "
            f"{self.change} (before: {self.before}; after: {self.after})"
        )


@dataclass(frozen=True, slots=True)
class FlowChanges:
    """Flow classes whose path a change moves, by how."""

    evaluated: bool  # False: nothing the change does can move a flow; nothing was counted
    compared: int = 0  # flow classes present before and after
    by_change: tuple[tuple[str, int], ...] = ()
    examples: tuple[MovedFlow, ...] = ()

    @property
    def changed(self) -> int:
        return sum(n for _, n in self.by_change)

    @property
    def dropped(self) -> int:
        return dict(self.by_change).get(Change.DROPPED, 0)

    def blocker(self) -> str | None:
        """The seatbelt's reason to block a change that drops flows, whatever its size."""
        if not self.dropped:
            return None
        first = next((e for e in self.examples if e.change == Change.DROPPED), None)
        example = (
            f", e.g. {first.source} {first.source_address} -> {first.destination} {first.destination_address}"
            f" ({first.after})"
            if first
            else ""
        )
        return (
            f"{self.dropped} flow {'class' if self.dropped == 1 else 'classes'} delivered before the change "
            f"and dropped after it{example}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "evaluated": self.evaluated,
            "compared": self.compared,
            "changed": dict(self.by_change),
            "examples": [e.to_json() for e in self.examples],
        }


UNCHANGED = FlowChanges(False)


def may_move(base: Inventory, head: Inventory, design: DesignName | None) -> bool:
    """Whether the change can move a flow present on both sides: a design, a segment's
    table or priority, a network's gateway, a machine's interfaces, addresses or design,
    or any router."""
    if design is None and base.policy.design != head.policy.design:
        return True
    if dict(base.segments) != dict(head.segments):
        return True
    old = {(n.segment, n.cidr): n for n in base.networks}
    for n in head.networks:
        was = old.get((n.segment, n.cidr))
        if was is not None and was != n:
            return True
    common = {(n.segment, n.cidr) for n in base.networks} & {(n.segment, n.cidr) for n in head.networks}
    # Gateways of the networks of both sides: the next hops existing flows may use.
    gateways = {
        n.gateway for n in (*base.networks, *head.networks) if n.gateway is not None and (n.segment, n.cidr) in common
    }
    for name in set(base.machines) | set(head.machines):
        a, b = base.machines.get(name), head.machines.get(name)
        if a is None or b is None:
            if any(m is not None and m.kind is Kind.ROUTER for m in (a, b)):
                return True
            continue
        if a == b:
            continue
        if a.kind is not b.kind:
            return True
        if a.kind is Kind.ROUTER:
            # What it forwards to: the networks of both sides it holds an address in,
            # and the gateways it holds (a router joining a new network moves no flow).
            if _forwarding(base, a, common, gateways) != _forwarding(head, b, common, gateways):
                return True
            continue
        if (set(a.addresses) ^ set(b.addresses)) & gateways:
            return True
        if _routing(base, a, design) != _routing(head, b, design):
            return True
    return False


def _forwarding(
    inventory: Inventory, router: Machine, common: set[tuple[str, str]], gateways: set[object]
) -> tuple[object, ...]:
    return tuple(
        (
            i.segment,
            i.name,
            tuple(
                sorted(
                    {
                        n.cidr
                        for ip in i.addresses
                        if (n := inventory.network_of(ip, i.segment)) and (n.segment, n.cidr) in common
                    }
                )
            ),
            tuple(sorted(str(ip) for ip in i.addresses if ip in gateways)),
        )
        for i in router.interfaces
    )


def _routing(inventory: Inventory, machine: Machine, design: DesignName | None) -> tuple[object, ...]:
    """What a host's forwarding depends on: its kind, design, and per interface its
    name, segment and networks in the order of its addresses (the first one's gateway is
    its default)."""
    interfaces = tuple(
        (
            i.segment,
            i.name,
            tuple(dict.fromkeys(str(n.prefix) for n in inventory.holders(i) if n is not None)),
        )
        for i in machine.interfaces
    )
    return (machine.kind, interfaces, design or machine.design)


def flow_changes(
    base: Inventory,
    head: Inventory,
    design: DesignName | None = None,
    *,
    progress: Progress = silent,
    rp_filter: RpFilter = RpFilter.STRICT,
) -> FlowChanges:
    """The flow classes `base` -> `head` moves (every machine under `design` if given,
    else each under its own)."""
    if not may_move(base, head, design):
        return UNCHANGED
    progress("following the flows before and after")
    with rare_full_collections():
        before = render(base, design)
        after = render(head, design)
        return compare(before, after, rp_filter)


def compare(
    before: Mapping[str, HostConfig], after: Mapping[str, HostConfig], rp_filter: RpFilter = RpFilter.STRICT
) -> FlowChanges:
    sides = [Side(build(before.values(), rp_filter)), Side(build(after.values(), rp_filter))]

    def moved(key: Key) -> bool:
        return _change(key) is not None

    result = tally(sides, moved)
    counted = result.tally
    by_change: dict[str, int] = {}
    compared = 0
    for key, n in counted.counts.items():
        a, b = key
        if a is None or b is None:
            raise RuntimeError(f"flow count left {n} pairs without a flow")
        compared += n
        change = change_of(a, b)
        if change is not None:
            by_change[change] = by_change.get(change, 0) + n
    order = [Change.DROPPED, Change.RESTORED, Change.VIA_ROUTER, Change.DIRECT, Change.OTHER]
    keys = sorted(
        (k for k in counted.witnesses if counted.counts.get(k, 0) > 0 and _change(k) is not None),
        key=lambda k: (order.index(_change(k) or Change.OTHER), -counted.counts[k]),
    )
    # Every newly dropped class an example can show first, then the other moves in turn.
    dropped = {k: counted.witnesses[k] for k in keys if _change(k) == Change.DROPPED}
    examples = examples_of(sides, result, dropped, rp_filter, EXAMPLES)
    others = {k: counted.witnesses[k] for k in keys if k not in dropped}
    examples += examples_of(sides, result, others, rp_filter, EXAMPLES - len(examples))
    return FlowChanges(
        True,
        compared,
        tuple((c, by_change[c]) for c in order if by_change.get(c)),
        tuple(examples),
    )


def examples_of(
    sides: Sequence[Side],
    counted: Counted,
    witnesses: Mapping[Key, list[Witness]],
    rp_filter: RpFilter,
    limit: int,
) -> list[MovedFlow]:
    """Concrete flows of the keys of `witnesses` (at most `limit`): one per key in their
    order, then, while there is room, more of each key's classes in turn. Each one is
    followed for real on both sides and kept only if it has the verdicts of its key."""
    fleets = [Fleet.lazy(s.c.configs, s.c.holders, s.c.entries, rp_filter) for s in sides]
    by_net: dict[object, list[Joint]] = {}
    for j in counted.joints:
        by_net.setdefault(j.network, []).append(j)
    out: list[MovedFlow] = []
    seen: set[tuple[str, str]] = set()
    left = {k: iter(found) for k, found in witnesses.items() if counted.tally.counts.get(k, 0) > 0}
    while left and len(out) < limit:
        for k in list(left):
            for witness in left[k]:
                example = _one(sides, witness, by_net, fleets, k, seen, counted)
                if example is not None:
                    seen.add((example.source, example.destination_address))
                    out.append(example)
                    break
            else:
                del left[k]  # no other class of it gives a new flow
            if len(out) >= limit:
                break
    return out


def _one(
    sides: Sequence[Side],
    witness: Witness,
    by_net: dict[object, list[Joint]],
    fleets: list[Fleet],
    key: Key,
    seen: set[tuple[str, str]],
    counted: Counted,
) -> MovedFlow | None:
    tries = 0
    for n1 in witness.src_networks[:20]:
        for n2 in witness.dst_networks[:20]:
            for j1 in by_net.get(n1, ()):
                if (witness.by_kind and n2 in j1.special) or _toward(j1, n2, True, counted) != witness.out:
                    continue
                for j2 in by_net.get(n2, ()):
                    if witness.by_kind and n1 in j2.special:
                        continue
                    if _toward(j2, n1, False, counted) != witness.inn or (j1.lone and j1.group == j2.group):
                        continue
                    tries += 1
                    if tries > 200:
                        return None
                    found = _concrete(j1, j2, fleets)
                    if found is None:
                        continue
                    (m1, m2, family, addresses), paths = found
                    (old1, old2), (a1, a2) = addresses
                    if (m1, format_address(family, a2)) in seen:
                        continue
                    verdicts = tuple(_verdict(sides[i], paths[i], j1, j2, i, m1, m2) for i in range(2))
                    if verdicts != tuple(key):
                        continue
                    leg = paths[1].dropped
                    deciding = (leg.deciding or leg.hops[-1].lookup) if leg is not None else None
                    moved = (old1, old2) != (a1, a2)
                    return MovedFlow(
                        _change(key) or Change.OTHER,
                        m1,
                        format_address(family, a1),
                        m2,
                        format_address(family, a2),
                        _said(paths[0])
                        + (f", from {format_address(family, old1)} to {format_address(family, old2)}" if moved else ""),
                        _said(paths[1]),
                        leg.at if leg is not None else "",
                        leg.detail if leg is not None else "",
                        bool(deciding and deciding.route and deciding.route.prefix.length == 0),
                    )
    return None


def _toward(j: Joint, net: object, outward: bool, counted: Counted) -> object:
    """A joint endpoint's half toward (from) a network, as the count took it."""
    if net in j.special:
        return counted.exact(j, net)[0 if outward else 1]
    kind = counted.kind_of(net)
    return (j.kind_out if outward else j.kind_in).get(kind)


def _verdict(side: Side, path: FlowPath, j1: Joint, j2: Joint, i: int, source: str, destination: str) -> Verdict:
    r1: JointRef = j1.ref
    r2: JointRef = j2.ref
    c = side.c
    e1, e2 = r1.endpoints[i], r2.endpoints[i]
    n1, n2 = c.networks[e1.network], c.networks[e2.network]
    return verdict_of_path(
        path,
        source,
        destination,
        frozenset(c.routers),
        c.classes[e1.klass].design,
        c.classes[e2.klass].design,
        n1.segment,
        n2.segment,
        n1.family,
        j1.network == j2.network,  # as counted: a moved address is in another network than its old one's
    )


def _concrete(
    j1: Joint, j2: Joint, fleets: list[Fleet]
) -> tuple[tuple[str, str, int, list[tuple[int, int]]], list[FlowPath]] | None:
    """A flow between members of `j1` and `j2`: its machines, family, addresses on
    each side (a moved address differs), and its path on each side."""
    r1: JointRef = j1.ref
    r2: JointRef = j2.ref
    m1 = r1.members[0]
    m2 = next((m for m in r2.members if m != m1), None)
    if m2 is None:
        return None
    family = j1.family
    addresses = []
    for i in range(len(fleets)):
        src = _address(fleets[i], m1, prefix_on(j1.network, i))
        dst = _address(fleets[i], m2, prefix_on(j2.network, i))
        if src is None or dst is None:
            return None
        addresses.append((src, dst))
    paths = [fleet.flow(m1, family, src, dst) for fleet, (src, dst) in zip(fleets, addresses, strict=True)]
    return (m1, m2, family, addresses), paths


def _address(fleet: Fleet, machine: str, prefix: Prefix) -> int | None:
    """`machine`'s address in `prefix`."""
    fib = fleet.fibs[machine]
    for iface in fib.interfaces.values():
        for family, value, length in iface.addresses:
            if family == prefix.family and length == prefix.length and prefix.contains(family, value):
                return value
    return None


def _said(path: FlowPath) -> str:
    """A path in a few words: `delivered direct`, `delivered through rt01`, `request
    dropped at rt01: no route`."""
    leg = path.dropped
    if leg is None:
        routers = list(path.request.machines[1:-1]) + list(path.reply.machines[1:-1] if path.reply else ())
        return "delivered " + ("through " + ", ".join(dict.fromkeys(routers)) if routers else "direct")
    which = "request" if leg is path.request else "reply"
    crossed = [m for m in leg.machines[1:-1]]
    through = f" (through {', '.join(crossed)})" if crossed else ""
    return f"{which} dropped at {leg.at}: {leg.reason}{through}"
