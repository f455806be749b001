"""Desired entries that meet foreign ones: either the kernel already holds the same entry,
unmarked (it satisfies the desire and is left alone), or it holds another entry in the
desired one's place (a conflict, reported before anything is touched, never deleted).

What the kernel treats as "already there" (observed on Linux 6.x, NLM_F_CREATE|EXCL):
  - addresses: IPv4 by interface, address and prefix length (the same address with
    another length is added as a second address); IPv6 by interface and address (another
    length is refused with EEXIST). The marker does not count: an identical unmarked
    address makes netcfg's EEXIST.
  - routes: by family, table, destination, tos and metric. Protocol, gateway, device
    and type do not count: an identical static route, or one via another gateway, makes
    netcfg's EEXIST (and NLM_F_REPLACE would overwrite the foreign one).
  - rules: by every attribute, the marker included: the kernel would add netcfg's rule
    beside an identical unmarked one. A second identical rule changes nothing, so
    netcfg does not add it. A colleague's rule at the same priority with another table
    or another selector is another rule: netcfg's is added beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from netcfg.kernel import codec
from netcfg.kernel.read import Live
from netcfg.kernel.reconcile import Entry, describe
from netcfg.kernel.state import OwnedState
from netcfg.model.host import PROTOCOL, Address, Route, Rule


@dataclass(frozen=True, slots=True)
class Conflict:
    """A desired entry the kernel would refuse: a foreign entry holds its place."""

    wanted: Entry
    holder: str  # the foreign entry, described

    def __str__(self) -> str:
        return f"{describe(self.wanted)}: the namespace holds {self.holder} in its place, and it is not netcfg's"


@dataclass(frozen=True, slots=True)
class Collisions:
    """How desired entries meet foreign ones: provided already, or refused for them."""

    present: tuple[Entry, ...] = ()  # desired, already there unmarked: left alone
    conflicts: tuple[Conflict, ...] = ()


def collisions(desired: OwnedState, live: Live, names: Mapping[int, str]) -> Collisions:
    """How the desired entries netcfg does not hold yet meet the foreign ones."""
    addresses = desired.addresses - live.owned.addresses
    rules = desired.rules - live.owned.rules
    routes = desired.routes - live.owned.routes
    if not (addresses or rules or routes):  # the no-op re-apply: nothing foreign decoded
        return Collisions()
    present: list[Entry] = []
    conflicts: list[Conflict] = []
    _addresses(addresses, live.foreign_addresses, present, conflicts)
    _rules(rules, live.rules, present)
    _routes(routes, live.foreign_routes, names, present, conflicts)
    return Collisions(tuple(present), tuple(conflicts))


def _addresses(
    wanted: frozenset[Address], foreign: tuple[Address, ...], present: list[Entry], conflicts: list[Conflict]
) -> None:
    held = set(foreign)
    ipv6 = {(a.interface, a.ip): a for a in foreign if a.family == 6}
    for address in sorted(wanted):
        if address in held:
            present.append(address)
        elif address.family == 6 and (address.interface, address.ip) in ipv6:
            conflicts.append(Conflict(address, describe(ipv6[(address.interface, address.ip)])))


def _rules(wanted: frozenset[Rule | codec.KernelRule], dump: tuple[bytes, ...], present: list[Entry]) -> None:
    places = {(r.family, r.priority) for r in wanted}
    found = set()
    for payload in dump:
        if codec.rule_protocol(payload) == PROTOCOL:
            continue
        if (codec.FAMILY_OF_AF.get(payload[0]), codec.rule_priority(payload)) not in places:
            continue
        rule = codec.decode_rule(payload)
        model = rule.model() if rule is not None else None
        if model is not None and model in wanted:
            found.add(model)
    present += sorted(found)


def _routes(
    wanted: frozenset[Route | codec.KernelRoute],
    dump: tuple[bytes, ...],
    names: Mapping[int, str],
    present: list[Entry],
    conflicts: list[Conflict],
) -> None:
    by_place = {
        (r.family, r.table, r.dst, codec.DEFAULT_METRIC[r.family] if r.metric is None else r.metric): r
        for r in wanted
        if isinstance(r, Route)
    }
    lengths = {(codec.AF_OF_FAMILY[r.family], int(r.dst.split("/")[1])) for r in by_place.values()}
    found: dict[Route, Entry | Conflict] = {}
    for payload in dump:
        if tuple(payload[:2]) not in lengths:  # family and prefix length, before decoding
            continue
        route = codec.decode_route(payload)
        if route is None or route.tos or route.src:
            continue
        wanted_route = by_place.get((route.family, route.table, route.dst, route.metric))
        if wanted_route is None or found.get(wanted_route) == wanted_route:
            continue  # an identical one already counts, whatever else is there
        model = route.model(names)
        if model is not None and replace(model, protocol=PROTOCOL) == wanted_route:
            found[wanted_route] = wanted_route
        else:
            holder = describe(replace(route, names=names))
            found[wanted_route] = Conflict(wanted_route, holder)
    for wanted_route in sorted(found):
        outcome = found[wanted_route]
        if isinstance(outcome, Conflict):
            conflicts.append(outcome)
        else:
            present.append(outcome)
