"""Flow classes evaluated, and counted without listing them.

A flow from endpoint e1 (class C1 at its address in network N1) to endpoint e2 (C2 in
N2) is decided in two halves:
  - the source's half (`Out`): the request from C1 to N2, hop by hop until it is
    handed to N2's segment, and whether C1 lets the reply in (rp_filter);
  - the destination's half (`In`): whether C2 lets the request in, and the reply from
    C2 back to N1's segment.
The source's half depends on e1 and on how C1 treats N2 (its fingerprint there, and
N2's kind); the destination's on e2 and how C2 treats N1. So each half is computed
once per endpoint and relation, on representative addresses, and routers' hops once
per router, interface and pair of kinds.

Counting: most flow classes pair networks their endpoints treat by kind; their halves
come from per-network tallies, multiplied group by group. The others (an endpoint
whose class holds, or otherwise singles out, the other end's network: two machines
sharing the private network, for instance) are corrected pair of networks by pair of
networks, from the few endpoints concerned. Nothing is ever listed pair by pair.

Several fleets can be evaluated side by side (`sides`): base and head of a change,
or a migration's start and one of its stages; a flow class's key is then its verdict
on every side.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from netaddr import IPAddress, IPNetwork

from netcfg.designs import Endpoint as DesignEndpoint
from netcfg.designs import PathKind, get_design
from netcfg.model.host import DesignName
from netcfg.model.inventory import Network as InventoryNetwork
from netcfg.verify.classes import Classes, Endpoint, Fingerprint, MachineClass
from netcfg.verify.fib import Fib, Lookup, Outcome
from netcfg.verify.path import FlowPath, Leg, Reason
from netcfg.verify.prefix import WIDTH

SOURCE = "source"
DESTINATION = "destination"


@dataclass(frozen=True, slots=True)
class LegSummary:
    """One direction, as a flow class sees it: the routers it crosses, and why it
    stopped if it did (where: source, destination, or a machine's name)."""

    via: tuple[str, ...]
    reason: Reason | None = None
    at: str = ""

    @property
    def delivered(self) -> bool:
        return self.reason is None


@dataclass(frozen=True, slots=True)
class Out:
    request: LegSummary
    reply_accepted: bool
    design: DesignName
    segment: str


@dataclass(frozen=True, slots=True)
class In:
    request_accepted: bool
    reply: LegSummary
    design: DesignName
    segment: str


@dataclass(frozen=True, slots=True, order=True)
class Verdict:
    """A flow class's path and what it means."""

    delivered: bool
    reason: Reason | None
    direction: str  # "request" or "reply" where dropped, else ""
    at: str  # where dropped: source, destination, or a machine
    request_via: tuple[str, ...]
    reply_via: tuple[str, ...]
    family: int
    src_segment: str
    dst_segment: str
    src_design: DesignName
    dst_design: DesignName
    same_network: bool
    promise: PathKind | None
    broken: bool

    @property
    def direct(self) -> bool:
        return self.delivered and not self.request_via and not self.reply_via

    @property
    def asymmetric(self) -> bool:
        return self.delivered and self.request_via != tuple(reversed(self.reply_via))

    @property
    def dropped(self) -> bool:
        return not self.delivered


# --- one fleet ---------------------------------------------------------------------


class Side:
    """The halves of every endpoint of one fleet, computed on demand and kept."""

    def __init__(self, classes: Classes):
        self.c = classes
        self._out: dict[tuple[object, ...], Out | None] = {}
        self._in: dict[tuple[object, ...], In | None] = {}
        self._router: dict[tuple[object, ...], LegSummary] = {}
        self._active: set[tuple[object, ...]] = set()
        # kind -> networks of that kind holding endpoints, in index order
        self.by_kind: dict[int, list[int]] = {}
        for net in classes.networks:
            if net.endpoints:
                self.by_kind.setdefault(net.kind, []).append(net.index)

    # relations

    def fingerprint(self, klass: MachineClass, net: int) -> Fingerprint:
        special = klass.special.get(net)
        if special is not None:
            return special
        return klass.modal.get(self.c.networks[net].kind, ())

    def default_network(self, klass: MachineClass, kind: int) -> int | None:
        """A network of `kind` with endpoints the class routes by its kind's fingerprint."""
        for net in self.by_kind.get(kind, ()):
            if net not in klass.special:
                return net
        return None

    def address_in(self, klass: MachineClass, net: int) -> int | None:
        """An address in `net` of a machine other than the class's first member."""
        for e in self.c.networks[net].endpoints:
            endpoint = self.c.endpoints[e]
            if endpoint.klass != klass.index:
                return endpoint.address
        first = klass.members[0]
        return next((a for m, a in klass.addresses.get(net, ()) if m != first), None)

    # halves

    def out(self, endpoint: Endpoint, net: int) -> Out | None:
        """The source half of flows from `endpoint` to network `net` (None: no such flow)."""
        klass = self.c.classes[endpoint.klass]
        memo = self._memo(endpoint, klass, net)
        if memo not in self._out:
            self._out[memo] = self._compute_out(endpoint, klass, net)
        return self._out[memo]

    def out_by_kind(self, endpoint: Endpoint, kind: int) -> Out | None:
        klass = self.c.classes[endpoint.klass]
        net = self.default_network(klass, kind)
        return None if net is None else self.out(endpoint, net)

    def inn(self, endpoint: Endpoint, net: int) -> In | None:
        """The destination half of flows from network `net` to `endpoint`."""
        klass = self.c.classes[endpoint.klass]
        memo = self._memo(endpoint, klass, net)
        if memo not in self._in:
            self._in[memo] = self._compute_in(endpoint, klass, net)
        return self._in[memo]

    def _memo(self, endpoint: Endpoint, klass: MachineClass, net: int) -> tuple[object, ...]:
        """Halves are alike for networks of one kind the class routes alike; but a network
        the class holds an address in is also one whose other holders may be only the
        class's own machines: it is its own."""
        own = net if net in klass.own else -1
        return (endpoint.index, self.c.networks[net].kind, self.fingerprint(klass, net), own)

    def in_by_kind(self, endpoint: Endpoint, kind: int) -> In | None:
        klass = self.c.classes[endpoint.klass]
        net = self.default_network(klass, kind)
        return None if net is None else self.inn(endpoint, net)

    def _compute_out(self, endpoint: Endpoint, klass: MachineClass, net: int) -> Out | None:
        dst = self.address_in(klass, net)
        if dst is None:
            return None
        assert klass.fib is not None
        source = self.c.networks[endpoint.network]
        target = self.c.networks[net]
        family = source.family
        request = self._walk(klass.fib, SOURCE, family, endpoint.address, dst, target.segment, source.kind, target.kind)
        accepted = True
        if request.delivered:
            accepted, _ = klass.fib.reverse_path_ok(family, dst, endpoint.address, endpoint.interface)
        return Out(request, accepted, klass.design, source.segment)

    def _compute_in(self, endpoint: Endpoint, klass: MachineClass, net: int) -> In | None:
        src = self.address_in(klass, net)
        if src is None:
            return None
        assert klass.fib is not None
        here = self.c.networks[endpoint.network]
        there = self.c.networks[net]
        family = here.family
        accepted, _ = klass.fib.reverse_path_ok(family, src, endpoint.address, endpoint.interface)
        reply = self._walk(klass.fib, DESTINATION, family, endpoint.address, src, there.segment, here.kind, there.kind)
        return In(accepted, reply, klass.design, here.segment)

    def _walk(
        self, fib: Fib, role: str, family: int, src: int, dst: int, dst_segment: str, src_kind: int, dst_kind: int
    ) -> LegSummary:
        """From an endpoint's machine to the moment the packet is handed to `dst`'s
        segment (delivered), or dropped."""
        result = fib.lookup(family, dst, src)
        return self._next(fib, role, result, family, src, dst, dst_segment, src_kind, dst_kind)

    def _next(
        self,
        fib: Fib,
        role: str,
        result: Lookup,
        family: int,
        src: int,
        dst: int,
        dst_segment: str,
        src_kind: int,
        dst_kind: int,
    ) -> LegSummary:
        if result.outcome is Outcome.GATEWAY_NOT_ONLINK:
            return LegSummary((), Reason.GATEWAY_NOT_ONLINK, role)
        if result.outcome is not Outcome.UNICAST:
            return LegSummary((), Reason.NO_ROUTE, role)
        segment = fib.segment(result.device or "")
        hop = result.gateway if result.gateway is not None else dst
        if hop == dst:
            return LegSummary(()) if segment == dst_segment else LegSummary((), Reason.NO_NEIGHBOUR, role)
        holder = self.c.holders.get((segment or "", family, hop))
        if holder is None:
            return LegSummary((), Reason.NO_NEIGHBOUR, role)
        machine, iif = holder
        if machine not in self.c.routers:
            return LegSummary((), Reason.NOT_FORWARDING, machine)
        return self._through(machine, iif, family, src, dst, dst_segment, src_kind, dst_kind)

    def _through(
        self, router: str, iif: str, family: int, src: int, dst: int, dst_segment: str, src_kind: int, dst_kind: int
    ) -> LegSummary:
        """The rest of the way from a router: the same for every address pair of the
        kinds (routers' treatment of networks is part of their kind)."""
        memo = (router, iif, family, src_kind, dst_kind, dst_segment)
        found = self._router.get(memo)
        if found is not None:
            return found
        if memo in self._active:
            return LegSummary((router,), Reason.LOOP, router)
        self._active.add(memo)
        try:
            fib = self.c.routers[router]
            result = fib.lookup(family, dst, src, iif=iif)
            if result.outcome is Outcome.LOCAL:
                # The destination is the router's own address: never an endpoint's.
                summary = LegSummary((router,), Reason.NOT_FORWARDING, router)
            elif result.outcome is Outcome.UNICAST and not fib.reverse_path_ok(family, src, dst, iif)[0]:
                summary = LegSummary((router,), Reason.RP_FILTER, router)
            else:
                step = self._next(fib, router, result, family, src, dst, dst_segment, src_kind, dst_kind)
                summary = LegSummary((router, *step.via), step.reason, step.at)
        finally:
            self._active.discard(memo)
        self._router[memo] = summary
        return summary


# --- verdicts ----------------------------------------------------------------------


def promise(
    src_design: DesignName, dst_design: DesignName, src_segment: str, dst_segment: str, family: int, same: bool
) -> PathKind | None:
    """What the designs promise for a flow: each machine's design is asked; a pair of
    machines under different designs (a fleet being migrated) is promised what both
    promise, if they agree."""
    width = WIDTH[family]
    a = InventoryNetwork(IPNetwork((0, width - 1), version=family), src_segment)
    b = a if same else InventoryNetwork(IPNetwork((1 << (width - 1), width - 1), version=family), dst_segment)
    ip = IPAddress(1 if family == 4 else 1, version=family)
    ends = (DesignEndpoint("", src_segment, ip, a), DesignEndpoint("", dst_segment, ip, b))
    first = get_design(src_design).promised_path(*ends)
    if src_design == dst_design:
        return first
    second = get_design(dst_design).promised_path(*ends)
    return first if first == second else None


_PROMISES: dict[tuple[object, ...], PathKind | None] = {}


def verdict(out: Out | None, inn: In | None, family: int, same: bool) -> Verdict | None:
    """The flow class's verdict from its two halves (None when either half has no flow)."""
    if out is None or inn is None:
        return None
    memo = (out.design, inn.design, out.segment, inn.segment, family, same)
    if memo not in _PROMISES:
        _PROMISES[memo] = promise(out.design, inn.design, out.segment, inn.segment, family, same)
    kept = _PROMISES[memo]
    request, reply = out.request, inn.reply
    reason: Reason | None = None
    direction = at = ""
    if not request.delivered:
        reason, direction, at = request.reason, "request", request.at
    elif not inn.request_accepted:
        reason, direction, at = Reason.RP_FILTER, "request", DESTINATION
    elif not reply.delivered:
        reason, direction, at = reply.reason, "reply", reply.at
    elif not out.reply_accepted:
        reason, direction, at = Reason.RP_FILTER, "reply", SOURCE
    delivered = reason is None
    reply_via = reply.via if (delivered or direction == "reply") else ()
    if kept is PathKind.DIRECT:
        broken = not delivered or bool(request.via) or bool(reply_via)
    elif kept is PathKind.VIA_ROUTER:
        broken = not delivered
    else:
        broken = False
    return Verdict(
        delivered,
        reason,
        direction,
        at,
        request.via,
        reply_via,
        family,
        out.segment,
        inn.segment,
        out.design,
        inn.design,
        same,
        kept,
        broken,
    )


def verdict_of_path(
    path: FlowPath,
    source: str,
    destination: str,
    routers: frozenset[str],
    src_design: DesignName,
    dst_design: DesignName,
    src_segment: str,
    dst_segment: str,
    family: int,
    same: bool,
) -> Verdict:
    """A concrete flow's verdict in the terms flow classes are counted in."""

    def where(machine: str) -> str:
        return SOURCE if machine == source else DESTINATION if machine == destination else machine

    def via(leg: Leg) -> tuple[str, ...]:
        machines = leg.machines[1:-1] if leg.delivered else leg.machines[1:]
        return tuple(m for m in machines if m in routers)

    request, reply = path.request, path.reply
    if not request.delivered:
        if request.reason is Reason.RP_FILTER and request.at == destination:
            # The destination refused it: the request itself made it there.
            out = Out(LegSummary(via(request)), True, src_design, src_segment)
            inn = In(False, LegSummary(()), dst_design, dst_segment)
        else:
            out = Out(LegSummary(via(request), request.reason, where(request.at)), True, src_design, src_segment)
            inn = In(True, LegSummary(()), dst_design, dst_segment)
    else:
        assert reply is not None
        if reply.reason is Reason.RP_FILTER and reply.at == source:
            out = Out(LegSummary(via(request)), False, src_design, src_segment)
            inn = In(True, LegSummary(via(reply)), dst_design, dst_segment)
        else:
            out = Out(LegSummary(via(request)), True, src_design, src_segment)
            at = where(reply.at) if reply.reason else ""
            inn = In(True, LegSummary(via(reply), reply.reason, at), dst_design, dst_segment)
    found = verdict(out, inn, family, same)
    assert found is not None
    return found


# --- counting ----------------------------------------------------------------------

Key = tuple[Verdict | None, ...]  # a flow class's verdict on every side


@dataclass(slots=True)
class Joint:
    """An endpoint seen on every side: its halves by kind and by special network."""

    index: int
    network: Any  # the joint network it is in (hashable)
    family: int
    lone: bool  # its class has one machine: no flow between it and its class's other endpoints
    group: Any = None  # its class (on every side): a lone class's endpoints are one machine
    kind_out: dict[Any, tuple[Out | None, ...]] = field(default_factory=dict)
    kind_in: dict[Any, tuple[In | None, ...]] = field(default_factory=dict)
    special: set[Any] = field(default_factory=set)  # joint networks it routes otherwise
    ref: Any = None  # what examples are drawn from


@dataclass(slots=True)
class Witness:
    """Where a tally's count came from, to draw examples: networks on either end
    (several: any pair of them not routed specially), and the halves its endpoints
    have toward each other."""

    src_networks: list[Any]
    dst_networks: list[Any]
    out: tuple[Out | None, ...]
    inn: tuple[In | None, ...]
    by_kind: bool  # from the pairs routed by kind (else from one pair's correction)


@dataclass(slots=True)
class Tally:
    counts: Counter[Key] = field(default_factory=Counter)
    witnesses: dict[Key, list[Witness]] = field(default_factory=dict)
    keep: int = 4  # witnesses remembered per key

    def add(self, key: Key, n: int, witness: Witness | None = None) -> None:
        if n == 0:
            return
        self.counts[key] += n
        if witness is not None and n > 0:
            found = self.witnesses.setdefault(key, [])
            if len(found) < self.keep:
                found.append(witness)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


Halves = tuple[tuple[Out | None, ...], tuple[In | None, ...]]


def count(
    joints: Sequence[Joint],
    kind_of: Callable[[Any], Any],
    exact: Callable[[Joint, Any], Halves],
    sides: int,
    keep: Callable[[Key], bool] = lambda key: True,
    witnesses: int = 4,
) -> Tally:
    """Every flow class between `joints` (same family), counted by verdict on every side.

    kind_of(network): the joint kind of a joint network; exact(joint, network): its
    halves toward and from a network it routes specially. `keep` chooses the keys
    whose witnesses are kept (the problems): examples are drawn from them."""
    by_net: dict[object, list[Joint]] = {}
    for j in joints:
        by_net.setdefault(j.network, []).append(j)
    families = {net: members[0].family for net, members in by_net.items()}
    kinds = {net: kind_of(net) for net in by_net}

    # Halves as small numbers: hashed once here, not at every count (a half is a tree
    # of frozen dataclasses, hashed anew each time).
    numbers: dict[object, int] = {}
    values: list[Any] = []

    def number(value: object) -> int:
        found = numbers.get(value)
        if found is None:
            found = numbers[value] = len(values)
            values.append(value)
        return found

    kind_out = {j.index: {k: number(h) for k, h in j.kind_out.items()} for j in joints}
    kind_in = {j.index: {k: number(h) for k, h in j.kind_in.items()} for j in joints}
    no_half = number(())

    # Per network and kind: how many of its endpoints have each half.
    out_tally: dict[object, dict[object, Counter[int]]] = {}
    in_tally: dict[object, dict[object, Counter[int]]] = {}
    for net, members in by_net.items():
        per_out: dict[object, Counter[int]] = {}
        per_in: dict[object, Counter[int]] = {}
        for j in members:
            for k, outward in kind_out[j.index].items():
                per_out.setdefault(k, Counter())[outward] += 1
            for k, inward in kind_in[j.index].items():
                per_in.setdefault(k, Counter())[inward] += 1
        out_tally[net] = per_out
        in_tally[net] = per_in

    memo: dict[tuple[int, int, int, bool], Key] = {}

    def key_of(outs: int, ins: int, family: int, same: bool) -> Key:
        m = (outs, ins, family, same)
        found = memo.get(m)
        if found is None:
            o, i = values[outs], values[ins]
            found = memo[m] = tuple(verdict(o[s], i[s], family, same) for s in range(sides))
        return found

    tally = Tally(keep=witnesses)

    # 1. As if every pair of networks were routed by kind: group networks alike.
    kind_numbers: dict[object, int] = {}

    def canonical(per_kind: dict[object, Counter[int]]) -> tuple[object, ...]:
        return tuple(
            sorted(
                (kind_numbers.setdefault(k, len(kind_numbers)), tuple(sorted(c.items()))) for k, c in per_kind.items()
            )
        )

    groups: dict[object, list[object]] = {}
    for net in by_net:
        signature = (
            families[net],
            kind_numbers.setdefault(kinds[net], len(kind_numbers)),
            canonical(out_tally[net]),
            canonical(in_tally[net]),
        )
        groups.setdefault(signature, []).append(net)
    group_list = list(groups.values())
    for g1 in group_list:
        n1 = g1[0]
        for g2 in group_list:
            n2 = g2[0]
            if families[n1] != families[n2]:
                continue
            weight = len(g1) * len(g2)
            outs = out_tally[n1].get(kinds[n2], Counter())
            ins = in_tally[n2].get(kinds[n1], Counter())
            for o, a in outs.items():
                for i, b in ins.items():
                    k = key_of(o, i, families[n1], False)
                    witness = Witness(g1, g2, values[o], values[i], True) if keep(k) else None
                    tally.add(k, weight * a * b, witness)

    # 2. Corrections where an endpoint routes the other end's network specially.
    lone_in = {net: {j.group: j for j in members if j.lone} for net, members in by_net.items()}
    pairs: dict[tuple[object, object], tuple[list[Joint], list[Joint]]] = {}
    for j in joints:
        for net in j.special:
            if net not in by_net or families[net] != j.family:
                continue
            pairs.setdefault((j.network, net), ([], []))[0].append(j)  # j as a source toward net
            pairs.setdefault((net, j.network), ([], []))[1].append(j)  # j as a destination from net
    for (n1, n2), (sources, destinations) in pairs.items():
        family = families[n1]
        same = n1 == n2
        k1, k2 = kinds[n1], kinds[n2]
        outs = Counter(out_tally[n1].get(k2, Counter()))
        ins = Counter(in_tally[n2].get(k1, Counter()))
        approx = [(o, a, i, b) for o, a in outs.items() for i, b in ins.items()]
        exact_out: dict[int, int] = {}
        exact_in: dict[int, int] = {}
        for j in sources:
            outs[kind_out[j.index].get(k2, no_half)] -= 1
            o = exact_out[j.index] = number(exact(j, n2)[0])
            outs[o] += 1
        for j in destinations:
            ins[kind_in[j.index].get(k1, no_half)] -= 1
            i = exact_in[j.index] = number(exact(j, n1)[1])
            ins[i] += 1
        for o, a, i, b in approx:
            tally.add(key_of(o, i, family, False), -a * b)
        for o, a in outs.items():
            if a == 0:
                continue
            for i, b in ins.items():
                if b == 0:
                    continue
                k = key_of(o, i, family, same)
                witness = Witness([n1], [n2], values[o], values[i], False) if keep(k) else None
                tally.add(k, a * b, witness)
        # A lone machine's flow to itself (to its own address, in this or another
        # network) is no flow: its class holds both networks, so the pair is here.
        lone_dst = lone_in[n2]
        for j in by_net[n1] if lone_dst else ():
            other = lone_dst.get(j.group) if j.lone else None
            if other is not None:
                mine = exact_out.get(j.index, kind_out[j.index].get(k2, no_half))
                theirs = exact_in.get(other.index, kind_in[other.index].get(k1, no_half))
                tally.add(key_of(mine, theirs, family, same), -1)
    # What only existed to be cancelled (no such flow on some side) must have cancelled.
    for k in [k for k, n in tally.counts.items() if n == 0]:
        del tally.counts[k]
    return tally


# --- one fleet, in joints ------------------------------------------------------------


def single(side: Side) -> tuple[list[Joint], Callable[[Any], Any], Callable[[Joint, Any], Halves]]:
    """The joints of one fleet: each endpoint on its own."""
    c = side.c
    kinds_by_family: dict[int, list[int]] = {}
    for kind in side.by_kind:
        kinds_by_family.setdefault(c.networks[side.by_kind[kind][0]].family, []).append(kind)
    joints = []
    for e in c.endpoints:
        klass = c.classes[e.klass]
        net = c.networks[e.network]
        j = Joint(e.index, e.network, net.family, len(klass.members) == 1, e.klass, ref=e)
        for kind in kinds_by_family.get(net.family, ()):
            j.kind_out[kind] = (side.out_by_kind(e, kind),)
            j.kind_in[kind] = (side.in_by_kind(e, kind),)
        j.special = {n for n in klass.special if c.networks[n].endpoints}
        joints.append(j)

    def kind_of(net: int) -> int:
        return c.networks[net].kind

    def exact(j: Joint, net: int) -> Halves:
        e: Endpoint = j.ref
        return (side.out(e, net),), (side.inn(e, net),)

    return joints, kind_of, exact


def problems(key: Key) -> bool:
    return any(v is not None and (v.dropped or v.broken) for v in key)
