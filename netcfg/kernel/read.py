"""Reading a namespace's links and state over netlink, split into netcfg's own (what it
marked) and the rest.

The parsing is codec's (pure, tested on canned messages); this module only asks the
kernel and sorts what it answers. Foreign entries are kept as dumped and decoded only
when something needs them (a desired entry missing from the owned state, a rule
removal to order): a no-op re-apply of 10,000 pairs decodes nothing foreign.
"""

from __future__ import annotations

from dataclasses import dataclass

from netcfg.kernel import codec
from netcfg.kernel.codec import KernelRoute, KernelRule
from netcfg.kernel.netlink import Netlink
from netcfg.kernel.snapshot import FAMILIES, Snapshot, read_snapshot
from netcfg.kernel.state import OwnedState, Ownership
from netcfg.model.host import PROTOCOL, Address, Route, Rule


@dataclass(frozen=True, slots=True)
class Live:
    """One read of a namespace."""

    owned: OwnedState
    rules: tuple[bytes, ...] = ()  # every rule as dumped, IPv4 then IPv6, in the kernel's order
    foreign_routes: tuple[bytes, ...] = ()  # every route not marked as netcfg's, as dumped
    foreign_addresses: tuple[Address, ...] = ()  # unmarked addresses on the owned interfaces


def live_of(snapshot: Snapshot, owned: Ownership, expected: OwnedState | None = None) -> Live:
    """The namespace as read; its entries equal to one of `expected` (the desired
    state) are those very objects (codec.known_entries)."""
    names = snapshot.names
    known = codec.known_entries(expected.rules, expected.routes) if expected is not None else codec.NOTHING_KNOWN
    addresses, foreign_addresses = _addresses(snapshot.addresses, owned, names)
    routes, foreign_routes = _routes(snapshot.routes, names, known)
    return Live(
        OwnedState(frozenset(addresses), frozenset(_rules(snapshot.rules, known)), frozenset(routes)),
        snapshot.rules,
        tuple(foreign_routes),
        tuple(foreign_addresses),
    )


def read_live(nl: Netlink, owned: Ownership) -> Live:
    return live_of(read_snapshot(nl), owned)


def _addresses(dump: tuple[bytes, ...], owned: Ownership, names: dict[int, str]) -> tuple[list[Address], list[Address]]:
    mine, foreign = [], []
    for payload in dump:
        parsed = codec.parse_address(payload, names)
        if parsed is None:
            continue
        address, protocol = parsed
        # Only what netcfg marked, on the interfaces it configures; the loopback,
        # link-local IPv6 and an address networkd or a colleague added stay.
        if owned.owns_address(address, protocol):
            mine.append(address)
        elif address.interface in owned.interfaces:
            foreign.append(address)
    return mine, foreign


def _rules(dump: tuple[bytes, ...], known: codec.Known) -> list[Rule | KernelRule]:
    mine: list[Rule | KernelRule] = []
    for payload in dump:
        # The marker decides, whatever the priority: a colleague's rule at a segment's
        # priority is not netcfg's, and netcfg's rule at a priority the inventory no
        # longer uses still is.
        rule = codec.parse_marked_rule(payload, PROTOCOL, known)
        if rule is not None:
            mine.append(rule)
    return mine


def _routes(
    dump: tuple[bytes, ...], names: dict[int, str], known: codec.Known
) -> tuple[list[Route | KernelRoute], list[bytes]]:
    mine: list[Route | KernelRoute] = []
    foreign = []
    for payload in dump:
        # Owned routes carry netcfg's protocol; the others are kept undecoded.
        if codec.route_protocol(payload) != PROTOCOL:
            foreign.append(payload)
            continue
        route = codec.parse_route(payload, names, known)
        if route is not None:
            mine.append(route)
    return mine, foreign


def flushable_routes(live: Live) -> dict[tuple[object, ...], bytes]:
    """Every route netcfg does not own and the kernel does not make itself, as dumped.

    apply never changes them, but the kernel flushes a link's IPv4 routes when its last
    IPv4 address goes: a roll-back removing the address an apply added to a link that
    had none would take a hand-added `dev` route with it. Kept raw, so the roll-back can
    re-create such a route exactly."""
    return {
        codec.route_identity(payload): payload
        for payload in live.foreign_routes
        if codec.route_protocol(payload) != codec.RTPROT_KERNEL
    }


def read_foreign_routes(nl: Netlink) -> dict[tuple[object, ...], bytes]:
    found = {}
    for family in FAMILIES:
        for payload in nl.dump(codec.dump_request(codec.RTM_GETROUTE, family)):
            if codec.route_protocol(payload) in (PROTOCOL, codec.RTPROT_KERNEL):
                continue
            found[codec.route_identity(payload)] = payload
    return found
