"""`verify`: every flow class of a fleet, what is dropped and which promises break,
with concrete examples (machines, addresses, and the rule and route that decided);
and one flow followed hop by hop (`--flow`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from netcfg.errors import InputError, quote
from netcfg.gc_tuning import rare_full_collections
from netcfg.model.host import HostConfig
from netcfg.model.unusable import range_of
from netcfg.problems import Location, Problem
from netcfg.verify.classes import Classes, build
from netcfg.verify.engine import Joint, Key, Side, Tally, Verdict, Witness, count, problems, single
from netcfg.verify.fib import Lookup, Outcome, RpFilter
from netcfg.verify.path import Fleet, FlowPath, Hop, Leg
from netcfg.verify.prefix import WIDTH, format_address, parse_address

EXAMPLES = 3  # per finding


@dataclass(frozen=True, slots=True)
class Example:
    source: str
    source_address: str
    destination: str
    destination_address: str
    path: FlowPath

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "source_address": self.source_address,
            "destination": self.destination,
            "destination_address": self.destination_address,
            **flow_json(self.path),
        }


@dataclass(frozen=True, slots=True)
class Finding:
    """Flow classes with one verdict that is a problem: dropped, or breaking a promise."""

    verdict: Verdict
    count: int
    examples: tuple[Example, ...]

    def to_json(self) -> dict[str, Any]:
        v = self.verdict
        return {
            "flow_classes": self.count,
            "verdict": "delivered" if v.delivered else "dropped",
            "reason": v.reason.value if v.reason else None,
            "direction": v.direction or None,
            "at": v.at or None,
            "family": v.family,
            "from_segment": v.src_segment,
            "to_segment": v.dst_segment,
            "from_design": v.src_design.value,
            "to_design": v.dst_design.value,
            "same_network": v.same_network,
            "promise": v.promise.value if v.promise else None,
            "broken": v.broken,
            "request_via": list(v.request_via),
            "reply_via": list(v.reply_via),
            "examples": [e.to_json() for e in self.examples],
        }


@dataclass(frozen=True, slots=True)
class Verification:
    designs: tuple[tuple[str, int], ...]  # design -> machines rendered under it
    machines: int
    routers: int
    classes: int
    endpoints: int
    flow_classes: int
    delivered: int
    direct: int
    asymmetric: int
    dropped: int
    broken: int
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        """No promise broken (drops of flows no design promises anything for are listed
        but do not fail it)."""
        return self.broken == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "designs": dict(self.designs),
            "machines": self.machines,
            "routers": self.routers,
            "classes": self.classes,
            "endpoints": self.endpoints,
            "flow_classes": self.flow_classes,
            "delivered": self.delivered,
            "direct": self.direct,
            "asymmetric": self.asymmetric,
            "dropped": self.dropped,
            "broken": self.broken,
            "findings": [f.to_json() for f in self.findings],
        }


def verify_configs(
    configs: Mapping[str, HostConfig], *, examples: int = EXAMPLES, rp_filter: RpFilter = RpFilter.STRICT
) -> Verification:
    """Every flow class of the fleet `configs` (every machine, routers included)."""
    with rare_full_collections():  # millions of small long-lived objects, no cycles
        classes = build(configs.values(), rp_filter)
        side = Side(classes)
        joints, kind_of, exact = single(side)
        tally = count(joints, kind_of, exact, 1, problems)
        return summarise(classes, side, joints, tally, examples, rp_filter)


def summarise(
    classes: Classes, side: Side, joints: Sequence[Joint], tally: Tally, examples: int, rp_filter: RpFilter
) -> Verification:
    fleet = Fleet.lazy(classes.configs, classes.holders, classes.entries, rp_filter)
    totals = {"delivered": 0, "direct": 0, "asymmetric": 0, "dropped": 0, "broken": 0}
    found: list[Finding] = []
    for key, n in tally.counts.items():
        v = key[0]
        if v is None:  # only there to cancel: a flow class that does not exist
            raise RuntimeError(f"flow count left {n} pairs without a flow")
        totals["delivered" if v.delivered else "dropped"] += n
        totals["direct"] += n if v.direct else 0
        totals["asymmetric"] += n if v.asymmetric else 0
        totals["broken"] += n if v.broken else 0
        if v.dropped or v.broken:
            drawn = draw(classes, side, joints, tally.witnesses.get(key, []), key, fleet, examples)
            found.append(Finding(v, n, tuple(drawn)))
    found.sort(key=lambda f: (not f.verdict.broken, -f.count, f.verdict))
    designs: dict[str, int] = {}
    for config in classes.configs.values():
        if not config.forwarding:
            designs[config.design.value] = designs.get(config.design.value, 0) + 1
    return Verification(
        designs=tuple(sorted(designs.items())),
        machines=len(classes.configs),
        routers=len(classes.routers),
        classes=len(classes.classes),
        endpoints=len(classes.endpoints),
        flow_classes=tally.total,
        delivered=totals["delivered"],
        direct=totals["direct"],
        asymmetric=totals["asymmetric"],
        dropped=totals["dropped"],
        broken=totals["broken"],
        findings=tuple(found),
    )


# --- examples ----------------------------------------------------------------------


def draw(
    classes: Classes,
    side: Side,
    joints: Sequence[Joint],
    witnesses: Iterable[Witness],
    key: Key,
    fleet: Fleet,
    limit: int,
) -> list[Example]:
    """Up to `limit` concrete flows of the flow classes `witnesses` point at; each one
    followed for real and kept only if it has the verdict counted."""
    by_net: dict[object, list[Joint]] = {}
    for j in joints:
        by_net.setdefault(j.network, []).append(j)
    out: list[Example] = []
    seen: set[tuple[str, str]] = set()
    for witness in witnesses:
        for j1, j2 in _pairs(side, by_net, witness):
            example = _example(classes, j1, j2, fleet)
            if example is None or (example.source, example.destination_address) in seen:
                continue
            if _verdict_of(classes, example, j1, j2) != key[0]:
                continue
            seen.add((example.source, example.destination_address))
            out.append(example)
            if len(out) >= limit:
                return out
            break
    return out


def _pairs(side: Side, by_net: dict[object, list[Joint]], w: Witness) -> Iterable[tuple[Joint, Joint]]:
    kinds = side.c.networks
    tries = 0
    for n1 in w.src_networks[:20]:
        for n2 in w.dst_networks[:20]:
            k1, k2 = kinds[n1].kind, kinds[n2].kind
            for j1 in by_net.get(n1, ())[:50]:
                if w.by_kind and n2 in j1.special:
                    continue
                e1 = j1.ref
                if side.out(e1, n2) != w.out[0]:
                    continue
                for j2 in by_net.get(n2, ())[:50]:
                    if w.by_kind and n1 in j2.special:
                        continue
                    if j1.lone and j2.group == j1.group:
                        continue
                    if side.inn(j2.ref, n1) != w.inn[0]:
                        continue
                    yield j1, j2
                    tries += 1
                    if tries > 20:
                        return
            del k1, k2


def _example(classes: Classes, j1: Joint, j2: Joint, fleet: Fleet) -> Example | None:
    e1, e2 = j1.ref, j2.ref
    c1 = classes.classes[e1.klass]
    c2 = classes.classes[e2.klass]
    m1 = c1.members[0]
    candidates = [(m, a) for m, a in c2.addresses[e2.network] if m != m1]
    if not candidates:
        return None
    m2, a2 = candidates[0]
    family = classes.networks[e1.network].family
    path = fleet.flow(m1, family, e1.address, a2)
    return Example(m1, format_address(family, e1.address), m2, format_address(family, a2), path)


def _verdict_of(classes: Classes, example: Example, j1: Joint, j2: Joint) -> Verdict:
    """The concrete flow's verdict, in the terms the count uses."""
    from netcfg.verify.engine import DESTINATION, SOURCE, verdict_of_path

    e1, e2 = j1.ref, j2.ref
    n1 = classes.networks[e1.network]
    n2 = classes.networks[e2.network]
    d1 = classes.classes[e1.klass].design
    d2 = classes.classes[e2.klass].design
    del SOURCE, DESTINATION
    return verdict_of_path(
        example.path,
        example.source,
        example.destination,
        frozenset(classes.routers),
        d1,
        d2,
        n1.segment,
        n2.segment,
        n1.family,
        e1.network == e2.network,
    )


# --- one flow -----------------------------------------------------------------------


def resolve_destination(configs: Mapping[str, HostConfig], destination: str) -> tuple[int, int]:
    """DESTINATION: an address, or a machine (its first address); never silently either."""
    where = Location("--flow")
    address = _one_address(destination)
    if destination in configs:
        if address is not None:
            raise InputError(
                [Problem(where, f"{quote(destination)} is both a machine and an address", "give the machine's address")]
            )
        for iface in configs[destination].interfaces:
            for held in iface.addresses:
                return parse_address(held.address)
        raise InputError([Problem(where, f"machine {quote(destination)} has no address")])
    if "/" in destination and _one_address(destination.partition("/")[0]) is not None:
        raise InputError([Problem(where, f"{quote(destination)} is a prefix: a flow goes to one address")])
    if address is None:
        raise InputError([Problem(where, f"{quote(destination)} is neither an address nor a machine of the inventory")])
    family, value = address
    if value == 0 or (family == 4 and value >> 24 == 127) or (family == 6 and value == 1):
        raise InputError([Problem(where, f"{destination} never leaves the machine: a flow goes between machines")])
    scope = range_of(family, value)
    if scope in ("link-local", "multicast"):
        # The kernel sends these on-link or to a group, never through a router; the
        # model follows what routes decide.
        raise InputError(
            [Problem(where, f"{destination} is a {scope} address: a flow goes to one machine's routed address")]
        )
    if scope is not None:  # 255.255.255.255, ::ffff:a.b.c.d: no machine holds one
        raise InputError([Problem(where, f"{destination} is an address of the {scope} range: no machine holds one")])
    network = _network_address_of(configs, family, value)
    if network:
        # The kernel sends to a subnet's broadcast, and a router answers its IPv6
        # subnet-router anycast: neither is one machine's address.
        raise InputError([Problem(where, f"{destination} is the {network}: a flow goes to one machine")])
    return address


def _network_address_of(configs: Mapping[str, HostConfig], family: int, value: int) -> str:
    """What `value` is to a network some machine is on ('broadcast address of P', ...), or ''."""
    width = WIDTH[family]
    for config in configs.values():
        for iface in config.interfaces:
            for held in iface.addresses:
                if held.family != family:
                    continue
                length = int(held.address.partition("/")[2] or width)
                if width - length < 2:  # /31, /32, /127, /128 have no such address
                    continue
                host_bits = (1 << (width - length)) - 1
                base = parse_address(held.address)[1] & ~host_bits
                prefix = f"{format_address(family, base)}/{length}"
                if value == base:
                    return f"network address of {prefix}" + (" (its subnet-router anycast)" if family == 6 else "")
                if family == 4 and value == base | host_bits:
                    return f"broadcast address of {prefix}"
    return ""


def _one_address(text: str) -> tuple[int, int] | None:
    if "/" in text:
        return None
    try:
        return parse_address(text)
    except Exception:
        return None


def follow(
    configs: Mapping[str, HostConfig], machine: str, destination: str, rp_filter: RpFilter = RpFilter.STRICT
) -> tuple[FlowPath, int, int, int]:
    """One flow from `machine` (from the address the kernel would choose) to
    `destination`: its path, the family, the source and the destination address."""
    if machine not in configs:
        raise InputError([Problem(Location("--flow"), f"unknown machine {quote(machine)}")])
    family, dst = resolve_destination(configs, destination)
    fleet = Fleet.of(configs.values(), rp_filter)
    fib = fleet.fibs[machine]
    first = fib.lookup(family, dst)
    src = fib.source_address(family, first, dst) if first.outcome is Outcome.UNICAST else None
    if src is None:
        for iface in fib.interfaces.values():
            for fam, value, _ in iface.addresses:
                if fam == family:
                    src = value
                    break
            if src is not None:
                break
    if src is None:
        raise InputError([Problem(Location("--flow"), f"{machine} has no IPv{family} address to send from")])
    if fib.is_local(family, dst):
        raise InputError([Problem(Location("--flow"), f"{destination} is {machine}'s own address")])
    return fleet.flow(machine, family, src, dst), family, src, dst


def hop_json(hop: Hop, family: int) -> dict[str, Any]:
    lookup: Lookup = hop.lookup
    return {
        "machine": hop.machine,
        "in": hop.iif,
        "rule": str(lookup.rule) if lookup.rule else None,
        "route": str(lookup.route) if lookup.route else None,
        "out": lookup.device if lookup.outcome is Outcome.UNICAST else None,
        "via": format_address(family, lookup.gateway) if lookup.gateway is not None else None,
        "segment": hop.segment,
        "decision": lookup.outcome.value,
    }


def leg_json(leg: Leg) -> dict[str, Any]:
    return {
        "verdict": "delivered" if leg.delivered else "dropped",
        "hops": [h.machine for h in leg.hops],
        "reason": leg.reason.value if leg.reason else None,
        "detail": leg.detail or None,
        "steps": [hop_json(h, leg.family) for h in leg.hops],
    }


def flow_json(path: FlowPath) -> dict[str, Any]:
    """verdict (delivered|dropped), hops (the request's machines, in order), reason,
    and both directions step by step."""
    dropped = path.dropped
    reason = None
    if dropped is not None and dropped.reason is not None:
        which = "request" if dropped is path.request else "reply"
        reason = f"{which} {dropped.reason.value} at {dropped.at}" + (f": {dropped.detail}" if dropped.detail else "")
    return {
        "verdict": "delivered" if path.delivered else "dropped",
        "hops": [h.machine for h in path.request.hops],
        "reply_hops": [h.machine for h in path.reply.hops] if path.reply else [],
        "reason": reason,
        "request": leg_json(path.request),
        "reply": leg_json(path.reply) if path.reply else None,
    }
